"""The operation ledger: floating-point operations counted as they are performed.

Every matrix product, factorisation, triangular solve and elementwise pass in the fitting
code calls :func:`record` with the standard operation count of what it just did (LAPACK
Working Note 41 conventions: a multiply-add is 2 flops). When no ledger is active
(:func:`counting`), recording is a no-op costing one context-variable lookup.

The counts are exact because nothing in a fit is iterative with a data-dependent length: the
Cholesky factorisation has a fixed count, and the condition estimate is a fixed number of
inverse-iteration steps (see ``lsqnet.solvers._factor``). The SVD and symmetric eigensolvers
are iterative; a fit that falls back to them marks its ledger inexact.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "FlopLedger",
    "counting",
    "elementwise",
    "gemm",
    "gesv",
    "mark_inexact",
    "potrf",
    "potrs",
    "record",
    "syrk",
    "trtri",
]


def gemm(m: int, k: int, n: int) -> int:
    """(m x k) @ (k x n): one multiply and one add per term."""
    return 2 * m * k * n


def syrk(n: int, d: int) -> int:
    """``A.T @ A`` for A (n x d): the d(d+1)/2 distinct entries, 2n flops each."""
    return n * d * (d + 1)


def potrf(d: int) -> int:
    """Cholesky factorisation of a d x d matrix: d^3/3 + d^2/2 + d/6 (exact, integer)."""
    return d * (d + 1) * (2 * d + 1) // 6


def trtri(d: int) -> int:
    """Inverse of a d x d triangular matrix: d^3/3 + 2d/3 (exact, integer)."""
    return (d**3 + 2 * d) // 3


def potrs(d: int, k: int) -> int:
    """Two triangular solves with k right-hand sides."""
    return 2 * d * d * k


def gesv(d: int, k: int) -> int:
    """LU factorisation of a d x d matrix (``2 d^3/3 - d^2/2 - d/6``) and solves with k
    right-hand sides (``k (2 d^2 - d)``)."""
    return d * (d - 1) * (4 * d + 1) // 6 + k * (2 * d * d - d)


def elementwise(*shape: int) -> int:
    """One flop per element (activation, inverse, derivative, clipping, scaling)."""
    total = 1
    for s in shape:
        total *= s
    return total


@dataclass
class FlopLedger:
    """Counts per operation kind; ``exact`` is False once an iterative solver ran."""

    counts: Counter = field(default_factory=Counter)
    exact: bool = True

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, op: str, flops: int) -> None:
        self.counts[op] += int(flops)


_ACTIVE: contextvars.ContextVar[FlopLedger | None] = contextvars.ContextVar(
    "lsqnet_flop_ledger", default=None
)


def record(op: str, flops: int) -> None:
    """Add ``flops`` under ``op`` to the active ledger, if any."""
    ledger = _ACTIVE.get()
    if ledger is not None:
        ledger.add(op, flops)


def mark_inexact() -> None:
    """Note that an iterative routine (SVD, eigh) ran: its count is not fixed."""
    ledger = _ACTIVE.get()
    if ledger is not None:
        ledger.exact = False


@contextlib.contextmanager
def counting(ledger: FlopLedger | None = None) -> Iterator[FlopLedger]:
    """Activate a ledger for the enclosed code and yield it."""
    ledger = FlopLedger() if ledger is None else ledger
    token = _ACTIVE.set(ledger)
    try:
        yield ledger
    finally:
        _ACTIVE.reset(token)
