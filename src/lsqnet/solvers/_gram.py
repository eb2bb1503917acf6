"""Sufficient statistics of a weighted least-squares problem, and their solution.

``GramStats`` is the small core every fit goes through, in the spirit of optax's init/update
pair: the in-memory fit, chunked (streaming) fits and distributed fits all build statistics
with :meth:`GramStats.from_data`, add them up (:meth:`GramStats.update`, ``+``), and solve once
(:meth:`GramStats.solve`). Sums add exactly, so the order and grouping of chunks only changes
the result by rounding.

The intercept is never penalised: it is eliminated exactly by centring the statistics (the
Schur complement of the intercept in the augmented normal equations), which gives the same
solution as fitting centred data, scikit-learn's convention for ``Ridge``.

The sums are arrays of the data's namespace and device (:mod:`lsqnet._array_api`): NumPy
arrays for NumPy data, tensors on the data's device for PyTorch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from .. import _flops, _sparse
from .._array_api import device, get_namespace, numpy_dtype
from .._validation import check_option, check_scalar
from ._factor import Factorization, factorize_cholesky, factorize_eigh
from ._policy import GRAM_SOLVERS, Accepts, check_finite_solution, factorize

__all__ = ["GramStats", "LstsqResult"]


class LstsqResult(NamedTuple):
    """A least-squares solution.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_targets)
    intercept : ndarray of shape (n_targets,)
        Zeros when no intercept was fitted.
    solver : str
        The solver actually used (after ``"auto"`` resolution and any fallback).
    """

    coef: np.ndarray
    intercept: np.ndarray
    solver: str


#: Rows per block when :meth:`GramStats.from_data` shifts the data or changes its dtype.
BLOCK_ROWS = 8192


def _same_shift(a, b) -> bool:
    if a is None or b is None:
        return a is b
    xp = get_namespace(a)
    return a is b or bool(xp.all(a == b))


def _shift_or_zero(shift, stats: GramStats):
    if shift is not None:
        return shift
    return stats._xp.zeros(stats.n_features, dtype=stats.dtype, device=device(stats.AtA))


@dataclass(frozen=True, eq=False)
class GramStats:
    r"""Sums over samples that determine a weighted least-squares problem.

    For data ``A`` (n, d), targets ``B`` (n, k) and sample weights ``w`` (n,):

    - ``AtA`` = :math:`A^T \operatorname{diag}(w) A`, shape (d, d)
    - ``AtB`` = :math:`A^T \operatorname{diag}(w) B`, shape (d, k)
    - ``sum_A`` = :math:`A^T w`, ``sum_B`` = :math:`B^T w`, ``sum_BB`` = :math:`(B \odot B)^T w`
    - ``sum_w`` = :math:`\sum_i w_i` and ``n_samples`` = n.

    With a ``shift`` (d,), every sum is of the rows ``A - shift`` instead (sums around a
    shift, as in Chan, Golub and LeVeque's updating formulas): with the shift near the
    columns' means, the centring that eliminates the intercept no longer subtracts two large
    sums, whose rounding noise in float32 can exceed the centred matrix's small eigenvalues.
    Solutions, intercepts and factorisations do not depend on the shift; ``+`` brings the
    second operand to the first one's shift.

    Instances are immutable; ``update`` and ``+`` return new ones.

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet import GramStats
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(100, 3)), rng.normal(size=(100, 2))
    >>> stats = GramStats.from_data(A[:60], B[:60]).update(A[60:], B[60:])
    >>> coef = stats.solve(alpha=0.0).coef
    >>> bool(np.allclose(coef, np.linalg.lstsq(A, B, rcond=None)[0]))
    True
    """

    AtA: np.ndarray
    AtB: np.ndarray
    sum_A: np.ndarray
    sum_B: np.ndarray
    sum_BB: np.ndarray
    sum_w: float
    n_samples: int
    shift: np.ndarray | None = None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def zeros(cls, n_features: int, n_targets: int, dtype: type = np.float64) -> GramStats:
        """Statistics of no data, the neutral element of ``+``."""
        dt = np.dtype(dtype)
        return cls(
            np.zeros((n_features, n_features), dt),
            np.zeros((n_features, n_targets), dt),
            np.zeros(n_features, dt),
            np.zeros(n_targets, dt),
            np.zeros(n_targets, dt),
            0.0,
            0,
        )

    @classmethod
    def from_data(
        cls,
        A: np.ndarray,
        B: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        shift: np.ndarray | None = None,
        overwrite_a: bool = False,
        dtype: Any = None,
    ) -> GramStats:
        """Statistics of one chunk: ``A`` (n, d), ``B`` (n, k), optional weights (n,).

        Arrays must already be validated floating arrays of one dtype; they are not modified.
        Arrays of any array API namespace (NumPy, PyTorch) work; the statistics are arrays
        of it, on the data's device.

        The Gram matrix is one symmetric BLAS product (``A.T @ A`` is a ``syrk`` in NumPy;
        weights enter as ``sqrt(w) * A`` so that it stays one). ``A^T B`` and the column sums
        ``A^T w`` are one more product, ``[B w]^T A``: one pass over ``A`` instead of two,
        which keeps the accumulation near the speed of the BLAS's matrix product
        (``benchmarks/bench_gram.py``). With a ``shift`` (d,), the sums are of ``A - shift``
        (see the class), computed in blocks of :data:`BLOCK_ROWS` rows so that only one block
        is copied at a time, or in ``A`` itself with ``overwrite_a=True`` (a NumPy ``A`` the
        caller no longer needs: it is left shifted). With a ``dtype`` other than the data's
        (a dtype of their namespace), the statistics are of the data converted to it, again
        one block at a time (float64 sums of float32 data without a float64 copy of it).
        """
        xp = get_namespace(A, B, sample_weight)
        if dtype is not None and dtype != A.dtype:
            return cls._from_blocks(A, B, sample_weight, shift, dtype)
        if shift is not None:
            if overwrite_a and xp is np and not _sparse.is_sparse(A):
                shift = xp.astype(xp.asarray(shift), A.dtype)
                A -= shift
                _flops.record("center", _flops.elementwise(*A.shape))
                return replace(cls.from_data(A, B, sample_weight), shift=shift)
            return cls._from_blocks(A, B, sample_weight, shift, A.dtype)
        n, d = A.shape
        if sample_weight is None:
            weights = xp.ones(n, dtype=A.dtype, device=device(A))
            Aw = A
            sum_w = float(n)
        else:
            weights = xp.astype(sample_weight, A.dtype, copy=False)
            if _sparse.is_sparse(A):
                Aw = _sparse.scale_rows(A, xp.sqrt(weights))
            else:
                Aw = A * xp.sqrt(weights)[:, None]
            _flops.record("scale", _flops.elementwise(n, d + 2))
            sum_w = float(xp.sum(weights, dtype=xp.float64))
        # a sparse A: products of its stored entries, with dense results (recorded as the
        # dense products, so that count_flops does not depend on the format)
        AtA = _sparse.gram(Aw) if _sparse.is_sparse(A) else Aw.T @ Aw
        _flops.record("syrk", _flops.syrk(n, d))
        _flops.record("gemm", _flops.gemm(1, n, d))
        AtB, sum_A, Bw = cls._cross_products(A, B, weights, sample_weight is None)
        return cls._with_cross_terms(AtA, sum_A, sum_w, n, B, Bw, AtB)

    @classmethod
    def around_means(
        cls, A: np.ndarray, B: np.ndarray, sample_weight: np.ndarray | None = None, *,
        overwrite_a: bool = False,
    ) -> GramStats:
        """:meth:`from_data` with the shift at the columns' means of ``A`` (computed in
        float64; weighted by ``sample_weight`` if given): the statistics that keep float32's
        centred Gram matrix accurate."""
        xp = get_namespace(A, B, sample_weight)
        n, d = A.shape
        _flops.record("center", n * d)
        total = 0.0 if sample_weight is None else float(xp.sum(sample_weight, dtype=xp.float64))
        if total > 0:  # any shift gives the same solution: the weighted means, when they exist
            _flops.record("center", n * d)
            means = xp.astype(xp.astype(sample_weight, A.dtype) @ A, xp.float64) / total
        elif _sparse.is_sparse(A):
            means = _sparse.column_sums(A, np.float64) / max(n, 1)
        else:
            means = xp.sum(A, axis=0, dtype=xp.float64) / max(n, 1)
        return cls.from_data(A, B, sample_weight, shift=means, overwrite_a=overwrite_a)

    @classmethod
    def _from_blocks(cls, A, B, sample_weight, shift, dtype) -> GramStats:
        """:meth:`from_data` of ``A - shift`` (no shift: None) converted to ``dtype``, summed
        over blocks of :data:`BLOCK_ROWS` rows (one block buffer in NumPy)."""
        xp = get_namespace(A, B, sample_weight)
        if shift is not None:
            shift = xp.astype(xp.asarray(shift, device=device(A)), dtype)
        n, d = A.shape
        total = None
        block = None  # one buffer for every block's converted, shifted rows (NumPy)
        for start in range(0, max(n, 1), BLOCK_ROWS):
            rows = slice(start, min(start + BLOCK_ROWS, n))
            if _sparse.is_sparse(A):  # stays sparse: the shift is applied to its sums below
                part_A = _sparse.astype(A[rows], dtype)
            elif xp is np:
                m = rows.stop - rows.start
                block = np.empty((m, d), dtype) if block is None else block[:m]
                if shift is None:
                    block[...] = A[rows]
                else:
                    np.subtract(A[rows], shift, out=block)
                part_A = block
            else:
                part_A = xp.astype(A[rows], dtype)
                if shift is not None:
                    part_A = part_A - shift
            if shift is not None:
                _flops.record("center", _flops.elementwise(part_A.shape[0], d))
            w = None if sample_weight is None else xp.astype(sample_weight[rows], dtype)
            part = cls.from_data(part_A, xp.astype(B[rows], dtype), w)
            if shift is not None and _sparse.is_sparse(A):
                with _flops.counting():  # recorded above as the dense block's centring
                    part = part.shifted(shift)
            total = part if total is None else total + part
        return total if shift is None else replace(total, shift=shift)

    @staticmethod
    def _cross_products(A, B, weights, unweighted: bool):
        """``A^T w B``, ``A^T w`` and ``w B`` (``B`` itself when ``unweighted``), the first two as
        one product ``[w B, w]^T A`` (always of this shape, so that statistics with new targets
        round exactly as the first ones did)."""
        xp = get_namespace(A, B, weights)
        k = B.shape[1]
        Bw = B if unweighted else B * weights[:, None]
        products = xp.concat([Bw.T, weights[None, :]], axis=0) @ A  # (k + 1, d)
        return products[:k].T, products[k], Bw

    @classmethod
    def _with_cross_terms(cls, AtA, sum_A, sum_w, n, B, Bw, AtB) -> GramStats:
        """The statistics, given ``A^T w B`` (``AtB``) and the weighted targets ``Bw``."""
        xp = get_namespace(B)
        n_rows, k = B.shape
        sum_B = xp.sum(Bw, axis=0)
        sum_BB = xp.sum(Bw * B, axis=0)
        _flops.record("gemm", _flops.gemm(AtB.shape[0], n_rows, k))
        _flops.record("scale", 4 * _flops.elementwise(n_rows, k))
        return cls(AtA, AtB, sum_A, sum_B, sum_BB, sum_w, n)

    @classmethod
    def target_terms(
        cls, A: np.ndarray, B: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> GramStats:
        """Only the target-dependent sums of ``from_data(A, B, sample_weight)`` (``AtB``,
        ``sum_B``, ``sum_BB``; the others empty): what :meth:`with_cross_terms_of` takes, for
        statistics whose Gram matrix is already known."""
        xp = get_namespace(A, B, sample_weight)
        empty = xp.zeros((0,), dtype=A.dtype, device=device(A))
        if sample_weight is None:
            weights = xp.ones(A.shape[0], dtype=A.dtype, device=device(A))
        else:
            weights = xp.astype(sample_weight, A.dtype, copy=False)
        AtB, _, Bw = cls._cross_products(A, B, weights, unweighted=sample_weight is None)
        return cls._with_cross_terms(empty, empty, 0.0, 0, B, Bw, AtB)

    def with_targets(
        self, A: np.ndarray, B: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> GramStats:
        """The same ``A`` (and weights) with new targets ``B``: only the cross terms are computed.

        ``A`` and ``sample_weight`` must be the data these statistics were built from; the
        Gram matrix, and so any factorisation of it, is reused. This is how iterations that
        only change the targets avoid recomputing ``A^T A``.
        """
        xp = get_namespace(A, B, sample_weight)
        if sample_weight is None:
            weights = xp.ones(A.shape[0], dtype=A.dtype, device=device(A))
        else:
            weights = xp.astype(sample_weight, A.dtype, copy=False)
        AtB, _, Bw = GramStats._cross_products(A, B, weights, sample_weight is None)
        new = GramStats._with_cross_terms(
            self.AtA, self.sum_A, self.sum_w, self.n_samples, B, Bw, AtB
        )
        return self.with_cross_terms_of(new)

    def with_cross_terms_of(self, other: GramStats) -> GramStats:
        """These statistics with the target terms (``AtB``, ``sum_B``, ``sum_BB``) of
        ``other``, statistics of the same ``A`` around any shift (or only their target terms),
        brought to this shift."""
        AtB = other.AtB
        if not _same_shift(self.shift, other.shift):
            delta = _shift_or_zero(other.shift, self) - _shift_or_zero(self.shift, self)
            AtB = AtB + delta[:, None] * other.sum_B[None, :]
            _flops.record("center", 2 * self.n_features * self.n_targets)
        return replace(self, AtB=AtB, sum_B=other.sum_B, sum_BB=other.sum_BB)

    def shifted(self, shift: np.ndarray | None) -> GramStats:
        """The same statistics as sums of the rows ``A - shift`` (None: of ``A`` itself)."""
        if _same_shift(self.shift, shift):
            return self
        # rows - new = (rows - old) + delta
        delta = _shift_or_zero(self.shift, self) - _shift_or_zero(shift, self)
        xp = self._xp
        d, k = self.AtB.shape
        sum_w = numpy_dtype(self.dtype).type(self.sum_w).item()
        outer = delta[:, None] * self.sum_A[None, :]
        AtA = self.AtA + outer + outer.T + sum_w * (delta[:, None] * delta[None, :])
        _flops.record("center", 6 * d * d + 2 * d * k + 2 * d)
        return GramStats(
            xp.astype(AtA, self.dtype, copy=False),
            self.AtB + delta[:, None] * self.sum_B[None, :],
            self.sum_A + sum_w * delta,
            self.sum_B, self.sum_BB, self.sum_w, self.n_samples,
            None if shift is None else xp.astype(xp.asarray(shift), self.dtype),
        )

    def update(
        self, A: np.ndarray, B: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> GramStats:
        """Return the statistics of the data seen so far plus one more chunk."""
        return self + GramStats.from_data(A, B, sample_weight)

    def __add__(self, other: GramStats) -> GramStats:
        if not isinstance(other, GramStats):
            return NotImplemented
        if self.AtB.shape != other.AtB.shape:
            raise ValueError(
                f"Cannot add GramStats of {self.AtB.shape[0]} features and {self.AtB.shape[1]} "
                f"targets to GramStats of {other.AtB.shape[0]} features and "
                f"{other.AtB.shape[1]} targets."
            )
        other = other.shifted(self.shift)
        d, k = self.AtB.shape
        _flops.record("merge", d * d + d * k + d + 2 * k)
        return GramStats(
            self.AtA + other.AtA,
            self.AtB + other.AtB,
            self.sum_A + other.sum_A,
            self.sum_B + other.sum_B,
            self.sum_BB + other.sum_BB,
            self.sum_w + other.sum_w,
            self.n_samples + other.n_samples,
            self.shift,
        )

    merge = __add__

    # -- properties -----------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return self.AtA.shape[0]

    @property
    def n_targets(self) -> int:
        return self.AtB.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the sums (of their namespace: a torch dtype for tensors)."""
        return self.AtA.dtype

    @property
    def _xp(self):
        return get_namespace(self.AtA)

    def is_finite(self) -> bool:
        """Whether the data behind the statistics was finite.

        The diagonal of ``AtA`` is a weighted sum of squares of every column, so any NaN or
        infinity in ``A`` (with a positive weight) shows there; so does ``sum_BB`` for ``B``.
        Overflow of huge finite values shows as well, which is equally fatal for the solve.
        """
        xp = self._xp
        return bool(
            xp.all(xp.isfinite(xp.linalg.diagonal(self.AtA))) and xp.all(xp.isfinite(self.sum_BB))
        )

    # -- solving --------------------------------------------------------------------------
    def centered_AtA(self, fit_intercept: bool = True) -> np.ndarray:
        """The normal-equation matrix with the intercept eliminated (if one is fitted)."""
        return self._centered_gram(fit_intercept)[0]

    def _centered_gram(self, fit_intercept: bool) -> tuple[np.ndarray, float]:
        """:meth:`centered_AtA` and the rounding noise that the centring left in it.

        Centring subtracts ``sum_A mean_A^T`` from ``AtA``; both are sums of n rounded terms,
        so the difference keeps an absolute error that does not shrink with the centred
        matrix: when the columns' means are large compared with their spread it dominates,
        and a rank decision relative to the centred matrix alone mistakes it for signal. Its
        size is estimated as ``sqrt(n) * eps * S``, with ``S`` the largest diagonal entry
        removed: the random-walk accumulation of rounding errors over the n samples. The
        worst-case bound, ``n * eps * S``, and even ``(d + sqrt(n)) * eps * S``, reject
        float32 fits of MNIST size with the default ridge whose Cholesky solutions are accurate
        to the digits the data have (and whose eigh fallbacks predict worse).
        """
        if not fit_intercept:
            return self.shifted(None).AtA, 0.0
        xp = self._xp
        mean_A = self._mean_A()
        removed = self.sum_A[:, None] * mean_A[None, :]
        _flops.record("center", self.n_features + 4 * self.n_features**2)
        # The largest removed entry is on the diagonal (n_w * mean_i^2 >= 0): a maximum of
        # values already computed, so no flops are added to the Cholesky path.
        scale = float(xp.max(xp.linalg.diagonal(removed))) if self.n_features else 0.0
        noise = float(np.sqrt(self.n_samples)) * float(xp.finfo(self.dtype).eps) * scale
        if xp is np and removed.dtype == self.AtA.dtype:
            # The same operations in place: every new d x d array costs its first touch,
            # which on wide layers took longer than the arithmetic (0.5 s at d = 3072).
            return symmetrize_(np.subtract(self.AtA, removed, out=removed)), noise
        AtA = self.AtA - removed
        return xp.astype((AtA + AtA.T) / 2, self.dtype, copy=False), noise

    def centered_AtB(self, fit_intercept: bool = True) -> np.ndarray:
        """The normal-equation right-hand side with the intercept eliminated."""
        if not fit_intercept:
            return self.shifted(None).AtB
        _flops.record("center", self.n_features + 2 * self.n_features * self.n_targets)
        centred = self.AtB - self._mean_A()[:, None] * self.sum_B[None, :]
        return self._xp.astype(centred, self.dtype, copy=False)

    def _mean_A(self) -> np.ndarray:
        if self.sum_w <= 0:
            raise ValueError("Cannot fit an intercept to statistics of zero total weight.")
        return self.sum_A / numpy_dtype(self.dtype).type(self.sum_w).item()

    def intercept(self, coef: np.ndarray, fit_intercept: bool = True) -> np.ndarray:
        """The unpenalised intercept that goes with ``coef``."""
        xp = self._xp
        if not fit_intercept:
            return xp.zeros(self.n_targets, dtype=self.dtype, device=device(self.AtA))
        d, k = self.n_features, self.n_targets
        _flops.record("center", _flops.gemm(1, d, k) + 2 * k)
        sum_A = self.sum_A
        if self.shift is not None:  # the column sums of A itself
            sum_A = sum_A + numpy_dtype(self.dtype).type(self.sum_w).item() * self.shift
            _flops.record("center", 2 * d)
        return xp.astype((self.sum_B - sum_A @ coef) / self.sum_w, self.dtype, copy=False)

    def factorize(
        self,
        alpha: float = 0.0,
        *,
        fit_intercept: bool = False,
        solver: str = "cholesky",
        rcond: float | None = None,
    ) -> Factorization:
        """Factorise the regularised normal-equation matrix (``"cholesky"`` or ``"eigh"``).

        ``"cholesky"`` raises :class:`~lsqnet.solvers.NotPositiveDefiniteError` when the matrix
        is not numerically positive definite; ``"eigh"`` always succeeds (pseudo-inverse).
        Both treat eigenvalues below the matrix's rounding noise as zero, including the noise
        that eliminating the intercept (centring) leaves, which can exceed ``eps`` times the
        centred matrix by orders of magnitude when the columns' means are large.
        """
        AtA, noise = self._centered_gram(fit_intercept)
        if solver == "cholesky":
            return factorize_cholesky(AtA, alpha, noise=noise)
        if solver == "eigh":
            return factorize_eigh(AtA, alpha, rcond, noise=noise)
        raise ValueError(
            f"The 'solver' parameter of GramStats.factorize must be one of 'cholesky', 'eigh'. "
            f"Got {solver!r} instead."
        )

    def solve(
        self,
        alpha: float = 0.0,
        *,
        fit_intercept: bool = False,
        solver: str = "auto",
        rcond: float | None = None,
    ) -> LstsqResult:
        """Solve the (ridge) least-squares problem these statistics define.

        ``solver`` is ``"cholesky"``, ``"eigh"`` (minimum-norm pseudo-inverse of the Gram
        matrix), or ``"auto"``: Cholesky, falling back to ``"eigh"`` with a
        :class:`~lsqnet.exceptions.SolverFallbackWarning` when the matrix is not numerically
        positive definite. Only sums are available here, so the data-based ``"qr"`` and
        ``"svd"`` solvers of :func:`lsqnet.lstsq` cannot be used. ``rcond``, in (0, 1], is the
        cut-off of ``"eigh"`` on eigenvalues relative to the largest; by default it is the
        rounding noise of the (centred) Gram matrix. Raises ``ValueError`` when the solution
        overflows the dtype.
        """
        owner = "GramStats.solve"
        alpha = check_scalar(alpha, "alpha", owner, low=0.0)
        check_option(solver, "solver", owner, GRAM_SOLVERS)
        if rcond is not None:
            rcond = check_scalar(rcond, "rcond", owner, low=0.0, high=1.0, low_inclusive=False)
        factor = factorize(
            self, alpha, fit_intercept=fit_intercept, solver=solver, rcond=rcond, owner=owner,
            accepts=Accepts(GRAM_SOLVERS),
        )
        result = self.solve_with(factor, fit_intercept=fit_intercept)
        check_finite_solution(result.coef, result.intercept, result.solver, owner)
        return result

    def solve_with(self, factor: Factorization, *, fit_intercept: bool = False) -> LstsqResult:
        """Solve with an existing factorisation of these statistics' normal equations."""
        coef = self._xp.astype(
            factor.solve(self.centered_AtB(fit_intercept)), self.dtype, copy=False
        )
        if isinstance(coef, np.ndarray):  # LAPACK's column-major answer: H @ coef with few
            coef = np.ascontiguousarray(coef)  # columns is 1.6x faster row-major (OpenBLAS)
        return LstsqResult(coef, self.intercept(coef, fit_intercept), factor.solver)


def symmetrize_(A: np.ndarray, block: int = 256) -> np.ndarray:
    """``(A + A.T) / 2`` of a square NumPy array, in place and block by block: the same
    values as the expression (each pair of entries is added once, in either order), without
    its d x d temporary and its reads across the whole transpose."""
    d = A.shape[0]
    half = A.dtype.type(0.5)
    for i in range(0, d, block):
        rows = slice(i, i + block)
        diagonal = A[rows, rows]
        diagonal += diagonal.T.copy()
        diagonal *= half
        for j in range(i + block, d, block):
            cols = slice(j, j + block)
            upper = A[rows, cols]
            upper += A[cols, rows].T
            upper *= half
            A[cols, rows] = upper.T
    return A
