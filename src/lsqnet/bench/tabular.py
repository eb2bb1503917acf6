"""The tabular suite of ``lsqnet bench``: small tables, lsqnet beside the usual baselines.

``lsqnet bench --suite tabular`` fits every model of :data:`MODELS` on every data set of
:data:`DATASETS` with the same 75/25 train/test split per seed, in one process, and records
the test score (accuracy, or R² for regressions), the fit's wall time and its peak memory.
:func:`run_suite` returns the JSON-ready payload that :func:`write_results` turns into
``results.json``, ``results.md`` (medians per data set and model under a conclusion
computed from the records, :func:`conclusion`) and ``scores.png``.

Design constraints:

- A data set or a model is one entry of its registry; nothing else names it.
- The data are fixed (generators use ``random_state=0``); a seed chooses the split and the
  models' ``random_state``. :func:`load_split` gives the benchmark's split; anyone choosing
  hyper-parameters uses :func:`train_validation_test`, whose validation part is carved from
  the training part only.
- Every model is a :class:`~sklearn.pipeline.Pipeline` that starts with a
  :class:`~sklearn.preprocessing.StandardScaler`, so its fit (and the time recorded) includes
  the scaling.
- A fit that raises is recorded with its message and the suite goes on.
- Peak memory is measured with :mod:`tracemalloc`, which sees NumPy's array buffers (NumPy
  reports them to it) but not the scratch space of BLAS or OpenMP threads; its per-allocation
  hook slows allocation-heavy Python code slightly, equally for every model.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._harness import machine
from ._report import read_json, write_report

__all__ = [
    "DATASETS",
    "DEFAULT_MODEL",
    "MODELS",
    "QUICK_DATASETS",
    "QUICK_MODELS",
    "SCHEMA",
    "Split",
    "TabularSet",
    "TabularModel",
    "ThreeWaySplit",
    "check_names",
    "conclusion",
    "docs_page",
    "load_split",
    "make_teacher",
    "read_results",
    "run_one",
    "run_suite",
    "summarize",
    "to_markdown",
    "train_validation_test",
    "write_results",
]

SCHEMA = "lsqnet-bench-tabular/1"
"""Version of the tabular suite's ``results.json`` layout."""

TEST_SIZE = 0.25
VALIDATION_FRACTION = 0.2
DATA_SEED = 0  # the generated data sets are the same for every seed
#: Within this much of the better baseline (0.5 accuracy point, or 0.005 R²) counts as on par.
PAR = 0.005
#: More than this below the better baseline (2 accuracy points, or 0.02 R²) counts as behind.
BEHIND = 0.02


# --------------------------------------------------------------------------- data sets


@dataclass(frozen=True)
class TabularSet:
    """A data set of the suite: how to build it and what it is.

    ``build()`` returns ``(X, y)`` (float64 features; integer labels, or float targets);
    ``shape`` is ``X``'s shape and ``n_classes`` the number of classes (None for a
    regression), both checked by the tests against what ``build`` returns.
    """

    name: str
    task: str  # "classification" or "regression"
    build: Callable[[], tuple[np.ndarray, np.ndarray]]
    shape: tuple[int, int]
    n_classes: int | None
    description: str


def _bundled(loader: str) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def build() -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets

        X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
        return np.asarray(X, dtype=np.float64), np.asarray(y)

    return build


def _standardized(y: np.ndarray) -> np.ndarray:
    """The target as z-scores over the whole set: a fixed affine map that is part of the
    data set's definition (R² is unchanged by it; penalties and step sizes are not)."""
    return (y - y.mean()) / y.std()


def _friedman(number: int, **kwargs: Any) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def build() -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets

        make = getattr(sklearn.datasets, f"make_friedman{number}")
        X, y = make(n_samples=5000, random_state=DATA_SEED, **kwargs)
        return X, (y if number == 1 else _standardized(y))

    return build


def _generated(maker: str, **kwargs: Any) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def build() -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets

        X, y = getattr(sklearn.datasets, maker)(random_state=DATA_SEED, **kwargs)
        return np.asarray(X, dtype=np.float64), np.asarray(y)

    return build


