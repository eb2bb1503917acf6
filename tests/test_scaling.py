"""``scale_inputs=True``: a fit on X as given equals the fit of the same estimator without it
on ``StandardScaler``'s output (weighted, sparse, chunked, tensors), and the fitted network
reads X as given."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler

from lsqnet import BPLSClassifier, BPLSRegressor, LSQClassifier, LSQRegressor
from lsqnet.estimators._scaling import InputScaling
from lsqnet.features import FanIn
from lsqnet.network import init_network

RTOL = 1e-8


def _raw_table(n=300, seed=0):
    """Columns of very different offsets and scales, and a target that depends on them."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 4))
    X = Z * np.array([1e-3, 1.0, 50.0, 1e4]) + np.array([0.0, -3.0, 1e3, 5e5])
    y = np.tanh(Z[:, 0] - Z[:, 2]) + 0.5 * Z[:, 1] * Z[:, 3] + 0.05 * rng.standard_normal(n)
    return X, y


def _same_model(a, b, X_raw, X_scaled):
    """``a`` (fitted on X as given) predicts from raw rows what ``b`` predicts from scaled."""
    if hasattr(a, "predict_proba"):
        assert_allclose(a.predict_proba(X_raw), b.predict_proba(X_scaled), rtol=RTOL,
                        atol=1e-10)
    else:
        assert_allclose(a.predict(X_raw), b.predict(X_scaled), rtol=RTOL, atol=1e-10)


