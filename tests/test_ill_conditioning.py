"""Ill-conditioned least squares: every solver is finite, right, and says when it fell back.

A table of problems that break naive solvers (duplicate and constant columns, n < d, feature
scales from 1e-8 to 1e8, a Gram matrix singular to working precision, large column means) is
solved by every solver, with and without an intercept, with and without ridge, in float32 and
float64, and checked against an independent reference: LAPACK ``gelsd`` (SVD-based
minimum-norm least squares, through ``scipy.linalg.lstsq``) in float64 on the same (cast) data,
with lsqnet's default cut-off ``max(n, d) * eps`` of the data's dtype; ridge is the augmented
system ``[A; sqrt(alpha) I] W = [B; 0]``, solved by ``gelsd`` on ``A`` truncated at that cut-off
(the directions below it are rounding noise in the data's dtype, which lsqnet discards as well).

Tolerances (relative, in the 2-norm over all entries):

- fitted values ``A W + b`` against the reference's, relative to ``||B||``: the solution need not
  be unique, the fitted values are. ``max(tol(dtype), 10 * eps * cond)``, ``tol`` being the
  dtype-aware helper of ``conftest.py`` (1e-4 / 1e-8) and ``cond`` the condition number of the
  reference's kept spectrum: a backward-stable solver moves the fitted values by about
  ``eps * cond * ||B||`` (Wedin's bound for the perturbed range), and no solver can do better.
- coefficients of ``"svd"`` (and of every fallback to it) against the reference's minimum-norm
  coefficients: ``max(tol(dtype), 10 * eps * cond * (1 + cond * rho))`` with
  ``rho = ||residual|| / (s_max ||W||)``, the least-squares perturbation bound (Higham,
  *Accuracy and Stability of Numerical Algorithms*, Thm. 20.1).

Both bounds reduce to ``tol(dtype)`` for the moderately conditioned kept spectra of most cases.

Then: the fallback warning's text (condition estimate, fix, how to silence it) and the line it
points at; the summed-statistics solvers (``GramStats``), including the rounding noise of
centring columns with large means; overflow (a clear error, never a NaN or infinite result);
and ``fit_layer`` and the estimators on the same table, plus targets that all sit at a sigmoid's
clipping margin (saturated activations).
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_array_equal
from scipy.special import expit, logit

import lsqnet
from lsqnet import BPLSClassifier, BPLSRegressor, GramStats, fit_layer, lstsq
from lsqnet.activations import ACTIVATIONS
from lsqnet.exceptions import LSQNetError, SolverFallbackWarning
from lsqnet.solvers import NotPositiveDefiniteError, solve_least_squares

SOLVERS = lsqnet.SOLVERS
DTYPES = [np.float32, np.float64]

# The fallback warning states the condition estimate, then the fix, then how to silence it.
CONDITION = r"estimated condition number (inf|\d[\d.]*(e[+-]\d+)?) \(reciprocal condition estimate"
FALLBACK = CONDITION + r".*pass solver=.*positive alpha.*filterwarnings"


def _make_problem(rng, n, d, singular_values):
    """``A = U diag(s) V^T`` with chosen singular values and ``B = A X`` (no residual)."""
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = (U * np.asarray(singular_values, float)) @ V.T
    return A, A @ rng.standard_normal((d, 3))


def _duplicate_columns(rng):
    A = rng.standard_normal((40, 5))
    return np.hstack([A, A[:, :2]]), rng.standard_normal((40, 3))  # rank 5 of 7


def _constant_columns(rng):
    A = rng.standard_normal((40, 5))
    A[:, 2], A[:, 4] = 3.0, -0.1  # with an intercept: two zero columns after centring
    return A, rng.standard_normal((40, 3))


def _wide(rng):
    return rng.standard_normal((8, 20)), rng.standard_normal((8, 3))  # n < d


def _feature_scales(rng):
    # Columns on scales 1e-8 .. 1e8, chosen so that no singular value lies within a factor of 10
    # of the cut-off in either dtype (float64 keeps 4 of 6, float32 keeps 2).
    scales = 10.0 ** np.array([-8, -7, 0, 1, 7, 8])
    return rng.standard_normal((50, 6)) * scales, rng.standard_normal((50, 3))


def _singular_gram(rng):
    # cond(A) = 1e9: A is fine in float64 (QR and SVD resolve it), its Gram matrix (cond 1e18)
    # is singular to working precision; in float32 A itself is numerically rank 5.
    return _make_problem(rng, 50, 6, [1, 1, 1, 1, 1, 1e-9])


def _ill_conditioned_gram(rng):
    # cond(A) = 1e7: Cholesky still resolves the Gram matrix (cond 1e14) in float64.
    return _make_problem(rng, 50, 6, [1, 1, 1, 1, 1, 1e-7])


def _large_means(rng):
    # Columns of mean ~100 and unit spread, one of them twice: the centred Gram matrix is
    # singular, and the rounding noise of centring its sums is ~1e4 times its own eps-level.
    A = rng.standard_normal((60, 5)) + rng.uniform(50, 150, 5)
    return np.hstack([A, A[:, :1]]), rng.standard_normal((60, 3)) + 10.0


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


CASES = [
    Case("duplicate-columns", _duplicate_columns),
    Case("constant-columns", _constant_columns),
    Case("n<d", _wide),
    Case("scales-1e-8-to-1e8", _feature_scales),
    Case("singular-gram", _singular_gram),
    Case("ill-conditioned-gram", _ill_conditioned_gram),
    Case("large-means-duplicate", _large_means),
]
CASE_IDS = [case.name for case in CASES]


def problem(case: Case, dtype) -> tuple[np.ndarray, np.ndarray]:
    A, B = case.build(np.random.default_rng(0))
    return A.astype(dtype), B.astype(dtype)


@dataclass(frozen=True)
class Reference:
    coef: np.ndarray
    intercept: np.ndarray
    fitted: np.ndarray
    cond: float  # condition number of the kept spectrum of the system solved
    rho: float  # ||residual|| / (s_max ||coef||) of that system


def reference(A, B, *, alpha: float, fit_intercept: bool, dtype, sample_weight=None) -> Reference:
    """The minimum-norm (ridge) solution by LAPACK gelsd in float64 (see the module doc).

    ``sample_weight`` (n,) weighs the rows: the system is ``sqrt(w) (A - mean_w(A))``.
    """
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    w = np.ones(A.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    mean_A = w @ A64 / w.sum() if fit_intercept else np.zeros(A.shape[1])
    mean_B = w @ B64 / w.sum() if fit_intercept else np.zeros(B.shape[1])
    root = np.sqrt(w)[:, None]
    Ac, Bc = (A64 - mean_A) * root, (B64 - mean_B) * root
    n, d = Ac.shape
    cutoff = max(n, d) * float(np.finfo(dtype).eps)
    if alpha:
        U, s, Vt = np.linalg.svd(Ac, full_matrices=False)
        s = np.where(s >= cutoff * s[0], s, 0.0)
        system = np.vstack([(U * s) @ Vt, np.sqrt(alpha) * np.eye(d)])
        rhs = np.vstack([Bc, np.zeros((d, B.shape[1]))])
        cond_rule = 0.0  # the augmented system has full rank: nothing more to discard
    else:
        system, rhs, cond_rule = Ac, Bc, cutoff
    coef = scipy.linalg.lstsq(system, rhs, cond=cond_rule, lapack_driver="gelsd")[0]
    s = np.linalg.svd(system, compute_uv=False)
    kept = s[s >= max(cond_rule, 1e-300) * s[0]]
    residual = np.linalg.norm(system @ coef - rhs)
    rho = residual / (s[0] * max(np.linalg.norm(coef), 1e-300))
    intercept = mean_B - mean_A @ coef
    return Reference(coef, intercept, A64 @ coef + intercept, kept[0] / kept[-1], rho)


def rel_error(actual, reference, scale=None) -> float:
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    scale = np.linalg.norm(reference) if scale is None else scale
    return float(np.linalg.norm(actual - reference) / scale)


def fitted_rtol(ref: Reference, dtype, tol) -> float:
    return max(tol(dtype), 10 * float(np.finfo(dtype).eps) * ref.cond)


def coef_rtol(ref: Reference, dtype, tol) -> float:
    eps = float(np.finfo(dtype).eps)
    return max(tol(dtype), 10 * eps * ref.cond * (1 + ref.cond * ref.rho))


def fallbacks(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, SolverFallbackWarning)]


def direct_solver(solver: str, n: int, d: int, alpha: float, fit_intercept: bool) -> str:
    """The solver used when nothing falls back (``"auto"`` resolves without a warning)."""
    if solver != "auto":
        return solver
    return "svd" if alpha == 0 and n - int(fit_intercept) < d else "cholesky"


def test_the_table_has_no_singular_value_near_the_cut_off():
    """Fixture check: a singular value within 10x of the cut-off would make the rank ambiguous."""
    for case, dtype, fit_intercept in itertools.product(CASES, DTYPES, [False, True]):
        A, _ = problem(case, dtype)
        A = A.astype(np.float64)
        A = A - A.mean(axis=0) if fit_intercept else A
        s = np.linalg.svd(A, compute_uv=False)
        ratio = s / s[0] / (max(A.shape) * float(np.finfo(dtype).eps))
        ratio = ratio[ratio > 1e-3]  # exactly rank-deficient directions are far below
        assert not np.any((ratio > 0.1) & (ratio < 10)), (case.name, dtype, fit_intercept, ratio)


# -- 1. the table: every solver, intercept or not, ridge or not, float32 and float64 ---------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("alpha", [0.0, 0.5], ids=["alpha=0", "alpha=0.5"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["no-intercept", "intercept"])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_solver_is_finite_and_matches_the_reference(
    case, solver, fit_intercept, alpha, dtype, tol
):
    A, B = problem(case, dtype)
    A_orig, B_orig = A.copy(), B.copy()
    A.flags.writeable = B.flags.writeable = False  # an in-place write would raise
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = solve_least_squares(
            A, B, alpha=alpha, solver=solver, fit_intercept=fit_intercept
        )
    assert_array_equal(A, A_orig)
    assert_array_equal(B, B_orig)

    # Finite, of the input's dtype and shape.
    assert result.coef.dtype == dtype and result.intercept.dtype == dtype
    assert result.coef.shape == (A.shape[1], B.shape[1])
    assert np.isfinite(result.coef).all() and np.isfinite(result.intercept).all()

    # A fallback, and only a fallback, warns, once, with the condition estimate and the fix.
    messages = fallbacks(record)
    expected = direct_solver(solver, *A.shape, alpha, fit_intercept)
    if result.solver == expected:
        assert not messages, messages
    else:
        assert result.solver == "svd"
        assert len(messages) == 1 and re.search(FALLBACK, messages[0]), messages
    assert not [w for w in record if not issubclass(w.category, SolverFallbackWarning)]

    ref = reference(A, B, alpha=alpha, fit_intercept=fit_intercept, dtype=dtype)
    fitted = A.astype(np.float64) @ result.coef + result.intercept
    err = rel_error(fitted, ref.fitted, scale=np.linalg.norm(B.astype(np.float64)))
    assert err <= fitted_rtol(ref, dtype, tol), f"fitted values: {err:.3g}"
    if result.solver == "svd":  # the minimum-norm (or truncated ridge) coefficients themselves
        err = rel_error(result.coef, ref.coef)
        assert err <= coef_rtol(ref, dtype, tol), f"coefficients: {err:.3g}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_lstsq_on_the_table_is_finite_and_leaves_its_inputs_alone(case, solver, dtype, tol):
    """The public entry point, with 1-D targets and 2-D sample weights (one solve per column)."""
    A, B = problem(case, dtype)
    w = np.random.default_rng(1).uniform(0.5, 2.0, B.shape)
    inputs = [A, B, B[:, 0].copy(), w]
    copies = [x.copy() for x in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        W1 = lstsq(A, inputs[2], solver=solver)
        W2 = lstsq(A, B, solver=solver, sample_weight=w)
    for x, original in zip(inputs, copies, strict=True):
        assert_array_equal(x, original)
    assert W1.shape == (A.shape[1],) and W2.shape == (A.shape[1], 3)
    assert np.isfinite(W1).all() and np.isfinite(W2).all()
    ref = reference(A, B[:, :1], alpha=0.0, fit_intercept=False, dtype=dtype)
    err = rel_error(A.astype(np.float64) @ W1, ref.fitted[:, 0], np.linalg.norm(B[:, 0]))
    assert err <= fitted_rtol(ref, dtype, tol)


# -- 2. the fallback warning: its text and where it points --------------------------------------
@pytest.mark.parametrize("solver", ["auto", "cholesky"])
@pytest.mark.parametrize("case", ["duplicate-columns", "singular-gram", "large-means-duplicate"])
def test_fallback_warning_gives_the_condition_number_and_the_fix(case, solver):
    A, B = problem(CASES[CASE_IDS.index(case)], np.float64)
    with pytest.warns(SolverFallbackWarning, match=FALLBACK) as record:
        lstsq(A, B, solver=solver)
    (message,) = fallbacks(record)
    assert message.startswith(f"lstsq: solver={solver!r} could not be trusted")
    number = float(re.search(r"estimated condition number (\S+)", message).group(1))
    assert number > 1e14  # beyond what the normal equations resolve in float64
    assert "used solver='svd'" in message


def test_qr_fallback_warning_gives_the_condition_number():
    A, B = problem(CASES[0], np.float64)
    with pytest.warns(SolverFallbackWarning, match=r"A is rank deficient.*" + CONDITION):
        lstsq(A, B, solver="qr")


def test_fallback_warnings_point_at_the_caller():
    A, B = problem(CASES[0], np.float64)
    calls = [
        lambda: lstsq(A, B, solver="cholesky", sample_weight=np.ones(B.shape)),
        lambda: fit_layer(A, B, solver="cholesky"),
        lambda: fit_layer(A, np.abs(B), activation="relu"),  # the Gram-statistics path
        lambda: GramStats.from_data(A, B).solve(fit_intercept=True),
    ]
    for call in calls:
        with pytest.warns(SolverFallbackWarning) as record:
            call()
        assert {w.filename for w in record} == {__file__}


def _fixes(message: str) -> list[dict]:
    """The fixes a warning suggests, each as the keyword arguments it names: ``name='value'``
    as written, ``a positive name``/``a larger name`` as ``name=1.0``, ``float64 data`` as
    ``{"float64": True}`` (the data converted)."""
    advice = re.search(r"To avoid [^,]*?, pass (.*?); to silence it", message)
    assert advice is not None, message
    text = advice.group(1)
    fixes = [{name: value.strip("'")} for name, value in re.findall(r"(\w+)=('[^']*')", text)]
    ridges = re.findall(r"a (?:positive|larger) (\w+)(?= \(|,| or|$)", text)
    fixes += [{name: 1.0} for name in ridges]
    if "float64 data" in text:
        fixes.append({"float64": True})
    return fixes


def _duplicated(dtype):
    X, y = problem(CASES[0], dtype)
    return X, (y[:, 0] > np.median(y[:, 0])).astype(int)


def _advice_cases():
    """(owner the warning names, a call that warns, the same call with a fix applied)."""
    A, B = problem(CASES[0], np.float64)
    X32, y = _duplicated(np.float32)

    def estimator(X, y, batch_size=None, **params):
        def fit(float64=False, **fix):
            Xf = X.astype(np.float64) if float64 else X
            defaults = dict(hidden_layer_sizes=(8,), alpha=0.0, max_iter=2, random_state=0)
            clf = BPLSClassifier(batch_size=batch_size, **{**defaults, **params, **fix})
            return clf.fit(Xf, y)

        return fit

    def data(call, *arrays):
        return lambda float64=False, **fix: call(
            *(a.astype(np.float64) if float64 else a for a in arrays), **fix
        )

    def partial_fit(float64=False, **fix):
        est = BPLSRegressor(**{"hidden_layer_sizes": (), "alpha": 0.0, **fix})
        Af = A.astype(np.float64) if float64 else A
        return est.partial_fit(Af, B[:, 0])

    def backward_step(float64=False, **fix):
        # a hidden layer with more units than samples, its weights solved without ridge
        params = dict(hidden_layer_sizes=(40, 30), hidden_target="min_norm", alpha=0.0,
                      backprop_ridge=0.0, max_iter=2, random_state=0)
        return BPLSClassifier(**{**params, **fix}).fit(X32[:12], y[:12])

    return {
        "lstsq-cholesky": ("lstsq", data(lambda A, B, **fix: lstsq(
            A, B, **{"solver": "cholesky", **fix}), A, B)),
        "lstsq-qr-float32": ("lstsq", data(lambda A, B, **fix: lstsq(
            A, B, **{"solver": "qr", **fix}), A.astype(np.float32), B.astype(np.float32))),
        "fit_layer-relu": ("fit_layer", data(lambda A, B, **fix: fit_layer(
            A, np.abs(B), **{"activation": "relu", **fix}), A, B)),
        "GramStats.solve": ("GramStats.solve", data(
            lambda A, B, **fix: GramStats.from_data(A, B).solve(fit_intercept=True, **fix),
            A, B)),
        "BPLS-float32": ("BPLS", estimator(X32, y)),
        "BPLS-float64-qr": ("BPLS", estimator(X32.astype(np.float64), y, solver="qr")),
        "BPLS-batch_size": ("BPLS", estimator(X32, y, batch_size=50)),
        "partial_fit": ("BPLSRegressor.partial_fit", partial_fit),
        "backward-step": ("BPLS backward step", backward_step),
    }


@pytest.mark.parametrize("case", list(_advice_cases()))
def test_fallback_advice_is_accepted_by_the_api_it_names(case):
    """Every fix a fallback warning suggests (``solver=...``, a positive ridge parameter,
    ``dtype=...``, float64 data) is accepted by the function or estimator the warning names."""
    owner, call = _advice_cases()[case]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    messages = [str(w.message) for w in record if issubclass(w.category, SolverFallbackWarning)]
    messages = [m for m in messages if m.startswith(f"{owner}: ")]
    assert messages, f"no fallback warning of {owner}: {[str(w.message) for w in record]}"
    for message in messages:
        fixes = _fixes(message)
        assert fixes, message
        for fix in fixes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call(**fix)  # raises if the API refuses the value


def test_cholesky_condition_check_does_not_change_the_operation_count(rng):
    """The rank rule uses only maxima of computed values: the ledger is that of count_flops."""
    from lsqnet import _flops

    A = rng.standard_normal((30, 4)) + 100.0
    B = rng.standard_normal((30, 2))
    d = A.shape[1]
    with _flops.counting() as ledger:
        GramStats.from_data(A, B).factorize(0.5, fit_intercept=True)
    condest = 2 * d * d + lsqnet.solvers._factor.CONDEST_STEPS * (2 * d * d + 3 * d)
    assert dict(ledger.counts) == {
        "syrk": _flops.syrk(30, d),
        "gemm": _flops.gemm(1, 30, d) + _flops.gemm(d, 30, 2),
        "scale": 4 * 30 * 2,
        "center": d + 4 * d * d,
        "ridge": d,
        "condest": condest,
        "potrf": _flops.potrf(d),
    }
    assert ledger.exact


# -- 3. the Gram-statistics solvers --------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["no-intercept", "intercept"])
@pytest.mark.parametrize("solver", ["auto", "cholesky", "eigh"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gram_solve_is_finite(case, solver, fit_intercept, dtype):
    A, B = problem(case, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        result = GramStats.from_data(A, B).solve(solver=solver, fit_intercept=fit_intercept)
    assert result.coef.dtype == dtype
    assert np.isfinite(result.coef).all() and np.isfinite(result.intercept).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_gram_eigh_drops_the_centring_noise_of_large_means(dtype, tol):
    """Exactly duplicate columns of mean ~100: the centred Gram matrix's null direction is noise."""
    A, B = problem(CASES[CASE_IDS.index("large-means-duplicate")], dtype)
    factor = GramStats.from_data(A, B).factorize(solver="eigh", fit_intercept=True)
    assert factor.rank == A.shape[1] - 1
    if dtype == np.float64:  # float32 sums of ~1e4-sized squares keep ~3 digits after centring
        result = GramStats.from_data(A, B).solve(solver="eigh", fit_intercept=True)
        ref = reference(A, B, alpha=0.0, fit_intercept=True, dtype=dtype)
        assert rel_error(result.coef, ref.coef) <= tol(dtype)


