"""The recommended estimators' regularisation on small tables, chosen on validation splits.

For every data set of ``lsqnet bench --suite tabular`` and seeds 0, 1, 2, each model is fitted
on the fit part of :func:`lsqnet.bench.tabular.train_validation_test` (inputs standardised on
it) and scored on the validation part; the test part is never read. Models:

- ``recommended``: ``LSQClassifier()`` / ``LSQRegressor()`` as they are;
- ``penalty once``: the same with ``alpha`` a fixed list of candidates
  (``logspace(-6, 4, 21)``), chosen once by leave-one-out on the initial units and never
  re-estimated (the recommended regressor re-estimates it after every Levenberg–Marquardt
  step by the evidence approximation);
- ``32 units``: the same with ``hidden_layer_sizes=(32,)`` for the classifiers that
  Levenberg–Marquardt trains (the recommended ones are narrower on small tables);
- for the data sets the recommended estimator trains by Kronecker-factored steps
  (``method_ == "kfac"``), whose hidden units are ReLU (``activation="auto"``) and whose
  mini-batches are a tenth of the rows (at most 500): ``kfac tanh`` (tanh units),
  ``kfac 500 rows`` (mini-batches of 500 rows) and ``kfac tanh 500 rows`` (both);
- the suite's two reference baselines, ``mlp`` and ``nystroem-ridge``.

Per model: the median validation score per data set, on how many data sets it is within 0.5
point (0.005 R^2) of the better baseline and more than 2 points below it, and its median fit
time over the MLP's. One BLAS thread per fit. Run with::

    python benchmarks/study_small_tables.py [--out results/small_tables.json]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from _common import machine, write_json
from lsqnet import LSQClassifier, LSQRegressor
from lsqnet.bench.tabular import (
    BEHIND,
    DATASETS,
    MODELS,
    PAR,
    REFERENCE_BASELINES,
    train_validation_test,
)

CANDIDATES = [float(a) for a in np.logspace(-6, 4, 21)]
#: lsqnet's models: their parameters beside the recommended defaults.
LSQ_MODELS = {
    "recommended": {},
    "penalty once": {"alpha": CANDIDATES},
    "32 units": {"hidden_layer_sizes": (32,)},
    "kfac tanh": {"activation": "tanh"},
    "kfac 500 rows": {"method_options": {"batch_size": 500}},
    "kfac tanh 500 rows": {"activation": "tanh", "method_options": {"batch_size": 500}},
}
#: The models fitted only where the recommended estimator's method is the one named (elsewhere
#: they would be the recommended model itself, or not apply).
ONLY_WITH = {"32 units": "lm", "kfac tanh": "kfac", "kfac 500 rows": "kfac",
             "kfac tanh 500 rows": "kfac"}


def _fit(model: str, task: str, seed: int, X, y, recommended_method: str | None):
    """The model fitted, and its fit time; None where it is the recommended model itself or
    does not apply (:data:`ONLY_WITH`; "32 units" for classifiers only)."""
    if model in REFERENCE_BASELINES:
        est = MODELS[model].make(task, seed, X.shape[0])
    else:
        wanted = ONLY_WITH.get(model)
        if wanted is not None and (
            recommended_method != wanted or (model == "32 units" and task != "classification")
        ):
            return None
        cls = LSQClassifier if task == "classification" else LSQRegressor
        est = cls(random_state=seed, **LSQ_MODELS[model])
    start = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    models = [*LSQ_MODELS, *REFERENCE_BASELINES]  # "recommended" first
    runs = []
    warnings.simplefilter("ignore")  # the MLP's ConvergenceWarning at its 200 epochs
    with threadpool_limits(1):
        for name, spec in DATASETS.items():
            for seed in range(args.seeds):
                part = train_validation_test(name, seed)
                scaler = StandardScaler().fit(part.X_fit)
                X_fit, X_val = scaler.transform(part.X_fit), scaler.transform(part.X_val)
                recommended = None
                for model in models:
                    fitted = _fit(model, spec.task, seed, X_fit, part.y_fit,
                                  recommended and recommended["method"])
                    if fitted is None:  # the recommended model itself
                        runs.append({**recommended, "model": model})
                        continue
                    est, seconds = fitted
                    runs.append(dict(dataset=name, seed=seed, model=model, seconds=seconds,
                                     score=float(est.score(X_val, part.y_val)),
                                     method=getattr(est, "method_", None)))
                    recommended = recommended or runs[-1]
                    print(runs[-1], flush=True)

    def median(name, model, key):
        return float(np.median([r[key] for r in runs
                                if r["dataset"] == name and r["model"] == model]))

    scores = {name: {m: median(name, m, "score") for m in models} for name in DATASETS}
    ratios = {name: {m: median(name, m, "seconds") / median(name, "mlp", "seconds")
                     for m in models} for name in DATASETS}
    summary = {}
    for m in LSQ_MODELS:
        gaps = [s[m] - max(s[b] for b in REFERENCE_BASELINES) for s in scores.values()]
        summary[m] = dict(
            within=sum(g >= -PAR for g in gaps), behind=sum(g < -BEHIND for g in gaps),
            median_time_over_mlp=float(np.median([r[m] for r in ratios.values()])),
        )
    print("\n| data set | " + " | ".join(models) + " |")
    print("| --- |" + " ---: |" * len(models))
    for name, row in scores.items():
        print(f"| {name} | " + " | ".join(f"{row[m]:.4f}" for m in models) + " |")
    for key, label in (("within", "within 0.5 point of the better baseline"),
                       ("behind", "more than 2 points below it"),
                       ("median_time_over_mlp", "median fit time / mlp's")):
        cells = [f"{summary[m][key]:.3g}" if m in summary else "" for m in models]
        print(f"| {label} | " + " | ".join(cells) + " |")
    write_json(args.out, {"machine": machine(), "runs": runs, "validation_medians": scores,
                          "time_over_mlp": ratios, "summary": summary})


if __name__ == "__main__":
    main()
