"""Peak memory of a default fit on a large table: 500,000 x 20 float64 (80 MB).

Each configuration runs in a fresh process: the data are generated block by block into
preallocated arrays, the process's peak resident memory (``ru_maxrss``) is read, the
estimator is fitted, and the peak is read again; the difference is the fit's peak above the
data. Configurations: the default ``LSQRegressor()`` (``batch_size="auto"``: data in memory
read in blocks when every layer's activations for all rows would outgrow it), the same with
the data kept whole (``batch_size=None``), and ``batch_size=50000``. The target is a nonlinear
function of the inputs (a sum of sines and products); the score is R^2 on 50,000 more rows.
Run with::

    python benchmarks/bench_memory.py [--rows 500000] [--out results/memory.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from _common import machine, write_json

CONFIGS = {
    "LSQRegressor()": {},
    "LSQRegressor(batch_size=None)": {"params": {"batch_size": None}},
    "LSQRegressor(batch_size=50000)": {"params": {"batch_size": 50000}},
}


def make_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of N(0, 1) inputs and a nonlinear target, written block by block."""
    rng = np.random.default_rng(seed)
    X, y = np.empty((n, d)), np.empty(n)
    for start in range(0, n, 50_000):
        rows = slice(start, min(start + 50_000, n))
        X[rows] = rng.standard_normal((rows.stop - rows.start, d))
        block = X[rows]
        y[rows] = (np.sin(block[:, 0]) + block[:, 1] * block[:, 2]
                   + 0.5 * np.sin(2 * block[:, 3]) * block[:, 4]
                   + 0.1 * rng.standard_normal(rows.stop - rows.start))
    return X, y


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def child(config: str, rows: int) -> None:
    from lsqnet import LSQRegressor

    spec = CONFIGS[config]
    X, y = make_data(rows, 20, seed=0)
    X_test, y_test = make_data(50_000, 20, seed=1)
    model = LSQRegressor(random_state=0, **spec.get("params", {}))
    before = peak_bytes()
    start = time.perf_counter()
    model.fit(X, y)
    elapsed = time.perf_counter() - start
    after = peak_bytes()
    print(json.dumps({
        "config": config, "rows": rows, "data_bytes": X.nbytes + y.nbytes,
        "peak_above_data_bytes": after - before, "fit_time_s": elapsed,
        "test_r2": float(model.score(X_test, y_test)),
        "blocks_of_rows": model._automatic_batch_size(X) or model.batch_size,
        "method": model.method_, "alpha": model.alpha_,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.rows)
    records = []
    for config in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", config, "--rows", str(args.rows)],
            check=True, capture_output=True, text=True,
        ).stdout
        record = json.loads(out.strip().splitlines()[-1])
        record["peak_over_data"] = record["peak_above_data_bytes"] / record["data_bytes"]
        records.append(record)
        print(f"{config:32s} peak above data {record['peak_above_data_bytes'] / 2**20:8.1f} MiB"
              f" ({record['peak_over_data']:.2f} x the data), fit {record['fit_time_s']:.1f} s,"
              f" test R^2 {record['test_r2']:.4f}", flush=True)
    write_json(args.out, {"machine": machine(), "records": records})


if __name__ == "__main__":
    main()
