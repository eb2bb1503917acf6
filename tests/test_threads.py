"""BLAS thread pools: SciPy's Cholesky calls run on one thread beside NumPy's own BLAS.

With pip's wheels NumPy and SciPy each load an OpenBLAS (two pools); the tests that need two
say so, and the single-pool case is checked on a controller reduced to one library.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose
from threadpoolctl import ThreadpoolController, threadpool_limits

from lsqnet import _array_api, _threads


def _blas_threads() -> dict[str, int]:
    return {
        c.filepath: c.num_threads
        for c in ThreadpoolController().select(user_api="blas").lib_controllers
    }


two_pools = pytest.mark.skipif(
    len(_threads._blas_pools().lib_controllers) < 2,
    reason="NumPy and SciPy share one BLAS here",
)


@two_pools
def test_serial_blas_limits_every_pool_for_short_calls_and_restores_them():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert set(before.values()) == {2}
        with _threads.serial_blas(_threads.SERIAL_FLOPS / 2):
            assert set(_blas_threads().values()) == {1}
        assert _blas_threads() == before
        with _threads.serial_blas(_threads.SERIAL_FLOPS):  # long calls keep every thread
            assert _blas_threads() == before


def test_serial_blas_leaves_a_single_pool_alone(monkeypatch):
    """One BLAS library (NumPy and SciPy built against the same one): its pool is shared, so
    there is nothing to keep apart and its threads are left as they are."""
    pools = ThreadpoolController().select(user_api="blas")
    if not pools.lib_controllers:
        pytest.skip("threadpoolctl finds no BLAS library here")
    one = pools.select(filepath=pools.lib_controllers[0].filepath)
    assert len(one.lib_controllers) == 1
    monkeypatch.setattr(_threads, "_blas_pools", lambda: one)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with _threads.serial_blas(1.0):
            assert _blas_threads() == before


@two_pools
@pytest.mark.parametrize("name", ["cho_factor", "cho_solve", "solve_triangular"])
def test_cholesky_path_runs_scipy_on_one_thread(monkeypatch, name):
    """The NumPy branches of the Cholesky factorisation and solves call SciPy inside
    serial_blas, and still give SciPy's answer."""
    seen = []
    original = getattr(scipy.linalg, name)

    def spy(*args, **kwargs):
        seen.append(set(_blas_threads().values()))
        return original(*args, **kwargs)

    monkeypatch.setattr(_array_api.scipy.linalg, name, spy)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 6))
    g = A.T @ A
    rhs = rng.standard_normal((6, 2))
    with threadpool_limits(limits=2, user_api="blas"):
        c = _array_api.cho_factor(np, g.copy())
        x = _array_api.cho_solve(np, c, rhs)
        y = _array_api.solve_triangular(np, c, rhs)
    assert seen == [{1}]
    upper = np.triu(c)  # SciPy leaves the other triangle as it was
    assert_allclose(upper.T @ upper, g, rtol=1e-12, atol=1e-12)
    assert_allclose(g @ x, rhs, rtol=1e-10, atol=1e-10)
    assert_allclose(upper @ y, rhs, rtol=1e-12, atol=1e-12)


@two_pools
def test_serial_blas_from_many_threads_restores_the_limits():
    """The limits are the process's: blocks entered and left by several Python threads in
    any interleaving (and nested in one thread) must leave every pool as it was."""
    import threading

    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        barrier = threading.Barrier(4)
        done = []

        def work():
            barrier.wait()
            for _ in range(50):
                with _threads.serial_blas(1.0), _threads.serial_blas(1.0):
                    pass
            done.append(True)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(done) == 4
        assert _blas_threads() == before
        with _threads.serial_blas(1.0):  # and the calling thread can still limit them
            assert set(_blas_threads().values()) == {1}
        assert _blas_threads() == before
