"""One interface for every method: ``run(method, data, seed) -> Record``, and ``tune``."""

from __future__ import annotations

import datetime
import functools
import importlib
import math
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import datasets
from ..datasets import Dataset
from ..estimators import PRESETS
from ..features import PATCH_SIZE
from ._closed_form import (
    KFAC_UNITS,
    PATCH_UNITS,
    train_bpls,
    train_elm,
    train_kfac_fast,
    train_ridge,
)
from ._gradient import OPTIMIZERS, train_gradient, train_warm_start
from ._harness import BenchConfig, Record, Recorder, label, machine, peak_memory
from ._report import SCHEMA, claim, frontier, summarize, warm_start

__all__ = ["METHODS", "Method", "benchmark", "hidden_for", "run", "tune", "validation_split"]


@dataclass(frozen=True)
class Method:
    """A trainer, the hyper-parameters it is tuned over, and what it shares with the others.

    ``grid`` lists the candidate settings searched on a validation split; one candidate means
    the method is not tuned. ``hidden`` is how many of the configured hidden sizes it uses
    (None: all of them). ``warm_start`` names the gradient method a hybrid continues (it
    starts from BPLS's network); hybrids are neither side of the claim and the frontier but
    have a table of their own.
    """

    name: str
    train: Callable[..., dict[str, Any]]
    grid: tuple[dict[str, Any], ...]
    closed_form: bool
    hidden: int | None
    description: str
    requires: tuple[str, ...] = ()  # modules imported before the clock starts
    fixed_hidden: tuple[int, ...] | None = None  # sizes set by the method, not the config
    warm_start: str | None = None


_ALPHAS = tuple({"alpha": a} for a in (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0))

#: The local receptive fields tuned for the presets and ``bpls-patches``, with the alphas
#: of :func:`_unit_grid`: windowed samples (``init="patches"``) of 4 to 10 and of 7 to
#: 14 pixels on 28 x 28 images, the best on validation for Fashion-MNIST and for MNIST
#: (``benchmarks/study_presets.py --family windows``), and windowed class contrasts of 4 to
#: 10 pixels (``init="contrasts"``), better on Fashion-MNIST and worse on MNIST
#: (``--family contrasts``).
_UNITS = (
    {"init": "contrasts", "patch_size": (0.15, 0.36)},
    {"init": "patches", "patch_size": (0.15, 0.36)},
    {"init": "patches", "patch_size": PATCH_SIZE},
)


def _unit_grid(alpha: float, patch_alphas: tuple[float, ...]) -> tuple[dict[str, Any], ...]:
    """:data:`_UNITS`, class contrasts with alphas 10 and 20 and windowed samples with
    ``patch_alphas`` (a preset's own: alpha 10 put one Fashion-MNIST seed of 3072 windowed
    samples on the slow float64 path), the default (7-14 pixel windowed samples and
    ``alpha``) in the middle, where an untuned run takes it."""
    default = {"init": "patches", "patch_size": PATCH_SIZE, "alpha": alpha}
    rest = [
        p for u in _UNITS
        for a in ((10.0, 20.0) if u["init"] == "contrasts" else patch_alphas)
        if (p := {**u, "alpha": a}) != default
    ]
    middle = (len(rest) + 1) // 2
    return (*rest[:middle], default, *rest[middle:])


METHODS: dict[str, Method] = {
    "bpls": Method(
        "bpls", train_bpls, ({},), True, None,
        "lsqnet's BPLS (BPLSClassifier with its default settings)",
    ),
    **{
        f"bpls-{preset}": Method(
            f"bpls-{preset}", functools.partial(train_bpls, preset=preset),
            _unit_grid(PRESETS[preset]["alpha"], (PRESETS[preset]["alpha"],))
            if PRESETS[preset].get("init") == "auto"
            else ({},), True, None,
            f"BPLSClassifier.from_preset({preset!r})"
            + (", its units (init, patch_size) and alpha chosen on validation"
               if PRESETS[preset].get("init") == "auto" else ""),
            fixed_hidden=PRESETS[preset].get("hidden_layer_sizes"),
        )
        for preset in PRESETS
        if preset != "tabular"  # the tables' preset (lsqnet bench --suite tabular runs it)
    },
    "bpls-patches": Method(
        "bpls-patches", functools.partial(train_bpls, overrides=PATCH_UNITS),
        _unit_grid(10.0, (10.0, 20.0)), True, 1,
        "BPLSClassifier's output layer on ReLU local receptive fields (init='patches' or "
        "'contrasts'), "
        "then three cross-entropy steps (output_iter=3)",
    ),
    "kfac": Method(
        "kfac", functools.partial(train_bpls, overrides=KFAC_UNITS), ({},), True, None,
        "every layer trained by Kronecker-factored least-squares steps "
        "(BPLSClassifier(method='kfac'), softmax output, its default passes)",
    ),
    "kfac-fast": Method(
        "kfac-fast", train_kfac_fast, ({},), True, None,
        "ReLU units, every layer trained by one Kronecker-factored step over a third of the "
        "training rows, the objective and softmax output on half of them "
        "(BPLSClassifier(method='kfac', max_iter=1, method_options=...))",
    ),
    "elm": Method(
        "elm", train_elm, _ALPHAS, True, 1,
        "extreme learning machine: random hidden layer, ridge output layer",
    ),
    "ridge": Method(
        "ridge", train_ridge, _ALPHAS, True, 0, "linear least squares (ridge) on the inputs"
    ),
    **{
        name: Method(
            name, functools.partial(train_gradient, name),
            tuple({"lr": lr} for lr in grid), False, None,
            f"torch.optim.{cls}({', '.join(f'{k}={v}' for k, v in fixed.items())}) "
            f"with mini-batches", ("torch",),
        )
        for name, (cls, fixed, grid) in OPTIMIZERS.items()
    },
    "bpls+adam": Method(
        "bpls+adam", functools.partial(train_warm_start, "adam"),
        tuple({"lr": lr} for lr in OPTIMIZERS["adam"][2]), False, None,
        "BPLS, then torch.optim.Adam from its weights (a warm start)", ("torch",),
        warm_start="adam",
    ),
}
"""Every method ``lsqnet bench`` can run, by name."""


