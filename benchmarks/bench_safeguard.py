"""BPLS sweeps with and without the safeguard: test scores on small problems, same run.

The safeguard keeps a sweep only if it lowers the training objective (``safeguard=True``, the
default); without it every sweep is kept and the sweep with the best training accuracy is
returned, as the BPLS paper does. Problems: the 5-20-1 tanh teacher of
``bench_hidden_layers.py`` (``BPLSRegressor(hidden_layer_sizes=(64,))``, test R^2), and iris,
wine (standardised) and digits (/16) with the default ``BPLSClassifier`` (test accuracy,
75/25 stratified split with random_state 0); estimator seeds 0, 1, 2. Run with::

    python benchmarks/bench_safeguard.py [--out results/safeguard.json]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from _common import machine, write_json
from bench_hidden_layers import teacher
from lsqnet import BPLSClassifier, BPLSRegressor


def table(load, scale: bool):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    if scale:
        scaler = StandardScaler().fit(X_train)
        return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test
    return X_train / 16.0, y_train, X_test / 16.0, y_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    problems = {
        "teacher": (lambda seed: teacher(seed), BPLSRegressor, {"hidden_layer_sizes": (64,)}),
        "iris": (lambda seed: table(load_iris, True), BPLSClassifier, {}),
        "wine": (lambda seed: table(load_wine, True), BPLSClassifier, {}),
        "digits": (lambda seed: table(load_digits, False), BPLSClassifier, {}),
    }
    rows = []
    for name, (make, cls, params) in problems.items():
        for seed in range(3):
            X_train, y_train, X_test, y_test = make(seed)
            for safeguard in (False, True):
                est = cls(random_state=seed, safeguard=safeguard, **params)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(X_train, y_train)
                objectives = [e["objective"] for e in est.history_ if "objective" in e]
                rows.append(dict(problem=name, seed=seed, safeguard=safeguard,
                                 score=est.score(X_test, y_test), n_iter=est.n_iter_,
                                 objectives=objectives))
                print(rows[-1], flush=True)
    print("\n| problem | score, every sweep kept (seeds 0/1/2) | score, safeguard | medians |")
    print("| --- | --- | --- | --- |")
    for name in problems:
        off = [r["score"] for r in rows if r["problem"] == name and not r["safeguard"]]
        on = [r["score"] for r in rows if r["problem"] == name and r["safeguard"]]
        print(f"| {name} | {' / '.join(f'{s:.3f}' for s in off)} | "
              f"{' / '.join(f'{s:.3f}' for s in on)} | "
              f"{np.median(off):.3f} -> {np.median(on):.3f} |")
    if args.out:
        write_json(args.out, {"machine": machine(), "runs": rows})


if __name__ == "__main__":
    main()
