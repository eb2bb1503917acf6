"""The operation count of Kronecker-factored fits (lsqnet.training.kfac.count_flops): a small
fit counted by hand, and the prediction from sizes, options and the history equal to the
ledger of fits in memory, on row blocks and on Dask, for regression, softmax and sigmoid
outputs, with retries, row subsets and no projection."""

from __future__ import annotations

import numpy as np
import pytest

from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet.bpls import class_targets
from lsqnet.layers import Dense
from lsqnet.network import Network, init_network
from lsqnet.streaming import ArrayChunks
from lsqnet.training import InMemory
from lsqnet.training.kfac import KFACOptions, count_flops, fit


def _problem(loss, sizes, n, seed=0, dtype=np.float64):
    """A teacher network's outputs (regression) or classes."""
    rng = np.random.default_rng(seed)
    d, k = sizes[0], sizes[-1]
    X = rng.normal(size=(n, d))
    score = np.tanh(X @ rng.normal(size=(d, k)))
    if loss == "squared_error":
        return X.astype(dtype), (score + 0.1 * rng.normal(size=(n, k))).astype(dtype), None
    labels = np.argmax(score + 0.3 * rng.normal(size=(n, k)), axis=1)
    return X.astype(dtype), class_targets(labels, k, loss, dtype), labels


def _recorded(history):
    """What count_flops reads of a history: the steps' retries, the cross-entropy steps."""
    retries = [entry["retries"] for entry in history if "retries" in entry]
    return retries, len(history) - len(retries)


def test_a_small_fit_counted_by_hand():
    X = np.array([[0.5], [-1.0]])
    Y = np.array([[0.2], [0.7]])
    net = Network((Dense(np.array([[0.3]]), np.array([0.1]), "tanh"),
                   Dense(np.array([[0.8]]), np.array([0.0]), "identity")))
    opts = KFACOptions(max_iter=1, batch_size=2, gram_rows=None, project_iter=0,
                       output_iter=0, tol=0.0)
    result = fit(InMemory(X, Y), net, opts, classification=False)
    assert _recorded(result.history) == ([0], 0)
    # 1-1-1 network, 2 rows, one full-batch step:
    #   input factor [x 1]^T [x 1]: 2 sums + 2 * 1 * 2 * 1 = 6
    #   objective (start, and after the step): forward 2 * (4 + 4), half squared error 6,
    #   penalty 2 + 2, metrics 6: 32 each
    #   the mini-batch: forward 4 + 4; layer 1: errors back 4 + derivative 4, input factor
    #   2 + 4, error factor 4, gradient 4 + 2, direction 8 + 4 (36); layer 0: the same
    #   without the first four (22): 66
    #   damped inverses: Cholesky (5) and solves (16) of the two 2 x 2 input factors, and
    #   1 + 2 of the two 1 x 1 error factors: 48
    expected = 6 + 32 + 66 + 48 + 32
    assert result.ledger.total == expected and result.ledger.exact
    assert count_flops(2, [1, 1, 1], "squared_error", [0], opts=opts) == expected


SETTINGS = {
    "defaults": dict(),
    "row-subsets": dict(gram_rows=50, eval_rows=80),
    "no-projection": dict(project_iter=0),
    "no-steps": dict(max_iter=0),
    "retries": dict(step_size=3.0, damping=0.01, max_retries=3, retry_factor=3.0,
                    update_every=3, batches_per_step=5),
}


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("sizes", [[4, 6, 3], [5, 7, 4, 2]], ids=str)
@pytest.mark.parametrize("loss", ["squared_error", "softmax", "sigmoid"])
@pytest.mark.parametrize("block", [None, 37], ids=["memory", "blocks"])
def test_count_equals_the_ledger(settings, sizes, loss, block):
    n = 150
    X, Y, labels = _problem(loss, sizes, n)
    out = "identity" if loss == "squared_error" else loss
    net = init_network(tuple(sizes), "tanh", out, "fan_in", np.random.default_rng(1),
                       np.float64)
    opts = KFACOptions(**{"max_iter": 5, "batch_size": 40, "tol": 0.0, "output_iter": 3,
                          "step_size": 0.3, **settings})
    if block is None:
        source, chunks = InMemory(X, Y, labels), None
    else:
        source = ArrayChunks(
            X, lambda a, b: (Y[a:b], None if labels is None else labels[a:b]), block,
            np.float64,
        )
        chunks = [min(block, n - start) for start in range(0, n, block)]
    result = fit(source, net, opts, classification=loss != "squared_error")
    retries, steps = _recorded(result.history)
    if "retry_factor" in settings:
        assert sum(retries) > 0
    assert result.ledger.exact
    assert count_flops(
        n, sizes, loss, retries, opts=opts, output_steps=steps, chunks=chunks
    ) == result.ledger.total


def test_count_does_not_depend_on_the_dtype():
    X, Y, labels = _problem("softmax", [4, 6, 3], 120, dtype=np.float32)
    net = init_network((4, 6, 3), "tanh", "softmax", "fan_in", np.random.default_rng(1),
                       np.float32)
    opts = KFACOptions(max_iter=3, batch_size=50, tol=0.0)
    result = fit(InMemory(X, Y, labels), net, opts, classification=True)
    retries, steps = _recorded(result.history)
    assert count_flops(120, [4, 6, 3], "softmax", retries, opts=opts,
                       output_steps=steps) == result.ledger.total


@pytest.mark.parametrize("path", ["memory", "batch_size", "dask"])
@pytest.mark.parametrize("loss", ["squared_error", "softmax", "sigmoid"])
def test_estimators_flops_are_the_count(loss, path):
    n, hidden = 300, (9,)
    X, Y, labels = _problem(loss, [6, 9, 3], n)
    if loss == "squared_error":
        est, target = BPLSRegressor(hidden_layer_sizes=hidden, method="kfac", max_iter=3,
                                    random_state=0), Y
    else:
        est, target = BPLSClassifier(hidden_layer_sizes=hidden, method="kfac", max_iter=3,
                                     output_activation=loss, random_state=0), labels
    chunks = None
    if path == "batch_size":
        est.set_params(batch_size=64)
        est.fit(X, target)
        chunks = [64] * 4 + [44]
    elif path == "dask":
        dask = pytest.importorskip("dask")
        da = pytest.importorskip("dask.array")
        with dask.config.set(scheduler="synchronous"):
            est.fit(da.from_array(X, chunks=(100, -1)),
                    da.from_array(target, chunks=(100, *target.shape[1:])))
        chunks = [100] * 3
    else:
        est.fit(X, target)
    retries, steps = _recorded(est.history_)
    # the estimators' options: their alpha, max_iter, tol and output_iter (0: the default 5)
    opts = KFACOptions(alpha=est.alpha, max_iter=3, tol=est.tol, output_iter=5)
    assert est.flops_exact_ and est.flops_ == count_flops(
        n, [6, *hidden, 3], loss, retries, opts=opts, output_steps=steps, chunks=chunks
    )


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="loss must be one of"):
        count_flops(10, [2, 3, 1], "hinge", [0])
    with pytest.raises(ValueError, match="a hidden layer on at least 2 rows"):
        count_flops(10, [2, 1], "squared_error", [0])
    with pytest.raises(ValueError, match=r"retries must be in \[0, 5\]"):
        count_flops(10, [2, 3, 1], "squared_error", [6])
    with pytest.raises(ValueError, match="chunks must be positive row counts adding up to n=10"):
        count_flops(10, [2, 3, 1], "squared_error", [0], chunks=[4, 5])
