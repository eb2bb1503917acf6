"""lsqnet: closed-form (least-squares) training of fully-connected neural networks."""

from . import activations, datasets, exceptions, features, solvers
from .bpls import count_flops
from .estimators import PRESETS, BPLSClassifier, BPLSRegressor, load
from .layers import Dense, collapse_linear, fit_layer
from .network import Network
from .solvers import SOLVERS, GramStats, lstsq

__version__ = "0.1.0.dev0"

__all__ = [
    "PRESETS",
    "SOLVERS",
    "BPLSClassifier",
    "BPLSRegressor",
    "Dense",
    "GramStats",
    "Network",
    "__version__",
    "activations",
    "collapse_linear",
    "count_flops",
    "datasets",
    "exceptions",
    "features",
    "fit_layer",
    "load",
    "lstsq",
    "solvers",
]
