"""Fits of data in memory too large to keep every layer's activations read it in blocks."""

import numpy as np
import pytest

from lsqnet import BPLSRegressor, LSQClassifier, LSQRegressor
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
    assert memory.get_params()["batch_size"] is None
    # every layer's activations for all rows: 3000 x (7 + 1) float64 = 192 kB
    monkeypatch.setattr(_base, "RESIDENT_BYTES", 100_000)  # more than X's 3000 x 6 x 8
    monkeypatch.setattr(_base, "BLOCK_BYTES", 1024 * 8 * (8 + 6))
    blocks = BPLSRegressor(**params, batch_size="auto").fit(X, y)
    assert blocks._automatic_batch_size(X) == 1024
    assert blocks.history_[-1]["passes"] > 0  # a history entry only a streamed fit has
    np.testing.assert_allclose(blocks.predict(X), memory.predict(X), rtol=1e-8, atol=1e-8)


def test_small_fits_and_fits_that_need_all_rows_keep_the_data_in_memory(monkeypatch):
    X, y = _regression(n=2000, d=4)
    labels = (y > 0).astype(int)
    small = LSQRegressor(hidden_layer_sizes=(5,), random_state=0).fit(X, y)
    assert small.batch_size == "auto" and small._automatic_batch_size(X) is None
    assert "passes" not in small.history_[-1]
    monkeypatch.setattr(_base, "RESIDENT_BYTES", 1000)
    # activations of 2000 x (40 + 1) float64 take more than X's 2000 x 4: blocks
    blocked = LSQRegressor(hidden_layer_sizes=(40,)).fit(X, y)
    assert blocked._automatic_batch_size(X) == 46603  # BLOCK_BYTES // ((41 + 4) * 8)
    assert "passes" in blocked.history_[-1]
    # Kronecker-factored steps read their mini-batches from blocks too
    kfac = LSQClassifier(hidden_layer_sizes=(40,), method="kfac", max_iter=1).fit(X, labels)
    assert kfac._automatic_batch_size(X) == 46603 and "passes" in kfac.history_[-1]
    for model in (
        LSQRegressor(hidden_layer_sizes=(2,)),  # 2000 x (2 + 1) take less than X
        BPLSRegressor(hidden_layer_sizes=(40,)),  # batch_size=None: always in memory
        LSQRegressor(hidden_layer_sizes=(40,), layer_method="weighted", max_iter=1),
        LSQRegressor(hidden_layer_sizes=(40,), solver="svd", max_iter=1),
    ):
        model.fit(X, labels if isinstance(model, LSQClassifier) else y)
        assert model._automatic_batch_size(X) is None


def test_batch_size_is_an_int_auto_or_none():
    X, y = _regression(n=50, d=3)
    with pytest.raises(ValueError, match="'batch_size' parameter of LSQRegressor must be an "
                                         "int >= 1, 'auto' or None. Got 'all' instead"):
        LSQRegressor(batch_size="all").fit(X, y)
