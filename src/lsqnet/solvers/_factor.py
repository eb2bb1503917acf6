"""Factorisations of a (centred, regularised) Gram matrix, reusable for many right-hand sides.

A factorisation is computed once per layer and then solves any number of right-hand sides:
all neurons of a layer share it, and so do the iterations that only change the targets.

Rank decisions: Cholesky is trusted when the smallest eigenvalue (estimated) of the
regularised Gram matrix is at least ``eps`` times its 1-norm (where ``scipy.linalg.solve``
warns) plus the rounding noise that centring summed statistics leaves behind (``noise``,
computed by :class:`~lsqnet.solvers.GramStats`); the eigendecomposition treats eigenvalues
below ``d * eps`` times the largest, plus that noise, as zero (``numpy.linalg.matrix_rank``'s
rule). Without the noise term, centred matrices that are singular up to it were accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import _flops
from .._array_api import cho_factor, cho_solve, device, eigh, get_namespace, numpy_dtype

__all__ = [
    "CONDEST_STEPS",
    "Factorization",
    "NotPositiveDefiniteError",
    "condition_text",
    "estimate_rcond",
    "factorize_cholesky",
    "factorize_eigh",
]

CONDEST_STEPS = 3


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """The regularised Gram matrix is not numerically positive definite."""

    def __init__(self, message: str, rcond: float) -> None:
        super().__init__(message)
        self.rcond = rcond


@dataclass(frozen=True)
class Factorization:
    """A factorised symmetric matrix ``G`` that solves ``G X = R`` for any ``R``.

    Attributes
    ----------
    solver : str
        ``"cholesky"`` or ``"eigh"``.
    rcond : float
        Estimated reciprocal condition number of ``G`` (``"cholesky"``), or the
        ratio of the smallest kept to the largest eigenvalue (``"eigh"``).
    rank : int
        Numerical rank used (``n`` for Cholesky).
    """

    solver: str
    rcond: float
    rank: int
    _solve: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Return ``G^+ rhs`` for ``rhs`` of shape (n,) or (n, k); ``rhs`` is not modified."""
        return self._solve(rhs)


def _condition_start(c: np.ndarray) -> np.ndarray:
    # A fixed, unstructured unit vector (no two entries equal, so it is not orthogonal to the
    # null vector e_i - e_j of duplicate columns); data-independent, so not counted.
    v = np.cos(np.arange(1, c.shape[0] + 1) * 2.399963229728653).astype(numpy_dtype(c.dtype))
    return get_namespace(c).asarray(v / np.linalg.norm(v), device=device(c))


def estimate_rcond(c: np.ndarray, anorm: float, steps: int = CONDEST_STEPS) -> float:
    """Reciprocal condition estimate of ``G = c.T @ c`` from its upper Cholesky factor ``c``.

    ``steps`` inverse-iteration steps from a fixed start estimate the smallest eigenvalue
    (``1 / ||G^-1 v||``); ``anorm`` (the 1-norm of ``G``) bounds the largest. Unlike LAPACK's
    ``?pocon``, whose work depends on the data, this costs a fixed
    ``steps * (2 d^2 + 3 d)`` flops, which keeps the operation count of a fit exact.
    """
    xp = get_namespace(c)
    d = c.shape[0]
    v = _condition_start(c)
    norm = 1.0
    for _ in range(steps):
        v = cho_solve(xp, c, v)
        v64 = xp.astype(v, xp.float64)  # no float32 underflow of the norm
        with np.errstate(over="ignore"):
            norm = float(xp.linalg.vector_norm(v64))
        if (norm == 0.0 or norm == np.inf) and bool(xp.all(xp.isfinite(v64))):
            # The squares under- or overflowed (a Gram matrix of tiny or huge entries): the
            # norm of the rescaled vector, scaled back (comparisons and scaling only).
            top = float(xp.max(xp.abs(v64)))
            if top > 0:
                with np.errstate(over="ignore"):
                    norm = top * float(xp.linalg.vector_norm(v64 / top))
        if not np.isfinite(norm) or norm == 0.0:
            return 0.0
        v = v / norm
    _flops.record("condest", steps * (_flops.potrs(d, 1) + 3 * d))
    return (1.0 / norm) / anorm if anorm > 0 else 0.0


def condition_text(rcond: float) -> str:
    """The condition estimate ``rcond`` as messages state it."""
    cond = 1.0 / rcond if rcond > 0 else np.inf
    return (
        f"estimated condition number {cond:.3g} (reciprocal condition estimate rcond={rcond:.3g})"
    )


