"""lsqnet: closed-form (least-squares) training of fully-connected neural networks."""

from . import activations, datasets, exceptions, features, solvers
from ._version import __version__
from .bpls import count_flops
from .estimators import (
    PRESETS,
    BPLSClassifier,
    BPLSRegressor,
    LSQClassifier,
    LSQRegressor,
    load,
    skops_trusted_types,
)
from .layers import Dense, collapse_linear, fit_layer
from .network import Network
from .solvers import SOLVERS, GramStats, lstsq

__all__ = [
    "PRESETS",
    "SOLVERS",
    "BPLSClassifier",
    "BPLSRegressor",
    "Dense",
    "GramStats",
    "LSQClassifier",
    "LSQRegressor",
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
    "skops_trusted_types",
    "solvers",
]
