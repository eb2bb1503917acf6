"""The array API path: solvers and estimators on PyTorch tensors, against NumPy.

The same algorithm code runs on NumPy arrays and on tensors (:mod:`lsqnet._array_api`), so a
fit on tensors must give the NumPy fit's answer, to the rounding of the two libraries' BLAS
and LAPACK (float64: 1e-8 relative, the suite's ``tol``; float32: stated per test), as tensors
of the input's dtype and device, without copying anything to the host. Levenberg–Marquardt is
the exception: its steps run on a host copy of the data, so its fits equal the NumPy fits to
the last bits, with the fitted weights back on the input's device. Errors for mixed
libraries and devices use PyTorch's ``meta`` device, a second device that every machine has;
the CUDA tests run only where a GPU is.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from lsqnet import (
    BPLSClassifier,
    BPLSRegressor,
    GramStats,
    LSQClassifier,
    LSQRegressor,
    load,
    lstsq,
)
from lsqnet.solvers import solve_least_squares

torch = pytest.importorskip("torch")

TORCH = {np.float32: torch.float32, np.float64: torch.float64}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def as_tensor(a, dtype=None, device="cpu"):
    return torch.tensor(np.asarray(a), dtype=None if dtype is None else TORCH[dtype], device=device)


def rel_err(actual, expected) -> float:
    actual = actual.cpu().numpy() if isinstance(actual, torch.Tensor) else actual
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-300))


@contextlib.contextmanager
def no_host_copies():
    """Fail if a tensor is converted to a NumPy array (copied to the host) inside."""

    def refuse(*args, **kwargs):
        raise AssertionError("a tensor was copied to a NumPy array")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.Tensor, "__array__", refuse)
        patch.setattr(torch.Tensor, "numpy", refuse)
        yield


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


# -- solvers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr", "svd"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_lstsq_on_tensors_equals_numpy(rng, make_problem, tol, dtype, solver, weighted, alpha):
    problem = make_problem(60, 5, 3, rng=rng)
    A, B = problem.A.astype(dtype), problem.B.astype(dtype)
    w = rng.random(60).astype(dtype) + 0.1 if weighted else None
    expected = lstsq(A, B, solver=solver, alpha=alpha, sample_weight=w)
    tA, tB = as_tensor(A), as_tensor(B)
    tw = None if w is None else as_tensor(w)
    got = lstsq(tA, tB, solver=solver, alpha=alpha, sample_weight=tw)
    assert isinstance(got, torch.Tensor) and got.dtype == TORCH[dtype]
    assert rel_err(got, expected) < tol(dtype)
    assert_array_equal(tA.numpy(), A)  # inputs untouched


@pytest.mark.parametrize("solver", ["cholesky", "eigh"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gram_stats_on_tensors(rng, tol, solver, fit_intercept):
    A, B = rng.normal(size=(80, 6)) + 3.0, rng.normal(size=(80, 2))
    chunks = [(A[:30], B[:30]), (A[30:], B[30:])]
    stats = sum(
        (GramStats.from_data(as_tensor(a), as_tensor(b)) for a, b in chunks[1:]),
        GramStats.from_data(as_tensor(chunks[0][0]), as_tensor(chunks[0][1])),
    )
    assert isinstance(stats.AtA, torch.Tensor)
    got = stats.solve(0.1, fit_intercept=fit_intercept, solver=solver)
    expected = GramStats.from_data(A, B).solve(0.1, fit_intercept=fit_intercept, solver=solver)
    assert got.solver == expected.solver
    assert rel_err(got.coef, expected.coef) < tol(np.float64)
    assert rel_err(got.intercept, expected.intercept) < tol(np.float64) or not fit_intercept


def test_singular_gram_falls_back_on_tensors(rng):
    """Cholesky's rank decision and the eigh fallback work on tensors as on NumPy."""
    A = rng.normal(size=(40, 3))
    A = np.column_stack([A, A[:, 0]])  # a duplicate column: singular without a ridge
    B = rng.normal(size=(40, 1))
    from lsqnet.exceptions import SolverFallbackWarning

    with pytest.warns(SolverFallbackWarning):
        expected = solve_least_squares(A, B, solver="cholesky")
    with pytest.warns(SolverFallbackWarning):
        got = solve_least_squares(as_tensor(A), as_tensor(B), solver="cholesky")
    assert got.solver == expected.solver == "svd"
    assert rel_err(got.coef, expected.coef) < 1e-8


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 30), d=st.integers(1, 8), k=st.integers(1, 3),
    alpha=st.sampled_from([0.0, 1e-3, 1.0]), seed=st.integers(0, 2**16),
)
def test_lstsq_shapes_property(n, d, k, alpha, seed):
    """Any shape, over- or under-determined: the tensor answer is NumPy's (minimum norm)."""
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = lstsq(A, B, alpha=alpha)
        got = lstsq(as_tensor(A), as_tensor(B), alpha=alpha)
    assert got.shape == expected.shape
    assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-8)


