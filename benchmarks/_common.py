"""Helpers shared by the benchmark scripts: machine description and JSON output."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info

import lsqnet


def machine() -> dict[str, Any]:
    """CPU, cores, BLAS and its threads, library versions."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "lsqnet": lsqnet.__version__,
        "blas": blas,
    }


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
    """MNIST or Fashion-MNIST from ``$LSQNET_DATA/<name>/`` (original IDX gzip files).

    A stop-gap for the benchmarks until ``lsqnet.datasets`` exists: no md5 check, no download.
    Returns float32 images in [0, 1], flattened, and integer labels.
    """
    import gzip

    root = Path(os.environ.get("LSQNET_DATA", "../shared/datasets")) / name

    def read(filename: str) -> np.ndarray:
        path = root / filename
        if not path.exists():
            raise SystemExit(f"missing {path}: set LSQNET_DATA to the folder holding {name}/")
        data = gzip.decompress(path.read_bytes())
        ndim = data[3]
        shape = tuple(int(s) for s in np.frombuffer(data, ">u4", ndim, 4))
        return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)

    def images(f: str) -> np.ndarray:
        raw = read(f)
        return (raw.reshape(raw.shape[0], -1) / np.float32(255)).astype(np.float32)

    return (
        images("train-images-idx3-ubyte.gz"),
        read("train-labels-idx1-ubyte.gz").astype(np.int64),
        images("t10k-images-idx3-ubyte.gz"),
        read("t10k-labels-idx1-ubyte.gz").astype(np.int64),
    )
