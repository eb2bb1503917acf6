"""Datasets: scikit-learn's digits, MNIST, Fashion-MNIST and the BPLS paper's toy problems.

:func:`load` returns ``(X_train, y_train, X_test, y_test)``: float32 features in [0, 1] (images
flattened row by row) and int64 labels.

- ``"digits"``: scikit-learn's bundled 8x8 digits (1797 images, no download), divided by 16 and
  split 75/25, stratified, with ``random_state=0`` (1347 training and 450 test images).
- ``"mnist"`` and ``"fashion-mnist"``: the original IDX gzip files (60000 training and 10000
  test 28x28 images), read by lsqnet's own IDX reader and checked against their published md5
  sums. The four files of a dataset are looked for in ``<root>/<name>/`` for each root in
  turn: the ``data_home`` argument, the ``LSQNET_DATA`` environment variable, then the cache
  folder (:func:`get_data_home`). Files absent from all of them are downloaded into the cache
  from the dataset's public mirrors when ``download=True`` and a network answers; otherwise a
  :class:`DatasetNotFoundError` says which files are missing and where to put them.
- ``"linear"``, ``"injective"`` and ``"xor"``: the paper's toy problems, generated from a seed
  (:func:`make_toy`). The first two are regressions (float32 targets), XOR a classification.

A file with a wrong md5, a wrong IDX magic number or a short read raises
:class:`DatasetCorruptError` naming the file; nothing is returned half loaded.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import io
import math
import os
import sys
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._io import atomic_write
from ._validation import check_option, check_random_state, check_scalar
from .exceptions import DatasetCorruptError, DatasetNotFoundError

__all__ = [
    "DATASETS",
    "IMAGE_SHAPES",
    "DELIMITERS",
    "Dataset",
    "TableFormat",
    "get_data_home",
    "load",
    "make_toy",
    "read_idx",
    "read_table",
    "sniff_table",
]


class Dataset(NamedTuple):
    """A train/test split; unpacks as ``X_train, y_train, X_test, y_test``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


class _Remote(NamedTuple):
    mirrors: tuple[str, ...]
    files: dict[str, str]  # file name -> md5 of the gzip file


_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

_REMOTE = {
    "mnist": _Remote(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        files=dict(zip(_IDX_FILES, (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ), strict=True)),
    ),
    "fashion-mnist": _Remote(
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        files=dict(zip(_IDX_FILES, (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ), strict=True)),
    ),
}

_TOYS = ("linear", "injective", "xor")

DATASETS: tuple[str, ...] = ("digits", *_REMOTE, *_TOYS)
"""Every name :func:`load` accepts."""

IMAGE_SHAPES: dict[str, tuple[int, int]] = {
    "digits": (8, 8), "mnist": (28, 28), "fashion-mnist": (28, 28),
}
"""The image shape (rows, cols) of the data sets of images, whose features are the pixels row
by row: what the image feature maps need (``image_shape`` of the estimators)."""

_IDX_DTYPES = {0x08: np.uint8}  # the only element type MNIST-style files use


def get_data_home() -> Path:
    """The cache folder: ``$XDG_CACHE_HOME/lsqnet``, else ``~/.cache/lsqnet`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lsqnet"


def read_idx(path: str | os.PathLike, md5: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed if its name ends in ``.gz``) into a NumPy array.

    If ``md5`` is given, the bytes of the file as stored must have that digest. Raises
    :class:`DatasetCorruptError` naming the file for a wrong digest, a bad gzip stream, a
    wrong magic number or a file shorter or longer than its header says.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"read_idx: path must be a str or os.PathLike. Got {path!r} instead."
        )
    path = Path(path)
    raw = path.read_bytes()
    if md5 is not None and hashlib.md5(raw).hexdigest() != md5:
        raise DatasetCorruptError(
            f"{path}: md5 {hashlib.md5(raw).hexdigest()} does not match the published "
            f"{md5}. The file is corrupt or truncated; delete it and download it again."
        )
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DatasetCorruptError(f"{path}: not a valid gzip file ({err}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DatasetCorruptError(
            f"{path}: not an IDX file of unsigned bytes (magic number {raw[:4].hex() or 'empty'}"
            f", expected 0000080N)."
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetCorruptError(f"{path}: truncated IDX header ({len(raw)} bytes).")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    size = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    # NumPy also refuses shapes whose non-zero dimensions multiply beyond its index range,
    # even for an array of no elements.
    if math.prod(s for s in shape if s) * dtype.itemsize > np.iinfo(np.intp).max:
        raise DatasetCorruptError(
            f"{path}: the header announces shape {shape}, too large for any array; the file "
            f"is corrupt."
        )
    if len(raw) - header != size:
        raise DatasetCorruptError(
            f"{path}: the header announces shape {shape} ({size} bytes of data) but the file "
            f"holds {len(raw) - header}; it is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).copy()


def _roots(data_home: str | os.PathLike | None) -> list[Path]:
    roots = []
    if data_home is not None:
        roots.append(Path(data_home))
    if os.environ.get("LSQNET_DATA"):
        roots.append(Path(os.environ["LSQNET_DATA"]))
    roots.append(get_data_home())
    return roots


class _NoProgress:
    def update(self, n: int) -> None:
        pass


def _progress(total: int | None, desc: str):
    """A tqdm byte counter on a terminal; a no-op without a terminal or without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm comes with lsqnet[bench]
        return contextlib.nullcontext(_NoProgress())
    return tqdm(total=total, unit="B", unit_scale=True, desc=desc,
                disable=not sys.stderr.isatty(), leave=False)


