"""The ridge penalty chosen by cross-validation, every candidate from one eigendecomposition.

For data ``A`` (n, d), targets ``B`` (n, k), weights ``w`` and an unpenalised intercept, the
ridge solution for a penalty ``alpha`` is ``V diag(1 / (lambda + alpha)) V^T c``, with
``V diag(lambda) V^T`` the eigendecomposition of the centred Gram matrix and ``c`` the
centred ``A^T w B``. Once these are known (:class:`RidgePath`, from :class:`GramStats`), each
candidate penalty costs ``O(d k)`` for its coefficients, and a pass over the data gives:

- the exact leave-one-out residuals (:meth:`RidgePath.loo_errors`), as scikit-learn's
  ``RidgeCV`` computes them: ``sqrt(w_i) (b_i - prediction_i) / (1 - h_i)`` with ``h_i`` the
  diagonal of the hat matrix, ``w_i / sum(w) + w_i q_i^T diag(1 / (lambda + alpha)) q_i``,
  ``q_i = V^T (a_i - mean)``: one more product of the data with ``V`` (``2 n d^2`` flops)
  and ``O(n d k)`` per candidate. The pass runs chunk by chunk, so it works on any source;
- without a pass, generalised cross-validation (:meth:`RidgePath.gcv_errors`), from the
  statistics alone, for fits that no longer have their data (``partial_fit``).

The eigendecomposition is iterative (its operation count depends on the data): a fit that
chooses its penalty this way marks its operation ledger inexact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _flops
from .._array_api import eigh, get_namespace, to_numpy
from ._gram import BLOCK_ROWS, GramStats

__all__ = ["DEFAULT_ALPHAS", "RidgePath"]

#: The default candidates, relative to the mean eigenvalue of the centred Gram matrix (its
#: trace over d): from almost no penalty to one a hundred times the typical direction's
#: curvature, in half-decades.
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-8, 2, 21))


def _candidates(gram: Any, relative: tuple[float, ...] = DEFAULT_ALPHAS) -> np.ndarray:
    """``"auto"``'s candidate penalties for the centred Gram matrix ``gram``: ``relative``
    times its mean eigenvalue (its trace over d; 1 if that is 0), so that the grid follows
    the data's scale and the number of samples."""
    d = gram.shape[0]
    xp = get_namespace(gram)
    scale = float(xp.sum(xp.linalg.diagonal(gram))) / d if d else 0.0
    _flops.record("elementwise", d)
    scale = scale if scale > 0 and np.isfinite(scale) else 1.0
    return scale * np.asarray(relative, dtype=np.float64)


