"""Long run: many consecutive small fits in one process, watching memory, threads and files.

Runs ``--iterations`` operations (default 1000), cycling through five kinds: fit and predict a
BPLSClassifier, fit and predict a BPLSRegressor, ``fit_layer`` plus a forward pass, ``lstsq``,
and ``model.save`` + ``lsqnet.load`` + predict in a temporary folder (the loaded model must
predict bit-identically). Every operation gets fresh data of a slightly varying size.

Reported (and written to ``--out`` as JSON, atomically): resident memory (``VmRSS`` of
``/proc/self/status``) at the start, after ``--warmup`` iterations (default 100) and at the end,
plus a sample every 100 iterations; Python threads (``threading.active_count()``) and OS
threads (``Threads:`` of ``/proc/self/status``) and open file descriptors
(``/proc/self/fd``) at the start, after the warm-up and at the end; time per kind.

Exits with status 1 if resident memory grows by more than ``--max-rss-growth-mib`` (default
50 MiB) between the warm-up point and the end, if the number of Python threads or open file
descriptors at the end exceeds that at the start, if the number of OS threads at the end
exceeds that after the warm-up (BLAS and OpenMP pools may start lazily during the warm-up),
if the temporary folder holds anything but the model file at the end, or if an operation
gives a wrong result. Not part of the test suite (about 20 s on 2 cores):

    python benchmarks/longrun.py [--iterations 1000] [--out benchmarks/results/longrun.json]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import lsqnet
from lsqnet import BPLSClassifier, BPLSRegressor, fit_layer, lstsq
from lsqnet.exceptions import SolverFallbackWarning, TargetClippingWarning

KINDS = ("classifier", "regressor", "fit_layer", "lstsq", "save_load")
MIB = 1024.0


def _status(key: str) -> int | None:
    """An integer field of /proc/self/status (kB for memory fields); None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float:
    """Resident memory in MiB: VmRSS, else the peak from getrusage (a weaker bound)."""
    gc.collect()
    kib = _status("VmRSS")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / MIB


def snapshot() -> dict[str, Any]:
    """Memory, threads and open file descriptors now."""
    try:
        fds: int | None = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = None
    return {
        "rss_mib": round(rss_mib(), 2),
        "python_threads": threading.active_count(),
        "os_threads": _status("Threads"),
        "open_fds": fds,
    }


def _operation(kind: str, i: int, folder: Path) -> None:
    """One fit-and-use of ``kind`` on fresh data; raises AssertionError on a wrong result."""
    rng = np.random.default_rng(i)
    n = 150 + (i % 7) * 10
    d = 8 + i % 5
    X = rng.standard_normal((n, d))
    if kind == "classifier":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
        clf = BPLSClassifier(hidden_layer_sizes=(24,), max_iter=3, random_state=i).fit(X, y)
        proba = clf.predict_proba(X)
        assert np.isfinite(proba).all() and clf.predict(X).shape == (n,)
    elif kind == "regressor":
        y = np.tanh(X @ rng.standard_normal(d) / np.sqrt(d))
        reg = BPLSRegressor(hidden_layer_sizes=(16, 8), max_iter=3, random_state=i).fit(X, y)
        assert np.isfinite(reg.predict(X)).all()
    elif kind == "fit_layer":
        Y = 1.0 / (1.0 + np.exp(-X[:, :3]))
        layer = fit_layer(X, Y, activation="sigmoid", alpha=1e-3, refine=1)
        assert np.isfinite(layer.forward(X)).all()
    elif kind == "lstsq":
        W = rng.standard_normal((d, 4))
        coef = lstsq(X, X @ W, solver=("auto", "cholesky", "qr", "svd")[i % 4], alpha=1e-8)
        assert np.allclose(coef, W, atol=1e-5)
    else:
        y = np.where(X[:, 0] > 0, "yes", "no")
        model = BPLSClassifier(hidden_layer_sizes=(12,), max_iter=2, random_state=i).fit(X, y)
        path = folder / "model.npz"
        model.save(path)
        loaded = lsqnet.load(path)
        assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def run(iterations: int, warmup: int) -> dict[str, Any]:
    timings = {kind: 0.0 for kind in KINDS}
    counts = {kind: 0 for kind in KINDS}
    samples: list[list[float]] = []
    errors: list[str] = []
    start_wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lsqnet-longrun-") as tmp:
        folder = Path(tmp)
        start = snapshot()
        samples.append([0, start["rss_mib"]])
        warm = start
        with warnings.catch_warnings():
            # Expected on some random problems; they are not what this run watches.
            warnings.simplefilter("ignore", SolverFallbackWarning)
            warnings.simplefilter("ignore", TargetClippingWarning)
            for i in range(1, iterations + 1):
                kind = KINDS[(i - 1) % len(KINDS)]
                t0 = time.perf_counter()
                try:
                    _operation(kind, i, folder)
                except Exception as err:  # recorded, and the run fails
                    errors.append(f"iteration {i} ({kind}): {type(err).__name__}: {err}")
                timings[kind] += time.perf_counter() - t0
                counts[kind] += 1
                if i == warmup:
                    warm = snapshot()
                if i % 100 == 0 or i == iterations:
                    samples.append([i, round(rss_mib(), 2)])
        end = snapshot()
        leftovers = sorted(p.name for p in folder.iterdir() if p.name != "model.npz")
    return {
        "start": start,
        "warm": warm,
        "end": end,
        "rss_samples": samples,
        "leftover_files": leftovers,
        "errors": errors[:20],
        "n_errors": len(errors),
        "wall_time_s": round(time.perf_counter() - start_wall, 3),
        "operations": {
            kind: {
                "count": counts[kind],
                "total_s": round(timings[kind], 4),
                "mean_ms": round(1e3 * timings[kind] / max(counts[kind], 1), 3),
            }
            for kind in KINDS
        },
    }