def test_gram_eigh_rcond_one_keeps_the_largest_eigenvalue(make_problem, rng):
    """rcond=1 keeps the top direction, as lstsq(..., solver="svd", rcond=1.0) does."""
    A, B, _ = make_problem(30, 5, 2, [10, 5, 4, 2, 1e-3], np.float64, rng)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    expected = np.outer(Vt[0], U[:, 0] @ B) / s[0]
    result = GramStats.from_data(A, B).solve(solver="eigh", rcond=1.0)
    assert rel_error(result.coef, expected) <= 1e-12
    assert rel_error(lstsq(A, B, solver="svd", rcond=1.0), expected) <= 1e-12


@pytest.mark.parametrize("rcond", [0.0, -1.0, 1.5])
def test_gram_solve_rejects_bad_rcond(rcond, rng):
    stats = GramStats.from_data(rng.standard_normal((20, 3)), rng.standard_normal((20, 2)))
    with pytest.raises(ValueError, match=r"'rcond' parameter of GramStats.solve.*\(0, 1\]"):
        stats.solve(solver="eigh", rcond=rcond)


def test_cholesky_refuses_a_matrix_singular_up_to_centring_noise():
    A, B = problem(CASES[CASE_IDS.index("large-means-duplicate")], np.float64)
    stats = GramStats.from_data(A, B)
    with pytest.raises(NotPositiveDefiniteError, match=CONDITION) as info:
        stats.factorize(fit_intercept=True)
    assert 0.0 <= info.value.rcond < 1e-12


