"""Peak memory of a BPLS fit from a NumPy memmap, against the number of samples.

Writes a float32 memmap of ``--n-max`` rows x 784 (MNIST's training images repeated, each
copy with its own small pixel noise, so the fit has real work to do; 2,000,000 rows are
about 6 GB on disk), then fits ``BPLSClassifier(hidden_layer_sizes=(256,),
batch_size=...)`` on its first n rows for every n of ``--sizes``, each fit in a fresh Python
process, and records that process's peak resident memory (``VmHWM``, which counts the
memmap's pages while they are mapped), its resident memory before the fit, the fit time, the
passes over the data and the MNIST test accuracy. ``--in-memory N`` adds the same fit with
the first N rows loaded into memory (no ``batch_size``), for comparison.

Usage::

    LSQNET_DATA=../shared/datasets python benchmarks/bench_streaming.py \\
        --out benchmarks/results/streaming.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import machine, write_json

N_FEATURES = 784


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def write_memmap(path: Path, n: int, seed: int = 0) -> None:
    from lsqnet.datasets import load

    data = load("mnist")
    rng = np.random.default_rng(seed)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, N_FEATURES))
    labels = np.empty(n, dtype=np.int64)
    m = data.X_train.shape[0]
    for start in range(0, n, m):
        stop = min(start + m, n)
        noise = rng.normal(0.0, 0.05, size=(stop - start, N_FEATURES)).astype(np.float32)
        X[start:stop] = np.clip(data.X_train[: stop - start] + noise, 0.0, 1.0)
        labels[start:stop] = data.y_train[: stop - start]
        X.flush()
    del X
    np.save(path.with_suffix(".labels.npy"), labels)


def child(args: argparse.Namespace) -> None:
    from lsqnet import BPLSClassifier
    from lsqnet.datasets import load

    test = load("mnist")
    mm = np.load(args.data, mmap_mode="r")
    y = np.load(Path(args.data).with_suffix(".labels.npy"))[: args.n]
    X = mm[: args.n]
    batch = args.batch_size
    if args.memory:
        X = np.array(X)
        batch = None
    clf = BPLSClassifier(hidden_layer_sizes=(256,), max_iter=args.max_iter, tol=0.0,
                         batch_size=batch, random_state=0)
    before = vm_kib("VmRSS")
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "n_samples": args.n, "in_memory": args.memory, "batch_size": batch,
        "peak_rss_mib": round(vm_kib("VmHWM") / 1024, 1),
        "rss_before_fit_mib": round(before / 1024, 1),
        "fit_seconds": round(seconds, 1),
        "passes": clf.history_[-1].get("passes"),
        "sweeps": clf.n_iter_,
        "test_accuracy": round(float(clf.score(test.X_test, test.y_test)), 4),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-max", type=int, default=2_000_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 1_000_000, 2_000_000])
    parser.add_argument("--in-memory", type=int, nargs="*", default=[500_000])
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--max-iter", type=int, default=2)
    parser.add_argument("--dir", default=None, help="folder for the memmap (default: a temp)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "X.npy"
        start = time.perf_counter()
        write_memmap(path, args.n_max)
        print(f"wrote {path.stat().st_size / 2**30:.2f} GiB in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        runs = [(n, False) for n in args.sizes] + [(n, True) for n in args.in_memory]
        rows = []
        for n, memory in runs:
            cmd = [sys.executable, __file__, "--child", "--data", str(path), "--n", str(n),
                   "--batch-size", str(args.batch_size), "--max-iter", str(args.max_iter)]
            out = subprocess.run(cmd + (["--memory"] if memory else []), check=True,
                                 capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    write_json(args.out, {
        "benchmark": "streaming", "machine": machine(), "n_max": args.n_max,
        "data": "MNIST training images repeated with N(0, 0.05) pixel noise, float32 memmap",
        "model": "BPLSClassifier(hidden_layer_sizes=(256,), tol=0, random_state=0)",
        "runs": rows,
    })


if __name__ == "__main__":
    main()