def check(result: dict[str, Any], max_growth_mib: float) -> list[str]:
    """The reasons the run failed; empty when it passed."""
    start, warm, end = result["start"], result["warm"], result["end"]
    failures = []
    growth = end["rss_mib"] - warm["rss_mib"]
    if growth > max_growth_mib:
        failures.append(
            f"resident memory grew by {growth:.1f} MiB between the warm-up point and the end "
            f"(limit {max_growth_mib:g} MiB)"
        )
    if end["python_threads"] > start["python_threads"]:
        failures.append(
            f"Python threads leaked: {start['python_threads']} at the start, "
            f"{end['python_threads']} at the end"
        )
    if None not in (warm["os_threads"], end["os_threads"]) and end["os_threads"] > warm[
        "os_threads"
    ]:
        failures.append(
            f"OS threads leaked: {warm['os_threads']} after the warm-up, "
            f"{end['os_threads']} at the end"
        )
    if None not in (start["open_fds"], end["open_fds"]) and end["open_fds"] > start["open_fds"]:
        failures.append(
            f"file descriptors leaked: {start['open_fds']} open at the start, "
            f"{end['open_fds']} at the end"
        )
    if result["leftover_files"]:
        failures.append(f"files left in the temporary folder: {result['leftover_files']}")
    if result["n_errors"]:
        failures.append(f"{result['n_errors']} operation(s) failed: {result['errors'][0]}")
    return failures


def _versions() -> dict[str, Any]:
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "lsqnet": lsqnet.__version__,
        "threadpools": [
            {k: info.get(k) for k in ("user_api", "internal_api", "version", "num_threads")}
            for info in threadpool_info()
        ],
    }


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to a temporary file beside ``path``, fsync it, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=_positive_int, default=1000,
                        help="operations to run (default: %(default)s)")
    parser.add_argument("--warmup", type=_positive_int, default=100,
                        help="iterations before the warm measurement (default: %(default)s)")
    parser.add_argument("--max-rss-growth-mib", type=float, default=50.0,
                        help="allowed RSS growth from the warm point to the end "
                             "(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    warmup = min(args.warmup, args.iterations)

    result = run(args.iterations, warmup)
    failures = check(result, args.max_rss_growth_mib)
    start, warm, end = result["start"], result["warm"], result["end"]
    payload = {
        "benchmark": "longrun",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/longrun.py", *(argv or sys.argv[1:])]),
        "iterations": args.iterations,
        "warmup_iterations": warmup,
        "kinds": list(KINDS),
        "max_rss_growth_mib": args.max_rss_growth_mib,
        "rss_growth_warm_to_end_mib": round(end["rss_mib"] - warm["rss_mib"], 2),
        "rss_growth_start_to_end_mib": round(end["rss_mib"] - start["rss_mib"], 2),
        **result,
        "passed": not failures,
        "failures": failures,
        "machine": _versions(),
    }
    print(f"{args.iterations} iterations in {result['wall_time_s']:.1f} s")
    for label, snap in (("start", start), (f"after {warmup}", warm), ("end", end)):
        print(
            f"{label:>10}: RSS {snap['rss_mib']:8.1f} MiB, threads {snap['python_threads']} "
            f"Python / {snap['os_threads']} OS, {snap['open_fds']} open fds"
        )
    print(f"RSS growth warm -> end: {payload['rss_growth_warm_to_end_mib']:+.2f} MiB "
          f"(limit {args.max_rss_growth_mib:g})")
    for kind, stats in result["operations"].items():
        print(f"  {kind:<11} {stats['count']:5d} x {stats['mean_ms']:8.2f} ms")
    if args.out is not None:
        write_json_atomic(args.out, payload)
        print(f"wrote {args.out}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print("PASS" if not failures else "FAIL")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
