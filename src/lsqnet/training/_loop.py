"""The one training loop: a method's steps over a data source, with history, monitor,
stopping rules and the best iterate.

A training method is a pair of functions over a data source, in the manner of optax's
``init``/``update``:

- ``start(source, iterate) -> (state, objective)``: the state the steps begin from (with a
  resident source's activations, say) and its objective (None if unknown);
- ``step(source, state) -> (state, Step)``: one step (a BPLS sweep, a cross-entropy step),
  and what it reports: the new network, the training metrics, the objective its stopping
  rule compares, whether nothing is left to improve, the solver used;
- ``iterate(state) -> Iterate``: the network of a state, with its loss and score, which the
  loop compares to keep the best and hands to the next stage.

:func:`run` does everything else, the same for every method and every source: it records
each step in the :class:`History` (which calls the monitor), stops on the monitor's word, on
``converged``, after ``max_steps`` or when the objective improves by less than ``tol``
(relative), and keeps the best iterate (or the last one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np

from .. import _flops
from .._array_api import get_namespace

__all__ = [
    "History",
    "Iterate",
    "Method",
    "Metrics",
    "Outcome",
    "Step",
    "loss_and_accuracy",
    "run",
]

State = TypeVar("State")


def loss_and_accuracy(
    out: Any, Y: Any, labels: Any, weights: Any = None
) -> tuple[float, float]:
    """The training loss (mean squared error of outputs ``out`` against ``Y``) and accuracy
    (NaN without ``labels``), with their operations recorded; with sample ``weights`` (n,),
    their weighted means (``sum(w * loss) / sum(w)``)."""
    if weights is not None:
        return Metrics.of(out, Y, labels, weights).values(labels is not None)
    xp = get_namespace(out)
    n, k = Y.shape
    loss = float(xp.sum((out - Y) ** 2, dtype=xp.float64)) / (n * k)
    _flops.record("metrics", 3 * n * k)
    if labels is None:
        return loss, float("nan")
    _flops.record("metrics", n * k)
    return loss, int(xp.count_nonzero(xp.argmax(out, axis=1) == labels)) / n


def _weighted_sums(out: Any, Y: Any, labels: Any, w: Any) -> tuple[float, float, float]:
    """The weighted squared error, weight of the correct rows and total weight of a chunk."""
    xp = get_namespace(out, w)
    n, k = Y.shape
    w64 = xp.astype(w, xp.float64)
    rows = xp.sum(xp.astype((out - Y) ** 2, xp.float64), axis=1)
    _flops.record("metrics", 4 * n * k + 2 * n)
    squared = float(xp.sum(w64 * rows))
    total = float(xp.sum(w64))
    if labels is None:
        return squared, 0.0, total
    _flops.record("metrics", n * k + 2 * n)
    hit = xp.argmax(out, axis=1) == labels
    return squared, float(xp.sum(xp.where(hit, w64, xp.zeros_like(w64)))), total


@dataclass(frozen=True)
class Metrics:
    """Sums behind the training loss and accuracy, added up over chunks: the squared error,
    the correct rows, the samples and the values (samples times outputs), each weighted by
    the sample weights if there are any (then floats), and the ``rows``."""

    squared_error: float
    correct: float
    n_samples: float
    n_values: float
    rows: int = 0

    @classmethod
    def of(cls, out: Any, Y: Any, labels: Any, weights: Any = None) -> Metrics:
        """The sums of one chunk's outputs ``out`` (rows weighted by ``weights``, if given)."""
        n, k = Y.shape
        if weights is not None:
            squared, correct, total = _weighted_sums(out, Y, labels, weights)
            return cls(squared, correct, total, total * k, n)
        loss, acc = loss_and_accuracy(out, Y, labels)
        correct = 0 if labels is None else int(round(acc * n))
        return cls(loss * Y.size, correct, n, Y.size, n)

    def __add__(self, other: Metrics) -> Metrics:
        return Metrics(
            self.squared_error + other.squared_error,
            self.correct + other.correct,
            self.n_samples + other.n_samples,
            self.n_values + other.n_values,
            self.rows + other.rows,
        )

    def values(self, classification: bool) -> tuple[float, float]:
        """The loss and accuracy (NaN unless ``classification``)."""
        loss = self.squared_error / self.n_values
        return loss, self.correct / self.n_samples if classification else float("nan")

    @property
    def all_correct(self) -> bool:
        """Every row of positive weight classified correctly."""
        return self.correct == self.n_samples