def make_teacher(
    n_samples: int = 3000, noise: float = 0.05, random_state: int = DATA_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """A 5-20-1 tanh teacher network's output plus Gaussian noise of standard deviation
    ``noise``, on N(0, I_5) inputs: ``y = tanh(X W1 + b1) w2 + noise e``, with ``W1``, ``b1``
    and ``w2`` standard normal (drawn, then ``X`` and ``e``, from ``random_state``)."""
    rng = np.random.default_rng(random_state)
    W1, b1 = rng.standard_normal((5, 20)), rng.standard_normal(20)
    w2 = rng.standard_normal(20)
    X = rng.standard_normal((n_samples, 5))
    return X, np.tanh(X @ W1 + b1) @ w2 + noise * rng.standard_normal(n_samples)


def _spirals() -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1000 points each (one and a half turns, radius equal to
    the angle), each point moved by Gaussian noise of standard deviation 0.5."""
    rng = np.random.default_rng(DATA_SEED)
    n = 1000
    angle = np.sqrt(rng.uniform(size=n)) * 3 * np.pi
    arm = np.column_stack([angle * np.cos(angle), angle * np.sin(angle)])
    X = np.vstack([arm, -arm]) + 0.5 * rng.standard_normal((2 * n, 2))
    y = np.repeat(np.arange(2), n)
    return X, y


DATASETS: dict[str, TabularSet] = {
    d.name: d for d in (
        TabularSet("iris", "classification", _bundled("load_iris"), (150, 4), 3,
                   "scikit-learn's iris (load_iris)"),
        TabularSet("wine", "classification", _bundled("load_wine"), (178, 13), 3,
                   "scikit-learn's wine (load_wine)"),
        TabularSet("breast_cancer", "classification", _bundled("load_breast_cancer"),
                   (569, 30), 2, "scikit-learn's breast cancer (load_breast_cancer)"),
        TabularSet("digits", "classification", _bundled("load_digits"), (1797, 64), 10,
                   "scikit-learn's 8x8 digits (load_digits)"),
        TabularSet("diabetes", "regression", _bundled("load_diabetes"), (442, 10), None,
                   "scikit-learn's diabetes (load_diabetes), target as it comes"),
        TabularSet("friedman1", "regression", _friedman(1, noise=0.5), (5000, 10), None,
                   "make_friedman1(n_samples=5000, noise=0.5)"),
        TabularSet("friedman2", "regression", _friedman(2), (5000, 4), None,
                   "make_friedman2(n_samples=5000), target standardised"),
        TabularSet("friedman3", "regression", _friedman(3), (5000, 4), None,
                   "make_friedman3(n_samples=5000), target standardised"),
        TabularSet("moons", "classification",
                   _generated("make_moons", n_samples=2000, noise=0.3), (2000, 2), 2,
                   "make_moons(n_samples=2000, noise=0.3)"),
        TabularSet("circles", "classification",
                   _generated("make_circles", n_samples=2000, noise=0.2, factor=0.5),
                   (2000, 2), 2, "make_circles(n_samples=2000, noise=0.2, factor=0.5)"),
        TabularSet("classification", "classification",
                   _generated("make_classification", n_samples=5000, n_features=20,
                              n_informative=10, n_clusters_per_class=3, flip_y=0.01),
                   (5000, 20), 2,
                   "make_classification(n_samples=5000, n_features=20, n_informative=10, "
                   "n_clusters_per_class=3, flip_y=0.01)"),
        TabularSet("teacher", "regression", make_teacher, (3000, 5), None,
                   "a 5-20-1 tanh teacher network with standard normal weights and biases "
                   "on N(0, I) inputs, output noise 0.05 (make_teacher)"),
        TabularSet("spirals", "classification", _spirals, (2000, 2), 2,
                   "two interleaved spirals, 1000 points each, noise 0.5"),
    )
}
"""Every data set of the suite, by name. Generated sets use ``random_state=0``."""


class Split(NamedTuple):
    """A data set's training and test parts (75/25; stratified for classification)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


class ThreeWaySplit(NamedTuple):
    """:class:`Split`'s training part cut into fit and validation parts; the same test."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def check_names(kind: str, names: Iterable[str], valid: Iterable[str]) -> tuple[str, ...]:
    """``names`` without repeats, or a ValueError listing the unknown ones and the valid ones."""
    names = tuple(dict.fromkeys(names))
    valid = tuple(valid)
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise ValueError(
            f"unknown {kind}(s) {', '.join(map(repr, unknown)) or 'none given'}; "
            f"choose from {', '.join(valid)} (comma-separated)"
        )
    return names


def _dataset(name: str) -> TabularSet:
    return DATASETS[check_names("dataset", [name], DATASETS)[0]]


def load_split(name: str, seed: int) -> Split:
    """The benchmark's split of data set ``name`` for ``seed``: 75 % train, 25 % test,
    ``train_test_split(..., random_state=seed)``, stratified for classification."""
    from sklearn.model_selection import train_test_split

    spec = _dataset(name)
    X, y = spec.build()
    stratify = y if spec.task == "classification" else None
    return Split(*_reorder(train_test_split(
        X, y, test_size=TEST_SIZE, random_state=seed, stratify=stratify)))


def _reorder(parts: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    X_a, X_b, y_a, y_b = parts
    return X_a, y_a, X_b, y_b


def train_validation_test(
    name: str, seed: int, validation_fraction: float = VALIDATION_FRACTION
) -> ThreeWaySplit:
    """Fit, validation and test parts of data set ``name`` for ``seed``.

    The test part is :func:`load_split`'s; the validation part is ``validation_fraction``
    of its training part (stratified for classification, ``random_state=seed``), so
    hyper-parameters chosen on it never saw the test part.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(
            f"The 'validation_fraction' parameter of train_validation_test must be a float in "
            f"(0, 1). Got {validation_fraction!r} instead."
        )
    split = load_split(name, seed)
    stratify = split.y_train if DATASETS[name].task == "classification" else None
    X_fit, y_fit, X_val, y_val = _reorder(train_test_split(
        split.X_train, split.y_train, test_size=validation_fraction, random_state=seed,
        stratify=stratify))
    return ThreeWaySplit(X_fit, y_fit, X_val, y_val, split.X_test, split.y_test)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class TabularModel:
    """A model of the suite: ``make(task, seed, n_train)`` returns an unfitted estimator
    (the step after the scaler); ``family`` is ``"lsqnet"`` or ``"baseline"``.
    ``skip(estimator, sizes, n_train)``, given the network's layer sizes (inputs, outputs:
    classes or one) and the training rows, returns why the model is not fitted on that data
    set (recorded as status ``"skipped"``), or None to fit it."""

    name: str
    make: Callable[[str, int, int], Any]
    family: str
    description: str
    skip: Callable[[Any, tuple[int, ...], int], str | None] | None = None


_RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))
MLP_MAX_ITER = 200  # scikit-learn's default
NYSTROEM_COMPONENTS = 1024