# -- estimators -------------------------------------------------------------------------------

CONFIGS = [
    {},
    {"hidden_layer_sizes": (64,), "activation": "relu", "init": "samples", "max_iter": 0,
     "refit_output": True},
    {"hidden_layer_sizes": (64,), "activation": "relu", "init": "patches", "image_shape": (8, 8),
     "max_iter": 0,
     "refit_output": True},
    {"hidden_layer_sizes": (64,), "activation": "relu", "init": "contrasts", "image_shape": (8, 8),
     "max_iter": 0,
     "refit_output": True},
    {"iteration_rule": "misclassified", "max_iter": 3},
    {"solver": "svd", "max_iter": 2},
    {"layer_method": "weighted", "hidden_layer_sizes": (16,), "max_iter": 2},
    {"hidden_layer_sizes": ()},
    {"hidden_layer_sizes": (32, 16), "output_activation": "sigmoid"},
    {"hidden_layer_sizes": (64,), "activation": "relu", "init": "patches", "image_shape": (8, 8),
     "max_iter": 0,
     "refit_output": True, "output_activation": "softmax", "output_iter": 3},
    {"hidden_layer_sizes": (16,), "max_iter": 2, "output_iter": 2},
]


def _ids(params) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items()) or "defaults"


@pytest.mark.parametrize("params", CONFIGS, ids=_ids)
def test_classifier_on_tensors_equals_numpy(digits, params):
    X, y = digits
    ref = BPLSClassifier(random_state=0, **params).fit(X, y)
    tX, ty = as_tensor(X), as_tensor(y)
    with no_host_copies():
        clf = BPLSClassifier(random_state=0, **params).fit(tX, ty)
        proba, pred = clf.predict_proba(tX), clf.predict(tX)
        score = clf.score(tX, ty)
    assert isinstance(clf.classes_, torch.Tensor)
    assert all(isinstance(c, torch.Tensor) and c.dtype == torch.float64 for c in clf.coefs_)
    for mine, theirs in zip(clf.coefs_, ref.coefs_, strict=True):
        assert rel_err(mine, theirs) < 1e-8
    assert isinstance(proba, torch.Tensor)
    assert_allclose(proba.numpy(), ref.predict_proba(X), rtol=1e-8, atol=1e-10)
    assert pred.dtype == torch.int64 and pred.tolist() == ref.predict(X).tolist()
    assert score == pytest.approx(ref.score(X, y), abs=1e-12)
    assert (clf.n_iter_, clf.flops_, clf.solver_) == (ref.n_iter_, ref.flops_, ref.solver_)


def test_classifier_float32_tensors(digits):
    """float32 rounds differently in the two BLAS builds and BPLS sweeps amplify it: the
    predictions agree on all but a few samples and the accuracies within half a point."""
    X, y = digits
    ref = BPLSClassifier(random_state=0, dtype="float32").fit(X, y)
    clf = BPLSClassifier(random_state=0).fit(as_tensor(X, np.float32), as_tensor(y))
    assert clf.coefs_[0].dtype == torch.float32
    agree = np.mean(np.asarray(clf.predict(as_tensor(X, np.float32)).tolist()) == ref.predict(X))
    assert agree > 0.99
    assert abs(clf.score(as_tensor(X, np.float32), as_tensor(y)) - ref.score(X, y)) < 0.005


