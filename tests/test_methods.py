"""The estimators' ``method``: which training method a fit uses, ``"auto"``'s choice by size,
and what each refuses with advice that works."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris

import lsqnet
from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet.estimators._base import LM_MAX_PARAMETERS
from lsqnet.training.levenberg_marquardt import n_parameters


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


def test_auto_picks_levenberg_marquardt_for_small_networks():
    X, y = load_iris(return_X_y=True)
    clf = BPLSClassifier(method="auto", random_state=0).fit(X, y)  # 4-100-3: 803 parameters
    assert n_parameters((4, 100, 3)) <= LM_MAX_PARAMETERS
    assert clf.method_ == "lm" and "trials" in clf.history_[-1]
    assert clf.score(X, y) > 0.95


def test_auto_picks_kronecker_steps_for_wider_networks(digits):
    X, y = digits
    assert n_parameters((64, 100, 10)) > LM_MAX_PARAMETERS
    clf = BPLSClassifier(method="auto", random_state=0).fit(X, y)
    assert clf.method_ == "kfac" and "retries" in clf.history_[0]
    # streamed data and regressions too
    chunked = BPLSClassifier(method="auto", batch_size=200, random_state=0).fit(X, y)
    assert chunked.method_ == "kfac"
    reg = BPLSRegressor(method="auto", random_state=0).fit(X, y.astype(float))
    assert reg.method_ == "kfac"


@pytest.mark.parametrize(("budget", "expected"), [(10**7, "lm"), (10**6, "kfac")])
def test_auto_weighs_a_levenberg_marquardt_steps_cost(budget, expected, monkeypatch):
    from lsqnet.estimators import _base

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    y = np.tanh(X[:, 0]) + 0.1 * rng.normal(size=500)
    step = 2 * 500 * 1 * n_parameters((5, 8, 1)) ** 2  # 2 n k p^2 = 3,249,000
    assert 10**6 < step < 10**7
    monkeypatch.setattr(_base, "LM_MAX_STEP_FLOPS", budget)
    reg = BPLSRegressor(hidden_layer_sizes=(8,), method="auto", max_iter=2).fit(X, y)
    assert reg.method_ == expected
    chunked = BPLSRegressor(hidden_layer_sizes=(8,), method="auto", max_iter=2,
                            batch_size=100).fit(X, y)
    assert chunked.method_ == expected


@pytest.mark.parametrize("method", ["bpls", "lm", "kfac"])
def test_every_method_fits_saves_and_loads(method, digits, tmp_path):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8,), method=method, output_activation="softmax",
                         random_state=0).fit(X, y)
    assert clf.method_ == method
    assert clf.score(X, y) > 0.6
    clf.save(tmp_path / "model.npz")
    loaded = lsqnet.load(tmp_path / "model.npz")
    assert loaded.method_ == method
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_kfac_needs_a_hidden_layer(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(\) has none.*method='bpls'"):
        BPLSClassifier(method="kfac", hidden_layer_sizes=()).fit(X, y)
    BPLSClassifier(method="bpls", hidden_layer_sizes=()).fit(X, y)


def test_a_failed_method_leaves_a_fitted_model_as_it_was(digits):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8,), method="lm", random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(method="kfac", hidden_layer_sizes=())
    with pytest.raises(ValueError):
        clf.fit(X, y)
    assert clf.method_ == "lm"
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def _options_passed(monkeypatch, module):
    """The options each call of ``module.fit`` receives, recorded as the fit runs."""
    seen, fit = [], module.fit

    def recording(source, network, opts, **kwargs):
        seen.append(opts)
        return fit(source, network, opts, **kwargs)

    monkeypatch.setattr(module, "fit", recording)
    return seen


def test_method_options_reach_the_kronecker_steps(digits, monkeypatch):
    from lsqnet.training import kfac

    X, y = digits
    seen = _options_passed(monkeypatch, kfac)
    options = {"batch_size": 50, "batches_per_step": 2, "step_size": 0.01, "output_iter": 0}
    clf = BPLSClassifier(hidden_layer_sizes=(16,), method="kfac", max_iter=3, alpha=0.5,
                         tol=0.0, method_options=options, random_state=0).fit(X, y)
    (opts,) = seen
    assert (opts.batch_size, opts.batches_per_step, opts.step_size, opts.output_iter) == (
        50, 2, 0.01, 0
    )
    assert (opts.alpha, opts.max_iter, opts.tol) == (0.5, 3, 0.0)  # the estimator's own
    assert all("retries" in entry for entry in clf.history_)  # no final cross-entropy steps
    assert options == {"batch_size": 50, "batches_per_step": 2, "step_size": 0.01,
                       "output_iter": 0}  # not modified
    # two mini-batches of 50 rows a step cost less than a pass over the 600 rows
    full = BPLSClassifier(hidden_layer_sizes=(16,), method="kfac", max_iter=3, alpha=0.5,
                          tol=0.0, random_state=0).fit(X, y)
    assert clf.flops_ < full.flops_


def test_method_options_reach_levenberg_marquardt(monkeypatch):
    from lsqnet.training import levenberg_marquardt

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(200)
    seen = _options_passed(monkeypatch, levenberg_marquardt)
    reg = lsqnet.LSQRegressor(method_options={"evidence": False}, random_state=0).fit(X, y)
    assert seen[-1].evidence is False and reg.method_ == "lm"
    assert all("alpha" not in entry for entry in reg.history_)  # the penalty chosen once
    assert reg.alpha_ == seen[-1].alpha
    lsqnet.LSQRegressor(random_state=0).fit(X, y)
    assert seen[-1].evidence is True  # the recommended regressor's default


@pytest.mark.parametrize(("params", "error", "match"), [
    ({"method": "kfac", "method_options": [("batch_size", 5)]}, TypeError,
     r"'method_options' parameter of BPLSClassifier must be a dict .* Got \[\('batch_size'"),
    ({"method": "kfac", "method_options": {"max_iter": 5}}, ValueError,
     r"cannot set 'max_iter': the estimator sets it from its 'max_iter' parameter\. Remove "
     r"it from method_options and set max_iter= on the estimator"),
    ({"method": "lm", "method_options": {"loss": "softmax"}}, ValueError,
     r"cannot set 'loss': the estimator sets it from its 'output_activation' parameter"),
    ({"method": "kfac", "method_options": {"lr": 0.1}}, ValueError,
     r"not options of the training method: \['lr'\]; method='kfac' accepts \['batch_size'"),
    ({"method": "bpls", "method_options": {"batch_size": 5}}, ValueError,
     r"method='bpls' takes its settings from the estimator's parameters and accepts no "
     r"method_options; use method_options=None"),
    ({"method": "auto", "method_options": {"lr": 0.1}}, ValueError,
     r"the methods method='auto' may choose accept \['batch_size'"),
    ({"method": "auto", "method_options": {"batch_size": 5}}, ValueError,
     r"method='auto' chose 'lm' for these data, which accepts \['evidence'\]; set method="),
    ({"method": "kfac", "method_options": {"batch_size": 0}}, ValueError,
     r"invalid for method='kfac': KFACOptions: batch_size must be an integer >= 1 or None; "
     r"got 0"),
    ({"method": "lm", "method_options": {"evidence": True}}, ValueError,
     r"invalid for method='lm': LMOptions: evidence=True .* needs evidence=False"),
    ({"method": "lm", "method_options": {"evidence": 1}}, ValueError,
     r"invalid for method='lm': LMOptions: evidence must be a bool; got 1"),
    ({"method": "kfac", "output_iter": 2, "method_options": {"output_iter": 0}}, ValueError,
     r"output_iter=2 and method_options' output_iter=0 both set .* give one"),
], ids=lambda v: str(v)[:40] if isinstance(v, dict) else None)
def test_method_options_are_checked(params, error, match):
    X, y = load_iris(return_X_y=True)
    clf = BPLSClassifier(hidden_layer_sizes=(3,), random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(output_activation="softmax", **params)
    with pytest.raises(error, match=match):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.method_ == "bpls"


@pytest.mark.parametrize("method", ["lm", "kfac"])
def test_singular_curvature_and_dead_units_give_finite_weights(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    X = np.hstack([X, X[:, :1]])  # a duplicate column: a singular Gauss-Newton matrix
    y = np.arange(50) % 2
    for params in ({}, {"activation": "relu", "init_scale": 1e-3}):  # nearly dead units
        clf = BPLSClassifier(method=method, hidden_layer_sizes=(5,), random_state=0, **params)
        clf.fit(X, y)
        assert all(np.isfinite(W).all() for W in clf.coefs_ + clf.intercepts_)
        objectives = [e["objective"] for e in clf.history_ if "objective" in e]
        assert all(b <= a for a, b in zip(objectives, objectives[1:], strict=False))


@pytest.mark.parametrize("method", ["lm", "kfac"])
def test_max_iter_zero_advice_works_for_every_method(method):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="refit_output=True to solve only the output layer"):
        BPLSClassifier(method=method, max_iter=0).fit(X, y)
    clf = BPLSClassifier(method=method, max_iter=0, refit_output=True, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.5


def test_kfac_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 samples; got 1"):
        BPLSRegressor(method="kfac", hidden_layer_sizes=(3,)).fit(np.ones((1, 2)), [1.0])
    est = BPLSRegressor(method="lm", hidden_layer_sizes=(3,)).fit(np.ones((1, 2)), [1.0])
    assert np.isfinite(est.predict(np.ones((1, 2)))).all()


def test_scikit_learn_spellings_and_attributes(capsys):
    """activation="logistic" is the sigmoid, verbose=True prints each step, predict_log_proba
    is the log of predict_proba, loss_curve_ the recorded objectives (as MLPClassifier's)."""
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    logistic = BPLSClassifier(activation="logistic", **params).fit(X, y)
    sigmoid = BPLSClassifier(activation="sigmoid", **params).fit(X, y)
    np.testing.assert_array_equal(logistic.predict_proba(X), sigmoid.predict_proba(X))
    assert logistic.get_params()["activation"] == "logistic"  # the parameter as given
    np.testing.assert_allclose(logistic.predict_log_proba(X), np.log(logistic.predict_proba(X)))
    assert logistic.loss_curve_ == [e["objective"] for e in logistic.history_]
    curve = logistic.loss_curve_
    assert all(b <= a for a, b in zip(curve, curve[1:], strict=False))
    capsys.readouterr()
    BPLSClassifier(verbose=True, **params).fit(X, y)
    assert capsys.readouterr().out.count("Iteration") >= 1
    BPLSClassifier(verbose=False, **params).fit(X, y)
    assert capsys.readouterr().out == ""
    assert not hasattr(BPLSClassifier(), "loss_curve_")  # not fitted
    with pytest.raises(ValueError, match="'activation' parameter.*'logistic'"):
        BPLSClassifier(activation="logit").fit(X, y)


@pytest.mark.parametrize("method", ["bpls", "lm"])
def test_warm_start_continues_the_previous_network(method):
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    params = dict(hidden_layer_sizes=(6,), method=method, max_iter=3, random_state=0)
    cold = BPLSClassifier(**params).fit(X, y)
    warm = BPLSClassifier(warm_start=True, **params).fit(X, y)
    first = warm.loss_curve_[-1]
    warm.fit(X, y)  # continues: never above where the first fit ended
    assert warm.loss_curve_[0] <= first
    np.testing.assert_array_equal(cold.loss_curve_[-1], first)  # the first fit is a cold one
    with pytest.raises(ValueError, match="warm_start=True can only be used where y has the same"):
        warm.fit(X, y + 5)  # three classes again, other labels
    with pytest.raises(ValueError, match="warm_start=True continues.*warm_start=False"):
        warm.set_params(hidden_layer_sizes=(4,)).fit(X, y)
    warm.set_params(warm_start=False).fit(X, y)  # the advice works


def test_early_stopping_as_scikit_learns_mlp():
    """The attributes and the rule of MLPClassifier(early_stopping=True): a score per step,
    the best of them kept (with its network), a stop after n_iter_no_change steps that do
    not beat the best by tol."""
    from sklearn.neural_network import MLPClassifier

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    params = dict(early_stopping=True, n_iter_no_change=2, max_iter=60, random_state=0)
    clf = BPLSClassifier(method="lm", hidden_layer_sizes=(8,), **params).fit(X, y)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(8,), **params).fit(X, y)
    for est in (clf, mlp):
        assert est.best_validation_score_ == max(est.validation_scores_)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_
    if clf.n_iter_ < 61:  # stopped early: the last 3 steps did not beat the best before them
        assert max(scores[-3:]) < max(scores[:-3]) + clf.tol
    # the network kept is the best one's, not the last
    best = int(np.argmax(scores))
    assert clf.score(X, y) > 0.9 and best < len(scores)
    with pytest.raises(ValueError, match="early_stopping holds out.*early_stopping=False"):
        BPLSClassifier(early_stopping=True, batch_size=30).fit(X, y)
    with pytest.raises(ValueError, match="'validation_fraction' parameter"):
        BPLSClassifier(early_stopping=True, validation_fraction=1.0).fit(X, y)
    reg = BPLSRegressor(method="lm", hidden_layer_sizes=(4,), **params).fit(X[:, :3], X[:, 3])
    assert reg.best_validation_score_ == max(reg.validation_scores_) > 0.5