class History:
    """The steps of a fit, one entry each, and the ``monitor`` called after each.

    ``time`` in an entry is the training time since the history was created, without the
    time spent in the monitor (a caller may evaluate on held-out data there).
    """

    def __init__(self, monitor: Callable[[dict[str, float], Any], bool | None] | None) -> None:
        self.entries: list[dict[str, float]] = []
        self._monitor = monitor
        self._start = time.perf_counter()
        self._excluded = 0.0

    def record(self, network: Any, **fields: float) -> bool:
        """Append an entry (``iteration``, then ``fields`` and ``time``); return True if the
        monitor asks to stop."""
        entry = {
            "iteration": len(self.entries) + 1, **fields,
            "time": time.perf_counter() - self._start - self._excluded,
        }
        self.entries.append(entry)
        if self._monitor is None:
            return False
        paused = time.perf_counter()
        stop = bool(self._monitor(dict(entry), network))
        self._excluded += time.perf_counter() - paused
        return stop

    def record_step(
        self, step: Step, flops: int, passes: int | None = None, **extra: Any
    ) -> bool:
        """:meth:`record` a method's step: its layers, samples, loss and accuracy, the
        operations so far (``flops``), a method's own ``extra`` fields, and for a streamed
        source the ``passes`` made so far."""
        fields = dict(
            layers=step.layers, n_samples=step.n_samples, loss=step.loss,
            accuracy=step.accuracy, flops=flops, **extra,
        )
        if passes is not None:
            fields["passes"] = passes
        return self.record(step.network, **fields)


class Step(NamedTuple):
    """What one step of a method reports to the loop.

    Attributes
    ----------
    network : Network
        The network after the step.
    layers : int
        Layers solved by the step.
    n_samples : int
        Samples the step used.
    loss, accuracy : float
        Training mean squared error in output space and accuracy (NaN for regression).
    objective : float or None
        What the step minimised, compared by the ``tol`` rule with the previous step's (or
        the start's); None: the rule does not apply to it.
    converged : bool
        Nothing is left to improve (every training sample classified correctly).
    solver : str
        The most robust solver the step used.
    """

    network: Any
    layers: int
    n_samples: int
    loss: float
    accuracy: float
    objective: float | None
    converged: bool
    solver: str


class Method(Protocol[State]):
    """A training method: ``start`` and ``step`` over a data source (see the module)."""

    def start(self, source: Any, iterate: Iterate) -> tuple[State, float | None]:
        """The state the steps begin from, and its objective (None: not known)."""

    def step(self, source: Any, state: State) -> tuple[State, Step]:
        """One step from ``state``."""

    def iterate(self, state: State) -> Iterate:
        """The network of ``state`` with what a resident source keeps of it."""


@dataclass(frozen=True)
class Iterate:
    """A network, its training loss and score, and the activations a resident source keeps
    of it (None for streamed sources): what one stage of a fit hands to the next."""

    network: Any
    acts: list[Any] | None = None
    score: float = -np.inf
    loss: float = np.inf

    def beats(self, other: Iterate) -> bool:
        """Better accuracy (0 for regression), then lower loss."""
        return (self.score, -self.loss) > (other.score, -other.loss)


class Outcome(NamedTuple):
    """What :func:`run` returns: the iterate kept, the solvers used, whether the monitor
    stopped the fit."""

    best: Iterate
    solvers: list[str]
    stopped: bool


def run(
    method: Method[Any],
    source: Any,
    start: Iterate,
    *,
    max_steps: int,
    tol: float | None,
    record: Callable[[Step], bool],
    keep: str = "best",
) -> Outcome:
    """Run ``method`` from ``start`` for at most ``max_steps`` steps over ``source``.

    After each step ``record(step)`` (which appends the history entry and calls the monitor)
    says whether to stop. Steps also stop when one reports ``converged``, or when its
    objective improved on the previous one by no more than ``tol`` times it (``None``: the
    method's steps decide alone, for objectives that change from step to step). ``keep="best"``
    returns the best of ``start`` and the steps' iterates (:meth:`Iterate.beats`),
    ``"last"`` the last step's.
    """
    state, previous = method.start(source, start)
    best, solvers, stopped = start, [], False
    for _ in range(max_steps):
        state, step = method.step(source, state)
        solvers.append(step.solver)
        stopped = record(step)
        current = method.iterate(state)
        if keep == "last" or current.beats(best):
            best = current
        if stopped or step.converged:
            break
        objective = step.objective
        if tol is not None and objective is not None and previous is not None:
            if not previous - objective > tol * previous:
                break  # the objective stopped improving
        previous = objective
    return Outcome(best, solvers, stopped)
