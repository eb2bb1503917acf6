"""SciPy's Cholesky calls on one BLAS thread (``lsqnet._threads.serial_blas``) against two.

NumPy's and SciPy's wheels each bundle an OpenBLAS with a pool of threads that spin for a
while after every call. On few cores a two-thread SciPy call right after a NumPy product
shares the cores with NumPy's spinning threads, and the next NumPy product with SciPy's.
This script times, interleaved (the order alternates between repeats):

(a) a Cholesky factorisation and a 10-column solve (``lsqnet._array_api.cho_factor`` and
    ``cho_solve``) of a d x d Gram matrix right after a NumPy product of the training images
    with a (784, d - 1) weight, and the NumPy product with a (d - 1, 10) weight right after
    it, with ``serial_blas`` as lsqnet runs it and switched off;
(b) whole fits of the ``instant`` and ``fast`` presets, the same way.

    LSQNET_DATA=../shared/datasets python benchmarks/bench_threads.py fashion-mnist \\
        [--repeats 5] [--out results/threads_fashion-mnist.json]
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np

from _common import machine, write_json
from lsqnet import BPLSClassifier, _array_api
from lsqnet.datasets import load
from lsqnet.exceptions import SolverFallbackWarning

SERIAL = _array_api.serial_blas


def _switch(serial: bool) -> None:
    _array_api.serial_blas = SERIAL if serial else contextlib.nullcontext


def _factor_after_product(X: np.ndarray, d: int) -> tuple[float, float]:
    rng = np.random.default_rng(d)
    W = rng.standard_normal((X.shape[1], d - 1)).astype(X.dtype)
    H = np.maximum(X @ W, 0)
    G = H[:4000].T @ H[:4000] + np.eye(d - 1, dtype=X.dtype)
    rhs = rng.standard_normal((d - 1, 10)).astype(X.dtype)  # also the output weight below
    start = time.perf_counter()
    c = _array_api.cho_factor(np, G)
    _array_api.cho_solve(np, c, rhs)
    middle = time.perf_counter()
    H @ rhs
    return middle - start, time.perf_counter() - middle


def _median_pairs(measure, repeats: int) -> dict[str, dict[str, float]]:
    """``measure()`` (a tuple of times) with serial_blas on and off, interleaved."""
    runs: dict[bool, list[tuple[float, ...]]] = {True: [], False: []}
    for i in range(repeats + 1):
        for serial in ((True, False) if i % 2 else (False, True)):
            _switch(serial)
            times = measure()
            if i:  # the first round warms up
                runs[serial].append(times)
    _switch(True)
    return {
        "serial" if serial else "default": {
            f"median_{k}": round(float(np.median(v)), 4) for k, v in enumerate(zip(*t, strict=True))
        }
        for serial, t in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("mnist", "fashion-mnist"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    # fast's windowed samples at alpha 10 recompute their statistics around the means on
    # Fashion-MNIST (benchmarks/FINDINGS.md): part of the time measured, said once here
    warnings.simplefilter("ignore", SolverFallbackWarning)
    data = load(args.dataset)
    X, y = data.X_train, data.y_train
    factors = []
    for d in (385, 769, 3073):
        result = _median_pairs(lambda d=d: _factor_after_product(X, d), args.repeats)
        factors.append({"d": d, **result})
        print(factors[-1], flush=True)
    fits = []
    for preset in ("instant", "fast"):
        def fit(preset=preset):
            start = time.perf_counter()
            BPLSClassifier.from_preset(preset, image_shape=(28, 28), random_state=0).fit(X, y)
            return (time.perf_counter() - start,)

        fits.append({"preset": preset, **_median_pairs(fit, args.repeats)})
        print(fits[-1], flush=True)
    write_json(args.out, {
        "machine": machine(), "dataset": args.dataset, "repeats": args.repeats,
        "note": "factor: median_0 = cho_factor + cho_solve after a NumPy product, median_1 = "
                "the NumPy product after them; fit: median_0 = the whole fit (seconds)",
        "factor": factors, "fit": fits,
    })


if __name__ == "__main__":
    main()
