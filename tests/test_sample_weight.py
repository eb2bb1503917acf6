"""``sample_weight`` in the estimators' fits, on every path and for every training method.

The invariants (scikit-learn's conventions for sample weights):

- an integer weight equals repeating the row (inits that do not read rows; K-FAC when each
  step is one mini-batch of all rows);
- a zero weight equals dropping the row (every init: data-dependent ones draw among the rows
  of positive weight);
- ``sample_weight=None`` equals weights of 1;
- a single layer solves scikit-learn's weighted ``Ridge``;
- the paths agree: in memory, ``batch_size``, ``fit_chunks``, ``partial_fit``, Dask, tensors;
- bad weights are refused with a message naming ``sample_weight``.

Tolerances: the data are built with condition number 10 (``make_problem``) and compared
with ``tol(dtype)`` relative to the largest entry, the suite's dtype-aware tolerance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from conftest import make_problem, tol
from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet._validation import check_random_state
from lsqnet.exceptions import SolverFallbackWarning

N, D = 36, 4

#: Regression methods and their settings (small networks, a few steps).
REGRESSION = {
    "bpls": dict(hidden_layer_sizes=(6,), max_iter=3),
    "bpls-refit": dict(hidden_layer_sizes=(6,), max_iter=2, refit_output=True),
    "bpls-unguarded": dict(hidden_layer_sizes=(6,), max_iter=3, safeguard=False),
    "bpls-weighted-layers": dict(hidden_layer_sizes=(6,), max_iter=2, layer_method="weighted"),
    "bpls-svd": dict(hidden_layer_sizes=(6,), max_iter=2, solver="svd"),
    "bpls-two-hidden": dict(hidden_layer_sizes=(5, 4), max_iter=2),
    "lm": dict(hidden_layer_sizes=(3,), method="lm", max_iter=8),
    # one mini-batch of all rows a step, where integer weights are repeated rows exactly
    "kfac": dict(hidden_layer_sizes=(6,), method="kfac", max_iter=2,
                 method_options={"batch_size": 10_000}),
}

#: Classification methods: BPLS (sigmoid outputs), the paper's settings (every sweep kept,
#: later sweeps on the misclassified rows), the cross-entropy steps of softmax outputs,
#: Levenberg–Marquardt and K-FAC.
CLASSIFICATION = {
    "bpls": dict(hidden_layer_sizes=(6,), max_iter=3),
    "bpls-paper": dict(
        hidden_layer_sizes=(6,), max_iter=3, safeguard=False, iteration_rule="misclassified",
        hidden_target="min_norm",
    ),
    "cross-entropy": dict(
        hidden_layer_sizes=(6,), max_iter=1, refit_output=True, output_activation="softmax",
        output_iter=3,
    ),
    "lm": dict(hidden_layer_sizes=(3,), method="lm", max_iter=8),
    "kfac": dict(hidden_layer_sizes=(6,), method="kfac", max_iter=2, output_iter=3,
                 method_options={"batch_size": 10_000}),
}

#: The methods a fit from chunks runs.
STREAMED = ("bpls", "bpls-refit", "bpls-unguarded", "bpls-two-hidden", "lm", "kfac")
STREAMED_CLASSIFICATION = ("bpls", "bpls-paper", "cross-entropy", "lm", "kfac")


def _data(task: str, n: int = N, seed: int = 0, dtype=np.float64):
    """``X`` (condition number 10) and targets: a smooth function, or three classes."""
    rng = np.random.default_rng(seed)
    X = make_problem(n, D, 1, rng=rng).A
    direction = rng.standard_normal((D, 3))
    if task == "regression":
        y = np.tanh(X @ direction[:, 0] * 3) + 0.1 * rng.standard_normal(n)
    else:
        y = np.argmax(X @ direction + 0.3 * rng.standard_normal((n, 3)), axis=1)
    return X.astype(dtype), y


def _weights(n: int, seed: int = 1, high: int = 3) -> np.ndarray:
    """Integer weights in [0, high], some of each, as floats."""
    w = np.random.default_rng(seed).integers(0, high + 1, size=n).astype(np.float64)
    w[:4] = [0, 1, 2, high]
    return w


def _estimator(task: str, params: dict, **extra):
    cls = BPLSRegressor if task == "regression" else BPLSClassifier
    return cls(**{"random_state": 0, "init": "uniform", **params, **extra})


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():  # the unpenalised paper settings may fall back to eigh
        warnings.simplefilter("ignore", SolverFallbackWarning)
        return model.fit(*args, **kwargs)


def _assert_same_fit(a, b, rtol: float) -> None:
    """The same network (weights and biases, to ``rtol`` of each array's largest entry),
    the same number of steps and the same recorded losses."""
    assert a.n_iter_ == b.n_iter_
    for p, q in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_], strict=True):
        p, q = np.asarray(p), np.asarray(q)
        np.testing.assert_allclose(p, q, rtol=rtol, atol=rtol * max(np.abs(q).max(), 1.0))
    np.testing.assert_allclose(
        [e["loss"] for e in a.history_], [e["loss"] for e in b.history_], rtol=rtol
    )


def _params(task):
    table = REGRESSION if task == "regression" else CLASSIFICATION
    return [pytest.param(task, name, id=f"{task}-{name}") for name in table]


ALL_METHODS = _params("regression") + _params("classification")


def _table(task):
    return REGRESSION if task == "regression" else CLASSIFICATION


# -- integer weights, zero weights, None -------------------------------------------------


@pytest.mark.parametrize(("task", "name"), ALL_METHODS)
def test_integer_weights_equal_repeated_rows(task, name):
    X, y = _data(task)
    w = _weights(N)
    repeat = w.astype(int)
    weighted = _fit(_estimator(task, _table(task)[name]), X, y, sample_weight=w)
    repeated = _fit(_estimator(task, _table(task)[name]), np.repeat(X, repeat, axis=0),
                    np.repeat(y, repeat))
    _assert_same_fit(weighted, repeated, tol(np.float64))
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=tol(np.float64))


@pytest.mark.parametrize(("task", "name"), ALL_METHODS)
@pytest.mark.parametrize("init", ["uniform", "samples"])
def test_zero_weights_equal_rows_dropped(task, name, init):
    X, y = _data(task)
    rng = np.random.default_rng(2)
    w = rng.uniform(0.5, 2.0, N)
    w[rng.permutation(N)[: N // 3]] = 0.0
    keep = w > 0
    params = {**_table(task)[name], "init": init}
    weighted = _fit(_estimator(task, params), X, y, sample_weight=w)
    dropped = _fit(_estimator(task, params), X[keep], y[keep], sample_weight=w[keep])
    _assert_same_fit(weighted, dropped, tol(np.float64))


@pytest.mark.parametrize(("task", "name"), ALL_METHODS)
def test_no_weights_equal_unit_weights(task, name):
    X, y = _data(task)
    plain = _fit(_estimator(task, _table(task)[name]), X, y)
    ones = _fit(_estimator(task, _table(task)[name]), X, y, sample_weight=np.ones(N))
    _assert_same_fit(plain, ones, tol(np.float64))
    # a number is that weight for every row (as repeating every row: not the unweighted fit,
    # whose ridge term weighs more against the data)
    number = _fit(_estimator(task, _table(task)[name]), X, y, sample_weight=2.0)
    twos = _fit(_estimator(task, _table(task)[name]), X, y, sample_weight=np.full(N, 2.0))
    _assert_same_fit(number, twos, 0.0)


def test_no_weights_change_nothing_bit_for_bit():
    """``sample_weight=None`` is the unweighted fit itself: same bits on every path."""
    X, y = _data("classification")
    params = dict(hidden_layer_sizes=(6,), max_iter=3, output_activation="softmax",
                  refit_output=True, output_iter=2)
    a = _estimator("classification", params).fit(X, y)
    b = _estimator("classification", params).fit(X, y, sample_weight=None)
    for p, q in zip(a.coefs_, b.coefs_, strict=True):
        assert np.array_equal(p, q)
    assert a.history_[-1]["loss"] == b.history_[-1]["loss"]


@pytest.mark.parametrize("preset", ["paper", "instant", "fast"])
def test_presets_weight_their_fits(preset):
    X, y = _data("classification")
    small = dict(random_state=0, hidden_layer_sizes=(12,))
    w = _weights(N)
    repeat = w.astype(int)
    for cls in (BPLSClassifier, BPLSRegressor):
        target = y if cls is BPLSClassifier else (y - 1.0) / 2
        weighted = _fit(cls.from_preset(preset, init="uniform", **small), X, target,
                        sample_weight=w)
        repeated = _fit(cls.from_preset(preset, init="uniform", **small),
                        np.repeat(X, repeat, axis=0), np.repeat(target, repeat))
        _assert_same_fit(weighted, repeated, tol(np.float64))
        # the presets' own init draws rows: among those of positive weight only
        keep = w > 0
        weighted = _fit(cls.from_preset(preset, **small), X, target, sample_weight=w)
        dropped = _fit(cls.from_preset(preset, **small), X[keep], target[keep],
                       sample_weight=w[keep])
        _assert_same_fit(weighted, dropped, tol(np.float64))


# -- the objective and the recorded losses -----------------------------------------------


def test_history_and_loss_curve_are_weighted_means():
    X, y = _data("regression")
    w = np.random.default_rng(3).uniform(0.0, 3.0, N)
    alpha = 0.5
    model = _fit(_estimator("regression", REGRESSION["bpls"], alpha=alpha), X, y,
                 sample_weight=w)
    out = model.network_.forward(X)[:, 0]
    squared = w @ (out - y) ** 2
    assert model.history_[-1]["loss"] == pytest.approx(squared / w.sum(), rel=1e-12)
    assert model.loss_ == pytest.approx(squared / w.sum(), rel=1e-12)
    penalty = sum(float(np.sum(W * W)) for W in model.coefs_)
    objective = (0.5 * squared + 0.5 * alpha * penalty) / w.sum()
    assert model.loss_curve_[-1] == pytest.approx(objective, rel=1e-12)


def test_classifier_history_records_weighted_accuracy_and_cross_entropy():
    X, y = _data("classification")
    w = np.random.default_rng(4).uniform(0.0, 3.0, N)
    alpha = 0.3
    # the cross-entropy steps record weighted loss and accuracy
    model = _fit(_estimator("classification", CLASSIFICATION["cross-entropy"], alpha=alpha),
                 X, y, sample_weight=w)
    P = model.network_.forward(X)
    Y = np.eye(3)[y]
    hit = np.argmax(P, axis=1) == y
    assert model.history_[-1]["accuracy"] == pytest.approx(w @ hit / w.sum(), rel=1e-12)
    squared = w @ np.sum((P - Y) ** 2, axis=1) / (3 * w.sum())
    assert model.history_[-1]["loss"] == pytest.approx(squared, rel=1e-12)
    # the safeguarded steps' objective: the weighted cross-entropy of the softmax outputs
    # plus alpha / 2 |W|^2, over the total weight
    params = dict(CLASSIFICATION["cross-entropy"], output_iter=0)
    model = _fit(_estimator("classification", params, alpha=alpha), X, y, sample_weight=w)
    P = model.network_.forward(X)
    ce = -np.log(P[np.arange(N), y])
    penalty = sum(float(np.sum(W * W)) for W in model.coefs_)
    assert model.loss_curve_[-1] == pytest.approx(
        (w @ ce + 0.5 * alpha * penalty) / w.sum(), rel=1e-10
    )


def test_lm_objective_is_the_weighted_one():
    X, y = _data("classification")
    w = np.random.default_rng(5).uniform(0.0, 3.0, N)
    alpha = 0.2
    model = _fit(_estimator("classification", CLASSIFICATION["lm"], alpha=alpha), X, y,
                 sample_weight=w)
    P = model.network_.forward(X)
    Y = np.eye(3)[y]
    ce = -np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P), axis=1)  # sigmoid outputs
    penalty = sum(float(np.sum(W * W)) for W in model.coefs_)
    assert model.loss_curve_[-1] == pytest.approx(
        (w @ ce + 0.5 * alpha * penalty) / w.sum(), rel=1e-10
    )


# -- a single layer is scikit-learn's weighted Ridge -------------------------------------


def _ridge_problem():
    X, y = _data("regression", n=60)
    w = np.random.default_rng(6).uniform(0.0, 4.0, 60)
    w[:5] = 0.0
    return X, y, w


def _assert_ridge(model, reference, rtol):
    coef = np.asarray(model.coefs_[0])[:, 0]
    np.testing.assert_allclose(coef, reference.coef_, rtol=rtol,
                               atol=rtol * np.abs(reference.coef_).max())
    assert float(np.asarray(model.intercepts_[0])[0]) == pytest.approx(
        reference.intercept_, rel=rtol, abs=rtol * np.abs(reference.coef_).max()
    )


@pytest.mark.parametrize("alpha", [0.0, 0.1, 10.0])
@pytest.mark.parametrize("path", ["memory", "batch_size", "chunks", "partial_fit", "dask", "lm"])
def test_single_layer_is_weighted_ridge(alpha, path):
    X, y, w = _ridge_problem()
    reference = Ridge(alpha=alpha).fit(X, y, sample_weight=w)
    params = dict(hidden_layer_sizes=(), alpha=alpha, random_state=0)
    if path == "memory":
        model = BPLSRegressor(**params).fit(X, y, sample_weight=w)
    elif path == "batch_size":
        model = BPLSRegressor(**params, batch_size=7).fit(X, y, sample_weight=w)
    elif path == "chunks":
        parts = np.array_split(np.arange(60), 4)
        model = BPLSRegressor(**params).fit_chunks([(X[r], y[r], w[r]) for r in parts])
    elif path == "partial_fit":
        model = BPLSRegressor(**params)
        for rows in np.array_split(np.arange(60), 3):
            model.partial_fit(X[rows], y[rows], sample_weight=w[rows])
    elif path == "dask":
        da = pytest.importorskip("dask.array")
        model = BPLSRegressor(**params).fit(
            da.from_array(X, chunks=(16, D)), da.from_array(y, chunks=16),
            sample_weight=da.from_array(w, chunks=16),
        )
    else:  # Levenberg-Marquardt minimises the same objective: its minimum is Ridge's
        model = BPLSRegressor(**params, method="lm", max_iter=5).fit(X, y, sample_weight=w)
    _assert_ridge(model, reference, tol(np.float64))


def test_single_layer_float32_is_weighted_ridge():
    X, y, w = _ridge_problem()
    reference = Ridge(alpha=1.0).fit(X, y, sample_weight=w)
    model = BPLSRegressor(hidden_layer_sizes=(), alpha=1.0, dtype="float32").fit(
        X.astype(np.float32), y, sample_weight=w
    )
    _assert_ridge(model, reference, tol(np.float32))


# -- the paths agree -----------------------------------------------------------------------


def _paths(task, params, X, y, w, *, dask=True):
    """The weighted fit on each path (in memory first)."""
    fits = {"memory": _fit(_estimator(task, params), X, y, sample_weight=w)}
    fits["batch_size"] = _fit(_estimator(task, params, batch_size=10), X, y, sample_weight=w)
    rows = np.array_split(np.arange(X.shape[0]), 3)
    fits["chunks"] = _estimator(task, params).fit_chunks([(X[r], y[r], w[r]) for r in rows])
    if dask:
        da = pytest.importorskip("dask.array")
        fits["dask"] = _fit(
            _estimator(task, params), da.from_array(X, chunks=(12, D)),
            da.from_array(y, chunks=12), sample_weight=da.from_array(w, chunks=12),
        )
    return fits


@pytest.mark.parametrize(
    ("task", "name"),
    [pytest.param("regression", m, id=f"regression-{m}") for m in STREAMED]
    + [pytest.param("classification", m, id=f"classification-{m}")
       for m in STREAMED_CLASSIFICATION],
)
def test_chunked_equals_in_memory_equals_dask(task, name):
    X, y = _data(task)
    w = np.random.default_rng(7).uniform(0.0, 2.0, N)
    w[::5] = 0.0
    fits = _paths(task, _table(task)[name], X, y, w)
    for path, model in fits.items():
        if path != "memory":
            _assert_same_fit(model, fits["memory"], tol(np.float64))


def test_sampled_init_on_every_path_skips_zero_weights():
    """init='samples' on chunks: the rows drawn are the positive-weight rows the fit without
    the zero-weight rows draws, on every path."""
    X, y = _data("regression")
    w = np.random.default_rng(8).uniform(0.5, 1.5, N)
    w[np.random.default_rng(9).permutation(N)[:12]] = 0.0
    keep = w > 0
    params = dict(REGRESSION["bpls"], init="samples")
    reference = _estimator("regression", params).fit(X[keep], y[keep], sample_weight=w[keep])
    fits = _paths("regression", params, X, y, w)
    fits["chunks-dropped"] = _estimator("regression", params).fit_chunks(
        [(X[r][keep[r]], y[r][keep[r]], w[r][keep[r]]) for r in np.array_split(np.arange(N), 4)]
    )
    for model in fits.values():
        _assert_same_fit(model, reference, tol(np.float64))


def test_fit_chunks_mixes_pairs_and_triples():
    X, y = _data("regression")
    w = _weights(N)
    w[12:24] = 1.0  # the pair's rows weigh 1
    chunks = [(X[:12], y[:12], w[:12]), (X[12:24], y[12:24]), (X[24:], y[24:], w[24:])]
    mixed = _estimator("regression", REGRESSION["bpls"]).fit_chunks(chunks)
    whole = _estimator("regression", REGRESSION["bpls"]).fit(X, y, sample_weight=w)
    _assert_same_fit(mixed, whole, tol(np.float64))


def test_fit_chunks_accepts_a_chunk_of_zero_weights():
    X, y = _data("regression")
    w = np.ones(N)
    w[:12] = 0.0
    chunks = [(X[:12], y[:12], w[:12]), (X[12:], y[12:], w[12:])]
    model = _estimator("regression", REGRESSION["bpls"]).fit_chunks(chunks)
    dropped = _estimator("regression", REGRESSION["bpls"]).fit(X[12:], y[12:])
    _assert_same_fit(model, dropped, tol(np.float64))


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_partial_fit_with_weights_equals_fit_and_repeated_rows(task):
    X, y = _data(task)
    w = _weights(N)
    cls = BPLSRegressor if task == "regression" else BPLSClassifier
    model = cls(hidden_layer_sizes=(), random_state=0)
    extra = {} if task == "regression" else {"classes": np.arange(3)}
    for rows in np.array_split(np.arange(N), 3):
        model.partial_fit(X[rows], y[rows], sample_weight=w[rows], **extra)
    whole = cls(hidden_layer_sizes=(), random_state=0).fit(X, y, sample_weight=w)
    repeat = w.astype(int)
    repeated = cls(hidden_layer_sizes=(), random_state=0).fit(
        np.repeat(X, repeat, axis=0), np.repeat(y, repeat)
    )
    rtol = tol(np.float64)
    for other in (whole, repeated):
        np.testing.assert_allclose(model.coefs_[0], other.coefs_[0], rtol=rtol,
                                   atol=rtol * np.abs(other.coefs_[0]).max())
        np.testing.assert_allclose(model.intercepts_[0], other.intercepts_[0], rtol=rtol,
                                   atol=rtol * np.abs(other.coefs_[0]).max())
    # each call records the weighted loss of its chunk
    last = np.array_split(np.arange(N), 3)[-1]
    out = model.network_.forward(X[last])
    Y = out.shape[1]
    if task == "regression":
        expected = w[last] @ ((out[:, 0] - y[last]) ** 2) / w[last].sum()
    else:
        targets = np.where(np.arange(Y) == y[last][:, None], 1.0, 0.0)  # sigmoid outputs
        expected = w[last] @ np.sum((out - targets) ** 2, axis=1) / (w[last].sum() * Y)
    assert model.history_[-1]["loss"] == pytest.approx(expected, rel=1e-12)


# -- tensors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "name"),
    [pytest.param("regression", m, id=f"regression-{m}") for m in ("bpls", "kfac")]
    + [pytest.param("classification", m, id=f"classification-{m}")
       for m in ("bpls", "cross-entropy", "kfac")],
)
def test_tensor_weights_equal_numpy_weights(task, name):
    torch = pytest.importorskip("torch")
    X, y = _data(task)
    w = _weights(N).astype(np.float64) * 0.75
    params = _table(task)[name]
    numpy_fit = _fit(_estimator(task, params), X, y, sample_weight=w)
    tensor_fit = _fit(_estimator(task, params), torch.from_numpy(X), torch.from_numpy(y),
                      sample_weight=torch.from_numpy(w))
    assert isinstance(tensor_fit.coefs_[0], torch.Tensor)
    tensor_fit.coefs_ = [c.numpy() for c in tensor_fit.coefs_]
    tensor_fit.intercepts_ = [b.numpy() for b in tensor_fit.intercepts_]
    _assert_same_fit(tensor_fit, numpy_fit, tol(np.float64))
    # array-like weights are copied to the tensors' device
    listed = _fit(_estimator(task, params), torch.from_numpy(X), torch.from_numpy(y),
                  sample_weight=list(w))
    assert np.array_equal(listed.coefs_[0].numpy(), tensor_fit.coefs_[0])


def test_tensor_weights_must_be_on_the_tensors_library():
    torch = pytest.importorskip("torch")
    X, y = _data("regression")
    with pytest.raises(TypeError, match="sample_weight is a torch Tensor .* but X is not a tensor"):
        BPLSRegressor(hidden_layer_sizes=()).fit(X, y, sample_weight=torch.ones(N))


# -- early stopping ------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_early_stopping_splits_the_weights_and_weights_its_score(task):
    from sklearn.metrics import r2_score

    X, y = _data(task, n=80)
    w = np.random.default_rng(10).uniform(0.0, 3.0, 80)
    networks = []
    model = _estimator(task, _table(task)["bpls"], early_stopping=True, max_iter=4,
                       n_iter_no_change=5, random_state=3)
    _fit(model, X, y, sample_weight=w, monitor=lambda entry, net: networks.append(net))
    # the split early_stopping makes (its seed drawn from random_state, as in fit)
    state = int(check_random_state(3, "").integers(2**31))
    stratify = y if task == "classification" else None
    _, X_val, _, y_val, _, w_val = train_test_split(
        X, y, w, test_size=0.1, stratify=stratify, random_state=state
    )
    expected = []
    for net in networks:
        out = net.forward(X_val)
        if task == "classification":
            expected.append(np.average(np.argmax(out, axis=1) == y_val, weights=w_val))
        else:
            expected.append(r2_score(y_val, out[:, 0], sample_weight=w_val))
    assert len(networks) >= 1
    np.testing.assert_allclose(model.validation_scores_, expected, rtol=1e-12)


# -- bad weights ---------------------------------------------------------------------------

BAD_WEIGHTS = [
    pytest.param(np.ones(N - 1), "has 35 entries, but X has 36 samples", id="wrong-length"),
    pytest.param(np.r_[-1.0, np.ones(N - 1)], "non-negative; 1 of 36 are negative",
                 id="negative"),
    pytest.param(np.r_[np.nan, np.ones(N - 1)], "NaN", id="nan"),
    pytest.param(np.r_[np.inf, np.ones(N - 1)], "infinity", id="infinite"),
    pytest.param(np.ones((N, 1)), "must be a 1-D array; got 2-D", id="2-D"),
    pytest.param(np.zeros(N), "every sample weight is zero", id="all-zero"),
    pytest.param(np.array(["a"] * N), "real numbers", id="strings"),
]


def _refuses(fit, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        fit()
    assert "sample_weight" in str(info.value)


@pytest.mark.parametrize(("weights", "match"), BAD_WEIGHTS)
def test_bad_weights_are_refused_on_every_path(weights, match):
    X, y = _data("regression")
    make = lambda **kw: BPLSRegressor(**{"hidden_layer_sizes": (), **kw})  # noqa: E731
    _refuses(lambda: make().fit(X, y, sample_weight=weights), match)
    _refuses(lambda: make(batch_size=10).fit(X, y, sample_weight=weights), match)
    _refuses(lambda: make().partial_fit(X, y, sample_weight=weights), match)
    _refuses(lambda: make(early_stopping=True, hidden_layer_sizes=(4,)).fit(
        X, y, sample_weight=weights), match)
    da = pytest.importorskip("dask.array")
    _refuses(lambda: make().fit(da.from_array(X, chunks=(12, D)), da.from_array(y, chunks=12),
                                sample_weight=weights), match)
    if weights.dtype.kind == "f":
        torch = pytest.importorskip("torch")
        _refuses(lambda: make().fit(torch.from_numpy(X), torch.from_numpy(y),
                                    sample_weight=torch.from_numpy(weights)), match)


def test_bad_chunk_weights_name_the_chunk():
    X, y = _data("regression")
    model = BPLSRegressor(hidden_layer_sizes=())
    with pytest.raises(ValueError, match="invalid sample_weight of chunk 1: .*negative"):
        model.fit_chunks([(X[:18], y[:18], np.ones(18)), (X[18:], y[18:], -np.ones(18))])
    with pytest.raises(ValueError, match="of chunk 0: it has 17 entries, but X has 18"):
        model.fit_chunks([(X[:18], y[:18], np.ones(17)), (X[18:], y[18:])])
    with pytest.raises(ValueError, match="every chunk's sample weights are zero"):
        model.fit_chunks([(X[:18], y[:18], np.zeros(18)), (X[18:], y[18:], np.zeros(18))])
    with pytest.raises(TypeError, match=r"not an \(X, y\) pair or an \(X, y, sample_weight\)"):
        model.fit_chunks([(X, y, np.ones(N), None)])


def test_a_failed_weighted_fit_leaves_the_model_unchanged():
    X, y = _data("regression")
    model = BPLSRegressor(hidden_layer_sizes=(), random_state=0).fit(X, y)
    before = model.coefs_[0].copy()
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=-np.ones(N))
    assert np.array_equal(model.coefs_[0], before)


# -- a property over random small problems -----------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(8, 24),
    d=st.integers(1, 3),
    hidden=st.sampled_from([(), (3,), (2, 2)]),
    seed=st.integers(0, 2**16),
    method=st.sampled_from(["bpls", "lm"]),
)
def test_property_integer_weights_equal_repeated_rows(n, d, hidden, seed, method):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X.sum(axis=1)) + 0.1 * rng.standard_normal(n)
    w = rng.integers(0, 4, size=n)
    w[: d + 2] = 1 + rng.integers(0, 3, size=d + 2)  # enough rows kept for a ridge fit
    params = dict(hidden_layer_sizes=hidden, random_state=0, init="uniform", alpha=1.0,
                  max_iter=2, method=method)
    weighted = BPLSRegressor(**params).fit(X, y, sample_weight=w.astype(float))
    Xr, yr = np.repeat(X, w, axis=0), np.repeat(y, w)
    repeated = BPLSRegressor(**params).fit(Xr, yr)
    # the suite's tolerance holds for condition numbers up to 10: scaled beyond that
    cond = np.linalg.cond(Xr - Xr.mean(axis=0)) if d > 1 else 1.0
    _assert_same_fit(weighted, repeated, tol(np.float64) * max(1.0, cond / 10))


# -- K-FAC's mini-batches ------------------------------------------------------------------


def test_kfac_mini_batches_leave_out_zero_weights():
    """With mini-batches smaller than the data, the rows of zero weight are left out before
    the batches are drawn: the steps are those of the data without them."""
    from lsqnet.bpls import class_targets
    from lsqnet.network import init_network
    from lsqnet.training import InMemory
    from lsqnet.training.kfac import KFACOptions
    from lsqnet.training.kfac import fit as kfac_fit

    X, labels = _data("classification", n=120)
    Y = class_targets(labels, 3, "softmax", np.float64)
    w = np.random.default_rng(11).uniform(0.5, 2.0, 120)
    w[::3] = 0.0
    keep = w > 0
    opts = KFACOptions(alpha=0.5, max_iter=3, batch_size=16, gram_rows=50, eval_rows=60,
                       output_iter=2)

    def net():
        return init_network((D, 6, 3), "tanh", "softmax", "fan_in",
                            np.random.default_rng(0), np.float64)

    weighted = kfac_fit(InMemory(X, Y, labels, w), net(), opts, classification=True)
    dropped = kfac_fit(InMemory(X[keep], Y[keep], labels[keep], w[keep]), net(), opts,
                       classification=True)
    assert len(weighted.history) == len(dropped.history)
    for a, b in zip(weighted.network.layers, dropped.network.layers, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
