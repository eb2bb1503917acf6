"""Tests for lsqnet.estimators: BPLSRegressor and BPLSClassifier as scikit-learn estimators.

The full scikit-learn estimator suite (``parametrize_with_checks``) runs on both; the rest checks
what that suite does not: meta-estimators (Pipeline, GridSearchCV, clone), label handling,
parameter validation at fit with the parameter named in the message, input checks, the clipping
warning, dtype handling, fitted attributes and finiteness on badly scaled inputs. Numerical
behaviour of the BPLS algorithm itself lives in ``test_bpls.py``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from lsqnet import BPLSClassifier, BPLSRegressor, LSQClassifier, LSQRegressor
from lsqnet.estimators import PRESETS
from lsqnet.exceptions import LSQNetError, TargetClippingWarning

ESTIMATORS = [BPLSRegressor, BPLSClassifier]


@pytest.fixture
def regression_data(rng):
    X = rng.standard_normal((60, 4))
    y = np.tanh(X @ rng.standard_normal(4)) * 0.5
    return X, y


@pytest.fixture
def classification_data(rng):
    X = rng.standard_normal((90, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)  # 3 classes
    return X, y


def _data(est_cls, regression_data, classification_data):
    return regression_data if est_cls is BPLSRegressor else classification_data


# --------------------------------------------------------------------------------------------
# 1. The scikit-learn estimator suite
# --------------------------------------------------------------------------------------------


#: Leave-one-out cross-validation leaves out one row, whatever its weight: integer weights do
#: not choose the penalty that repeating rows does (as with scikit-learn's RidgeCV). The same
#: checks pass with a number alpha (test_recommended_defaults_with_a_number_alpha_...).
_LOO_WEIGHTS = {
    check: "alpha='auto': leave-one-out of a weighted row is not leave-one-out of its copies"
    for check in (
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
    )
}


# Also single-layer models (which have partial_fit, so the suite checks it) and fits in
# blocks of 7 rows (batch_size: the chunked algorithm of lsqnet.streaming).
@parametrize_with_checks(
    [
        BPLSRegressor(hidden_layer_sizes=(16,), random_state=0),
        BPLSClassifier(hidden_layer_sizes=(16,), random_state=0),
        BPLSRegressor(hidden_layer_sizes=(), random_state=0),
        BPLSClassifier(hidden_layer_sizes=(), random_state=0),
        BPLSRegressor(hidden_layer_sizes=(16,), batch_size=7, random_state=0),
        BPLSClassifier(hidden_layer_sizes=(16,), batch_size=7, random_state=0),
        # the recommended defaults: Levenberg-Marquardt, the penalty by leave-one-out
        LSQRegressor(random_state=0),
        LSQClassifier(random_state=0),
        LSQClassifier(hidden_layer_sizes=(64,), random_state=0),  # K-FAC steps
    ],
    expected_failed_checks=lambda est: _LOO_WEIGHTS if est.alpha == "auto" else {},
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [LSQRegressor(alpha=1.0, random_state=0), LSQClassifier(alpha=1.0, random_state=0),
     # 64 units on the check's 30-odd rows amplify the rounding of the input moments
     # (weighted against repeated rows) past the check's rtol of 1e-7: checked unscaled.
     # K-FAC's steps equal repeated rows' when each is one mini-batch of all the rows.
     LSQClassifier(hidden_layer_sizes=(64,), alpha=1.0, random_state=0, scale_inputs=False,
                   method_options={"batch_size": 10_000})],
)
def test_recommended_defaults_with_a_number_alpha_weight_samples_as_repeated_rows(estimator):
    from sklearn.utils.estimator_checks import (
        check_sample_weight_equivalence_on_dense_data,
        check_sample_weight_equivalence_on_sparse_data,
    )

    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
    check_sample_weight_equivalence_on_sparse_data(type(estimator).__name__, estimator)


# --------------------------------------------------------------------------------------------
# 2. Meta-estimators
# --------------------------------------------------------------------------------------------


def test_pipeline_grid_search_iris():
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("bpls", BPLSClassifier(random_state=0, max_iter=5))]
    )
    grid = GridSearchCV(
        pipe,
        {"bpls__alpha": [1e-3, 1.0], "bpls__hidden_layer_sizes": [(8,), (32,)]},
        cv=3,
        error_score="raise",
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"bpls__alpha", "bpls__hidden_layer_sizes"}
    assert grid.best_score_ > 0.9
    assert grid.score(X, y) > 0.9
    best = grid.best_estimator_.named_steps["bpls"]
    assert best.alpha == grid.best_params_["bpls__alpha"]
    assert best.hidden_layer_sizes == grid.best_params_["bpls__hidden_layer_sizes"]
    assert len(grid.cv_results_["mean_test_score"]) == 4


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_clone_keeps_params(est_cls):
    params = dict(
        hidden_layer_sizes=(7, 5),
        activation="sigmoid",
        alpha=0.25,
        solver="cholesky",
        max_iter=3,
        tol=1e-3,
        init="uniform",
        target_eps=0.05,
        hidden_target="min_norm",
        layer_method="weighted",
        iteration_rule="misclassified",
        backprop_ridge=1e-2,
        random_state=42,
        dtype="float32",
        verbose=0,
    )
    est = est_cls(**params)
    copy = clone(est)
    assert copy is not est
    got = copy.get_params()
    for key, value in params.items():
        assert got[key] == value, key
    # every constructor argument is a parameter, and nothing else is
    assert set(got) == set(est_cls().get_params())


# --------------------------------------------------------------------------------------------
# 3. Labels and probabilities
# --------------------------------------------------------------------------------------------


def test_string_and_integer_labels_give_same_predictions(classification_data):
    X, y = classification_data
    # An order-preserving mapping, so classes_ (sorted) line up column by column.
    names = np.array(["ant", "bee", "cat"])
    clf_int = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X, y)
    clf_str = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X, names[y])
    assert_array_equal(clf_int.classes_, [0, 1, 2])
    assert_array_equal(clf_str.classes_, names)
    pred_int = clf_int.predict(X)
    pred_str = clf_str.predict(X)
    assert pred_str.dtype.kind == "U"
    assert_array_equal(names[pred_int], pred_str)
    assert_allclose(clf_int.predict_proba(X), clf_str.predict_proba(X), rtol=0, atol=0)


@pytest.mark.parametrize("output_activation", ["sigmoid", "softmax"])
def test_predict_proba_rows_sum_to_one(classification_data, output_activation):
    X, y = classification_data
    clf = BPLSClassifier(
        hidden_layer_sizes=(16,), output_activation=output_activation, random_state=0
    ).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], 3)
    assert (proba >= 0).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X))


def test_single_class_raises(classification_data):
    X, _ = classification_data
    with pytest.raises(ValueError, match="class"):
        BPLSClassifier(hidden_layer_sizes=(4,)).fit(X, np.full(X.shape[0], 3))


# --------------------------------------------------------------------------------------------
# 4. Parameter validation at fit
# --------------------------------------------------------------------------------------------

BAD_COMMON = [
    ("hidden_layer_sizes", (0,)),
    ("hidden_layer_sizes", (-1,)),
    ("hidden_layer_sizes", (2.5,)),
    ("hidden_layer_sizes", "abc"),
    ("hidden_layer_sizes", None),
    ("activation", "foo"),
    ("activation", "softmax"),
    ("alpha", -1),
    ("alpha", float("nan")),
    ("alpha", "a"),
    ("max_iter", 0),
    ("max_iter", 2.5),
    ("tol", -1),
    ("target_eps", 0),
    ("target_eps", 0.5),
    ("init", "bad"),
    ("dtype", "int32"),
    ("hidden_target", "unknown"),
    ("layer_method", "unknown"),
    ("iteration_rule", "unknown"),
    ("solver", "unknown"),
    ("backprop_ridge", -1),
    ("verbose", -1),
]


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize(("name", "value"), BAD_COMMON, ids=lambda v: repr(v))
def test_bad_parameter_raises_at_fit(est_cls, name, value, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    est = est_cls(**{name: value})  # __init__ only stores
    assert est.get_params()[name] is value
    with pytest.raises((ValueError, TypeError), match=re.escape(repr(name))):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_unknown_activation_lists_valid_names(est_cls, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    with pytest.raises(ValueError, match="'activation'.*'tanh'"):
        est_cls(activation="foo").fit(X, y)


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_softmax_hidden_activation_rejected(est_cls, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    with pytest.raises(ValueError, match="'activation'.*softmax"):
        est_cls(activation="softmax").fit(X, y)


@pytest.mark.parametrize("output_activation", ["relu", "softmax"])
def test_regressor_rejects_non_invertible_output(output_activation, regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="'output_activation'.*'identity'"):
        BPLSRegressor(output_activation=output_activation).fit(X, y)


@pytest.mark.parametrize("output_activation", ["identity", "tanh", "relu"])
def test_classifier_rejects_non_probability_output(output_activation, classification_data):
    X, y = classification_data
    with pytest.raises(ValueError, match="'output_activation'.*'sigmoid'"):
        BPLSClassifier(output_activation=output_activation).fit(X, y)


# --------------------------------------------------------------------------------------------
# 5. Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_raises(est_cls, bad, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        est_cls(hidden_layer_sizes=(4,)).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y_raises(bad, regression_data, classification_data):
    X, y = regression_data
    y = y.copy()
    y[2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        BPLSRegressor(hidden_layer_sizes=(4,)).fit(X, y)
    X, labels = classification_data
    labels = labels.astype(float)
    labels[2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BPLSClassifier(hidden_layer_sizes=(4,)).fit(X, labels)


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_mismatched_lengths_raise(est_cls, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est_cls(hidden_layer_sizes=(4,)).fit(X, y[:-1])


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_predict_before_fit_raises_not_fitted(est_cls, regression_data):
    X, _ = regression_data
    est = est_cls(hidden_layer_sizes=(4,))
    with pytest.raises(NotFittedError):
        est.predict(X)
    if est_cls is BPLSClassifier:
        with pytest.raises(NotFittedError):
            est.predict_proba(X)


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("n_features", [2, 6])
def test_wrong_feature_count_at_predict(est_cls, n_features, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    est = est_cls(hidden_layer_sizes=(4,), random_state=0).fit(X, y)
    X_bad = np.ones((5, n_features))
    with pytest.raises(ValueError, match=rf"{n_features} features.*{X.shape[1]} features"):
        est.predict(X_bad)


# --------------------------------------------------------------------------------------------
# 6. Target clipping warning
# --------------------------------------------------------------------------------------------


def test_sigmoid_regressor_warns_with_clipped_count(rng):
    X = rng.standard_normal((40, 3))
    y = rng.uniform(0.1, 0.9, 40)
    y[:5] = [1.2, -0.1, 2.0, 1.0, 0.0]  # 3 beyond the closed range, 2 on the open bounds
    with pytest.warns(TargetClippingWarning, match=r"\b5 target value") as record:
        reg = BPLSRegressor(hidden_layer_sizes=(4,), output_activation="sigmoid").fit(X, y)
    assert len([w for w in record if w.category is TargetClippingWarning]) == 1
    pred = reg.predict(X)
    assert ((pred > 0) & (pred < 1)).all()


def test_no_clipping_warning_inside_range(rng):
    X = rng.standard_normal((40, 3))
    y = rng.uniform(0.1, 0.9, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TargetClippingWarning)
        BPLSRegressor(hidden_layer_sizes=(4,), output_activation="sigmoid").fit(X, y)


# --------------------------------------------------------------------------------------------
# 7. dtype
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_float32_input_stays_float32(est_cls, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    X32 = X.astype(np.float32)
    y_in = y.astype(np.float32) if est_cls is BPLSRegressor else y
    est = est_cls(hidden_layer_sizes=(8,), random_state=0).fit(X32, y_in)
    assert all(c.dtype == np.float32 for c in est.coefs_)
    assert all(b.dtype == np.float32 for b in est.intercepts_)
    out = est.predict(X32) if est_cls is BPLSRegressor else est.predict_proba(X32)
    assert out.dtype == np.float32
    # float64 input at predict time is computed in the fitted dtype
    out64 = est.predict(X) if est_cls is BPLSRegressor else est.predict_proba(X)
    assert out64.dtype == np.float32


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_dtype_parameter_forces_dtype(est_cls, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    X32 = X.astype(np.float32)
    est = est_cls(hidden_layer_sizes=(8,), random_state=0, dtype="float64").fit(X32, y)
    assert all(c.dtype == np.float64 for c in est.coefs_ + est.intercepts_)
    out = est.predict(X32) if est_cls is BPLSRegressor else est.predict_proba(X32)
    assert out.dtype == np.float64
    est = est_cls(hidden_layer_sizes=(8,), random_state=0, dtype="float32").fit(X, y)
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)


def test_float32_and_float64_fits_agree(regression_data):
    X, y = regression_data
    r64 = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=1).fit(X, y)
    r32 = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=1, dtype="float32")
    r32.fit(X, y)
    # One sweep on a well-conditioned problem (alpha=1e-3 ridge): float32 rounding only.
    assert_allclose(r32.predict(X), r64.predict(X), rtol=0, atol=1e-3)


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_verbose_prints_one_line_per_sweep(est_cls, regression_data, classification_data, capsys):
    X, y = _data(est_cls, regression_data, classification_data)
    est = est_cls(hidden_layer_sizes=(4,), verbose=1, max_iter=2, tol=0.0, random_state=0)
    est.fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == est.n_iter_
    assert lines[0].startswith("Iteration 1: loss = ")
    assert ("accuracy" in lines[0]) == (est_cls is BPLSClassifier)
    est.set_params(verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------------------------
# 8. Fitted attributes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(), (7,), (6, 5)])
@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_fitted_attributes(est_cls, hidden, regression_data, classification_data):
    X, y = _data(est_cls, regression_data, classification_data)
    est = est_cls(hidden_layer_sizes=hidden, random_state=0, max_iter=3)
    assert est.fit(X, y) is est
    n_out = 1 if est_cls is BPLSRegressor else 3
    sizes = [X.shape[1], *hidden, n_out]
    assert est.n_layers_ == len(hidden) + 2
    assert [c.shape for c in est.coefs_] == list(zip(sizes[:-1], sizes[1:], strict=True))
    assert [b.shape for b in est.intercepts_] == [(s,) for s in sizes[1:]]
    assert est.n_features_in_ == X.shape[1]
    assert isinstance(est.n_iter_, int) and 1 <= est.n_iter_ <= 3
    assert len(est.history_) == est.n_iter_
    assert isinstance(est.flops_, int) and est.flops_ > 0
    assert est.solver_ in ("cholesky", "eigh", "qr", "svd")
    assert est.loss_ == est.history_[-1]["loss"]  # the last network kept (the safeguard)
    if est_cls is BPLSClassifier:
        assert_array_equal(est.classes_, [0, 1, 2])
        assert est.predict(X).shape == (X.shape[0],)
    else:
        assert not hasattr(est, "classes_")
        assert est.predict(X).shape == (X.shape[0],)


def test_regressor_multi_output_shapes(rng):
    X = rng.standard_normal((50, 3))
    Y = np.tanh(X @ rng.standard_normal((3, 2)))
    reg = BPLSRegressor(hidden_layer_sizes=(6,), random_state=0).fit(X, Y)
    assert reg.coefs_[-1].shape == (6, 2)
    assert reg.predict(X).shape == (50, 2)
    reg1 = BPLSRegressor(hidden_layer_sizes=(6,), random_state=0).fit(X, Y[:, :1])
    assert reg1.predict(X).shape == (50, 1)


# --------------------------------------------------------------------------------------------
# 9. Badly scaled inputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e6, 1e12])
@pytest.mark.parametrize("dtype", [None, "float32"])
@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_badly_scaled_input_gives_finite_model(
    est_cls, dtype, scale, regression_data, classification_data
):
    X, y = _data(est_cls, regression_data, classification_data)
    Xs = X * scale
    est = est_cls(hidden_layer_sizes=(8,), random_state=0, dtype=dtype)
    try:
        est.fit(Xs, y)
    except (ValueError, ArithmeticError, LSQNetError) as err:  # a clear error is acceptable ...
        assert str(err)
        return
    # ... but a fitted model must be finite and predict finite values.
    for array in est.coefs_ + est.intercepts_:
        assert np.isfinite(array).all()
    out = est.predict(Xs) if est_cls is BPLSRegressor else est.predict_proba(Xs)
    assert np.isfinite(out).all()
    assert np.isfinite(est.loss_)


# --------------------------------------------------------------------------------------------
# 10. Presets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_from_preset_sets_the_preset_parameters(est_cls, name):
    est = est_cls.from_preset(name, random_state=7)
    params = est.get_params()
    for key, value in PRESETS[name].items():
        if est_cls is BPLSRegressor and key in ("output_activation", "output_iter"):
            assert params[key] == est_cls().get_params()[key]  # the classifier's only
        else:
            assert params[key] == value
    assert params["random_state"] == 7
    # an override wins over the preset
    assert est_cls.from_preset(name, max_iter=3).max_iter == 3


def test_from_preset_rejects_unknown_names_and_parameters():
    with pytest.raises(ValueError, match="'name' parameter of BPLSClassifier.from_preset "
                                         "must be one of 'paper', 'instant', 'fast', "
                                         "'accurate'"):
        BPLSClassifier.from_preset("fastest")
    with pytest.raises(TypeError, match="unexpected keyword argument 'speed'"):
        BPLSClassifier.from_preset("fast", speed=2)


@pytest.mark.parametrize("name", ["instant", "fast", "accurate"])
def test_presets_classify_digits_well(name):
    """The instant, fast and accurate presets are the best configurations found on MNIST; on the
    digits data (a held-out quarter) they must beat linear least squares (about 94 %)."""
    from lsqnet.datasets import load

    X_train, y_train, X_test, y_test = load("digits")
    clf = BPLSClassifier.from_preset(name, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.96


def test_paper_preset_follows_the_paper():
    """U[-1, 1] weights, no ridge, minimum-norm targets, misclassified-only sweeps."""
    clf = BPLSClassifier.from_preset("paper")
    assert (clf.init, clf.alpha, clf.hidden_target, clf.iteration_rule) == (
        "uniform", 0.0, "min_norm", "misclassified"
    )


@pytest.mark.parametrize("est_cls", [BPLSRegressor, BPLSClassifier])
def test_random_state_instance_is_drawn_from_once_per_fit(est_cls):
    """Validating random_state draws nothing: a RandomState seeds a fit with one draw, as
    before the explicit random_state check."""
    X = np.random.default_rng(0).standard_normal((12, 3))
    y = np.arange(12) % 2
    rs = np.random.RandomState(0)
    a = est_cls(hidden_layer_sizes=(2,), max_iter=1, random_state=rs).fit(X, y)
    expected = np.random.RandomState(0)
    seed = expected.randint(2**31)
    assert rs.randint(2**31) == expected.randint(2**31)
    b = est_cls(hidden_layer_sizes=(2,), max_iter=1, random_state=seed).fit(X, y)
    assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_classifier_score_with_nan_labels_raises_without_stray_warnings():
    # Found by the fuzz test: scikit-learn casts NaN labels to int (a RuntimeWarning) before
    # it rejects them.
    clf = BPLSClassifier(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    clf.fit(np.arange(12.0).reshape(6, 2), [0, 0, 0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="invalid y.*NaN"):
            clf.score(np.zeros((1, 2)), np.array([np.nan]))