def _fetch(url: str, dest: Path, md5: str) -> None:
    """Download ``url`` to ``dest`` atomically, checking its md5 before it is put in place."""
    with urllib.request.urlopen(url, timeout=30) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        digest = hashlib.md5()
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(dest) as out, _progress(total, dest.name) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            if digest.hexdigest() != md5:  # raised inside: the file is never put in place
                raise DatasetCorruptError(
                    f"{url}: md5 {digest.hexdigest()} differs from the published {md5}"
                )


def _download(name: str, missing: list[str], target: Path, roots: list[Path]) -> None:
    """Fetch the ``missing`` files of ``name`` into ``target``, trying each mirror in turn."""
    remote = _REMOTE[name]
    for filename in missing:
        errors = []
        for mirror in remote.mirrors:
            try:
                _fetch(mirror + filename, target / filename, remote.files[filename])
                break
            except (OSError, http.client.HTTPException, DatasetCorruptError) as err:
                errors.append(f"{mirror + filename}: {err}")
        else:
            raise DatasetNotFoundError(_missing_message(name, missing, roots, errors))


def _missing_message(
    name: str, missing: list[str], roots: list[Path], errors: list[str] | None = None
) -> str:
    places = ", ".join(str(root / name) for root in roots)
    text = (
        f"dataset {name!r}: file(s) {', '.join(missing)} not found. Put the original IDX gzip "
        f"files into <data_home>/{name}/ and pass data_home=..., or set LSQNET_DATA to a folder "
        f"holding {name}/ (searched: {places}); they are published at "
        f"{_REMOTE[name].mirrors[0]}."
    )
    if errors:
        text += " Download failed: " + "; ".join(errors)
    return text


