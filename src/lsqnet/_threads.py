"""BLAS thread pools: short SciPy LAPACK calls on one thread when NumPy has a BLAS of its own.

NumPy's and SciPy's wheels each bundle an OpenBLAS, each with its own pool of threads, and an
OpenBLAS pool keeps its threads spinning for a while (about 0.1 s) after each call, waiting
for more work. A multi-threaded SciPy call in that time shares the cores with NumPy's
spinning threads, and the NumPy product after it with SciPy's: on 2 cores a 385 x 385
Cholesky factorisation and solve right after a NumPy matrix product took 0.1 s instead of
3 ms, and the product that followed twice its time (``benchmarks/bench_threads.py``).
lsqnet's Cholesky path is short LAPACK calls between large NumPy products, so
:func:`serial_blas` runs those of less than :data:`SERIAL_FLOPS` operations on one thread
whenever more than one BLAS library is loaded. Longer calls keep every thread (a 3072 x 3072
factorisation and the product after it took as long either way on 2 cores, and more cores
favour the threads); with a single BLAS library (NumPy and SciPy built against the same one)
the pool is shared and nothing changes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["SERIAL_FLOPS", "serial_blas"]

#: The most floating-point operations a call run by :func:`serial_blas` may take to be put on
#: one thread: about 0.05 s of one core, the scale of the wait it avoids.
SERIAL_FLOPS = 4e9


#: Held while the pools are limited. The limits are the process's: two Python threads
#: limiting and restoring them in turn could restore each other's limits (recent threadpoolctl
#: lets one thread at a time set OpenBLAS's; older versions do not). A short SciPy call from
#: another thread waits for this one instead.
_LIMITING = threading.RLock()


@functools.cache
def _blas_pools() -> ThreadpoolController:
    """The BLAS libraries loaded when first asked (NumPy's and SciPy's, imported by then)."""
    return ThreadpoolController().select(user_api="blas")


@contextmanager
def serial_blas(flops: float) -> Iterator[None]:
    """Every BLAS pool on one thread inside the block, for a call of ``flops`` operations
    (fewer than :data:`SERIAL_FLOPS`) when more than one BLAS library is loaded; the previous
    limits are restored after it (about 13 microseconds in all)."""
    pools = _blas_pools()
    if flops >= SERIAL_FLOPS or len(pools.lib_controllers) < 2:
        yield
        return
    with _LIMITING, pools.limit(limits=1):
        yield
