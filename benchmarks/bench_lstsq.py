"""Overhead of ``lsqnet.lstsq(solver="cholesky")`` over the bare BLAS/LAPACK work it needs.

Two ways to solve the same least-squares problem, timed in one process and interleaved (their
order alternates from one repeat to the next), so that drift of a shared machine (frequency,
neighbours, caches) affects both equally:

(a) the bare work of a Cholesky least-squares solve: ``G = A.T @ A`` (a BLAS ``syrk``),
    ``R = A.T @ B`` (``gemm``), ``scipy.linalg.cho_factor(G)`` (``potrf``) and
    ``scipy.linalg.cho_solve(c, R)`` (``potrs``), without finiteness checks;
(b) ``lsqnet.lstsq(A, B, solver="cholesky")``: the same work plus argument checks, the column
    sums of the statistics, and the condition estimate behind the fallback.

The data imitate MNIST: ``d - 1`` features uniform in [0, 1) from a seeded generator plus a
column of ones (785 = 784 pixels + bias), and one-hot targets of ``k`` classes. The
target is a ratio (b)/(a) of at most 1.2.

numpy and scipy wheels each bundle their own OpenBLAS with its own thread pool. Idle OpenBLAS
threads spin for a while before sleeping, so on a machine with few cores a scipy LAPACK call
right after a numpy BLAS call (and the reverse) competes with the other pool's spinning threads.
Both (a) and (b) mix the two libraries in the same way; the JSON records the BLAS environment
variables, e.g. ``OPENBLAS_THREAD_TIMEOUT=4`` (shortest spin), under which the effect goes away.

Usage::

    python benchmarks/bench_lstsq.py                       # n=60000 d=785 k=10 float32
    python benchmarks/bench_lstsq.py --dtype float64 --out benchmarks/results/lstsq_f64.json
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
from threadpoolctl import threadpool_info

import lsqnet

TARGET_RATIO = 1.2
BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT", "MKL_NUM_THREADS")


def make_data(n: int, d: int, k: int, dtype: np.dtype, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``A`` (n, d): uniform [0, 1) features and a last column of ones; ``B`` (n, k): one-hot."""
    rng = np.random.default_rng(seed)
    A = np.empty((n, d), dtype)
    A[:, :-1] = rng.random((n, d - 1), dtype=dtype)
    A[:, -1] = 1
    B = np.zeros((n, k), dtype)
    B[np.arange(n), rng.integers(0, k, n)] = 1
    return A, B


def bare_cholesky(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, float]:
    """(a): the solution, and the seconds spent in the Gram product alone."""
    start = time.perf_counter()
    G = A.T @ A
    gram_seconds = time.perf_counter() - start
    R = A.T @ B
    c = scipy.linalg.cho_factor(G, lower=False, overwrite_a=True, check_finite=False)
    return scipy.linalg.cho_solve(c, R, overwrite_b=True, check_finite=False), gram_seconds


