"""Tests for lsqnet.datasets (digits, MNIST-style IDX files, the toy problems) and lsqnet._io.

The MNIST and Fashion-MNIST checks read the real files under ``$LSQNET_DATA`` (each dataset is
loaded once per session) and are skipped where that folder is unset or lacks the files. Every
other IDX test builds tiny fake datasets in ``tmp_path`` with its own IDX writer, and points
``lsqnet.datasets._REMOTE``'s md5 sums at them, so that they validate like the real files.
No test touches the network: ``urllib.request.urlopen`` is replaced in every test, by a stub
that fails the test unless the test installs its own fake server.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import stat
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lsqnet
from lsqnet import datasets
from lsqnet._io import atomic_write
from lsqnet.datasets import DATASETS, Dataset, get_data_home, load, make_toy, read_idx
from lsqnet.exceptions import DatasetCorruptError, DatasetNotFoundError
from lsqnet.layers import Dense
from lsqnet.network import Network

# The upstream file names, in the order of Dataset's fields.
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
IDX_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# Read once, at import: the tests below replace LSQNET_DATA with their own folders.
REAL_ROOT = os.environ.get("LSQNET_DATA")


def _have_real(name: str) -> bool:
    return bool(REAL_ROOT) and all((Path(REAL_ROOT) / name / f).is_file() for f in IDX_FILES)


def needs_real(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not _have_real(name), reason=f"LSQNET_DATA is unset or holds no {name}/ IDX files"
    )


# ---------------------------------------------------------------------------------------------
# Helpers: an IDX writer, fake datasets, a fake HTTP server


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An uncompressed IDX file of unsigned bytes: magic 0x000008NN, big-endian dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x00000800 | array.ndim
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return struct.pack(">I", magic) + dims + array.tobytes()


def gz(payload: bytes) -> bytes:
    return gzip.compress(payload, mtime=0)


def md5(payload: bytes) -> str:
    return hashlib.md5(payload).hexdigest()


class Fake:
    """A tiny MNIST-style dataset: 6 training and 3 test images of 4x5 pixels."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.images = {
            TRAIN_IMAGES: rng.integers(0, 256, size=(6, 4, 5), dtype=np.uint8),
            TEST_IMAGES: rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8),
        }
        self.labels = {
            TRAIN_LABELS: rng.integers(0, 10, size=6, dtype=np.uint8),
            TEST_LABELS: rng.integers(0, 10, size=3, dtype=np.uint8),
        }
        self.files = {f: gz(idx_bytes({**self.images, **self.labels}[f])) for f in IDX_FILES}

    @property
    def md5s(self) -> dict[str, str]:
        return {f: md5(b) for f, b in self.files.items()}

    def write(self, root: Path, name: str = "mnist", files=IDX_FILES) -> Path:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            (folder / f).write_bytes(self.files[f])
        return folder

    def assert_loaded(self, data: Dataset) -> None:
        """``data`` is this dataset: images flattened row by row and scaled by 1/255."""
        for X, f in ((data.X_train, TRAIN_IMAGES), (data.X_test, TEST_IMAGES)):
            images = self.images[f]
            assert X.dtype == np.float32
            assert X.shape == (images.shape[0], images.shape[1] * images.shape[2])
            assert_allclose(X, images.reshape(images.shape[0], -1) / 255.0, rtol=1e-6)
        for y, f in ((data.y_train, TRAIN_LABELS), (data.y_test, TEST_LABELS)):
            assert y.dtype == np.int64
            assert_array_equal(y, self.labels[f])


def set_md5(monkeypatch, files: dict[str, str], name: str = "mnist") -> None:
    """Make ``name``'s published md5 sums those of ``files``."""
    remote = datasets._REMOTE[name]
    monkeypatch.setitem(datasets._REMOTE, name, remote._replace(files=dict(files)))


