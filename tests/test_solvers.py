"""Tests for lsqnet.solvers: every solver against independent references, and the invariants.

References are independent of lsqnet: ``numpy.linalg.lstsq``, ``numpy.linalg.pinv`` and
scikit-learn's ``Ridge`` (with its ``"svd"`` solver, so that no reference goes through the
normal equations that lsqnet's Cholesky path uses). Errors are measured as
``||actual - reference|| / ||reference||``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import Ridge

import lsqnet
from lsqnet import GramStats, lstsq
from lsqnet.exceptions import SolverFallbackWarning
from lsqnet.solvers import _gram, solve_least_squares
from lsqnet.solvers._gram import symmetrize_

SOLVERS = lsqnet.SOLVERS
EPS = np.finfo(np.float64).eps
PROPERTY = settings(max_examples=40, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)
ALPHAS = st.sampled_from([0.0, 0.1, 1.0, 10.0])


# -- references and comparison ------------------------------------------------------------------
def rel_error(actual, reference) -> float:
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    return float(np.linalg.norm(actual - reference) / np.linalg.norm(reference))


def assert_rel_close(actual, reference, rtol: float) -> None:
    """``||actual - reference|| <= rtol * ||reference||``, shapes equal."""
    assert np.shape(actual) == np.shape(reference)
    err = rel_error(actual, reference)
    assert err <= rtol, f"relative error {err:.3g} > {rtol:.3g}"


def pinv_solve(A, B):
    """The minimum-norm least-squares solution ``pinv(A) @ B``, in float64.

    The cut-off is ``max(n, d) * eps``, the default of numpy.linalg.lstsq and of lsqnet; the
    default of numpy.linalg.pinv (a fixed 1e-15) would keep the rounding noise of
    rank-deficient matrices.
    """
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    return np.linalg.pinv(A, rcond=max(A.shape) * EPS) @ B


def ridge(A, B, alpha, *, sample_weight=None, fit_intercept=False):
    """scikit-learn Ridge's (coef (d,) or (d, k), intercept) for ``lstsq``-shaped results."""
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    model = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="svd")
    model.fit(A, B, sample_weight=sample_weight)
    # Ridge ravels a single target given as (n, 1); keep lstsq's shapes.
    coef = model.coef_.T.reshape((A.shape[1],) + B.shape[1:])
    return coef, np.zeros(B.shape[1:]) + model.intercept_


def centred_min_norm(A, B):
    """(coef, intercept) of the minimum-norm solution of the centred problem."""
    mean_A, mean_B = A.mean(axis=0), B.mean(axis=0)
    coef = pinv_solve(A - mean_A, B - mean_B)
    return coef, mean_B - mean_A @ coef


def duplicate_column_problem(rng, n=30, d=5, k=3, offset=0.0):
    """Well-conditioned ``A`` (n, d) with its first column appended again: rank d of d + 1."""
    A = rng.standard_normal((n, d)) + offset
    return np.hstack([A, A[:, :1]]), rng.standard_normal((n, k))


def fallbacks(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, SolverFallbackWarning)]


@st.composite
def tall_problems(draw, max_d=6, max_k=3):
    """Gaussian ``A`` with n >= 2d + 2 (condition number below ~6), ``B`` (n, k), and the rng."""
    rng = np.random.default_rng(draw(SEEDS))
    d = draw(st.integers(1, max_d))
    k = draw(st.integers(1, max_k))
    n = draw(st.integers(2 * d + 2, 2 * d + 25))
    return rng.standard_normal((n, d)), rng.standard_normal((n, k)), rng


def test_make_problem_has_the_chosen_spectrum_and_known_solution(make_problem, rng):
    s = [8.0, 4.0, 2.0, 1.0, 0.0]
    A, B, coef = make_problem(40, 5, 3, s, np.float64, rng)
    assert_allclose(np.linalg.svd(A, compute_uv=False), s, atol=1e-12)
    assert_rel_close(coef, pinv_solve(A, B), 1e-12)
    assert np.linalg.norm(B - A @ coef) > 1  # a true least-squares problem, not a linear system