@pytest.mark.parametrize("y_dims", [1, 2])
def test_regressor_on_tensors_equals_numpy(rng, y_dims):
    X = rng.normal(size=(120, 4))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])
    y = Y[:, 0] if y_dims == 1 else Y
    w = rng.random(120)
    ref = BPLSRegressor(hidden_layer_sizes=(20,), random_state=0).fit(X, y)
    with no_host_copies():
        reg = BPLSRegressor(hidden_layer_sizes=(20,), random_state=0)
        pred = reg.fit(as_tensor(X), as_tensor(y)).predict(as_tensor(X))
    assert isinstance(pred, torch.Tensor) and tuple(pred.shape) == y.shape
    assert rel_err(pred, ref.predict(X)) < 1e-8
    for weights in (None, w):
        expected = ref.score(X, y, sample_weight=weights)
        tw = None if weights is None else as_tensor(weights)
        got = reg.score(as_tensor(X), as_tensor(y), sample_weight=tw)
        assert got == pytest.approx(expected, rel=1e-10)


def test_labels_as_floats_and_numpy_y(digits):
    """Whole-number float labels are classes; a NumPy y is copied to X's device."""
    X, y = digits
    a = BPLSClassifier(random_state=0, max_iter=1).fit(as_tensor(X), as_tensor(y, np.float64))
    b = BPLSClassifier(random_state=0, max_iter=1).fit(as_tensor(X), y)
    assert a.classes_.dtype == torch.float64 and b.classes_.dtype == torch.int64
    assert a.classes_.tolist() == b.classes_.tolist() == list(range(10))
    with pytest.raises(ValueError, match="continuous"):
        BPLSClassifier().fit(as_tensor(X), as_tensor(y + 0.5))


def test_save_and_load_a_tensor_model(digits, tmp_path):
    X, y = digits
    clf = BPLSClassifier(random_state=0, max_iter=2).fit(as_tensor(X), as_tensor(y))
    clf.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert isinstance(loaded.coefs_[0], np.ndarray)  # a NumPy model
    assert loaded.predict(X).tolist() == clf.predict(as_tensor(X)).tolist()


def test_to_torch_of_a_tensor_model(digits):
    X, y = digits
    clf = BPLSClassifier(random_state=0, max_iter=2).fit(as_tensor(X), as_tensor(y))
    module = clf.to_torch()
    with torch.no_grad():
        out = module(as_tensor(X))
    assert torch.equal(out.argmax(dim=1), clf.predict(as_tensor(X)))
    assert clf.coefs_[0].data_ptr() != module[0].weight.data_ptr()  # a copy


# -- Levenberg–Marquardt: steps on a host copy -----------------------------------------------


def lm_problem(rng, kind):
    """An estimator with ``method="lm"``, its data and its sample weights."""
    X = rng.normal(size=(90, 3))
    w = rng.random(90) + 0.5
    if kind == "regressor":
        y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])
        est = BPLSRegressor(hidden_layer_sizes=(6,), method="lm", max_iter=8, random_state=0)
    else:
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
        est = BPLSClassifier(hidden_layer_sizes=(6,), method="lm", max_iter=8, random_state=0,
                             output_activation=kind)
    return est, X, y, w


def assert_same_lm_fit(got, ref, rtol):
    """``got`` (fitted on tensors) is ``ref`` (fitted on NumPy arrays): weights, steps and
    operations."""
    assert got.method_ == ref.method_ == "lm"
    for mine, theirs in zip(got.coefs_ + got.intercepts_, ref.coefs_ + ref.intercepts_,
                            strict=True):
        assert isinstance(mine, torch.Tensor) and mine.dtype == TORCH[theirs.dtype.type]
        assert_allclose(mine.cpu().numpy(), theirs, rtol=rtol, atol=rtol)
    assert [h["trials"] for h in got.history_[1:]] == [h["trials"] for h in ref.history_[1:]]
    assert got.flops_ == ref.flops_ and got.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("kind", ["regressor", "softmax", "sigmoid"])
