"""The ridge penalty of a fit chosen by leave-one-out cross-validation (``alpha="auto"``).

The one layer whose inputs are known before training is the output layer on the initial
hidden units (the whole network when it has no hidden layer). Its least-squares problem,
from those units to the output layer's desired pre-activations, is cross-validated over the
candidate penalties exactly as scikit-learn's ``RidgeCV`` does (:mod:`lsqnet.solvers._loo`):
one pass over the source sums the layer's Gram statistics, one eigendecomposition serves
every candidate, and a second pass sums the leave-one-out residuals. The penalty chosen is
then the training objective's for every layer and every step, so that the objective stays
one function that a safeguarded method can compare from step to step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..network import Network
from ..solvers import GramStats
from ..solvers._loo import RidgePath
from .bpls import pre_activation_targets
from .sources import DataSource

__all__ = ["NO_SIGNAL", "PenaltyChoice", "choose_alpha", "informative"]

#: The initial units predict nothing when no candidate penalty's leave-one-out error is more
#: than this fraction below the largest candidate's (make_circles: odd units, a target even
#: in the inputs: 0.04 %, where a penalty of 1.5e4 took the trained network to a constant).
NO_SIGNAL = 0.01


@dataclass(frozen=True)
class PenaltyChoice:
    """The penalty chosen, the candidates and their mean squared leave-one-out errors."""

    alpha: float
    alphas: np.ndarray
    errors: np.ndarray


def _output_problem(network: Network, X: Any, Y: Any, target_eps: float) -> tuple[Any, Any]:
    """The output layer's inputs on ``X`` and its desired pre-activations for ``Y``."""
    hidden = network.layers[:-1]
    H = Network(tuple(hidden)).forward(X) if hidden else X
    return H, pre_activation_targets(network.layers[-1], H, Y, target_eps)


def choose_alpha(
    source: DataSource, network: Network, candidates: Any, target_eps: float,
    trained_units: bool = False,
) -> PenaltyChoice:
    """The penalty among ``candidates`` (``"auto"``: :meth:`RidgePath.from_stats`'s, or positive
    values) with the smallest leave-one-out error of ``network``'s output layer on
    ``source`` (two passes over it).

    ``trained_units``: the hidden layers will be trained with the penalty (Levenberg–Marquardt,
    K-FAC). When no candidate beats the largest by more than :data:`NO_SIGNAL` of its error,
    the initial units predict nothing that the targets' mean does not (odd units of a target
    even in the inputs, for instance), which says nothing of the penalty trained units need:
    the middle candidate is taken instead (:func:`informative`).
    """

    kept: dict[int, tuple[Any, Any]] = {}  # a resident source's problem, for both passes

    def problem(X, Y, start):
        if not source.resident:
            return _output_problem(network, X, Y, target_eps)
        if start not in kept:
            kept[start] = _output_problem(network, X, Y, target_eps)
        return kept[start]

    def gram(X, Y, labels, start, weights=None):
        H, T = problem(X, Y, start)
        if weights is None:
            return GramStats.around_means(H, T)
        return GramStats.from_data(H, T, weights)

    stats = source.map_sum(gram)
    path = RidgePath.from_stats(stats, candidates)

    def errors(X, Y, labels, start, weights=None):
        return path.loo_errors(*problem(X, Y, start), weights)

    total = source.map_sum(errors)
    mean = total / (stats.n_samples * stats.n_targets)  # RidgeCV's mean over rows and targets
    alpha = path.best(total)
    if trained_units and not informative(path.alphas, total):
        alpha = float(np.sort(path.alphas)[(len(path.alphas) - 1) // 2])
    return PenaltyChoice(alpha, path.alphas, mean)


def informative(alphas: Any, errors: Any) -> bool:
    """Whether the initial units predict anything: the least leave-one-out error among
    ``errors`` (one per candidate of ``alphas``) is more than :data:`NO_SIGNAL` below the
    largest candidate's, the output layer that predicts little more than the targets' mean.
    A single candidate, or a largest candidate without a finite error, is taken as it is;
    no finite error at all says nothing."""
    alphas, errors = np.asarray(alphas), np.asarray(errors, dtype=np.float64)
    finite = np.isfinite(errors)
    if not finite.any():
        return False
    largest = errors[np.argmax(alphas)]
    if alphas.shape[0] < 2 or not np.isfinite(largest):
        return True
    return bool(errors[finite].min() < (1 - NO_SIGNAL) * largest)