@dataclass(frozen=True)
class RidgePath:
    """What every candidate penalty of one least-squares problem needs, in float64.

    Attributes
    ----------
    alphas : ndarray of shape (m,)
        The candidate penalties.
    evals, evecs : ndarray of shape (d,), (d, d)
        The centred Gram matrix's eigendecomposition (eigenvalues clipped at 0).
    rotated : ndarray of shape (d, k)
        ``evecs.T`` times the centred ``A^T w B``.
    mean_A, mean_B : ndarray of shape (d,), (k,)
        The weighted means of the data and of the targets.
    sum_w : float
        The total weight.
    stats : GramStats
        The statistics decomposed (their targets' sums of squares serve
        :meth:`gcv_errors`).
    """

    alphas: np.ndarray
    evals: np.ndarray
    evecs: np.ndarray
    rotated: np.ndarray
    mean_A: np.ndarray
    mean_B: np.ndarray
    sum_w: float
    stats: GramStats

    @classmethod
    def from_stats(cls, stats: GramStats, alphas: Any) -> RidgePath:
        """Eigendecompose the centred Gram matrix of ``stats`` for the penalties ``alphas``:
        positive values, or ``"auto"``: :data:`DEFAULT_ALPHAS` times the matrix's mean
        eigenvalue (its trace over d; 1 if that is 0), a grid that follows the data's scale
        and the number of samples."""
        xp = get_namespace(stats.AtA)
        centred = stats.centered_AtA(fit_intercept=True)
        if isinstance(alphas, str):
            alphas = _candidates(centred)
        gram = np.asarray(_host(xp, centred), dtype=np.float64)
        cross = np.asarray(_host(xp, stats.centered_AtB(fit_intercept=True)), dtype=np.float64)
        _flops.mark_inexact()
        evals, evecs = eigh(np, gram)
        d, k = cross.shape
        rotated = evecs.T @ cross
        _flops.record("gemm", _flops.gemm(d, d, k))
        sum_w = float(stats.sum_w)
        mean_A = np.asarray(_host(xp, stats.sum_A), dtype=np.float64) / sum_w
        if stats.shift is not None:  # the sums are of A - shift
            mean_A = mean_A + np.asarray(_host(xp, stats.shift), dtype=np.float64)
        mean_B = np.asarray(_host(xp, stats.sum_B), dtype=np.float64) / sum_w
        _flops.record("elementwise", d + k)
        return cls(
            np.asarray(alphas, dtype=np.float64), np.maximum(evals, 0.0), evecs, rotated,
            mean_A, mean_B, sum_w, stats,
        )

    @property
    def _inverse(self) -> np.ndarray:
        """``1 / (lambda + alpha)``, shape (m, d)."""
        return 1.0 / (self.evals[None, :] + self.alphas[:, None])

    def loo_errors(self, A: Any, B: Any, sample_weight: Any = None) -> np.ndarray:
        """The sums over the rows of ``A`` (n, d), targets ``B`` (n, k) and weights of
        ``w_i (b_ij - prediction_ij)^2 / (1 - h_i)^2``, the squared leave-one-out residuals
        (in ``sqrt(w)``-scaled units, as ``RidgeCV``), one sum per candidate, shape (m,).

        The rows need not be the ones the statistics came from all at once: sums over chunks
        add up to the sum over the whole data. A row whose every leave-one-out fit is
        undetermined (``h_i = 1``, e.g. a single sample) makes the sums infinite.
        """
        xp = get_namespace(A, B, sample_weight)
        m, (d, k) = len(self.alphas), self.rotated.shape
        inverse = self._inverse
        coefs = inverse[:, :, None] * self.rotated[None, :, :]  # (m, d, k), rotated basis
        _flops.record("elementwise", m * d * (k + 1))
        total = np.zeros(m)
        n = A.shape[0]
        for start in range(0, n, BLOCK_ROWS):
            rows = slice(start, min(start + BLOCK_ROWS, n))
            a = np.asarray(_host(xp, A[rows]), dtype=np.float64)
            b = np.asarray(_host(xp, B[rows]), dtype=np.float64)
            w = (
                np.ones(a.shape[0]) if sample_weight is None
                else np.asarray(_host(xp, sample_weight[rows]), dtype=np.float64)
            )
            total += self._block_errors(a, b, w, inverse, coefs)
        return total

    def _block_errors(self, a, b, w, inverse, coefs) -> np.ndarray:
        rows, (m, d, k) = a.shape[0], coefs.shape
        q = (a - self.mean_A) @ self.evecs  # the rows in the eigenbasis, centred
        _flops.record("center", rows * d)
        _flops.record("gemm", _flops.gemm(rows, d, d))
        leverage = w[:, None] * ((q * q) @ inverse.T) + (w / self.sum_w)[:, None]  # (rows, m)
        _flops.record("elementwise", rows * d + 3 * rows * m)
        _flops.record("gemm", _flops.gemm(rows, d, m))
        centred = b - self.mean_B
        _flops.record("center", rows * k)
        errors = np.empty(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            for j in range(m):
                residual = centred - q @ coefs[j]
                scaled = residual / (1.0 - leverage[:, j])[:, None]
                errors[j] = float(np.sum(w[:, None] * scaled * scaled))
        _flops.record("gemm", m * _flops.gemm(rows, d, k))
        _flops.record("elementwise", m * rows * (4 * k + 1))
        return np.where(np.isfinite(errors), errors, np.inf)

    def gcv_errors(self) -> np.ndarray:
        """Generalised cross-validation from the statistics alone, shape (m,): the weighted
        residual sum of squares over ``(1 - df / n_w)^2``, ``df`` the effective number of
        parameters (the intercept included) and ``n_w`` the total weight."""
        sum_BB = np.asarray(_host(get_namespace(self.stats.AtA), self.stats.sum_BB), np.float64)
        total = float(np.sum(sum_BB - self.sum_w * self.mean_B**2))  # centred |B|^2
        inverse = self._inverse
        fitted = (self.evals[None, :] + 2 * self.alphas[:, None]) * inverse**2
        explained = fitted @ np.sum(self.rotated**2, axis=1)  # c^T (2 G_a^-1 - G_a^-1 G G_a^-1) c
        rss = np.maximum(total - explained, 0.0)
        df = 1.0 + (self.evals[None, :] * inverse).sum(axis=1)
        m, d = inverse.shape
        _flops.record("elementwise", 6 * m * d + d * self.rotated.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            errors = rss / (1.0 - df / self.sum_w) ** 2
        return np.where(np.isfinite(errors) & (df < self.sum_w), errors, np.inf)

    def best(self, errors: np.ndarray) -> float:
        """The candidate with the smallest error (the first of equal ones, as ``RidgeCV``);
        the largest candidate when no error is finite (no row can be left out)."""
        errors = np.asarray(errors, dtype=np.float64)
        if not np.any(np.isfinite(errors)):
            return float(self.alphas.max())
        return float(self.alphas[int(np.argmin(errors))])


def _host(xp: Any, a: Any) -> Any:
    """``a`` as a NumPy array (a tensor is copied to the host)."""
    return a if xp is np else to_numpy(a)
