"""Training methods over data sources, and the one loop that runs them.

- :mod:`~lsqnet.training.sources`: where the data is (in memory, row blocks, iterables of
  chunks; :mod:`lsqnet._dask` adds Dask arrays);
- :mod:`~lsqnet.training._loop`: the loop (history, monitor, stopping rules, best iterate)
  and the ``start``/``step`` interface of a method;
- :mod:`~lsqnet.training.bpls`: BPLS backward sweeps, and the fit that chains its stages;
- :mod:`~lsqnet.training.cross_entropy`: the output layer fitted to the cross-entropy.

A new method is one module: a class with ``start(source, iterate)``,
``step(source, state)`` and ``iterate(state)`` (see :class:`~lsqnet.training.Method`),
run by :func:`~lsqnet.training.run`. The streamed sources are public in
:mod:`lsqnet.streaming` (:class:`~lsqnet.streaming.ArrayChunks`,
:class:`~lsqnet.streaming.IterableChunks`).
"""

from ._layer import LayerCache, check_finite, solve_data, solve_summed
from ._loop import History, Iterate, Method, Metrics, Outcome, Step, loss_and_accuracy, run
from .sources import DataSource, InMemory, Passes

__all__ = [
    "DataSource",
    "History",
    "InMemory",
    "Iterate",
    "LayerCache",
    "Method",
    "Metrics",
    "Outcome",
    "Passes",
    "Step",
    "check_finite",
    "loss_and_accuracy",
    "run",
    "solve_data",
    "solve_summed",
]