def _method(name: str) -> Method:
    if name not in METHODS:
        valid = ", ".join(repr(m) for m in METHODS)
        raise ValueError(f"unknown method {name!r}; valid methods are {valid}.")
    return METHODS[name]


def hidden_for(method: str, config: BenchConfig) -> tuple[int, ...]:
    """The hidden sizes ``method`` actually trains with under ``config``."""
    m = _method(method)
    if m.fixed_hidden is not None:
        return tuple(m.fixed_hidden)
    return config.hidden if m.hidden is None else config.hidden[: m.hidden]


def run(
    method: str,
    data: Dataset,
    seed: int,
    config: BenchConfig | None = None,
    *,
    dataset: str = "",
    params: dict[str, Any] | None = None,
) -> Record:
    """Train ``method`` on ``data`` with ``seed`` and record time, memory and the test curve.

    ``params`` are the method's hyper-parameters (default: the middle of its grid, or the
    choice of :func:`tune`). BLAS threads are limited to ``config.threads`` for the run.
    Warnings raised during training are recorded (``Record.warnings``), not shown.
    Modules the method needs are imported before the clock starts; other one-time costs
    (first calls into BLAS or torch) are not: :func:`benchmark` warms every method up first.
    """
    from threadpoolctl import threadpool_limits

    m = _method(method)
    for module in m.requires:
        importlib.import_module(module)
    config = config or BenchConfig()
    params = dict(m.grid[len(m.grid) // 2] if params is None else params)
    cfg = replace(config, hidden=hidden_for(method, config))
    rec = Recorder(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with threadpool_limits(limits=config.threads), peak_memory() as memory:
            rec.start()
            info = m.train(data, seed, cfg, params, rec)
    last = rec.curve[-1]
    return Record(
        method=method,
        dataset=dataset,
        seed=seed,
        hidden=cfg.hidden,
        params=info["params"],
        info={k: v for k, v in info.items() if k not in ("params", "loss_name", "status")},
        train_time=last["time"],
        test_accuracy=last["test_accuracy"],
        train_loss=last["train_loss"],
        loss_name=info["loss_name"],
        peak_memory_mib=memory.mib,
        curve=list(rec.curve),
        status=info.get("status", "ok"),
        warnings=_distinct(caught),
    )


def _distinct(caught) -> list[str]:
    """One message per kind of warning: the same text up to its numbers."""
    kinds: dict[tuple[str, str], str] = {}
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        kinds.setdefault((w.category.__name__, re.sub(r"\d[\d.e+-]*", "#", str(w.message))), text)
    return sorted(kinds.values())


def validation_split(data: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """Hold out a stratified ``fraction`` of the training data as the "test" part."""
    from sklearn.model_selection import train_test_split

    X_fit, X_val, y_fit, y_val = train_test_split(
        data.X_train, data.y_train, test_size=fraction, stratify=data.y_train,
        random_state=seed,
    )
    return Dataset(X_fit, y_fit, X_val, y_val)


def tune(method: str, data: Dataset, config: BenchConfig | None = None) -> dict[str, Any]:
    """Choose ``method``'s hyper-parameters on a validation split of the training data.

    Every candidate of the method's grid is trained with seed 0 on the training data minus a
    stratified ``config.val_fraction`` (for ``config.tune_epochs`` epochs, default the full
    budget) and scored by accuracy on the held-out part; the test set is never seen. Returns
    the grid, the scores, the choice and the seconds spent.
    """
    m = _method(method)
    config = config or BenchConfig()
    if len(m.grid) == 1:
        return {"grid": list(m.grid), "scores": [], "chosen": dict(m.grid[0]), "time": 0.0}
    split = validation_split(data, config.val_fraction)
    cfg = replace(config, epochs=config.tune_epochs or config.epochs)
    start = time.perf_counter()
    scores = []
    for params in m.grid:
        record = run(method, split, 0, cfg, params=params)
        ok = record.status == "ok" and math.isfinite(record.test_accuracy)
        scores.append(record.test_accuracy if ok else 0.0)
    best = int(np.argmax(scores))  # ties go to the first (smallest) candidate
    return {
        "grid": [dict(p) for p in m.grid],
        "scores": scores,
        "chosen": dict(m.grid[best]),
        "epochs": cfg.epochs,
        "val_fraction": config.val_fraction,
        "time": time.perf_counter() - start,
    }


def benchmark(
    dataset: str,
    *,
    methods: Sequence[str] = tuple(METHODS),
    hidden: Sequence[tuple[int, ...]] = ((256,),),
    config: BenchConfig | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    tune_params: bool = True,
    budgets: Sequence[float] = (0.5, 1.0, 2.0, 5.0, 10.0),
    data: Dataset | None = None,
    data_home: str | None = None,
    command: str = "",
    progress: bool = False,
) -> dict[str, Any]:
    """Tune, then train every method on ``dataset`` for every seed; return the results payload.

    ``hidden`` lists the architectures: each method runs once per entry (ridge, which has no
    hidden layer, once in all). Hyper-parameters are tuned per method and architecture on a
    validation split (:func:`tune`), or the middle of each grid is used when ``tune_params``
    is False. Each method is warmed up once, untimed, on a few samples. The runs are ordered
    seed by seed, so a change of machine load during the benchmark touches every method.
    ``progress`` draws a tqdm bar of the runs on standard error, naming the run under way
    and the test accuracy, time and training loss of the one before.
    """
    from tqdm.auto import tqdm

    config = config or BenchConfig()
    for name in methods:
        _method(name)
    if not methods or not hidden or not seeds:
        raise ValueError("benchmark needs at least one method, one architecture and one seed.")
    if data is None:
        data = datasets.load(dataset, data_home=data_home)
    if config.image_shape is None and dataset in datasets.IMAGE_SHAPES:
        config = replace(config, image_shape=datasets.IMAGE_SHAPES[dataset])
    if not np.issubdtype(data.y_train.dtype, np.integer):
        raise ValueError(
            f"dataset {dataset!r} is a regression problem; lsqnet bench compares classifiers "
            f"(digits, mnist, fashion-mnist, xor)."
        )
    variants: dict[str, tuple[str, BenchConfig]] = {}
    for sizes in hidden:
        cfg = replace(config, hidden=tuple(sizes))
        for name in methods:
            variants.setdefault(label(name, hidden_for(name, cfg)), (name, cfg))
    n_jobs = len(variants) * (1 + len(seeds) + int(tune_params))
    records: list[Record] = []
    tuning: dict[str, Any] = {}
    tiny = Dataset(data.X_train[:256], data.y_train[:256], data.X_test[:64], data.y_test[:64])
    with tqdm(total=n_jobs, desc=f"lsqnet bench {dataset}", disable=not progress,
              leave=False) as bar:
        for key, (name, cfg) in variants.items():
            bar.set_postfix_str(f"tune {key}")
            if tune_params:
                tuning[key] = tune(name, data, cfg)
                bar.update()
            else:
                grid = METHODS[name].grid
                tuning[key] = {"grid": list(grid), "scores": [],
                                 "chosen": dict(grid[len(grid) // 2]), "time": 0.0}
            run(name, tiny, 0, replace(cfg, epochs=1, max_iter=1),
                params=tuning[key]["chosen"])  # warm-up, untimed
            bar.update()
        last = ""  # the result of the run before: its test accuracy, time and loss
        for seed in seeds:
            for key, (name, cfg) in variants.items():
                bar.set_postfix_str(f"{key} seed {seed}{last}")
                record = run(name, data, seed, cfg, dataset=dataset, params=tuning[key]["chosen"])
                records.append(record)
                last = (f"; last: {key} {100 * record.test_accuracy:.2f} % in "
                        f"{record.train_time:.2f} s, {record.loss_name} loss "
                        f"{record.train_loss:.4g}")
                bar.update()
    closed_form = [m for m in METHODS if METHODS[m].closed_form]
    pure = [r for r in records if METHODS[r.method].warm_start is None]
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "dataset": dataset,
        "n_train": int(data.X_train.shape[0]),
        "n_test": int(data.X_test.shape[0]),
        "n_features": int(data.X_train.shape[1]),
        "methods": list(methods),
        "hidden": [list(h) for h in hidden],
        "seeds": list(seeds),
        "budgets": list(budgets),
        "config": {**config.to_dict(), "hidden": None},
        "machine": machine(config.threads),
        "closed_form": closed_form,
        "tuning": tuning,
        "records": [r.to_dict() for r in records],
        "summary": summarize(records),
        "claim": claim(pure, closed_form),
        "frontier": frontier(pure, closed_form, budgets),
        "warm_start": warm_start(
            records, {m: METHODS[m].warm_start for m in METHODS if METHODS[m].warm_start}
        ),
    }
