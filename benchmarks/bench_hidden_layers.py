"""Trained hidden layers on small regression problems: lsqnet's methods against scikit-learn's MLP.

Two problems, each over three seeds, every method in the same run on the same machine:

- the 5-20-1 tanh teacher (:func:`lsqnet.bench.tabular.make_teacher`): inputs N(0, I_5),
  ``y = tanh(X W1 + b1) w2 + 0.05 e`` with ``W1``, ``b1`` and ``w2`` standard normal (the
  seed draws the teacher and the data), 3000 rows, 2000 to train and 1000 to test; the
  network has 64 tanh units
  (``MLPRegressor(hidden_layer_sizes=(64,), activation="tanh", max_iter=2000)``);
- ``make_friedman1(n_samples=5000, noise=0.5)``: a 75/25 split (random_state 0 for the split,
  the seed for the data), inputs standardised on the training part; lsqnet with its default
  width against ``MLPRegressor(hidden_layer_sizes=(256,))``.

For each: test R^2 and fit time (medians over the seeds), and the ratio of lsqnet's time to
the MLP's. ``LSQRegressor()`` is lsqnet's recommended estimator with its defaults (32 units,
``method="auto"``, ``alpha="auto"``). For the teacher the table also gives the noise ceiling,
``1 - 0.05^2 / var(y_test)``: the expected test R^2 of the teacher itself. Run with::

    python benchmarks/bench_hidden_layers.py [--seeds 3] [--out results/hidden_layers.json]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from _common import machine, write_json
from lsqnet import BPLSRegressor, LSQRegressor
from lsqnet.bench.tabular import make_teacher


def teacher(seed: int):
    X, y = make_teacher(3000, NOISE, random_state=seed)
    return X[:2000], y[:2000], X[2000:], y[2000:]


def friedman(seed: int):
    X, y = make_friedman1(n_samples=5000, noise=0.5, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


PROBLEMS = {
    "teacher": (teacher, 64, {"activation": "tanh", "max_iter": 2000}),
    "friedman1": (friedman, 256, {}),
}

#: lsqnet's configurations: name -> (estimator, parameters; ``width``: the problem's width, or
#: the estimator's default).
LSQNET = {
    "bpls": (BPLSRegressor, {"method": "bpls"}, "problem"),
    "lm": (BPLSRegressor, {"method": "lm"}, "problem"),
    "lm (alpha 1e-3)": (BPLSRegressor, {"method": "lm", "alpha": 1e-3}, "problem"),
    "LSQRegressor()": (LSQRegressor, {}, "default"),
    "LSQRegressor(), the problem's width": (LSQRegressor, {}, "problem"),
}

#: The teacher's output noise: no model's expected test R^2 exceeds 1 - NOISE^2 / var(y).
NOISE = 0.05


def timed(make, data):
    X_train, y_train, X_test, y_test = data
    est = make()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return est.score(X_test, y_test), seconds, est


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for problem, (make_data, mlp_width, mlp_params) in PROBLEMS.items():
        for seed in range(args.seeds):
            data = make_data(seed)
            mlp_kw = dict(mlp_params, hidden_layer_sizes=(mlp_width,), random_state=seed)
            r2, seconds, mlp = timed(lambda kw=mlp_kw: MLPRegressor(**kw), data)
            rows.append(dict(problem=problem, seed=seed, method=f"mlp {mlp_width}", r2=r2,
                             seconds=seconds, n_iter=int(mlp.n_iter_)))
            print(rows[-1], flush=True)
            width = 64 if problem == "teacher" else None
            if problem == "teacher":  # the best R^2 the noise allows on this test set
                rows.append(dict(problem=problem, seed=seed, method="noise ceiling",
                                 r2=1 - NOISE**2 / float(np.var(data[3])), seconds=0.0,
                                 n_iter=0))
            for name, (cls, params, which) in LSQNET.items():
                kw = dict(params, random_state=seed)
                if width is not None and which == "problem":
                    kw["hidden_layer_sizes"] = (width,)
                r2, seconds, est = timed(lambda cls=cls, kw=kw: cls(**kw), data)
                rows.append(dict(problem=problem, seed=seed, method=name, r2=r2,
                                 seconds=seconds, n_iter=int(est.n_iter_),
                                 method_=est.method_, alpha_=float(est.alpha_)))
                print(rows[-1], flush=True)
    summary = []
    for problem in PROBLEMS:
        mlp_name = next(r["method"] for r in rows if r["problem"] == problem
                        and r["method"].startswith("mlp"))
        mlp_time = np.median([r["seconds"] for r in rows
                              if r["problem"] == problem and r["method"] == mlp_name])
        extra = ["noise ceiling"] if problem == "teacher" else []
        for method in [*extra, mlp_name, *LSQNET]:
            picked = [r for r in rows if r["problem"] == problem and r["method"] == method]
            med_time = float(np.median([r["seconds"] for r in picked]))
            summary.append(dict(
                problem=problem, method=method,
                r2=float(np.median([r["r2"] for r in picked])), seconds=med_time,
                time_vs_mlp=med_time / mlp_time,
            ))
    print("\n| problem | method | test R^2 (median) | fit time (s) | time / MLP's |")
    print("| --- | --- | --- | --- | --- |")
    for s in summary:
        print(f"| {s['problem']} | {s['method']} | {s['r2']:.4f} | {s['seconds']:.2f} | "
              f"{s['time_vs_mlp']:.2f} |")
    if args.out:
        write_json(args.out, {"machine": machine(), "runs": rows, "summary": summary})


if __name__ == "__main__":
    main()
