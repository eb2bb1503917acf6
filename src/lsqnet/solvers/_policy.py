"""The solver policy: which solver runs, what replaces it when it cannot be trusted, and what
the warning then advises.

Every solve in lsqnet asks this module; nothing else decides:

- :func:`resolve_solver`: ``"auto"`` for data in memory (``"cholesky"``, or ``"svd"`` when the
  Gram matrix is singular by construction);
- :func:`gram_solver`: the solver that stands in for a data-based one where only summed
  statistics are kept (``"qr"`` and ``"svd"`` become the Gram eigendecomposition);
- :func:`factorize_gram`: the fallback ladder on summed statistics: Cholesky; for float32
  statistics whose data is at hand, the same data around its columns' means, then in
  float64; the eigendecomposition last. Every rung past the first warns;
- :func:`warn_fallback`: the :class:`~lsqnet.exceptions.SolverFallbackWarning`, whose advice
  names only values the API it names accepts (:class:`Accepts`);
- :func:`most_robust`: the one solver reported for solves that used several.

Design constraint: :mod:`lsqnet.solvers._gram` imports this module, so this one reaches
:class:`~lsqnet.solvers.GramStats` only through the statistics it is given.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from .._array_api import get_namespace, numpy_dtype
from ..exceptions import SolverFallbackWarning
from ._factor import Factorization, NotPositiveDefiniteError

__all__ = [
    "GRAM_SOLVERS",
    "SOLVERS",
    "DATA_SOLVERS",
    "Accepts",
    "argument_names",
    "check_finite_solution",
    "external_stacklevel",
    "factorize",
    "factorize_gram",
    "float32_hint",
    "gram_solver",
    "most_robust",
    "resolve_solver",
    "warn_fallback",
]

#: The solvers of data in memory (:func:`lsqnet.lstsq`, :func:`lsqnet.fit_layer`, BPLS).
SOLVERS = ("auto", "cholesky", "qr", "svd")
#: The solvers of summed statistics (:meth:`lsqnet.GramStats.solve`).
GRAM_SOLVERS = ("auto", "cholesky", "eigh")

# Robustness order, used to report one solver for solves that used several.
_ROBUSTNESS = {"cholesky": 0, "eigh": 1, "qr": 1, "svd": 2}


class Accepts(NamedTuple):
    """What the API a message names accepts, so that the fix it suggests can be followed.

    Attributes
    ----------
    solvers : tuple of str
        The values of its ``solver`` parameter (empty: it has none).
    ridge : str
        The name of its ridge parameter.
    dtype : bool
        Whether it has a ``dtype`` parameter (else float64 means float64 data).
    """

    solvers: tuple[str, ...] = SOLVERS
    ridge: str = "alpha"
    dtype: bool = False


#: What :func:`lsqnet.lstsq` and :func:`lsqnet.fit_layer` accept.
DATA_SOLVERS = Accepts()


def most_robust(solvers: Iterable[str]) -> str:
    """The most robust of the solvers used (the one a fit reports as ``solver_``)."""
    return max(solvers, key=_ROBUSTNESS.__getitem__)


def resolve_solver(
    solver: str, n_samples: int, n_features: int, alpha: float, fit_intercept: bool
) -> str:
    """The solver ``solver`` stands for on data in memory: ``"auto"`` is ``"cholesky"``, or
    ``"svd"`` when ``alpha == 0`` and there are fewer samples (less one for an intercept) than
    features, where the Gram matrix is singular by construction."""
    if solver != "auto":
        return solver
    return "svd" if alpha == 0 and n_samples - int(fit_intercept) < n_features else "cholesky"


def gram_solver(solver: str) -> str:
    """The summed-statistics solver standing in for ``solver`` where the factorisation is reused.

    Only the Gram matrix is kept across iterations, so the data-based ``"qr"`` and ``"svd"``
    are replaced by the eigendecomposition of the Gram matrix (same minimum-norm answer).
    """
    return "eigh" if solver in ("qr", "svd") else solver


def suggested_solver(fallback: str, accepts: Accepts) -> str | None:
    """The value of ``accepts.solvers`` that runs ``fallback``: itself, else the most robust
    data-based solver whose summed-statistics stand-in it is (``"svd"`` for ``"eigh"``);
    None if there is none."""
    if fallback in accepts.solvers:
        return fallback
    stand_ins = [name for name in accepts.solvers if gram_solver(name) == fallback]
    return most_robust(stand_ins) if stand_ins else None


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def external_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first caller outside lsqnet.

    Counted for the function that calls this one. Fallbacks are reached through call chains
    of different depths (``lstsq``, its per-column recursion for 2-D weights, ``fit_layer``,
    ``GramStats.solve``, BPLS), so no fixed level is right for all of them (pandas'
    ``find_stack_level`` does the same; ``skip_file_prefixes`` needs Python 3.12).
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _float64_fix(accepts: Accepts) -> str:
    return "dtype='float64'" if accepts.dtype else "float64 data"


def _join(fixes: list[str]) -> str:
    return fixes[0] if len(fixes) == 1 else ", ".join(fixes[:-1]) + " or " + fixes[-1]


def warn_fallback(
    owner: str, solver: str, fallback: str, reason: str, *, accepts: Accepts, dtype: Any
) -> None:
    """Warn that ``solver`` could not be trusted and ``fallback`` ran instead, advising only
    values that ``owner``'s API accepts (``dtype``: of the data, float32 adds float64)."""
    fixes = []
    suggested = suggested_solver(fallback, accepts)
    if suggested is not None:
        fixes.append(f"solver={suggested!r}")
    fixes.append(
        f"a positive {accepts.ridge} (ridge; a larger one if it is positive already)"
    )
    if numpy_dtype(dtype) == np.float32:
        fixes.append(_float64_fix(accepts))
    warnings.warn(
        f"{owner}: solver={solver!r} could not be trusted: {reason}; used solver={fallback!r} "
        f"instead. To avoid this, pass {_join(fixes)}, or remove redundant features and "
        f"standardise the others (e.g. sklearn StandardScaler); to silence it, "
        f"warnings.filterwarnings('ignore', "
        f"category=lsqnet.exceptions.SolverFallbackWarning).",
        SolverFallbackWarning,
        stacklevel=external_stacklevel(),
    )