def test_lm_on_tensors_equals_numpy(rng, kind):
    est, X, y, w = lm_problem(rng, kind)
    ref = clone(est).fit(X, y, sample_weight=w)
    tX = as_tensor(X)
    est.fit(tX, as_tensor(y), sample_weight=as_tensor(w))
    assert_same_lm_fit(est, ref, 1e-10)
    if kind == "regressor":
        pred = est.predict(tX)
        assert isinstance(pred, torch.Tensor) and pred.dtype == torch.float64
        assert_allclose(pred.numpy(), ref.predict(X), rtol=1e-10, atol=1e-12)
        assert est.score(tX, as_tensor(y)) == pytest.approx(ref.score(X, y), rel=1e-10)
    else:
        proba, pred = est.predict_proba(tX), est.predict(tX)
        assert isinstance(proba, torch.Tensor) and isinstance(pred, torch.Tensor)
        assert_allclose(proba.numpy(), ref.predict_proba(X), rtol=1e-10, atol=1e-12)
        assert pred.tolist() == ref.predict(X).tolist()
        assert isinstance(est.classes_, torch.Tensor)


def test_lm_on_float32_tensors_keeps_float32(rng):
    """The host copy keeps X's dtype, so the float32 fits take the same steps as NumPy's."""
    est, X, y, _ = lm_problem(rng, "softmax")
    X = X.astype(np.float32)
    ref = clone(est).fit(X, y)
    est.fit(as_tensor(X), as_tensor(y))
    assert_same_lm_fit(est, ref, 1e-6)
    assert est.predict_proba(as_tensor(X)).dtype == torch.float32


@pytest.mark.parametrize("estimator", [LSQRegressor, LSQClassifier])
def test_recommended_estimators_choose_lm_on_tensors(rng, estimator):
    """method="auto" picks Levenberg–Marquardt on tensors as on NumPy arrays, after the
    penalty chosen on the device (alpha="auto"), and batch_size="auto" reads them at once."""
    X = rng.normal(size=(120, 4))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    y = (y > 0).astype(int) if estimator is LSQClassifier else y
    params = dict(hidden_layer_sizes=(5,), max_iter=10, random_state=0)
    ref = estimator(**params).fit(X, y)
    est = estimator(**params).fit(as_tensor(X), as_tensor(y))
    assert est.alpha_ == pytest.approx(ref.alpha_, rel=1e-10)
    assert_same_lm_fit(est, ref, 1e-7)


def test_lm_tensor_models_monitor_save_load_and_convert(rng, tmp_path):
    """The monitor sees tensor networks; save/load and to_torch work as after a BPLS fit."""
    est, X, y, _ = lm_problem(rng, "softmax")
    tX = as_tensor(X)
    seen = []
    est.fit(tX, as_tensor(y), monitor=lambda entry, net: seen.append(net.layers[0].weight))
    assert len(seen) == len(est.history_)
    assert all(isinstance(W, torch.Tensor) for W in seen)
    assert torch.equal(seen[-1], est.coefs_[0])  # the last step is the one kept
    est.save(tmp_path / "lm.npz")
    loaded = load(tmp_path / "lm.npz")
    assert isinstance(loaded.coefs_[0], np.ndarray)
    assert loaded.predict(X).tolist() == est.predict(tX).tolist()
    with torch.no_grad():
        out = est.to_torch()(tX)
    assert torch.equal(out.argmax(dim=1), est.predict(tX))


@needs_cuda
@pytest.mark.parametrize("kind", ["regressor", "softmax"])
def test_lm_on_cuda_returns_cuda_weights(rng, kind):
    est, X, y, w = lm_problem(rng, kind)
    ref = clone(est).fit(X, y, sample_weight=w)
    tX = as_tensor(X, device="cuda")
    est.fit(tX, as_tensor(y, device="cuda"), sample_weight=as_tensor(w, device="cuda"))
    assert all(c.device.type == "cuda" for c in est.coefs_ + est.intercepts_)
    assert_same_lm_fit(est, ref, 1e-10)
    out = est.predict(tX) if kind == "regressor" else est.predict_proba(tX)
    assert out.device.type == "cuda"
    expected = ref.predict(X) if kind == "regressor" else ref.predict_proba(X)
    assert_allclose(out.cpu().numpy(), expected, rtol=1e-8, atol=1e-10)


# -- bad input --------------------------------------------------------------------------------


