"""Levenberg–Marquardt training (``method="lm"``): the Gauss–Newton system against finite
differences, the minimum against SciPy's own Levenberg–Marquardt, steps that never raise the
objective, chunked == in memory, and the operation count."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from lsqnet import BPLSClassifier, BPLSRegressor, _flops
from lsqnet.features import FanIn
from lsqnet.network import init_network
from lsqnet.training import levenberg_marquardt as lm
from lsqnet.training.sources import InMemory


def _network(sizes, activation, output, seed):
    return init_network(sizes, activation, output, FanIn(), np.random.default_rng(seed),
                        np.float64)


def _theta_network(theta, like):
    return lm._unflatten(np.asarray(theta, np.float64), like)


def _finite_jacobian(fun, theta, h=1e-6):
    """Central differences of ``fun`` (theta -> outputs, (n, k)): (n, k, p)."""
    cols = []
    for i in range(theta.shape[0]):
        step = np.zeros_like(theta)
        step[i] = h
        cols.append((fun(theta + step) - fun(theta - step)) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize(
    ("loss", "output", "sizes"),
    [("squared_error", "identity", (3, 4, 2)), ("squared_error", "tanh", (3, 4, 5, 1)),
     ("softmax", "softmax", (3, 4, 3)), ("sigmoid", "sigmoid", (2, 5, 2))],
)
def test_gauss_newton_system_matches_finite_differences(loss, output, sizes, rng):
    """J^T H J and J^T e against a Jacobian from central differences (NumPy), with H the
    loss's curvature in the outputs (identity) or logits (softmax: diag(p) - p p^T;
    sigmoid: diag(p (1 - p)))."""
    net = _network(sizes, "tanh", output, 1)
    n, k = 25, sizes[-1]
    X = rng.standard_normal((n, sizes[0]))
    if loss == "squared_error":
        Y = rng.standard_normal((n, k)) * 0.5
    else:
        Y = np.eye(k)[rng.integers(0, k, n)]
    theta = lm._flatten(net)
    got = lm.LevenbergMarquardt(lm.LMOptions(loss=loss), True)._curvature(net)(X, Y, None, 0)

    def outputs(t):  # what J differentiates: outputs, or logits for the cross-entropies
        layers = _theta_network(t, net).layers
        h = X
        for layer in layers[:-1]:
            h = layer.forward(h)
        z = h @ layers[-1].weight + layers[-1].bias
        return layers[-1].forward(h) if loss == "squared_error" else z

    J = _finite_jacobian(outputs, theta)  # (n, k, p)
    out = _theta_network(theta, net).forward(X)
    if loss == "squared_error":
        H = np.broadcast_to(np.eye(k), (n, k, k))
    elif loss == "softmax":
        H = np.einsum("ij,jk->ijk", out, np.eye(k)) - out[:, :, None] * out[:, None, :]
    else:
        H = np.einsum("ij,jk->ijk", out * (1 - out), np.eye(k))
    JtHJ = np.einsum("nkp,nkl,nlq->pq", J, H, J)
    Jte = np.einsum("nkp,nk->p", J, out - Y)
    scale = np.abs(JtHJ).max()
    assert_allclose(got.JtHJ, JtHJ, atol=1e-6 * scale)
    assert_allclose(got.Jte, Jte, atol=1e-6 * np.abs(Jte).max())


def test_the_minimum_is_scipys_levenberg_marquardt_minimum(rng):
    """A 2-3-1 tanh network fitted to a teacher of its own shape (no ridge): lsqnet's steps
    and scipy.optimize.least_squares(method="lm") from the same start reach the same
    parameters and the same squared error."""
    teacher = _network((2, 3, 1), "tanh", "identity", 7)
    X = rng.standard_normal((200, 2))
    y = teacher.forward(X) + 0.01 * rng.standard_normal((200, 1))
    start = _network((2, 3, 1), "tanh", "identity", 7)
    theta0 = lm._flatten(start) + 0.05 * rng.standard_normal(lm._flatten(start).shape)
    start = _theta_network(theta0, start)
    best, history, _ = lm.fit(
        InMemory(X, y), start, lm.LMOptions(alpha=0.0, max_iter=200, tol=1e-15),
        classification=False,
    )
    reference = scipy.optimize.least_squares(
        lambda t: (_theta_network(t, start).forward(X) - y).ravel(), theta0, method="lm",
        xtol=1e-15, ftol=1e-15, gtol=1e-15,
    )
    ours = lm._flatten(best.network)
    assert_allclose(0.5 * np.sum((best.network.forward(X) - y) ** 2), reference.cost,
                    rtol=1e-9)
    assert_allclose(ours, reference.x, atol=1e-5 * np.abs(reference.x).max())


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    hidden=st.lists(st.integers(1, 6), min_size=0, max_size=2),
    task=st.sampled_from(["squared_error", "softmax", "sigmoid"]),
    alpha=st.sampled_from([0.0, 1e-3, 1.0]),
    n=st.integers(2, 40),
)
def test_the_objective_never_rises_over_accepted_steps(seed, hidden, task, alpha, n):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    k = int(rng.integers(2, 4)) if task != "squared_error" else int(rng.integers(1, 3))
    output = {"squared_error": "identity", "softmax": "softmax", "sigmoid": "sigmoid"}[task]
    net = _network((d, *hidden, k), "tanh", output, seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10)
    if task == "squared_error":
        Y = rng.standard_normal((n, k))
    else:
        Y = np.eye(k)[rng.integers(0, k, n)]
    _, history, _ = lm.fit(
        InMemory(X, Y), net, lm.LMOptions(alpha=alpha, max_iter=15, tol=0.0, loss=task),
        classification=task != "squared_error",
    )
    objectives = [e["objective"] for e in history]
    assert all(np.isfinite(objectives))
    assert all(b <= a for a, b in zip(objectives, objectives[1:], strict=False))
    for e, before in zip(history[1:], objectives, strict=False):
        # an accepted step lowered it (per sample, rounding may show it as equal); a step
        # with no accepted trial keeps the network and its objective
        assert e["objective"] <= before if e["accepted"] else e["objective"] == before
    assert 1 <= max(e["trials"] for e in history) <= lm.MAX_TRIALS


@pytest.mark.parametrize("tol", [1e-2, 1e-3])
def test_the_fit_stops_when_its_last_steps_gain_little_against_the_start(tol, rng):
    """The ``tol`` rule: the fit stops after the first step at which the last STALL_STEPS
    steps lowered the objective by at most ``tol`` times the start's objective per step,
    and at no earlier step; ``tol=0`` goes on along the same steps."""
    teacher = _network((4, 12, 1), "tanh", "identity", 5)
    X = rng.standard_normal((400, 4))
    y = teacher.forward(X) + 0.3 * rng.standard_normal((400, 1))
    start, alpha = _network((4, 12, 1), "tanh", "identity", 6), 1e-2
    ridge = sum(np.sum(layer.weight**2) for layer in start.layers)
    base = (0.5 * np.sum((start.forward(X) - y) ** 2) + 0.5 * alpha * ridge) / 400
    history = lm.fit(InMemory(X, y), start, lm.LMOptions(alpha=alpha, max_iter=500, tol=tol),
                     classification=False)[1]
    objectives = [base] + [e["objective"] for e in history]
    s = lm.STALL_STEPS
    stalled = [
        i > s and (objectives[i - s] - objectives[i]) / s <= tol * base * (1 + 1e-12)
        for i in range(len(objectives))
    ]
    assert history[-1]["accepted"] and stalled[-1]  # stopped by the rule
    assert not any(stalled[:-1])
    longer = lm.fit(InMemory(X, y), start, lm.LMOptions(alpha=alpha, max_iter=500, tol=0.0),
                    classification=False)[1]
    assert len(longer) > len(history)
    assert [e["objective"] for e in longer[: len(history)]] == objectives[1:]


def test_regressor_fits_a_teacher_network(rng):
    teacher = _network((5, 20, 1), "tanh", "identity", 3)
    X = rng.standard_normal((600, 5))
    y = teacher.forward(X)[:, 0] + 0.01 * rng.standard_normal(600)
    bpls = BPLSRegressor(hidden_layer_sizes=(20,), random_state=0).fit(X[:400], y[:400])
    est = BPLSRegressor(hidden_layer_sizes=(20,), method="lm", alpha=1e-3, random_state=0)
    est.fit(X[:400], y[:400])
    assert est.score(X[400:], y[400:]) > max(0.99, bpls.score(X[400:], y[400:]))
    assert est.n_iter_ == len(est.history_) > 2
    assert "objective" not in est.history_[0]  # the output layer solved first
    assert est.history_[1]["trials"] >= 1


def test_classifier_on_iris_beats_bpls():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    train, test = np.arange(150) % 3 != 0, np.arange(150) % 3 == 0
    for output in ("softmax", "sigmoid"):
        clf = BPLSClassifier(hidden_layer_sizes=(16,), method="lm", output_activation=output,
                             random_state=0).fit(X[train], y[train])
        assert clf.score(X[test], y[test]) >= 0.94
        proba = clf.predict_proba(X[test])
        assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("batch_size", [7, 64])
def test_chunked_fits_equal_the_in_memory_fit(batch_size, rng):
    X = rng.standard_normal((150, 4))
    y = np.arange(150) % 3
    params = dict(hidden_layer_sizes=(6,), method="lm", max_iter=6, random_state=0)
    ref = BPLSClassifier(**params).fit(X, y)
    chunked = BPLSClassifier(batch_size=batch_size, **params).fit(X, y)
    assert_allclose(chunked.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-10)
    assert [e["trials"] for e in chunked.history_[1:]] == [e["trials"] for e in ref.history_[1:]]
    assert chunked.history_[-1]["passes"] > len(chunked.history_)


@pytest.mark.parametrize("batch_size", [11, 90])
def test_chunked_evidence_fits_equal_the_in_memory_fit(batch_size, rng):
    """The penalty re-estimated from chunked sums is the in-memory one, step by step, to the
    rounding of its sums amplified by the condition number of the penalised Gauss–Newton
    matrix's weights block (the re-estimate reads the weights' diagonal of its inverse)."""
    X = rng.standard_normal((200, 3))
    y = np.tanh(X @ [1.0, -1.5, 0.5]) + 0.2 * rng.standard_normal(200)
    params = dict(hidden_layer_sizes=(5,), method="lm", alpha="auto", max_iter=8,
                  random_state=0)
    ref = BPLSRegressor(**params).fit(X, y)
    chunked = BPLSRegressor(batch_size=batch_size, **params).fit(X, y)
    assert all("alpha" in e for e in ref.history_[1:])
    method = lm.LevenbergMarquardt(lm.LMOptions(alpha=ref.alpha_, evidence=True), False)
    curvature = method._curvature(ref.network_)(X, y[:, None], None, 0).JtHJ
    weights = lm._penalty_mask(list(ref.network_.sizes)) == 1
    block = curvature[np.ix_(weights, weights)] + ref.alpha_ * np.eye(int(weights.sum()))
    condition = np.linalg.cond(block)
    rtol = 100 * condition * np.finfo(np.float64).eps
    assert_allclose([e["alpha"] for e in chunked.history_[1:]],
                    [e["alpha"] for e in ref.history_[1:]], rtol=rtol)
    assert_allclose(chunked.predict(X), ref.predict(X), rtol=rtol, atol=rtol * np.abs(y).max())
    assert rtol < 1e-8  # a well-posed case: the bound says something


@pytest.mark.parametrize("loss", ["squared_error", "softmax", "sigmoid"])
def test_the_ledger_counts_what_the_steps_did(loss, rng):
    X = rng.standard_normal((120, 3))
    params = dict(hidden_layer_sizes=(5,), method="lm", max_iter=8, random_state=0)
    if loss == "squared_error":
        est = BPLSRegressor(**params).fit(X, np.sin(X[:, 0]) + X[:, 1] ** 2)
        sizes = [3, 5, 1]
    else:
        est = BPLSClassifier(output_activation=loss, **params).fit(X, np.arange(120) % 3)
        sizes = [3, 5, 3]
    steps = est.history_[1:]
    predicted = lm.count_flops(
        120, sizes, loss, [e["trials"] for e in steps], [e["accepted"] for e in steps]
    )
    assert est.flops_exact_
    assert est.flops_ - est.history_[0]["flops"] == predicted


def test_max_iter_zero_is_the_output_layer_solved(rng):
    """Without steps, the fit is BPLS's solve of the output layer on the initial hidden
    layers, with its training loss."""
    X = rng.standard_normal((80, 3))
    y = np.sin(X[:, 0])
    params = dict(hidden_layer_sizes=(6,), max_iter=0, refit_output=True, random_state=0)
    est = BPLSRegressor(method="lm", **params).fit(X, y)
    ref = BPLSRegressor(method="bpls", **params).fit(X, y)
    for mine, theirs in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_,
                            strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert len(est.history_) == 1
    assert est.loss_ == est.history_[0]["loss"] == pytest.approx(
        np.mean((ref.predict(X) - y) ** 2), rel=1e-12
    )


@pytest.mark.parametrize("method", ["newton", "LM", 3, None])
def test_method_is_validated(method):
    with pytest.raises(ValueError, match="'method' parameter of BPLSRegressor must be one of"):
        BPLSRegressor(method=method).fit(np.ones((4, 2)), np.arange(4.0))


def test_default_steps_depend_on_the_method(rng):
    X = rng.standard_normal((30, 2))
    y = X[:, 0]
    assert BPLSRegressor(max_iter=None)._max_iter() == 10
    assert BPLSRegressor(method="lm")._max_iter() == 200
    est = BPLSRegressor(hidden_layer_sizes=(3,), method="lm", tol=0.0, random_state=0).fit(X, y)
    assert len(est.history_) <= 1 + 200


def test_lm_models_save_load_and_convert(tmp_path, rng):
    import lsqnet

    X = rng.standard_normal((80, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    clf = BPLSClassifier(hidden_layer_sizes=(4,), method="lm", max_iter=5, random_state=0)
    clf.fit(X, y)
    assert clf.coefs_[0].dtype == np.float32  # float32 data keeps float32 weights
    clf.save(tmp_path / "lm.npz")
    loaded = lsqnet.load(tmp_path / "lm.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.method == "lm" and loaded.history_ == clf.history_
    torch = pytest.importorskip("torch")
    out = clf.to_torch()(torch.from_numpy(X)).detach().numpy()
    assert_allclose(out / out.sum(axis=1, keepdims=True), clf.predict_proba(X), atol=1e-5)


def _evidence_fixed_point(X, y, alpha):
    """The penalty of MacKay's evidence approximation for ridge regression with an
    unpenalised intercept, by fixed-point iteration on the centred problem's eigenvalues:
    ``alpha = gamma |e|^2 / ((n - gamma - 1) |w|^2)``, ``gamma = sum l / (l + alpha)``."""
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    values, vectors = np.linalg.eigh(Xc.T @ Xc)
    projected = vectors.T @ (Xc.T @ yc)
    for _ in range(10_000):
        w = vectors @ (projected / (values + alpha))
        gamma = float(np.sum(values / (values + alpha)))
        squares = float(np.sum((yc - Xc @ w) ** 2))
        new = gamma * squares / ((X.shape[0] - gamma - 1) * float(w @ w))
        if abs(new - alpha) <= 1e-14 * alpha:
            break
        alpha = new
    return alpha


def test_the_evidence_penalty_of_a_linear_network_is_mackays_fixed_point(rng):
    """A network without hidden layers is ridge regression: its Levenberg–Marquardt steps
    with ``evidence=True`` reach the penalty at which the evidence approximation is
    stationary, computed independently from the eigenvalues of the centred Gram matrix."""
    X = rng.standard_normal((200, 6)) * [1, 2, 0.5, 3, 1, 0.1]
    y = X @ rng.standard_normal(6) + 0.5 * rng.standard_normal(200) + 3.0
    net = _network((6, 1), "tanh", "identity", 0)
    _, history, _ = lm.fit(
        InMemory(X, y[:, None]), net,
        lm.LMOptions(alpha=50.0, max_iter=60, tol=0.0, evidence=True),
        classification=False,
    )
    expected = _evidence_fixed_point(X, y, 1.0)
    assert_allclose(history[-1]["alpha"], expected, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), hidden=st.lists(st.integers(1, 6), max_size=2),
       n=st.integers(2, 40), alpha=st.sampled_from([1e-3, 1.0, 100.0]))
def test_evidence_steps_lower_the_objective_of_their_own_penalty(seed, hidden, n, alpha):
    """With the penalty re-estimated after every step, each accepted step lowers the
    objective of the penalty it was taken with (recorded as its ``alpha``); the penalty
    changes by at most EVIDENCE_FACTOR per step and stays positive and finite."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    net = _network((d, *hidden, 1), "tanh", "identity", seed)
    X = rng.standard_normal((n, d))
    Y = np.sin(X[:, :1]) + 0.1 * rng.standard_normal((n, 1))
    networks = [net]
    _, history, _ = lm.fit(
        InMemory(X, Y), net, lm.LMOptions(alpha=alpha, max_iter=10, tol=0.0, evidence=True),
        classification=False, monitor=lambda entry, network: networks.append(network),
    )

    def objective(network, penalty):
        ridge = sum(np.sum(layer.weight**2) for layer in network.layers)
        return (0.5 * np.sum((network.forward(X) - Y) ** 2) + 0.5 * penalty * ridge) / n

    alphas = [alpha] + [e["alpha"] for e in history]
    for before, after, entry in zip(networks[:-1], networks[1:], history, strict=True):
        assert_allclose(objective(after, entry["alpha"]), entry["objective"], rtol=1e-9)
        assert entry["objective"] <= objective(before, entry["alpha"]) * (1 + 1e-12)
        assert entry["accepted"] or after is before
    ratios = np.array(alphas[1:]) / np.array(alphas[:-1])
    assert np.all(np.isfinite(alphas)) and min(alphas) > 0
    assert np.all(ratios <= lm.EVIDENCE_FACTOR * (1 + 1e-12))
    assert np.all(ratios >= 1 / lm.EVIDENCE_FACTOR * (1 - 1e-12))


