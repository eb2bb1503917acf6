"""Fixtures shared by the whole test suite.

- ``rng``: a freshly seeded generator per test, so every test is reproducible on its own.
- ``tol``: the one dtype-aware relative tolerance, ``tol(dtype)``.
- ``make_problem``: least-squares problems with a known solution and a chosen condition number,
  built from an SVD (scikit-learn ``test_ridge.py``, ``ols_ridge_dataset``).

``tol`` and ``make_problem`` are session-scoped fixtures that return plain functions, so that
Hypothesis tests can use them too (Hypothesis rejects function-scoped fixtures).

Hypothesis profiles: ``"repeatable"`` (the default) derives every test's examples from the
test itself, so the suite and CI run the same cases every time; ``"explore"`` draws new
random cases on every run, to look for new bugs: ``HYPOTHESIS_PROFILE=explore pytest``.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import settings

from lsqnet import count_flops

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Relative tolerances (norm of the difference over norm of the reference) for solutions of the
# well-conditioned problems the tests build (condition number <= 10). The worst solver, Cholesky
# on the normal equations, squares the condition number and loses about cond**2 * eps: 2e-14 in
# float64 and 6e-6 in float32. 1e-8 (the float64 accuracy required) and 1e-4 leave a wide margin
# for the accumulation over rows, and are still far below any algorithmic error.
_TOLERANCES = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-8}


def tol(dtype) -> float:
    """The relative tolerance of float32 (1e-4) or float64 (1e-8) results."""
    return _TOLERANCES[np.dtype(dtype)]


class Problem(NamedTuple):
    """``A`` (n, d), ``B`` (n, k) or (n,), and ``coef``: the minimum-norm least-squares solution
    ``pinv(A) @ B`` of the float64 data, exactly (up to the rounding of building A and B)."""

    A: np.ndarray
    B: np.ndarray
    coef: np.ndarray


def make_problem(
    n: int,
    d: int,
    k: int | None = None,
    singular_values=None,
    dtype=np.float64,
    rng: np.random.Generator | None = None,
    residual: float = 1.0,
) -> Problem:
    """A least-squares problem with chosen singular values and a known solution.

    ``A = U diag(s) V^T`` with random orthonormal ``U`` (n, r) and ``V`` (d, r), r = min(n, d);
    ``singular_values`` defaults to r values spaced geometrically in [1, 10] (condition number
    10); zeros make ``A`` rank-deficient. ``B = A coef + E``: ``coef`` lies in the row space of
    ``A`` and the residual ``E`` (of norm ``residual`` per column) is orthogonal to its range, so
    ``coef`` is the minimum-norm least-squares solution. ``k=None`` gives a 1-D ``B``.
    ``coef`` is always float64; ``A`` and ``B`` are cast to ``dtype`` at the end.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    r = min(n, d)
    s = (
        np.geomspace(10.0, 1.0, r)
        if singular_values is None
        else np.asarray(singular_values, float)
    )
    if s.shape != (r,):
        raise ValueError(f"need min(n, d) = {r} singular values, got shape {s.shape}")
    U, _ = np.linalg.qr(rng.standard_normal((n, r)))
    V, _ = np.linalg.qr(rng.standard_normal((d, r)))
    A = (U * s) @ V.T
    cols = 1 if k is None else k
    live = s > 0
    U_live = U[:, live]
    coef = V[:, live] @ rng.standard_normal((int(live.sum()), cols))
    E = rng.standard_normal((n, cols))
    E -= U_live @ (U_live.T @ E)  # orthogonal to the range of A
    norms = np.linalg.norm(E, axis=0)
    E *= np.where(norms > 1e-12, residual / np.maximum(norms, 1e-300), 0.0)
    B = A @ coef + E
    if k is None:
        B, coef = B[:, 0], coef[:, 0]
    return Problem(A.astype(dtype), B.astype(dtype), coef)


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator seeded afresh for every test."""
    return np.random.default_rng(0)


@pytest.fixture(name="tol", scope="session")
def tol_fixture():
    """``tol(dtype)``: see :func:`tol`."""
    return tol


@pytest.fixture(name="make_problem", scope="session")
def make_problem_fixture():
    """``make_problem(n, d, k, singular_values, dtype, rng)``: see :func:`make_problem`."""
    return make_problem


def predicted_flops(est, sizes, n, classification):
    """What count_flops predicts for the fit of ``est`` on ``n`` samples (network ``sizes``)."""
    layer_acts = [est.activation] * (len(sizes) - 2) + [est.output_activation]
    sweeps = [h["n_samples"] for h in est.history_ if h["layers"] == len(sizes) - 1]
    return count_flops(
        sweeps if sweeps else n,
        sizes,
        n_iter=len(sweeps),
        n_train=n,
        alpha=est.alpha,
        hidden_target=est.hidden_target,
        backprop_ridge=est.backprop_ridge,
        activations=layer_acts,
        classification=classification,
        # The first layer's Gram matrix is reused unless the sweeps change the sample set,
        # which only the "misclassified" rule of a classifier does (the regressor ignores it).
        reuse_first_gram=(est.iteration_rule == "all" or not classification),
        refit_output=est.refit_output,
        init=est.init,
        image_shape=est.image_shape,
        patch_size=est.patch_size,
        # a safeguarded fit records the objective evaluations of its sweeps and refit
        trials=[h["trials"] for h in est.history_ if "trials" in h] or None,
    )
