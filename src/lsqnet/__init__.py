"""lsqnet: closed-form (least-squares) training of fully-connected neural networks."""

from . import exceptions, solvers
from .solvers import SOLVERS, GramStats, lstsq

__version__ = "0.1.0.dev0"

__all__ = [
    "SOLVERS",
    "GramStats",
    "__version__",
    "exceptions",
    "lstsq",
    "solvers",
]