# -- 1. every solver in the registry matches numpy.linalg.lstsq -----------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n, d", [(6, 5), (40, 7), (300, 20)])
@pytest.mark.parametrize("k", [None, 1, 4])
def test_every_solver_matches_numpy_lstsq(solver, n, d, k, make_problem, rng, tol):
    A, B, _ = make_problem(n, d, k, rng=rng)
    reference = np.linalg.lstsq(A, B, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # well conditioned: no fallback, no other warning
        W = lstsq(A, B, solver=solver)
    assert W.dtype == np.float64 and W.shape == reference.shape  # 1-D B gives a 1-D result
    assert_rel_close(W, reference, tol(np.float64))


# -- 2. ridge and sample weights match scikit-learn's Ridge -------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n, d", [(40, 7), (6, 15)])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("alpha", [0.1, 3.0])
def test_every_solver_matches_ridge(solver, n, d, k, alpha, make_problem, rng, tol):
    A, B, _ = make_problem(n, d, k, rng=rng)
    W = lstsq(A, B, alpha=alpha, solver=solver)
    assert_rel_close(W, ridge(A, B, alpha)[0], tol(np.float64))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_every_solver_matches_weighted_ridge(solver, k, alpha, make_problem, rng, tol):
    A, B, _ = make_problem(50, 6, k, rng=rng)
    w = rng.uniform(0.1, 3.0, 50)
    w[[3, 17]] = 0.0
    W = lstsq(A, B, alpha=alpha, solver=solver, sample_weight=w)
    assert_rel_close(W, ridge(A, B, alpha, sample_weight=w)[0], tol(np.float64))


# -- 3. rank-deficient problems: the minimum-norm solution, with a warning when it fell back ----
def rank_deficient(name, rng, make_problem, k):
    if name == "duplicate columns":
        A, B = duplicate_column_problem(rng, k=k or 1)
        return A, (B[:, 0] if k is None else B)
    if name == "zero singular values":
        return make_problem(40, 8, k, [5, 4, 3, 2, 1, 1, 0, 0], np.float64, rng)[:2]
    return make_problem(5, 12, k, rng=rng)[:2]  # wide: n < d


RANK_DEFICIENT = ["duplicate columns", "zero singular values", "wide"]


@pytest.mark.parametrize("problem", RANK_DEFICIENT)
@pytest.mark.parametrize("k", [None, 2])
def test_svd_gives_the_pseudo_inverse_solution(problem, k, make_problem, rng, tol):
    A, B = rank_deficient(problem, rng, make_problem, k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        W = lstsq(A, B, solver="svd")
    assert_rel_close(W, pinv_solve(A, B), tol(np.float64))


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr"])
@pytest.mark.parametrize("problem", RANK_DEFICIENT)
@pytest.mark.parametrize("k", [None, 2])
def test_other_solvers_fall_back_to_the_minimum_norm_solution(
    solver, problem, k, make_problem, rng, tol
):
    A, B = rank_deficient(problem, rng, make_problem, k)
    if solver == "auto" and problem == "wide":
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # n < d with alpha == 0: "svd" directly, no warning
            W = lstsq(A, B, solver=solver)
    else:
        with pytest.warns(SolverFallbackWarning, match=r"used solver='svd'") as record:
            W = lstsq(A, B, solver=solver)
        assert len(fallbacks(record)) == 1
        assert "filterwarnings" in fallbacks(record)[0]  # says how to silence it
    assert_rel_close(W, pinv_solve(A, B), tol(np.float64))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"solver": "cholesky"},
        {"solver": "qr"},
        {"solver": "cholesky", "sample_weight": np.ones((30, 2))},
    ],
)
def test_fallback_warning_points_at_the_caller(kwargs, rng):
    A, B = duplicate_column_problem(rng, k=2)
    with pytest.warns(SolverFallbackWarning) as record:
        lstsq(A, B, **kwargs)
    assert {w.filename for w in record} == {__file__}


def test_qr_detects_duplicate_columns_in_every_draw():
    missed = {}
    for seed in range(200):
        A, B = duplicate_column_problem(np.random.default_rng(seed), n=400, k=2)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            W = lstsq(A, B, solver="qr")
        if not fallbacks(record) or rel_error(W, pinv_solve(A, B)) > 1e-8:
            missed[seed] = float(np.abs(W).max())
    assert not missed, f"seed: max |W| with no fallback: {missed}"


# -- 4. dtypes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "dtype_A, dtype_B, expected",
    [
        (np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64),
        (np.int64, np.int64, np.float64),
        (np.int32, np.float32, np.float64),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
        (np.bool_, np.float32, np.float64),
    ],
)
def test_result_dtype(solver, dtype_A, dtype_B, expected, rng):
    A = rng.integers(0, 2 if dtype_A is np.bool_ else 9, (20, 3)).astype(dtype_A)
    A[:3] = np.eye(3, dtype=dtype_A)  # full column rank
    B = rng.integers(-9, 9, (20, 2)).astype(dtype_B)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        assert lstsq(A, B, solver=solver).dtype == expected
        assert lstsq(A.tolist(), B[:, 0].tolist(), solver=solver).dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
def test_float64_weights_keep_a_float32_result(solver, make_problem, rng):
    A, B, _ = make_problem(30, 4, 2, dtype=np.float32, rng=rng)
    assert lstsq(A, B, solver=solver, sample_weight=np.ones(30)).dtype == np.float32


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_float32_agrees_with_the_float64_reference(solver, alpha, weighted, make_problem, rng, tol):
    A, B, _ = make_problem(200, 12, 3, dtype=np.float32, rng=rng)
    w = rng.uniform(0.5, 2.0, 200).astype(np.float32) if weighted else None
    W = lstsq(A, B, alpha=alpha, solver=solver, sample_weight=w)
    assert W.dtype == np.float32
    # The reference solves the float32 data exactly (in float64), so only lsqnet's float32
    # arithmetic is measured.
    assert_rel_close(W, ridge(A, B, alpha, sample_weight=w)[0], tol(np.float32))


