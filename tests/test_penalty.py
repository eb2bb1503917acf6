"""The ridge penalty chosen by cross-validation: ``alpha="auto"`` or a list of candidates.

References: scikit-learn's ``RidgeCV`` (the same leave-one-out residuals, the same choice,
the same coefficients), leave-one-out by refitting ``Ridge`` without each row, and the
generalised cross-validation score computed from an explicit hat matrix.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge, RidgeCV

from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet.solvers import GramStats
from lsqnet.solvers._loo import DEFAULT_ALPHAS, RidgePath

EPS = np.finfo(np.float64).eps


def _regression(n=300, d=8, k=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    Y = X @ rng.normal(size=(d, k)) + 2.0 * rng.normal(size=(n, k))
    return X, (Y[:, 0] if k == 1 else Y)


def _tolerance(X, alpha):
    """Relative agreement to expect between two solvers of one ridge problem: the condition
    number of the regularised centred Gram matrix times a few rounding units per entry."""
    Xc = X - X.mean(axis=0)
    evals = np.linalg.eigvalsh(Xc.T @ Xc)
    return 100 * X.shape[1] * EPS * (evals[-1] + alpha) / (evals[0] + alpha)


def _single_layer(alpha, **kw):
    return BPLSRegressor(hidden_layer_sizes=(), alpha=alpha, max_iter=0, refit_output=True, **kw)


@pytest.mark.parametrize("k", [1, 3])
def test_candidates_give_ridgecvs_choice_and_coefficients(k):
    X, y = _regression(k=k)
    alphas = np.logspace(-3, 4, 30)
    model = _single_layer(alphas).fit(X, y)
    reference = RidgeCV(alphas=alphas, store_cv_results=True).fit(X, y)
    assert model.alpha_ == reference.alpha_
    rtol = _tolerance(X, reference.alpha_)
    coef = model.coefs_[0][:, 0] if k == 1 else model.coefs_[0]
    np.testing.assert_allclose(coef, reference.coef_.T, rtol=rtol, atol=rtol * np.abs(coef).max())
    np.testing.assert_allclose(model.intercepts_[0], np.atleast_1d(reference.intercept_),
                               rtol=rtol, atol=rtol * np.abs(y).max())
    # RidgeCV's stored squared errors, averaged over rows and targets: each candidate's error
    cv = reference.cv_results_.reshape(X.shape[0], -1, len(alphas)).mean(axis=(0, 1))
    np.testing.assert_allclose(model.cv_errors_, cv, rtol=1e-9)
    np.testing.assert_array_equal(model.alphas_, alphas)


def test_auto_candidates_follow_the_data_scale_and_match_ridgecv():
    X, y = _regression()
    for scale in (1.0, 1e3):
        model = _single_layer("auto").fit(X * scale, y)
        Xc = X * scale - (X * scale).mean(axis=0)
        mean_eigenvalue = np.trace(Xc.T @ Xc) / X.shape[1]
        np.testing.assert_allclose(model.alphas_, mean_eigenvalue * np.array(DEFAULT_ALPHAS),
                                   rtol=1e-10)
        reference = RidgeCV(alphas=model.alphas_).fit(X * scale, y)
        assert model.alpha_ == reference.alpha_
        assert model.alpha_ == model.alphas_[np.argmin(model.cv_errors_)]
    assert not model.flops_exact_  # the eigendecomposition's count depends on the data


def test_a_number_alpha_is_its_own_alpha_():
    X, y = _regression()
    model = _single_layer(0.5).fit(X, y)
    assert (model.alpha_, model.alphas_, model.cv_errors_) == (0.5, None, None)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(4, 25), d=st.integers(1, 6), k=st.integers(1, 3),
    weighted=st.booleans(), seed=st.integers(0, 2**16),
)
def test_leave_one_out_errors_equal_refits_without_each_row(n, d, k, weighted, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    Y = rng.normal(size=(n, k))
    w = rng.uniform(0.2, 2.0, size=n) if weighted else None
    alphas = np.array([0.01, 0.3, 5.0])
    path = RidgePath.from_stats(GramStats.from_data(X, Y, w), alphas)
    errors = path.loo_errors(X, Y, w)
    weights = np.ones(n) if w is None else w
    for j, alpha in enumerate(alphas):
        total = 0.0
        for i in range(n):
            keep = np.arange(n) != i
            ridge = Ridge(alpha=alpha).fit(X[keep], Y[keep], sample_weight=weights[keep])
            total += weights[i] * np.sum((Y[i] - ridge.predict(X[i : i + 1])[0]) ** 2)
        cond = _tolerance(X * np.sqrt(weights)[:, None], alpha)
        assert errors[j] == pytest.approx(total, rel=max(cond, 1e-9), abs=1e-12)


def test_generalised_cross_validation_equals_the_hat_matrix_formula():
    X, y = _regression(n=120, d=5)
    alphas = np.logspace(-2, 3, 8)
    errors = RidgePath.from_stats(GramStats.from_data(X, y[:, None]), alphas).gcv_errors()
    n = X.shape[0]
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    for alpha, error in zip(alphas, errors, strict=True):
        hat = Xc @ np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T) + 1.0 / n
        rss = np.sum((yc - (hat - 1.0 / n) @ yc) ** 2)
        assert error == pytest.approx(rss / (1 - np.trace(hat) / n) ** 2, rel=1e-9)


def test_partial_fit_chooses_by_generalised_cross_validation_of_the_chunks_so_far():
    X, y = _regression(n=400)
    alphas = np.logspace(-2, 4, 13)
    model = BPLSRegressor(hidden_layer_sizes=(), alpha=alphas)
    for rows in np.array_split(np.arange(400), 4):
        model.partial_fit(X[rows], y[rows])
    errors = RidgePath.from_stats(GramStats.from_data(X, y[:, None]), alphas).gcv_errors()
    assert model.alpha_ == alphas[np.argmin(errors)]
    reference = Ridge(alpha=model.alpha_).fit(X, y)
    rtol = _tolerance(X, model.alpha_)
    np.testing.assert_allclose(model.coefs_[0][:, 0], reference.coef_, rtol=rtol,
                               atol=rtol * np.abs(reference.coef_).max())


@pytest.mark.parametrize("hidden", [(), (12,)])
def test_chunked_and_dask_fits_choose_as_the_fit_in_memory(hidden):
    da = pytest.importorskip("dask.array")
    X, y = _regression(n=500, d=6)
    params = dict(hidden_layer_sizes=hidden, alpha="auto", random_state=0, init="uniform")
    memory = BPLSRegressor(**params).fit(X, y)
    chunked = BPLSRegressor(**params, batch_size=128).fit(X, y)
    dask = BPLSRegressor(**params).fit(da.from_array(X, chunks=(100, 6)),
                                       da.from_array(y, chunks=100))
    for other in (chunked, dask):
        # the candidates scale with the Gram matrix's trace, summed in another order
        assert other.alpha_ == pytest.approx(memory.alpha_, rel=1e-12)
        assert np.argmin(other.cv_errors_) == np.argmin(memory.cv_errors_)
        np.testing.assert_allclose(other.cv_errors_, memory.cv_errors_, rtol=1e-10)
        np.testing.assert_allclose(other.predict(X), memory.predict(X), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("method", ["bpls", "lm"])
def test_the_chosen_penalty_is_the_one_every_layer_trains_with(method):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    params = dict(hidden_layer_sizes=(8,), method=method, max_iter=5, random_state=0)
    model = BPLSClassifier(alpha="auto", **params).fit(X, y)
    assert model.alpha_ in model.alphas_
    assert model.alpha_ == model.alphas_[np.argmin(model.cv_errors_)]
    fixed = BPLSClassifier(alpha=model.alpha_, **params).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), fixed.predict_proba(X))


@pytest.mark.parametrize("alpha", ["best", [], [1.0, -1.0], [[1.0, 2.0]], [np.nan], [0.0]])
def test_bad_alpha_is_refused_naming_what_is_accepted(alpha):
    X, y = _regression(n=20, d=2)
    with pytest.raises(ValueError, match="'alpha' parameter of BPLSRegressor must be a float"):
        BPLSRegressor(alpha=alpha).fit(X, y)



def test_weighted_candidates_give_ridgecvs_weighted_choice():
    X, y = _regression(k=2)
    w = np.random.default_rng(3).uniform(0.0, 3.0, size=X.shape[0])
    alphas = np.logspace(-3, 4, 30)
    model = _single_layer(alphas).fit(X, y, sample_weight=w)
    reference = RidgeCV(alphas=alphas).fit(X, y, sample_weight=w)
    assert model.alpha_ == reference.alpha_
    rtol = _tolerance(X * np.sqrt(w)[:, None], reference.alpha_)
    np.testing.assert_allclose(model.coefs_[0], reference.coef_.T, rtol=rtol,
                               atol=rtol * np.abs(reference.coef_).max())


def test_units_that_predict_nothing_leave_trained_networks_the_middle_candidate():
    from lsqnet.layers import Dense
    from lsqnet.network import Network
    from lsqnet.training.penalty import choose_alpha
    from lsqnet.training.sources import InMemory

    rng = np.random.default_rng(0)
    half = rng.normal(size=(200, 2))
    X = np.vstack([half, -half])  # symmetric: odd units are uncorrelated with even targets
    Y = (X[:, :1] ** 2 - 1.0)
    hidden = Dense(rng.normal(size=(2, 6)), np.zeros(6), "tanh")  # odd units
    network = Network((hidden, Dense(np.zeros((6, 1)), np.zeros(1), "identity")))
    alphas = np.logspace(-2, 4, 7)
    fixed = choose_alpha(InMemory(X, Y), network, alphas, 0.01)
    trained = choose_alpha(InMemory(X, Y), network, alphas, 0.01, trained_units=True)
    assert fixed.alpha == alphas[-1]  # the mean predicts best
    assert trained.alpha == alphas[3]
    np.testing.assert_array_equal(fixed.errors, trained.errors)


@pytest.mark.parametrize(("errors", "expected"), [
    ([5.0, 3.0, 4.0], True),               # a middle candidate predicts better than the mean
    ([3.0, 4.0, 4.0], True),               # the smallest candidate does, by 25 %
    ([21.64, 21.13, 21.1377], False),      # 0.04 % below the largest: nothing predicted
    ([21.64, 21.20, 21.1377], False),      # the largest wins
])
def test_initial_units_are_informative_when_a_penalty_beats_the_largest_by_a_percent(
        errors, expected):
    from lsqnet.training.penalty import NO_SIGNAL, informative

    alphas = [0.1, 10.0, 1000.0]
    assert informative(alphas, errors) is expected
    assert informative(alphas[::-1], errors[::-1]) is expected  # the order is the alphas'
    assert informative([1.0], [3.0])
    largest = errors[-1]
    assert informative(alphas, [largest * (1 - 2 * NO_SIGNAL), largest, largest])
    assert not informative(alphas, [largest * (1 - NO_SIGNAL / 2), largest, largest])
    assert not informative(alphas, [np.nan, np.nan, np.nan])  # nothing to compare
    assert informative(alphas, [3.0, 4.0, np.inf])  # the largest cannot be left out
    assert not informative(alphas, [np.nan, largest, largest])  # the finite ones compared


def test_units_that_predict_nothing_train_with_the_middle_candidate():
    """make_circles' label is even in the inputs, and the odd part of 32 initial tanh units
    predicts nothing of it: on the tabular suite's validation split of seed 0 the best
    candidate is 0.04 % below the largest's leave-one-out error. Trained units start from
    the middle candidate instead (the near-largest one trains the network to a constant:
    chance accuracy)."""
    from sklearn.preprocessing import StandardScaler

    from lsqnet import LSQClassifier
    from lsqnet.bench.tabular import train_validation_test
    from lsqnet.training.penalty import informative

    part = train_validation_test("circles", 0)
    scaler = StandardScaler().fit(part.X_fit)
    X, X_val = scaler.transform(part.X_fit), scaler.transform(part.X_val)
    clf = LSQClassifier(random_state=0).fit(X, part.y_fit)
    assert not informative(clf.alphas_, clf.cv_errors_)
    assert clf.alpha_ == np.sort(clf.alphas_)[len(clf.alphas_) // 2]
    assert clf.alpha_ != clf.alphas_[np.argmin(clf.cv_errors_)]
    assert clf.score(X_val, part.y_val) > 0.8
