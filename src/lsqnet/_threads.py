"""BLAS thread pools: short SciPy LAPACK calls on one thread when NumPy has a BLAS of its own.

NumPy's and SciPy's wheels each bundle an OpenBLAS, each with its own pool of threads, and an
OpenBLAS pool keeps its threads spinning for a while (about 0.1 s) after each call, waiting
for more work. A multi-threaded SciPy call in that time shares the cores with NumPy's
spinning threads, and the NumPy product after it with SciPy's: on 2 cores a 385 x 385
Cholesky factorisation right after a NumPy matrix product took 0.07-0.1 s instead of 2 ms,
and the product that followed twice its time (``benchmarks/bench_threads.py``). lsqnet's
Cholesky path is short LAPACK calls between large NumPy products, so :func:`serial_blas`
runs them on one thread whenever more than one BLAS library is loaded; with a single one
(NumPy and SciPy built against the same BLAS) the pool is shared and nothing changes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["serial_blas"]


@functools.cache
def _blas_pools() -> ThreadpoolController:
    """The BLAS libraries loaded when first asked (NumPy's and SciPy's, imported by then)."""
    return ThreadpoolController().select(user_api="blas")


@contextmanager
def serial_blas() -> Iterator[None]:
    """Every BLAS pool on one thread inside the block, when more than one is loaded; the
    previous limits are restored after it (about 13 microseconds in all)."""
    pools = _blas_pools()
    if len(pools.lib_controllers) < 2:
        yield
        return
    with pools.limit(limits=1):
        yield
