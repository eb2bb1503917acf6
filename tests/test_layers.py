"""Tests for lsqnet.layers: fit_layer, Dense, LayerFit and collapse_linear.

Every result is checked against an independent reference: scikit-learn ``LinearRegression`` and
``Ridge`` for linear layers, ``numpy.linalg.lstsq`` / the normal equations for linear networks
(seed 003), the generating weights for noise-free data, and a NumPy gradient plus
``scipy.optimize.minimize`` (L-BFGS-B) for the output-space squared error of a sigmoid layer
(seed 002). Tolerances are stated at each assertion; the float64/float32 ones come from the
``tol`` fixture (1e-8 / 1e-4). ``rng`` is the seeded generator fixture of ``conftest.py``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import expit, softmax
from sklearn.linear_model import LinearRegression, Ridge

from lsqnet import Dense, collapse_linear, fit_layer
from lsqnet.activations import ACTIVATIONS
from lsqnet.exceptions import SolverFallbackWarning, TargetClippingWarning
from lsqnet.layers import METHODS, LayerFit
from lsqnet.solvers import SOLVERS

DTYPES = [np.float32, np.float64]

# Invertible elementwise activations, with the generating pre-activation scale that keeps every
# target at least ~0.05 inside the open output range (target_eps defaults to 0.01), and an offset
# so that elu / leaky_relu see both branches.
INVERTIBLE = ["identity", "sigmoid", "tanh", "softplus", "softminus", "elu", "leaky_relu"]


def linear_data(rng, n=30, d=4, k=2, shift=3.0):
    """Well-conditioned inputs (not centred) and noisy linear targets."""
    X = rng.standard_normal((n, d)) + shift * rng.standard_normal(d)
    W = rng.standard_normal((d, k))
    Y = X @ W + rng.standard_normal(k) + 0.3 * rng.standard_normal((n, k))
    return X, Y


def config_id(config):
    """A readable test id for a dict of fit_layer keyword arguments."""
    return "-".join(f"{key}={value}" for key, value in config.items())


def layer_data(rng, n=25, d=3, k=2, scale=2.0):
    """Inputs and a weight/bias whose pre-activations lie in [-scale, scale]."""
    X = rng.uniform(-1.0, 1.0, (n, d))
    W = rng.uniform(-1.0, 1.0, (d, k)) * scale / (d + 1)
    b = rng.uniform(-1.0, 1.0, k) * scale / (d + 1)
    return X, W, b


# --------------------------------------------------------------------------------------------
# 1. Seed 000: one linear layer is least squares
# --------------------------------------------------------------------------------------------


def test_seed000_two_pairs_give_w_one_and_a_half():
    """Pairs (1, 1) and (1, 2), no intercept: the least-squares weight is the mean, 1.5."""
    layer = fit_layer([[1], [1]], [1, 2], fit_intercept=False)
    assert isinstance(layer, Dense)
    assert layer.activation == "identity"
    assert layer.weight.shape == (1, 1) and layer.bias.shape == (1,)
    assert_allclose(layer.weight, [[1.5]], rtol=1e-15)
    assert_array_equal(layer.bias, [0.0])
    assert_allclose(layer([[1.0], [2.0]]), [[1.5], [3.0]], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("alpha", [0.0, 0.7, 25.0])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_identity_layer_matches_sklearn(rng, tol, solver, alpha, weighted, fit_intercept):
    """Identity activation == LinearRegression (alpha 0) / Ridge(alpha), to 1e-8 (float64)."""
    X, Y = linear_data(rng)
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    ref = (
        LinearRegression(fit_intercept=fit_intercept)
        if alpha == 0
        else Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="svd")
    ).fit(X, Y, sample_weight=sw)
    layer = fit_layer(
        X, Y, alpha=alpha, solver=solver, sample_weight=sw, fit_intercept=fit_intercept
    )
    t = tol(np.float64)
    assert_allclose(layer.weight, ref.coef_.T, rtol=t, atol=t * np.abs(ref.coef_).max())
    expected_bias = ref.intercept_ if fit_intercept else np.zeros(Y.shape[1])
    assert_allclose(layer.bias, expected_bias, rtol=t, atol=t * np.abs(ref.coef_).max())
    assert_allclose(layer(X), ref.predict(X), rtol=t, atol=t * np.abs(Y).max())


def test_identity_layer_one_dimensional_targets(rng, tol):
    """1-D targets give a (d, 1) weight, and the same numbers as sklearn."""
    X, Y = linear_data(rng, k=1)
    y = Y[:, 0]
    ref = Ridge(alpha=2.0, solver="svd").fit(X, y)
    layer = fit_layer(X, y, alpha=2.0)
    assert layer.weight.shape == (X.shape[1], 1) and layer.bias.shape == (1,)
    assert_allclose(layer.weight[:, 0], ref.coef_, rtol=tol(np.float64))
    assert_allclose(layer.bias[0], ref.intercept_, rtol=tol(np.float64))


def test_identity_layer_on_known_solution(make_problem, tol):
    """SVD-built problem with a known minimum-norm solution (no intercept)."""
    prob = make_problem(40, 5, 3)
    layer = fit_layer(prob.A, prob.B, fit_intercept=False)
    assert_allclose(layer.weight, prob.coef, rtol=tol(np.float64), atol=tol(np.float64))


# --------------------------------------------------------------------------------------------
# 2. Seed 003: linear networks collapse to one layer
# --------------------------------------------------------------------------------------------


def test_seed003_two_layer_linear_network_is_one_layer_least_squares(rng):
    """2 inputs -> 2 hidden (random) -> 1 output (fitted), 4 samples: normal equations."""
    X = rng.standard_normal((4, 2))
    z = rng.standard_normal(4)
    hidden = Dense(rng.standard_normal((2, 2)), rng.standard_normal(2))
    H = hidden(X)
    output = fit_layer(H, z)
    pred = output(H)[:, 0]

    A = np.column_stack([np.ones(4), X])  # [1, X0] of the seed
    w = np.linalg.solve(A.T @ A, A.T @ z)  # normal equations (11)-(13)
    assert_allclose(pred, A @ w, rtol=0, atol=1e-10)
    # The residual d = z - pred satisfies the normal equations (4)-(6) of the seed.
    assert_allclose(A.T @ (z - pred), np.zeros(3), atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_collapse_linear_predicts_what_the_stack_predicts(rng, dtype):
    widths = [3, 5, 2, 4]
    layers = [
        Dense(
            rng.standard_normal((widths[i], widths[i + 1])).astype(dtype),
            rng.standard_normal(widths[i + 1]).astype(dtype),
        )
        for i in range(len(widths) - 1)
    ]
    X = rng.standard_normal((20, 3)).astype(dtype)
    stacked = X
    for layer in layers:
        stacked = layer(stacked)
    single = collapse_linear(layers)
    assert single.activation == "identity"
    assert single.weight.shape == (3, 4) and single.bias.shape == (4,)
    assert single.weight.dtype == dtype and single.bias.dtype == dtype
    t = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(single(X), stacked, rtol=t, atol=t * np.abs(stacked).max())
    # A single layer collapses to itself, and a generator is accepted.
    one = collapse_linear(layer for layer in layers[:1])
    assert_array_equal(one.weight, layers[0].weight)
    assert_array_equal(one.bias, layers[0].bias)


@pytest.mark.parametrize(
    ("widths", "solver"),
    [((3, 3, 3), "auto"), ((3, 3, 3), "qr"), ((3, 5, 4), "svd"), ((4, 6, 5), "svd")],
)
def test_deep_linear_network_predicts_one_layer_least_squares(rng, widths, solver):
    """3 random full-rank identity layers + a fitted output layer == lstsq on [X, 1]."""
    n, d = 30, 3
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, 2))
    dims = (d, *widths)
    hidden = [
        Dense(rng.standard_normal((dims[i], dims[i + 1])), rng.standard_normal(dims[i + 1]))
        for i in range(3)
    ]
    H = X
    for layer in hidden:
        H = layer(H)
    output = fit_layer(H, Y, solver=solver)
    A = np.column_stack([X, np.ones(n)])
    expected = A @ np.linalg.lstsq(A, Y, rcond=None)[0]
    scale = np.abs(Y).max()
    assert_allclose(output(H), expected, rtol=0, atol=1e-10 * scale)
    # The collapsed network is one affine layer with the same predictions.
    network = collapse_linear([*hidden, output])
    assert_allclose(network(X), expected, rtol=0, atol=1e-10 * scale)


def test_deep_linear_network_wide_layers_fall_back_with_warning(rng):
    """Hidden widths above the input dimension make the Gram matrix singular: cholesky warns,
    falls back, and still gives the one-layer least-squares predictions."""
    X = rng.standard_normal((30, 3))
    Y = rng.standard_normal((30, 2))
    H = Dense(rng.standard_normal((3, 5)), rng.standard_normal(5))(X)
    with pytest.warns(SolverFallbackWarning, match="cholesky"):
        info = fit_layer(H, Y, solver="cholesky", return_info=True)
    assert info.solver == "svd"
    A = np.column_stack([X, np.ones(30)])
    expected = A @ np.linalg.lstsq(A, Y, rcond=None)[0]
    assert_allclose(info.layer(H), expected, rtol=0, atol=1e-10)


def test_collapse_linear_errors():
    a = Dense(np.ones((2, 3)), np.zeros(3))
    b = Dense(np.ones((3, 1)), np.zeros(1))
    with pytest.raises(ValueError, match="at least one layer"):
        collapse_linear([])
    with pytest.raises(ValueError, match=r"identity.*layer 1 uses 'tanh'"):
        collapse_linear([a, Dense(np.ones((3, 1)), np.zeros(1), "tanh")])
    with pytest.raises(ValueError, match=r"identity.*layer 0 uses 'relu'"):
        collapse_linear([Dense(np.ones((2, 3)), np.zeros(3), "relu"), b])
    with pytest.raises(ValueError, match=r"Layer 2 takes 2 inputs, but layer 1 gives 1"):
        collapse_linear([a, b, Dense(np.ones((2, 2)), np.zeros(2))])


# --------------------------------------------------------------------------------------------
# 3. Exact recovery from noise-free data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("activation", INVERTIBLE)
def test_inverse_recovers_generating_layer(rng, activation, method):
    """Targets f(X W + b), all inside the range: W and b come back to 1e-6 (float64)."""
    act = ACTIVATIONS[activation]
    X, W, b = layer_data(rng, k=3)
    b = b + (0.3 if activation in ("elu", "leaky_relu") else 0.0)
    Y = act.forward(X @ W + b)
    Y_copy = Y.copy()
    info = fit_layer(X, Y, activation=activation, method=method, return_info=True)
    assert info.n_clipped == 0
    assert info.layer.activation == activation
    assert_allclose(info.layer.weight, W, rtol=1e-6, atol=1e-6)
    assert_allclose(info.layer.bias, b, rtol=1e-6, atol=1e-6)
    assert_allclose(info.layer(X), Y, rtol=1e-6, atol=1e-6)
    assert info.loss < 1e-20
    assert_array_equal(Y, Y_copy)


@pytest.mark.parametrize("method", METHODS)
def test_softmax_recovers_logits_up_to_row_constant(rng, method):
    X, W, b = layer_data(rng, n=30, d=3, k=4)
    Y = softmax(X @ W + b, axis=1)
    info = fit_layer(X, Y, activation="softmax", method=method, return_info=True)
    assert info.n_clipped == 0
    assert_allclose(info.layer(X), Y, rtol=1e-6, atol=1e-6)
    # The zero-mean representative: each logit row shifted by its mean.
    assert_allclose(info.layer.weight, W - W.mean(axis=1, keepdims=True), atol=1e-6)
    assert_allclose(info.layer.bias, b - b.mean(), atol=1e-6)
    logits = info.layer.pre_activation(X)
    assert_allclose(logits - logits.mean(axis=1, keepdims=True), logits, atol=1e-10)


# --------------------------------------------------------------------------------------------
# 4. Weighted method and Gauss-Newton refinement (seed 002)
# --------------------------------------------------------------------------------------------


def sigmoid_objective(params, X, Y, w, alpha):
    """``sum w (expit(X W + b) - Y)^2 + alpha ||W||^2`` and its gradient, flat parameters."""
    d, k = X.shape[1], Y.shape[1]
    W, b = params[: d * k].reshape(d, k), params[d * k :]
    s = expit(X @ W + b)
    r = s - Y
    wr = r if w is None else r * w[:, None]
    loss = np.sum(wr * r) + alpha * np.sum(W * W)
    g = 2 * wr * s * (1 - s)
    grad_W = X.T @ g + 2 * alpha * W
    grad_b = g.sum(axis=0)
    return loss, np.concatenate([grad_W.ravel(), grad_b])


def flat(layer):
    return np.concatenate([layer.weight.ravel(), layer.bias])


@pytest.fixture
def noisy_sigmoid(rng):
    n, d, k = 60, 3, 2
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, k))
    b = rng.standard_normal(k)
    Y = expit(X @ W + b + 0.7 * rng.standard_normal((n, k)))
    return X, Y, rng.uniform(0.3, 3.0, n)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_refine_reaches_a_stationary_point(noisy_sigmoid, alpha, weighted):
    X, Y, sw = noisy_sigmoid
    w = sw if weighted else None
    kw = dict(activation="sigmoid", alpha=alpha, sample_weight=w, return_info=True)
    inverse = fit_layer(X, Y, **kw)
    weighted_fit = fit_layer(X, Y, method="weighted", **kw)
    refined = fit_layer(X, Y, refine=50, **kw)
    assert isinstance(refined, LayerFit)
    assert 0 < refined.n_refine <= 50
    assert refined.grad_norm_rel < 1e-6
    assert np.isnan(inverse.grad_norm_rel) and inverse.n_refine == 0

    # info.loss is the weighted output-space MSE, penalty excluded.
    total = X.shape[0] if w is None else w.sum()
    for fit in (inverse, weighted_fit, refined):
        r = expit(fit.layer.pre_activation(X)) - Y
        wr = r if w is None else r * w[:, None]
        assert_allclose(fit.loss, np.sum(wr * r) / (total * Y.shape[1]), rtol=1e-10)

    # Independent gradient at the returned layer, relative to the gradient at the start.
    obj = {name: sigmoid_objective(flat(f.layer), X, Y, w, alpha)
           for name, f in [("inverse", inverse), ("weighted", weighted_fit), ("refined", refined)]}
    g_start = np.linalg.norm(obj["inverse"][1])
    g_end = np.linalg.norm(obj["refined"][1])
    assert g_end < 1e-6 * g_start
    assert_allclose(refined.grad_norm, g_end, rtol=1e-3, atol=1e-9 * g_start)
    assert_allclose(inverse.grad_norm, g_start, rtol=1e-10)

    # The refined layer is no worse than either closed form, on the objective it minimises.
    for start in ("inverse", "weighted"):
        assert obj["refined"][0] <= obj[start][0] + 1e-12
    if alpha == 0:
        assert refined.loss <= inverse.loss + 1e-12
        assert refined.loss <= weighted_fit.loss + 1e-12

    # ... and no worse than scipy's L-BFGS-B on the same objective, from zero.
    d, k = X.shape[1], Y.shape[1]
    ref = minimize(
        sigmoid_objective, np.zeros(d * k + k), args=(X, Y, w, alpha), jac=True,
        method="L-BFGS-B", options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-12},
    )
    assert obj["refined"][0] <= ref.fun * (1 + 1e-9)
    # Same minimiser (the problem is well posed here): weights agree loosely.
    assert_allclose(flat(refined.layer), ref.x, rtol=1e-4, atol=1e-4)


def _no_intercept_objective(flat_w, X, Y):
    """The sigmoid objective over W alone (bias fixed at 0), with its gradient."""
    k = Y.shape[1]
    loss, grad = sigmoid_objective(np.concatenate([flat_w, np.zeros(k)]), X, Y, None, 0.0)
    return loss, grad[: flat_w.size]


def test_refine_with_weighted_start_and_without_intercept(noisy_sigmoid):
    """fit_intercept=False: W is stationary (gradient w.r.t. W only) and beats L-BFGS-B."""
    X, Y, _ = noisy_sigmoid
    kw = dict(activation="sigmoid", method="weighted", fit_intercept=False)
    start = fit_layer(X, Y, **kw)
    refined = fit_layer(X, Y, refine=50, return_info=True, **kw)
    assert_array_equal(refined.layer.bias, np.zeros(Y.shape[1]))
    _, g_start = _no_intercept_objective(start.weight.ravel(), X, Y)
    loss, g_end = _no_intercept_objective(refined.layer.weight.ravel(), X, Y)
    assert np.linalg.norm(g_end) < 1e-6 * np.linalg.norm(g_start)
    ref = minimize(_no_intercept_objective, np.zeros(X.shape[1] * Y.shape[1]), args=(X, Y),
                   jac=True, method="L-BFGS-B",
                   options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-12})
    assert loss <= ref.fun * (1 + 1e-9)


def test_grad_norm_without_intercept_ignores_the_fixed_bias(noisy_sigmoid):
    X, Y, _ = noisy_sigmoid
    refined = fit_layer(
        X, Y, activation="sigmoid", refine=50, fit_intercept=False, return_info=True
    )
    _, g_end = _no_intercept_objective(refined.layer.weight.ravel(), X, Y)
    assert_allclose(refined.grad_norm, np.linalg.norm(g_end), rtol=1e-3, atol=1e-9)
    assert refined.grad_norm_rel < 1e-6


def test_refine_on_exact_data_keeps_the_exact_fit(rng):
    X, W, b = layer_data(rng)
    Y = expit(X @ W + b)
    info = fit_layer(X, Y, activation="sigmoid", refine=10, return_info=True)
    assert_allclose(info.layer.weight, W, atol=1e-6)
    assert_allclose(info.layer.bias, b, atol=1e-6)


@pytest.mark.parametrize(
    "config",
    [dict(activation="identity", alpha=0.5), dict(activation="sigmoid", method="weighted"),
     dict(activation="sigmoid", refine=30), dict(activation="relu", inverse_iter=10)],
    ids=config_id,
)
def test_sample_weight_invariants(rng, config):
    """Weight 0 == dropping the row; weight 2 == duplicating it (penalty unchanged)."""
    n = 25
    X = rng.standard_normal((n, 3))
    Y = np.maximum(rng.standard_normal((n, 2)), 0) if config["activation"] == "relu" else (
        rng.uniform(0.1, 0.9, (n, 2))
    )
    sw = np.ones(n)
    sw[:4] = 0.0
    sw[4:7] = 2.0
    weighted_fit = fit_layer(X, Y, sample_weight=sw, **config)
    keep = np.r_[np.arange(4, n), np.arange(4, 7)]
    expanded = fit_layer(X[keep], Y[keep], **config)
    assert_allclose(weighted_fit.weight, expanded.weight, rtol=1e-7, atol=1e-9)
    assert_allclose(weighted_fit.bias, expanded.bias, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------------------------
# 5. ReLU
# --------------------------------------------------------------------------------------------


@pytest.fixture
def relu_data(rng):
    X = rng.standard_normal((50, 3))
    W = rng.standard_normal((3, 2))
    Y = np.maximum(X @ W + 0.2 + 0.5 * rng.standard_normal((50, 2)), 0.0)
    return X, Y


def one_sided_loss(layer, X, Y):
    """``sum_{y>0} (z-y)^2 + sum_{y=0} max(z,0)^2``, the objective the MM iterations lower."""
    z = layer.pre_activation(X)
    return float(np.sum(np.where(Y > 0, (z - Y) ** 2, np.maximum(z, 0) ** 2)))


def test_relu_loss_decreases_with_iterations_and_refine(relu_data):
    X, Y = relu_data
    assert 0.2 < np.mean(Y == 0) < 0.8
    fits = [
        fit_layer(X, Y, activation="relu", inverse_iter=it, return_info=True)
        for it in (1, 5, 50)
    ]
    for fit in fits:
        mse = np.mean((np.maximum(fit.layer.pre_activation(X), 0) - Y) ** 2)
        assert_allclose(fit.loss, mse, rtol=1e-10)
    losses = [fit.loss for fit in fits]
    assert losses[0] > losses[1] > losses[2]
    one_sided = [one_sided_loss(fit.layer, X, Y) for fit in fits]
    assert one_sided[0] >= one_sided[1] >= one_sided[2]
    refined = fit_layer(X, Y, activation="relu", inverse_iter=50, refine=20, return_info=True)
    assert refined.loss <= losses[2] + 1e-12
    assert refined.n_refine >= 1


def test_relu_refine_with_an_all_zero_target_column(relu_data):
    X, Y = relu_data
    Y = Y.copy()
    Y[:, 1] = 0.0
    info = fit_layer(X, Y, activation="relu", refine=5, return_info=True)
    assert_array_equal(np.maximum(info.layer.pre_activation(X)[:, 1], 0), 0.0)
    unrefined = fit_layer(X, Y, activation="relu", return_info=True)
    assert info.loss <= unrefined.loss + 1e-12


def test_relu_iteration_one_is_plain_least_squares(relu_data, tol):
    """inverse_iter=1 fits the zero targets as 0: ordinary least squares on Y."""
    X, Y = relu_data
    layer = fit_layer(X, Y, activation="relu", inverse_iter=1)
    ref = LinearRegression().fit(X, Y)
    assert_allclose(layer.weight, ref.coef_.T, rtol=tol(np.float64))
    assert_allclose(layer.bias, ref.intercept_, rtol=tol(np.float64))


def test_relu_negative_targets_warn_and_weighted_is_refused(relu_data):
    X, Y = relu_data
    Y = Y.copy()
    Y[:3, 0] = -0.5
    with pytest.warns(TargetClippingWarning, match=r"3 target value\(s\).*'relu'"):
        info = fit_layer(X, Y, activation="relu", return_info=True)
    assert info.n_clipped == 3
    assert np.isfinite(info.layer.weight).all() and np.isfinite(info.layer.bias).all()
    with pytest.raises(ValueError, match="weighted"):
        fit_layer(X, np.abs(Y), activation="relu", method="weighted")


# --------------------------------------------------------------------------------------------
# 6. Target clipping
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "bounds"),
    [("sigmoid", (0.0, 1.0)), ("tanh", (-1.0, 1.0)), ("softmax", None)],
)
def test_targets_on_the_bound_are_clipped_silently(rng, activation, bounds):
    X = rng.standard_normal((20, 3))
    if bounds is None:  # one-hot rows: every entry is on a bound
        Y = np.eye(3)[rng.integers(0, 3, 20)]
        expected = Y.size
    else:
        lo, hi = bounds
        Y = rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), (20, 3))
        Y[[0, 3, 7], [0, 1, 2]] = lo
        Y[[1, 4], [2, 0]] = hi
        expected = 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all: these targets are valid
        info = fit_layer(X, Y, activation=activation, return_info=True)
    assert info.n_clipped == expected
    assert np.isfinite(info.layer.weight).all() and np.isfinite(info.layer.bias).all()


def test_targets_within_target_eps_are_counted(rng):
    X = rng.standard_normal((10, 2))
    Y = np.full((10, 1), 0.5)
    Y[:4] = 0.995
    assert fit_layer(X, Y, activation="sigmoid", return_info=True).n_clipped == 4
    info = fit_layer(X, Y, activation="sigmoid", target_eps=1e-3, return_info=True)
    assert info.n_clipped == 0


@pytest.mark.parametrize("value", [1.5, -0.25])
def test_targets_outside_the_range_warn_with_the_count(rng, value):
    X = rng.standard_normal((20, 3))
    Y = rng.uniform(0.2, 0.8, (20, 2))
    Y[[2, 5, 9, 11], [0, 1, 1, 0]] = value
    Y[0, 0] = 1.0  # on the bound: clipped, but no reason to warn
    with pytest.warns(TargetClippingWarning, match=r"\b4 target value\(s\)") as record:
        info = fit_layer(X, Y, activation="sigmoid", return_info=True)
    assert len(record) == 1
    assert info.n_clipped == 5
    assert np.isfinite(info.layer.weight).all() and np.isfinite(info.layer.bias).all()
    assert np.isfinite(info.loss)


# --------------------------------------------------------------------------------------------
# 7. dtypes and inputs left alone
# --------------------------------------------------------------------------------------------

CONFIGS = [
    dict(activation="identity"),
    dict(activation="identity", solver="qr", alpha=0.1),
    dict(activation="identity", solver="svd"),
    dict(activation="sigmoid"),
    dict(activation="sigmoid", method="weighted"),
    dict(activation="sigmoid", refine=5),
    dict(activation="tanh", refine=3, alpha=0.2),
    dict(activation="relu", inverse_iter=5),
    dict(activation="relu", refine=3),
    dict(activation="softmax"),
]


def targets_for(activation, rng, n, k=3):
    if activation == "softmax":
        return softmax(rng.standard_normal((n, k)), axis=1)
    if activation == "relu":
        return np.maximum(rng.standard_normal((n, k)), 0.0)
    if activation in ("sigmoid",):
        return rng.uniform(0.05, 0.95, (n, k))
    if activation == "tanh":
        return rng.uniform(-0.9, 0.9, (n, k))
    return rng.standard_normal((n, k))


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_dtype_preserved_and_inputs_unmodified(rng, tol, config, dtype, weighted):
    n = 30
    X = rng.standard_normal((n, 4)).astype(dtype)
    Y = targets_for(config["activation"], rng, n).astype(dtype)
    sw = rng.uniform(0.5, 2.0, n).astype(dtype) if weighted else None
    copies = [X.copy(), Y.copy(), None if sw is None else sw.copy()]
    info = fit_layer(X, Y, sample_weight=sw, return_info=True, **config)
    assert_array_equal(X, copies[0])
    assert_array_equal(Y, copies[1])
    if sw is not None:
        assert_array_equal(sw, copies[2])
    layer = info.layer
    assert layer.weight.dtype == dtype and layer.bias.dtype == dtype
    assert layer(X).dtype == dtype
    assert np.isfinite(layer.weight).all() and np.isfinite(layer.bias).all()
    if dtype == np.float32:
        ref = fit_layer(
            X.astype(np.float64), Y.astype(np.float64),
            sample_weight=None if sw is None else sw.astype(np.float64), **config,
        )
        # Outputs, not weights: refined / iterated solutions amplify rounding in flat directions.
        t = 1e2 * tol(np.float32) if config.get("refine") else tol(np.float32)
        assert_allclose(layer(X), ref(X), rtol=t, atol=t)


def test_float32_refine_emits_no_spurious_fallback_warning():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4)).astype(np.float32)
    Y = rng.uniform(0.05, 0.95, (30, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        layer = fit_layer(X, Y, activation="sigmoid", refine=5)
    assert layer.weight.dtype == np.float32


def test_mixed_dtypes_compute_in_float64(rng):
    X = rng.standard_normal((10, 2)).astype(np.float32)
    layer = fit_layer(X, rng.standard_normal(10))
    assert layer.weight.dtype == np.float64
    layer = fit_layer([[1, 2], [3, 5], [4, 4]], [1, 2, 3])  # integer lists
    assert layer.weight.dtype == np.float64


# --------------------------------------------------------------------------------------------
# 8. Property test: identity + ridge == sklearn Ridge, every solver finite
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 30),
    d=st.integers(1, 6),
    k=st.integers(1, 3),
    alpha=st.floats(1e-2, 10.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_identity_ridge_matches_sklearn(n, d, k, alpha, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + rng.standard_normal(d)
    Y = rng.standard_normal((n, k))
    ref = Ridge(alpha=alpha, solver="svd").fit(X, Y)
    # sklearn ravels coef_ to (d,) for a single target column, even when Y is 2-D.
    coef = np.reshape(ref.coef_, (k, d)).T
    intercept = np.reshape(ref.intercept_, (k,))
    scale = max(np.abs(coef).max(), np.abs(intercept).max(), 1.0)
    for solver in SOLVERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SolverFallbackWarning)
            layer = fit_layer(X, Y, alpha=alpha, solver=solver)
            unregularised = fit_layer(X, Y, alpha=0.0, solver=solver)
        # cond(X^T X + alpha I) <= (||X||^2 + alpha) / alpha < 1e5 here: 1e-7 leaves room.
        assert_allclose(layer.weight, coef, rtol=1e-7, atol=1e-7 * scale)
        assert_allclose(layer.bias, intercept, rtol=1e-7, atol=1e-7 * scale)
        # alpha = 0 (rank deficient when n - 1 < d): still finite, via the fallback.
        assert np.isfinite(unregularised.weight).all()
        assert np.isfinite(unregularised.bias).all()
        assert np.isfinite(unregularised(X)).all()


# --------------------------------------------------------------------------------------------
# 9. Bad input
# --------------------------------------------------------------------------------------------

X_OK = np.arange(12.0).reshape(6, 2) % 5
Y_OK = np.linspace(0.1, 0.9, 6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(activation="swish"), ValueError, r"'activation'.*'relu'.*'sigmoid'.*'swish'"),
        (dict(activation=None), TypeError, r"'activation'"),
        (dict(method="newton"), ValueError, r"'method'.*'inverse', 'weighted'.*'newton'"),
        (dict(solver="lu"), ValueError, r"'solver'.*'cholesky'"),
        (dict(refine=-1), ValueError, r"'refine' parameter of fit_layer must be an int"),
        (dict(refine=2.0), TypeError, r"'refine' parameter of fit_layer must be an int"),
        (dict(refine=True), TypeError, r"'refine'"),
        (dict(alpha=-0.1), ValueError, r"'alpha' parameter of fit_layer.*\[0, inf\)"),
        (dict(alpha=np.nan), ValueError, r"'alpha'"),
        (dict(alpha="1"), TypeError, r"'alpha'"),
        (dict(target_eps=0.0), ValueError, r"'target_eps'.*\(0, 0\.5\)"),
        (dict(target_eps=0.5), ValueError, r"'target_eps'.*\(0, 0\.5\)"),
        (dict(inverse_iter=0), ValueError, r"'inverse_iter'"),
        (dict(tol=-1.0), ValueError, r"'tol'"),
        (dict(fit_intercept=1), TypeError, r"'fit_intercept'.*bool"),
        (dict(fit_intercept="yes"), TypeError, r"'fit_intercept'.*bool"),
        (dict(fit_intercept=None), TypeError, r"'fit_intercept'.*bool"),
        (dict(sample_weight=np.ones((6, 1))), ValueError, r"sample_weight.*1-D"),
        (dict(sample_weight=np.ones(5)), ValueError, r"sample_weight"),
        (dict(sample_weight=-np.ones(6)), ValueError, r"sample_weight.*non-negative"),
        (dict(activation="softmax"), ValueError, r"'softmax'.*at least 2 output columns"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_layer(X_OK, Y_OK, **kwargs)


def test_refine_with_softmax_is_refused():
    Y = softmax(np.arange(12.0).reshape(6, 2) / 7, axis=1)
    with pytest.raises(ValueError, match=r"refine > 0.*'softmax'"):
        fit_layer(X_OK, Y, activation="softmax", refine=1)


@pytest.mark.parametrize(
    ("X", "Y", "error", "match"),
    [
        (np.where(X_OK == 3, np.nan, X_OK), Y_OK, ValueError, r"Input X contains NaN"),
        (X_OK, np.where(Y_OK > 0.5, np.nan, Y_OK), ValueError, r"Input Y contains NaN"),
        (np.where(X_OK == 3, np.inf, X_OK), Y_OK, ValueError, r"Input X contains infinity"),
        (X_OK[:5], Y_OK, ValueError, r"inconsistent numbers of samples: X has 5, Y has 6"),
        (X_OK.reshape(6, 2, 1), Y_OK, ValueError, r"Input X must be a 2-D array; got 3-D"),
        (X_OK[:, 0], Y_OK, ValueError, r"Input X must be a 2-D array; got 1-D"),
        (X_OK, Y_OK.reshape(6, 1, 1), ValueError, r"Input Y must be a 1-D or 2-D array"),
        (X_OK.astype(str), Y_OK, TypeError, r"Input X must hold real numbers"),
        (X_OK, Y_OK.astype(str), TypeError, r"Input Y must hold real numbers"),
        (None, Y_OK, TypeError, r"Input X"),
        (np.empty((0, 2)), np.empty(0), ValueError, r"Input X is empty"),
    ],
    ids=[
        "nan-X", "nan-Y", "inf-X", "rows", "3d-X", "1d-X", "3d-Y", "str-X", "str-Y", "none-X",
        "empty",
    ],
)
def test_bad_arrays(X, Y, error, match):
    with pytest.raises(error, match=match):
        fit_layer(X, Y)


def test_dense_validation():
    with pytest.raises(ValueError, match=r"bias of shape \(n_out,\).*\(2, 3\) and \(2,\)"):
        Dense(np.ones((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"weight of shape \(n_in, n_out\)"):
        Dense(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"'activation'.*'swish'"):
        Dense(np.ones((2, 3)), np.zeros(3), "swish")
    layer = Dense(np.ones((2, 3)), np.zeros(3))
    assert (layer.n_in, layer.n_out) == (2, 3)
    with pytest.raises(ValueError, match=re.escape("X has 4 features, but the layer takes 2")):
        layer.forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"Input X must be a 2-D array"):
        layer(np.ones(2))