def factorize_cholesky(
    gram: np.ndarray, alpha: float = 0.0, *, noise: float = 0.0
) -> Factorization:
    """Cholesky factorisation of ``gram + alpha * I``.

    Raises :class:`NotPositiveDefiniteError` when the factorisation fails or when the matrix
    is singular to working precision: when the smallest eigenvalue, estimated by
    :func:`estimate_rcond`, is below ``eps * ||gram + alpha * I||_1 + noise`` (the first term
    is the threshold at which ``scipy.linalg.solve`` warns; a stricter ``d * eps`` rule
    rejects well-posed float32 layers of MNIST size).
    ``noise`` (default 0) is the absolute rounding noise ``gram`` carries beyond its own
    entries' (see :meth:`GramStats.factorize <lsqnet.solvers.GramStats.factorize>`).
    ``gram`` is not modified.
    """
    xp = get_namespace(gram)
    d = gram.shape[0]
    if xp is np:
        g = np.array(gram, order="F", copy=True)  # LAPACK's layout: factorised in place
        if alpha:
            g.flat[:: d + 1] += g.dtype.type(alpha)
    else:
        g = xp.asarray(gram, copy=True)
        if alpha:
            g = g + alpha * xp.eye(d, dtype=g.dtype, device=device(g))
    if alpha:
        _flops.record("ridge", d)
    anorm = float(xp.max(xp.sum(xp.abs(g), axis=0))) if d else 0.0
    _flops.record("condest", 2 * d * d)
    eps = float(xp.finfo(g.dtype).eps)
    # Comparisons and scalar arithmetic only, like the maximum in ``anorm``: no flops recorded,
    # so the operation count of the Cholesky path is unchanged.
    tol = eps * anorm + noise if d else 0.0
    try:
        c = cho_factor(xp, g)
    except np.linalg.LinAlgError as err:
        raise NotPositiveDefiniteError(
            f"the Gram matrix is not numerically positive definite ({err}): "
            f"{condition_text(0.0)}",
            rcond=0.0,
        ) from err
    _flops.record("potrf", _flops.potrf(d))
    rcond = estimate_rcond(c, anorm)
    if not rcond * anorm >= tol:
        limit = anorm / tol if tol > 0 else np.inf
        raise NotPositiveDefiniteError(
            f"the Gram matrix is singular to working precision: {condition_text(rcond)} "
            f"exceeds {limit:.3g}, the limit its {numpy_dtype(g.dtype)} rounding noise allows",
            rcond=rcond,
        )

    def solve(rhs: np.ndarray) -> np.ndarray:
        k = 1 if rhs.ndim == 1 else rhs.shape[1]
        _flops.record("potrs", _flops.potrs(d, k))
        return cho_solve(xp, c, rhs)

    return Factorization("cholesky", rcond, d, solve)


def factorize_eigh(
    gram: np.ndarray, alpha: float = 0.0, rcond: float | None = None, *, noise: float = 0.0
) -> Factorization:
    """Pseudo-inverse of ``gram + alpha * I`` through the symmetric eigendecomposition.

    Eigenvalues of ``gram`` below ``rcond * max eigenvalue`` are treated as zero (their
    directions get no weight: the minimum-norm solution); ``rcond=1`` keeps the largest.
    ``rcond`` applies to eigenvalues of the Gram matrix, which are squared singular values of
    the data. By default the cut-off is the rounding noise of ``gram``:
    ``d * eps * max eigenvalue + noise`` (``numpy.linalg.matrix_rank``'s rule for a d x d
    matrix, plus the absolute ``noise`` that centring summed statistics leaves).
    """
    xp = get_namespace(gram)
    n = gram.shape[0]
    eps = float(xp.finfo(gram.dtype).eps)
    _flops.mark_inexact()  # eigh is iterative: its operation count depends on the data
    evals, evecs = eigh(xp, gram)
    top = float(evals[-1]) if n else 0.0
    cutoff = n * eps * top + noise if rcond is None else rcond * top
    # ">=" as in numpy.linalg.lstsq (values smaller than the cut-off count as zero), so that
    # rcond=1 keeps the largest eigenvalue instead of none; "> 0" guards rcond -> 0.
    keep = (evals >= cutoff) & (evals > 0) & (top > 0)
    inv = xp.where(keep, 1.0 / xp.where(keep, evals + alpha, 1.0), 0.0)
    rank = int(xp.count_nonzero(keep))
    smallest = float(xp.min(xp.where(keep, evals, top))) if rank else 0.0
    ratio = (smallest + alpha) / (top + alpha) if rank else 0.0

    def solve(rhs: np.ndarray) -> np.ndarray:
        proj = evecs.T @ rhs
        return evecs @ (proj * (inv[:, None] if proj.ndim == 2 else inv))

    return Factorization("eigh", ratio, rank, solve)
