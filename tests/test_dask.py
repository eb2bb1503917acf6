"""Fits on dask arrays, run by a real ``dask.distributed.LocalCluster`` of worker processes.

The distributed fit computes the Gram statistics of every block on the worker that holds it,
adds them in a tree and solves once on the client; in float64 it equals the in-memory fit
to 1e-8 relative (only the order of the sums differs). With the same blocks it performs the
same operations as the ``batch_size`` fit, so even the operation counts agree exactly.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits, make_regression

from lsqnet import BPLSClassifier, BPLSRegressor

RTOL = 1e-8


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:800] / 16.0, y[:800]


def assert_close(a, b):
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_allclose(v, u, rtol=0, atol=RTOL * max(np.abs(u).max(), 1.0))
    assert len(a.history_) == len(b.history_)


@pytest.mark.parametrize("params", [
    dict(hidden_layer_sizes=(16,), max_iter=3),
    dict(hidden_layer_sizes=(16, 8), activation="relu", init="samples", max_iter=2,
         refit_output=True),
    dict(hidden_layer_sizes=(16,), iteration_rule="misclassified", max_iter=3),
    dict(hidden_layer_sizes=()),
    dict(hidden_layer_sizes=(16,), activation="relu", init="samples", max_iter=0,
         refit_output=True, output_activation="softmax", output_iter=3),
    dict(hidden_layer_sizes=(4,), method="lm", max_iter=4, output_activation="softmax"),
], ids=str)
def test_classifier_on_cluster_equals_in_memory(client, digits, params):
    X, y = digits
    ref = BPLSClassifier(random_state=0, **params).fit(X, y)
    Xd = da.from_array(X, chunks=(150, -1))
    got = BPLSClassifier(random_state=0, **params).fit(Xd, da.from_array(y, chunks=150))
    assert_close(ref, got)
    np.testing.assert_array_equal(got.predict(X), ref.predict(X))
    # the same blocks as batch_size=150: the same operations, counted on the workers
    blocks = BPLSClassifier(random_state=0, batch_size=150, **params).fit(X, y)
    assert got.flops_ == blocks.flops_
    assert got.n_features_in_ == X.shape[1]


def test_regressor_on_cluster_equals_in_memory(client):
    X, Y = make_regression(n_samples=400, n_features=5, n_targets=2, random_state=0)
    X, Y = X / X.std(), Y / Y.std()
    for y in (Y, Y[:, 1]):
        ref = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0).fit(X, y)
        got = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0).fit(
            da.from_array(X, chunks=(90, 5)), y  # y may stay a NumPy array
        )
        assert_close(ref, got)
        assert got.predict(X).shape == y.shape


def test_uneven_blocks_and_float32(client, digits):
    X, y = digits
    X32 = X.astype(np.float32)
    Xd = da.from_array(X32, chunks=((100, 333, 67, 300), (64,)))
    got = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0).fit(Xd, y)
    ref = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X32, y)
    assert got.coefs_[0].dtype == np.float32
    assert (got.predict(X32) == ref.predict(X32)).mean() > 0.99


def test_bad_dask_input_leaves_model_unchanged(client, digits):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    coefs = [c.copy() for c in clf.coefs_]
    with pytest.raises(ValueError, match=r"chunked along its features.*rechunk"):
        clf.fit(da.from_array(X, chunks=(200, 32)), y)
    with pytest.raises(TypeError, match="X must be one too"):
        clf.fit(X, da.from_array(y, chunks=200))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(da.from_array(X, chunks=(200, -1)), y[:-1])
    bad = X.copy()
    bad[650, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.fit(da.from_array(bad, chunks=(200, -1)), y)
    for old, new in zip(coefs, clf.coefs_, strict=True):
        np.testing.assert_array_equal(old, new)
    assert clf.n_features_in_ == X.shape[1]


def test_multilabel_on_cluster_equals_in_memory(client):
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=300, n_features=6, n_classes=4,
                                          random_state=0)
    ref = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0).fit(X, Y)
    got = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0).fit(
        da.from_array(X, chunks=(64, -1)), da.from_array(Y, chunks=(64, -1))
    )
    assert_close(ref, got)
    np.testing.assert_array_equal(got.predict(X), ref.predict(X))


def test_scaled_inputs_on_cluster_equal_in_memory(client):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 4)) * np.array([1e-2, 1.0, 30.0, 1e3]) + 100.0
    y = np.tanh(X[:, 0] * 100) + X[:, 3] / 1e3
    params = dict(hidden_layer_sizes=(6,), method="lm", alpha=0.1, random_state=0,
                  scale_inputs=True)
    ref = BPLSRegressor(**params).fit(X, y)
    got = BPLSRegressor(**params).fit(da.from_array(X, chunks=(90, 4)), y)
    assert_close(ref, got)