def _lsqnet(preset: str | None = None, family: str = "BPLS",
            **params: Any) -> Callable[[str, int, int], Any]:
    def make(task: str, seed: int, n_train: int) -> Any:
        from .. import BPLSClassifier, BPLSRegressor, LSQClassifier, LSQRegressor

        if family == "LSQ":
            cls = LSQClassifier if task == "classification" else LSQRegressor
        else:
            cls = BPLSClassifier if task == "classification" else BPLSRegressor
        if preset is not None:
            return cls.from_preset(preset, random_state=seed, **params)
        return cls(random_state=seed, **params)

    return make


def _mlp(task: str, seed: int, n_train: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPClassifier if task == "classification" else MLPRegressor
    return cls(hidden_layer_sizes=(256,), random_state=seed, max_iter=MLP_MAX_ITER)


def _nystroem(task: str, seed: int, n_train: int) -> Any:
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.pipeline import make_pipeline

    ridge = RidgeClassifierCV if task == "classification" else RidgeCV
    return make_pipeline(
        Nystroem(n_components=min(NYSTROEM_COMPONENTS, n_train), random_state=seed),
        ridge(alphas=_RIDGE_ALPHAS),
    )


def _linear(task: str, seed: int, n_train: int) -> Any:
    from sklearn.linear_model import LogisticRegression, RidgeCV

    if task == "classification":
        return LogisticRegression(max_iter=1000)
    return RidgeCV(alphas=_RIDGE_ALPHAS)


def _hgb(task: str, seed: int, n_train: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (HistGradientBoostingClassifier if task == "classification"
           else HistGradientBoostingRegressor)
    return cls(random_state=seed)


def _lm_too_large(estimator: Any, sizes: tuple[int, int], n_train: int) -> str | None:
    """Levenberg-Marquardt solves a system of the network's parameter count at every step
    (a 30-100-2 network, 3302 parameters, took 90 s on breast cancer on 2 cores): skipped
    above the parameter count up to which ``method='auto'`` may choose it."""
    from ..estimators._base import LM_MAX_PARAMETERS
    from ..training.levenberg_marquardt import n_parameters

    hidden = estimator.get_params()["hidden_layer_sizes"]
    if hidden == "auto":  # the width the fit would take
        hidden = estimator._hidden_sizes(n_train, sizes[0], sizes[1])
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    count = n_parameters((sizes[0], *hidden, sizes[1]))
    if count > LM_MAX_PARAMETERS:
        return (f"Levenberg-Marquardt on {count} parameters (more than method='auto''s "
                f"{LM_MAX_PARAMETERS}) is not run by the suite")
    return None


DEFAULT_MODEL = "lsqnet"
#: The two baselines lsqnet's default is compared with in the conclusion.
REFERENCE_BASELINES = ("mlp", "nystroem-ridge")

MODELS: dict[str, TabularModel] = {
    m.name: m for m in (
        TabularModel("lsqnet", _lsqnet(family="LSQ"), "lsqnet",
                     "LSQClassifier() / LSQRegressor(): lsqnet's recommended defaults at run "
                     "time"),
        TabularModel("lsqnet-bpls", _lsqnet(), "lsqnet",
                     "BPLSClassifier() / BPLSRegressor(): the BPLS estimators' defaults"),
        *(TabularModel(f"lsqnet-{p}", _lsqnet(p), "lsqnet", f"BPLS*.from_preset({p!r})")
          for p in ("instant", "fast", "accurate")),
        TabularModel("lsqnet-lm", _lsqnet(family="LSQ", method="lm"), "lsqnet",
                     "LSQ*(method='lm'): Levenberg-Marquardt on the recommended network, also "
                     "where method='auto' chooses otherwise; skipped on networks of more than "
                     "2000 parameters, where each step's solve takes seconds",
                     skip=_lm_too_large),
        TabularModel("mlp", _mlp, "baseline",
                     f"MLPClassifier / MLPRegressor(hidden_layer_sizes=(256,), "
                     f"max_iter={MLP_MAX_ITER}) (Adam, scikit-learn's defaults otherwise)"),
        TabularModel("nystroem-ridge", _nystroem, "baseline",
                     f"Nystroem(n_components=min({NYSTROEM_COMPONENTS}, n_train)) RBF "
                     f"features + RidgeClassifierCV / RidgeCV (alpha by leave-one-out over "
                     f"10^-3..10^3): random features and a least-squares output"),
        TabularModel("linear", _linear, "baseline",
                     "LogisticRegression(max_iter=1000) / RidgeCV (alpha by leave-one-out "
                     "over 10^-3..10^3)"),
        TabularModel("hgb", _hgb, "baseline",
                     "HistGradientBoostingClassifier / HistGradientBoostingRegressor "
                     "(scikit-learn's defaults)"),
    )
}
"""Every model of the suite, by name, each run as ``Pipeline(StandardScaler(), model)``."""

#: ``--quick``: a small subset that finishes in seconds (tests, a first look).
QUICK_DATASETS = ("iris", "wine", "diabetes")
QUICK_MODELS = ("lsqnet", "mlp", "nystroem-ridge", "linear")


# --------------------------------------------------------------------------- running


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _parameters(estimator: Any) -> dict[str, Any]:
    """The parameters the model was built with (nested for a pipeline, without the step
    objects themselves): what it ran with, whatever the library's defaults are today."""
    params = estimator.get_params(deep=True)
    return _json_safe({k: v for k, v in params.items()
                       if not hasattr(v, "get_params") and k not in ("steps", "memory")})


def _distinct(caught: Iterable[warnings.WarningMessage]) -> list[str]:
    kinds: dict[tuple[str, str], str] = {}
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        kinds.setdefault((w.category.__name__, re.sub(r"\d[\d.e+-]*", "#", str(w.message))),
                         text.splitlines()[0])
    return sorted(kinds.values())


def _fitted_info(estimator: Any) -> dict[str, Any]:
    """What a fitted model (the last step of a pipeline) says about its fit: method,
    iterations, chosen penalty."""
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    info = {}
    for attr in ("method_", "n_iter_", "alpha_", "solver_"):
        value = getattr(estimator, attr, None)
        if value is not None:
            info[attr] = _json_safe(value)
    return info


def run_one(model: str, dataset: str, seed: int, split: Split | None = None) -> dict[str, Any]:
    """Fit ``Pipeline(StandardScaler(), model)`` on ``dataset``'s split for ``seed``; return
    the record: test score, fit time (``time.perf_counter``), peak traced memory of the fit,
    parameters, warnings, and ``status``: ``"ok"``, ``"error"`` (``error`` holds the
    message) or ``"skipped"`` (``error`` says why)."""
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spec = _dataset(dataset)
    m = MODELS[check_names("model", [model], MODELS)[0]]
    split = split if split is not None else load_split(dataset, seed)
    n_train = int(split.X_train.shape[0])
    record: dict[str, Any] = {
        "dataset": dataset, "model": model, "seed": seed, "task": spec.task,
        "metric": "accuracy" if spec.task == "classification" else "r2",
        "n_train": n_train, "n_test": int(split.X_test.shape[0]),
        "n_features": int(split.X_train.shape[1]),
        "score": None, "fit_time": None, "peak_memory_mib": None,
        "status": "ok", "error": None, "warnings": [], "params": {}, "info": {},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = m.make(spec.task, seed, n_train)
            pipeline = make_pipeline(StandardScaler(), estimator)
            record["params"] = _parameters(estimator)
            sizes = (record["n_features"], spec.n_classes or 1)
            reason = m.skip(estimator, sizes, n_train) if m.skip is not None else None
            if reason is not None:
                record.update(status="skipped", error=reason)
                return record
            tracemalloc.start()
            try:
                start = time.perf_counter()
                pipeline.fit(split.X_train, split.y_train)
                record["fit_time"] = time.perf_counter() - start
                record["peak_memory_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            finally:
                tracemalloc.stop()
            predicted = pipeline.predict(split.X_test)
            score = (accuracy_score if spec.task == "classification" else r2_score)(
                split.y_test, predicted)
            record["score"] = float(score)
            record["info"] = _fitted_info(estimator)
        except Exception as err:  # noqa: BLE001 - recorded; the suite goes on
            record["status"] = "error"
            record["error"] = f"{type(err).__name__}: {err}".splitlines()[0]
        record["warnings"] = _distinct(caught)
    return record


def run_suite(
    *,
    datasets: Sequence[str] = tuple(DATASETS),
    models: Sequence[str] = tuple(MODELS),
    seeds: Sequence[int] = (0, 1, 2),
    threads: int | None = 1,
    command: str = "",
    progress: bool = False,
) -> dict[str, Any]:
    """Fit every model on every data set for every seed; return the results payload.

    BLAS and OpenMP use ``threads`` threads in every fit (None: as many as they choose);
    one thread keeps times comparable on a loaded machine, where waiting threads of
    OpenMP and BLAS can slow a small fit tenfold. Each model is first fitted once, untimed,
    on the first data set (imports and the first calls into BLAS happen then). The runs go
    seed by seed, so a change of machine load touches every model.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _run_suite(datasets, models, seeds, threads, command, progress)


def _run_suite(datasets: Sequence[str], models: Sequence[str], seeds: Sequence[int],
               threads: int | None, command: str, progress: bool) -> dict[str, Any]:
    datasets = check_names("dataset", datasets, DATASETS)
    models = check_names("model", models, MODELS)
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("run_suite needs at least one seed.")
    from tqdm.auto import tqdm

    tasks = {DATASETS[d].task for d in datasets}
    for task, name in (("classification", "iris"), ("regression", "friedman2")):
        if task in tasks:  # warm-up, untimed: imports, first BLAS calls
            tiny = Split(*(part[:n] for part, n in zip(load_split(name, 0), (200, 200, 50, 50),
                                                       strict=True)))
            for model in models:
                run_one(model, name, 0, tiny)
    records = []
    load = [_load_average()]
    started = time.perf_counter()
    with tqdm(total=len(seeds) * len(datasets) * len(models), desc="lsqnet bench tabular",
              disable=not progress, leave=False) as bar:
        for seed in seeds:
            for dataset in datasets:
                split = load_split(dataset, seed)
                for model in models:
                    bar.set_postfix_str(f"{dataset} {model} seed {seed}")
                    records.append(run_one(model, dataset, seed, split))
                    bar.update()
    total = time.perf_counter() - started
    load.append(_load_average())
    payload: dict[str, Any] = {
        "schema": SCHEMA,
        "suite": "tabular",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "seeds": list(seeds),
        "test_size": TEST_SIZE,
        "data_seed": DATA_SEED,
        "datasets": {n: {"task": DATASETS[n].task, "shape": list(DATASETS[n].shape),
                         "n_classes": DATASETS[n].n_classes,
                         "description": DATASETS[n].description} for n in datasets},
        "models": {n: {"family": MODELS[n].family, "description": MODELS[n].description}
                   for n in models},
        "memory": "tracemalloc peak of the fit (NumPy buffers included; BLAS scratch not)",
        "threads": threads,
        "machine": machine(threads),
        "total_time": total,
        "load_average": load,  # of the machine (1 minute) at the start and the end
        "records": records,
    }
    payload["summary"] = summarize(records)
    payload["conclusion"] = conclusion(records)
    return payload


def _load_average() -> float | None:
    """The machine's 1-minute load average (other work slows every fit), None if unknown."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- reporting


def _median(values: Sequence[float]) -> float | None:
    """The lower median (a value some run reached), None for no values."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def summarize(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (data set, model): lower medians over the successful seeds of score, fit time and
    peak memory; the seeds that failed or were skipped, and the first message."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    rows = []
    for (dataset, model), group in groups.items():
        ok = [r for r in group if r["status"] == "ok"]
        failed = [r for r in group if r["status"] == "error"]
        skipped = [r for r in group if r["status"] == "skipped"]
        rows.append({
            "dataset": dataset, "model": model, "metric": group[0]["metric"],
            "seeds": len(group), "failed": len(failed), "skipped": len(skipped),
            "error": (failed or skipped)[0]["error"] if failed or skipped else None,
            "score": _median([r["score"] for r in ok]),
            "score_min": min((r["score"] for r in ok), default=None),
            "score_max": max((r["score"] for r in ok), default=None),
            "fit_time": _median([r["fit_time"] for r in ok]),
            "peak_memory_mib": _median([r["peak_memory_mib"] for r in ok]),
        })
    return rows


def conclusion(records: Iterable[dict[str, Any]], model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """How ``model`` compares with the better of MLP(256) and Nyström + ridge, per data set.

    Per data set: ``model``'s median score minus the better baseline median (accuracy or R²;
    0.005 is half an accuracy point), and ``model``'s median fit time over MLP(256)'s. Sets
    where ``model`` or both baselines have no successful run are left out. Returns the
    counts (``on_par``: within :data:`PAR`; ``behind``: more than :data:`BEHIND` below),
    the median time ratio, the per-set rows and the sentence for ``results.md``.
    """
    rows = summarize(records)
    table = {(r["dataset"], r["model"]): r for r in rows}
    per_set = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        own = table.get((dataset, model))
        refs = [table.get((dataset, b)) for b in REFERENCE_BASELINES]
        refs = [r for r in refs if r is not None and r["score"] is not None]
        if own is None or own["score"] is None or not refs:
            continue
        best = max(refs, key=lambda r: r["score"])
        mlp = table.get((dataset, "mlp"))
        ratio = (own["fit_time"] / mlp["fit_time"]
                 if mlp is not None and mlp["fit_time"] and own["fit_time"] is not None
                 else None)
        per_set.append({
            "dataset": dataset, "metric": own["metric"], "score": own["score"],
            "baseline": best["model"], "baseline_score": best["score"],
            "difference": own["score"] - best["score"], "time_ratio": ratio,
        })
    on_par = [s["dataset"] for s in per_set if s["difference"] >= -PAR]
    behind = [s["dataset"] for s in per_set if s["difference"] < -BEHIND]
    ratios = [s["time_ratio"] for s in per_set if s["time_ratio"] is not None]
    median_ratio = float(np.median(ratios)) if ratios else None
    return {
        "model": model, "baselines": list(REFERENCE_BASELINES), "par": PAR, "behind": BEHIND,
        "sets": len(per_set), "on_par": on_par, "behind_sets": behind,
        "median_time_ratio": median_ratio, "per_set": per_set,
        "text": _conclusion_text(model, per_set, on_par, behind, median_ratio),
    }


def _names(items: Sequence[str]) -> str:
    if not items:
        return "none"
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def _conclusion_text(model: str, per_set: list[dict[str, Any]], on_par: list[str],
                     behind: list[str], median_ratio: float | None) -> str:
    if not per_set:
        return (f"No data set has both a successful `{model}` run and one of "
                f"{' or '.join(REFERENCE_BASELINES)}: nothing to compare.")
    n = len(per_set)
    worst = min(per_set, key=lambda s: s["difference"])
    subject = (f"lsqnet's default estimator (`{model}`)" if model == DEFAULT_MODEL
               else f"`{model}`")
    text = (
        f"{subject} was within 0.5 point of accuracy (0.005 R²) of the better of "
        f"{' and '.join(f'`{b}`' for b in REFERENCE_BASELINES)} on {len(on_par)} of {n} "
        f"data sets ({_names(on_par)}); it was more than 2 points (0.02 R²) below on "
        f"{len(behind)} ({_names(behind)}); its largest shortfall was "
        f"{_points(worst['difference'], worst['metric'])} on {worst['dataset']}."
    )
    if median_ratio is not None:
        text += (f" Its median fit time over the data sets was {median_ratio:.3g} times "
                 f"`mlp`'s.")
    return text


def _points(difference: float, metric: str) -> str:
    if metric == "accuracy":
        return f"{100 * difference:+.2f} points"
    return f"{difference:+.4f} R²"


def _score(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}" if metric == "accuracy" else f"{value:.4f}"


def _time(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def to_markdown(results: dict[str, Any], *, title: bool = True) -> str:
    """``results.md``: the conclusion in words, then medians per data set and model."""
    rows = {(r["dataset"], r["model"]): r for r in results["summary"]}
    models = list(results["models"])
    datasets = list(results["datasets"])
    mach = results["machine"]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in mach.get("blas", []))
    lines = []
    if title:
        lines += ["# lsqnet bench: tabular suite", ""]
    lines += [
        results["conclusion"]["text"], "",
        f"Medians (the lower middle value for an even count) over "
        f"{len(results['seeds'])} seed(s) {results['seeds']} of a 75/25 "
        f"train/test split (stratified for classification); every model is "
        f"`Pipeline(StandardScaler(), model)` and its fit time includes the scaling; models "
        f"that take a `random_state` get the seed. Command: "
        f"`{results['command']}`.  ",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, "
        f"{results.get('threads') or 'all'} BLAS/OpenMP thread(s) per fit; Python "
        f"{mach['python']}, NumPy {mach['numpy']}, SciPy {mach['scipy']}, scikit-learn "
        f"{mach['scikit-learn']}, lsqnet {mach['lsqnet']}; BLAS {blas or 'unknown'}"
        + ("." if None in results.get("load_average", [None]) else
           f"; load average {results['load_average'][0]:.1f} at the start and "
           f"{results['load_average'][1]:.1f} at the end."),
        "",
        "## Test score",
        "",
        "Accuracy (%) for classification, R² for regression; `-`: not run or failed, see "
        "below.",
        "",
        "| data set | " + " | ".join(models) + " |",
        "| --- |" + " ---: |" * len(models),
    ]
    for d in datasets:
        cells = []
        for m in models:
            r = rows.get((d, m))
            cell = "-" if r is None else _score(r["score"], r["metric"])
            if r is not None and r["failed"]:
                cell += f" ({r['failed']} failed)"
            if r is not None and r["skipped"] == r["seeds"]:
                cell = "skipped"
            cells.append(cell)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lsq = [m for m in models if results["models"][m]["family"] == "lsqnet"]
    if lsq and any(m in results["models"] for m in REFERENCE_BASELINES):
        lines += ["", "## lsqnet's models against the better baseline", "",
                  f"Per model, over the data sets where it and one of "
                  f"{' or '.join(f'`{b}`' for b in REFERENCE_BASELINES)} ran: on how many its "
                  f"median score was within 0.5 point (0.005 R²) of the better baseline's, "
                  f"more than 2 points (0.02 R²) below it, and its median fit time over "
                  f"`mlp`'s.", "",
                  "| model | data sets | within 0.5 point | more than 2 points below | "
                  "median time / mlp |", "| --- | ---: | ---: | ---: | ---: |"]
        for m in lsq:
            c = conclusion(results["records"], m)
            lines.append(f"| {m} | {c['sets']} | {len(c['on_par'])} | "
                         f"{len(c['behind_sets'])} | {_time(c['median_time_ratio'])} |")
    lines += ["", "## Fit time (s)", "", "| data set | " + " | ".join(models) + " |",
              "| --- |" + " ---: |" * len(models)]
    for d in datasets:
        lines.append(f"| {d} | " + " | ".join(
            _time(rows[(d, m)]["fit_time"]) if (d, m) in rows else "-" for m in models) + " |")
    lines += ["", "## Peak memory of the fit (MiB, tracemalloc)", "",
              "| data set | " + " | ".join(models) + " |",
              "| --- |" + " ---: |" * len(models)]
    for d in datasets:
        lines.append(f"| {d} | " + " | ".join(
            _time(rows[(d, m)]["peak_memory_mib"]) if (d, m) in rows else "-"
            for m in models) + " |")
    lines += ["", "## Data sets", ""]
    lines += [f"- **{d}** ({info['task']}, {info['shape'][0]} x {info['shape'][1]}): "
              f"{info['description']}" for d, info in results["datasets"].items()]
    lines += ["", "## Models", ""]
    lines += [f"- **{m}**: {info['description']}" for m, info in results["models"].items()]
    warned: dict[tuple[str, str], list[str]] = {}
    for r in results["records"]:
        for w in r["warnings"]:
            warned.setdefault((r["model"], w), []).append(r["dataset"])
    if warned:
        lines += ["", "## Warnings", ""]
        lines += [f"- {m}, {len(sets)} fit(s) ({_names(list(dict.fromkeys(sets)))}): {w}"
                  for (m, w), sets in warned.items()]
    errors = [r for r in results["summary"] if r["failed"] or r["skipped"]]
    if errors:
        lines += ["", "## Failed or skipped fits", ""]
        lines += [f"- {r['dataset']} / {r['model']}: "
                  f"{'failed' if r['failed'] else 'skipped'} on "
                  f"{r['failed'] or r['skipped']} of {r['seeds']} seed(s): {r['error']}"
                  for r in errors]
    return "\n".join(lines) + "\n"


def plot_scores(results: dict[str, Any], ax: Any) -> Any:
    """Per data set, each lsqnet model's median score minus the better of MLP(256) and
    Nyström + ridge against its median fit time over MLP(256)'s (log axis)."""
    records = results["records"]
    lsq = [m for m, info in results["models"].items() if info["family"] == "lsqnet"]
    markers = "osD^vP*X"
    for i, model in enumerate(lsq):
        rows = conclusion(records, model)["per_set"]
        rows = [r for r in rows if r["time_ratio"] is not None]
        if not rows:
            continue
        ax.scatter([r["time_ratio"] for r in rows], [100 * r["difference"] for r in rows],
                   marker=markers[i % len(markers)], s=60 if model == DEFAULT_MODEL else 30,
                   label=model, zorder=3 if model == DEFAULT_MODEL else 2,
                   alpha=1.0 if model == DEFAULT_MODEL else 0.6)
        if model == DEFAULT_MODEL:
            for r in rows:
                ax.annotate(r["dataset"], (r["time_ratio"], 100 * r["difference"]),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axhline(-100 * PAR, color="grey", lw=0.8, ls=":")
    ax.axhline(-100 * BEHIND, color="grey", lw=0.8, ls="--")
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("fit time / MLP(256)'s fit time (median over seeds)")
    ax.set_ylabel("score - best of MLP(256), Nystroem+ridge\n(accuracy points, or 100 x R²)")
    ax.set_title("lsqnet against the better of MLP(256) and Nystroem + ridge, per data set")
    ax.legend(fontsize=8)
    return ax


def write_results(results: dict[str, Any], out: str | os.PathLike, *,
                  plot: bool = True) -> list[Path]:
    """Write ``scores.png`` (if ``plot``), ``results.md`` and ``results.json`` into ``out``,
    each atomically; everything is rendered before the first file is replaced."""
    return write_report(out, results, to_markdown(results), "scores.png",
                        (lambda ax: plot_scores(results, ax)) if plot else None,
                        figsize=(9.5, 5.5), dpi=110)


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a tabular ``results.json`` (or the folder holding it), checking its schema."""
    return read_json(path, SCHEMA)


def docs_page(results: dict[str, Any], image: str, source: str) -> str:
    """The docs page of the tabular suite: the plot and ``results.md``'s tables, generated
    from ``results.json`` (``source``, the path shown) by ``benchmarks/update_readme.py``."""
    return (
        "# Tabular data sets\n\n"
        f"<!-- Written by benchmarks/update_readme.py from {source}: do not edit. -->\n\n"
        "`lsqnet bench --suite tabular` fits lsqnet's estimators (the defaults, the presets, "
        "Levenberg-Marquardt and `method='auto'`) and scikit-learn baselines (MLP with 256 "
        "hidden units, Nystroem random features with a ridge output, a linear model, "
        "histogram gradient boosting) on the same splits of small tables, in one process. "
        "The numbers below are one run on one machine, with the estimators' defaults of "
        "that run (each record in results.json lists the parameters used). Rerun with "
        "`lsqnet bench --suite tabular --out benchmarks/results/tabular`, then "
        "`python benchmarks/update_readme.py`.\n\n"
        f"![score difference against fit-time ratio per data set]({image})\n\n"
        + to_markdown(results, title=False)
    )