def lsqnet_cholesky(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(b)."""
    return lsqnet.lstsq(A, B, solver="cholesky")


def timed(fn, *args):
    gc.collect()
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def summary_of(seconds: list[float]) -> dict:
    return {"min_s": min(seconds), "median_s": statistics.median(seconds), "all_s": seconds}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_info() -> list[dict]:
    keys = (
        "user_api",
        "internal_api",
        "version",
        "num_threads",
        "threading_layer",
        "architecture",
        "filepath",
    )
    libs = []
    for lib in threadpool_info():
        path = lib.get("filepath") or ""
        owner = next(
            (pkg for pkg in ("numpy", "scipy", "scikit_learn") if f"{pkg}.libs" in path), ""
        )
        libs.append({"loaded_by": owner or "other", **{key: lib.get(key) for key in keys}})
    return libs


def run(args: argparse.Namespace) -> dict:
    dtype = np.dtype(args.dtype)
    A, B = make_data(args.n, args.d, args.k, dtype, args.seed)

    # One untimed call of each: first-touch page faults, BLAS buffers, imports.
    W_bare, _ = bare_cholesky(A, B)
    W_lsqnet = lsqnet_cholesky(A, B)

    bare, ours, gram = [], [], []
    for repeat in range(args.repeats):
        for which in ("bare", "lsqnet") if repeat % 2 == 0 else ("lsqnet", "bare"):
            if which == "bare":
                seconds, (_, gram_seconds) = timed(bare_cholesky, A, B)
                bare.append(seconds)
                gram.append(gram_seconds)
            else:
                seconds, _ = timed(lsqnet_cholesky, A, B)
                ours.append(seconds)

    n, d, k = args.n, args.d, args.k
    syrk_flops = n * d * (d + 1)  # d(d+1)/2 distinct entries, 2n flops each
    gemm_equivalent_flops = 2 * n * d * d
    result = {
        "config": {
            "n": n,
            "d": d,
            "k": k,
            "dtype": dtype.name,
            "repeats": args.repeats,
            "seed": args.seed,
            "order": "interleaved, alternating (a, b) / (b, a)",
        },
        "bare": summary_of(bare),
        "lsqnet": summary_of(ours),
        "gram_product": {
            **summary_of(gram),
            "gflops_syrk_count": syrk_flops / min(gram) / 1e9,
            "gflops_gemm_equivalent": gemm_equivalent_flops / min(gram) / 1e9,
        },
        "ratio_min": min(ours) / min(bare),
        "ratio_median": statistics.median(ours) / statistics.median(bare),
        "target_ratio": TARGET_RATIO,
        "max_relative_difference": float(
            np.linalg.norm(W_lsqnet - W_bare) / np.linalg.norm(W_bare)
        ),
        "machine": {
            "cpu": cpu_model(),
            "blas": blas_info(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            # numpy and scipy each bundle an OpenBLAS with its own thread pool; how long idle
            # threads spin (OPENBLAS_THREAD_TIMEOUT) decides whether the two pools collide.
            "env": {name: os.environ.get(name) for name in BLAS_ENV},
        },
        "versions": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "lsqnet": lsqnet.__version__,
        },
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return result


def describe_pool(lib: dict) -> str:
    name = " ".join(str(x) for x in (lib["internal_api"], lib["version"]) if x)
    details = ", ".join(x for x in (f"{lib['num_threads']} threads", lib["architecture"]) if x)
    return f"{lib['loaded_by']}: {name} ({details})"


def format_summary(r: dict) -> str:
    c, g = r["config"], r["gram_product"]
    blas = "; ".join(describe_pool(lib) for lib in r["machine"]["blas"])
    env = ", ".join(f"{k}={v}" for k, v in r["machine"]["env"].items() if v) or "no BLAS env set"
    verdict = "met" if r["ratio_min"] <= r["target_ratio"] else "NOT met"
    return "\n".join(
        [
            f"lstsq(solver='cholesky') vs bare BLAS/LAPACK: n={c['n']} d={c['d']} k={c['k']} "
            f"{c['dtype']}, {c['repeats']} repeats each, interleaved",
            f"  (a) bare syrk+gemm+potrf+potrs: min {r['bare']['min_s']:.4f} s  "
            f"median {r['bare']['median_s']:.4f} s",
            f"  (b) lsqnet.lstsq:               min {r['lsqnet']['min_s']:.4f} s  "
            f"median {r['lsqnet']['median_s']:.4f} s",
            f"  ratio (b)/(a): min {r['ratio_min']:.3f}  median {r['ratio_median']:.3f}  "
            f"(target <= {r['target_ratio']}: {verdict})",
            f"  Gram product A.T @ A: min {g['min_s']:.4f} s = "
            f"{g['gflops_syrk_count']:.0f} GFLOP/s counting n*d*(d+1) (syrk), "
            f"{g['gflops_gemm_equivalent']:.0f} GFLOP/s gemm-equivalent (2*n*d^2)",
            f"  solutions agree to {r['max_relative_difference']:.1e} (relative)",
            f"  CPU: {r['machine']['cpu']}; thread pools: {blas}",
            f"  numpy {r['versions']['numpy']}, scipy {r['versions']['scipy']}, "
            f"python {r['machine']['python']}; {env}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60000, help="samples (default 60000)")
    parser.add_argument("--d", type=int, default=785, help="features incl. bias (default 785)")
    parser.add_argument("--k", type=int, default=10, help="targets (default 10)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls of each (default 7)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.n < 1 or args.d < 2 or args.k < 1 or args.repeats < 1:
        parser.error("need n >= 1, d >= 2, k >= 1 and repeats >= 1")

    result = run(args)
    print(format_summary(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"  written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
