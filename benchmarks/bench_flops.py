"""Is BPLS's wall time proportional to its counted operations?

Fits BPLS networks of several sizes (a fixed number of sweeps: tol=0), records the counted
flops (``flops_``) and the wall time (best of ``--repeats``), and fits time = c * flops by
least squares through the origin. Reports c (as GFLOP/s), R^2 and each point's ratio of
measured to predicted time.

    python benchmarks/bench_flops.py [--repeats 3] [--out results/flops.json]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from _common import best_time, machine, write_json
from lsqnet import BPLSClassifier, count_flops

SIZES = [  # (n_samples, n_features, hidden)
    (2000, 64, (64,)),
    (5000, 128, (128,)),
    (10000, 256, (256,)),
    (20000, 256, (512,)),
    (20000, 512, (256, 128)),
    (40000, 784, (256,)),
    (60000, 784, (512,)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rows = []
    for n, d, hidden in SIZES:
        X = rng.random((n, d), dtype=np.float32)
        y = (X[:, : d // 2].sum(1) > X[:, d // 2 :].sum(1)).astype(int) + 2 * (X[:, 0] > 0.5)
        clf = BPLSClassifier(
            hidden_layer_sizes=hidden, max_iter=args.sweeps, tol=0.0, alpha=1.0, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fallback would make the count inexact
            t_min, t_med = best_time(lambda clf=clf, X=X, y=y: clf.fit(X, y), args.repeats)
        predicted = count_flops(
            [h["n_samples"] for h in clf.history_], (d, *hidden, 4), alpha=1.0,
            classification=True,
        )
        assert predicted == clf.flops_ and clf.flops_exact_, "count_flops disagrees with the ledger"
        rows.append({"n": n, "sizes": [d, *hidden, 4], "sweeps": clf.n_iter_, "flops": clf.flops_,
                     "time_min": t_min, "time_median": t_med})
        print(f"n={n:>6} sizes={[d, *hidden, 4]!s:<20} sweeps={clf.n_iter_} "
              f"flops={clf.flops_:.3e} time={t_min:.3f}s ({clf.flops_ / t_min / 1e9:.1f} GFLOP/s)")

    f = np.array([r["flops"] for r in rows], dtype=float)
    t = np.array([r["time_min"] for r in rows])
    c = float(f @ t / (f @ f))  # seconds per flop, least squares through the origin
    r2 = 1.0 - float(np.sum((t - c * f) ** 2) / np.sum((t - t.mean()) ** 2))
    for r in rows:
        r["ratio_measured_to_fit"] = r["time_min"] / (c * r["flops"])
    print(f"time = flops / {1 / c / 1e9:.1f} GFLOP/s;  R^2 = {r2:.4f};  measured/fitted ratios: "
          + ", ".join(f"{r['ratio_measured_to_fit']:.2f}" for r in rows))
    write_json(args.out, {"benchmark": "flops", "machine": machine(), "rows": rows,
                          "gflops_fit": 1 / c / 1e9, "r2": r2})


if __name__ == "__main__":
    main()