# -- 5. inputs are never modified ---------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "case", ["plain", "weighted", "2-D weights", "ridge", "duplicate columns", "wide", "float32"]
)
@pytest.mark.parametrize("writeable", [True, False])
def test_inputs_are_not_modified(solver, case, writeable, make_problem, rng):
    n, d = (5, 12) if case == "wide" else (30, 6)
    A, B, _ = make_problem(n, d, 3, dtype=np.float32 if case == "float32" else np.float64, rng=rng)
    if case == "duplicate columns":
        A[:, -1] = A[:, 0]
    w = None
    if case in ("weighted", "float32", "duplicate columns"):
        w = rng.uniform(0.0, 2.0, n)
    elif case == "2-D weights":
        w = rng.uniform(0.0, 2.0, (n, 3))
    alpha = 0.7 if case == "ridge" else 0.0
    inputs = [x for x in (A, B, w) if x is not None]
    copies = [x.copy() for x in inputs]
    for x in inputs:
        x.flags.writeable = writeable  # read-only inputs (e.g. memory maps) must work as well
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        W = lstsq(A, B, alpha=alpha, solver=solver, sample_weight=w)
    for x, original in zip(inputs, copies, strict=True):
        assert x.dtype == original.dtype
        assert_array_equal(x, original)
    assert not any(np.shares_memory(W, x) for x in inputs)


# -- 6. stacking invariants ---------------------------------------------------------------------
@PROPERTY
@given(problem=tall_problems(), alpha=ALPHAS, solver=st.sampled_from(SOLVERS))
def test_stacked_copies_with_doubled_alpha(problem, alpha, solver, tol):
    A, B, _ = problem
    stacked = lstsq(np.vstack([A, A]), np.vstack([B, B]), alpha=2 * alpha, solver=solver)
    assert_rel_close(stacked, lstsq(A, B, alpha=alpha, solver=solver), tol(np.float64))


@PROPERTY
@given(problem=tall_problems(), alpha=ALPHAS, solver=st.sampled_from(SOLVERS))
def test_integer_weights_repeat_rows(problem, alpha, solver, tol):
    A, B, rng = problem
    d = A.shape[1]
    w = rng.integers(0, 4, A.shape[0])
    w[: 2 * d + 2] = np.maximum(w[: 2 * d + 2], 1)  # enough distinct rows for a unique solution
    weighted = lstsq(A, B, alpha=alpha, solver=solver, sample_weight=w)
    repeated = lstsq(np.repeat(A, w, axis=0), np.repeat(B, w, axis=0), alpha=alpha, solver=solver)
    assert_rel_close(weighted, repeated, tol(np.float64))


@PROPERTY
@given(problem=tall_problems(max_k=4), alpha=ALPHAS, solver=st.sampled_from(SOLVERS))
def test_2d_weights_solve_each_column_with_its_own_weights(problem, alpha, solver, tol):
    A, B, rng = problem
    n, d = A.shape
    w = rng.uniform(0.0, 2.0, (n, B.shape[1]))
    w[2 * d + 2 :][rng.random((n - 2 * d - 2, B.shape[1])) < 0.3] = 0.0
    W = lstsq(A, B, alpha=alpha, solver=solver, sample_weight=w)
    for j in range(B.shape[1]):
        column = lstsq(A, B[:, j], alpha=alpha, solver=solver, sample_weight=w[:, j])
        assert_rel_close(W[:, j], column, tol(np.float64))


@PROPERTY
@given(
    problem=tall_problems(),
    alpha=ALPHAS,
    solver=st.sampled_from(SOLVERS),
    fit_intercept=st.booleans(),
)
def test_zero_weight_rows_are_removed_rows(problem, alpha, solver, fit_intercept, tol):
    A, B, rng = problem
    n, d = A.shape
    w = rng.uniform(0.5, 2.0, n)
    w[2 * d + 2 :][rng.random(n - 2 * d - 2) < 0.4] = 0.0
    keep = w > 0
    kwargs = {"alpha": alpha, "solver": solver, "fit_intercept": fit_intercept}
    with_zeros = solve_least_squares(A, B, sample_weight=w, **kwargs)
    removed = solve_least_squares(A[keep], B[keep], sample_weight=w[keep], **kwargs)
    assert_rel_close(with_zeros.coef, removed.coef, tol(np.float64))
    assert_allclose(with_zeros.intercept, removed.intercept, rtol=1e-8, atol=1e-10)


# -- 7. GramStats -------------------------------------------------------------------------------
def chunked(A, B, w, cuts):
    """``GramStats.from_data(A1, B1).update(A2, B2)...`` over the chunks between ``cuts``."""
    parts = np.split(np.arange(A.shape[0]), cuts)
    weights = [None if w is None else w[p] for p in parts]
    stats = GramStats.from_data(A[parts[0]], B[parts[0]], weights[0])
    for p, wp in zip(parts[1:], weights[1:], strict=True):
        stats = stats.update(A[p], B[p], wp)
    return stats


#: Problems cut into chunks (by ``data``), with or without weights and intercept.
CHUNKED_CASES = given(
    problem=tall_problems(),
    data=st.data(),
    alpha=ALPHAS,
    weighted=st.booleans(),
    fit_intercept=st.booleans(),
)