def test_multilabel_targets_as_scikit_learns_mlp(tmp_path):
    """y an (n, k) indicator matrix: predict gives 0/1 columns, predict_proba each label's
    sigmoid output (not normalised), score the subset accuracy; as MLPClassifier."""
    from sklearn.datasets import make_multilabel_classification
    from sklearn.metrics import accuracy_score
    from sklearn.neural_network import MLPClassifier

    X, Y = make_multilabel_classification(n_samples=300, n_features=6, n_classes=4,
                                          random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(X, Y)
    for method in ("bpls", "lm"):
        clf = BPLSClassifier(hidden_layer_sizes=(16,), method=method, random_state=0).fit(X, Y)
        pred, proba = clf.predict(X), clf.predict_proba(X)
        assert pred.shape == mlp.predict(X).shape == (300, 4)
        assert set(np.unique(pred)) <= {0, 1}
        assert proba.shape == mlp.predict_proba(X).shape
        assert np.all((proba > 0) & (proba < 1)) and not np.allclose(proba.sum(axis=1), 1)
        np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
        assert clf.score(X, Y) == accuracy_score(Y, pred)  # subset accuracy
        # each label better than its majority vote (0.545 of the entries here)
        assert np.mean(pred == Y) > np.mean(np.round(Y.mean(axis=0)) == Y) + 0.1
        np.testing.assert_array_equal(clf.classes_, np.arange(4))
    # in blocks as in memory; saved and loaded
    blocks = BPLSClassifier(hidden_layer_sizes=(8,), batch_size=64, random_state=0).fit(X, Y)
    memory = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0).fit(X, Y)
    np.testing.assert_allclose(blocks.predict_proba(X), memory.predict_proba(X), rtol=1e-8)
    memory.save(tmp_path / "multilabel.npz")
    loaded = lsqnet.load(tmp_path / "multilabel.npz")
    np.testing.assert_array_equal(loaded.predict(X), memory.predict(X))
    # what cannot take it says so
    with pytest.raises(ValueError, match="needs output_activation='sigmoid'"):
        BPLSClassifier(output_activation="softmax").fit(X, Y)
    with pytest.raises(ValueError, match="multilabel indicator matrix; fit it with fit"):
        BPLSClassifier(hidden_layer_sizes=()).partial_fit(X, Y, classes=[0, 1])
    with pytest.raises(ValueError, match="must be a multilabel indicator matrix"):
        BPLSClassifier().fit(X, Y * 3)  # two values, but not 0 and 1
    with pytest.raises(ValueError, match="must be a multilabel indicator matrix"):
        BPLSClassifier().fit(X, Y + 0.5)
