"""The validation study behind the "fast" and "accurate" presets.

For each configuration, a BPLSClassifier is trained on 90 % of the training set and scored
on the held-out 10 % (stratified, seed 0: ``lsqnet.bench.validation_split``); the test set is
never used. One JSON line per configuration, with the fit time (noisy when other
processes share the machine: use it for orders of magnitude only; ``lsqnet bench`` measures
times properly). ``solver`` and ``fallbacks`` record whether Cholesky fell back to eigh.
``--family samples`` (the default) is the first study, of centred-sample units and BPLS
sweeps; ``--family patches`` the second, of local receptive fields (``init="patches"``) over
widths and ridge penalties, in float32 as the benchmark trains; ``--family cross-entropy``
the third, of the same layers with the output layer then fitted to the softmax
cross-entropy (``output_iter``), recording the validation accuracy after every step;
``--family windows`` the fourth, of the window sizes (``patch_size``) and the threshold
range of the current ``init="patches"``, with the same steps; ``--family contrasts`` the
fifth, of windowed class contrasts (``init="contrasts"``) against windowed samples, and of
their ridge (``contrast_ridge``: :data:`lsqnet.features.contrasts.CONTRAST_RIDGE`); ``--family
ceiling`` the sixth, of 256 windowed units with 40 cross-entropy steps (the 784-256-10
architecture's accuracy with its output layer converged, whatever the time). Usage::

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

import numpy as np

from lsqnet import BPLSClassifier
from lsqnet.bench import validation_split
from lsqnet.datasets import IMAGE_SHAPES, load
from lsqnet.exceptions import SolverFallbackWarning
from lsqnet.features import contrasts


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


def cross_entropy_configurations():
    # the same layers, with the output layer then fitted to the softmax cross-entropy
    # (output_iter steps; the validation accuracy after each is recorded)
    for h in (256, 512, 768, 1024, 1536, 2048, 3072, 4096):
        for alpha in (3.0, 10.0, 20.0, 30.0):
            yield dict(hidden_layer_sizes=(h,), activation="relu", init="patches",
                       max_iter=0, refit_output=True, alpha=alpha, dtype="float32",
                       output_activation="softmax", output_iter=5, tol=0.0)


def window_configurations():
    # the same, with thresholds in [-0.5, 1) standard deviations (PATCH_THRESHOLDS) and three
    # ranges of window sides (patch_size: 7-14, 4-14 and 4-10 pixels on 28 x 28 images)
    for h in (768, 1024, 1536, 2048, 3072, 4096):
        for patch_size in ((0.25, 0.5), (0.15, 0.5), (0.15, 0.36)):
            for alpha in (10.0, 20.0, 40.0):
                yield dict(hidden_layer_sizes=(h,), activation="relu", init="patches",
                           patch_size=patch_size, max_iter=0, refit_output=True, alpha=alpha,
                           dtype="float32", output_activation="softmax", output_iter=5, tol=0.0)


def contrast_configurations():
    # windowed class contrasts against windowed samples, both window ranges, alpha 10 and 20;
    # at 3072 units also the ridge of the contrasts' local fits
    for h in (256, 768, 1024, 3072, 4096):
        for init in ("contrasts", "patches"):
            for patch_size in ((0.15, 0.36), (0.25, 0.5)):
                for alpha in (10.0, 20.0):
                    yield dict(hidden_layer_sizes=(h,), activation="relu", init=init,
                               patch_size=patch_size, max_iter=0, refit_output=True,
                               alpha=alpha, dtype="float32", output_activation="softmax",
                               output_iter=5, tol=0.0)
    for ridge in (0.03, 0.3, 1.0):
        yield dict(hidden_layer_sizes=(3072,), activation="relu", init="contrasts",
                   patch_size=(0.15, 0.36), max_iter=0, refit_output=True, alpha=10.0,
                   dtype="float32", output_activation="softmax", output_iter=5, tol=0.0,
                   contrast_ridge=ridge)


def ceiling_configurations():
    # the paper's architecture (784-256-10) with its output layer taken to convergence
    # (40 cross-entropy steps, no time limit): how far 256 windowed units can go
    for init in ("patches", "contrasts"):
        for patch_size in ((0.15, 0.36), (0.25, 0.5)):
            for alpha in (3.0, 10.0):
                yield dict(hidden_layer_sizes=(256,), activation="relu", init=init,
                           patch_size=patch_size, max_iter=0, refit_output=True,
                           alpha=alpha, dtype="float32", output_activation="softmax",
                           output_iter=40, tol=0.0)


FAMILIES = {
    "samples": configurations, "patches": patch_configurations,
    "cross-entropy": cross_entropy_configurations, "windows": window_configurations,
    "contrasts": contrast_configurations, "ceiling": ceiling_configurations,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("mnist", "fashion-mnist", "digits"))
    parser.add_argument("--family", choices=tuple(FAMILIES), default="samples")
    args = parser.parse_args()
    data = validation_split(load(args.dataset), 0.1)
    default_contrast_ridge = contrasts.CONTRAST_RIDGE
    for cfg in FAMILIES[args.family]():
        params = dict(cfg)
        contrasts.CONTRAST_RIDGE = params.pop("contrast_ridge", default_contrast_ridge)
        clf = BPLSClassifier(random_state=0, image_shape=IMAGE_SHAPES[args.dataset], **params)
        steps = []  # validation accuracy and training time after each step (monitor time excluded)

        def monitor(entry, network, clf=clf, steps=steps):
            out = network.forward(data.X_test)
            accuracy = float(np.mean(clf.classes_[np.argmax(out, axis=1)] == data.y_test))
            steps.append({"val": round(accuracy, 4), "time": round(entry["time"], 2)})

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SolverFallbackWarning)
            start = time.perf_counter()
            clf.fit(data.X_train, data.y_train, monitor=monitor)
            seconds = time.perf_counter() - start
        print(json.dumps({
            "dataset": args.dataset, **cfg, "alpha": clf.alpha,
            "val": round(clf.score(data.X_test, data.y_test), 4),
            "time": round(seconds, 2), "solver": clf.solver_, "fallbacks": len(caught),
            "steps": steps,
        }), flush=True)


if __name__ == "__main__":
    main()