def test_the_ledger_counts_the_evidence_steps(rng):
    X = rng.standard_normal((150, 3))
    Y = (np.sin(X[:, 0]) + X[:, 1] ** 2)[:, None]
    net = _network((3, 6, 1), "tanh", "identity", 1)
    _, history, ledger = lm.fit(
        InMemory(X, Y), net, lm.LMOptions(alpha=1.0, max_iter=8, tol=0.0, evidence=True),
        classification=False,
    )
    predicted = lm.count_flops(150, [3, 6, 1], "squared_error", [e["trials"] for e in history],
                               [e["accepted"] for e in history], evidence=True)
    with _flops.counting() as start:  # the fit's first forward pass, before its steps
        net.forward_all(X)
    assert ledger.exact and ledger.total == start.total + predicted


def test_evidence_is_for_the_squared_error():
    with pytest.raises(ValueError, match="evidence=True.*loss='softmax' needs evidence=False"):
        lm.LMOptions(loss="softmax", evidence=True)


def test_the_recommended_regressor_re_estimates_its_penalty_and_classifiers_keep_theirs(rng):
    X = rng.standard_normal((300, 4))
    y = np.tanh(X @ [1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.standard_normal(300)
    from lsqnet import LSQClassifier, LSQRegressor

    reg = LSQRegressor(random_state=0).fit(X, y)
    assert reg.method_ == "lm" and reg.alpha_ == reg.history_[-1]["alpha"]
    fixed = LSQRegressor(alpha=reg.alphas_, random_state=0).fit(X, y)  # candidates: no evidence
    assert "alpha" not in fixed.history_[-1] and fixed.alpha_ in fixed.alphas_
    clf = LSQClassifier(random_state=0).fit(X, y > 0)
    assert "alpha" not in clf.history_[-1] and clf.alpha_ in clf.alphas_
