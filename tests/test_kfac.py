"""Kronecker-factored least-squares steps (lsqnet.training.kfac): the step against an
independent Kronecker-product computation, the objective never rising over accepted steps,
determinism, float32, and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsqnet.bpls import class_targets
from lsqnet.layers import Dense
from lsqnet.network import Network, init_network
from lsqnet.training import InMemory
from lsqnet.training.bpls import BPLSResult
from lsqnet.training.kfac import (
    BATCH_ROWS,
    MIN_BATCHES,
    KFACOptions,
    batch_rows,
    count_flops,
    damped_inverse,
    fit,
    objective_value,
)


def _blobs(n, d, k, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    X = (centres[labels] + rng.normal(size=(n, d))).astype(dtype)
    return X, labels


def _classifier_problem(n=200, d=5, h=8, k=3, seed=0, dtype=np.float64):
    X, labels = _blobs(n, d, k, seed, dtype)
    Y = class_targets(labels, k, "softmax", dtype)
    net = init_network((d, h, k), "tanh", "softmax", "fan_in", np.random.default_rng(seed), dtype)
    return InMemory(X, Y, labels), net


def _objectives(result: BPLSResult) -> list[float]:
    return [entry["objective"] for entry in result.history]


def _assert_non_increasing(values, start):
    previous = start
    for value in values:
        assert value <= previous, (previous, value)
        previous = value


def test_one_step_matches_an_independent_kronecker_solve():
    """One full-batch step on a 3-4-2 network equals the damped Kronecker-factored Newton
    step computed from the Kronecker product itself (vec(A^-1 R G^-1) = (G (x) A)^-1 vec R)."""
    rng = np.random.default_rng(3)
    n, d, h, k = 12, 3, 4, 2
    X = rng.normal(size=(n, d))
    labels = np.arange(n) % k
    Y = class_targets(labels, k, "softmax", np.float64)
    W1, b1 = rng.normal(size=(d, h)) * 0.5, rng.normal(size=h) * 0.1
    W2, b2 = rng.normal(size=(h, k)) * 0.5, rng.normal(size=k) * 0.1
    net = Network((Dense(W1, b1, "tanh"), Dense(W2, b2, "softmax")))
    alpha, damping, eta = 0.5, 0.3, 0.2
    opts = KFACOptions(
        alpha=alpha, max_iter=1, batch_size=n, batches_per_step=1, damping=damping,
        step_size=eta, gram_rows=None, project_iter=0, output_iter=0, max_retries=0,
    )
    result = fit(InMemory(X, Y, labels), net, opts, classification=True)

    # the reference: the objective's gradient and the Kronecker factors in float64
    ones = np.ones((n, 1))
    H = np.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    g2 = P - Y
    g1 = (g2 @ W2.T) * (1 - H**2)
    penalty = alpha * 0.5 / n  # alpha beta / n with the softmax's beta = 1/2
    expected = []
    for inputs, errors, W, b in ((X, g1, W1, b1), (H, g2, W2, b2)):
        a = np.hstack([inputs, ones])
        grad = a.T @ errors / n
        grad[:-1] += penalty * W
        A = a.T @ a / n
        G = errors.T @ errors / n
        A += math.sqrt(damping) * np.mean(np.diag(A)) * np.eye(A.shape[0])
        G += math.sqrt(damping) * np.mean(np.diag(G)) * np.eye(G.shape[0])
        vec = np.linalg.solve(np.kron(G, A), grad.reshape(-1, order="F"))
        step = vec.reshape(grad.shape, order="F")
        expected.append((W - eta * step[:-1], b - eta * step[-1]))
    start = objective_value(net, P, Y, alpha, True)
    entry = result.history[0]
    assert entry["retries"] == 0 and entry["objective"] < start  # the step was accepted
    tol = 1e3 * np.finfo(np.float64).eps * max(1.0, np.linalg.cond(np.kron(G, A)))
    for layer, (W, b) in zip(result.network.layers, expected, strict=True):
        np.testing.assert_allclose(layer.weight, W, rtol=tol, atol=tol)
        np.testing.assert_allclose(layer.bias, b, rtol=tol, atol=tol)


def test_objective_never_rises_and_cross_entropy_steps_follow():
    source, net = _classifier_problem()
    opts = KFACOptions(max_iter=6, batch_size=32, step_size=0.3, tol=0.0, output_iter=4)
    result = fit(source, net, opts, classification=True)
    start = objective_value(net, net.forward(source.X), source.Y, opts.alpha, True)
    _assert_non_increasing(_objectives(result), start)
    assert result.history[-1]["objective"] < 0.5 * start
    assert [e["layers"] for e in result.history].count(1) >= 1  # the output-layer steps ran
    assert result.n_iter == len(result.history)
    out = result.network.forward(source.X)
    assert np.mean(np.argmax(out, axis=1) == source.labels) > 0.9


def test_regression_objective_never_rises_and_fits_a_teacher():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = np.tanh(X @ rng.normal(size=(3, 4))) @ rng.normal(size=(4, 1))
    net = init_network((3, 16, 1), "tanh", "identity", "fan_in", rng, np.float64)
    opts = KFACOptions(max_iter=30, batch_size=100, step_size=0.3, tol=0.0, alpha=1e-3)
    result = fit(InMemory(X, y), net, opts, classification=False)
    start = objective_value(net, net.forward(X), y, opts.alpha, False)
    _assert_non_increasing(_objectives(result), start)
    residual = result.network.forward(X) - y
    assert float(np.mean(residual**2)) < 0.05 * float(np.var(y))


def test_a_step_too_long_is_retried_never_kept():
    source, net = _classifier_problem(seed=2)
    opts = KFACOptions(
        max_iter=4, batch_size=50, step_size=1e4, damping=1e-6, max_retries=3, tol=0.0,
        output_iter=0, project_iter=0,
    )
    result = fit(source, net, opts, classification=True)
    start = objective_value(net, net.forward(source.X), source.Y, opts.alpha, True)
    _assert_non_increasing(_objectives(result), start)
    assert result.history[0]["retries"] >= 1
    assert all(e["retries"] <= opts.max_retries + 1 for e in result.history)
    for layer in result.network.layers:
        assert np.all(np.isfinite(layer.weight)) and np.all(np.isfinite(layer.bias))


@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")  # dead units
@pytest.mark.parametrize("project_iter", [1, 0])  # the output layer solved, or not
def test_a_step_that_overflows_is_rejected_not_an_error(project_iter):
    # ReLU units and a step size far too long: the weights, or the hidden outputs whose
    # squares the output layer's solve needs, overflow float64; the step is retried shorter
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.maximum(X @ rng.normal(size=(3, 1)), 0.0)
    net = init_network((3, 8, 1), "relu", "identity", "fan_in", rng, np.float64)
    opts = KFACOptions(max_iter=3, batch_size=40, step_size=1e200, damping=1e-8, tol=0.0,
                       retry_factor=1e100, max_retries=4, project_iter=project_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow warnings either
        result = fit(InMemory(X, y), net, opts, classification=False)
    start = objective_value(net, net.forward(X), y, opts.alpha, False)
    _assert_non_increasing(_objectives(result), start)
    assert result.history[0]["retries"] >= 1
    assert all(np.isfinite(layer.weight).all() and np.isfinite(layer.bias).all()
               for layer in result.network.layers)
    assert not result.ledger.exact  # the skipped projections of the rejected steps


@pytest.mark.parametrize(("n", "rows"), [(40, 4), (1000, 100), (4990, 499), (60000, 500)])
def test_mini_batches_are_a_tenth_of_a_small_table(n, rows):
    assert batch_rows(n, KFACOptions()) == rows == min(BATCH_ROWS, math.ceil(n / MIN_BATCHES))
    assert batch_rows(n, KFACOptions(batch_size=7)) == 7


def test_the_default_mini_batch_is_the_one_given_explicitly():
    source, net = _classifier_problem(n=230)
    auto = fit(source, net, KFACOptions(max_iter=2, tol=0.0), classification=True)
    given = fit(source, net, KFACOptions(max_iter=2, tol=0.0, batch_size=23),
                classification=True)
    assert [e["objective"] for e in auto.history] == [e["objective"] for e in given.history]
    for a, b in zip(auto.network.layers, given.network.layers, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
    assert auto.ledger.exact
    assert auto.ledger.total == given.ledger.total == count_flops(
        230, [5, 8, 3], "softmax", [e["retries"] for e in auto.history if "retries" in e],
        output_steps=sum("retries" not in e for e in auto.history),
    )


def test_every_retry_failing_keeps_the_state_and_stops():
    source, net = _classifier_problem(seed=4)
    # a step size that overshoots by far, and no retry to shorten it
    opts = KFACOptions(
        max_iter=5, batch_size=200, step_size=1e6, damping=1e-8, max_retries=0,
        project_iter=0, output_iter=0,
    )
    result = fit(source, net, opts, classification=True)
    start = objective_value(net, net.forward(source.X), source.Y, opts.alpha, True)
    assert result.history[0]["retries"] == 1
    assert result.history[0]["objective"] == start
    assert len(result.history) == 1
    for got, given_ in zip(result.network.layers, net.layers, strict=True):
        np.testing.assert_array_equal(got.weight, given_.weight)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    d=st.integers(1, 4),
    h=st.integers(1, 6),
    k=st.integers(2, 3),
    n=st.integers(4, 40),
    step=st.sampled_from([0.01, 0.3, 3.0, 100.0]),
    damping=st.sampled_from([1e-4, 1.0, 10.0]),
    activation=st.sampled_from(["tanh", "relu", "sigmoid"]),
    regression=st.booleans(),
    output=st.sampled_from(["softmax", "sigmoid"]),
)
def test_property_objective_never_rises(
    seed, d, h, k, n, step, damping, activation, regression, output
):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if regression:
        Y = rng.normal(size=(n, k))
        labels, out = None, "identity"
    else:
        labels = rng.integers(0, k, size=n)
        Y = class_targets(labels, k, output, np.float64)
        out = output
    net = init_network((d, h, k), activation, out, "fan_in", rng, np.float64)
    opts = KFACOptions(
        max_iter=4, batch_size=max(1, n // 3), step_size=step, damping=damping, tol=0.0,
        max_retries=3, output_iter=2, random_state=seed,
    )
    result = fit(InMemory(X, Y, labels), net, opts, classification=not regression)
    start = objective_value(net, net.forward(X), Y, opts.alpha, not regression)
    _assert_non_increasing(_objectives(result), start)
    for layer in result.network.layers:
        assert np.all(np.isfinite(layer.weight)) and np.all(np.isfinite(layer.bias))


def test_deterministic_given_the_seed():
    source, net = _classifier_problem(seed=5)
    opts = KFACOptions(max_iter=3, batch_size=40, tol=0.0)
    a = fit(source, net, opts, classification=True)
    b = fit(source, net, opts, classification=True)
    c = fit(source, net, KFACOptions(max_iter=3, batch_size=40, tol=0.0, random_state=1),
            classification=True)
    for la, lb in zip(a.network.layers, b.network.layers, strict=True):
        np.testing.assert_array_equal(la.weight, lb.weight)
        np.testing.assert_array_equal(la.bias, lb.bias)
    assert not np.array_equal(a.network.layers[0].weight, c.network.layers[0].weight)


def test_float32_stays_float32_and_descends():
    source, net = _classifier_problem(dtype=np.float32, seed=6)
    opts = KFACOptions(max_iter=4, batch_size=50, step_size=0.3, tol=0.0, eval_rows=120)
    result = fit(source, net, opts, classification=True)
    for layer in result.network.layers:
        assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    steps = [e["objective"] for e in result.history if e["layers"] == 2]
    assert steps[-1] < steps[0]
    _assert_non_increasing(steps[1:], steps[0])
    assert np.mean(np.argmax(result.network.forward(source.X), axis=1) == source.labels) > 0.9


def test_torch_tensors_in_and_out():
    torch = pytest.importorskip("torch")
    source, net = _classifier_problem(seed=7)
    opts = KFACOptions(max_iter=2, batch_size=50, tol=0.0)
    expected = fit(source, net, opts, classification=True)
    tensors = InMemory(*(torch.from_numpy(a) for a in (source.X, source.Y, source.labels)))
    tnet = Network(tuple(
        Dense(torch.from_numpy(layer.weight), torch.from_numpy(layer.bias), layer.activation)
        for layer in net.layers
    ))
    got = fit(tensors, tnet, opts, classification=True)
    assert isinstance(got.network.layers[0].weight, torch.Tensor)
    rtol = 1e6 * np.finfo(np.float64).eps  # same arithmetic, other BLAS kernels
    for lt, ln in zip(got.network.layers, expected.network.layers, strict=True):
        np.testing.assert_allclose(lt.weight.numpy(), ln.weight, rtol=rtol, atol=rtol)


def test_bad_input_errors():
    source, net = _classifier_problem(n=30)
    opts = KFACOptions(max_iter=1)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        fit(source, Network(net.layers[1:]), opts, classification=True)
    X = source.X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fit(InMemory(X, source.Y, source.labels), net, opts, classification=True)
    identity = Network((net.layers[0], Dense(net.layers[1].weight, net.layers[1].bias)))
    with pytest.raises(ValueError, match="output activation must be one of"):
        fit(source, identity, opts, classification=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        fit(InMemory(source.X[:1], source.Y[:1], source.labels[:1]), net, opts,
            classification=True)
    with pytest.raises(ValueError, match="columns"):
        fit(InMemory(source.X[:, :2], source.Y, source.labels), net, opts, classification=True)
    with pytest.raises(TypeError, match="KFACOptions"):
        fit(source, net, object(), classification=True)
    for bad in (dict(step_size=0.0), dict(damping=-1.0), dict(batch_size=0),
                dict(decay=1.0), dict(retry_factor=1.0), dict(eval_rows=0),
                dict(max_iter=1.5), dict(alpha=float("nan")), dict(gather_rows=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            KFACOptions(**bad)


def test_max_iter_zero_runs_only_the_cross_entropy_steps():
    source, net = _classifier_problem(seed=8)
    result = fit(source, net, KFACOptions(max_iter=0, output_iter=3, tol=0.0),
                 classification=True)
    assert [e["layers"] for e in result.history] == [1, 1, 1]
    np.testing.assert_array_equal(result.network.layers[0].weight, net.layers[0].weight)


def test_damped_inverse_is_the_inverse_of_the_damped_factor():
    rng = np.random.default_rng(9)
    a = rng.normal(size=(30, 6))
    F = a.T @ a / 30
    inverse, solver = damped_inverse(F, 0.25)
    damped = F + 0.5 * np.mean(np.diag(F)) * np.eye(6)
    assert solver == "cholesky"
    tol = 1e2 * np.finfo(np.float64).eps * np.linalg.cond(damped)
    np.testing.assert_allclose(inverse @ damped, np.eye(6), atol=tol)