def _load_idx_dataset(name: str, data_home, download: bool) -> Dataset:
    remote = _REMOTE[name]
    found: dict[str, Path] = {}
    roots = _roots(data_home)
    for root in roots:
        for filename in remote.files:
            if filename not in found and (root / name / filename).is_file():
                found[filename] = root / name / filename
    missing = [f for f in remote.files if f not in found]
    if missing:
        if not download:
            raise DatasetNotFoundError(_missing_message(name, missing, roots))
        cache = get_data_home() / name
        _download(name, missing, cache, roots)
        found.update({f: cache / f for f in missing})
    arrays = [read_idx(found[f], md5=remote.files[f]) for f in remote.files]
    X_train, y_train, X_test, y_test = arrays
    for images, labels, split in ((X_train, y_train, "train"), (X_test, y_test, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise DatasetCorruptError(
                f"dataset {name!r}: {split} images {images.shape} and labels {labels.shape} "
                f"do not pair up."
            )
    scale = np.float32(255)  # a division is exactly rounded: 255 -> 1.0, 0 -> 0.0
    return Dataset(
        X_train.reshape(X_train.shape[0], -1).astype(np.float32) / scale,
        y_train.astype(np.int64),
        X_test.reshape(X_test.shape[0], -1).astype(np.float32) / scale,
        y_test.astype(np.int64),
    )


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        (X / 16.0).astype(np.float32), y.astype(np.int64),
        test_size=0.25, stratify=y, random_state=0,
    )
    return Dataset(X_train, y_train, X_test, y_test)


def make_toy(
    name: str, *, n_samples: int = 1000, n_features: int = 4, noise: float = 0.0,
    test_size: float = 0.25, random_state: int = 0,
) -> Dataset:
    """One of the paper's toy problems, with a seeded train/test split.

    - ``"linear"``: ``y = X w + b (+ noise)``, ``X`` uniform in [0, 1]; an injective linear
      map, so one least-squares layer fits it exactly.
    - ``"injective"``: ``y = tanh(X W1 + b1) W2 (+ noise)`` with square, well-conditioned
      ``W1`` and ``W2`` (n_features outputs): an injective non-linear map that a tanh network
      of the same shape represents exactly.
    - ``"xor"``: two features uniform in [0, 1], label 1 where exactly one of them is above
      0.5; ``noise`` is the standard deviation of Gaussian jitter added to the features.
      ``n_features`` is ignored.
    """
    name = check_option(name, "name", "make_toy", _TOYS)
    n_samples = check_scalar(n_samples, "n_samples", "make_toy", kind=int, low=4)
    n_features = check_scalar(n_features, "n_features", "make_toy", kind=int, low=1)
    noise = check_scalar(noise, "noise", "make_toy", kind=float, low=0.0)
    test_size = check_scalar(
        test_size, "test_size", "make_toy", kind=float, low=0.0, high=1.0,
        low_inclusive=False, high_inclusive=False,
    )
    rng = check_random_state(random_state, "make_toy")
    # A huge noise overflows (to infinity, or NaN through inf - inf); that is checked below.
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "xor":
            X = rng.uniform(0.0, 1.0, size=(n_samples, 2))
            y = ((X[:, 0] > 0.5) ^ (X[:, 1] > 0.5)).astype(np.int64)
            X = X + noise * rng.standard_normal(X.shape)
        else:
            X = rng.uniform(0.0, 1.0, size=(n_samples, n_features))
            if name == "linear":
                y = X @ rng.uniform(-1.0, 1.0, size=n_features) + rng.uniform(-1.0, 1.0)
            else:
                W1 = np.linalg.qr(rng.standard_normal((n_features, n_features)))[0]
                W2 = np.linalg.qr(rng.standard_normal((n_features, n_features)))[0]
                y = np.tanh(X @ W1 + rng.uniform(-0.5, 0.5, n_features)) @ W2
            y = (y + noise * rng.standard_normal(y.shape)).astype(np.float32)
        X = X.astype(np.float32)
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError(
            f"The 'noise' parameter of make_toy is too large: the noisy data overflow float32. "
            f"Use a noise below about 1e37. Got {noise:g} instead."
        )
    n_test = min(max(1, round(test_size * n_samples)), n_samples - 1)
    return Dataset(X[n_test:], y[n_test:], X[:n_test], y[:n_test])


def load(
    name: str, *, data_home: str | os.PathLike | None = None, download: bool = True
) -> Dataset:
    """Load a dataset by name (one of :data:`DATASETS`) as ``(X_train, y_train, X_test, y_test)``.

    See the module documentation for where files are looked for and how they are checked.
    ``download=False`` never touches the network.
    """
    name = check_option(name, "name", "lsqnet.datasets.load", DATASETS)
    if data_home is not None and not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            f"lsqnet.datasets.load: data_home must be a path (str or os.PathLike) or None. "
            f"Got {data_home!r} instead."
        )
    if name == "digits":
        return _load_digits()
    if name in _TOYS:
        return make_toy(name)
    return _load_idx_dataset(name, data_home, download)


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class TableFormat(NamedTuple):
    """How a CSV file is laid out: the field ``delimiter`` and whether its first line is a
    ``header`` of column names (:func:`sniff_table`)."""

    delimiter: str
    header: bool


#: The delimiters :func:`sniff_table` considers, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|", " ")
_SAMPLE_BYTES = 1 << 16


def _missing(cell: str) -> bool:
    """An empty cell or a NaN: a missing value."""
    value = _parse_float(cell)
    return cell.strip() == "" or (value is not None and value != value)


def _numeric(cell: str) -> bool:
    return _missing(cell) or _parse_float(cell) is not None


