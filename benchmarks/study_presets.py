"""The validation study behind the "fast" and "accurate" presets (issue 5).

For each configuration, a BPLSClassifier is trained on 90 % of the training set and scored
on the held-out 10 % (stratified, seed 0: ``lsqnet.bench.validation_split``); the test set is
never used. One JSON line per configuration, with the fit time (noisy when other
processes share the machine: use it for orders of magnitude only; ``lsqnet bench`` measures
times properly). ``solver`` and ``fallbacks`` record whether Cholesky fell back to eigh.
``--family samples`` (the default) is the first study, of centred-sample units and BPLS
sweeps; ``--family patches`` the second, of local receptive fields (``init="patches"``) over
widths and ridge penalties, in float32 as the benchmark trains. Usage::

    LSQNET_DATA=../shared/datasets python benchmarks/study_presets.py mnist \\
        > benchmarks/results/presets_mnist.jsonl
    LSQNET_DATA=../shared/datasets python benchmarks/study_presets.py mnist --family patches \\
        > benchmarks/results/presets_patches_mnist.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

from lsqnet import BPLSClassifier
from lsqnet.bench import validation_split
from lsqnet.datasets import load
from lsqnet.exceptions import SolverFallbackWarning


def configurations():
    # output layer only on a wide layer of centred-sample units (an ELM with data units)
    for h in (1024, 2048, 4096):
        for alpha in (1.0, 10.0, 100.0, 1000.0):
            yield dict(hidden_layer_sizes=(h,), activation="relu", init="samples",
                       max_iter=0, refit_output=True, alpha=alpha)
    for alpha in (10.0, 100.0):
        yield dict(hidden_layer_sizes=(4096,), activation="tanh", init="samples",
                   max_iter=0, refit_output=True, alpha=alpha)
    # BPLS sweeps at the paper's width: lsqnet's defaults, then sample units + output refit
    for it in (1, 3, 10):
        yield dict(hidden_layer_sizes=(256,), max_iter=it, tol=0.0)
        yield dict(hidden_layer_sizes=(256,), init="samples", init_scale=0.5, max_iter=it,
                   tol=0.0, refit_output=True)


def patch_configurations():
    # output layer only on a layer of local receptive fields, from 1/4 s to 10 s of training
    for h in (256, 512, 768, 1024, 1536, 2048, 3072, 4096):
        for alpha in (10.0, 30.0, 100.0):
            yield dict(hidden_layer_sizes=(h,), activation="relu", init="patches",
                       max_iter=0, refit_output=True, alpha=alpha, dtype="float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("mnist", "fashion-mnist", "digits"))
    parser.add_argument("--family", choices=("samples", "patches"), default="samples")
    args = parser.parse_args()
    data = validation_split(load(args.dataset), 0.1)
    family = configurations if args.family == "samples" else patch_configurations
    for cfg in family():
        clf = BPLSClassifier(random_state=0, **cfg)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SolverFallbackWarning)
            start = time.perf_counter()
            clf.fit(data.X_train, data.y_train)
            seconds = time.perf_counter() - start
        print(json.dumps({
            "dataset": args.dataset, **cfg, "alpha": clf.alpha,
            "val": round(clf.score(data.X_test, data.y_test), 4),
            "time": round(seconds, 2), "solver": clf.solver_, "fallbacks": len(caught),
        }), flush=True)


if __name__ == "__main__":
    main()
