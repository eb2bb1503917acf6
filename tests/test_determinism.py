"""Bit-identical results from repeated runs with the same seed, data and thread count.

Every fitted array (``coefs_``, ``intercepts_``, layer weights, ``lstsq`` solutions) and every
prediction is compared with ``np.array_equal``: no tolerance. Each check runs both under
``threadpoolctl.threadpool_limits(1)`` and under the default thread count (a multi-threaded
BLAS may split reductions differently from one thread count to another, so results are only
compared between runs with the same count). The data are large enough for OpenBLAS to use
several threads on the bigger products.

A test that different seeds give different weights shows the comparisons can fail. The
benchmark harness (``lsqnet.bench.run``) is checked the same way on the digits data, for the
closed-form methods and torch's Adam on the CPU with ``BenchConfig(threads=1)``.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from lsqnet import BPLSClassifier, BPLSRegressor, fit_layer, lstsq
from lsqnet.exceptions import SolverFallbackWarning, TargetClippingWarning

THREADS = {
    "one_thread": lambda: threadpool_limits(limits=1),
    "default_threads": contextlib.nullcontext,
}


@pytest.fixture(autouse=True)
def _quiet():
    # Fallbacks and clipping are expected on some configurations; they are deterministic too.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        warnings.simplefilter("ignore", TargetClippingWarning)
        yield


def _data(dtype, n=400, d=24):
    rng = np.random.default_rng(42)
    X = rng.standard_normal((n, d)).astype(dtype)
    y_reg = np.stack(
        [np.tanh(X @ rng.standard_normal(d) / np.sqrt(d)), np.sin(X[:, 0] * X[:, 1])], axis=1
    ).astype(dtype) * 0.5
    y_clf = (X[:, 0] > 0).astype(int) + (X[:, 1] + X[:, 2] > 0.5).astype(int)  # 3 classes
    return X, y_reg, y_clf


REGRESSOR_CONFIGS = [
    {"hidden_layer_sizes": (32,), "activation": "tanh", "solver": "auto"},
    {"hidden_layer_sizes": (16, 8), "activation": "sigmoid", "solver": "cholesky",
     "output_activation": "tanh"},
    {"hidden_layer_sizes": (24,), "activation": "relu", "solver": "qr"},
    {"hidden_layer_sizes": (12,), "activation": "elu", "solver": "svd",
     "layer_method": "weighted"},
    {"hidden_layer_sizes": (20,), "activation": "leaky_relu", "solver": "auto",
     "hidden_target": "min_norm", "init": "uniform"},
    {"hidden_layer_sizes": (), "solver": "svd"},
]

CLASSIFIER_CONFIGS = [
    {"hidden_layer_sizes": (32,), "activation": "tanh", "solver": "auto",
     "iteration_rule": "all"},
    {"hidden_layer_sizes": (32,), "activation": "tanh", "solver": "auto",
     "iteration_rule": "misclassified"},
    {"hidden_layer_sizes": (16, 8), "activation": "sigmoid", "solver": "cholesky",
     "output_activation": "softmax", "iteration_rule": "misclassified"},
    {"hidden_layer_sizes": (24,), "activation": "relu", "solver": "qr",
     "iteration_rule": "all"},
    {"hidden_layer_sizes": (12,), "activation": "elu", "solver": "svd",
     "iteration_rule": "misclassified", "layer_method": "weighted"},
]


def _config_id(config):
    return "-".join(f"{v}" for v in config.values()).replace(" ", "")


def _assert_identical(a, b):
    """Same fitted weights and same predictions, bit for bit."""
    assert len(a.coefs_) == len(b.coefs_)
    for i, (Wa, Wb, ba, bb) in enumerate(
        zip(a.coefs_, b.coefs_, a.intercepts_, b.intercepts_, strict=True)
    ):
        assert Wa.dtype == Wb.dtype
        assert np.array_equal(Wa, Wb), f"coefs_[{i}] differ"
        assert np.array_equal(ba, bb), f"intercepts_[{i}] differ"
    assert a.n_iter_ == b.n_iter_
    assert a.loss_ == b.loss_


def _fit_twice(est, X, y):
    """Two fresh estimators, and a third fitted twice (a refit starts from scratch)."""
    first = clone(est).fit(X, y)
    second = clone(est).fit(X, y)
    third = clone(est).fit(X[::-1], y[::-1]).fit(X, y)
    return first, second, third


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", REGRESSOR_CONFIGS, ids=_config_id)
def test_regressor_is_bit_identical(config, dtype, threads):
    X, y, _ = _data(dtype)
    est = BPLSRegressor(max_iter=3, tol=0.0, random_state=7, **config)
    with THREADS[threads]():
        first, second, third = _fit_twice(est, X, y)
        predictions = [m.predict(X) for m in (first, second, third)]
    assert first.coefs_[0].dtype == dtype
    _assert_identical(first, second)
    _assert_identical(first, third)
    assert np.array_equal(predictions[0], predictions[1])
    assert np.array_equal(predictions[0], predictions[2])


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", CLASSIFIER_CONFIGS, ids=_config_id)
def test_classifier_is_bit_identical(config, dtype, threads):
    X, _, y = _data(dtype)
    est = BPLSClassifier(max_iter=3, tol=0.0, random_state=7, **config)
    with THREADS[threads]():
        first, second, third = _fit_twice(est, X, y)
        proba = [m.predict_proba(X) for m in (first, second, third)]
        labels = [m.predict(X) for m in (first, second, third)]
    assert first.coefs_[0].dtype == dtype
    _assert_identical(first, second)
    _assert_identical(first, third)
    assert np.array_equal(proba[0], proba[1]) and np.array_equal(proba[0], proba[2])
    assert np.array_equal(labels[0], labels[1]) and np.array_equal(labels[0], labels[2])
    assert [h["accuracy"] for h in first.history_] == [h["accuracy"] for h in second.history_]


@pytest.mark.parametrize("cls", [BPLSRegressor, BPLSClassifier])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_state_instance_is_reproducible(cls, dtype):
    """A RandomState seeded the same way gives the same weights, like an int seed."""
    X, y_reg, y_clf = _data(dtype)
    y = y_reg if cls is BPLSRegressor else y_clf
    a = cls(hidden_layer_sizes=(16,), max_iter=2, random_state=np.random.RandomState(3)).fit(X, y)
    b = cls(hidden_layer_sizes=(16,), max_iter=2, random_state=np.random.RandomState(3)).fit(X, y)
    _assert_identical(a, b)


@pytest.mark.parametrize("cls", [BPLSRegressor, BPLSClassifier])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_different_random_states_give_different_weights(cls, dtype):
    """The comparisons above can fail: another seed draws other initial weights."""
    X, y_reg, y_clf = _data(dtype)
    y = y_reg if cls is BPLSRegressor else y_clf
    fits = [
        cls(hidden_layer_sizes=(16,), max_iter=2, random_state=seed).fit(X, y)
        for seed in (0, 1)
    ]
    for Wa, Wb in zip(fits[0].coefs_, fits[1].coefs_, strict=True):
        assert not np.array_equal(Wa, Wb)
    output = "predict" if cls is BPLSRegressor else "predict_proba"
    assert not np.array_equal(getattr(fits[0], output)(X), getattr(fits[1], output)(X))
    with pytest.raises(AssertionError):
        _assert_identical(*fits)


# --------------------------------------------------------------------------------------------
# fit_layer and lstsq
# --------------------------------------------------------------------------------------------

LAYER_CONFIGS = [
    {"activation": "identity", "solver": "auto"},
    {"activation": "sigmoid", "solver": "cholesky", "method": "weighted"},
    {"activation": "tanh", "solver": "qr", "refine": 2},
    {"activation": "relu", "solver": "svd", "inverse_iter": 5},
    {"activation": "softmax", "solver": "auto", "alpha": 1e-3},
    {"activation": "sigmoid", "solver": "svd", "alpha": 0.1, "refine": 1},
]


def _layer_data(dtype, n=2000, d=40, k=6):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((n, d)).astype(dtype)
    logits = X @ rng.standard_normal((d, k)) / np.sqrt(d)
    Y = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    return X, Y, w


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=_config_id)
def test_fit_layer_is_bit_identical(config, dtype, threads):
    X, Y, w = _layer_data(dtype)
    with THREADS[threads]():
        a, b = (fit_layer(X, Y, sample_weight=w, return_info=True, **config) for _ in range(2))
    assert a.layer.weight.dtype == dtype
    assert np.array_equal(a.layer.weight, b.layer.weight)
    assert np.array_equal(a.layer.bias, b.layer.bias)
    assert (a.solver, a.n_refine, a.loss) == (b.solver, b.n_refine, b.loss)
    assert np.array_equal(a.layer.forward(X), b.layer.forward(X))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr", "svd"])
@pytest.mark.parametrize("weights", ["none", "1d", "2d"])
def test_lstsq_is_bit_identical(solver, dtype, threads, weights):
    X, Y, w = _layer_data(dtype)
    sample_weight = {"none": None, "1d": w, "2d": np.outer(w, np.arange(1, 7)).astype(dtype)}
    with THREADS[threads]():
        a, b = (
            lstsq(X, Y, solver=solver, alpha=1e-2, sample_weight=sample_weight[weights])
            for _ in range(2)
        )
    assert a.dtype == dtype
    assert np.array_equal(a, b)


def test_lstsq_comparison_can_fail():
    """Different data give different solutions: np.array_equal is not vacuous here."""
    X, Y, _ = _layer_data(np.float64)
    assert not np.array_equal(lstsq(X, Y), lstsq(X, Y[::-1]))


# --------------------------------------------------------------------------------------------
# The benchmark harness
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    from lsqnet import datasets

    return datasets.load("digits")


@pytest.fixture
def _restore_torch_threads():
    """The gradient methods set torch's global thread count; put it back afterwards."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _bench_curve(method, data, seed):
    from lsqnet.bench import BenchConfig, run

    config = BenchConfig(
        hidden=(16,), epochs=2, max_iter=2, batch_size=128, threads=1, evals_per_epoch=1
    )
    record = run(method, data, seed, config)
    return (
        [point["test_accuracy"] for point in record.curve],
        [point["train_loss"] for point in record.curve],
    )


@pytest.mark.usefixtures("_restore_torch_threads")
@pytest.mark.parametrize("method", ["bpls", "elm", "ridge", "adam"])
def test_bench_run_is_reproducible(method, digits):
    if method == "adam":
        pytest.importorskip("torch")
    first_acc, first_loss = _bench_curve(method, digits, seed=0)
    second_acc, second_loss = _bench_curve(method, digits, seed=0)
    assert first_acc == second_acc
    assert np.array_equal(first_loss, second_loss, equal_nan=True)
    if method != "ridge":  # ridge draws nothing at random
        _, other_loss = _bench_curve(method, digits, seed=1)
        assert not np.array_equal(other_loss, first_loss, equal_nan=True)