@PROPERTY
@CHUNKED_CASES
def test_gram_chunking_invariance(problem, data, alpha, weighted, fit_intercept):
    A, B, rng = problem
    n = A.shape[0]
    A = A + rng.standard_normal(A.shape[1])  # non-zero means, so that the intercept matters
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=6), label="cuts"))
    w = rng.uniform(0.0, 2.0, n) if weighted else None
    one_shot = GramStats.from_data(A, B, w).solve(alpha, fit_intercept=fit_intercept)
    streamed = chunked(A, B, w, cuts).solve(alpha, fit_intercept=fit_intercept)
    assert streamed.solver == one_shot.solver == "cholesky"
    assert_rel_close(streamed.coef, one_shot.coef, 1e-10)
    assert_allclose(streamed.intercept, one_shot.intercept, rtol=1e-10, atol=1e-12)


@PROPERTY
@CHUNKED_CASES
def test_gram_sums_around_shifts_solve_the_same_problem(
    problem, data, alpha, weighted, fit_intercept
):
    """Statistics around shifts (each chunk its own, added in any order, and with new
    targets) give the plain statistics' solution, intercept and raw sums (float64, 1e-10)."""
    A, B, rng = problem
    n, d = A.shape
    A = A + 10 * rng.standard_normal(d)  # means large against the spread
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=4), label="cuts"))
    w = rng.uniform(0.0, 2.0, n) if weighted else None
    plain = GramStats.from_data(A, B, w)
    shifted = None
    for p in np.split(np.arange(n), cuts):
        wp = None if w is None else w[p]
        part = GramStats.from_data(A[p], B[p], wp, shift=A[p].mean(axis=0))
        shifted = part if shifted is None else shifted + part
    assert shifted.shift is not None
    want = plain.solve(alpha, fit_intercept=fit_intercept)
    got = shifted.solve(alpha, fit_intercept=fit_intercept)
    assert got.solver == want.solver == "cholesky"
    assert_rel_close(got.coef, want.coef, 1e-10)
    assert_allclose(got.intercept, want.intercept, rtol=1e-10, atol=1e-10)
    for a, b in zip(_fields(shifted.shifted(None)), _fields(plain), strict=True):
        assert_allclose(a, b, rtol=1e-10, atol=1e-8 * max(1.0, float(np.abs(plain.AtA).max())))
    B2 = rng.standard_normal(B.shape)
    again = shifted.with_targets(A, B2, w).solve(alpha, fit_intercept=fit_intercept)
    assert_rel_close(again.coef, GramStats.from_data(A, B2, w).solve(
        alpha, fit_intercept=fit_intercept).coef, 1e-10)
    assert (plain + shifted).shift is None  # the second operand takes the first one's shift
    assert_rel_close((plain + shifted).solve(alpha, fit_intercept=fit_intercept).coef,
                     (plain + plain).solve(alpha, fit_intercept=fit_intercept).coef, 1e-10)


