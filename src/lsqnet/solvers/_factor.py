"""Factorisations of a (centred, regularised) Gram matrix, reusable for many right-hand sides.

A factorisation is computed once per layer and then solves any number of right-hand sides:
all neurons of a layer share it, and so do the iterations that only change the targets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from .. import _flops

__all__ = [
    "CONDEST_STEPS",
    "Factorization",
    "NotPositiveDefiniteError",
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


def _condition_start(d: int, dtype: np.dtype) -> np.ndarray:
    # A fixed, unstructured unit vector (no two entries equal, so it is not orthogonal to the
    # null vector e_i - e_j of duplicate columns); data-independent, so not counted.
    v = np.cos(np.arange(1, d + 1) * 2.399963229728653).astype(dtype)
    return v / np.linalg.norm(v)


def estimate_rcond(c: np.ndarray, anorm: float, steps: int = CONDEST_STEPS) -> float:
    """Reciprocal condition estimate of ``G = c.T @ c`` from its upper Cholesky factor ``c``.

    ``steps`` inverse-iteration steps from a fixed start estimate the smallest eigenvalue
    (``1 / ||G^-1 v||``); ``anorm`` (the 1-norm of ``G``) bounds the largest. Unlike LAPACK's
    ``?pocon``, whose work depends on the data, this costs a fixed
    ``steps * (2 d^2 + 3 d)`` flops, which keeps the operation count of a fit exact.
    """
    d = c.shape[0]
    v = _condition_start(d, c.dtype)
    norm = 1.0
    for _ in range(steps):
        v = scipy.linalg.cho_solve((c, False), v, check_finite=False)
        norm = float(np.linalg.norm(v.astype(np.float64)))  # no float32 underflow of the norm
        if not np.isfinite(norm) or norm == 0.0:
            return 0.0
        v = v / norm
    _flops.record("condest", steps * (_flops.potrs(d, 1) + 3 * d))
    return (1.0 / norm) / anorm if anorm > 0 else 0.0


def factorize_cholesky(gram: np.ndarray, alpha: float = 0.0) -> Factorization:
    """Cholesky factorisation of ``gram + alpha * I``.

    Raises :class:`NotPositiveDefiniteError` when the factorisation fails or when the
    condition estimate (:func:`estimate_rcond`) says the matrix is singular to working
    precision (reciprocal condition number below the dtype's machine epsilon, the threshold
    at which ``scipy.linalg.solve`` warns as well). ``gram`` is not modified.
    """
    d = gram.shape[0]
    g = np.array(gram, order="F", copy=True)
    if alpha:
        g.flat[:: d + 1] += g.dtype.type(alpha)
        _flops.record("ridge", d)
    anorm = float(np.abs(g).sum(axis=0).max()) if g.size else 0.0
    _flops.record("condest", 2 * d * d)
    eps = float(np.finfo(g.dtype).eps)
    try:
        c, lower = scipy.linalg.cho_factor(g, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError as err:
        raise NotPositiveDefiniteError(
            f"the Gram matrix is not positive definite ({err})", rcond=0.0
        ) from err
    _flops.record("potrf", _flops.potrf(d))
    rcond = estimate_rcond(c, anorm)
    if not rcond >= eps:
        raise NotPositiveDefiniteError(
            f"the Gram matrix is singular to working precision (estimated condition number "
            f"{1 / rcond if rcond > 0 else np.inf:.3g} > 1/eps = {1 / eps:.3g})",
            rcond=rcond,
        )

    def solve(rhs: np.ndarray) -> np.ndarray:
        k = 1 if rhs.ndim == 1 else rhs.shape[1]
        _flops.record("potrs", _flops.potrs(d, k))
        return scipy.linalg.cho_solve((c, lower), rhs, check_finite=False)

    return Factorization("cholesky", rcond, d, solve)


def factorize_eigh(
    gram: np.ndarray, alpha: float = 0.0, rcond: float | None = None
) -> Factorization:
    """Pseudo-inverse of ``gram + alpha * I`` through the symmetric eigendecomposition.

    Eigenvalues of ``gram`` below ``rcond * max eigenvalue`` are treated as zero (their
    directions get no weight: the minimum-norm solution). ``rcond`` defaults to
    ``n * eps``, the level of rounding noise in a computed Gram matrix; note that it applies
    to eigenvalues of the Gram matrix, which are squared singular values of the data.
    """
    n = gram.shape[0]
    eps = float(np.finfo(gram.dtype).eps)
    cutoff = n * eps if rcond is None else rcond
    _flops.mark_inexact()  # eigh is iterative: its operation count depends on the data
    evals, evecs = scipy.linalg.eigh(gram, check_finite=False)
    top = float(evals[-1]) if n else 0.0
    keep = evals > cutoff * top if top > 0 else np.zeros(n, dtype=bool)
    inv = np.zeros_like(evals)
    inv[keep] = 1.0 / (evals[keep] + alpha)
    kept = evals[keep]
    ratio = float((kept[0] + alpha) / (top + alpha)) if kept.size else 0.0

    def solve(rhs: np.ndarray) -> np.ndarray:
        proj = evecs.T @ rhs
        proj *= inv[:, None] if proj.ndim == 2 else inv
        return evecs @ proj

    return Factorization("eigh", ratio, int(keep.sum()), solve)
