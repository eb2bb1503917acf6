"""The recommended estimators' width, chosen on validation splits of the tabular suite.

For every data set of ``lsqnet bench --suite tabular`` and seeds 0, 1, 2, ``LSQClassifier`` /
``LSQRegressor`` with 16, 32 and 64 hidden units is fitted on the fit part of
:func:`lsqnet.bench.tabular.train_validation_test` (inputs standardised on it) and scored on
the validation part; the test part is never read. Per width: the median validation score
per data set, how many data sets it is best on (within 0.5 point or 0.005 R^2 of the best
width), and the median fit time. One BLAS thread per fit. Run with::

    python benchmarks/study_defaults.py [--out results/study_defaults.json]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from _common import machine, write_json
from lsqnet import LSQClassifier, LSQRegressor
from lsqnet.bench.tabular import DATASETS, train_validation_test

WIDTHS = (16, 32, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    runs = []
    with threadpool_limits(1):
        for name, spec in DATASETS.items():
            cls = LSQClassifier if spec.task == "classification" else LSQRegressor
            for seed in range(args.seeds):
                part = train_validation_test(name, seed)
                scaler = StandardScaler().fit(part.X_fit)
                X_fit, X_val = scaler.transform(part.X_fit), scaler.transform(part.X_val)
                for width in WIDTHS:
                    est = cls(hidden_layer_sizes=(width,), random_state=seed)
                    start = time.perf_counter()
                    est.fit(X_fit, part.y_fit)
                    seconds = time.perf_counter() - start
                    runs.append(dict(dataset=name, seed=seed, width=width, seconds=seconds,
                                     score=float(est.score(X_val, part.y_val)),
                                     method=est.method_))
                    print(runs[-1], flush=True)
    summary = {}
    for name in DATASETS:
        medians = {w: float(np.median([r["score"] for r in runs
                                       if r["dataset"] == name and r["width"] == w]))
                   for w in WIDTHS}
        summary[name] = medians
    best_counts = {w: sum(m[w] >= max(m.values()) - 0.005 for m in summary.values())
                   for w in WIDTHS}
    times = {w: float(np.median([r["seconds"] for r in runs if r["width"] == w]))
             for w in WIDTHS}
    print("\n| data set | " + " | ".join(f"{w} units" for w in WIDTHS) + " |")
    print("| --- |" + " --- |" * len(WIDTHS))
    for name, medians in summary.items():
        print(f"| {name} | " + " | ".join(f"{medians[w]:.4f}" for w in WIDTHS) + " |")
    print("| within 0.005 of the best width | "
          + " | ".join(str(best_counts[w]) for w in WIDTHS) + " |")
    print("| median fit time (s) | " + " | ".join(f"{times[w]:.3g}" for w in WIDTHS) + " |")
    write_json(args.out, {"machine": machine(), "runs": runs, "validation_medians": summary,
                          "best_counts": best_counts, "median_seconds": times})


if __name__ == "__main__":
    main()