def test_gram_around_a_shift_in_place(rng):
    """overwrite_a=True computes in A itself (left shifted) and gives the same sums."""
    A = 5.0 + rng.standard_normal((30000, 6))  # more rows than one block of the copying path
    B = rng.standard_normal((30000, 2))
    shift = A.mean(axis=0)
    copied = GramStats.from_data(A, B, shift=shift)
    work = A.copy()
    in_place = GramStats.from_data(work, B, shift=shift, overwrite_a=True)
    assert_allclose(work, A - shift)
    for a, b in zip(_fields(in_place), _fields(copied), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    assert_array_equal(in_place.shift, copied.shift)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
def test_gram_in_another_dtype_is_summed_in_blocks(rng, monkeypatch, weighted, shifted):
    """from_data(dtype=float64) of float32 data, block by block (7 rows here), equals the
    statistics of the data converted first; with a shift, of the data converted then
    shifted."""
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 7)
    A = (3.0 + rng.standard_normal((40, 5))).astype(np.float32)
    B = rng.standard_normal((40, 2)).astype(np.float32)
    w = rng.uniform(0.0, 2.0, 40).astype(np.float32) if weighted else None
    shift = A.mean(axis=0, dtype=np.float64) if shifted else None
    got = GramStats.from_data(A, B, w, shift=shift, dtype=np.float64)
    want = GramStats.from_data(
        A.astype(np.float64), B.astype(np.float64), None if w is None else w.astype(np.float64),
        shift=shift,
    )
    assert got.dtype == np.float64
    for a, b in zip(_fields(got), _fields(want), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert (got.shift is None) == (not shifted)
    same = GramStats.from_data(A, B, w, dtype=np.float32)  # the data's own dtype: one product
    for a, b in zip(_fields(same), _fields(GramStats.from_data(A, B, w)), strict=True):
        assert_array_equal(a, b)


def test_float32_sums_around_the_means_keep_the_centred_gram_accurate(rng):
    """Columns with means 300 times their spread: plain float32 sums lose the centred Gram
    matrix to rounding (the Cholesky check rejects it); sums around the means keep it to
    float32 precision."""
    A = (300.0 + rng.random((20000, 10))).astype(np.float32)
    B = rng.random((20000, 2)).astype(np.float32)
    exact = np.cov(A.astype(np.float64), rowvar=False, bias=True) * A.shape[0]
    shift = A.mean(axis=0, dtype=np.float64)
    plain = GramStats.from_data(A, B).centered_AtA()
    around = GramStats.from_data(A, B, shift=shift).centered_AtA()
    assert around.dtype == np.float32
    assert np.abs(around - exact).max() < 1e-4 * np.abs(exact).max()
    assert np.abs(plain - exact).max() > 1e-2 * np.abs(exact).max()


def _fields(stats):
    return [
        stats.AtA,
        stats.AtB,
        stats.sum_A,
        stats.sum_B,
        stats.sum_BB,
        stats.sum_w,
        stats.n_samples,
    ]


def _stats_triple(rng, d=4, k=2):
    return [
        GramStats.from_data(rng.standard_normal((m, d)), rng.standard_normal((m, k)), w)
        for m, w in [(7, None), (11, rng.uniform(0, 2, 11)), (3, None)]
    ]


def test_gram_addition_is_commutative_and_associative(rng):
    s1, s2, s3 = _stats_triple(rng)
    for a, b in zip(_fields(s1 + s2), _fields(s2 + s1), strict=True):
        assert_array_equal(a, b)  # IEEE addition is commutative: exactly equal
    for a, b in zip(_fields((s1 + s2) + s3), _fields(s1 + (s2 + s3)), strict=True):
        assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    for a, b in zip(_fields(s1.merge(s2)), _fields(s1 + s2), strict=True):
        assert_array_equal(a, b)
    assert (s1 + s2 + s3).n_samples == 21


def test_gram_zeros_is_neutral(rng):
    (s, *_) = _stats_triple(rng)
    zero = GramStats.zeros(4, 2)
    for combined in (zero + s, s + zero):
        for a, b in zip(_fields(combined), _fields(s), strict=True):
            assert_array_equal(a, b)
        assert_array_equal(combined.solve(0.5).coef, s.solve(0.5).coef)


@pytest.mark.parametrize("shapes", [((3, 2), (4, 2)), ((3, 2), (3, 1)), ((5, 1), (2, 3))])
def test_adding_gram_stats_of_different_shapes_names_both(shapes):
    (d1, k1), (d2, k2) = shapes
    match = f"{d1} features and {k1} targets.*{d2} features and {k2} targets"
    with pytest.raises(ValueError, match=match):
        GramStats.zeros(d1, k1) + GramStats.zeros(d2, k2)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 5.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_solve_with_intercept_matches_ridge(alpha, weighted, rng, tol):
    A = rng.standard_normal((60, 7)) * rng.uniform(0.5, 2, 7) + rng.uniform(-3, 3, 7)
    B = rng.standard_normal((60, 3)) + 5.0
    w = rng.uniform(0.0, 2.0, 60) if weighted else None
    result = GramStats.from_data(A, B, w).solve(alpha, fit_intercept=True)
    coef, intercept = ridge(A, B, alpha, sample_weight=w, fit_intercept=True)
    assert_rel_close(result.coef, coef, tol(np.float64))
    assert_rel_close(result.intercept, intercept, tol(np.float64))


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gram_eigh_gives_the_minimum_norm_solution(fit_intercept, rng, tol):
    A, B = duplicate_column_problem(rng, n=40, offset=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "eigh" asked for: no fallback warning
        result = GramStats.from_data(A, B).solve(solver="eigh", fit_intercept=fit_intercept)
    assert result.solver == "eigh"
    if fit_intercept:
        coef, intercept = centred_min_norm(A, B)
        assert_rel_close(result.intercept, intercept, tol(np.float64))
    else:
        coef = pinv_solve(A, B)
        assert_array_equal(result.intercept, 0.0)
    assert_rel_close(result.coef, coef, tol(np.float64))


def test_gram_auto_falls_back_to_eigh_with_a_warning(rng, tol):
    A, B = duplicate_column_problem(rng, n=40, offset=2.0)
    with pytest.warns(SolverFallbackWarning, match=r"used solver='eigh'"):
        result = GramStats.from_data(A, B).solve(fit_intercept=True)
    assert result.solver == "eigh"
    assert_rel_close(result.coef, centred_min_norm(A, B)[0], tol(np.float64))


def test_gram_eigh_minimum_norm_with_intercept_for_every_draw(make_problem):
    wrong = {}
    for seed in range(40):
        rng = np.random.default_rng(seed)
        A, B, _ = make_problem(60, 8, 3, [3, 2, 1.5, 1, 1, 0.5, 0, 0], np.float64, rng)
        A = A + rng.standard_normal(8)  # rank 6 after centring
        result = GramStats.from_data(A, B).solve(solver="eigh", fit_intercept=True)
        err = rel_error(result.coef, centred_min_norm(A, B)[0])
        if err > 1e-8:
            wrong[seed] = err
    assert not wrong, f"seed: relative error of coef: {wrong}"


@pytest.mark.parametrize("alpha", [0.0, 2.0])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gram_factorization_is_reused_for_several_targets(alpha, fit_intercept, rng, tol):
    A = rng.standard_normal((50, 6)) + 1.0
    targets = [
        rng.standard_normal((50, 3)),
        rng.standard_normal((50, 1)),
        rng.standard_normal((50, 5)),
    ]
    factor = GramStats.from_data(A, targets[0]).factorize(alpha, fit_intercept=fit_intercept)
    assert (factor.solver, factor.rank) == ("cholesky", 6)
    for B in targets:
        result = GramStats.from_data(A, B).solve_with(factor, fit_intercept=fit_intercept)
        coef, intercept = ridge(A, B, alpha, fit_intercept=fit_intercept)
        assert_rel_close(result.coef, coef, tol(np.float64))
        if fit_intercept:
            assert_rel_close(result.intercept, intercept, tol(np.float64))


@pytest.mark.parametrize("solver", ["svd", "qr", "lu"])
def test_gram_solve_rejects_solvers_it_does_not_have(solver, rng):
    stats = GramStats.from_data(rng.standard_normal((20, 3)), rng.standard_normal((20, 2)))
    with pytest.raises(ValueError, match=r"'solver' parameter.*'cholesky'"):
        stats.solve(solver=solver)


@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize("alpha", [-1.0, float("nan")])
def test_gram_solve_rejects_bad_alpha(alpha, rng):
    stats = GramStats.from_data(rng.standard_normal((20, 3)), rng.standard_normal((20, 2)))
    with pytest.raises(ValueError, match=r"'alpha' parameter"):
        stats.solve(alpha)


# -- 8. solve_least_squares with an intercept matches Ridge ---------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("alpha", [0.0, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_solve_least_squares_with_intercept_matches_ridge(solver, alpha, weighted, rng, tol):
    A = rng.standard_normal((60, 7)) + rng.uniform(-3, 3, 7)
    B = rng.standard_normal((60, 3)) - 2.0
    w = rng.uniform(0.0, 2.0, 60) if weighted else None
    result = solve_least_squares(
        A, B, sample_weight=w, alpha=alpha, solver=solver, fit_intercept=True
    )
    coef, intercept = ridge(A, B, alpha, sample_weight=w, fit_intercept=True)
    assert result.solver == ("cholesky" if solver == "auto" else solver)
    assert_rel_close(result.coef, coef, tol(np.float64))
    assert_rel_close(result.intercept, intercept, tol(np.float64))


@pytest.mark.parametrize("solver", ["auto", "cholesky"])
def test_intercept_fit_of_rank_deficient_data_is_minimum_norm_for_every_draw(solver, make_problem):
    wrong = {}
    for seed in range(300):
        rng = np.random.default_rng(seed)
        A, B, _ = make_problem(60, 8, 3, [3, 2, 1.5, 1, 1, 0.5, 0, 0], np.float64, rng)
        A = A + rng.standard_normal(8)  # rank 6 after centring
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SolverFallbackWarning)
            result = solve_least_squares(A, B, solver=solver, fit_intercept=True)
        err = rel_error(result.coef, centred_min_norm(A, B)[0])
        if err > 1e-8:
            wrong[seed] = (result.solver, err)
    assert not wrong, f"seed: (solver used, relative error of coef): {wrong}"


# -- 9. random shapes -----------------------------------------------------------------------------
@st.composite
def random_problems(draw):
    rng = np.random.default_rng(draw(SEEDS))
    n, d, k = draw(st.integers(1, 40)), draw(st.integers(1, 15)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    A = rng.standard_normal((n, d))
    B = rng.standard_normal(n) if draw(st.booleans()) else rng.standard_normal((n, k))
    return A.astype(dtype), B.astype(dtype), rng


@settings(max_examples=80, deadline=None)
@given(problem=random_problems())
def test_svd_is_the_pseudo_inverse_on_random_shapes(problem, tol):
    A, B, _ = problem
    s = np.linalg.svd(A.astype(np.float64), compute_uv=False)
    cond = s[0] / s[-1]
    assume(cond <= 100)
    W = lstsq(A, B, solver="svd")
    assert W.dtype == A.dtype
    assert_rel_close(W, pinv_solve(A, B), tol(A.dtype) * cond)


@settings(max_examples=80, deadline=None)
@given(
    problem=random_problems(),
    structure=st.sampled_from(["gaussian", "zeros", "rank one", "duplicate rows", "integers"]),
    alpha=st.sampled_from([0.0, 1e-3, 1.0]),
    solver=st.sampled_from(SOLVERS),
)
def test_every_solver_returns_finite_results_of_the_right_shape(problem, structure, alpha, solver):
    A, B, rng = problem
    n, d = A.shape
    if structure == "zeros":
        A = np.zeros_like(A)
    elif structure == "rank one":
        A = np.outer(rng.standard_normal(n), rng.standard_normal(d)).astype(A.dtype)
    elif structure == "duplicate rows":
        A = np.repeat(A[:1], n, axis=0)
    elif structure == "integers":
        A = rng.integers(-2, 3, (n, d)).astype(A.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        W = lstsq(A, B, alpha=alpha, solver=solver)
    assert W.shape == (d,) + B.shape[1:]
    assert W.dtype == A.dtype
    assert np.isfinite(W).all()


# -- 10. bad input --------------------------------------------------------------------------------
def _with(array, index, value):
    array = np.array(array, dtype=float)
    array[index] = value
    return array


A0 = np.arange(15.0).reshape(5, 3) % 4 + np.eye(5, 3)
B0 = np.arange(5.0)


# lsqnet's Cholesky path lets numpy warn (invalid value / overflow in matmul) before raising
# its own, clearer error; those RuntimeWarnings are not what these tests are about.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"A": _with(A0, (2, 1), np.nan)}, r"Input A contains NaN"),
        ({"A": _with(A0, (0, 0), np.inf)}, r"Input A contains infinity"),
        ({"A": _with(A0, (4, 2), -np.inf)}, r"Input A contains infinity"),
        (
            {"A": _with(A0, (1, 1), np.nan), "sample_weight": _with(np.ones(5), 1, 0)},
            r"Input A contains NaN",
        ),
        ({"B": _with(B0, 3, np.nan)}, r"Input B contains NaN"),
        ({"B": _with(B0, 0, np.inf)}, r"Input B contains infinity"),
        ({"sample_weight": _with(np.ones(5), 2, np.nan)}, r"Input sample_weight contains NaN"),
        ({"sample_weight": _with(np.ones(5), 2, np.inf)}, r"Input sample_weight contains infinity"),
    ],
)
def test_non_finite_input_is_rejected_by_every_solver(solver, kwargs, match):
    args = {"A": A0, "B": B0} | kwargs
    with pytest.raises(ValueError, match=match):
        lstsq(solver=solver, **args)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"B": np.arange(4.0)}, ValueError, r"inconsistent numbers of samples: A has 5, B has 4"),
        ({"A": np.zeros((0, 3)), "B": np.zeros(0)}, ValueError, r"Input A is empty"),
        ({"A": np.zeros((5, 0))}, ValueError, r"Input A is empty"),
        ({"B": np.zeros((5, 0))}, ValueError, r"Input B is empty"),
        ({"A": np.zeros((5, 3, 1))}, ValueError, r"Input A must be a 2-D array; got 3-D"),
        ({"A": np.arange(5.0)}, ValueError, r"Input A must be a 2-D array; got 1-D"),
        ({"B": np.zeros((5, 1, 1))}, ValueError, r"Input B must be a 1-D or 2-D array; got 3-D"),
        ({"A": A0.astype(object)}, TypeError, r"Input A must hold real numbers.*object"),
        ({"A": A0.astype(str)}, TypeError, r"Input A must hold real numbers"),
        ({"A": [["a", "b", "c"]] * 5}, TypeError, r"Input A must hold real numbers"),
        ({"A": A0 + 1j}, TypeError, r"Input A must hold real numbers.*complex"),
        ({"B": B0.astype(object)}, TypeError, r"Input B must hold real numbers"),
        ({"B": B0.astype(str)}, TypeError, r"Input B must hold real numbers"),
        ({"A": None}, TypeError, r"Input A must be an array"),
        (
            {"alpha": -1},
            ValueError,
            r"^The 'alpha' parameter of lstsq must be a float in \[0, inf\)\. Got -1 instead\.$",
        ),
        ({"alpha": -1e-12}, ValueError, r"'alpha' parameter of lstsq .*Got -1e-12 instead"),
        ({"alpha": float("nan")}, ValueError, r"'alpha' parameter of lstsq .*Got nan instead"),
        ({"alpha": float("inf")}, ValueError, r"'alpha' parameter of lstsq .*Got inf instead"),
        ({"alpha": "1.0"}, TypeError, r"'alpha' parameter of lstsq .*Got '1\.0' instead"),
        ({"alpha": None}, TypeError, r"'alpha' parameter of lstsq"),
        ({"alpha": True}, TypeError, r"'alpha' parameter of lstsq"),
        (
            {"solver": "lu"},
            ValueError,
            r"'solver' parameter of lstsq must be one of .*'cholesky'.*Got 'lu'",
        ),
        ({"solver": "SVD"}, ValueError, r"'solver' parameter .*'auto', 'cholesky', 'qr', 'svd'"),
        ({"solver": None}, ValueError, r"'solver' parameter .*Got None instead"),
        ({"sample_weight": -np.ones(5)}, ValueError, r"sample_weight must be non-negative"),
        (
            {"sample_weight": _with(np.ones(5), 0, -1e-3)},
            ValueError,
            r"sample_weight must be non-negative",
        ),
        ({"sample_weight": np.zeros(5)}, ValueError, r"sample_weight must have a positive sum"),
        (
            {"sample_weight": np.ones(4)},
            ValueError,
            r"sample_weight must have shape \(5,\) or \(5, 1\); got \(4,\)",
        ),
        (
            {"sample_weight": np.ones((5, 2))},
            ValueError,
            r"sample_weight must have shape \(5,\) or \(5, 1\); got \(5, 2\)",
        ),
        (
            {"sample_weight": np.ones((5, 1, 1))},
            ValueError,
            r"Input sample_weight must be a 1-D or 2-D array",
        ),
        ({"sample_weight": ["a"] * 5}, TypeError, r"Input sample_weight must hold real numbers"),
        (
            {"rcond": 0.0},
            ValueError,
            r"'rcond' parameter of lstsq must be a float in \(0, 1\]\. Got 0\.0",
        ),
        ({"rcond": -0.5}, ValueError, r"'rcond' parameter of lstsq must be a float in \(0, 1\]"),
        ({"rcond": 1.5}, ValueError, r"'rcond' parameter of lstsq must be a float in \(0, 1\]"),
        ({"rcond": float("nan")}, ValueError, r"'rcond' parameter of lstsq"),
        ({"rcond": "tiny"}, TypeError, r"'rcond' parameter of lstsq"),
    ],
)
def test_bad_input_is_rejected_naming_the_argument(kwargs, error, match):
    args = {"A": A0, "B": B0} | kwargs
    with pytest.raises(error, match=match):
        lstsq(**args)


