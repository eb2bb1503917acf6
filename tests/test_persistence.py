"""Tests for lsqnet._persistence: ``model.save(path)`` and ``lsqnet.load(path)``.

What is checked: bit-identical predictions and identical fitted state after a round trip
(float32 and float64, 1-D and 2-D regression targets, string, integer and object labels,
feature names, big-endian arrays), the documented file layout, atomic saves (an error mid-save
leaves a previous file untouched and no temporary file), refusal of every kind of bad file with
a ``ModelFormatError`` naming the file (and no code executed from a hostile one), and pickle,
joblib and ``clone`` of fitted estimators.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import lsqnet
from lsqnet import BPLSClassifier, BPLSRegressor, load
from lsqnet._persistence import FORMAT, FORMAT_VERSION
from lsqnet.exceptions import LSQNetError, ModelFormatError

ESTIMATORS = [BPLSRegressor, BPLSClassifier]

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _fit(est, X, y):
    with warnings.catch_warnings():
        # Fallback and clipping warnings are irrelevant to persistence.
        warnings.simplefilter("ignore", UserWarning)
        return est.fit(X, y)


def _same_json(a, b) -> bool:
    """Equality of JSON-like values in which NaN equals NaN (history_ holds NaN accuracies)."""
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _assert_same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert isinstance(b, np.ndarray)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert np.array_equal(a, b)
    assert a.flags.f_contiguous == b.flags.f_contiguous  # memory order kept


def assert_same_state(
    orig, loaded, *, random_state_dropped: bool = False, shared_arrays: bool = True
) -> None:
    """Every attribute of ``loaded`` equals that of ``orig`` (same names, types, values).

    ``shared_arrays``: ``coefs_[i]`` and ``intercepts_[i]`` are the very arrays of
    ``network_.layers[i]``, as after ``fit`` (joblib does not keep that sharing).
    """
    assert type(loaded) is type(orig)
    # The Gram statistics a single-layer model keeps for partial_fit are not saved.
    kept = {name: value for name, value in vars(orig).items()
            if name not in ("_partial_stats", "_partial_ledger")}
    assert set(vars(loaded)) == set(kept)
    for name, value in kept.items():
        got = getattr(loaded, name)
        if name == "random_state" and random_state_dropped:
            assert got is None
        elif name == "network_":
            assert len(got.layers) == len(value.layers)
            for mine, theirs in zip(value.layers, got.layers, strict=True):
                _assert_same_array(mine.weight, theirs.weight)
                _assert_same_array(mine.bias, theirs.bias)
                assert mine.activation == theirs.activation
        elif name in ("coefs_", "intercepts_"):
            assert len(got) == len(value)
            for mine, theirs in zip(value, got, strict=True):
                _assert_same_array(mine, theirs)
        elif isinstance(value, np.ndarray):
            _assert_same_array(value, got)
            assert [type(v) for v in value.tolist()] == [type(v) for v in got.tolist()]
        elif name == "history_":
            assert _same_json(value, got)
        else:
            assert type(got) is type(value), name
            assert got == value, name
    for i, layer in enumerate(loaded.network_.layers):
        assert (loaded.coefs_[i] is layer.weight) == shared_arrays
        assert (loaded.intercepts_[i] is layer.bias) == shared_arrays


def assert_same_predictions(orig, loaded, X) -> None:
    a, b = orig.predict(X), loaded.predict(X)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert np.array_equal(a, b)
    if hasattr(orig, "predict_proba"):
        p, q = orig.predict_proba(X), loaded.predict_proba(X)
        assert p.dtype == q.dtype
        assert np.array_equal(p, q)


def _read_npz(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _metadata(arrays) -> dict:
    return json.loads(arrays["metadata"].tobytes().decode("utf-8"))


def _write_npz(path, arrays, meta=None, *, raw_metadata=None) -> None:
    """Write ``arrays`` (with ``meta`` as JSON, or ``raw_metadata`` as the entry) to ``path``."""
    arrays = dict(arrays)
    if raw_metadata is not None:
        arrays["metadata"] = raw_metadata
    elif meta is not None:
        text = json.dumps(meta)
        arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _assert_bad_file(path, match: str) -> ModelFormatError:
    """load(path) raises a ModelFormatError (a ValueError) matching ``match`` and naming path."""
    with pytest.raises(ModelFormatError, match=match) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, LSQNetError)
    assert str(path) in str(info.value)
    return info.value


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
def data(rng):
    X = rng.standard_normal((60, 4))
    X_test = rng.standard_normal((25, 4))
    w = rng.standard_normal((4, 2))
    return X, X_test, np.tanh(X @ w) * 0.5


@pytest.fixture
def regressor(data):
    X, _, Y = data
    return _fit(BPLSRegressor(hidden_layer_sizes=(6, 5), random_state=0, max_iter=3), X, Y[:, 0])


@pytest.fixture
def classifier(data):
    X, _, Y = data
    labels = np.array(["ant", "bee", "cat"])[(Y[:, 0] > 0).astype(int) + (Y[:, 1] > 0)]
    return _fit(BPLSClassifier(hidden_layer_sizes=(6,), random_state=0, max_iter=3), X, labels)


@pytest.fixture
def saved(regressor, tmp_path):
    """A valid regressor model file and its arrays (to be altered by the bad-file tests)."""
    path = tmp_path / "model.npz"
    regressor.save(path)
    return path, _read_npz(path)


# --------------------------------------------------------------------------------------------
# 1. Round trips
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "kind", ["regressor-1d", "regressor-2d", "classifier-str", "classifier-int"]
)
def test_round_trip_is_bit_identical(kind, dtype, data, tmp_path):
    X, X_test, Y = data
    X, X_test = X.astype(dtype), X_test.astype(dtype)
    if kind.startswith("regressor"):
        y = Y[:, 0] if kind.endswith("1d") else Y
        est = BPLSRegressor(hidden_layer_sizes=(7, 5), activation="tanh", random_state=1)
    else:
        idx = (Y[:, 0] > 0).astype(int) + (Y[:, 1] > 0)
        y = np.array(["ant", "bee", "cat"])[idx] if kind.endswith("str") else idx * 10 - 5
        est = BPLSClassifier(hidden_layer_sizes=(8,), output_activation="softmax", random_state=1)
    _fit(est, X, y)
    path = tmp_path / "model.npz"
    est.save(path)
    loaded = load(path)
    assert_same_state(est, loaded)
    assert_same_predictions(est, loaded, X_test)
    assert loaded.coefs_[0].dtype == np.dtype(dtype)
    expected_ndim = 1 if kind in ("regressor-1d",) or kind.startswith("classifier") else 2
    assert loaded.predict(X_test).ndim == expected_ndim
    if kind.startswith("classifier"):
        assert loaded.score(X, y) == est.score(X, y)


def test_single_layer_and_many_layers_round_trip(data, tmp_path):
    X, X_test, Y = data
    for sizes in [(), (3, 4, 5, 3)]:
        est = _fit(BPLSRegressor(hidden_layer_sizes=sizes, random_state=0), X, Y)
        est.save(tmp_path / "m.npz")
        loaded = load(tmp_path / "m.npz")
        assert len(loaded.network_.layers) == len(sizes) + 1
        assert_same_state(est, loaded)
        assert_same_predictions(est, loaded, X_test)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["no", "yes"], dtype=object),
        np.array([False, True]),
        np.array([1.0, 3.0]),
        np.array([-2, 2], dtype=np.int8),
    ],
    ids=["object-str", "bool", "float", "int8"],
)
def test_label_types_round_trip(labels, data, tmp_path):
    X, X_test, Y = data
    y = labels[(Y[:, 0] > 0).astype(int)]
    est = _fit(BPLSClassifier(hidden_layer_sizes=(5,), random_state=0), X, y)
    assert est.classes_.dtype == labels.dtype
    est.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert_same_state(est, loaded)  # includes the dtype and the Python types of the labels
    assert_same_predictions(est, loaded, X_test)


def test_object_numeric_labels_round_trip(classifier, data, tmp_path):
    # fit rejects object arrays of numbers ("unknown" target type), but classes_ set by hand
    # to Python numbers is stored as numbers and restored as an object array of them.
    est = classifier
    est.classes_ = np.array([3, 7, 11], dtype=object)
    est.save(tmp_path / "m.npz")
    assert _read_npz(tmp_path / "m.npz")["classes"].dtype.kind == "i"
    loaded = load(tmp_path / "m.npz")
    assert_same_state(est, loaded)
    assert_same_predictions(est, loaded, data[1])


@pytest.mark.parametrize(
    "bad_classes",
    [
        np.array([1, "a"], dtype=object),
        np.array([None, 2], dtype=object),
        np.array([(1, 2), (3, 4), None], dtype=object)[:2],
    ],
    ids=["mixed", "none", "tuples"],
)
def test_object_labels_that_are_not_strings_or_numbers_are_refused(
    bad_classes, classifier, tmp_path
):
    classifier.classes_ = bad_classes
    with pytest.raises(ValueError, match=r"only numbers, booleans and strings can be stored"):
        classifier.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_feature_names_round_trip(regressor, data, tmp_path):
    X, X_test, _ = data
    # As if fitted on a DataFrame (no DataFrame library is a test dependency).
    regressor.feature_names_in_ = np.array(["a", "b", "c", "delta"], dtype=object)
    regressor.save(tmp_path / "m.npz")
    arrays = _read_npz(tmp_path / "m.npz")
    assert arrays["feature_names_in"].dtype.kind == "U"
    assert _metadata(arrays)["has_feature_names"] is True
    loaded = load(tmp_path / "m.npz")
    assert loaded.feature_names_in_.dtype == object
    assert_same_state(regressor, loaded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
        assert_same_predictions(regressor, loaded, X_test)


def test_random_state_instance_is_stored_as_null(data, tmp_path):
    X, X_test, Y = data
    est = _fit(BPLSRegressor(hidden_layer_sizes=(4,), random_state=np.random.RandomState(3)), X, Y)
    est.save(tmp_path / "m.npz")
    assert _metadata(_read_npz(tmp_path / "m.npz"))["params"]["random_state"] is None
    loaded = load(tmp_path / "m.npz")
    assert loaded.random_state is None
    assert_same_state(est, loaded, random_state_dropped=True)
    assert_same_predictions(est, loaded, X_test)


def test_numpy_scalar_and_list_params_round_trip(data, tmp_path):
    X, X_test, Y = data
    est = BPLSRegressor(
        hidden_layer_sizes=[np.int64(4), 3], alpha=np.float32(0.5), random_state=np.int64(2)
    )
    _fit(est, X, Y)
    est.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    params = loaded.get_params()
    assert params["hidden_layer_sizes"] == (4, 3)
    assert params["alpha"] == 0.5
    assert params["random_state"] == 2
    assert type(params["random_state"]) is int
    assert_same_predictions(est, loaded, X_test)


def test_big_endian_file_loads_to_native_arrays(saved, regressor, data, tmp_path):
    _, arrays = saved
    swapped = {
        k: v if k == "metadata" else v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()
    }
    path = tmp_path / "big.npz"
    _write_npz(path, swapped)
    loaded = load(path)
    assert all(w.dtype.isnative for w in loaded.coefs_ + loaded.intercepts_)
    assert_same_predictions(regressor, loaded, data[1])


def test_loaded_model_can_be_saved_and_refitted(regressor, data, tmp_path):
    X, X_test, Y = data
    regressor.save(tmp_path / "a.npz")
    loaded = load(tmp_path / "a.npz")
    loaded.save(tmp_path / "b.npz")
    first, second = _read_npz(tmp_path / "a.npz"), _read_npz(tmp_path / "b.npz")
    assert set(first) == set(second)
    for key, value in first.items():  # the metadata too: the same JSON text, byte for byte
        _assert_same_array(value, second[key])
    refit = _fit(loaded, X, Y[:, 0])
    again = _fit(clone(regressor), X, Y[:, 0])
    assert np.array_equal(refit.predict(X_test), again.predict(X_test))


# --------------------------------------------------------------------------------------------
# 2. The file
# --------------------------------------------------------------------------------------------


def test_file_layout_matches_the_documented_format(classifier, tmp_path):
    path = tmp_path / "model.npz"
    classifier.save(path)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
    arrays = _read_npz(path)  # allow_pickle=False: nothing in it needs pickle
    assert set(arrays) == {
        "metadata", "layer_0_weight", "layer_0_bias", "layer_1_weight", "layer_1_bias", "classes"
    }
    assert arrays["metadata"].dtype == np.uint8
    assert arrays["metadata"].ndim == 1
    assert arrays["classes"].dtype.kind == "U"
    meta = _metadata(arrays)
    assert meta["format"] == FORMAT == "lsqnet-model"
    assert meta["format_version"] == FORMAT_VERSION == 6
    assert meta["lsqnet_version"] == lsqnet.__version__
    assert meta["estimator"] == "BPLSClassifier"
    assert meta["params"] == {
        **classifier.get_params(),
        "hidden_layer_sizes": list(classifier.hidden_layer_sizes),
        "patch_size": list(classifier.patch_size),
        "image_shape": None,
    }
    assert meta["activations"] == ["tanh", "sigmoid"]
    assert meta["classes_object"] is False
    assert meta["has_feature_names"] is False
    attrs = meta["attributes"]
    assert set(attrs) == {
        "n_features_in_", "n_layers_", "n_outputs_", "n_iter_", "loss_", "flops_",
        "flops_exact_", "solver_", "method_", "out_activation_", "history_", "_multilabel",
        "alpha_", "alphas_", "cv_errors_",
    }
    assert attrs["_multilabel"] is False
    assert attrs["alpha_"] == classifier.alpha_
    assert attrs["n_layers_"] == 3
    assert attrs["n_outputs_"] == 3
    for i, (W, b) in enumerate(zip(classifier.coefs_, classifier.intercepts_, strict=True)):
        _assert_same_array(W, arrays[f"layer_{i}_weight"])
        _assert_same_array(b, arrays[f"layer_{i}_bias"])


def test_regressor_metadata_records_y_1d(regressor, tmp_path):
    regressor.save(tmp_path / "m.npz")
    meta = _metadata(_read_npz(tmp_path / "m.npz"))
    assert meta["estimator"] == "BPLSRegressor"
    assert meta["attributes"]["_y_1d"] is True
    assert "classes_object" not in meta
    assert np.isnan(meta["attributes"]["history_"][0]["accuracy"])


@pytest.mark.parametrize("name", ["model", "model.bin", "model.npz"])
@pytest.mark.parametrize("as_path", [True, False], ids=["Path", "str"])
def test_path_is_used_exactly_as_given(name, as_path, regressor, tmp_path):
    path = tmp_path / name
    regressor.save(path if as_path else str(path))
    assert [p.name for p in tmp_path.iterdir()] == [name]
    loaded = load(path if as_path else str(path))
    assert np.array_equal(loaded.predict(np.ones((2, 4))), regressor.predict(np.ones((2, 4))))


def test_save_replaces_an_existing_model(regressor, classifier, tmp_path):
    path = tmp_path / "m.npz"
    classifier.save(path)
    regressor.save(path)
    assert isinstance(load(path), BPLSRegressor)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_saved_file_mode_follows_the_umask(regressor, tmp_path):
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    mask = os.umask(0o022)
    try:
        regressor.save(tmp_path / "m.npz")
    finally:
        os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------------------------
# 3. Saving: errors and atomicity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_save_unfitted_raises_not_fitted(est_cls, tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        est_cls().save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [None, 3, b"model.npz", ["m.npz"], io.BytesIO()])
def test_bad_path_type_raises_type_error(bad, regressor):
    with pytest.raises(TypeError, match=r"The 'path' argument of BPLSRegressor\.save must be"):
        regressor.save(bad)
    with pytest.raises(TypeError, match=r"The 'path' argument of load must be a str or"):
        load(bad)


def test_save_into_missing_directory_raises_file_not_found(regressor, tmp_path):
    with pytest.raises(FileNotFoundError, match="directory does not exist") as info:
        regressor.save(tmp_path / "no" / "such" / "m.npz")
    assert str(tmp_path / "no" / "such") in str(info.value)


def test_save_refuses_invalid_params_and_non_finite_weights(regressor, tmp_path):
    regressor.set_params(alpha=-1.0)
    with pytest.raises(ValueError, match=r"The 'alpha' parameter of BPLSRegressor"):
        regressor.save(tmp_path / "m.npz")
    regressor.set_params(alpha=1.0)
    regressor.coefs_[1][0, 0] = np.nan  # the same array as the network's
    with pytest.raises(ValueError, match=r"layer 1's weight contains NaN"):
        regressor.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_subclasses(data, tmp_path):
    class MyRegressor(BPLSRegressor):
        pass

    X, _, Y = data
    est = _fit(MyRegressor(hidden_layer_sizes=(3,)), X, Y)
    with pytest.raises(TypeError, match="not subclasses.*got MyRegressor"):
        est.save(tmp_path / "m.npz")


def test_save_refuses_params_json_cannot_hold(regressor, tmp_path):
    # A valid alpha (a real number) that JSON cannot hold.
    regressor.set_params(alpha=Fraction(1, 2))
    with pytest.raises(TypeError, match=r"the 'alpha' parameter: Fraction\(1, 2\) of type"):
        regressor.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt("disk on fire")])
@pytest.mark.parametrize("existing", [True, False])
def test_error_mid_save_leaves_old_file_and_no_temporary(
    error, existing, regressor, classifier, tmp_path, monkeypatch
):
    path = tmp_path / "m.npz"
    if existing:
        classifier.save(path)
    before = path.read_bytes() if existing else None
    real_savez = np.savez

    def failing_savez(file, **arrays):
        real_savez(io.BytesIO(), **arrays)  # the real work, elsewhere
        file.write(b"PK\x03\x04 half a file")  # then a partial write to the real file
        raise error

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(type(error), match="disk on fire"):
        regressor.save(path)
    if existing:
        assert path.read_bytes() == before
        assert isinstance(load(path), BPLSClassifier)
        assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    else:
        assert list(tmp_path.iterdir()) == []


def test_failed_rename_leaves_old_file_and_no_temporary(
    regressor, classifier, tmp_path, monkeypatch
):
    path = tmp_path / "m.npz"
    classifier.save(path)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError, match="Permission denied"):
        regressor.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_temporary_file_is_synced_in_the_same_directory_before_rename(
    regressor, tmp_path, monkeypatch
):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.fstat(fd).st_size))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(src).parent, Path(src).name, Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "m.npz"
    regressor.save(path)
    assert events[0][0] == "fsync"
    assert events[0][1] == path.stat().st_size  # the complete file was synced
    assert events[1][0] == "replace"
    assert events[1][1] == tmp_path  # renamed within one directory: atomic
    assert events[1][2] != "m.npz"
    assert events[1][3] == path


# --------------------------------------------------------------------------------------------
# 4. Loading bad files
# --------------------------------------------------------------------------------------------


def test_missing_file_raises_file_not_found(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load(path)
    # No suffix is tried either.
    (tmp_path / "absent.npz.npz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="No lsqnet model file"):
        load(path)


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_file_raises_model_format_error(keep, saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[:n])
    _assert_bad_file(bad, "not a readable NumPy .npz archive")


def test_flipped_byte_in_a_weight_raises_model_format_error(saved, tmp_path):
    path, arrays = saved
    data = bytearray(path.read_bytes())
    start = data.index(arrays["layer_1_weight"].tobytes(order="A"))  # as stored, C or F
    data[start + 3] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    _assert_bad_file(bad, r"its 'layer_1_weight' entry cannot be read.*damaged")


@pytest.mark.parametrize("seed", range(3))
def test_random_bytes_raise_model_format_error(seed, tmp_path):
    bad = tmp_path / "noise.npz"
    bad.write_bytes(np.random.default_rng(seed).bytes(2000))
    _assert_bad_file(bad, "not a readable NumPy .npz archive")


def test_random_bytes_after_zip_magic_raise_model_format_error(tmp_path):
    bad = tmp_path / "noise.npz"
    bad.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(2000))
    _assert_bad_file(bad, "not a readable NumPy .npz archive")


def test_foreign_npz_raises_model_format_error(tmp_path):
    bad = tmp_path / "foreign.npz"
    np.savez(bad, weights=np.ones((3, 2)), bias=np.zeros(2))
    _assert_bad_file(bad, r"without a 'metadata' entry")


def test_npy_file_raises_model_format_error(tmp_path):
    bad = tmp_path / "array.npy"
    np.save(bad, np.ones((3, 2)))
    _assert_bad_file(bad, r"a single array \(a \.npy file\)")


def test_compressed_archive_is_refused(saved, tmp_path):
    _, arrays = saved
    bad = tmp_path / "compressed.npz"
    np.savez_compressed(bad, **arrays)
    _assert_bad_file(bad, "not uncompressed")


_MARKER = "code_ran_while_loading"


def _touch(path):  # what a hostile pickle would run
    Path(path).write_text("pwned")
    return np.zeros(1)


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (self.marker,))


def test_pickle_payloads_are_never_executed(saved, regressor, tmp_path):
    _, arrays = saved
    marker = tmp_path / _MARKER
    hostile = np.empty(1, dtype=object)
    hostile[0] = _Hostile(str(marker))
    # An object array inside an otherwise valid model file.
    bad = tmp_path / "hostile_member.npz"
    with open(bad, "wb") as f:
        np.savez(f, **{**arrays, "layer_1_bias": hostile})
    _assert_bad_file(bad, r"its 'layer_1_bias' entry cannot be read")
    # A pickled object array as a whole .npy file, and a plain pickle of an estimator.
    bad_npy = tmp_path / "hostile.npy"
    np.save(bad_npy, hostile, allow_pickle=True)
    _assert_bad_file(bad_npy, "not a readable NumPy .npz archive")
    bad_pickle = tmp_path / "hostile.pkl"
    bad_pickle.write_bytes(pickle.dumps([regressor, _Hostile(str(marker))]))
    _assert_bad_file(bad_pickle, "not a readable NumPy .npz archive")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (np.frombuffer(b'{"format": "lsqnet-model", ', dtype=np.uint8), "not valid UTF-8 JSON"),
        (np.frombuffer(b"\xff\xfe\x00{}", dtype=np.uint8), "not valid UTF-8 JSON"),
        (np.frombuffer(b"[" * 100000, dtype=np.uint8), "not valid UTF-8 JSON"),
        (np.frombuffer(b'["lsqnet-model", 1]', dtype=np.uint8), 'no "format"'),
        (np.frombuffer(b"{}", dtype=np.uint8), 'no "format"'),
        (np.array('{"format": "lsqnet-model"}'), "not UTF-8 bytes"),
        (np.zeros((2, 2), dtype=np.uint8), "not UTF-8 bytes"),
    ],
    ids=["truncated", "not-utf8", "deep", "list", "empty", "unicode-array", "2-D"],
)
def test_malformed_metadata_raises_model_format_error(raw, match, saved, tmp_path):
    _, arrays = saved
    bad = tmp_path / "bad.npz"
    _write_npz(bad, arrays, raw_metadata=raw)
    _assert_bad_file(bad, match)


def test_newer_format_version_is_refused(saved, tmp_path):
    _, arrays = saved
    meta = _metadata(arrays)
    # A future version may change anything else; the version is checked first.
    newer = FORMAT_VERSION + 1
    meta = {"format": "lsqnet-model", "format_version": newer, "something": "new"}
    bad = tmp_path / "future.npz"
    _write_npz(bad, arrays, meta)
    error = _assert_bad_file(
        bad,
        f"written by a newer version of lsqnet; this version reads format version "
        f"{FORMAT_VERSION}",
    )
    assert f"format version {newer}" in str(error)


@pytest.mark.parametrize("missing", [("output_iter", "patch_size"), ("patch_size",)])
def test_version_1_files_without_later_parameters_load(missing, regressor, saved, tmp_path):
    # Version 1 files were written before output_iter and patch_size existed: they load with
    # the values the lsqnet that wrote them trained with, and predict as they did.
    est, (_, arrays) = regressor, saved
    meta = _metadata(arrays)
    meta["format_version"] = 1
    for key in (*missing, "image_shape", "method", "safeguard", "warm_start", "early_stopping",
                "validation_fraction", "n_iter_no_change"):
        del meta["params"][key]
    for key in ("method_", *ATTRIBUTES_AFTER_VERSION_3):
        del meta["attributes"][key]
    old = tmp_path / "v1.npz"
    _write_npz(old, arrays, meta)
    loaded = lsqnet.load(old)
    assert loaded.patch_size == (0.25, 0.5)
    assert loaded.output_iter == (0 if "output_iter" in missing else est.output_iter)
    X = np.random.default_rng(0).normal(size=(5, est.n_features_in_))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


ATTRIBUTES_AFTER_VERSION_3 = ("alpha_", "alphas_", "cv_errors_")


def test_version_3_files_load_with_the_penalty_they_trained_with(regressor, saved, tmp_path):
    # Version 3 files were written before alpha could be chosen by cross-validation: the
    # penalty they trained with is their alpha parameter.
    est, (_, arrays) = regressor, saved
    meta = _metadata(arrays)
    meta["format_version"] = 3
    for key in ATTRIBUTES_AFTER_VERSION_3:
        del meta["attributes"][key]
    old = tmp_path / "v3.npz"
    _write_npz(old, arrays, meta)
    loaded = lsqnet.load(old)
    assert (loaded.alpha_, loaded.alphas_, loaded.cv_errors_) == (est.alpha, None, None)
    X = np.random.default_rng(0).normal(size=(5, est.n_features_in_))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


@pytest.mark.parametrize(("version", "param", "value"), [
    # version 4 files were written before the estimators could scale their inputs: they
    # trained on X as given
    (4, "scale_inputs", False),
    # version 5 files, before the training methods took settings of their own
    (5, "method_options", None),
])
def test_older_files_load_with_how_they_were_trained(regressor, saved, tmp_path, version,
                                                     param, value):
    est, (_, arrays) = regressor, saved
    meta = _metadata(arrays)
    meta["format_version"] = version
    del meta["params"][param]
    old = tmp_path / f"v{version}.npz"
    _write_npz(old, arrays, meta)
    loaded = lsqnet.load(old)
    assert getattr(loaded, param) is value
    X = np.random.default_rng(0).normal(size=(5, est.n_features_in_))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_method_options_round_trip(tmp_path):
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    options = {"batch_size": 50, "batches_per_step": 3, "eval_rows": None}
    est = BPLSClassifier(
        hidden_layer_sizes=(8,), method="kfac", max_iter=1, method_options=options,
        random_state=0,
    ).fit(X, y)
    est.save(tmp_path / "m.npz")
    loaded = lsqnet.load(tmp_path / "m.npz")
    assert loaded.method_options == options
    refit = clone(loaded).fit(X, y)
    np.testing.assert_array_equal(refit.coefs_[0], est.coefs_[0])


@pytest.mark.parametrize("key", ATTRIBUTES_AFTER_VERSION_3)
def test_current_files_need_the_attributes_older_files_lack(key, saved, tmp_path):
    _, arrays = saved
    meta = _metadata(arrays)
    del meta["attributes"][key]
    bad = tmp_path / "incomplete.npz"
    _write_npz(bad, arrays, meta)
    _assert_bad_file(bad, "its attributes are")


def test_a_chosen_penalty_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 4)), rng.normal(size=80)
    est = BPLSRegressor(hidden_layer_sizes=(6,), alpha="auto", random_state=0).fit(X, y)
    path = tmp_path / "model.npz"
    est.save(path)
    loaded = lsqnet.load(path)
    assert loaded.alpha == "auto" and loaded.alpha_ == est.alpha_
    np.testing.assert_array_equal(loaded.alphas_, est.alphas_)
    np.testing.assert_array_equal(loaded.cv_errors_, est.cv_errors_)


@pytest.mark.parametrize("version", [2, 3])
def test_files_need_every_parameter_of_their_version(version, saved, tmp_path):
    _, arrays = saved
    meta = _metadata(arrays)
    meta["format_version"] = version
    del meta["params"]["patch_size"]
    bad = tmp_path / "incomplete.npz"
    _write_npz(bad, arrays, meta)
    _assert_bad_file(bad, "its params are")


@pytest.mark.parametrize("key", ["image_shape", "method", "safeguard", "warm_start",
                                 "early_stopping", "validation_fraction", "n_iter_no_change",
                                 "scale_inputs", "method_options"])
def test_current_files_need_the_parameters_older_files_lack(key, saved, tmp_path):
    _, arrays = saved
    meta = _metadata(arrays)
    del meta["params"][key]
    bad = tmp_path / "incomplete.npz"
    _write_npz(bad, arrays, meta)
    _assert_bad_file(bad, "its params are")


@pytest.mark.parametrize(
    ("init", "n_features", "expected"),
    [("patches", 16, (4, 4)), ("contrasts", 9, (3, 3)), ("samples", 16, None),
     ("fan_in", 9, None)],
)
def test_version_2_files_load_with_the_image_shape_they_trained_with(
    init, n_features, expected, tmp_path
):
    # Version 2 files were written before image_shape existed, when the image maps took the
    # features as a square image, and before method and safeguard (BPLS kept every sweep):
    # they load with the shape and settings they trained with, and predict as they did.
    rng = np.random.default_rng(0)
    X = rng.random((60, n_features))
    y = (X[:, 0] > 0.5).astype(int)
    image = None if expected is None else expected
    est = BPLSClassifier(
        hidden_layer_sizes=(5,), activation="relu", init=init, image_shape=image, max_iter=0,
        refit_output=True, random_state=0,
    ).fit(X, y)
    path = tmp_path / "model.npz"
    est.save(path)
    arrays = _read_npz(path)
    meta = _metadata(arrays)
    meta["format_version"] = 2
    for key in ("image_shape", "method", "safeguard", "warm_start", "early_stopping",
                "validation_fraction", "n_iter_no_change"):
        del meta["params"][key]
    for key in ("method_", "_multilabel", *ATTRIBUTES_AFTER_VERSION_3):
        del meta["attributes"][key]
    old = tmp_path / "v2.npz"
    _write_npz(old, arrays, meta)
    loaded = lsqnet.load(old)
    assert loaded.image_shape == expected
    assert (loaded.method, loaded.safeguard, loaded.method_) == ("bpls", False, "bpls")
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert clone(loaded).fit(X, y).get_params() == {**est.get_params(), "safeguard": False}


def _top(meta, key, value):
    meta[key] = value


def _drop(meta, key):
    del meta[key]


def _section(section, key, value):
    def mutate(meta):
        if value is _DELETE:
            del meta[section][key]
        else:
            meta[section][key] = value

    return mutate


_DELETE = object()

_BAD_METADATA = {
    "wrong-format": (lambda m: _top(m, "format", "lsqnet"), 'no "format"'),
    "version-0": (lambda m: _top(m, "format_version", 0), "format_version is 0"),
    "version-str": (lambda m: _top(m, "format_version", "1"), "format_version is '1'"),
    "version-bool": (lambda m: _top(m, "format_version", True), "format_version is True"),
    "no-version": (lambda m: _drop(m, "format_version"), "format_version is None"),
    "foreign-class": (
        lambda m: _top(m, "estimator", "sklearn.linear_model.Ridge"),
        "estimator is 'sklearn.linear_model.Ridge'; this version of lsqnet knows",
    ),
    "class-expression": (
        lambda m: _top(m, "estimator", "__import__('os').system('true')"),
        "this version of lsqnet knows 'BPLSRegressor', 'BPLSClassifier'",
    ),
    "no-estimator": (lambda m: _drop(m, "estimator"), "estimator is None"),
    "no-params": (lambda m: _drop(m, "params"), r"lacks the key\(s\) \['params'\]"),
    "no-attributes": (lambda m: _drop(m, "attributes"), r"lacks the key\(s\) \['attributes'\]"),
    "no-activations": (lambda m: _drop(m, "activations"), r"lacks the key\(s\) \['activations'\]"),
    "no-lsqnet-version": (lambda m: _drop(m, "lsqnet_version"), r"lacks the key\(s\)"),
    "no-feature-flag": (lambda m: _drop(m, "has_feature_names"), r"lacks the key\(s\)"),
    "extra-key": (lambda m: _top(m, "code", "print(1)"), r"has unknown key\(s\) \['code'\]"),
    "classifier-without-classes": (
        lambda m: _top(m, "estimator", "BPLSClassifier"), r"lacks the key\(s\) \['classes_object'"
    ),
    "version-not-str": (lambda m: _top(m, "lsqnet_version", 1), "lsqnet_version is not a string"),
    "feature-flag-int": (lambda m: _top(m, "has_feature_names", 0), "has_feature_names is 0"),
    "params-list": (lambda m: _top(m, "params", []), "its params are"),
    "missing-param": (_section("params", "alpha", _DELETE), "its params are"),
    "unknown-param": (_section("params", "gamma", 1.0), "its params are"),
    "invalid-param": (
        _section("params", "alpha", -1.0), "parameters are invalid.*'alpha' parameter"
    ),
    "invalid-sizes": (_section("params", "hidden_layer_sizes", "big"), "parameters are invalid"),
    "seed-str": (_section("params", "random_state", "0"), "random_state is '0'"),
    "missing-attribute": (_section("attributes", "loss_", _DELETE), "its attributes are"),
    "unknown-attribute": (_section("attributes", "coef_", 1), "its attributes are"),
    "n-features-str": (_section("attributes", "n_features_in_", "4"), "n_features_in_ must be"),
    "n-features-0": (_section("attributes", "n_features_in_", 0), "n_features_in_ must be"),
    "n-iter-negative": (_section("attributes", "n_iter_", -1), "n_iter_ must be an int >= 0"),
    "n-layers": (_section("attributes", "n_layers_", 5), "n_layers_ is 5, but there are 3"),
    "loss-str": (_section("attributes", "loss_", "low"), "loss_ must be a number"),
    "exact-int": (_section("attributes", "flops_exact_", 1), "flops_exact_ must be true"),
    "solver-null": (_section("attributes", "solver_", None), "solver_ must be a string"),
    "method-number": (_section("attributes", "method_", 3), "method_ must be a string"),
    "alpha-negative": (_section("attributes", "alpha_", -1.0), "alpha_ must be a number >= 0"),
    "alphas-without-errors": (
        _section("attributes", "alphas_", [1.0, 2.0]), "alphas_ and cv_errors_ must both be"
    ),
    "history-dict": (_section("attributes", "history_", {}), "history_ must be a list"),
    "history-nested": (
        _section("attributes", "history_", [{"loss": [1]}]), "history_ must be a list"
    ),
    "y1d-int": (_section("attributes", "_y_1d", 1), "_y_1d must be true or false"),
    "out-activation-unknown": (
        _section("attributes", "out_activation_", "swish"), "out_activation_ is 'swish'"
    ),
    "out-activation-mismatch": (
        _section("attributes", "out_activation_", "tanh"),
        "out_activation_ is 'tanh', but the last layer's activation is 'identity'",
    ),
    "activation-unknown": (
        lambda m: _top(m, "activations", ["swish", "tanh", "identity"]),
        "layer 0 has activation 'swish'; valid activations are",
    ),
    "activation-not-str": (
        lambda m: _top(m, "activations", [None, "tanh", "identity"]),
        "layer 0 has activation None",
    ),
    "activations-empty": (lambda m: _top(m, "activations", []), "not a non-empty list"),
    "too-many-layers": (
        lambda m: _top(m, "activations", ["tanh", "tanh", "tanh", "identity"]),
        r"arrays do not match its metadata \(4 layers\): missing \['layer_3_bias'",
    ),
    "feature-names-claimed": (
        lambda m: _top(m, "has_feature_names", True), r"missing \['feature_names_in'\]"
    ),
}


@pytest.mark.parametrize("case", sorted(_BAD_METADATA))
def test_invalid_metadata_raises_model_format_error(case, saved, tmp_path):
    _, arrays = saved
    mutate, match = _BAD_METADATA[case]
    meta = _metadata(arrays)
    mutate(meta)
    bad = tmp_path / "bad.npz"
    _write_npz(bad, arrays, meta)
    _assert_bad_file(bad, match)


def _set(key, value):
    def mutate(arrays):
        arrays[key] = value(arrays[key]) if callable(value) else value

    return mutate


def _nan_at(index):
    def put(a):
        a = a.copy()
        a[index] = np.nan
        return a

    return put


_BAD_ARRAYS = {
    "nan-weight": (_set("layer_0_weight", _nan_at((1, 2))), "layer 0's weight contains NaN"),
    "inf-bias": (
        _set("layer_1_bias", lambda a: a + np.inf), "layer 1's bias contains NaN or infinity"
    ),
    "transposed-weight": (
        _set("layer_1_weight", lambda a: np.ascontiguousarray(a.T)),
        r"layer 1's weight has shape \(5, 6\), but layer 0's outputs is 6",
    ),
    "short-bias": (
        _set("layer_0_bias", lambda a: a[:-1]), r"layer 0's bias has shape \(5,\).*\(6,\)"
    ),
    "bias-2d": (_set("layer_0_bias", lambda a: a[None]), "layer 0's bias is not a 1-D array"),
    "weight-1d": (_set("layer_0_weight", lambda a: a.ravel()), "layer 0's weight is not a 2-D"),
    "int-weight": (
        _set("layer_0_weight", lambda a: a.astype(np.int64)), "dtype int64; float32 or float64"
    ),
    "float16-weight": (
        _set("layer_0_weight", lambda a: a.astype(np.float16)), "dtype float16; float32 or"
    ),
    "complex-weight": (
        _set("layer_0_weight", lambda a: a.astype(complex)), "dtype complex128; float32 or"
    ),
    "string-weight": (
        _set("layer_0_weight", lambda a: a.astype(str)), "dtype <U32; float32 or float64"
    ),
    "mixed-dtypes": (
        _set("layer_1_weight", lambda a: a.astype(np.float32)),
        "every layer must have the same dtype",
    ),
    "wider-input": (
        _set("layer_0_weight", lambda a: np.vstack([a, a])),
        r"layer 0's weight has shape \(8, 6\), but n_features_in_ is 4",
    ),
    "wider-output": (
        lambda arrays: arrays.update(
            layer_2_weight=np.hstack([arrays["layer_2_weight"]] * 2),
            layer_2_bias=np.hstack([arrays["layer_2_bias"]] * 2),
        ),
        "the last layer has 2 outputs, but n_outputs_ is 1",
    ),
    "missing-array": (lambda arrays: arrays.pop("layer_2_bias"), r"missing \['layer_2_bias'\]"),
    "extra-array": (_set("payload", np.ones(3)), r"unexpected \['payload'\]"),
    "classes-on-regressor": (_set("classes", np.arange(2)), r"unexpected \['classes'\]"),
}


@pytest.mark.parametrize("case", sorted(_BAD_ARRAYS))
def test_inconsistent_arrays_raise_model_format_error(case, saved, tmp_path):
    _, arrays = saved
    mutate, match = _BAD_ARRAYS[case]
    arrays = dict(arrays)
    mutate(arrays)
    bad = tmp_path / "bad.npz"
    _write_npz(bad, arrays)
    _assert_bad_file(bad, match)


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        (np.array(["ant", "bee"]), "there are 2 classes, but the network has 3 outputs"),
        (np.array([["ant", "bee", "cat"]]), r"classes must be a 1-D array.*shape \(1, 3\)"),
        (np.array(["2020-01-01"] * 3, dtype="datetime64[D]"), "classes must be a 1-D array"),
    ],
    ids=["count", "2-D", "datetime"],
)
def test_bad_classes_raise_model_format_error(classes, match, classifier, tmp_path):
    classifier.save(tmp_path / "good.npz")
    arrays = _read_npz(tmp_path / "good.npz")
    arrays["classes"] = classes
    bad = tmp_path / "bad.npz"
    _write_npz(bad, arrays)
    _assert_bad_file(bad, match)


def test_bad_feature_names_raise_model_format_error(saved, tmp_path):
    _, arrays = saved
    meta = _metadata(arrays)
    meta["has_feature_names"] = True
    bad = tmp_path / "bad.npz"
    for names in (np.arange(4), np.array(["a", "b"])):
        _write_npz(bad, {**arrays, "feature_names_in": names}, meta)
        _assert_bad_file(bad, "feature_names_in must be a 1-D unicode array of 4 names")


def test_member_without_npy_suffix_is_refused(saved, tmp_path):
    path, _ = saved
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("notes.txt", b"hello")
    _assert_bad_file(bad, "not uncompressed, uniquely named .npy arrays")


def test_member_that_is_not_an_array_is_refused(saved, tmp_path):
    path, _ = saved
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = b"just bytes" if info.filename == "layer_0_bias.npy" else src.read(info)
            dst.writestr(info, data)
    _assert_bad_file(bad, r"its 'layer_0_bias' entry is not a \.npy array")


# --------------------------------------------------------------------------------------------
# 5. pickle, joblib and clone
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=["regressor", "classifier"])
def fitted(request, regressor, classifier):
    return regressor if request.param == "regressor" else classifier


def test_pickle_round_trip(fitted, data):
    loaded = pickle.loads(pickle.dumps(fitted))
    assert_same_state(fitted, loaded)
    assert_same_predictions(fitted, loaded, data[1])


def test_joblib_round_trip(fitted, data, tmp_path):
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    # joblib pickles every array reference on its own, so coefs_ and network_ become copies.
    assert_same_state(fitted, loaded, shared_arrays=False)
    assert_same_predictions(fitted, loaded, data[1])


def test_pickle_of_a_loaded_model(fitted, data, tmp_path):
    fitted.save(tmp_path / "m.npz")
    loaded = pickle.loads(pickle.dumps(load(tmp_path / "m.npz")))
    assert_same_state(fitted, loaded)
    assert_same_predictions(fitted, loaded, data[1])


def test_clone_of_fitted_is_unfitted_with_same_params(fitted, data):
    copy = clone(fitted)
    assert type(copy) is type(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError, match="not fitted"):
        check_is_fitted(copy)
    with pytest.raises(NotFittedError, match="not fitted"):
        copy.predict(data[1])
    assert not any(name.endswith("_") and not name.startswith("__") for name in vars(copy))


# --------------------------------------------------------------------------------------------
# 6. Property: random small fitted models round-trip bit-identically
# --------------------------------------------------------------------------------------------

_HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]
_REGRESSION_OUT = ["identity", "tanh", "sigmoid", "leaky_relu"]


@st.composite
def fitted_models(draw):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n_features = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    X = rng.standard_normal((draw(st.integers(8, 25)), n_features)).astype(dtype)
    X_test = rng.standard_normal((7, n_features)).astype(dtype)
    common = dict(
        hidden_layer_sizes=tuple(draw(st.lists(st.integers(1, 6), max_size=2))),
        activation=draw(st.sampled_from(_HIDDEN)),
        alpha=draw(st.sampled_from([1e-3, 1.0])),
        max_iter=draw(st.integers(1, 3)),
        random_state=seed,
    )
    if draw(st.booleans()):
        n_outputs = draw(st.integers(0, 3))  # 0: a 1-D y
        y = np.tanh(rng.standard_normal((X.shape[0], max(n_outputs, 1)))) * 0.5
        est = BPLSRegressor(output_activation=draw(st.sampled_from(_REGRESSION_OUT)), **common)
        y = y[:, 0] if n_outputs == 0 else y
    else:
        n_classes = draw(st.integers(2, 4))
        y = np.arange(X.shape[0]) % n_classes
        rng.shuffle(y)
        if draw(st.booleans()):
            y = np.array(["x", "yy", "zzz", "w"])[y]
        est = BPLSClassifier(output_activation=draw(st.sampled_from(["sigmoid", "softmax"])),
                             **common)
    return _fit(est, X, y), X_test


@settings(max_examples=40, deadline=None)
@given(model=fitted_models())
def test_random_models_round_trip_bit_identically(model, tmp_path_factory):
    est, X_test = model
    path = tmp_path_factory.getbasetemp() / "hypothesis-model.npz"
    est.save(path)
    loaded = load(path)
    assert_same_state(est, loaded)
    assert_same_predictions(est, loaded, X_test)


def test_pipelines_round_trip_through_skops_with_lsqnet_types_trusted(tmp_path):
    """A fitted Pipeline(StandardScaler, BPLSClassifier), saved whole by skops.io (no pickle),
    loads with lsqnet.skops_trusted_types() and predicts the same; every lsqnet type an
    estimator holds is in that list, and nothing loads untrusted."""
    sio = pytest.importorskip("skops.io")
    from sklearn.datasets import load_digits
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    estimators = [
        BPLSClassifier(hidden_layer_sizes=(8,), random_state=0),
        BPLSClassifier(hidden_layer_sizes=(), random_state=0),  # keeps partial_fit statistics
        BPLSClassifier.from_preset("fast", image_shape=(8, 8), random_state=0),  # banded
        BPLSRegressor(hidden_layer_sizes=(4,), method="lm", random_state=0),
    ]
    trusted = lsqnet.skops_trusted_types()
    for est in estimators:
        target = y if isinstance(est, BPLSClassifier) else y.astype(float)
        pipe = make_pipeline(StandardScaler(), est).fit(X, target)
        path = tmp_path / "pipeline.skops"
        sio.dump(pipe, path)
        assert set(sio.get_untrusted_types(file=path)) <= set(trusted)
        with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
            sio.load(path)
        loaded = sio.load(path, trusted=trusted)
        np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
        if isinstance(est, BPLSClassifier):
            np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