def _warn_recomputed(owner: str, n_inputs: int, reason: str, how: str, accepts: Accepts) -> None:
    warnings.warn(
        f"{owner}: the float32 statistics of a layer with {n_inputs} inputs could not be "
        f"trusted: {reason}; they were recomputed {how} and solved by Cholesky. To avoid "
        f"the extra time, pass a larger {accepts.ridge} or {_float64_fix(accepts)}; to "
        f"silence it, warnings.filterwarnings('ignore', "
        f"category=lsqnet.exceptions.SolverFallbackWarning).",
        SolverFallbackWarning,
        stacklevel=external_stacklevel(),
    )


def factorize_gram(
    stats: Any,
    alpha: float,
    *,
    fit_intercept: bool,
    solver: str,
    owner: str,
    accepts: Accepts,
    rcond: float | None = None,
    data: tuple[Any, ...] | None = None,
) -> tuple[Any, Factorization]:
    """The factorisation of summed statistics ``stats``, and the statistics it belongs to.

    ``solver`` (``"auto"``, ``"cholesky"`` or ``"eigh"``; ``"qr"``/``"svd"`` stand for
    ``"eigh"``, :func:`gram_solver`): Cholesky, falling back to the eigendecomposition (cut-off
    ``rcond``) with a warning. When the statistics are float32 and their data ``(A, B)`` or
    ``(A, B, sample_weight)`` is given, statistics that the Cholesky check rejects are first
    recomputed from it around the columns' means (still float32, :class:`~lsqnet.GramStats`
    with a shift), then if need be in float64 (in blocks of rows): the rejection is usually
    the rounding noise of centring float32 sums, which the shift removes, while the
    eigendecomposition's rank cut-off then drops directions that matter (7 points of test
    accuracy on one Fashion-MNIST seed, benchmarks/FINDINGS.md). Warns whichever succeeds.
    """
    solver_used = gram_solver(solver)
    if solver_used == "eigh":
        return stats, stats.factorize(
            alpha, fit_intercept=fit_intercept, solver="eigh", rcond=rcond
        )
    try:
        return stats, stats.factorize(alpha, fit_intercept=fit_intercept, solver="cholesky")
    except NotPositiveDefiniteError as err:
        reason = str(err)
    if data is not None and numpy_dtype(stats.dtype) == np.float32:
        A, B, *weights = data  # (A, B) or (A, B, sample_weight)
        w = weights[0] if weights else None
        # type(stats): GramStats, which imports this module
        shifted = type(stats).around_means(A, B, w)
        try:
            factor = shifted.factorize(alpha, fit_intercept=fit_intercept, solver="cholesky")
        except NotPositiveDefiniteError:
            pass
        else:
            _warn_recomputed(
                owner, A.shape[1], reason, "around the columns' means (still float32)", accepts
            )
            return shifted, factor
        xp = get_namespace(A)
        stats = type(stats).from_data(A, B, w, dtype=xp.float64)  # in blocks: no float64 copy
        try:
            factor = stats.factorize(alpha, fit_intercept=fit_intercept, solver="cholesky")
        except NotPositiveDefiniteError as err:
            reason = f"{reason}, and in float64 {err}"
        else:
            _warn_recomputed(
                owner, A.shape[1], reason, "in float64 (the weights stay float32)", accepts
            )
            return stats, factor
        dtype = np.float32  # the advice is for the data's dtype
    else:
        dtype = stats.dtype
    warn_fallback(owner, solver, "eigh", reason, accepts=accepts, dtype=dtype)
    return stats, stats.factorize(alpha, fit_intercept=fit_intercept, solver="eigh", rcond=rcond)


