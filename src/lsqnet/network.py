"""A fully-connected network as a tuple of :class:`~lsqnet.layers.Dense` layers.

Holds the forward pass (keeping every layer's activations, which BPLS needs), the weight
initialisations, and the backward target step of BPLS: the desired inputs of a layer given
its desired pre-activations. Pure array functions; every product is recorded in the active
operation ledger (:mod:`lsqnet._flops`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _flops, _sparse
from . import activations as _activations
from ._array_api import device, get_namespace, xp_dtype
from .features import FanIn, FeatureMap, Uniform, make_feature_map
from .layers import Dense
from .solvers import GramStats
from .solvers._policy import Accepts, factorize

__all__ = ["Network", "apply_layer", "desired_inputs", "init_network"]


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward network: ``layers[-1](...layers[1](layers[0](X)))``."""

    layers: tuple[Dense, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """(n_in, hidden..., n_out)."""
        return (self.layers[0].n_in, *(layer.n_out for layer in self.layers))

    def forward_all(self, X: np.ndarray) -> list[np.ndarray]:
        """``[X, h_1, ..., h_L]``: the input (a NumPy array, a tensor, or a SciPy sparse
        matrix, whose products with the first layer's weight are dense) and every layer's
        activation."""
        outs = [X]
        for layer in self.layers:
            outs.append(apply_layer(layer, outs[-1]))
        return outs

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The network's output for validated ``X`` (n_samples, n_in)."""
        h = X
        for layer in self.layers:
            h = apply_layer(layer, h)
        return h


def apply_layer(layer: Dense, H: np.ndarray) -> np.ndarray:
    """``f(H W + b)`` on a validated array, with its operations recorded."""
    n = H.shape[0]
    Z = layer.pre_activation(H)
    _flops.record("gemm", _flops.gemm(n, layer.n_in, layer.n_out))
    _flops.record("elementwise", 2 * _flops.elementwise(n, layer.n_out))
    return _activations.get(layer.activation).forward_(Z)  # Z is ours: in place


def init_network(
    sizes: Sequence[int],
    activation: str,
    output_activation: str,
    init: str | FeatureMap,
    rng: np.random.Generator,
    dtype: np.dtype,
    *,
    X: np.ndarray | None = None,
    Y: np.ndarray | None = None,
    scale: float = 1.0,
) -> Network:
    """Initial weights, all multiplied by ``scale``.

    The first layer's units come from the feature map ``init`` (a :class:`FeatureMap` or
    the name of one that needs no parameters; see :mod:`lsqnet.features`), which may read the
    training inputs ``X`` and targets ``Y``; every later layer is
    :class:`~lsqnet.features.FanIn` (:class:`~lsqnet.features.Uniform` when the first is).
    The data-dependent work is recorded in the active ledger (see
    :func:`lsqnet.bpls.count_flops`).

    The weights are drawn by ``rng`` (NumPy) and placed in the namespace and on the device of
    ``X`` when it is given (a PyTorch tensor gives tensors on its device), so that a seed gives
    the same network for NumPy arrays and tensors. A map's units are given the map's own
    matrix product (:func:`lsqnet.features.windows.banded_product` for windows).

    A SciPy sparse ``X`` is read by the maps through :class:`lsqnet._sparse.SparseRows`: its
    column sums and the rows a map draws, made dense; never all of it.
    """
    first = make_feature_map(init)
    if first.needs_inputs and X is None:
        raise ValueError(f"init={first.name!r} draws its units from the training inputs: pass X.")
    later = first if isinstance(first, Uniform) else FanIn()
    inputs = _sparse.SparseRows(X) if _sparse.is_sparse(X) else X
    xp = get_namespace(X)
    place = {"dtype": xp_dtype(xp, dtype), "device": None if X is None else device(X)}
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        act = output_activation if i == len(sizes) - 2 else activation
        units = first if i == 0 else later
        W, b = units.units(n_in, n_out, rng, X=inputs, Y=Y)
        product = getattr(units, "product", None)
        layers.append(Dense(
            xp.asarray(W * scale, **place), xp.asarray(b * scale, **place), act, product=product,
        ))
    return Network(tuple(layers))


def _relative_ridge(stats: GramStats, ridge: float, rank: int) -> float:
    _flops.record("ridge", stats.n_features + 1)
    xp = get_namespace(stats.AtA)
    return ridge * float(xp.sum(xp.linalg.diagonal(stats.AtA))) / rank


def desired_inputs(
    layer: Dense,
    target_pre: np.ndarray,
    current: np.ndarray | None,
    ridge: float,
) -> np.ndarray:
    r"""The inputs ``D`` of ``layer`` whose pre-activations best match ``target_pre``.

    Solves :math:`\min_D \|D W + b - T\|^2 + \lambda \|D - H\|^2` row by row, with ``H`` the
    ``current`` inputs (the solution closest to them: only the part of the target the
    current inputs miss is explained) or ``H = 0`` when ``current`` is None (the minimum-norm
    solution, the literal reading of the BPLS paper). ``lambda = ridge * ||W||_F^2 /
    min(n_in, n_out)``, a multiple of the mean non-zero eigenvalue of ``W^T W``, keeps the
    solve well posed when ``W`` is rank deficient.

    Only a small Gram matrix of ``W`` is factorised: ``W^T W`` (n_out x n_out) when the layer
    narrows, ``W W^T`` (n_in x n_in) otherwise, through the identity
    :math:`E W^T (W W^T + \lambda I)^{-1} = E (W^T W + \lambda I)^{-1} W^T`.
    """
    W = layer.weight
    xp = get_namespace(W)
    no_targets = {"dtype": W.dtype, "device": device(W)}
    p, q = W.shape
    n = target_pre.shape[0]
    E = target_pre - layer.bias
    _flops.record("elementwise", _flops.elementwise(n, q))
    if current is not None:
        E -= current @ W
        _flops.record("gemm", _flops.gemm(n, p, q))
        _flops.record("elementwise", _flops.elementwise(n, q))
    if q <= p:  # W^T W is the small one: D = E (W^T W + lam I)^-1 W^T
        stats = GramStats.from_data(W, xp.zeros((p, 0), **no_targets))
        lam = _relative_ridge(stats, ridge, min(p, q))
        factor = factorize(
            stats, lam, fit_intercept=False, solver="auto", owner="BPLS backward step",
            accepts=Accepts(solvers=(), ridge="backprop_ridge", dtype=True),
        )
        delta = factor.solve(E.T).T @ W.T
        _flops.record("gemm", _flops.gemm(n, q, p))
    else:  # W W^T is the small one: D = E W^T (W W^T + lam I)^-1
        stats = GramStats.from_data(W.T, xp.zeros((q, 0), **no_targets))
        lam = _relative_ridge(stats, ridge, min(p, q))
        factor = factorize(
            stats, lam, fit_intercept=False, solver="auto", owner="BPLS backward step",
            accepts=Accepts(solvers=(), ridge="backprop_ridge", dtype=True),
        )
        delta = factor.solve(W @ E.T).T
        _flops.record("gemm", _flops.gemm(p, q, n))
    delta = xp.astype(delta, W.dtype, copy=False)
    if current is None:
        return delta
    _flops.record("elementwise", _flops.elementwise(n, p))
    return current + delta
