"""The gradient baselines: the same network trained by ``torch.optim`` with mini-batches.

Each optimiser is a row of :data:`OPTIMIZERS`: the ``torch.optim`` class, its fixed
arguments, and the learning-rate grid searched on a validation split (the grids bracket the
rates usually recommended for each: 1e-3 for Adam, 1e-2 for AdaGrad, 0.01-0.1 for SGD, and
reach a factor of 3 to 10 beyond them on both sides; a choice at the edge of its grid is flagged
in the results).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._torch import TORCH_ACTIVATIONS, activation_module
from ..datasets import Dataset
from ..features import make_feature_map
from ..network import init_network
from ._harness import BenchConfig, Recorder

__all__ = [
    "OPTIMIZERS", "TORCH_ACTIVATIONS", "build_model", "train_gradient", "train_warm_start",
]

#: name -> (torch.optim class name, fixed keyword arguments, learning-rate grid)
OPTIMIZERS: dict[str, tuple[str, dict[str, Any], tuple[float, ...]]] = {
    "adam": ("Adam", {}, (3e-4, 1e-3, 3e-3, 1e-2)),
    "sgd": ("SGD", {}, (0.01, 0.03, 0.1, 0.3, 1.0)),
    "nag": ("SGD", {"momentum": 0.9, "nesterov": True}, (0.003, 0.01, 0.03, 0.1, 0.3)),
    "adagrad": ("Adagrad", {}, (0.003, 0.01, 0.03, 0.1)),
}

def build_model(
    sizes: tuple[int, ...], activation: str, init: str, seed: int,
    image_shape: tuple[int, int] | None = None,
):
    """``torch.nn.Sequential`` of Linear layers with ``activation`` between them (linear output).

    ``init="default"`` keeps PyTorch's initialisation (seeded by ``seed``); an lsqnet scheme
    copies the weights :func:`lsqnet.network.init_network` draws for ``seed``, so BPLS and
    the gradient methods start from the same network.
    """
    import torch

    if activation not in TORCH_ACTIVATIONS:
        valid = ", ".join(repr(a) for a in TORCH_ACTIVATIONS)
        raise ValueError(
            f"activation {activation!r} has no PyTorch module for the gradient baselines; "
            f"use one of {valid}."
        )
    torch.manual_seed(seed)
    modules: list[Any] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        modules.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            modules.append(activation_module(activation))
    model = torch.nn.Sequential(*modules)
    if init != "default":
        network = init_network(
            sizes, activation, "identity", make_feature_map(init, image_shape=image_shape),
            np.random.default_rng(seed), np.float32,
        )
        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for linear, layer in zip(linears, network.layers, strict=True):
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weight.T)))
                linear.bias.copy_(torch.from_numpy(layer.bias))
    return model


def train_gradient(
    optimizer: str,
    data: Dataset,
    seed: int,
    config: BenchConfig,
    params: dict[str, Any],
    rec: Recorder,
    *,
    start: Any = None,
) -> dict[str, Any]:
    """Mini-batch training for ``config.epochs`` epochs.

    Curve points: the starting network (step 0: untrained, or ``start``, a
    ``torch.nn.Module`` to train further), then ``config.evals_per_epoch`` times per epoch
    (step: epochs done, fractional between epoch ends; the training loss is the mean
    mini-batch loss since the previous point). A non-finite training loss stops training
    with status ``"diverged"``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(torch, optimizer, data, seed, config, params, rec, start)
    finally:
        torch.set_num_threads(threads)


def train_warm_start(
    optimizer: str,
    data: Dataset,
    seed: int,
    config: BenchConfig,
    params: dict[str, Any],
    rec: Recorder,
) -> dict[str, Any]:
    """BPLS (lsqnet's defaults on ``config``'s network), then ``optimizer`` from its weights.

    The BPLS network is exported by :meth:`~lsqnet.BPLSClassifier.to_torch` without its
    output activation (its pre-activations are the logits of the cross-entropy loss); the
    clock runs through both, so the curve's step 0 is the BPLS network at BPLS's time, and
    step e is e epochs of ``optimizer`` after it.
    """
    from ..estimators import BPLSClassifier

    init = "fan_in" if config.init == "default" else config.init
    est = BPLSClassifier(
        hidden_layer_sizes=config.hidden, activation=config.activation, init=init,
        max_iter=config.max_iter, random_state=seed,
    ).fit(data.X_train, data.y_train)
    if not np.array_equal(est.classes_, np.arange(est.classes_.shape[0])):
        raise ValueError("warm starts need labels 0, 1, ..., k-1 (as lsqnet.datasets gives).")
    info = train_gradient(
        optimizer, data, seed, config, params, rec,
        start=est.to_torch(output_activation=False),
    )
    info["params"] = {**info["params"], "start": "bpls", "bpls_sweeps": est.n_iter_,
                      "bpls_max_iter": config.max_iter}
    return info


def _train(torch, optimizer, data, seed, config, params, rec, start=None) -> dict[str, Any]:
    cls_name, fixed, _ = OPTIMIZERS[optimizer]
    X = torch.from_numpy(data.X_train)
    y = torch.from_numpy(data.y_train)
    n_classes = int(data.y_train.max()) + 1
    model = start if start is not None else build_model(
        (X.shape[1], *config.hidden, n_classes), config.activation, config.init, seed,
        config.image_shape,
    )
    opt = getattr(torch.optim, cls_name)(model.parameters(), lr=params["lr"], **fixed)
    if config.loss == "mse":
        eye = torch.eye(n_classes)
        mse = torch.nn.MSELoss()

        def loss_fn(out, target):
            return mse(out, eye[target])
    else:
        loss_fn = torch.nn.CrossEntropyLoss()

    def predict(Xe: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(Xe)).argmax(dim=1).numpy()

    generator = torch.Generator().manual_seed(seed)
    n, batch = X.shape[0], config.batch_size
    status = "ok"
    rec.point(0, predict, math.nan)
    n_batches = -(-n // batch)
    every = -(-n_batches // config.evals_per_epoch)  # batches between curve points
    for epoch in range(config.epochs):
        total, seen = 0.0, 0
        for i, idx in enumerate(torch.randperm(n, generator=generator).split(batch), 1):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
            seen += idx.shape[0]
            if i % every == 0 or i == n_batches:  # the mean loss since the last point
                rec.point(epoch + i / n_batches, predict, total / seen)
                if not math.isfinite(total):
                    break
                total, seen = 0.0, 0
        if not math.isfinite(total):
            status = "diverged"
            break
    return {
        "params": {"optimizer": f"torch.optim.{cls_name}", **fixed, **params,
                   "batch_size": batch, "loss": config.loss},
        "loss_name": config.loss,
        "status": status,
    }