@pytest.mark.parametrize("method", ["bpls", "lm", "kfac"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_scaled_fit_equals_the_fit_on_standard_scalers_output(method, task):
    X, y = _raw_table()
    if task == "classification":
        y = (y > np.median(y)).astype(int)
        cls, extra = BPLSClassifier, {"output_activation": "softmax"}
    else:
        cls, extra = BPLSRegressor, {}
    params = dict(hidden_layer_sizes=(8,), method=method, alpha=1e-2, random_state=0, **extra)
    a = cls(scale_inputs=True, **params).fit(X, y)
    scaled = StandardScaler().fit_transform(X)
    b = cls(**params).fit(scaled, y)
    _same_model(a, b, X, scaled)
    assert a.n_iter_ == b.n_iter_
    # the folded first layer reads X as given: nothing else is kept
    assert_allclose(a.coefs_[0], b.coefs_[0] / StandardScaler().fit(X).scale_[:, None],
                    rtol=RTOL)


def test_weighted_moments_are_standard_scalers_weighted_moments():
    X, y = _raw_table(seed=1)
    w = np.random.default_rng(1).uniform(0, 3, X.shape[0])
    params = dict(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=1)
    a = BPLSRegressor(scale_inputs=True, **params).fit(X, y, sample_weight=w)
    scaled = StandardScaler().fit(X, sample_weight=w).transform(X)
    b = BPLSRegressor(**params).fit(scaled, y, sample_weight=w)
    _same_model(a, b, X, scaled)


def test_sparse_inputs_are_scaled_not_centred():
    X, y = _raw_table(seed=2)
    X[X < np.median(X, axis=0)] = 0.0
    sparse = scipy.sparse.csr_matrix(X)
    params = dict(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=2)
    a = BPLSRegressor(scale_inputs=True, **params).fit(sparse, y)
    scaled = StandardScaler(with_mean=False).fit(sparse).transform(sparse)
    b = BPLSRegressor(**params).fit(scaled, y)
    _same_model(a, b, sparse, scaled)
    assert scipy.sparse.issparse(scaled)


@pytest.mark.parametrize("method", ["bpls", "lm"])
def test_chunked_fits_equal_the_fit_in_memory(method):
    X, y = _raw_table(seed=3)
    params = dict(hidden_layer_sizes=(6,), method=method, alpha=0.1, random_state=3,
                  scale_inputs=True)
    ref = BPLSRegressor(**params).fit(X, y)
    blocks = BPLSRegressor(batch_size=70, **params).fit(X, y)
    chunks = BPLSRegressor(**params).fit_chunks(
        [(X[i:i + 70], y[i:i + 70]) for i in range(0, X.shape[0], 70)]
    )
    for got in (blocks, chunks):
        assert_allclose(got.predict(X), ref.predict(X), rtol=RTOL, atol=1e-10)


def test_tensors_equal_numpy():
    X, y = _raw_table(seed=4)
    params = dict(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=4,
                  scale_inputs=True)
    ref = BPLSRegressor(**params).fit(X, y)
    got = BPLSRegressor(**params).fit(torch.tensor(X), torch.tensor(y))
    assert isinstance(got.coefs_[0], torch.Tensor)
    assert_allclose(got.predict(torch.tensor(X)).numpy(), ref.predict(X), rtol=RTOL,
                    atol=1e-10)


def test_the_monitor_sees_the_network_of_raw_inputs():
    X, y = _raw_table(seed=5)
    seen = []
    est = BPLSRegressor(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=5,
                        scale_inputs=True)
    est.fit(X, y, monitor=lambda entry, network: seen.append(network.forward(X)[:, 0]))
    assert_allclose(seen[-1], est.predict(X), rtol=1e-12)


def test_a_constant_column_keeps_scale_one_and_a_single_layer_is_unscaled():
    X, y = _raw_table(seed=6)
    X[:, 1] = 7.0
    scaling = InputScaling.of(X)
    assert scaling.scale[1] == 1.0 and np.all(np.isfinite(scaling.scale))
    est = BPLSRegressor(hidden_layer_sizes=(5,), scale_inputs=True, random_state=6).fit(X, y)
    assert np.all(np.isfinite(est.predict(X)))
    params = dict(hidden_layer_sizes=(), alpha=1.0)
    linear = BPLSRegressor(scale_inputs=True, **params).fit(X, y)
    assert_allclose(linear.coefs_[0], BPLSRegressor(**params).fit(X, y).coefs_[0], rtol=1e-12)


def test_warm_start_continues_the_network_of_raw_inputs():
    X, y = _raw_table(seed=7)
    est = BPLSRegressor(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=7,
                        scale_inputs=True, max_iter=5, tol=0.0).fit(X, y)
    longer = BPLSRegressor(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=7,
                           scale_inputs=True, max_iter=5, tol=0.0).fit(X, y)
    longer.set_params(warm_start=True).fit(X, y)
    assert longer.score(X, y) >= est.score(X, y) - 1e-12  # it went on, from where it was


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16), d=st.integers(1, 6), h=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_folding_is_exact_and_unfolding_inverts_it(seed, d, h, dtype):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((20, d)) * rng.uniform(0.01, 100, d) + rng.uniform(-50, 50, d))
    scaling = InputScaling.of(X)
    net = init_network((d, h, 2), "tanh", "identity", FanIn(), rng, np.dtype(dtype))
    folded = scaling.fold(net)
    eps = np.finfo(dtype).eps
    assert_allclose(folded.forward(X.astype(dtype)),
                    net.forward(scaling.apply(X).astype(dtype)), rtol=1e4 * eps, atol=1e4 * eps)
    back = scaling.unfold(folded)
    for a, b in zip(back.layers, net.layers, strict=True):
        assert_allclose(a.weight, b.weight, rtol=1e2 * eps, atol=1e2 * eps)
        assert_allclose(a.bias, b.bias, rtol=1e2 * eps, atol=1e4 * eps * np.abs(X).max())


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_scale_inputs_must_be_a_bool(flag):
    X, y = _raw_table()
    with pytest.raises(TypeError, match="'scale_inputs' parameter of BPLSRegressor must be a"):
        BPLSRegressor(scale_inputs=flag).fit(X, y)


@pytest.mark.parametrize(
    ("load", "cls"), [(load_diabetes, LSQRegressor), (load_breast_cancer, LSQClassifier)]
)
def test_recommended_estimators_on_raw_tables_equal_a_scaling_pipeline(load, cls):
    X, y = load(return_X_y=True)
    est = cls(random_state=0).fit(X, y)
    assert est.scale_inputs
    scaled = StandardScaler().fit_transform(X)
    ref = cls(random_state=0, scale_inputs=False).fit(scaled, y)
    _same_model(est, ref, X, scaled)