def factorize(
    stats: Any,
    alpha: float,
    *,
    fit_intercept: bool,
    solver: str,
    owner: str,
    accepts: Accepts,
    rcond: float | None = None,
) -> Factorization:
    """:func:`factorize_gram` without data: Cholesky, falling back to ``"eigh"``."""
    return factorize_gram(
        stats, alpha, fit_intercept=fit_intercept, solver=solver, owner=owner,
        accepts=accepts, rcond=rcond,
    )[1]


# The names of the data arguments in the messages of each caller of solve_least_squares.
_ARG_NAMES = {"fit_layer": ("X", "Y"), "BPLS": ("X", "y")}


def argument_names(owner: str) -> tuple[str, str]:
    """The names ``owner`` gives its data and targets in messages (``A`` and ``B`` for the
    solver functions)."""
    return _ARG_NAMES.get(owner, ("A", "B"))


def float32_hint(dtype: Any) -> str:
    """`` or use float64`` for float32 ``dtype``, else nothing (the end of an advice)."""
    return " or use float64" if numpy_dtype(dtype) == np.float32 else ""


def check_finite_solution(coef: Any, intercept: Any, solver: str, owner: str) -> None:
    """Raise instead of returning a solution that overflowed (e.g. float32 beyond 3.4e38)."""
    xp = get_namespace(coef)
    if bool(xp.all(xp.isfinite(coef))) and bool(xp.all(xp.isfinite(intercept))):
        return
    a, b = argument_names(owner)
    hint = float32_hint(coef.dtype)
    raise ValueError(
        f"{owner}: the least-squares solution overflowed {numpy_dtype(coef.dtype)} "
        f"(solver={solver!r}): "
        f"its coefficients are too large to represent. Rescale {a} and {b} (e.g. sklearn "
        f"StandardScaler), pass a positive alpha{hint}."
    )