class FakeResponse:
    """What ``urlopen`` returns: ``read(n)`` (at most 1000 bytes at a time), ``headers``."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload
        self._pos = 0
        self.headers = {"Content-Length": str(len(payload))}

    def read(self, n: int = -1) -> bytes:
        n = len(self._payload) if n is None or n < 0 else n
        chunk = self._payload[self._pos:self._pos + min(n, 1000)]
        self._pos += len(chunk)
        return chunk

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False


class FakeServer:
    """A stand-in for ``urlopen`` that serves ``files`` by name and records every request.

    ``fail`` lists the mirror prefixes that answer with a URLError.
    """

    def __init__(self, files: dict[str, bytes], fail: tuple[str, ...] = ()) -> None:
        self.files = files
        self.fail = fail
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float | None = None, **kwargs) -> FakeResponse:
        self.urls.append(url)
        if url.startswith(self.fail):
            raise urllib.error.URLError("mirror is down")
        return FakeResponse(self.files[url.rsplit("/", 1)[1]])


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """An empty cache under ``tmp_path``, no LSQNET_DATA, and no network."""

    def no_network(*args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: urlopen{args}")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LSQNET_DATA", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)


@pytest.fixture
def cache(tmp_path) -> Path:
    """The cache folder of the ``isolated`` environment (where downloads go)."""
    assert get_data_home() == tmp_path / "xdg" / "lsqnet"
    return get_data_home()


# ---------------------------------------------------------------------------------------------
# digits


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load("digits")


def test_digits_shapes_dtypes_and_range(digits):
    X_train, y_train, X_test, y_test = digits
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert y_train.shape == (1347,) and y_test.shape == (450,)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for X in (X_train, X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))


def test_digits_split_is_stratified(digits):
    train = np.bincount(digits.y_train, minlength=10)
    test = np.bincount(digits.y_test, minlength=10)
    total = train + test
    # Every class is split 75/25 up to the rounding of one sample.
    assert np.all(np.abs(test - 0.25 * total) <= 1.0), (train, test)


def test_digits_is_deterministic(digits):
    again = load("digits")
    for a, b in zip(digits, again, strict=True):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# The real MNIST and Fashion-MNIST files


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    if not _have_real("mnist"):
        pytest.skip("LSQNET_DATA is unset or holds no mnist/ files")
    return load("mnist", data_home=REAL_ROOT, download=False)


@pytest.fixture(scope="module")
def fashion() -> Dataset:
    if not _have_real("fashion-mnist"):
        pytest.skip("LSQNET_DATA is unset or holds no fashion-mnist/ files")
    return load("fashion-mnist", data_home=REAL_ROOT, download=False)


@pytest.mark.parametrize(
    "name, mean",
    [
        pytest.param("mnist", 33.3184, marks=needs_real("mnist")),
        pytest.param("fashion", 72.9404, marks=needs_real("fashion-mnist")),
    ],
)
def test_real_idx_datasets(name, mean, request):
    X_train, y_train, X_test, y_test = request.getfixturevalue(name)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for X in (X_train, X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    for y in (y_train, y_test):
        assert_array_equal(np.unique(y), np.arange(10))
    assert abs(X_train.mean(dtype=np.float64) * 255 - mean) < 1e-3


@needs_real("mnist")
def test_real_mnist_label_counts(mnist):
    assert np.bincount(mnist.y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]


# ---------------------------------------------------------------------------------------------
# Where files are looked for


def test_get_data_home_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert get_data_home() == tmp_path / "c" / "lsqnet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert get_data_home() == Path(os.path.expanduser("~")) / ".cache" / "lsqnet"
    assert not (tmp_path / "c").exists()  # not created


def test_data_home_comes_before_lsqnet_data_and_the_cache(monkeypatch, tmp_path, cache):
    home, env = tmp_path / "home", tmp_path / "env"
    a, b, c = Fake(1), Fake(2), Fake(3)
    a.write(home)
    b.write(env)
    c.write(cache)
    monkeypatch.setenv("LSQNET_DATA", str(env))
    set_md5(monkeypatch, a.md5s)  # a file read from the wrong root would fail its md5
    a.assert_loaded(load("mnist", data_home=home, download=False))
    a.assert_loaded(load("mnist", data_home=str(home), download=False))


def test_lsqnet_data_comes_before_the_cache(monkeypatch, tmp_path, cache):
    b, c = Fake(2), Fake(3)
    b.write(tmp_path / "env")
    c.write(cache)
    monkeypatch.setenv("LSQNET_DATA", str(tmp_path / "env"))
    set_md5(monkeypatch, b.md5s)
    b.assert_loaded(load("mnist", download=False))
    # An empty data_home is skipped for the next root.
    b.assert_loaded(load("mnist", data_home=tmp_path / "empty", download=False))


def test_the_cache_is_searched_last(monkeypatch, tmp_path, cache):
    c = Fake(3)
    c.write(cache)
    monkeypatch.setenv("LSQNET_DATA", str(tmp_path / "env-without-files"))
    set_md5(monkeypatch, c.md5s)
    c.assert_loaded(load("mnist", data_home=tmp_path / "home-without-files", download=False))


def test_each_file_is_taken_from_the_first_root_holding_it(monkeypatch, tmp_path, cache):
    a, b = Fake(1), Fake(2)
    a.write(tmp_path / "home", files=(TRAIN_IMAGES, TEST_LABELS))
    b.write(tmp_path / "env")
    monkeypatch.setenv("LSQNET_DATA", str(tmp_path / "env"))
    set_md5(monkeypatch, {**b.md5s, TRAIN_IMAGES: a.md5s[TRAIN_IMAGES],
                          TEST_LABELS: a.md5s[TEST_LABELS]})
    data = load("mnist", data_home=tmp_path / "home", download=False)
    assert_allclose(data.X_train, a.images[TRAIN_IMAGES].reshape(6, -1) / 255.0, rtol=1e-6)
    assert_array_equal(data.y_train, b.labels[TRAIN_LABELS])
    assert_allclose(data.X_test, b.images[TEST_IMAGES].reshape(3, -1) / 255.0, rtol=1e-6)
    assert_array_equal(data.y_test, a.labels[TEST_LABELS])


def test_fashion_mnist_uses_its_own_folder(monkeypatch, tmp_path):
    a, b = Fake(1), Fake(2)
    a.write(tmp_path, "mnist")
    b.write(tmp_path, "fashion-mnist")
    set_md5(monkeypatch, b.md5s, "fashion-mnist")
    b.assert_loaded(load("fashion-mnist", data_home=tmp_path, download=False))


# ---------------------------------------------------------------------------------------------
# Missing files and downloads


def test_missing_files_without_download_name_files_and_folders(monkeypatch, tmp_path, cache):
    home, env = tmp_path / "home", tmp_path / "env"
    Fake(1).write(home, files=(TRAIN_IMAGES, TRAIN_LABELS))
    monkeypatch.setenv("LSQNET_DATA", str(env))
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist", data_home=home, download=False)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert TEST_IMAGES in message and TEST_LABELS in message
    assert TRAIN_IMAGES not in message and TRAIN_LABELS not in message
    for root in (home, env, cache):
        assert str(root / "mnist") in message
    assert "LSQNET_DATA" in message and "data_home" in message
    assert not cache.exists()  # nothing was created, nothing downloaded


def test_all_files_missing_are_all_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found") as info:
        load("fashion-mnist", data_home=tmp_path, download=False)
    for f in IDX_FILES:
        assert f in str(info.value)
    assert str(tmp_path / "fashion-mnist") in str(info.value)


def test_failed_download_raises_not_found_naming_every_mirror(monkeypatch, tmp_path, cache):
    def unreachable(url, timeout=None, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DatasetNotFoundError, match="Download failed") as info:
        load("mnist", data_home=tmp_path / "home")
    message = str(info.value)
    assert "no route to host" in message
    for mirror in datasets._REMOTE["mnist"].mirrors:
        assert mirror in message
    for f in IDX_FILES:
        assert f in message
    assert not cache.exists() or not any(cache.rglob("*"))


def test_download_lands_in_the_cache(monkeypatch, tmp_path, cache):
    fake = Fake(4)
    server = FakeServer(fake.files)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    set_md5(monkeypatch, fake.md5s)
    fake.assert_loaded(load("mnist", data_home=tmp_path / "home"))
    mirror = datasets._REMOTE["mnist"].mirrors[0]
    assert sorted(server.urls) == sorted(mirror + f for f in IDX_FILES)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(IDX_FILES)
    for f in IDX_FILES:
        assert (cache / "mnist" / f).read_bytes() == fake.files[f]
    # The second load reads the cache and does not download again.
    server.urls.clear()
    fake.assert_loaded(load("mnist"))
    assert server.urls == []


def test_download_fetches_only_the_missing_files(monkeypatch, tmp_path, cache):
    fake = Fake(5)
    fake.write(tmp_path / "home", files=(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES))
    server = FakeServer(fake.files)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    set_md5(monkeypatch, fake.md5s)
    fake.assert_loaded(load("mnist", data_home=tmp_path / "home"))
    assert [u.rsplit("/", 1)[1] for u in server.urls] == [TEST_LABELS]
    assert [p.name for p in (cache / "mnist").iterdir()] == [TEST_LABELS]


def test_download_falls_back_to_the_next_mirror(monkeypatch, tmp_path, cache):
    fake = Fake(6)
    first, second = datasets._REMOTE["fashion-mnist"].mirrors[:2]
    server = FakeServer(fake.files, fail=(first,))
    monkeypatch.setattr(urllib.request, "urlopen", server)
    set_md5(monkeypatch, fake.md5s, "fashion-mnist")
    fake.assert_loaded(load("fashion-mnist", data_home=tmp_path / "home"))
    assert server.urls[:2] == [first + TRAIN_IMAGES, second + TRAIN_IMAGES]
    assert (cache / "fashion-mnist" / TRAIN_IMAGES).read_bytes() == fake.files[TRAIN_IMAGES]


def test_download_with_a_wrong_md5_leaves_nothing_in_the_cache(monkeypatch, tmp_path, cache):
    fake = Fake(7)
    monkeypatch.setattr(urllib.request, "urlopen", FakeServer(fake.files))
    # The published sums (untouched) do not match the fake files.
    with pytest.raises(DatasetNotFoundError, match="md5") as info:
        load("mnist", data_home=tmp_path / "home")
    assert TRAIN_IMAGES in str(info.value)
    folder = cache / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []  # no file, no temp file


def test_download_interrupted_mid_body_falls_back(monkeypatch, tmp_path, cache):
    fake = Fake(8)

    class Dropped(FakeResponse):
        def read(self, n=-1):
            raise http.client.IncompleteRead(b"", 100)

    first = datasets._REMOTE["mnist"].mirrors[0]

    def flaky(url, timeout=None, **kwargs):
        name = url.rsplit("/", 1)[1]
        return (Dropped if url.startswith(first) else FakeResponse)(fake.files[name])

    monkeypatch.setattr(urllib.request, "urlopen", flaky)
    set_md5(monkeypatch, fake.md5s)
    fake.assert_loaded(load("mnist", data_home=tmp_path / "home"))


def test_download_false_never_calls_urlopen(tmp_path):
    # The autouse fixture's urlopen fails the test if it is called.
    with pytest.raises(DatasetNotFoundError):
        load("mnist", data_home=tmp_path, download=False)


# ---------------------------------------------------------------------------------------------
# Corrupt files, through load and through read_idx


def _corrupt_dataset(monkeypatch, tmp_path, filename: str, payload: bytes) -> Path:
    """A fake dataset in ``tmp_path/mnist`` whose ``filename`` is ``payload`` (md5 matching)."""
    fake = Fake(9)
    folder = fake.write(tmp_path)
    (folder / filename).write_bytes(payload)
    set_md5(monkeypatch, {**fake.md5s, filename: md5(payload)})
    return folder / filename


def test_load_rejects_a_wrong_md5(monkeypatch, tmp_path):
    fake = Fake(10)
    folder = fake.write(tmp_path)
    set_md5(monkeypatch, fake.md5s)
    changed = gz(idx_bytes(fake.labels[TRAIN_LABELS][::-1]))
    (folder / TRAIN_LABELS).write_bytes(changed)
    with pytest.raises(DatasetCorruptError, match=TRAIN_LABELS) as info:
        load("mnist", data_home=tmp_path, download=False)
    assert isinstance(info.value, ValueError)
    assert md5(changed) in str(info.value) and fake.md5s[TRAIN_LABELS] in str(info.value)


@pytest.mark.parametrize(
    "filename, payload, message",
    [
        (TRAIN_IMAGES, gz(idx_bytes(np.zeros((6, 4, 5))))[:-12], "not a valid gzip"),
        (TEST_LABELS, b"this is not gzip data", "not a valid gzip"),
        (TEST_IMAGES, gz(idx_bytes(np.zeros((3, 4, 5)), magic=0x00000903)), "not an IDX"),
        (TEST_IMAGES, gz(b"\x00\x00\x08"), "not an IDX"),
        (TRAIN_LABELS, gz(idx_bytes(np.zeros(6))[:-1]), "header announces"),
        (TRAIN_LABELS, gz(idx_bytes(np.zeros(6)) + b"\x00"), "header announces"),
        (TRAIN_IMAGES, gz(idx_bytes(np.zeros((6, 4, 5)))[:10]), "truncated IDX header"),
    ],
    ids=["truncated-gzip", "not-gzip", "wrong-magic", "short-magic", "data-short",
         "data-long", "header-short"],
)
def test_load_rejects_corrupt_files_naming_them(monkeypatch, tmp_path, filename, payload,
                                                message):
    path = _corrupt_dataset(monkeypatch, tmp_path, filename, payload)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        load("mnist", data_home=tmp_path, download=False)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "filename, array",
    [
        (TRAIN_LABELS, np.zeros(5)),  # 6 training images, 5 labels
        (TEST_IMAGES, np.zeros((4, 4, 5))),  # 4 test images, 3 labels
        (TRAIN_IMAGES, np.zeros((6, 20))),  # images with 2 dimensions
    ],
    ids=["train-count", "test-count", "image-ndim"],
)
def test_load_rejects_images_and_labels_that_do_not_pair(monkeypatch, tmp_path, filename,
                                                         array):
    _corrupt_dataset(monkeypatch, tmp_path, filename, gz(idx_bytes(array)))
    split = "train" if filename.startswith("train") else "t10k"
    with pytest.raises(DatasetCorruptError, match=f"'mnist': {split} images"):
        load("mnist", data_home=tmp_path, download=False)


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("check", [True, False], ids=["md5", "no-md5"])
def test_read_idx_round_trip(tmp_path, rng, compressed, check):
    array = rng.integers(0, 256, size=(7, 3, 2), dtype=np.uint8)
    payload = gz(idx_bytes(array)) if compressed else idx_bytes(array)
    path = tmp_path / ("a-idx3-ubyte.gz" if compressed else "a-idx3-ubyte")
    path.write_bytes(payload)
    out = read_idx(str(path), md5=md5(payload) if check else None)
    assert out.dtype == np.uint8 and out.shape == (7, 3, 2)
    assert_array_equal(out, array)
    assert out.flags.writeable  # a copy, not a view of the file's bytes


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
def test_read_idx_wrong_md5_names_the_file(tmp_path, compressed):
    payload = idx_bytes(np.arange(5))
    payload = gz(payload) if compressed else payload
    path = tmp_path / ("b-idx1-ubyte.gz" if compressed else "b-idx1-ubyte")
    path.write_bytes(payload)
    with pytest.raises(DatasetCorruptError, match="does not match") as info:
        read_idx(path, md5="0" * 32)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "payload, message",
    [
        (idx_bytes(np.zeros((2, 2)), magic=0x00000D02), "not an IDX"),  # float32 elements
        (idx_bytes(np.zeros((2, 2)), magic=0x00010802), "not an IDX"),
        (idx_bytes(np.zeros((2, 2)), magic=0x00000800), "not an IDX"),  # zero dimensions
        (b"", "empty"),
        (idx_bytes(np.zeros((2, 2)))[:9], "truncated IDX header"),
        (idx_bytes(np.zeros((2, 2)))[:-1], r"shape \(2, 2\) \(4 bytes of data\).*holds 3"),
        (idx_bytes(np.zeros((2, 2))) + b"\x01", "holds 5"),
    ],
    ids=["float-type", "nonzero-prefix", "zero-dims", "empty", "short-header", "short-data",
         "long-data"],
)
def test_read_idx_rejects_bad_plain_files(tmp_path, payload, message):
    path = tmp_path / "c-idx2-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_a_plain_file_named_gz(tmp_path):
    path = tmp_path / "d-idx1-ubyte.gz"
    path.write_bytes(idx_bytes(np.arange(4)))
    with pytest.raises(DatasetCorruptError, match="not a valid gzip"):
        read_idx(path)


def test_read_idx_rejects_a_damaged_deflate_stream(tmp_path):
    payload = bytearray(gz(bytes(range(256)) * 64))
    payload[20:60] = bytes(b ^ 0xFF for b in payload[20:60])  # inside the compressed body
    path = tmp_path / "e-idx1-ubyte.gz"
    path.write_bytes(bytes(payload))
    try:
        read_idx(path)
    except DatasetCorruptError as err:
        assert str(path) in str(err)
    else:  # pragma: no cover - the damage above always breaks the stream
        pytest.fail("a damaged gzip file was read without error")


# ---------------------------------------------------------------------------------------------
# Bad arguments


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'name' parameter") as info:
        load("cifar10")
    for name in DATASETS:
        assert repr(name) in str(info.value)
    assert "'cifar10'" in str(info.value)


@pytest.mark.parametrize("name", [None, 3, "MNIST"])
def test_name_must_be_a_known_string(name):
    with pytest.raises(ValueError, match="'name' parameter of lsqnet.datasets.load"):
        load(name)


@pytest.mark.parametrize("data_home", [3, b"/tmp", ["/tmp"]])
def test_data_home_of_a_wrong_type(data_home):
    with pytest.raises(TypeError, match="data_home must be a path"):
        load("mnist", data_home=data_home, download=False)


def test_datasets_lists_every_loadable_name():
    assert DATASETS == ("digits", "mnist", "fashion-mnist", "linear", "injective", "xor")


def test_toy_names_load_the_default_toy_problems():
    for name in ("linear", "injective", "xor"):
        for a, b in zip(load(name), make_toy(name), strict=True):
            assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# make_toy


def test_linear_toy_is_fitted_exactly_by_least_squares():
    X_train, y_train, X_test, y_test = make_toy("linear", n_samples=200, n_features=5)
    assert X_train.shape == (150, 5) and X_test.shape == (50, 5)
    assert y_train.shape == (150,) and y_train.dtype == np.float32
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0
    A = np.column_stack([X_train, np.ones(len(X_train))]).astype(np.float64)
    coef = lsqnet.lstsq(A, y_train.astype(np.float64))
    # Exact up to the float32 rounding of the stored targets.
    assert np.max(np.abs(A @ coef - y_train)) < 1e-5
    A_test = np.column_stack([X_test, np.ones(len(X_test))])
    assert np.max(np.abs(A_test @ coef - y_test)) < 1e-5
    # The same through fit_layer (identity activation, fitted intercept).
    layer = lsqnet.fit_layer(X_train.astype(np.float64), y_train.astype(np.float64))
    assert np.max(np.abs(layer.forward(X_test.astype(np.float64)).ravel() - y_test)) < 1e-5


def test_linear_toy_noise_leaves_a_residual():
    X_train, y_train, _, _ = make_toy("linear", n_samples=400, noise=0.1, random_state=3)
    A = np.column_stack([X_train, np.ones(len(X_train))]).astype(np.float64)
    residual = A @ lsqnet.lstsq(A, y_train.astype(np.float64)) - y_train
    assert 0.05 < np.std(residual) < 0.15


def test_injective_toy_is_a_tanh_network_of_its_own_shape():
    n, d = 120, 3
    data = make_toy("injective", n_samples=n, n_features=d, random_state=7)
    assert data.X_train.shape == (90, d) and data.y_train.shape == (90, d)
    assert data.y_train.dtype == np.float32
    # Redraw the generator's weights in the documented order (X, W1, W2, b1) and check that
    # the network tanh(X W1 + b1) W2 reproduces the targets.
    rng = np.random.default_rng(7)
    X = rng.uniform(0.0, 1.0, size=(n, d))
    W1 = np.linalg.qr(rng.standard_normal((d, d)))[0]
    W2 = np.linalg.qr(rng.standard_normal((d, d)))[0]
    b1 = rng.uniform(-0.5, 0.5, d)
    net = Network((Dense(W1, b1, "tanh"), Dense(W2, np.zeros(d), "identity")))
    X_all = np.concatenate([data.X_test, data.X_train]).astype(np.float64)
    y_all = np.concatenate([data.y_test, data.y_train])
    assert_allclose(X_all, X, rtol=1e-6)
    assert_allclose(net.forward(X_all), y_all, rtol=1e-5, atol=1e-6)
    # Orthogonal W2: every target has the norm of a tanh layer's output, below sqrt(d).
    assert np.all(np.linalg.norm(y_all, axis=1) < np.sqrt(d))


@pytest.mark.parametrize("name", ["linear", "injective", "xor"])
def test_toys_are_determined_by_random_state(name):
    a = make_toy(name, n_samples=50, random_state=11)
    b = make_toy(name, n_samples=50, random_state=11)
    c = make_toy(name, n_samples=50, random_state=12)
    for x, y in zip(a, b, strict=True):
        assert_array_equal(x, y)
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.dtype == np.float32


@pytest.mark.parametrize("name, shape", [("linear", (40,)), ("injective", (40, 4))])
def test_regression_toy_shapes(name, shape):
    X_train, y_train, X_test, y_test = make_toy(name, n_samples=50, test_size=0.2)
    assert X_train.shape == (40, 4) and X_test.shape == (10, 4)
    assert y_train.shape == shape and y_test.shape[0] == 10


def test_xor_labels_follow_the_rule_without_noise():
    X_train, y_train, X_test, y_test = make_toy("xor", n_samples=400, n_features=7)
    for X, y in ((X_train, y_train), (X_test, y_test)):
        assert X.shape[1] == 2  # n_features is ignored
        assert y.dtype == np.int64
        assert_array_equal(y, (X[:, 0] > 0.5) ^ (X[:, 1] > 0.5))
        assert set(np.unique(y)) == {0, 1}


def test_xor_noise_jitters_the_features_not_the_labels():
    clean = make_toy("xor", n_samples=200, random_state=2)
    noisy = make_toy("xor", n_samples=200, noise=0.1, random_state=2)
    assert_array_equal(clean.y_train, noisy.y_train)
    jitter = noisy.X_train - clean.X_train
    assert 0.07 < np.std(jitter) < 0.13


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"name": "circle"}, ValueError, "name"),
        ({"name": None}, ValueError, "name"),
        ({"n_samples": 3}, ValueError, "n_samples"),
        ({"n_samples": 10.0}, TypeError, "n_samples"),
        ({"n_samples": True}, TypeError, "n_samples"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"noise": "0.1"}, TypeError, "noise"),
        ({"test_size": 0.0}, ValueError, "test_size"),
        ({"test_size": 1.0}, ValueError, "test_size"),
        ({"test_size": 1.5}, ValueError, "test_size"),
        ({"test_size": None}, TypeError, "test_size"),
    ],
)
def test_make_toy_bad_arguments_name_the_argument(kwargs, error, name):
    kwargs = {"name": "linear", **kwargs}
    toy = kwargs.pop("name")
    with pytest.raises(error, match=f"The '{name}' parameter of make_toy"):
        make_toy(toy, **kwargs)


@settings(max_examples=50, deadline=None)
@given(
    n_samples=st.integers(4, 300),
    test_size=st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
    name=st.sampled_from(["linear", "xor"]),
)
def test_split_sizes_add_up_and_are_never_empty(n_samples, test_size, name):
    X_train, y_train, X_test, y_test = make_toy(
        name, n_samples=n_samples, test_size=test_size, n_features=2
    )
    assert X_train.shape[0] + X_test.shape[0] == n_samples
    assert X_train.shape[0] >= 1 and X_test.shape[0] >= 1
    assert y_train.shape[0] == X_train.shape[0] and y_test.shape[0] == X_test.shape[0]


# ---------------------------------------------------------------------------------------------
# lsqnet._io.atomic_write


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_atomic_write_writes_with_umask_permissions(tmp_path, umask_022):
    path = tmp_path / "out.bin"
    with atomic_write(path) as f:
        f.write(b"hello ")
        f.write(b"world")
    assert path.read_bytes() == b"hello world"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_respects_a_stricter_umask(tmp_path):
    old = os.umask(0o077)
    try:
        with atomic_write(tmp_path / "private") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600


def test_atomic_write_replaces_an_existing_file(tmp_path, umask_022):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old content that is longer")
    with atomic_write(str(path)) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert no_temp_files(tmp_path)


def test_atomic_write_failure_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(path) as f:
        f.write(b"half of the new content")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_failure_without_an_old_file_leaves_nothing(tmp_path):
    with pytest.raises(OSError, match="disk full"), atomic_write(tmp_path / "new.bin") as f:
        f.write(b"partial")
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_mode_of_an_existing_file(tmp_path, umask_022):
    path = tmp_path / "secret"
    path.write_bytes(b"old")
    path.chmod(0o600)
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --------------------------------------------------------------------------------------------
# read_table: a user's CSV / .npy / .npz files
# --------------------------------------------------------------------------------------------


def test_read_table_csv_with_header_and_text_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x1,label,x2\n1,a,2.5\n\n3,b,-4e-1\n")  # a blank line is skipped
    X, y, names = datasets.read_table(path, target="label")
    np.testing.assert_array_equal(X, [[1.0, 2.5], [3.0, -0.4]])
    assert y.tolist() == ["a", "b"] and names == ["x1", "x2"]
    X, y, _ = datasets.read_table(path, target=1)  # the same column by index
    assert y.tolist() == ["a", "b"]


def test_read_table_csv_without_header_numeric_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0.5\n3,4,1.5\n")
    X, y, names = datasets.read_table(path)  # target: the last column
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert y.dtype.kind == "f" and y.tolist() == [0.5, 1.5] and names is None
    X, y, _ = datasets.read_table(path, target=None)
    assert X.shape == (2, 3) and y is None


@pytest.mark.parametrize(
    ("text", "target", "match"),
    [
        ("", -1, "has no rows"),
        ("a,b\n", -1, "header but no data rows"),
        ("1,2\n3\n", -1, "line 2: 1 fields, expected 2"),
        ("a,b\n1,x\n", "a", "line 2, column 2 \\(b\\): 'x' is not a number"),
        ("1;2\n3,5;4\n", -1, "line 2, column 1: '3,5' is not a number \\(a decimal comma"),
        ("a,b\n1,inf\n", "a", "line 2, column 2 \\(b\\): 'inf' is not a finite number"),
        ("a,b\n1,2\n3,-inf\n", "b", "line 3, column 2 \\(b\\): '-inf' is not a finite"),
        ("\n\n1,2\n\n3\n", -1, "line 5: 1 fields, expected 2"),  # blank lines count
        ("a,b\n1,2\n", "c", "no column named 'c'"),
        ("1,2\n", 5, "target column 5 does not exist"),
    ],
)
def test_read_table_bad_csv_names_the_file_and_place(tmp_path, text, target, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        datasets.read_table(path, target=target)
    assert str(path) in str(info.value)


def test_read_table_numpy_files(tmp_path):
    X = np.arange(6.0).reshape(3, 2)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "xy.npz", X=X, y=np.array([0, 1, 0]))
    np.savez(tmp_path / "other.npz", A=X)
    got, y, _ = datasets.read_table(tmp_path / "x.npy")
    np.testing.assert_array_equal(got, X)
    assert y is None
    got, y, _ = datasets.read_table(tmp_path / "xy.npz")
    assert y.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="needs an array named 'X'"):
        datasets.read_table(tmp_path / "other.npz")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable NumPy file .it holds Python objects"):
        datasets.read_table(tmp_path / "objects.npy")  # pickled objects are never loaded
    with pytest.raises(FileNotFoundError):
        datasets.read_table(tmp_path / "missing.npy")


TABLE = np.array([[1.5, -2.0, 0.0], [3.0, 4.25, 1.0], [-0.5, 6.0, 1.0], [7.0, 8.0, 0.0]])


@pytest.mark.parametrize("delimiter", datasets.DELIMITERS)
@pytest.mark.parametrize("header", [True, False])
def test_read_table_detects_the_delimiter_and_the_header(tmp_path, delimiter, header):
    """Every delimiter csv.Sniffer is offered, with and without a header line: the same
    table back, no row lost, and sniff_table says what it found."""
    lines = [delimiter.join(f"{v:g}" for v in row) for row in TABLE]
    if header:
        lines.insert(0, delimiter.join(["width", "height", "label"]))
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    assert datasets.sniff_table(path) == (delimiter, header)
    X, y, names = datasets.read_table(path)
    np.testing.assert_array_equal(X, TABLE[:, :2])
    np.testing.assert_array_equal(y, TABLE[:, 2])
    assert names == (["width", "height"] if header else None)


def test_read_table_keeps_the_first_row_of_a_headerless_file_with_text_labels(tmp_path):
    """A first line with text only where every line has text (the label column) is data."""
    path = tmp_path / "wine.csv"
    path.write_text("13.2,1.78,barolo\n12.4,0.94,grignolino\n13.9,1.5,barolo\n")
    assert datasets.sniff_table(path) == (",", False)
    X, y, names = datasets.read_table(path)
    assert X.shape == (3, 2) and y.tolist() == ["barolo", "grignolino", "barolo"]
    assert names is None


def test_read_table_labels_are_python_strings(tmp_path):
    path = tmp_path / "wine.csv"
    path.write_text("a,b\n1,barolo\n2,grignolino\n")
    _, y, _ = datasets.read_table(path)
    assert all(type(v) is str for v in y)  # messages print barolo, not np.str_('barolo')


def test_read_table_a_header_of_numbers_is_read_as_data_unless_told(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("0,1,2\n1,2,3\n4,5,6\n")
    X, _, names = datasets.read_table(path)
    assert X.shape == (3, 2) and names is None  # nothing dropped
    X, y, names = datasets.read_table(path, header=True)
    assert X.tolist() == [[1, 2], [4, 5]] and y.tolist() == [3, 6] and names == ["0", "1"]


def test_read_table_explicit_options_override_the_detection(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x;y\n1;2\n3;4\n")
    X, y, names = datasets.read_table(path, delimiter=";", header=True)
    assert X.tolist() == [[1], [3]] and y.tolist() == [2, 4] and names == ["x"]
    with pytest.raises(ValueError, match=r"line 1, column 1: 'x;y' is not a number"):
        datasets.read_table(path, delimiter=",", header=False, target=None)
    with pytest.raises(ValueError, match=r"line 1, column 1: 'x' is not a number"):
        datasets.read_table(path, header=False)


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\n", 3])
def test_read_table_rejects_a_bad_delimiter_naming_it(tmp_path, delimiter):
    path = tmp_path / "d.csv"
    path.write_text("1,2\n")
    with pytest.raises(ValueError, match=r"read_table: delimiter must be one character"):
        datasets.read_table(path, delimiter=delimiter)


@pytest.mark.parametrize(
    ("text", "target", "place", "what"),
    [
        ("a,b,c\n1,,0\n", -1, "line 2, column 2 (b)", "an empty cell"),
        ("a,b,c\n1,NaN,0\n", -1, "line 2, column 2 (b)", "NaN"),
        ("a,b,c\n1,2,0\n\n3,nan,1\n", -1, "line 4, column 2 (b)", "nan"),
        ("a,b,c\n1,2,x\n3,4,\n", -1, "line 3, column 3 (c)", "an empty cell"),
        ("a,b,c\n1,2,0\n3,4,NaN\n", "c", "line 3, column 3 (c)", "NaN"),
        ("1,,0\n", None, "line 1, column 2", "an empty cell"),
        ("1,NaN,0\n", None, "line 1, column 2", "NaN"),
    ],
)
def test_read_table_missing_values_are_one_message(tmp_path, text, target, place, what):
    """An empty cell and a NaN, in a feature or the target: the same one-line message naming
    the file, the line and the column."""
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        datasets.read_table(path, target=target)
    message = str(info.value)
    assert message == (f"{path}, {place}: missing value ({what}); lsqnet needs every value: "
                       f"fill in or drop such rows first.")


def test_read_table_numpy_missing_values_name_the_index(tmp_path):
    X = np.arange(6.0).reshape(3, 2)
    X[1, 0] = np.nan
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match=r"x.npy: X\[1, 0\] is a missing value \(NaN\)"):
        datasets.read_table(tmp_path / "x.npy")
    np.savez(tmp_path / "xy.npz", X=np.ones((3, 2)), y=np.array([0.0, np.inf, 1.0]))
    with pytest.raises(ValueError, match=r"xy.npz: y\[1\] is not finite \(inf\)"):
        datasets.read_table(tmp_path / "xy.npz")


def test_read_table_text_encodings(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode())  # a spreadsheet's UTF-8 byte-order mark
    _, _, names = datasets.read_table(path)
    assert names == ["a"]
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv: not a UTF-8 text \(CSV\) file: byte "
                                         r"0xe9 at offset 9"):
        datasets.read_table(path)
    path = tmp_path / "model.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\xff\xfe")
    with pytest.raises(ValueError, match=r"a zip archive, such as an lsqnet model file"):
        datasets.read_table(path)


def test_sniff_table_reads_only_the_start_of_a_large_file(tmp_path):
    path = tmp_path / "big.csv"
    row = "1.25;2.5;3\n"
    path.write_text("x;y;z\n" + row * (3 * (1 << 16) // len(row)))
    assert datasets.sniff_table(path) == (";", True)
    X, y, _ = datasets.read_table(path)
    assert X.shape == (3 * (1 << 16) // len(row), 2) and set(y.tolist()) == {3.0}
