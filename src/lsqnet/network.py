"""A fully-connected network as a tuple of :class:`~lsqnet.layers.Dense` layers.

Holds the forward pass (keeping every layer's activations, which BPLS needs), the weight
initialisations, and the backward target step of BPLS: the desired inputs of a layer given
its desired pre-activations. Pure array functions; every product is recorded in the active
operation ledger (:mod:`lsqnet._flops`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _flops
from . import activations as _activations
from ._array_api import device, get_namespace, xp_dtype
from .layers import Dense
from .solvers import GramStats
from .solvers._lstsq import factorize_with_fallback

__all__ = ["INITS", "Network", "desired_inputs", "init_network"]

INITS = ("uniform", "fan_in", "samples", "patches", "contrasts")

#: Rows of ``X`` that set the thresholds of ``init="patches"`` units (fewer if X has fewer).
PATCH_BIAS_ROWS = 1000

#: The default smallest and largest window side of ``init="patches"`` units, as fractions of
#: the image side (7 to 14 pixels for 28 x 28 images).
PATCH_SIZE = (0.25, 0.5)

#: Each ``init="patches"`` unit's bias is lowered by ``u`` times its standard deviation over
#: ``PATCH_BIAS_ROWS`` rows, ``u`` uniform in this range (a negative ``u`` raises it: the unit
#: fires on more samples). Earlier versions used [0, 1); this range was 0.2-0.5 point better on
#: Fashion-MNIST up to 2048 units and level on MNIST (``study_presets.py --family windows``).
PATCH_THRESHOLDS = (-0.5, 1.0)

#: Rows of ``X`` and the targets whose covariances fit ``init="contrasts"`` units (fewer if
#: X has fewer); the first ``PATCH_BIAS_ROWS`` of them set the thresholds.
CONTRAST_ROWS = 10_000

#: The ridge of each ``init="contrasts"`` unit's least-squares fit, relative to the mean
#: variance of its window's pixels (0.1 scored best of 0.03, 0.1, 0.3 and 1 on Fashion-MNIST
#: validation, all within 0.4 point: ``benchmarks/study_presets.py --family contrasts``).
CONTRAST_RIDGE = 0.1

#: Most entries of the stacked window covariances ``init="contrasts"`` solves at once.
_CONTRAST_BATCH = 2**22


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward network: ``layers[-1](...layers[1](layers[0](X)))``."""

    layers: tuple[Dense, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """(n_in, hidden..., n_out)."""
        return (self.layers[0].n_in, *(layer.n_out for layer in self.layers))

    def forward_all(self, X: np.ndarray) -> list[np.ndarray]:
        """``[X, h_1, ..., h_L]``: the input and every layer's activation."""
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
    init: str,
    rng: np.random.Generator,
    dtype: np.dtype,
    *,
    X: np.ndarray | None = None,
    Y: np.ndarray | None = None,
    scale: float = 1.0,
    patch_size: tuple[float, float] = PATCH_SIZE,
) -> Network:
    """Initial weights, all multiplied by ``scale``.

    ``"uniform"``: every weight and bias uniform in [-1, 1], the choice of Tomic et al.
    (arXiv 2401.06699). ``"fan_in"``: uniform in [-sqrt(3/n_in), sqrt(3/n_in)] (unit variance
    pre-activations for unit-variance inputs, LeCun's scaling), biases zero. ``"samples"``
    (needs the training inputs ``X``): each first-layer unit is a training sample, centred
    on the mean sample and scaled to unit norm, drawn without replacement (with replacement
    when there are fewer samples than units); its bias subtracts the mean, so the unit
    computes ``scale * <x - mean, s>`` with ``|s| = 1``. ``"patches"`` (square images: the
    number of features is ``side**2``) makes each unit a local receptive field: a centred
    training sample kept only inside a random square window whose side is drawn uniformly
    between ``patch_size`` (fractions of the image side, rounded to whole pixels; the default
    :data:`PATCH_SIZE` gives 7 to 14 pixels for 28 x 28), scaled to unit norm, with its
    threshold moved by a random multiple (uniform in :data:`PATCH_THRESHOLDS`) of the unit's
    standard deviation over ``PATCH_BIAS_ROWS`` training rows, so that units fire at
    different levels. ``"contrasts"`` (needs the targets ``Y`` as well) makes windows of the
    same sizes, each side equally often, whose weights are fitted by ridge least squares
    (ridge :data:`CONTRAST_RIDGE` times the window's mean pixel variance) to the difference
    of two random target columns (one column: the column, with a random sign) over
    ``CONTRAST_ROWS`` training rows: local linear discriminants between two classes, where
    ``"patches"`` units are local templates. They are thresholded like ``"patches"``. Both
    come ordered by their top row (see :func:`lsqnet.layers.banded_product`). Later
    layers are ``"fan_in"``. The data-dependent work is recorded in the active ledger (see
    :func:`lsqnet.bpls.count_flops`).

    The weights are drawn by ``rng`` (NumPy) and placed in the namespace and on the device of
    ``X`` when it is given (a PyTorch tensor gives tensors on its device), so that a seed gives
    the same network for NumPy arrays and tensors.
    """
    xp = get_namespace(X)
    place = {"dtype": xp_dtype(xp, dtype), "device": None if X is None else device(X)}
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        act = output_activation if i == len(sizes) - 2 else activation
        if init == "contrasts" and i == 0:
            W, b = _by_first_input(*_contrast_units(X, Y, n_out, rng, patch_size))
        elif init == "patches" and i == 0:
            W, b = _by_first_input(*_sample_units(X, n_out, rng, patches=patch_size))
        elif init == "samples" and i == 0:
            W, b = _sample_units(X, n_out, rng, patches=None)
        elif init == "uniform":
            W = rng.uniform(-1.0, 1.0, size=(n_in, n_out))
            b = rng.uniform(-1.0, 1.0, size=n_out)
        else:
            limit = np.sqrt(3.0 / n_in)
            W = rng.uniform(-limit, limit, size=(n_in, n_out))
            b = np.zeros(n_out)
        layers.append(Dense(xp.asarray(W * scale, **place), xp.asarray(b * scale, **place), act))
    return Network(tuple(layers))