def test_mixed_devices_raise_and_leave_the_model_unchanged(digits):
    X, y = digits
    clf = BPLSClassifier(random_state=0, max_iter=1).fit(as_tensor(X), as_tensor(y))
    before = [c.clone() for c in clf.coefs_]
    y_meta = torch.empty(len(y), dtype=torch.int64, device="meta")
    with pytest.raises(ValueError, match=r"invalid y: X is a torch Tensor on cpu and y is a "
                                         r"torch Tensor on meta"):
        clf.fit(as_tensor(X), y_meta)
    assert all(torch.equal(a, b) for a, b in zip(before, clf.coefs_, strict=True))
    with pytest.raises(ValueError, match="invalid X: y is a torch Tensor on cpu but X is a NumPy"):
        BPLSClassifier().fit(X, as_tensor(y))
    with pytest.raises(ValueError, match="fitted on a torch Tensor on cpu, and X is a NumPy"):
        clf.predict(X)
    with pytest.raises(ValueError, match="Pass X as a tensor on cpu"):
        clf.predict(torch.empty(3, 64, dtype=torch.float64, device="meta"))
    with pytest.raises(ValueError, match="expecting 64 features"):
        clf.predict(as_tensor(X[:, :10]))


def test_tensor_input_errors(digits):
    X, y = digits
    tX = as_tensor(X)
    with pytest.raises(ValueError, match="batch_size reads NumPy arrays"):
        BPLSClassifier(batch_size=100).fit(tX, as_tensor(y))
    bad = tX.clone()
    bad[3, 5] = float("nan")
    with pytest.raises(ValueError, match="invalid X: Input X contains NaN"):
        BPLSClassifier().fit(bad, as_tensor(y))
    with pytest.raises(ValueError, match="invalid X: Input X must be a 2-D array"):
        BPLSClassifier().fit(tX[:, 0], as_tensor(y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BPLSClassifier().fit(tX, as_tensor(y[:-1]))
    with pytest.raises(ValueError, match="y should be a 1d array"):
        BPLSClassifier().fit(tX, as_tensor(np.column_stack([y, y])))
    with pytest.raises(TypeError, match="must hold real numbers"):
        BPLSRegressor().fit(torch.ones(5, 2, dtype=torch.complex64), torch.ones(5))
    with pytest.raises(ValueError, match="invalid y: it cannot be an array of X's library"):
        BPLSClassifier().fit(tX, np.array(["a", "b"] * 300))


# -- GPU --------------------------------------------------------------------------------------


@needs_cuda
def test_fit_on_cuda_stays_on_cuda(digits):
    X, y = digits
    tX, ty = as_tensor(X, device="cuda"), as_tensor(y, device="cuda")
    with no_host_copies():
        clf = BPLSClassifier(random_state=0).fit(tX, ty)
    assert all(c.device.type == "cuda" for c in clf.coefs_) and clf.classes_.device.type == "cuda"
    assert clf.predict(tX).device.type == "cuda"
    ref = BPLSClassifier(random_state=0).fit(X, y)
    assert clf.score(tX, ty) == pytest.approx(ref.score(X, y), abs=0.01)


def test_functions_refuse_mixed_libraries(rng):
    """lstsq, like fit_layer, copies nothing between libraries or devices."""
    A, B = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="lstsq: A is a torch Tensor on cpu and B is a NumPy"):
        lstsq(as_tensor(A), B)
    meta = torch.empty(10, device="meta", dtype=torch.float64)
    with pytest.raises(ValueError, match="sample_weight is a torch Tensor on meta"):
        lstsq(as_tensor(A), as_tensor(B), sample_weight=meta)


def test_float32_statistics_recomputed_around_the_means_on_tensors():
    """Large column means make the plain float32 statistics fail the Cholesky check; the
    tensor fit recomputes them around the means on the device, as the NumPy fit does."""
    from lsqnet.exceptions import SolverFallbackWarning

    rng = np.random.default_rng(0)
    X = (300.0 + rng.random((20000, 30))).astype(np.float32)
    y = ((X.astype(np.float64) - 300.5) @ rng.standard_normal(30)).astype(np.float32)
    params = dict(hidden_layer_sizes=(), output_activation="identity", alpha=1.0, max_iter=1,
                  dtype="float32")
    with pytest.warns(SolverFallbackWarning, match="columns' means"):
        ref = BPLSRegressor(**params).fit(X, y)
    with no_host_copies(), pytest.warns(SolverFallbackWarning, match="columns' means"):
        est = BPLSRegressor(**params).fit(as_tensor(X), as_tensor(y))
    assert est.solver_ == ref.solver_ == "cholesky"
    assert rel_err(est.coefs_[0], ref.coefs_[0]) < 1e-4
