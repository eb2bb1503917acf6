"""Least-squares solvers and the summed statistics they work from.

The public entry points are :func:`lstsq` (data in memory) and :class:`GramStats` (sums over
chunks, for streaming and distributed fits). ``SOLVERS`` lists the names ``lstsq`` accepts.
"""

from ._factor import Factorization, NotPositiveDefiniteError
from ._gram import GramStats, LstsqResult
from ._lstsq import SOLVERS, lstsq, solve_least_squares, solve_qr, solve_svd

__all__ = [
    "SOLVERS",
    "Factorization",
    "GramStats",
    "LstsqResult",
    "NotPositiveDefiniteError",
    "lstsq",
    "solve_least_squares",
    "solve_qr",
    "solve_svd",
]
