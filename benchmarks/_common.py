"""Helpers shared by the benchmark scripts: machine description and JSON output."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from lsqnet.bench import machine as bench_machine
from lsqnet.datasets import load


def machine() -> dict[str, Any]:
    """CPU, cores, BLAS and its threads, library versions (:func:`lsqnet.bench.machine`)."""
    return bench_machine()


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Minimum and median wall time of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), float(np.median(times))


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(path)


def load_idx_dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST through :func:`lsqnet.datasets.load` (md5-checked)."""
    return tuple(load(name))
