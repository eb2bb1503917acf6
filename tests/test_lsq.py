"""The estimators with the recommended defaults, LSQRegressor and LSQClassifier: the BPLS
estimators with other default values only."""

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_friedman1

import lsqnet
from lsqnet import BPLSClassifier, BPLSRegressor, LSQClassifier, LSQRegressor
from lsqnet.estimators._lsq import RECOMMENDED


@pytest.mark.parametrize(("lsq", "bpls"), [(LSQRegressor, BPLSRegressor),
                                           (LSQClassifier, BPLSClassifier)])
def test_the_defaults_differ_from_bpls_only_where_recommended(lsq, bpls):
    ours, theirs = lsq().get_params(), bpls().get_params()
    assert set(ours) == set(theirs)
    assert {k for k in ours if ours[k] != theirs[k]} == set(RECOMMENDED)
    assert {k: ours[k] for k in RECOMMENDED} == RECOMMENDED
    assert list(inspect.signature(lsq).parameters) == list(inspect.signature(bpls).parameters)
    assert isinstance(lsq(), bpls)
    changed = lsq(alpha=0.5, method="bpls")
    assert (changed.alpha, changed.method) == (0.5, "bpls")
    assert clone(changed).get_params() == changed.get_params()
    assert repr(lsq()) == f"{lsq.__name__}()"


def test_a_table_gets_levenberg_marquardt_and_a_chosen_penalty(tmp_path):
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    reg = LSQRegressor(random_state=0).fit(X[:450], y[:450])
    assert reg.method_ == "lm"
    steps = reg.history_[1:]  # the penalty chosen, then re-estimated after every step
    assert steps[0]["alpha"] in reg.alphas_
    assert reg.alpha_ == steps[-1]["alpha"] and reg.alpha_ not in reg.alphas_
    assert reg.score(X[450:], y[450:]) > 0.85
    reg.save(tmp_path / "model.npz")
    loaded = lsqnet.load(tmp_path / "model.npz")
    assert type(loaded) is LSQRegressor
    assert loaded.get_params() == reg.get_params()
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_the_classifier_trains_every_layer_on_iris():
    X, y = load_iris(return_X_y=True)
    clf = LSQClassifier(random_state=0).fit(X, y)
    assert clf.method_ == "lm"
    assert clf.score(X, y) > 0.95


def test_pipelines_of_recommended_estimators_round_trip_through_skops(tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LSQClassifier(random_state=0, max_iter=5)).fit(X, y)
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    loaded = sio.load(path, trusted=lsqnet.skops_trusted_types())
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


@pytest.mark.parametrize("preset", ["instant", "fast", "accurate", "paper"])
@pytest.mark.parametrize(("lsq", "bpls"), [(LSQRegressor, BPLSRegressor),
                                           (LSQClassifier, BPLSClassifier)])
def test_presets_are_the_same_bpls_configurations(preset, lsq, bpls):
    ours = lsq.from_preset(preset, random_state=0).get_params()
    assert ours == bpls.from_preset(preset, random_state=0).get_params()
    assert ours["method"] == "bpls"


