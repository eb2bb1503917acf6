"""Throughput of Gram accumulation against the float32 matrix multiply of the same BLAS.

For each chunk size c, ``GramStats.from_data(A, B)`` on float32 chunks A (c x d) and B (c x k)
(what every chunked fit computes: ``A^T A`` as one ``syrk``, ``A^T B``, the column sums),
accumulated with ``+`` over ``--rows`` rows, is timed, and its rate is the operation count of
lsqnet's ledger (``A^T A`` of c x d counts c d (d+1), its actual arithmetic) divided by the
time. The reference rate, measured in the same process and interleaved with it, is a float32
``gemm`` of the same data, ``A_i^T @ A_j`` over two different chunks (2 c d^2 flops). The
target is a ratio of at least 0.7; the chunk size of chunked fits (``batch_size``)
is advised from it. The ``syrk`` alone (``A.T @ A`` per chunk, summed) is timed the same way,
to show how much of the gap is the BLAS's symmetric product itself and how much the other
sums (``A^T B`` with few columns and the column sums, each a memory-bound pass over A).
Default sizes are MNIST's: d = 784, k = 10.

Usage::

    python benchmarks/bench_gram.py --out benchmarks/results/gram.json
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

from _common import machine, write_json
from lsqnet import GramStats
from lsqnet._flops import FlopLedger, counting


def accumulate(chunks, targets) -> GramStats:
    total = None
    for A, B in zip(chunks, targets, strict=True):
        part = GramStats.from_data(A, B)
        total = part if total is None else total + part
    return total


def syrk_all(chunks) -> None:
    total = None
    for A in chunks:
        part = A.T @ A
        total = part if total is None else total + part


def gemm_all(chunks) -> None:
    for i, A in enumerate(chunks):
        other = chunks[i - 1]
        other.T @ A


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=240_000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1000, 5000, 20000, 60000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    d, k = args.features, args.targets
    rows = []
    for c in args.chunks:
        n_chunks = max(2, args.rows // c)
        chunks = [rng.random((c, d), dtype=np.float32) for _ in range(n_chunks)]
        targets = [rng.random((c, k), dtype=np.float32) for _ in range(n_chunks)]
        with counting(FlopLedger()) as ledger:
            accumulate(chunks, targets)
        gram_flops = ledger.total
        gemm_flops = 2 * c * d * d * n_chunks
        syrk_flops = c * d * (d + 1) * n_chunks
        runs = {
            "gram": functools.partial(accumulate, chunks, targets),
            "gemm": functools.partial(gemm_all, chunks),
            "syrk": functools.partial(syrk_all, chunks),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        gemm_all(chunks)  # warm-up
        for r in range(args.repeats):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for name in order:
                start = time.perf_counter()
                runs[name]()
                times[name].append(time.perf_counter() - start)
        gram_times, gemm_times = times["gram"], times["gemm"]
        gram_rate = gram_flops / min(gram_times)
        gemm_rate = gemm_flops / min(gemm_times)
        syrk_rate = syrk_flops / min(times["syrk"])
        row = {
            "chunk_rows": c, "chunks": n_chunks,
            "gram_gflops": round(gram_rate / 1e9, 2), "gemm_gflops": round(gemm_rate / 1e9, 2),
            "syrk_gflops": round(syrk_rate / 1e9, 2),
            "ratio": round(gram_rate / gemm_rate, 3),
            "syrk_ratio": round(syrk_rate / gemm_rate, 3),
            "ratio_of_medians": round(
                (gram_flops / statistics.median(gram_times))
                / (gemm_flops / statistics.median(gemm_times)), 3),
        }
        rows.append(row)
        print(row, flush=True)
    write_json(args.out, {
        "benchmark": "gram throughput", "machine": machine(), "features": d, "targets": k,
        "rows": args.rows, "dtype": "float32", "repeats": args.repeats, "results": rows,
    })


if __name__ == "__main__":
    main()
