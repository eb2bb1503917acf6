"""The benchmark harness behind ``lsqnet bench``: closed-form and gradient training side by side.

Every method runs through one interface, :func:`run` ``(method, data, seed) -> Record``;
``torch.optim``'s Adam, SGD, NAG and AdaGrad are methods like BPLS, ELM and ridge, and so is
``bpls+adam``, Adam started from BPLS's network (:data:`METHODS`). :func:`benchmark` tunes
each method on a validation split, runs every seed and returns a JSON-ready payload that
:func:`write_results` turns into ``results.json``, ``results.md`` and ``frontier.png``.

:mod:`lsqnet.bench.tabular` is the tabular suite (``lsqnet bench --suite tabular``): lsqnet's
estimators beside scikit-learn's on small tables, with a registry of data sets and one of
models. This package is never imported by :mod:`lsqnet` itself; the gradient methods need the
optional extra ``lsqnet[bench]`` (torch, matplotlib, tqdm).
"""

from ._gradient import OPTIMIZERS, TORCH_ACTIVATIONS, build_model
from ._harness import BenchConfig, Record, Recorder, label, machine, peak_memory
from ._report import (
    SCHEMA,
    accuracy_at,
    claim,
    frontier,
    read_results,
    summarize,
    time_to_reach,
    to_markdown,
    warm_start,
    write_results,
)
from ._runner import METHODS, Method, benchmark, hidden_for, run, tune, validation_split

__all__ = [
    "METHODS",
    "OPTIMIZERS",
    "SCHEMA",
    "TORCH_ACTIVATIONS",
    "BenchConfig",
    "Method",
    "Record",
    "Recorder",
    "accuracy_at",
    "benchmark",
    "build_model",
    "claim",
    "frontier",
    "hidden_for",
    "label",
    "machine",
    "peak_memory",
    "read_results",
    "run",
    "summarize",
    "time_to_reach",
    "to_markdown",
    "tune",
    "validation_split",
    "warm_start",
    "write_results",
]