# -- 4. overflow: a clear error, never a non-finite result -----------------------------------------
def _overflowing(dtype=np.float32):
    """Tiny inputs and huge targets: the solution (~1e40) does not fit in float32."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((30, 3)) * 1e-21).astype(dtype)
    Y = (rng.uniform(1.0, 2.0, (30, 2)) * 1e19).astype(dtype)
    return X, Y


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own overflow notes
@pytest.mark.parametrize("solver", SOLVERS)
def test_lstsq_overflow_is_an_error(solver):
    X, Y = _overflowing()
    with pytest.raises(ValueError, match=r"overflow.*float32"):
        lstsq(X, Y, solver=solver)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
def test_gram_solve_overflow_is_an_error():
    X, Y = _overflowing()
    with pytest.raises(ValueError, match=r"GramStats.solve: the least-squares solution overflowed"):
        GramStats.from_data(X, Y).solve()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("refine", [0, 2])
def test_fit_layer_never_returns_non_finite_weights(solver, refine):
    """The one-sided ReLU problem goes through the Gram statistics, which do not check."""
    X, Y = _overflowing()
    with pytest.raises(LSQNetError, match=r"fit_layer: the fitted weights are not finite.*float32"):
        fit_layer(X, Y, activation="relu", solver=solver, refine=refine)
    with pytest.raises((ValueError, LSQNetError), match=r"overflow|not finite"):
        fit_layer(X, Y, solver=solver)  # identity: the data-based solvers check first


# -- 5. layers and estimators on the table ------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("activation", ["identity", "sigmoid", "relu"])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fit_layer_on_the_table_is_finite(case, solver, activation, dtype):
    A, B = problem(case, dtype)
    Y = {"identity": B, "sigmoid": expit(B - B.mean()), "relu": np.abs(B)}[activation]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        info = fit_layer(A, Y, activation=activation, solver=solver, return_info=True)
    assert info.layer.weight.dtype == dtype
    assert np.isfinite(info.layer.weight).all() and np.isfinite(info.layer.bias).all()
    assert np.isfinite(info.layer(A)).all() and np.isfinite(info.loss)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("target_eps", [1e-2, 1e-12])
@pytest.mark.parametrize("method", ["inverse", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 0.5], ids=["alpha=0", "alpha=0.5"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["no-intercept", "intercept"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_saturated_targets(solver, fit_intercept, alpha, method, target_eps, dtype, tol):
    """Every target at the clipping margin of a sigmoid (0s and 1s), on duplicate columns.

    The pre-activation targets are then about +-logit(1 - target_eps) (up to 27.6), and
    "weighted" weighs the samples by f'^2, down to 1e-24 (and, where 1 - 1e-12 rounds to 1 in
    float32, by 1e-24 and 3.6e-15 on the two sides).
    """
    A, _ = problem(CASES[0], dtype)
    Y = (np.random.default_rng(2).random((A.shape[0], 2)) < 0.5).astype(dtype)
    Y[:2] = [[0, 1], [1, 0]]  # both bounds in both columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        info = fit_layer(
            A, Y, activation="sigmoid", method=method, solver=solver, alpha=alpha,
            fit_intercept=fit_intercept, target_eps=target_eps, return_info=True,
        )
    W, b = info.layer.weight, info.layer.bias
    assert info.n_clipped == Y.size
    assert np.isfinite(W).all() and np.isfinite(b).all()
    # The reference solves for the targets lsqnet's clipping produced (its rule for a margin
    # that rounds onto the bound is tested in test_activations.py), one column at a time.
    clipped = ACTIVATIONS["sigmoid"].clip(Y, target_eps)[0].astype(np.float64)
    assert clipped.min() > 0 and clipped.max() < 1
    Z = logit(clipped)
    weights = (clipped * (1 - clipped)) ** 2 if method == "weighted" else np.ones_like(Z)
    for j in range(Y.shape[1]):
        ref = reference(
            A, Z[:, j : j + 1], alpha=alpha, fit_intercept=fit_intercept, dtype=dtype,
            sample_weight=weights[:, j],
        )
        root = np.sqrt(weights[:, j])
        fitted = A.astype(np.float64) @ W[:, j] + b[j]
        # Compared in the weighted norm the problem is posed in.
        err = rel_error(root * fitted, root * ref.fitted[:, 0], np.linalg.norm(root * Z[:, j]))
        assert err <= fitted_rtol(ref, dtype, tol), f"column {j}: {err:.3g}"


@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize("dtype", ["float32", None])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_estimators_on_the_table_hold_finite_weights(case, alpha, dtype):
    A, B = problem(case, np.float64)
    labels = (B[:, 0] > np.median(B[:, 0])).astype(int)
    for est, y in [
        (BPLSRegressor(hidden_layer_sizes=(6,), alpha=alpha, dtype=dtype, random_state=0), B),
        (BPLSClassifier(hidden_layer_sizes=(6,), alpha=alpha, dtype=dtype, random_state=0), labels),
    ]:
        est.set_params(max_iter=3).fit(A, y)
        for array in est.coefs_ + est.intercepts_:
            assert np.isfinite(array).all()
        assert np.isfinite(est.predict(A)).all()
