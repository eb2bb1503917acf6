"""MNIST training on NumPy arrays and on PyTorch tensors (CPU, and CUDA where there is one).

The same estimators and the same algorithm code (:mod:`lsqnet._array_api`) train on each
backend in one run: NumPy with SciPy's LAPACK, torch on the CPU, torch on CUDA. For every
configuration and backend the script records the training wall time (minimum and median of
``--repeats`` fits, after one warm-up fit; the data are already on the device, and CUDA is
synchronised before the clock stops) and the test accuracy, and prints each backend's speed-up
over NumPy. Hyper-parameters are the library's presets, fixed in advance, so no test-set
choice is made here. The comparison is meant for a GPU; on a machine without one, the
torch-CPU row still shows what the array API path costs against NumPy.

Usage::

    LSQNET_DATA=../shared/datasets python benchmarks/bench_devices.py \\
        --out benchmarks/results/devices.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import load_idx_dataset, machine, write_json
from lsqnet import BPLSClassifier

CONFIGS = {
    "bpls-256": dict(hidden_layer_sizes=(256,), max_iter=10),
    "fast": "fast",
    "accurate": "accurate",
}


def make(config, seed: int) -> BPLSClassifier:
    spec = CONFIGS[config]
    if isinstance(spec, str):
        return BPLSClassifier.from_preset(
            spec, image_shape=(28, 28), random_state=seed, dtype="float32"
        )
    return BPLSClassifier(random_state=seed, dtype="float32", **spec)


def backends() -> list[str]:
    import torch

    return ["numpy", "torch-cpu"] + (["torch-cuda"] if torch.cuda.is_available() else [])


def place(backend: str, *arrays):
    """The arrays on the backend (float32 data; labels as integers)."""
    if backend == "numpy":
        return arrays
    import torch

    device = "cuda" if backend == "torch-cuda" else "cpu"
    return tuple(torch.as_tensor(a, device=device) for a in arrays)


def synchronize(backend: str) -> None:
    if backend == "torch-cuda":
        import torch

        torch.cuda.synchronize()


def run(config: str, backend: str, data, repeats: int, seed: int) -> dict:
    X_train, y_train, X_test, y_test = place(backend, *data)
    times = []
    for r in range(repeats + 1):  # the first fit warms up (CUDA context, kernels, caches)
        est = make(config, seed)
        synchronize(backend)
        start = time.perf_counter()
        est.fit(X_train, y_train)
        synchronize(backend)
        if r:
            times.append(time.perf_counter() - start)
    return {
        "config": config, "backend": backend,
        "time_min": round(min(times), 4), "time_median": round(statistics.median(times), 4),
        "test_accuracy": round(float(est.score(X_test, y_test)), 4),
        "flops": est.flops_,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_idx_dataset(args.dataset)
    data = (X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test)
    rows = []
    for config in args.configs:
        reference = None
        for backend in backends():
            row = run(config, backend, data, args.repeats, args.seed)
            reference = reference or row["time_min"]
            row["speedup_vs_numpy"] = round(reference / row["time_min"], 2)
            rows.append(row)
            print(row, flush=True)
    import torch

    write_json(args.out, {
        "benchmark": "devices", "dataset": args.dataset, "machine": machine(),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "repeats": args.repeats, "results": rows,
    })


if __name__ == "__main__":
    main()
