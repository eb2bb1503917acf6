"""Which BPLS settings work? Validation accuracy and time of the open choices.

Every configuration trains a 784-256-10 (MNIST, Fashion-MNIST) or 64-256-10 (digits) tanh
network with sigmoid outputs on the training split minus a held-out validation split (the
last 10,000 MNIST training images; 25 % of the digits training data) and reports validation
accuracy, sweeps and fit time. The test sets are not touched. The defaults of
``BPLSClassifier`` are chosen from this table (benchmarks/FINDINGS.md).

    LSQNET_DATA=../shared/datasets python benchmarks/bench_options.py [--datasets digits mnist]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _common import load_idx_dataset, machine, write_json
from lsqnet import BPLSClassifier

CONFIGS = {
    "paper (min_norm, misclassified, alpha=0, U[-1,1])": dict(
        hidden_target="min_norm", iteration_rule="misclassified", alpha=0.0, backprop_ridge=0.0,
        init="uniform",
    ),
    "default (alpha=1)": {},
    "hidden_target=min_norm": dict(hidden_target="min_norm"),
    "iteration_rule=misclassified": dict(iteration_rule="misclassified"),
    "init=uniform": dict(init="uniform"),
    "alpha=1e-3": dict(alpha=1e-3),
    "alpha=0.01": dict(alpha=0.01),
    "alpha=0.1": dict(alpha=0.1),
    "alpha=10": dict(alpha=10.0),
    "alpha=100": dict(alpha=100.0),
    "target_eps=0.1": dict(target_eps=0.1),
    "target_eps=0.001": dict(target_eps=0.001),
    "output_activation=softmax": dict(output_activation="softmax"),
    "max_iter=1": dict(max_iter=1),
    "layer_method=weighted (digits only)": dict(layer_method="weighted"),
}


def splits(name: str):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X_train, _, y_train, _ = train_test_split(
            (X / 16).astype(np.float32), y, test_size=0.25, stratify=y, random_state=0
        )
        return train_test_split(X_train, y_train, test_size=0.25, stratify=y_train, random_state=0)
    X, y, _, _ = load_idx_dataset(name)
    return X[:-10000], X[-10000:], y[:-10000], y[-10000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist", "fashion-mnist"])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        X_fit, X_val, y_fit, y_val = splits(dataset)
        for label, params in CONFIGS.items():
            if "digits only" in label and dataset != "digits":
                continue
            clf = BPLSClassifier(hidden_layer_sizes=(args.hidden,), random_state=0, **params)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                clf.fit(X_fit, y_fit)
                seconds = time.perf_counter() - start
            row = {
                "dataset": dataset, "config": label, "params": params,
                "val_accuracy": float(clf.score(X_val, y_val)), "sweeps": clf.n_iter_,
                "time": seconds, "train_accuracy": clf.history_[-1]["accuracy"],
                "solver": clf.solver_, "warnings": len(caught),
            }
            rows.append(row)
            print(f"{dataset:<14}{label:<52}val {row['val_accuracy']:.4f}  "
                  f"sweeps {row['sweeps']:>2}  {seconds:6.2f}s  solver {clf.solver_}"
                  f"{'  warnings ' + str(len(caught)) if caught else ''}", flush=True)
    write_json(args.out, {"benchmark": "options", "machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
