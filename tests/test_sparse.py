"""SciPy sparse inputs: fits, predictions and scores on a sparse X equal those on X.toarray().

Only the first layer's products touch X, and a sparse X enters them through its stored values;
the rest of every algorithm is the dense one. The results therefore differ from the dense
fit's by the rounding of the products' different summation orders only, amplified by the
conditioning of the small, well-conditioned problems built here: 1e-10 relative in float64 is
a wide margin above that (observed: below 1e-13) and far below any algorithmic difference.
"""

from __future__ import annotations

import os
import tempfile
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from lsqnet import BPLSClassifier, BPLSRegressor, load
from lsqnet._validation import check_array
from lsqnet.layers import fit_layer

RTOL = 1e-10

FORMATS = {
    "csr_matrix": sp.csr_matrix,
    "csc_matrix": sp.csc_matrix,
    "csr_array": sp.csr_array,
}


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(np.float64).tiny))


def _data(n=240, d=15, density=0.25, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = rng.normal(size=X.nnz)
    dense = X.toarray()
    y = np.tanh(dense @ rng.normal(size=d)) + 0.05 * rng.normal(size=n)
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return X, dense, y, labels


def _assert_same_fit(sparse_est, dense_est):
    assert len(sparse_est.coefs_) == len(dense_est.coefs_)
    for ws, wd in zip(sparse_est.coefs_ + sparse_est.intercepts_,
                      dense_est.coefs_ + dense_est.intercepts_, strict=True):
        assert _relative(ws, wd) < RTOL
    # The operations are recorded as the dense products', so the counts agree wherever the
    # two fits took the same steps; the safeguard's trials compare objectives that may tie to
    # rounding (a repeated solve of the same layer), and may then differ by one evaluation.
    steps = [(entry.get("trials"), entry.get("accepted")) for entry in sparse_est.history_]
    if steps == [(entry.get("trials"), entry.get("accepted")) for entry in dense_est.history_]:
        assert sparse_est.flops_ == dense_est.flops_


ESTIMATORS = {
    "bpls single layer": BPLSRegressor(hidden_layer_sizes=()),
    "bpls hidden": BPLSRegressor(hidden_layer_sizes=(8,)),
    "bpls two hidden relu": BPLSRegressor(hidden_layer_sizes=(8, 6), activation="relu"),
    "bpls weighted": BPLSRegressor(hidden_layer_sizes=(6,), layer_method="weighted"),
    "bpls samples init": BPLSRegressor(hidden_layer_sizes=(8,), init="samples"),
    "lm": BPLSRegressor(hidden_layer_sizes=(5,), method="lm", max_iter=8),
    "classifier bpls": BPLSClassifier(hidden_layer_sizes=(8,)),
    "classifier single layer": BPLSClassifier(hidden_layer_sizes=()),
    "classifier cross-entropy": BPLSClassifier(
        hidden_layer_sizes=(), output_activation="softmax", output_iter=4
    ),
    "classifier hidden cross-entropy": BPLSClassifier(
        hidden_layer_sizes=(6,), output_activation="softmax", output_iter=3
    ),
    "classifier lm": BPLSClassifier(hidden_layer_sizes=(4,), method="lm", max_iter=5),
    "classifier kfac": BPLSClassifier(hidden_layer_sizes=(8,), method="kfac", max_iter=4),
    "classifier early stopping": BPLSClassifier(hidden_layer_sizes=(8,), early_stopping=True),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_sparse_fit_equals_dense_fit(name, fmt):
    X, dense, y, labels = _data()
    est = ESTIMATORS[name].set_params(random_state=0)
    target = labels if isinstance(est, BPLSClassifier) else y
    Xs = FORMATS[fmt](X)
    dense_fit = est.__class__(**est.get_params()).fit(dense, target)
    sparse_fit = est.__class__(**est.get_params()).fit(Xs, target)
    _assert_same_fit(sparse_fit, dense_fit)
    assert sparse_fit.method_ == dense_fit.method_
    assert _relative(sparse_fit.predict(Xs), dense_fit.predict(dense)) < RTOL or (
        isinstance(est, BPLSClassifier)
        and np.array_equal(sparse_fit.predict(Xs), dense_fit.predict(dense))
    )
    # a model fitted on either input predicts the same from the other
    assert np.array_equal(sparse_fit.predict(dense), sparse_fit.predict(Xs)) or _relative(
        sparse_fit.predict(dense), sparse_fit.predict(Xs)
    ) < RTOL
    assert abs(sparse_fit.score(Xs, target) - dense_fit.score(dense, target)) < RTOL
    if isinstance(est, BPLSClassifier):
        assert _relative(sparse_fit.predict_proba(Xs), dense_fit.predict_proba(dense)) < RTOL
        assert np.array_equal(sparse_fit.predict(Xs), dense_fit.predict(dense))


@pytest.mark.parametrize("hidden", [(), (6,)])
def test_batch_size_on_sparse_rows_equals_dense(hidden):
    X, dense, y, _ = _data(n=230)
    params = dict(hidden_layer_sizes=hidden, batch_size=50, random_state=0)
    sparse_fit = BPLSRegressor(**params).fit(X, y)
    dense_fit = BPLSRegressor(**params).fit(dense, y)
    _assert_same_fit(sparse_fit, dense_fit)
    assert _relative(sparse_fit.predict(X), dense_fit.predict(dense)) < RTOL


def test_batch_size_lm_on_sparse_rows_equals_dense():
    X, dense, y, _ = _data(n=200)
    params = dict(hidden_layer_sizes=(4,), method="lm", max_iter=4, batch_size=64, random_state=0)
    _assert_same_fit(BPLSRegressor(**params).fit(X, y), BPLSRegressor(**params).fit(dense, y))


def test_batch_size_samples_init_reads_sparse_rows():
    X, dense, y, _ = _data(n=200)
    params = dict(hidden_layer_sizes=(6,), init="samples", batch_size=40, random_state=0)
    _assert_same_fit(BPLSRegressor(**params).fit(X, y), BPLSRegressor(**params).fit(dense, y))


def test_partial_fit_on_sparse_chunks_equals_dense_fit():
    X, dense, y, labels = _data()
    reg = BPLSRegressor(hidden_layer_sizes=(), random_state=0)
    reg.partial_fit(X[:100], y[:100]).partial_fit(X[100:].tocsc(), y[100:])
    whole = BPLSRegressor(hidden_layer_sizes=(), random_state=0).fit(dense, y)
    assert _relative(reg.coefs_[0], whole.coefs_[0]) < RTOL
    assert _relative(reg.predict(X), whole.predict(dense)) < RTOL
    clf = BPLSClassifier(hidden_layer_sizes=(), random_state=0)
    clf.partial_fit(X[:120], labels[:120], classes=[0, 1, 2]).partial_fit(X[120:], labels[120:])
    whole = BPLSClassifier(hidden_layer_sizes=(), random_state=0).fit(dense, labels)
    assert _relative(clf.predict_proba(X), whole.predict_proba(dense)) < RTOL


def test_multilabel_on_sparse_equals_dense():
    X, dense, y, labels = _data()
    Y = np.c_[labels == 0, labels == 2].astype(int)
    sparse_fit = BPLSClassifier(hidden_layer_sizes=(6,), random_state=0).fit(X, Y)
    dense_fit = BPLSClassifier(hidden_layer_sizes=(6,), random_state=0).fit(dense, Y)
    _assert_same_fit(sparse_fit, dense_fit)
    assert np.array_equal(sparse_fit.predict(X), dense_fit.predict(dense))


@pytest.mark.parametrize("convert", ["tocoo", "tolil", "todok"])
def test_other_sparse_formats_are_converted(convert):
    X, dense, y, _ = _data()
    other = getattr(X, convert)()
    fit = BPLSRegressor(hidden_layer_sizes=(6,), random_state=0).fit(other, y)
    ref = BPLSRegressor(hidden_layer_sizes=(6,), random_state=0).fit(dense, y)
    _assert_same_fit(fit, ref)
    assert _relative(fit.predict(other), ref.predict(dense)) < RTOL


def test_float32_sparse_keeps_float32():
    X, dense, y, _ = _data()
    fit = BPLSRegressor(hidden_layer_sizes=(6,), random_state=0).fit(X.astype(np.float32), y)
    ref = BPLSRegressor(hidden_layer_sizes=(6,), random_state=0).fit(dense.astype(np.float32), y)
    assert fit.coefs_[0].dtype == np.float32
    # float32 rounding of different summation orders, through a few sweeps
    assert _relative(fit.predict(X), ref.predict(dense)) < 1e-3


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_sparse_values_give_the_dense_message(value):
    X, dense, y, _ = _data()
    X = X.copy()
    X.data[3] = value
    dense = X.toarray()
    with pytest.raises(ValueError) as dense_err:
        BPLSRegressor().fit(dense, y)
    with pytest.raises(ValueError) as sparse_err:
        BPLSRegressor().fit(X, y)
    assert str(sparse_err.value) == str(dense_err.value)
    fitted = BPLSRegressor(hidden_layer_sizes=(), random_state=0).fit(_data()[0], y)
    with pytest.raises(ValueError, match="invalid X"):
        fitted.predict(X)


@pytest.mark.parametrize("solver", ["qr", "svd"])
def test_solvers_that_factorise_x_refuse_sparse_with_advice(solver):
    X, _, y, _ = _data()
    advice = rf"solver='{solver}'.*sparse.*solver='auto' or 'cholesky'"
    with pytest.raises(ValueError, match=advice):
        BPLSRegressor(solver=solver).fit(X, y)
    # the advice works
    BPLSRegressor(solver="cholesky", random_state=0).fit(X, y)


def test_sparse_x_with_tensor_y_is_refused():
    torch = pytest.importorskip("torch")
    X, _, y, _ = _data()
    with pytest.raises(ValueError, match="y is a torch Tensor"):
        BPLSRegressor(hidden_layer_sizes=()).fit(X, torch.tensor(y))


def test_model_fitted_on_sparse_saves_and_loads():
    X, _, _, labels = _data()
    clf = BPLSClassifier(hidden_layer_sizes=(6,), random_state=0).fit(X, labels)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        clf.save(path)
        loaded = load(path)
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.n_features_in_ == X.shape[1]


def test_large_sparse_x_is_never_made_dense():
    # 100000 x 1000 float64 is 800 MB dense; its 50000 stored values take under 1 MB. A fit
    # with a hidden layer and data-dependent units, then predict, stay far below the dense
    # size: a few d x d matrices (the first layer's Gram matrix and its factor, 8 MB each)
    # and n x h arrays (3.2 MB each) dominate.
    rng = np.random.default_rng(1)
    n, d = 100_000, 1_000
    nnz = n // 2
    X = sp.csr_matrix(
        (rng.normal(size=nnz), (rng.integers(n, size=nnz), rng.integers(d, size=nnz))),
        shape=(n, d),
    )
    y = np.asarray(X.sum(axis=1)).ravel() + 0.1 * rng.normal(size=n)
    dense_bytes = n * d * 8
    tracemalloc.start()
    try:
        reg = BPLSRegressor(
            hidden_layer_sizes=(4,), init="samples", max_iter=2, random_state=0
        ).fit(X, y)
        pred = reg.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pred.shape == (n,)
    assert peak < dense_bytes / 10, f"peak {peak / 2**20:.0f} MiB"


@given(
    n=st.integers(8, 60), d=st.integers(1, 12), density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16), fmt=st.sampled_from(list(FORMATS)),
)
def test_single_layer_on_random_sparsity_equals_dense(n, d, density, seed, fmt):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed)
    X.data = rng.normal(size=X.nnz)
    dense = X.toarray()
    y = rng.normal(size=(n, 2))
    # alpha=1 keeps the problem well conditioned whatever the pattern (empty columns included)
    sparse_fit = BPLSRegressor(hidden_layer_sizes=(), alpha=1.0).fit(FORMATS[fmt](X), y)
    dense_fit = BPLSRegressor(hidden_layer_sizes=(), alpha=1.0).fit(dense, y)
    assert _relative(sparse_fit.coefs_[0], dense_fit.coefs_[0]) < RTOL or np.allclose(
        sparse_fit.coefs_[0], dense_fit.coefs_[0], rtol=0, atol=RTOL
    )
    assert np.allclose(sparse_fit.predict(X), dense_fit.predict(dense), rtol=RTOL, atol=RTOL)


def test_fit_layer_and_forward_take_sparse():
    X, dense, y, _ = _data()
    layer = fit_layer(X, y, activation="tanh", alpha=0.1)
    ref = fit_layer(dense, y, activation="tanh", alpha=0.1)
    assert _relative(layer.weight, ref.weight) < RTOL
    assert _relative(layer.forward(X), ref.forward(dense)) < RTOL
    with pytest.raises(ValueError, match="solver='qr'.*sparse"):
        fit_layer(X, y, solver="qr")


def test_check_array_sparse():
    X, _, _, _ = _data()
    with pytest.raises(TypeError, match="sparse CSR matrix, which is not supported here"):
        check_array(X, "X")
    assert check_array(X.tocoo(), "X", accept_sparse=True).format == "csr"
    assert check_array(X.tocsc(), "X", accept_sparse=True).format == "csc"
    converted = check_array(X.astype(np.int64), "X", accept_sparse=True)
    assert converted.dtype == np.float64 and sp.issparse(converted)
    with pytest.raises(ValueError, match="must be a 1-D array"):
        check_array(X, "X", ndim=1, accept_sparse=True)