def _by_first_input(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The units (columns of ``W``, entries of ``b``) in the order of their first nonzero
    input: windows by their top row, so that :func:`lsqnet.layers.banded_product` computes
    each block of units from a band of the image."""
    xp = get_namespace(W)
    first = xp.argmax(xp.astype(W != 0, xp.int8), axis=0)
    order = xp.argsort(first, stable=True)
    return xp.take(W, order, axis=1), xp.take(b, order, axis=0)


def patch_side(n_features: int, init: str = "patches") -> int:
    """The side of the square images ``init="patches"`` (or ``init``) takes, or raise
    ``ValueError``."""
    side = math.isqrt(n_features)
    if side * side != n_features or side < 2:
        raise ValueError(
            f"init={init!r} needs square images: the number of features must be side**2 "
            f"with side >= 2 (784 = 28 x 28), got {n_features}. Use init='samples'."
        )
    return side


def patch_pixels(side: int, patch_size: tuple[float, float]) -> tuple[int, int]:
    """The smallest and largest window side in pixels that ``patch_size`` gives (1 to side)."""
    low, high = (min(side, max(1, round(f * side))) for f in patch_size)
    return low, high


def _windows(
    h: int, side: int, rng: np.random.Generator, patch_size: tuple[float, float]
) -> np.ndarray:
    """``h`` random square windows (sides from :func:`patch_pixels`) as 0/1 rows (h, side**2)."""
    low, high = patch_pixels(side, patch_size)
    size = rng.integers(low, high + 1, size=h)
    top, left = (rng.integers(0, side - size + 1) for _ in range(2))
    pixels = np.arange(side)
    rows = (pixels >= top[:, None]) & (pixels < (top + size)[:, None])
    cols = (pixels >= left[:, None]) & (pixels < (left + size)[:, None])
    return (rows[:, :, None] & cols[:, None, :]).reshape(h, side * side).astype(np.float64)


def _sample_units(
    X: np.ndarray, h: int, rng: np.random.Generator, *, patches: tuple[float, float] | None
):
    """Centred training samples as units; with ``patches`` (a ``patch_size``), windowed."""
    xp = get_namespace(X)
    n, d = X.shape
    on = {"device": device(X)}
    rows = xp.asarray(rng.choice(n, size=h, replace=h > n), **on)
    mean = xp.sum(X, axis=0, dtype=xp.float64) / n
    S = xp.astype(xp.take(X, rows, axis=0), xp.float64) - mean
    if patches is not None:
        S = S * xp.asarray(_windows(h, patch_side(d), rng, patches), **on)
        _flops.record("init", h * d)
    norms = xp.sqrt(xp.sum(S * S, axis=1))
    S = S / xp.where(norms > 0, norms, 1.0)[:, None]
    _flops.record("init", n * d + 6 * h * d)  # mean, centre, norms (2), divide, scale, bias
    W = S.T
    b = -(mean @ W)
    if patches is not None:  # thresholds spread over each unit's range on a few training rows
        m = min(n, PATCH_BIAS_ROWS)
        some = xp.asarray(rng.choice(n, size=m, replace=False), **on)
        b = _spread_thresholds(xp.astype(xp.take(X, some, axis=0), xp.float64), W, b, rng)
    return W, b


def _spread_thresholds(rows: np.ndarray, W: np.ndarray, b: np.ndarray, rng: np.random.Generator):
    """``b`` lowered by a random multiple (uniform in :data:`PATCH_THRESHOLDS`) of each unit's
    standard deviation over the float64 ``rows`` (m x d)."""
    xp = get_namespace(rows)
    m, d = rows.shape
    h = W.shape[1]
    Z = rows @ W + b
    u = xp.asarray(rng.uniform(*PATCH_THRESHOLDS, size=h), device=device(rows))
    _flops.record("init", 2 * m * d * h + 5 * m * h + 2 * h)
    return b - u * xp.std(Z, axis=0)


def contrast_windows(side: int, h: int, patch_size: tuple[float, float]) -> dict[int, int]:
    """How many of ``h`` ``init="contrasts"`` windows have each side (in pixels)."""
    low, high = patch_pixels(side, patch_size)
    sides = high - low + 1
    counts = {low + j: h // sides + (j < h % sides) for j in range(sides)}
    return {s: count for s, count in counts.items() if count}


def _contrast_units(
    X: np.ndarray, Y: np.ndarray | None, h: int, rng: np.random.Generator,
    patch_size: tuple[float, float],
):
    """Windowed local least-squares fits of random two-column contrasts of ``Y`` as units."""
    if Y is None:
        raise ValueError("init='contrasts' fits its units to the targets: pass Y.")
    xp = get_namespace(X)
    n, d = X.shape
    side = patch_side(d, "contrasts")
    on = {"device": device(X)}
    low, high = patch_pixels(side, patch_size)
    size = low + rng.permutation(h) % (high - low + 1)  # each side equally often
    top, left = (rng.integers(0, side - size + 1) for _ in range(2))
    m = min(n, CONTRAST_ROWS)
    rows = xp.asarray(rng.choice(n, size=m, replace=False), **on)
    # The covariances in X's dtype (float32: a quarter of float64's time on 2 cores), the
    # small solves in float64
    Xs = xp.take(X, rows, axis=0)
    Ys = xp.astype(xp.take(Y, rows, axis=0), X.dtype)
    k = Ys.shape[1]
    mean = xp.sum(Xs, axis=0, dtype=xp.float64) / m
    Xs = Xs - xp.astype(mean, X.dtype)
    Ys = Ys - xp.astype(xp.sum(Ys, axis=0, dtype=xp.float64) / m, X.dtype)
    coef = np.zeros((k, h))
    if k > 1:  # column a minus column b, a != b
        first = rng.integers(k, size=h)
        coef[first, np.arange(h)] = 1.0
        coef[(first + rng.integers(1, k, size=h)) % k, np.arange(h)] = -1.0
    else:
        coef[0] = rng.choice((-1.0, 1.0), size=h)
    cov = Xs.T @ Xs
    rhs = xp.astype(Xs.T @ Ys, xp.float64) @ xp.asarray(coef, **on)  # (d, h): units' targets
    _flops.record("init", 2 * m * (d + k) + _flops.syrk(m, d) + _flops.gemm(d, m, k)
                  + _flops.gemm(d, k, h))
    S = xp.zeros((h, d), dtype=xp.float64, **on)
    tiny = float(np.finfo(np.float64).tiny)
    for s, count in contrast_windows(side, h, patch_size).items():
        t = s * s
        units = np.flatnonzero(size == s)
        offsets = np.arange(s)
        for batch in np.array_split(units, -(-count * t * t // _CONTRAST_BATCH)):
            pixels = (
                (top[batch, None, None] + offsets[:, None]) * side
                + left[batch, None, None] + offsets
            ).reshape(batch.size, t)
            P = xp.asarray(pixels, **on)
            G = xp.astype(cov[P[:, :, None], P[:, None, :]], xp.float64)
            ridge = CONTRAST_RIDGE / t * xp.sum(xp.linalg.diagonal(G), axis=-1)
            G = G + xp.maximum(ridge, tiny)[:, None, None] * xp.eye(t, dtype=xp.float64, **on)
            B = xp.asarray(batch, **on)
            w = xp.linalg.solve(G, rhs[P, B[:, None]][..., None])[..., 0]
            S[B[:, None], P] = w
        _flops.record("init", count * (2 * t + 1 + _flops.gesv(t, 1)))
    norms = xp.sqrt(xp.sum(S * S, axis=1))
    W = (S / xp.where(norms > 0, norms, 1.0)[:, None]).T
    _flops.record("init", 5 * h * d + h)  # norms (3), divide, bias
    # Centred rows: the thresholds need only each unit's standard deviation over them
    some = xp.astype(Xs[: min(m, PATCH_BIAS_ROWS), :], xp.float64)
    return W, _spread_thresholds(some, W, -(mean @ W), rng)


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
        factor = factorize_with_fallback(
            stats, lam, fit_intercept=False, solver="auto", rcond=None, owner="BPLS backward step"
        )
        delta = factor.solve(E.T).T @ W.T
        _flops.record("gemm", _flops.gemm(n, q, p))
    else:  # W W^T is the small one: D = E W^T (W W^T + lam I)^-1
        stats = GramStats.from_data(W.T, xp.zeros((q, 0), **no_targets))
        lam = _relative_ridge(stats, ridge, min(p, q))
        factor = factorize_with_fallback(
            stats, lam, fit_intercept=False, solver="auto", rcond=None, owner="BPLS backward step"
        )
        delta = factor.solve(W @ E.T).T
        _flops.record("gemm", _flops.gemm(p, q, n))
    delta = xp.astype(delta, W.dtype, copy=False)
    if current is None:
        return delta
    _flops.record("elementwise", _flops.elementwise(n, p))
    return current + delta