@pytest.mark.parametrize("rcond", [1e-6, 1e-3, 0.3, 0.6])
def test_rcond_matches_numpy_lstsq(rcond, make_problem, rng):
    """Singular values below rcond * s_max are dropped, as numpy.linalg.lstsq does."""
    A, B, _ = make_problem(30, 5, 2, [10, 5, 4, 2, 1e-3], np.float64, rng)
    reference = np.linalg.lstsq(A, B, rcond=rcond)[0]
    W = lstsq(A, B, solver="svd", rcond=rcond)
    assert_allclose(W, reference, rtol=1e-10, atol=1e-12 * np.abs(reference).max())


def test_rcond_of_one_keeps_only_the_largest_singular_value(make_problem, rng):
    # Not compared with numpy.linalg.lstsq: LAPACK's gelsd replaces rcond >= 1 by eps.
    A, B, _ = make_problem(30, 5, 2, [10, 5, 4, 2, 1e-3], np.float64, rng)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    reference = np.outer(Vt[0], U[:, 0] @ B) / s[0]
    assert_rel_close(lstsq(A, B, solver="svd", rcond=1.0), reference, 1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # see the non-finite test above
@pytest.mark.parametrize("solver", ["auto", "cholesky"])
@pytest.mark.parametrize("where", ["A", "B"])
def test_float32_overflow_of_the_statistics_is_an_error(solver, where, rng):
    A = rng.uniform(0.5, 1.0, (10, 3)).astype(np.float32)
    B = rng.standard_normal(10).astype(np.float32)
    if where == "A":
        A *= np.float32(1e30)
    else:
        B *= np.float32(1e30)
    with pytest.raises(ValueError, match=r"overflow.*float32"):
        lstsq(A, B, solver=solver)


@pytest.mark.parametrize(
    "solver",
    ["qr", "svd"],
)
def test_float32_huge_values_are_solved_or_rejected(solver, rng):
    """The data-based solvers need no squares: a right answer, or an error naming overflow."""
    A = (rng.uniform(0.5, 1.0, (10, 3)) * 1e30).astype(np.float32)
    B = rng.standard_normal(10).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own overflow notes
        try:
            W = lstsq(A, B, solver=solver)
        except ValueError as err:
            assert "overflow" in str(err)
            return
    assert_rel_close(W, pinv_solve(A, B), 1e-3)


def test_ragged_input_names_the_argument():
    with pytest.raises(ValueError, match=r"Input A"):
        lstsq([[1.0, 2.0], [3.0]], [1.0, 2.0])


# -- 11. the seed example -------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_seed_000_example(solver):
    """Seed 000's comment: data (x, y) = (1, 1), (1, 2) under the squared loss gives w = 1.5."""
    W = lstsq([[1], [1]], [1, 2], solver=solver)
    assert W.shape == (1,) and W.dtype == np.float64
    assert_allclose(W, [1.5], rtol=2 * EPS)  # to the last bit: Cholesky gives 1.4999999999999998


@pytest.mark.parametrize(("alpha", "expected"), [(0.0, 1e190), (1e-300, 5e90), (1.0, 5e-210)])
def test_svd_tiny_singular_values(alpha, expected):
    """solve_svd no longer forms s**2, which underflowed for s below ~1.5e-154 (losing the
    answer for alpha=0): the solution is s * (u . B) / (s**2 + alpha) = 5e-210 / (5e-400 +
    alpha)."""
    A = np.array([[1.0], [2.0]]) * 1e-200
    B = np.array([1.0, 2.0]) * 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        coef = lstsq(A, B, solver="svd", alpha=alpha)
    assert_allclose(coef, [expected], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    d=st.integers(0, 70),
    block=st.integers(1, 32),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_symmetrize_in_place_equals_the_expression(d, block, dtype, seed):
    """Bit for bit what ``(A + A.T) * 0.5`` gives, for any size against the block size,
    with infinities and NaN kept where the expression has them."""
    A = np.random.default_rng(seed).standard_normal((d, d)).astype(dtype)
    if d > 2:
        A[0, 1], A[2, 0] = np.inf, np.nan
    expected = (A + A.T) * dtype(0.5)
    got = symmetrize_(A, block)
    assert got is A
    assert_array_equal(got, expected)
