r"""Least-squares solvers: pure functions on arrays, and the one place ``"auto"`` is resolved.

Every solver minimises, for data ``A`` (n, d), targets ``B`` (n, k), sample weights ``w``
(n,) and ``alpha >= 0``,

.. math:: \| \operatorname{diag}(\sqrt{w}) (A W + 1 b^T - B) \|_F^2 + \alpha \| W \|_F^2,

column by column, all columns sharing one factorisation (``b`` = 0 unless an intercept is
fitted; the intercept is never penalised). When to use which:

- ``"cholesky"``: normal equations :math:`(A^T W A + \alpha I) W = A^T W B`. The fast path:
  one BLAS ``syrk`` and a d x d factorisation, and the only one that works from summed
  statistics (streaming, distributed). Squares the condition number, so it is checked:
  when the estimated smallest eigenvalue is below the matrix's rounding noise (see
  :mod:`lsqnet.solvers._factor`) it falls back to ``"svd"`` with a
  :class:`~lsqnet.exceptions.SolverFallbackWarning` that states the condition estimate.
- ``"qr"``: Householder QR of the (augmented) data; the condition number is not squared.
  Needs full column rank, checked like ``numpy.linalg.matrix_rank``: the reciprocal
  condition estimate of ``R`` (LAPACK ``?trcon``, and the ratio of its smallest to largest
  diagonal entry) must reach ``max(n_rows, n_features) * eps``; otherwise it falls back to
  ``"svd"`` with a warning.
- ``"svd"``: the pseudo-inverse through the thin SVD, with singular values below
  ``rcond * s_max`` discarded; the minimum-norm solution of rank-deficient problems. The
  safest and slowest.
- ``"auto"``: ``"cholesky"``, or ``"svd"`` directly when ``alpha == 0`` and there are fewer
  samples than features (the Gram matrix is then singular by construction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from .. import _flops, _sparse
from .._array_api import (
    check_same_library,
    device,
    get_namespace,
    numpy_dtype,
    solve_triangular,
)
from .._validation import (
    check_array,
    check_consistent_length,
    check_option,
    check_sample_weight,
    check_scalar,
    float_dtype,
)
from ._factor import NotPositiveDefiniteError, condition_text
from ._gram import GramStats, LstsqResult
from ._policy import (
    DATA_SOLVERS,
    SOLVERS,
    Accepts,
    argument_names,
    check_finite_solution,
    float32_hint,
    most_robust,
    resolve_solver,
    warn_fallback,
)

__all__ = [
    "SOLVERS",
    "lstsq",
    "solve_least_squares",
    "solve_qr",
    "solve_svd",
]

def _default_rcond(n_samples: int, n_features: int, dtype: np.dtype) -> float:
    # numpy.linalg.lstsq's and numpy.linalg.pinv's default, so "svd" matches them.
    return max(n_samples, n_features) * float(np.finfo(numpy_dtype(dtype)).eps)


def solve_svd(A: np.ndarray, B: np.ndarray, alpha: float = 0.0, rcond: float | None = None):
    r"""Ridge / minimum-norm least squares through the thin SVD :math:`A = U S V^T`.

    :math:`W = V \operatorname{diag}(s_i / (s_i^2 + \alpha)) U^T B` over the singular values
    :math:`s_i > \text{rcond} \cdot s_{max}`; the others are discarded, which gives the
    minimum-norm solution (``numpy.linalg.pinv(A) @ B`` when ``alpha == 0``).
    """
    xp = get_namespace(A, B)
    cutoff = _default_rcond(*A.shape, A.dtype) if rcond is None else rcond
    _flops.mark_inexact()  # the SVD is iterative: its operation count depends on the data
    if xp is np:
        try:
            U, s, Vt = scipy.linalg.svd(A, full_matrices=False, check_finite=False)
        except np.linalg.LinAlgError:  # gesdd may not converge where the slower gesvd does
            U, s, Vt = scipy.linalg.svd(
                A, full_matrices=False, check_finite=False, lapack_driver="gesvd"
            )
    else:
        U, s, Vt = xp.linalg.svd(A, full_matrices=False)
    # numpy.linalg.lstsq's rule: values smaller than rcond * s_max count as zero.
    top = float(s[0]) if s.shape[0] else 0.0
    keep = (s >= cutoff * top) & (s > 0) & (top > 0)
    s64 = xp.where(keep, xp.astype(s, xp.float64), 1.0)
    proj = U.T @ B
    # (u_i . B) * s / (s**2 + alpha) as (u_i . B) / (s + alpha / s), without forming s**2,
    # which overflows float32 for s > 1.8e19 and underflows for s < 1.5e-154 (losing the
    # answer when alpha is 0); nor 1 / s, which overflows for subnormal s even where the
    # answer is 0. alpha / s may overflow to infinity, where the limit 0 is right; a
    # solution beyond the dtype's range comes out infinite, and the caller raises for it.
    with np.errstate(over="ignore", invalid="ignore"):
        denom = s64 if alpha == 0 else s64 + alpha / s64
        scaled = xp.where(keep[:, None], xp.astype(proj, xp.float64) / denom[:, None], 0.0)
        return xp.astype(Vt.T @ xp.astype(scaled, A.dtype), A.dtype, copy=False)


def solve_qr(A: np.ndarray, B: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    r"""Least squares through the Householder QR of :math:`[A; \sqrt{\alpha} I]`.

    Raises :class:`NotPositiveDefiniteError` when ``A`` is rank deficient to working
    precision, the rule of ``numpy.linalg.matrix_rank``: the reciprocal condition estimate of
    ``R`` is below ``max(n_rows, d) * eps``. The estimate is the smaller of LAPACK ``?trcon``'s
    and ``min |R_ii| / max |R_ii|`` (an upper bound of ``s_min / s_max``): ``?trcon`` alone can
    land just above ``eps`` for exact duplicate columns. QR then has no unique answer.
    """
    xp = get_namespace(A, B)
    n, d = A.shape
    _flops.mark_inexact()  # not modelled by count_flops, which covers the Cholesky path
    if alpha > 0:
        root = float(np.sqrt(numpy_dtype(A.dtype).type(alpha)))
        eye = xp.eye(d, dtype=A.dtype, device=device(A))
        A = xp.concat([A, root * eye], axis=0)
        B = xp.concat([B, xp.zeros((d, B.shape[1]), dtype=B.dtype, device=device(B))], axis=0)
    if A.shape[0] < d:
        raise NotPositiveDefiniteError(
            f"A has fewer rows ({A.shape[0]}) than columns ({d}), so it is rank deficient: "
            f"{condition_text(0.0)}",
            rcond=0.0,
        )
    if xp is np:
        Q, R = scipy.linalg.qr(A, mode="economic", check_finite=False)
        trcon = scipy.linalg.get_lapack_funcs("trcon", (R,))
        rc, info = trcon(R, norm="1", uplo="U", diag="N")
        rc = float(rc) if info == 0 else 0.0
    else:  # no ?trcon outside LAPACK: the diagonal ratio alone
        Q, R = xp.linalg.qr(A, mode="reduced")
        rc = 1.0
    diag = xp.abs(xp.linalg.diagonal(R))
    top = float(xp.max(diag)) if diag.shape[0] else 0.0
    rcond = min(rc, float(xp.min(diag)) / top) if top > 0 else 0.0
    tol = max(A.shape) * float(xp.finfo(A.dtype).eps)
    if not rcond >= tol:
        raise NotPositiveDefiniteError(
            f"A is rank deficient to working precision: {condition_text(rcond)} of R "
            f"exceeds {1 / tol:.3g} = 1/(max(n_rows, n_features) * eps)",
            rcond=rcond,
        )
    return xp.astype(solve_triangular(xp, R, Q.T @ B), A.dtype, copy=False)


def _center(A, B, w, fit_intercept):
    """Weighted, centred copies for the data-based solvers, and the means removed."""
    xp = get_namespace(A, B, w)
    dtype = A.dtype
    if fit_intercept:
        if w is None:
            mean_A, mean_B = xp.mean(A, axis=0), xp.mean(B, axis=0)
        else:
            total = xp.sum(w)
            mean_A, mean_B = (w @ A) / total, (w @ B) / total
        A, B = A - mean_A, B - mean_B
    else:
        mean_A = xp.zeros(A.shape[1], dtype=dtype, device=device(A))
        mean_B = xp.zeros(B.shape[1], dtype=dtype, device=device(A))
    if w is not None:
        root = xp.sqrt(w)[:, None]
        A, B = A * root, B * root
    return A, B, xp.astype(mean_A, dtype, copy=False), xp.astype(mean_B, dtype, copy=False)


def _raise_nonfinite(
    A: np.ndarray, B: np.ndarray, w: np.ndarray | None, owner: str,
    *, centred: bool | None = None,
) -> None:
    """Raise for data whose least-squares statistics overflowed (``centred=None``), or whose
    values centred (``centred``: fit_intercept) and weighted overflowed, naming the argument
    at fault."""
    xp = get_namespace(A, B, w)
    a, b = argument_names(owner)
    hint = float32_hint(A.dtype)
    dtype = numpy_dtype(A.dtype)
    if centred is None:
        check_array(A, a)
        check_array(B, b, ndim=(1, 2))
        with np.errstate(over="ignore", invalid="ignore"):
            large = [
                name for name, X in ((a, A), (b, B))
                if not bool(xp.all(xp.isfinite(xp.sum(X * X, axis=0))))
            ]
        weighted = (
            f"the least-squares statistics overflowed: sample_weight is too large for "
            f"{dtype} with these {a} and {b} (the weighted sums of squares overflow)"
        )
        overflowed, squared = "the least-squares statistics overflowed", " when squared"
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            Ac, Bc, _, _ = _center(A, B, None, centred)
        large = [name for name, X in ((a, Ac), (b, Bc)) if not bool(xp.all(xp.isfinite(X)))]
        weighted = (
            f"the weighted data overflowed: sample_weight is too large for {dtype} with "
            f"these {a} and {b}"
        )
        overflowed, squared = "the centred data overflowed", ""
    if not large and w is not None:
        raise ValueError(
            f"{owner}: {weighted}. Rescale sample_weight (e.g. divide it by its maximum){hint}."
        )
    names = " and ".join(large or [a, b])
    verb = "holds" if len(large) == 1 else "hold"
    raise ValueError(
        f"{owner}: {overflowed}: {names} {verb} values too large for {dtype}{squared}. "
        f"Rescale {names} (e.g. sklearn StandardScaler){hint}."
    )


def solve_least_squares(
    A: np.ndarray,
    B: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    alpha: float = 0.0,
    solver: str = "auto",
    fit_intercept: bool = False,
    rcond: float | None = None,
    owner: str = "lstsq",
    accepts: Accepts = DATA_SOLVERS,
) -> LstsqResult:
    """The solver core on validated arrays: ``A`` (n, d), ``B`` (n, k), one floating dtype.

    ``A`` need not have been checked for finiteness: the Cholesky path reads it off the Gram
    diagonal, the others check it. ``sample_weight`` of shape (n, k) weights each target
    column separately, at the price of one factorisation per column. ``owner`` names the
    caller in messages, ``accepts`` what its API accepts (the advice of a fallback warning).
    """
    xp = get_namespace(A, B, sample_weight)
    if sample_weight is not None and sample_weight.ndim == 2:
        results = [
            solve_least_squares(
                A, B[:, j : j + 1], sample_weight=sample_weight[:, j], alpha=alpha,
                solver=solver, fit_intercept=fit_intercept, rcond=rcond, owner=owner,
                accepts=accepts,
            )
            for j in range(B.shape[1])
        ]
        return LstsqResult(
            xp.concat([r.coef for r in results], axis=1),
            xp.concat([r.intercept for r in results]),
            most_robust(r.solver for r in results),
        )

    n, d = A.shape
    requested = solver
    sparse = _sparse.is_sparse(A)
    # of a sparse A only the sums of products are formed: Cholesky, else the eigendecomposition
    solver = "cholesky" if sparse else resolve_solver(solver, n, d, alpha, fit_intercept)
    if sparse and requested not in ("auto", "cholesky"):
        raise ValueError(
            f"{owner}: solver={requested!r} factorises {argument_names(owner)[0]} itself, "
            f"which would make a sparse matrix dense; use solver='auto' or 'cholesky'."
        )

    if solver == "cholesky":
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
            stats = GramStats.from_data(A, B, sample_weight)
        if not stats.is_finite():
            _raise_nonfinite(A, B, sample_weight, owner)
        try:
            factor = stats.factorize(alpha, fit_intercept=fit_intercept, solver="cholesky")
        except NotPositiveDefiniteError as err:
            if sparse:
                warn_fallback(owner, requested, "eigh", str(err), accepts=accepts, dtype=A.dtype)
                factor = stats.factorize(alpha, fit_intercept=fit_intercept, solver="eigh")
                result = stats.solve_with(factor, fit_intercept=fit_intercept)
                check_finite_solution(result.coef, result.intercept, result.solver, owner)
                return result
            warn_fallback(owner, requested, "svd", str(err), accepts=accepts, dtype=A.dtype)
            solver = "svd"
        else:
            result = stats.solve_with(factor, fit_intercept=fit_intercept)
            check_finite_solution(result.coef, result.intercept, result.solver, owner)
            return result
    else:
        check_array(A, argument_names(owner)[0])

    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
        Ac, Bc, mean_A, mean_B = _center(A, B, sample_weight, fit_intercept)
    if not (bool(xp.all(xp.isfinite(Ac))) and bool(xp.all(xp.isfinite(Bc)))):
        _raise_nonfinite(A, B, sample_weight, owner, centred=fit_intercept)
    if solver == "qr":
        try:
            coef = solve_qr(Ac, Bc, alpha)
        except NotPositiveDefiniteError as err:
            warn_fallback(owner, solver, "svd", str(err), accepts=accepts, dtype=A.dtype)
            solver = "svd"
    if solver == "svd":
        coef = solve_svd(Ac, Bc, alpha, rcond)
    if fit_intercept:
        intercept = xp.astype(mean_B - mean_A @ coef, A.dtype, copy=False)
    else:
        intercept = xp.zeros(B.shape[1], dtype=A.dtype, device=device(A))
    check_finite_solution(coef, intercept, solver, owner)
    return LstsqResult(coef, intercept, solver)


def lstsq(
    A: Any,
    B: Any,
    *,
    alpha: float = 0.0,
    solver: str = "auto",
    sample_weight: Any = None,
    rcond: float | None = None,
) -> np.ndarray:
    r"""Weighted ridge least squares for one or many right-hand sides.

    Returns ``W`` minimising

    .. math:: \| \operatorname{diag}(\sqrt{w}) (A W - B) \|_F^2 + \alpha \| W \|_F^2 ,

    every column of ``B`` solved with one shared factorisation.

    Parameters
    ----------
    A : array-like of shape (n_samples, n_features)
        The design matrix. Not modified.
    B : array-like of shape (n_samples,) or (n_samples, n_targets)
        Right-hand side(s). Not modified.
    alpha : float, default=0.0
        Ridge penalty, in [0, inf).
    solver : {"auto", "cholesky", "qr", "svd"}, default="auto"
        See :mod:`lsqnet.solvers` for when to use which. ``"cholesky"`` and ``"qr"`` fall
        back to ``"svd"`` with a :class:`~lsqnet.exceptions.SolverFallbackWarning` when the
        problem is singular to working precision.
    sample_weight : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
        Non-negative weights ``w``. A 2-D array weights every target column separately (one
        factorisation per column).
    rcond : float, default=None
        Relative cut-off of the ``"svd"`` solver: singular values below
        ``rcond * s_max`` are discarded. Defaults to ``max(n_samples, n_features) * eps``,
        as in :func:`numpy.linalg.lstsq` and :func:`numpy.linalg.pinv`.

    Returns
    -------
    W : ndarray of shape (n_features,) or (n_features, n_targets)
        float32 if ``A`` and ``B`` are float32, float64 otherwise. Always finite.

    Raises
    ------
    ValueError
        For invalid arguments, and when the problem overflows the dtype (its statistics or
        its solution): a non-finite ``W`` is never returned.

    See Also
    --------
    GramStats : the same problem from summed statistics (streaming, distributed).

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet import lstsq
    >>> A = np.array([[1.0], [1.0]]); B = np.array([1.0, 2.0])
    >>> lstsq(A, B)
    array([1.5])
    """
    owner = "lstsq"
    check_same_library(owner, A=A, B=B, sample_weight=sample_weight)
    dtype = float_dtype(A, B)
    A = check_array(A, "A", dtype=dtype, ensure_finite=False)
    B = check_array(B, "B", ndim=(1, 2), dtype=dtype)
    check_consistent_length(A=A, B=B)
    alpha = check_scalar(alpha, "alpha", owner, low=0.0)
    solver = check_option(solver, "solver", owner, SOLVERS)
    if rcond is not None:
        rcond = check_scalar(rcond, "rcond", owner, low=0.0, high=1.0, low_inclusive=False)
    B2 = B[:, None] if B.ndim == 1 else B
    w = check_sample_weight(sample_weight, A.shape[0], B2.shape[1], dtype)
    result = solve_least_squares(A, B2, sample_weight=w, alpha=alpha, solver=solver, rcond=rcond)
    return result.coef[:, 0] if B.ndim == 1 else result.coef
