"""Fits of data in memory too large to keep every layer's activations read it in blocks."""

import numpy as np
import pytest

from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet.estimators import _base


def _regression(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)


@pytest.mark.parametrize("method", ["bpls", "lm"])
def test_fits_too_large_to_keep_their_activations_read_blocks_and_give_the_same_model(
    method, monkeypatch
):
    X, y = _regression(n=3000, d=6)
    params = dict(hidden_layer_sizes=(7,), alpha="auto", method=method, max_iter=4,
                  random_state=0)
    memory = BPLSRegressor(**params).fit(X, y)
    # every layer's activations for all rows: 3000 x (7 + 1) float64 = 192 kB
    monkeypatch.setattr(_base, "RESIDENT_BYTES", 100_000)
    monkeypatch.setattr(_base, "BLOCK_BYTES", 1024 * 8 * (8 + 6))
    blocks = BPLSRegressor(**params).fit(X, y)
    assert blocks._automatic_batch_size(X) == 1024
    assert blocks.history_[-1]["passes"] > 0  # a history entry only a streamed fit has
    np.testing.assert_allclose(blocks.predict(X), memory.predict(X), rtol=1e-8, atol=1e-8)


def test_small_fits_and_fits_that_need_all_rows_keep_the_data_in_memory(monkeypatch):
    X, y = _regression(n=2000, d=4)
    labels = (y > 0).astype(int)
    small = BPLSRegressor(hidden_layer_sizes=(5,), random_state=0).fit(X, y)
    assert small._automatic_batch_size(X) is None
    assert "passes" not in small.history_[-1]
    monkeypatch.setattr(_base, "RESIDENT_BYTES", 1000)
    for model in (
        BPLSRegressor(hidden_layer_sizes=(5,), layer_method="weighted", max_iter=1),
        BPLSRegressor(hidden_layer_sizes=(5,), solver="svd", max_iter=1),
        BPLSClassifier(hidden_layer_sizes=(5,), method="kfac", max_iter=1),
        BPLSClassifier(hidden_layer_sizes=(5,), method="auto", max_iter=1),
    ):
        model.fit(X, labels if isinstance(model, BPLSClassifier) else y)
        assert model._automatic_batch_size(X) is None