def test_auto_width_is_small_where_levenberg_marquardt_trains_and_wide_elsewhere(tmp_path):
    from sklearn.datasets import load_digits

    from lsqnet.estimators._base import AUTO_WIDTHS

    X, y = make_friedman1(n_samples=400, random_state=0)
    reg = LSQRegressor(random_state=0, max_iter=3).fit(X, y)
    assert (reg.method_, reg.coefs_[0].shape[1]) == ("lm", AUTO_WIDTHS[0])
    wide = BPLSRegressor(hidden_layer_sizes="auto", method="bpls", random_state=0).fit(X, y)
    assert wide.coefs_[0].shape[1] == AUTO_WIDTHS[1]
    lm = BPLSRegressor(hidden_layer_sizes="auto", method="lm", max_iter=2).fit(X, y)
    assert lm.coefs_[0].shape[1] == AUTO_WIDTHS[0]
    # digits: a 32-unit step of Levenberg-Marquardt over 10 classes costs too much
    Xd, yd = load_digits(return_X_y=True)
    clf = LSQClassifier(random_state=0).fit(Xd, yd)
    assert (clf.method_, clf.coefs_[0].shape[1]) == ("kfac", AUTO_WIDTHS[1])
    assert clf.get_params()["hidden_layer_sizes"] == "auto"
    path = tmp_path / "reg.npz"
    reg.save(path)
    loaded = lsqnet.load(path)
    assert loaded.hidden_layer_sizes == "auto"
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_auto_activation_suits_the_method():
    from sklearn.datasets import load_digits

    from lsqnet.estimators._base import AUTO_ACTIVATIONS

    assert AUTO_ACTIVATIONS == {"bpls": "tanh", "lm": "tanh", "kfac": "relu"}
    X, y = load_iris(return_X_y=True)
    Xd, yd = load_digits(return_X_y=True)
    fits = [
        (LSQClassifier(random_state=0).fit(X, y), "lm", "tanh"),
        (LSQClassifier(random_state=0, max_iter=1).fit(Xd[:600], yd[:600]), "kfac", "relu"),
        (BPLSClassifier(activation="auto", max_iter=1).fit(X, y), "bpls", "tanh"),
        (BPLSClassifier(activation="auto", method="kfac", max_iter=1).fit(X, y), "kfac",
         "relu"),
    ]
    for est, method, hidden in fits:
        assert est.method_ == method
        assert [layer.activation for layer in est.network_.layers[:-1]] == [hidden]
        assert est.activation == "auto"  # the parameter is left as given
    # a warm start continues the network of the activation the method resolved
    warm = BPLSClassifier(activation="auto", method="kfac", max_iter=1, warm_start=True)
    warm.fit(X, y).fit(X, y)
    assert warm.network_.layers[0].activation == "relu"
    with pytest.raises(ValueError, match="'activation' parameter of BPLSClassifier must be"):
        BPLSClassifier(activation="automatic").fit(X, y)


@pytest.mark.parametrize(("n", "d", "k", "width"), [
    (112, 4, 3, 6),     # iris: 8 w + 3 <= 56
    (426, 30, 2, 6),    # breast cancer: 33 w + 2 <= 213
    (40, 13, 3, 4),     # fewer rows than any width allows: at least 4 units
    (750, 2, 2, 32),    # two moons: the full width fits 375 parameters
])
def test_a_classifier_trained_by_levenberg_marquardt_has_two_rows_per_parameter(n, d, k, width):
    from lsqnet.estimators._base import CLASSIFIER_PARAMETERS_PER_ROW, MIN_CLASSIFIER_WIDTH
    from lsqnet.training.levenberg_marquardt import n_parameters

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((n, d)), np.arange(n) % k
    clf = LSQClassifier(random_state=0, max_iter=1).fit(X, y)
    assert clf.method_ == "lm" and clf.coefs_[0].shape[1] == width
    p = n_parameters((d, width, k))
    assert p <= CLASSIFIER_PARAMETERS_PER_ROW * n or width == MIN_CLASSIFIER_WIDTH
    assert width == 32 or n_parameters((d, width + 1, k)) > CLASSIFIER_PARAMETERS_PER_ROW * n
    # a regressor's penalty is re-estimated as it trains: it keeps 32 units on few rows
    reg = LSQRegressor(random_state=0, max_iter=1).fit(X, y.astype(float))
    assert reg.coefs_[0].shape[1] == 32
    # a width given is the width used
    given = LSQClassifier(hidden_layer_sizes=(7,), max_iter=1).fit(X, y)
    assert given.coefs_[0].shape[1] == 7


@pytest.mark.parametrize("sizes", ["wide", "AUTO", (0,)])
def test_hidden_layer_sizes_is_a_tuple_or_auto(sizes):
    X, y = make_friedman1(n_samples=50, random_state=0)
    with pytest.raises(ValueError, match="tuple of positive ints .* or 'auto'"):
        LSQRegressor(hidden_layer_sizes=sizes).fit(X, y)
