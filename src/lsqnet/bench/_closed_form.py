"""The closed-form methods: BPLS, an extreme learning machine, and ridge on the raw inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations as _activations
from ..datasets import Dataset
from ..estimators import PRESETS, BPLSClassifier
from ..features import make_feature_map
from ..layers import fit_layer
from ..network import init_network
from ._harness import BenchConfig, Recorder

__all__ = [
    "KFAC_FAST", "KFAC_UNITS", "PATCH_UNITS", "train_bpls", "train_elm", "train_kfac_fast",
    "train_ridge",
]

#: The settings of the ``bpls-patches`` method: only the output layer solved, on one layer of
#: ReLU local receptive fields (``init="patches"``) of the architecture's width, then fitted
#: to the softmax cross-entropy by three least-squares steps (a curve point after each).
PATCH_UNITS = {
    "activation": "relu", "init": "patches", "max_iter": 0, "refit_output": True,
    "output_activation": "softmax", "output_iter": 3,
}


#: The settings of the ``kfac`` method: every layer of the config's network trained by
#: Kronecker-factored least-squares steps (:mod:`lsqnet.training.kfac`) for its default number
#: of passes, with a softmax output fitted to the cross-entropy.
KFAC_UNITS = {"method": "kfac", "max_iter": None, "output_activation": "softmax"}

#: The settings of the ``kfac-fast`` method: the config's network with ReLU units, every layer
#: trained by one step of Kronecker-factored updates over a third of the training rows
#: (mini-batches of 500), the first layer's input Gram from 5000 rows, the objective measured
#: and the softmax output layer fitted on half of the rows, and no final cross-entropy steps
#: over all rows (``benchmarks/study_kfac.py``'s ``kfac-third``). The fraction of the rows
#: becomes ``batches_per_step`` for the data's size.
KFAC_FAST = {
    "method": "kfac", "activation": "relu", "output_activation": "softmax", "max_iter": 1,
    "method_options": {"batch_size": 500, "gram_rows": 5000, "output_iter": 0},
}
#: The share of the training rows the ``kfac-fast`` step passes over, and that it is
#: measured and projected on.
KFAC_FAST_ROWS = (1 / 3, 1 / 2)


def _one_hot(y: np.ndarray, dtype) -> np.ndarray:
    return np.eye(int(y.max()) + 1, dtype=dtype)[y]


def _mse(out: np.ndarray, Y: np.ndarray) -> float:
    return float(np.mean((out - Y) ** 2, dtype=np.float64))


def train_bpls(
    data: Dataset, seed: int, config: BenchConfig, params: dict[str, Any], rec: Recorder,
    *, preset: str | None = None, overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:class:`~lsqnet.BPLSClassifier`; a curve point after every step, then the returned net.

    Without a ``preset``, the network is ``config``'s (sizes, activation, init, max_iter) with
    the estimator's defaults otherwise; a preset (:data:`lsqnet.estimators.PRESETS`) sets its
    own parameters, and ``config`` only what the preset leaves open. ``overrides`` replace
    ``config``'s settings the same way, keeping its sizes (``bpls-patches``).
    """
    init = "fan_in" if config.init == "default" else config.init
    settings = dict(
        hidden_layer_sizes=config.hidden, activation=config.activation, init=init,
        image_shape=config.image_shape, max_iter=config.max_iter, random_state=seed,
    )
    if preset is not None:
        settings.update(PRESETS[preset])
    settings.update(overrides or {})
    est = BPLSClassifier(**{**settings, **params})

    def monitor(entry, network):
        rec.point(
            entry["iteration"], lambda X: est.classes_[np.argmax(network.forward(X), axis=1)],
            entry["loss"],
        )

    est.fit(data.X_train, data.y_train, monitor=monitor)
    rec.point(est.n_iter_, est.predict, est.loss_)  # the returned (best) iterate
    settings = est.get_params()
    settings.pop("verbose")
    if preset is not None:
        settings["preset"] = preset
    return {"params": settings, "loss_name": "mse", "solver": est.solver_, "flops": est.flops_}


def train_kfac_fast(
    data: Dataset, seed: int, config: BenchConfig, params: dict[str, Any], rec: Recorder
) -> dict[str, Any]:
    """:func:`train_bpls` with :data:`KFAC_FAST`: a third of the training rows in
    mini-batches of 500, the objective and the output layer on half of them."""
    n = data.X_train.shape[0]
    options = KFAC_FAST["method_options"]
    step, evaluated = KFAC_FAST_ROWS
    overrides = {**KFAC_FAST, "method_options": {
        **options,
        "batches_per_step": max(1, round(step * n / options["batch_size"])),
        "eval_rows": max(2, round(evaluated * n)),
    }}
    return train_bpls(data, seed, config, params, rec, overrides=overrides)


def _elm_hidden(config: BenchConfig, n_in: int, seed: int):
    rng = np.random.default_rng(seed)
    init = make_feature_map(
        "fan_in" if config.init == "default" else config.init, image_shape=config.image_shape
    )
    first = init_network(
        (n_in, config.hidden[0], 1), config.activation, "identity", init, rng, np.float32
    ).layers[0]
    bias = rng.uniform(-1.0, 1.0, size=config.hidden[0]).astype(np.float32)
    act = _activations.get(config.activation)
    return lambda X: act.forward(X @ first.weight + bias)


def train_elm(
    data: Dataset, seed: int, config: BenchConfig, params: dict[str, Any], rec: Recorder
) -> dict[str, Any]:
    """Extreme learning machine: a random hidden layer (the first of ``config.hidden``, weights
    from the ``init`` scheme, biases uniform in [-1, 1]) and a ridge-regression output layer on
    one-hot targets."""
    if not config.hidden:
        raise ValueError(
            "elm needs a hidden layer: give at least one hidden size (e.g. --hidden 256)."
        )
    features = _elm_hidden(config, data.X_train.shape[1], seed)
    H = features(data.X_train)
    Y = _one_hot(data.y_train, H.dtype)
    layer = fit_layer(H, Y, activation="identity", alpha=params["alpha"])
    loss = _mse(layer.forward(H), Y)
    rec.point(1, lambda X: np.argmax(layer.forward(features(X)), axis=1), loss)
    return {"params": dict(params), "loss_name": "mse"}


def train_ridge(
    data: Dataset, seed: int, config: BenchConfig, params: dict[str, Any], rec: Recorder
) -> dict[str, Any]:
    """Linear least squares (ridge) from the raw inputs to one-hot targets."""
    Y = _one_hot(data.y_train, data.X_train.dtype)
    layer = fit_layer(data.X_train, Y, activation="identity", alpha=params["alpha"])
    loss = _mse(layer.forward(data.X_train), Y)
    rec.point(1, lambda X: np.argmax(layer.forward(X), axis=1), loss)
    return {"params": dict(params), "loss_name": "mse"}
