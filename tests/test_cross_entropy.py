"""The output layer fitted to the cross-entropy by least squares (``output_iter``,
:func:`lsqnet.bpls.refine_output`).

References: scikit-learn's ``LogisticRegression`` (lbfgs, tolerance 1e-12) minimises the same
penalised cross-entropy for a single-layer network: the multinomial one for a softmax output
(``C = 1 / (alpha / 2)``) and one binary problem per output for a sigmoid output
(``C = 1 / (alpha / 4)``). After enough steps (the convergence is linear) the probabilities
agree to 1e-5. Hypothesis checks that the penalised cross-entropy never increases, whatever
the data, widths and ridge; ``count_flops`` predicts the ledger exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from lsqnet import BPLSClassifier, BPLSRegressor, count_flops
from lsqnet.bpls import CURVATURE_BOUNDS, cross_entropy
from lsqnet.exceptions import SolverFallbackWarning


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500] / 16.0, y[:500]


def penalised_objective(est, X, Y):
    """The objective refine_output minimises, from the fitted network alone."""
    P = est.network_.forward(X)
    W = est.coefs_[-1]
    beta = CURVATURE_BOUNDS[est.output_activation]
    return cross_entropy(P, Y, est.output_activation) + est.alpha * beta * np.sum(W * W) / (
        2 * X.shape[0]
    )


@pytest.mark.parametrize("alpha", [1.0, 10.0])
def test_softmax_output_equals_multinomial_logistic_regression(digits, alpha):
    X, y = digits
    est = BPLSClassifier(
        hidden_layer_sizes=(), output_activation="softmax", alpha=alpha, output_iter=2000,
        tol=0.0,
    ).fit(X, y)
    ref = LogisticRegression(C=1 / (alpha * 0.5), tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert np.mean(est.predict(X) == ref.predict(X)) == 1.0


def test_sigmoid_outputs_equal_binary_logistic_regressions(digits):
    X, y = digits
    alpha = 4.0
    est = BPLSClassifier(
        hidden_layer_sizes=(), output_activation="sigmoid", alpha=alpha, output_iter=2000,
        tol=0.0,
    ).fit(X, y)
    out = est.network_.forward(X)
    for k in (0, 3, 8):
        ref = LogisticRegression(C=1 / (alpha * 0.25), tol=1e-12, max_iter=10_000)
        ref.fit(X, y == k)
        np.testing.assert_allclose(out[:, k], ref.predict_proba(X)[:, 1], atol=1e-5)


def test_refinement_improves_on_least_squares_and_returns_the_last_step(digits):
    X, y = digits
    base = dict(hidden_layer_sizes=(64,), activation="relu", init="samples", max_iter=0,
                refit_output=True, output_activation="softmax", alpha=1.0, random_state=0)
    ls = BPLSClassifier(**base).fit(X, y)
    ce = BPLSClassifier(**base, output_iter=5, tol=0.0).fit(X, y)
    Y = np.eye(10)[y]
    assert penalised_objective(ce, X, Y) < 0.75 * penalised_objective(ls, X, Y)  # 0.19 vs 0.36
    np.testing.assert_array_equal(ce.coefs_[0], ls.coefs_[0])  # only the output layer moves
    assert len(ce.history_) == len(ls.history_) + 5 == ce.n_iter_
    assert [h["layers"] for h in ce.history_[-5:]] == [1] * 5
    last = ce.network_.forward(X)
    assert ce.loss_ == pytest.approx(np.mean((last - Y) ** 2), rel=1e-10)
    assert ce.history_[-1]["accuracy"] == pytest.approx(ce.score(X, y), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 80), d=st.integers(1, 6), h=st.integers(1, 12), k=st.integers(2, 4),
    alpha=st.sampled_from([0.01, 1.0, 30.0]), out=st.sampled_from(["softmax", "sigmoid"]),
    seed=st.integers(0, 2**16),
)
def test_penalised_cross_entropy_never_increases(n, d, h, k, alpha, out, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.arange(n) % k
    Y = np.eye(k)[y]
    values = []

    def monitor(entry, network):
        P = network.forward(X)
        W = network.layers[-1].weight
        beta = CURVATURE_BOUNDS[out]
        values.append(cross_entropy(P, Y, out) + alpha * beta * np.sum(W * W) / (2 * n))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        BPLSClassifier(
            hidden_layer_sizes=(h,), max_iter=0, refit_output=True, output_activation=out,
            alpha=alpha, output_iter=6, tol=0.0, random_state=seed,
        ).fit(X, y, monitor=monitor)
    steps = values[1:]  # after the least-squares refit
    assert all(b <= a * (1 + 1e-9) + 1e-12 for a, b in zip(steps, steps[1:], strict=False))


def test_tol_stops_the_steps(digits):
    X, y = digits
    est = BPLSClassifier(
        hidden_layer_sizes=(), output_activation="softmax", output_iter=500, tol=1e-3
    ).fit(X, y)
    assert 1 <= len(est.history_) - 1 < 500


@pytest.mark.parametrize(("sizes", "params"), [
    ((), dict(max_iter=2)),
    ((), dict(max_iter=0, refit_output=True)),
    ((), dict(max_iter=1, iteration_rule="misclassified")),
    ((9,), dict(max_iter=0, refit_output=True, activation="relu", init="patches",
                image_shape=(4, 4))),
    ((9,), dict(max_iter=0, refit_output=True, activation="relu", init="contrasts",
                image_shape=(4, 4))),
    ((9,), dict(max_iter=2)),
    ((7, 5), dict(max_iter=1, refit_output=True)),
])
@pytest.mark.parametrize("out", ["softmax", "sigmoid"])
def test_count_flops_with_output_iter(digits, sizes, params, out):
    X, y = digits
    X = X[:, :16]  # 16 features: 4 x 4 pixels for the image maps
    est = BPLSClassifier(
        hidden_layer_sizes=sizes, output_activation=out, output_iter=3, tol=0.0, alpha=1.0,
        random_state=0, **params,
    ).fit(X, y)
    assert est.flops_exact_
    n_layers = len(sizes) + 1
    sweeps = [h["n_samples"] for h in est.history_ if h["layers"] == n_layers]
    if n_layers == 1:  # a single layer's sweeps and steps both solve one layer
        sweeps = sweeps[: est.max_iter]
    predicted = count_flops(
        sweeps if sweeps else X.shape[0], (16, *sizes, 10), n_iter=len(sweeps),
        n_train=X.shape[0], alpha=1.0,
        activations=[est.activation] * len(sizes) + [out], classification=True,
        reuse_first_gram=est.iteration_rule == "all", refit_output=est.refit_output,
        output_iter=3, init=est.init, image_shape=est.image_shape,
        trials=[h["trials"] for h in est.history_ if "trials" in h],  # sweeps' and refit's
    )
    assert predicted == est.flops_


@pytest.mark.parametrize(("make", "match"), [
    (lambda: BPLSRegressor(output_iter=2), "output_iter.*'sigmoid' or 'softmax'"),
    (lambda: BPLSClassifier(output_iter=-1), "output_iter"),
    (lambda: BPLSClassifier(output_iter=1.5), "output_iter"),
])
def test_bad_output_iter(digits, make, match):
    X, y = digits
    with pytest.raises((ValueError, TypeError), match=match):
        make().fit(X, y)


def test_partial_fit_refuses_output_iter(digits):
    X, y = digits
    est = BPLSClassifier(hidden_layer_sizes=(), output_iter=2)
    with pytest.raises(ValueError, match="partial_fit.*output_iter=2"):
        est.partial_fit(X, y, classes=np.arange(10))
    assert not hasattr(est, "network_")


def test_regressor_with_sigmoid_output():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = 1 / (1 + np.exp(-(X @ np.array([2.0, -1.0, 0.5]))))  # probabilities: a soft target
    est = BPLSRegressor(
        hidden_layer_sizes=(), output_activation="sigmoid", alpha=1e-6, output_iter=200,
        tol=0.0,
    ).fit(X, y)
    np.testing.assert_allclose(est.coefs_[0][:, 0], [2.0, -1.0, 0.5], rtol=1e-3)


@pytest.mark.parametrize("params", [
    dict(hidden_layer_sizes=(), max_iter=1),
    dict(hidden_layer_sizes=(), max_iter=0, refit_output=True, iteration_rule="misclassified"),
    dict(hidden_layer_sizes=(24,), activation="relu", init="samples", max_iter=0,
         refit_output=True),
    dict(hidden_layer_sizes=(12, 8), max_iter=2),
], ids=str)
@pytest.mark.parametrize("out", ["softmax", "sigmoid"])
def test_batch_size_equals_in_memory(digits, params, out):
    X, y = digits
    kwargs = dict(output_activation=out, output_iter=4, tol=0.0, random_state=0, **params)
    ref = BPLSClassifier(**kwargs).fit(X, y)
    est = BPLSClassifier(batch_size=128, **kwargs).fit(X, y)
    for u, v in zip(ref.coefs_ + ref.intercepts_, est.coefs_ + est.intercepts_, strict=True):
        np.testing.assert_allclose(v, u, rtol=0, atol=1e-8 * max(np.abs(u).max(), 1.0))
    assert len(est.history_) == len(ref.history_)
    np.testing.assert_allclose(
        [h["loss"] for h in est.history_], [h["loss"] for h in ref.history_], rtol=1e-9
    )
    assert [h["accuracy"] for h in est.history_] == [h["accuracy"] for h in ref.history_]
    assert est.loss_ == pytest.approx(ref.loss_, rel=1e-9)


def test_steps_after_recomputed_statistics():
    """float32 data whose plain statistics the Cholesky check rejects (large column means)
    are solved from statistics around the columns' means; the steps then take cross terms
    around the same shift, and land where the float64 fit's do."""
    rng = np.random.default_rng(0)
    X = (300.0 + rng.random((20000, 30))).astype(np.float32)
    y = ((X.astype(np.float64) - 300.5) @ rng.standard_normal(30) > 0).astype(int)
    params = dict(hidden_layer_sizes=(), output_activation="softmax", alpha=1.0, max_iter=0,
                  refit_output=True, output_iter=3, tol=0.0)
    with pytest.warns(SolverFallbackWarning, match="recomputed around the columns' means"):
        est = BPLSClassifier(dtype="float32", **params).fit(X, y)
    ref = BPLSClassifier(dtype="float64", **params).fit(X.astype(np.float64), y)
    assert est.coefs_[0].dtype == np.float32 and est.solver_ == "cholesky"
    # The steps' pre-activations are float32 products of uncentred inputs: each carries a
    # rounding error of about eps * sqrt(d) * |mean| |W|, against an informative part of about
    # std |W|. The fit is accurate to c * eps * sqrt(d) * max|mean| / min(std) (5.5e-3 here,
    # with c = 8; the error measured stays below 3.5 * eps * sqrt(d) * max|mean| / min(std)
    # for column means 100 to 1000, over OpenBLAS's kernels and thread counts).
    X64 = X.astype(np.float64)
    kappa = np.abs(X64.mean(axis=0)).max() / X64.std(axis=0).min()
    rtol = 8 * np.finfo(np.float32).eps * np.sqrt(X.shape[1]) * kappa
    np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=0,
                               atol=rtol * np.abs(ref.coefs_[0]).max())
    Z_ref = X64 @ ref.coefs_[0] + ref.intercepts_[0]
    Z = X64 @ est.coefs_[0].astype(np.float64) + est.intercepts_[0].astype(np.float64)
    atol = rtol * np.abs(Z_ref).max()
    np.testing.assert_allclose(Z, Z_ref, rtol=0, atol=atol)
    # so the predicted classes differ only where the float64 fit's logits are that close
    differ = est.predict(X) != ref.predict(X)
    assert np.all(np.abs(Z_ref[differ, 1] - Z_ref[differ, 0]) <= 2 * atol)