def _read_text(path: Path, size: int | None = None) -> str:
    """The file's text (``size`` bytes at most, the last partial line dropped), UTF-8 with
    or without a byte-order mark; a binary file is named as such."""
    with open(path, "rb") as f:
        raw = f.read() if size is None else f.read(size + 1)
    cut = size is not None and len(raw) > size
    if cut:
        raw = raw[:size].rsplit(b"\n", 1)[0]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        kind = (" (a zip archive, such as an lsqnet model file)" if raw[:4] == b"PK\x03\x04"
                else "")
        raise ValueError(
            f"{path}: not a UTF-8 text (CSV) file{kind}: byte 0x{raw[err.start]:02x} at "
            f"offset {err.start} is not UTF-8."
        ) from None


def _rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of ``text`` with the line number (1-based) each ends on."""
    import csv

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=delimiter == " ")
    return [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]


def _check_delimiter(delimiter: str | None, owner: str) -> str | None:
    if delimiter is None:
        return None
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ValueError(
            f"{owner}: delimiter must be one character other than a quote or a line break, "
            f"such as ',' or ';' (or None to detect it). Got {delimiter!r} instead."
        )
    return delimiter


def _sniff_delimiter(text: str) -> str:
    """csv.Sniffer's guess, checked: of the delimiters that split every sampled line into the
    same number (more than one) of fields, the one giving the most numeric cells wins; the
    Sniffer's guess, then the order of :data:`DELIMITERS`, break ties. A file none of them
    splits is one column (',' then)."""
    import csv

    try:
        guess = csv.Sniffer().sniff(text, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        guess = None
    best, best_score = None, None
    for d in DELIMITERS:
        rows = [row for _, row in _rows(text, d)]
        widths = {len(row) for row in rows}
        if len(widths) != 1 or widths == {1}:
            continue
        score = (sum(_numeric(cell) for row in rows for cell in row), d == guess)
        if best_score is None or score > best_score:
            best, best_score = d, score
    return best or guess or ","


def _header_of(rows: list[list[str]], text: str) -> bool:
    """Whether the first row is a header: it is when a column numeric below it has text in
    it, and it is not when it is all numbers. Otherwise (its text is only in text columns,
    as a label column's) csv.Sniffer.has_header decides."""
    import csv

    first, rest = rows[0], rows[1:]
    if not rest:
        return not all(_numeric(cell) for cell in first)
    if all(_numeric(cell) for cell in first):
        return False
    for j, cell in enumerate(first):
        below = [row[j] for row in rest if j < len(row)]
        if (not _numeric(cell) and below and all(_numeric(v) for v in below)
                and any(not _missing(v) for v in below)):
            return True
    try:
        return csv.Sniffer().has_header(text)
    except csv.Error:
        return False


def sniff_table(
    path: str | os.PathLike, *, delimiter: str | None = None, header: bool | None = None
) -> TableFormat:
    """Detect the layout of a CSV file from its first 64 KiB: ``(delimiter, header)``.

    ``delimiter`` (one character) and ``header`` (True: the first line names the columns;
    False: it is data), when given, are taken as they are. Otherwise the delimiter is
    :class:`csv.Sniffer`'s guess among :data:`DELIMITERS`, checked against the sample (the
    one splitting every line into the same number of fields, with the most numbers), and the
    first line is a header when some column holding numbers below it has text in it, data
    when it holds numbers only, and :meth:`csv.Sniffer.has_header` decides the rest. A first
    line is never dropped silently: :func:`read_table` and ``lsqnet fit`` say what was used.
    """
    path = Path(path)
    delimiter = _check_delimiter(delimiter, "sniff_table")
    if header is not None and not isinstance(header, bool):
        raise TypeError(f"sniff_table: header must be True, False or None (detect). Got "
                        f"{header!r} instead.")
    if delimiter is not None and header is not None:
        return TableFormat(delimiter, header)
    text = _read_text(path, _SAMPLE_BYTES)
    if delimiter is None:
        delimiter = _sniff_delimiter(text)
    if header is None:
        rows = [row for _, row in _rows(text, delimiter)]
        header = bool(rows) and _header_of(rows, text)
    return TableFormat(delimiter, header)


def _finite_array(array: np.ndarray, path: Path, name: str) -> np.ndarray:
    """``array`` if it holds no NaN or infinity, else an error naming the first one."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        value = array[where]
        what = "a missing value (NaN)" if value != value else f"not finite ({value})"
        index = ", ".join(map(str, where))
        raise ValueError(
            f"{path}: {name}[{index}] is {what}; lsqnet needs every value: fill in or drop "
            f"such rows first."
        )
    return array


def read_table(
    path: str | os.PathLike, *, target: str | int | None = -1, delimiter: str | None = None,
    header: bool | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Read a user's data: ``(X, y, column_names)`` from a CSV, ``.npy`` or ``.npz`` file.

    - CSV (UTF-8, one sample per line): ``delimiter`` and ``header`` as :func:`sniff_table`
      has them (detected when None). ``target`` picks the target column by header name or
      index (default: the last); ``None`` means every column is a feature (``y`` is None).
      Features must be numbers; target values stay strings unless they are all numbers.
    - ``.npy``: an array of features only (``y`` is None; ``target`` is not used).
    - ``.npz``: arrays ``X`` and, optionally, ``y`` (``target`` is not used).

    Loading never unpickles. A missing value (an empty cell or NaN) or an infinity is an
    error, like a cell that is not a number: one line naming the file, and the line and
    column of the value (its index, in a NumPy file).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            reason = ("it holds Python objects, which lsqnet never loads"
                      if "allow_pickle" in str(err) else str(err))
            raise ValueError(f"{path}: not a readable NumPy file ({reason}).") from None
        if suffix == ".npy":
            return _finite_array(np.asarray(data), path, "X"), None, None
        with data:
            if "X" not in data.files:
                raise ValueError(f"{path}: an .npz file needs an array named 'X' "
                                 f"(and 'y' for training); it has {', '.join(data.files)}.")
            X = _finite_array(data["X"], path, "X")
            y = _finite_array(data["y"], path, "y") if "y" in data.files else None
            return X, y, None
    delimiter = _check_delimiter(delimiter, "read_table")
    if delimiter is None or header is None:
        delimiter, header = sniff_table(path, delimiter=delimiter, header=header)
    numbered = _rows(_read_text(path), delimiter)
    if not numbered:
        raise ValueError(f"{path}: the file has no rows.")
    names = None
    if header:
        names, numbered = [cell.strip() for cell in numbered[0][1]], numbered[1:]
        if not numbered:
            raise ValueError(f"{path}: the file has a header but no data rows.")
    width = len(names) if names else len(numbered[0][1])
    for line, row in numbered:
        if len(row) != width:
            shown = "tab" if delimiter == "\t" else repr(delimiter)
            raise ValueError(f"{path}, line {line}: {len(row)} fields, expected {width} "
                             f"(fields separated by {shown}).")
    column = None
    if target is not None:
        if isinstance(target, str) and not target.lstrip("-").isdigit():
            if names is None or target not in names:
                have = ", ".join(names) if names else "none: the file has no header"
                raise ValueError(f"{path}: no column named {target!r} (columns: {have}).")
            column = names.index(target)
        else:
            column = int(target)
            if not -width <= column < width:
                raise ValueError(f"{path}: target column {column} does not exist "
                                 f"({width} columns).")
            column %= width

    def place(line: int, j: int) -> str:
        named = f" ({names[j]})" if names and names[j] else ""
        return f"{path}, line {line}, column {j + 1}{named}"

    def check(line: int, j: int, cell: str) -> None:
        if _missing(cell):
            what = "an empty cell" if not cell.strip() else cell.strip()
            raise ValueError(f"{place(line, j)}: missing value ({what}); lsqnet needs every "
                             f"value: fill in or drop such rows first.")

    features = [j for j in range(width) if j != column]
    X = np.empty((len(numbered), len(features)))
    for i, (line, row) in enumerate(numbered):
        for k, j in enumerate(features):
            check(line, j, row[j])
            value = _parse_float(row[j])
            if value is None or not math.isfinite(value):
                cell = row[j].strip()
                hint = (" (a decimal comma? write decimal points)"
                        if _parse_float(cell.replace(",", ".")) is not None else "")
                kind = "a number" if value is None else "a finite number"
                raise ValueError(f"{place(line, j)}: '{cell}' is not {kind}{hint}; features "
                                 f"must be numeric.")
            X[i, k] = value
    y = None
    if column is not None:
        for line, row in numbered:
            check(line, column, row[column])
        labels = [row[column].strip() for _, row in numbered]
        numbers = [_parse_float(v) for v in labels]
        if any(v is None for v in numbers):
            y = np.array(labels, dtype=object)  # Python str: messages print the values
        else:
            y = np.array(numbers)
            if not np.isfinite(y).all():
                i = int(np.argmin(np.isfinite(y)))
                raise ValueError(f"{place(numbered[i][0], column)}: '{labels[i]}' is not a "
                                 f"finite number.")
    column_names = [names[j] for j in features] if names else None
    return X, y, column_names
