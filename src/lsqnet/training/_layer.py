"""The least-squares solve of one layer, from its data in memory or from summed statistics.

Both keep a layer's Gram statistics and factorisation when its input does not change
(:class:`LayerCache`): the first layer's across BPLS sweeps, the output layer's across the
output-layer solves. The choice of solver and its fallbacks are the solver policy's
(:mod:`lsqnet.solvers._policy`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _flops
from .._array_api import get_namespace
from ..solvers import GramStats, LstsqResult, solve_least_squares
from ..solvers._policy import SOLVERS, Accepts, factorize, factorize_gram, gram_solver

__all__ = ["CHUNKED", "IN_MEMORY", "LayerCache", "check_finite", "solve_data", "solve_summed"]

#: What BPLS's messages may advise (the parameters of BPLSClassifier and BPLSRegressor):
#: every solver for data in memory, the summed statistics' own for chunked data.
IN_MEMORY = Accepts(SOLVERS, dtype=True)
CHUNKED = Accepts(("auto", "cholesky"), dtype=True)


class LayerCache:
    """The Gram statistics and factor of a layer whose input does not change (the first
    layer's, across sweeps; the output layer's, across the output-layer solves)."""

    def __init__(self) -> None:
        self.stats: GramStats | None = None
        self.factor = None

    @property
    def filled(self) -> bool:
        return self.stats is not None


def solve_data(
    H: Any, T: Any, act: Any, opts: Any, cache: LayerCache | None, sample_weight: Any = None
) -> LstsqResult:
    """Weights and bias of one layer: least squares from inputs ``H`` to pre-activations ``T``
    in memory (``opts``: :class:`~lsqnet.bpls.BPLSOptions`), each row weighted by
    ``sample_weight`` (n,) if given (a cache holds the statistics of the same weights)."""
    w = sample_weight
    if opts.layer_method == "weighted":
        weights = act.derivative(T) ** 2
        _flops.record("elementwise", 2 * _flops.elementwise(*T.shape))
        if w is not None:
            weights = weights * w[:, None]
            _flops.record("scale", _flops.elementwise(*T.shape))
        return solve_least_squares(
            H, T, sample_weight=weights, alpha=opts.alpha, solver=opts.solver,
            fit_intercept=True, owner="BPLS", accepts=IN_MEMORY,
        )
    if opts.solver in ("qr", "svd"):
        return solve_least_squares(
            H, T, sample_weight=w, alpha=opts.alpha, solver=opts.solver, fit_intercept=True,
            owner="BPLS", accepts=IN_MEMORY,
        )
    if cache is not None and cache.filled:
        xp = get_namespace(H)
        if cache.stats.dtype != H.dtype:  # the statistics were recomputed in float64
            H, T = xp.astype(H, cache.stats.dtype), xp.astype(T, cache.stats.dtype)
        return cache.stats.with_targets(H, T, w).solve_with(cache.factor, fit_intercept=True)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
        stats = GramStats.from_data(H, T, w)
    check_finite(stats)
    stats, factor = factorize_gram(
        stats, opts.alpha, fit_intercept=True, solver=opts.solver, owner="BPLS",
        accepts=IN_MEMORY, data=(H, T) if w is None else (H, T, w),
    )
    if cache is not None:
        cache.stats, cache.factor = stats, factor
    return stats.solve_with(factor, fit_intercept=True)


def solve_summed(stats: GramStats, opts: Any, cache: LayerCache | None) -> LstsqResult:
    """The same from statistics summed over chunks: with the cache's factor if it has one
    (``stats`` then holds only the target terms), else factorised, and kept in ``cache``."""
    if cache is not None and cache.filled:
        stats = cache.stats.with_cross_terms_of(stats)
        return stats.solve_with(cache.factor, fit_intercept=True)
    check_finite(stats)
    factor = factorize(
        stats, opts.alpha, fit_intercept=True, solver=gram_solver(opts.solver), owner="BPLS",
        accepts=CHUNKED,
    )
    if cache is not None:
        cache.stats, cache.factor = stats, factor
    return stats.solve_with(factor, fit_intercept=True)


class TargetOverflow(ValueError):
    """A layer's least-squares statistics overflowed in its targets (:func:`check_finite`)."""


class InputOverflow(ValueError):
    """A layer's least-squares statistics overflowed in its inputs (:func:`check_finite`)."""


def check_finite(stats: GramStats, owner: str = "BPLS") -> None:
    """Raise ``ValueError`` (its message starting with ``owner``) if a layer's statistics
    overflowed, saying whether in its inputs' sums of squares or its targets' (in memory, in
    chunked fits and in ``partial_fit`` alike)."""
    if stats.is_finite():
        return
    xp = get_namespace(stats.AtA)
    if bool(xp.all(xp.isfinite(xp.linalg.diagonal(stats.AtA)))):  # the targets overflowed
        raise TargetOverflow(
            f"{owner}: the least-squares statistics of a layer with {stats.n_features} inputs "
            f"and {stats.n_targets} outputs overflowed in {stats.dtype}: its targets are too "
            f"large when squared. Rescale y (e.g. sklearn StandardScaler)."
        )
    raise InputOverflow(
        f"{owner}: the least-squares statistics of a layer with {stats.n_features} inputs "
        f"overflowed in {stats.dtype}: the inputs are too large when squared. Rescale X "
        f"(e.g. sklearn StandardScaler)."
    )
