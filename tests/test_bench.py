"""Tests for lsqnet.bench: the configuration, run() for every method, tuning, the summaries
(on hand-built records with known answers), benchmark() and the result files.

Everything trains on the bundled digits data with one hidden layer of 16 units, 1 to 3 epochs
or sweeps and one thread, so that the whole file runs in seconds. Torch on the CPU with a fixed
thread count is deterministic here, which the determinism tests rely on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

import lsqnet.bench._gradient as gradient_module
import lsqnet.estimators._base as estimators_module
import lsqnet.plotting
from lsqnet import datasets
from lsqnet.bench import (
    METHODS,
    OPTIMIZERS,
    SCHEMA,
    BenchConfig,
    Record,
    Recorder,
    accuracy_at,
    benchmark,
    build_model,
    claim,
    frontier,
    hidden_for,
    label,
    read_results,
    run,
    summarize,
    time_to_reach,
    to_markdown,
    tune,
    warm_start,
    write_results,
)
from lsqnet.bench._closed_form import KFAC_FAST, KFAC_UNITS, PATCH_UNITS
from lsqnet.datasets import Dataset
from lsqnet.estimators import PRESETS
from lsqnet.features import PATCH_SIZE
from lsqnet.network import init_network
from lsqnet.plotting import plot_frontier

matplotlib.use("Agg")  # no display: pyplot picks its backend at the first figure

GRADIENT = [m for m in METHODS if not METHODS[m].closed_form]
CLOSED_FORM = [m for m in METHODS if METHODS[m].closed_form]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return datasets.load("digits")


@pytest.fixture(scope="module")
def config() -> BenchConfig:
    return BenchConfig(hidden=(16,), epochs=2, max_iter=3, threads=1, image_shape=(8, 8))


def canonical(payload) -> str:
    """The payload as JSON text: tuples become lists, NaN compares equal to NaN."""
    return json.dumps(payload, sort_keys=True, allow_nan=True)


def temp_files(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------------------------
# BenchConfig


def test_config_defaults_are_valid():
    cfg = BenchConfig()
    assert cfg.hidden == (256,) and cfg.loss == "cross_entropy" and cfg.init == "default"
    assert cfg.to_dict()["hidden"] == (256,)


@pytest.mark.parametrize(
    "kwargs, error, field",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"threads": -1}, ValueError, "threads"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"tune_epochs": 0}, ValueError, "tune_epochs"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction"),
        ({"loss": "hinge"}, ValueError, "loss"),
        ({"init": "xavier"}, ValueError, "init"),
        ({"activation": "swish"}, ValueError, "activation"),
        ({"hidden": [16]}, ValueError, "hidden"),
        ({"hidden": (16, 0)}, ValueError, "hidden"),
        ({"hidden": (16.0,)}, ValueError, "hidden"),
        ({"hidden": (True,)}, ValueError, "hidden"),
        ({"hidden": 16}, ValueError, "hidden"),
    ],
)
def test_config_errors_name_the_field(kwargs, error, field):
    with pytest.raises(error, match=f"The '{field}' parameter of BenchConfig"):
        BenchConfig(**kwargs)


def test_config_option_errors_list_the_valid_values():
    with pytest.raises(ValueError, match="'cross_entropy', 'mse'"):
        BenchConfig(loss="l1")
    with pytest.raises(ValueError, match="'default', 'auto', 'uniform', 'fan_in'"):
        BenchConfig(init="zeros")


def test_label_and_hidden_for():
    assert label("adam", (256,)) == "adam 256"
    assert label("bpls", (256, 128)) == "bpls 256-128"
    assert label("ridge", ()) == "ridge"
    cfg = BenchConfig(hidden=(8, 4))
    assert hidden_for("bpls", cfg) == (8, 4)
    assert hidden_for("adam", cfg) == (8, 4)
    assert hidden_for("elm", cfg) == (8,)
    assert hidden_for("ridge", cfg) == ()
    assert hidden_for("bpls-paper", cfg) == (8, 4)  # the paper preset leaves the sizes open
    assert hidden_for("bpls-fast", cfg) == PRESETS["fast"]["hidden_layer_sizes"]
    with pytest.raises(ValueError, match="unknown method 'lbfgs'; valid methods are 'bpls'"):
        hidden_for("lbfgs", cfg)


# ---------------------------------------------------------------------------------------------
# run() for every method


@pytest.mark.parametrize("method", list(METHODS))
def test_run_records_every_method(method, digits, config):
    record = run(method, digits, 1, config, dataset="digits")
    assert isinstance(record, Record)
    assert record.method == method and record.dataset == "digits" and record.seed == 1
    assert record.status == "ok"
    assert math.isfinite(record.test_accuracy) and 0.0 <= record.test_accuracy <= 1.0
    assert record.test_accuracy > 0.3  # far above the 10 % of chance, even this briefly trained
    assert record.train_time > 0 and record.train_time == record.curve[-1]["time"]
    assert record.test_accuracy == record.curve[-1]["test_accuracy"]
    assert record.train_loss == record.curve[-1]["train_loss"]
    times = [p["time"] for p in record.curve]
    assert times == sorted(times)
    assert record.peak_memory_mib is None or record.peak_memory_mib >= 0
    steps = [p["step"] for p in record.curve]
    params = record.params
    if method in GRADIENT:
        assert steps == list(range(config.epochs + 1))  # step 0: the untrained network
        assert math.isnan(record.curve[0]["train_loss"])
        grid = METHODS[method].grid
        assert params["lr"] == grid[len(grid) // 2]["lr"]
        optimizer = METHODS[method].warm_start or method
        assert params["optimizer"] == f"torch.optim.{OPTIMIZERS[optimizer][0]}"
        assert params["batch_size"] == config.batch_size
        assert record.loss_name == "cross_entropy"
    elif method == "kfac":  # every step, then the returned network
        assert steps == [*range(1, steps[-1] + 1), steps[-1]]
        assert {k: params[k] for k in KFAC_UNITS} == KFAC_UNITS
        assert params["hidden_layer_sizes"] == config.hidden
        assert record.loss_name == "mse"
    elif method == "kfac-fast":  # one step over a third of the rows, then the returned network
        assert steps == [1, 1]
        fixed = {k: v for k, v in KFAC_FAST.items() if k != "method_options"}
        assert {k: params[k] for k in fixed} == fixed
        n = len(digits.X_train)
        assert params["method_options"] == {
            **KFAC_FAST["method_options"], "batches_per_step": max(1, round(n / 3 / 500)),
            "eval_rows": round(n / 2),
        }
        assert params["hidden_layer_sizes"] == config.hidden
    elif method.startswith("bpls"):
        sweeps = steps[-1]
        # sweeps, the output refit, the cross-entropy steps
        assert 1 <= sweeps <= params["max_iter"] + params["refit_output"] + params["output_iter"]
        assert steps == [*range(1, sweeps + 1), sweeps]  # every step, then the returned net
        assert params["hidden_layer_sizes"] == hidden_for(method, config)
        assert params["random_state"] == 1
        preset = method.partition("-")[2]
        if method == "bpls-patches":  # the output layer on windows of the config's width
            assert {k: params[k] for k in PATCH_UNITS} == PATCH_UNITS
            # the middle of its grid
            assert (params["alpha"], params["init"], params["patch_size"]) == (
                10.0, "patches", PATCH_SIZE
            )
        elif preset:  # the preset's settings win over the config's
            assert params["preset"] == preset
            # the preset's, but for its units: the middle of the windows tuned on images
            expected = dict(PRESETS[preset])
            if expected.get("init") == "auto":
                expected["init"] = "patches"
            assert {k: params[k] for k in PRESETS[preset]} == expected
            assert params["patch_size"] == PATCH_SIZE
            assert params["image_shape"] == config.image_shape
        else:
            assert params["max_iter"] == config.max_iter
            assert params["init"] == "fan_in" and params["activation"] == "tanh"
        assert record.loss_name == "mse"
    else:
        assert steps == [1]
        assert params == {"alpha": 1.0}  # the middle of the grid
        assert record.loss_name == "mse"
    assert record.hidden == hidden_for(method, config)
    assert record.label == label(method, record.hidden)
    assert all(isinstance(w, str) for w in record.warnings)


def test_run_with_params_uses_them(digits, config):
    record = run("ridge", digits, 0, config, params={"alpha": 100.0})
    assert record.params == {"alpha": 100.0}
    weak = run("ridge", digits, 0, config, params={"alpha": 1e-3})
    assert weak.test_accuracy != record.test_accuracy


def test_run_records_warnings_instead_of_showing_them(digits, config, monkeypatch):
    ridge = METHODS["ridge"]

    def noisy_train(*args, **kwargs):
        warnings.warn("first", UserWarning, stacklevel=1)
        warnings.warn("first", UserWarning, stacklevel=1)
        warnings.warn("second", RuntimeWarning, stacklevel=1)
        return ridge.train(*args, **kwargs)

    monkeypatch.setitem(METHODS, "ridge", dataclasses.replace(ridge, train=noisy_train))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        record = run("ridge", digits, 0, config)
    assert shown == []
    assert record.warnings == ["RuntimeWarning: second", "UserWarning: first"]
    assert record.status == "ok"


def test_run_unknown_method_lists_the_valid_ones(digits):
    with pytest.raises(ValueError, match="unknown method 'lbfgs'") as info:
        run("lbfgs", digits, 0)
    for name in METHODS:
        assert repr(name) in str(info.value)


def test_recorder_excludes_evaluation_time():
    data = Dataset(np.zeros((2, 3)), np.zeros(2, int), np.zeros((4, 3)), np.array([0, 1, 0, 1]))
    rec = Recorder(data)
    rec.start()

    def slow_predict(X):
        time.sleep(0.2)
        return np.zeros(len(X), dtype=int)

    assert rec.point(1, slow_predict, 0.25) == 0.5
    assert rec.elapsed() < 0.1  # the 0.2 s of evaluation are not training time
    assert rec.curve == [
        {"step": 1, "time": rec.curve[0]["time"], "test_accuracy": 0.5, "train_loss": 0.25}
    ]
    assert 0 <= rec.curve[0]["time"] < 0.1
    rec.start()  # a restart clears the curve and the clock
    assert rec.curve == [] and rec.elapsed() < 0.1


@pytest.mark.parametrize("method", ["bpls", "elm", "ridge", "adam"])
def test_same_seed_gives_identical_results(method, digits, config):
    a = run(method, digits, 2, config)
    b = run(method, digits, 2, config)
    assert a.test_accuracy == b.test_accuracy
    assert [p["test_accuracy"] for p in a.curve] == [p["test_accuracy"] for p in b.curve]
    assert canonical([p["train_loss"] for p in a.curve]) == canonical(
        [p["train_loss"] for p in b.curve]
    )
    assert canonical(a.params) == canonical(b.params)


def test_seeds_change_random_methods_only(digits, config):
    for method in ("elm", "adam"):
        a, b = run(method, digits, 0, config), run(method, digits, 1, config)
        assert a.train_loss != b.train_loss
    a, b = run("ridge", digits, 0, config), run("ridge", digits, 1, config)
    assert a.train_loss == b.train_loss and a.test_accuracy == b.test_accuracy


@pytest.mark.parametrize("init", ["fan_in", "uniform"])
def test_build_model_copies_lsqnet_initial_weights(init):
    sizes = (64, 16, 10)
    model = build_model(sizes, "tanh", init, 3)
    network = init_network(sizes, "tanh", "identity", init, np.random.default_rng(3), np.float32)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 and isinstance(model[1], torch.nn.Tanh) and len(model) == 3
    for linear, layer in zip(linears, network.layers, strict=True):
        assert_array_equal(linear.weight.detach().numpy().T, layer.weight)
        assert_array_equal(linear.bias.detach().numpy(), layer.bias)
    # PyTorch's own initialisation is something else.
    default = build_model(sizes, "tanh", "default", 3)
    assert not np.array_equal(default[0].weight.detach().numpy().T, network.layers[0].weight)


def test_build_model_rejects_activations_without_a_torch_module():
    with pytest.raises(ValueError, match="'swish' has no PyTorch module.*'tanh'"):
        build_model((4, 3, 2), "swish", "default", 0)


def test_warm_start_starts_from_the_bpls_network(digits, config):
    record = run("bpls+adam", digits, 0, config)
    params = record.params
    assert params["start"] == "bpls" and 1 <= params["bpls_sweeps"] <= config.max_iter
    bpls = run("bpls", digits, 0, config)
    # step 0 is BPLS's network: the same test accuracy as BPLS alone, at BPLS's time
    assert record.curve[0]["test_accuracy"] == bpls.test_accuracy
    assert record.curve[0]["time"] > 0
    assert record.test_accuracy > 0.8


@pytest.mark.parametrize("init", ["fan_in", "uniform"])
def test_bpls_and_adam_start_from_the_same_network(init, digits, monkeypatch):
    start = {}
    real_init, real_build = estimators_module.init_network, gradient_module.build_model

    def spy_init(*args, **kwargs):
        network = real_init(*args, **kwargs)
        start["bpls"] = [(layer.weight.copy(), layer.bias.copy()) for layer in network.layers]
        return network

    def spy_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        start["adam"] = [
            (m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, torch.nn.Linear)
        ]
        return model

    monkeypatch.setattr(estimators_module, "init_network", spy_init)
    monkeypatch.setattr(gradient_module, "build_model", spy_build)
    cfg = BenchConfig(hidden=(16,), init=init, epochs=1, max_iter=1, threads=1)
    run("bpls", digits, 5, cfg)
    run("adam", digits, 5, cfg)
    assert len(start["bpls"]) == len(start["adam"]) == 2
    for (w1, b1), (w2, b2) in zip(start["bpls"], start["adam"], strict=True):
        assert w1.shape == w2.shape
        assert_array_equal(w1, w2)
        assert_array_equal(b1, b2)


def test_mse_loss_trains(digits):
    cfg = BenchConfig(hidden=(32,), epochs=3, loss="mse", threads=1)
    record = run("adam", digits, 0, cfg, params={"lr": 1e-2})
    assert record.status == "ok" and record.loss_name == "mse"
    assert record.params["loss"] == "mse"
    losses = [p["train_loss"] for p in record.curve[1:]]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    assert record.test_accuracy > record.curve[0]["test_accuracy"] + 0.3


def test_diverging_learning_rate_is_a_status_not_an_exception(digits):
    cfg = BenchConfig(hidden=(16,), epochs=3, loss="mse", threads=1)
    record = run("sgd", digits, 0, cfg, params={"lr": 1e6})
    assert record.status == "diverged"
    assert not math.isfinite(record.train_loss)
    assert len(record.curve) < cfg.epochs + 1  # training stopped early
    assert 0.0 <= record.test_accuracy <= 1.0


def test_evals_per_epoch_adds_curve_points(digits):
    cfg = BenchConfig(hidden=(16,), epochs=2, evals_per_epoch=3, threads=1)
    record = run("sgd", digits, 0, cfg)
    steps = [p["step"] for p in record.curve]
    assert len(steps) == 1 + 2 * 3
    assert steps[0] == 0 and steps[-1] == 2 and steps[3] == 1
    assert all(a < b for a, b in zip(steps, steps[1:], strict=False))


def test_elm_without_hidden_layer_is_a_clear_error(digits):
    with pytest.raises(ValueError, match="hidden"):
        run("elm", digits, 0, BenchConfig(hidden=(), threads=1))


# ---------------------------------------------------------------------------------------------
# tune()


def test_tune_chooses_the_best_validation_score(digits, config):
    result = tune("ridge", digits, config)
    grid = [dict(p) for p in METHODS["ridge"].grid]
    assert result["grid"] == grid
    assert len(result["scores"]) == len(grid)
    assert all(0.0 <= s <= 1.0 for s in result["scores"])
    assert result["chosen"] == grid[int(np.argmax(result["scores"]))]
    assert result["val_fraction"] == config.val_fraction and result["time"] > 0


def test_tune_a_method_without_a_grid_is_free(digits, config):
    assert tune("bpls", digits, config) == {"grid": [{}], "scores": [], "chosen": {},
                                             "time": 0.0}


def test_tune_uses_tune_epochs(digits):
    cfg = BenchConfig(hidden=(16,), epochs=5, tune_epochs=1, threads=1)
    result = tune("adam", digits, cfg)
    assert result["epochs"] == 1
    assert result["chosen"] == result["grid"][int(np.argmax(result["scores"]))]


@pytest.mark.parametrize("method", ["ridge", "elm", "adam"])
def test_tune_never_looks_at_the_test_set(method, digits):
    cfg = BenchConfig(hidden=(16,), epochs=1, threads=1)
    garbage = Dataset(
        digits.X_train, digits.y_train,
        np.full_like(digits.X_test, np.nan), np.full_like(digits.y_test, -1),
    )
    clean, dirty = tune(method, digits, cfg), tune(method, garbage, cfg)
    assert clean["scores"] == dirty["scores"]
    assert clean["chosen"] == dirty["chosen"]
    assert max(clean["scores"]) > 0.3


# ---------------------------------------------------------------------------------------------
# Summaries on hand-built records


def make_record(method, seed, points, hidden=(8,), status="ok", memory=None, loss=0.5,
                warned=()):
    """A record whose curve is ``points``: (step, time, test accuracy) triples."""
    curve = [
        {"step": s, "time": t, "test_accuracy": a, "train_loss": loss} for s, t, a in points
    ]
    return Record(
        method=method, dataset="toy", seed=seed, hidden=hidden, params={"x": seed},
        train_time=points[-1][1], test_accuracy=points[-1][2], train_loss=loss,
        loss_name="mse", peak_memory_mib=memory, curve=curve, status=status,
        warnings=list(warned),
    )


@pytest.fixture
def records() -> list[Record]:
    return [
        make_record("bpls", 0, [(1, 1.0, 0.875)], memory=10.0),
        make_record("bpls", 1, [(1, 2.0, 0.75)], memory=30.0),
        make_record("ridge", 0, [(1, 0.25, 0.625)], hidden=()),
        make_record("ridge", 1, [(1, 0.25, 0.625)], hidden=()),
        make_record("adam", 0, [(0, 0.0, 0.125), (1, 0.5, 0.5), (2, 1.5, 0.875),
                                (3, 3.0, 0.9375)], loss=0.25),
        make_record("adam", 1, [(0, 0.0, 0.125), (1, 1.0, 0.625), (2, 4.0, 0.6875)],
                    status="diverged", loss=0.75, warned=["UserWarning: w"]),
        make_record("sgd", 0, [(0, 0.0, 0.125), (1, 2.0, 0.875)]),
        make_record("sgd", 1, [(0, 0.0, 0.125), (1, 2.0, 0.8125)]),
        make_record("nag", 0, [(0, 0.0, 0.125), (1, 0.75, 0.96875)], hidden=(4,)),
    ]


def test_accuracy_at_and_time_to_reach():
    r = make_record("adam", 0, [(0, 0.0, 0.125), (1, 1.0, 0.875), (2, 2.0, 0.5),
                                (3, 3.0, 0.9375)])
    assert accuracy_at(r, -1.0) is None
    assert accuracy_at(r, 0.0) is None  # the untrained network (step 0) does not count
    assert accuracy_at(r, 0.999) is None
    assert accuracy_at(r, 1.0) == 0.875  # the budget is inclusive
    assert accuracy_at(r, 2.5) == 0.5  # the last model within the budget, not the best
    assert accuracy_at(r, 100.0) == 0.9375
    assert time_to_reach(r, 0.875) == 1.0  # reaching means >=
    assert time_to_reach(r, 0.9) == 3.0
    assert time_to_reach(r, 0.0) == 1.0  # nor here
    assert time_to_reach(r, 0.95) is None


def test_summarize(records):
    rows = {row["label"]: row for row in summarize(records)}
    assert list(rows) == ["bpls 8", "ridge", "adam 8", "sgd 8", "nag 4"]
    adam = rows["adam 8"]
    assert adam["method"] == "adam" and adam["hidden"] == [8] and adam["seeds"] == [0, 1]
    assert adam["test_accuracy"] == {"median": 0.6875, "min": 0.6875, "max": 0.9375}
    assert adam["train_time"] == {"median": 3.0, "min": 3.0, "max": 4.0}
    assert adam["train_loss"] == {"median": 0.25, "min": 0.25, "max": 0.75}
    assert adam["peak_memory_mib"] == {"median": None, "min": None, "max": None}
    assert adam["steps"] == 2  # the lower median of 3 and 2 steps
    assert adam["status"] == ["diverged", "ok"]
    assert adam["warnings"] == ["UserWarning: w"] and rows["sgd 8"]["warnings"] == []
    assert adam["params"] == {"x": 0} and adam["loss_name"] == "mse"
    bpls = rows["bpls 8"]
    assert bpls["peak_memory_mib"] == {"median": 10.0, "min": 10.0, "max": 30.0}
    assert bpls["test_accuracy"] == {"median": 0.75, "min": 0.75, "max": 0.875}
    assert rows["ridge"]["hidden"] == [] and rows["ridge"]["status"] == ["ok"]
    assert rows["nag 4"]["seeds"] == [0] and rows["nag 4"]["steps"] == 1


def test_claim(records):
    rows = claim(records, CLOSED_FORM)
    # Closed-form methods are not compared; nag 4 has no BPLS of its size.
    assert [row["label"] for row in rows] == ["adam 8", "sgd 8"]
    adam, sgd = rows
    assert adam["method"] == "adam" and adam["seeds"] == 2 and adam["reached"] == 1
    assert adam["per_seed"] == [
        {"seed": 0, "bpls_accuracy": 0.875, "bpls_time": 1.0, "time_to_reach": 1.5,
         "time_ratio": 1.5, "accuracy_at_bpls_time": 0.5},
        {"seed": 1, "bpls_accuracy": 0.75, "bpls_time": 2.0, "time_to_reach": None,
         "time_ratio": None, "accuracy_at_bpls_time": 0.625},
    ]
    # Lower medians over the two seeds, None (never reached) sorted lowest.
    assert adam["time_ratio"] is None
    assert adam["accuracy_at_bpls_time"] == 0.5
    assert adam["bpls_accuracy"] == 0.75 and adam["bpls_time"] == 1.0
    assert sgd["reached"] == 2 and sgd["seeds"] == 2
    assert [s["time_ratio"] for s in sgd["per_seed"]] == [2.0, 1.0]
    assert sgd["time_ratio"] == 1.0
    assert sgd["accuracy_at_bpls_time"] is None  # seed 0 had only its untrained network


def test_claim_without_bpls_is_empty(records):
    assert claim([r for r in records if r.method != "bpls"], CLOSED_FORM) == []


def test_frontier(records):
    rows = frontier(records, CLOSED_FORM, (0.1, 0.5, 1.0, 2.0))
    assert [row["budget"] for row in rows] == [0.1, 0.5, 1.0, 2.0]
    # 0.1 s: no trained model on either side (untrained networks do not count).
    assert rows[0] == {"budget": 0.1, "closed_form": None, "gradient": None, "verdict": "-"}
    # 0.5 s: ridge; adam has a trained model in one seed of two: lower median None.
    assert rows[1] == {"budget": 0.5, "closed_form": {"label": "ridge", "accuracy": 0.625},
                       "gradient": None, "verdict": "-"}
    # 1 s: BPLS has one seed of two done, so its lower median is None; nag 4 leads.
    assert rows[2] == {"budget": 1.0, "closed_form": {"label": "ridge", "accuracy": 0.625},
                       "gradient": {"label": "nag 4", "accuracy": 0.96875}, "verdict": "lost"}
    assert rows[3]["closed_form"] == {"label": "bpls 8", "accuracy": 0.75}
    assert rows[3]["gradient"] == {"label": "nag 4", "accuracy": 0.96875}


def test_frontier_ties_and_missing_sides():
    records = [make_record("ridge", 0, [(1, 1.0, 0.5)], hidden=()),
               make_record("adam", 0, [(1, 2.0, 0.5)])]
    rows = frontier(records, CLOSED_FORM, (0.5, 1.0, 2.0))
    assert [row["verdict"] for row in rows] == ["-", "-", "tied"]
    assert rows[0]["closed_form"] is None and rows[0]["gradient"] is None
    assert rows[1]["closed_form"] == {"label": "ridge", "accuracy": 0.5}
    assert rows[1]["gradient"] is None
    assert rows[2]["gradient"] == {"label": "adam 8", "accuracy": 0.5}


def test_record_dict_round_trip(records):
    for r in records:
        data = json.loads(json.dumps(r.to_dict()))
        assert data["label"] == r.label and data["hidden"] == list(r.hidden)
        assert Record.from_dict(data) == r


# ---------------------------------------------------------------------------------------------
# benchmark() and the result files


@pytest.fixture(scope="module")
def payload():
    cfg = BenchConfig(epochs=2, max_iter=3, threads=1)
    return benchmark(
        "digits", methods=("bpls", "ridge", "adam"), hidden=[(16,)], config=cfg, seeds=(0, 1),
        command="lsqnet bench --test",
    )


def test_benchmark_payload(payload):
    assert payload["schema"] == SCHEMA == "lsqnet-bench/1"
    assert payload["dataset"] == "digits" and payload["command"] == "lsqnet bench --test"
    assert (payload["n_train"], payload["n_test"], payload["n_features"]) == (1347, 450, 64)
    assert payload["methods"] == ["bpls", "ridge", "adam"]
    assert payload["hidden"] == [[16]] and payload["seeds"] == [0, 1]
    assert payload["config"]["hidden"] is None and payload["config"]["epochs"] == 2
    assert payload["machine"]["threads"] == 1 and payload["machine"]["cores"] >= 1
    assert payload["closed_form"] == CLOSED_FORM
    runs = sorted((r["method"], r["seed"]) for r in payload["records"])
    assert runs == sorted((m, s) for m in ("bpls", "ridge", "adam") for s in (0, 1))
    assert {r["label"] for r in payload["records"]} == {"bpls 16", "ridge", "adam 16"}
    assert set(payload["tuning"]) == {"bpls 16", "ridge", "adam 16"}
    for r in payload["records"]:
        assert r["dataset"] == "digits" and r["status"] == "ok"
        chosen = payload["tuning"][r["label"]]["chosen"]
        assert {k: r["params"][k] for k in chosen} == chosen  # tuned params used
    assert [row["label"] for row in payload["summary"]] == ["bpls 16", "ridge", "adam 16"]
    assert [row["label"] for row in payload["claim"]] == ["adam 16"]
    assert [row["budget"] for row in payload["frontier"]] == [0.5, 1.0, 2.0, 5.0, 10.0]
    json.dumps(payload, allow_nan=True)  # JSON-ready


def test_warm_start_table():
    records = [
        make_record("adam", 0, [(0, 0.0, 0.1), (1, 1.0, 0.8), (2, 2.0, 0.9), (3, 3.0, 0.9)]),
        make_record("adam", 1, [(0, 0.0, 0.1), (1, 1.0, 0.5), (2, 2.0, 0.7), (3, 3.0, 0.8)]),
        make_record("bpls+adam", 0, [(0, 0.5, 0.85), (1, 1.5, 0.95), (2, 2.5, 0.96)]),
        make_record("bpls+adam", 1, [(0, 0.5, 0.6), (1, 1.5, 0.7), (2, 2.5, 0.75)]),
    ]
    (row,) = warm_start(records, {"bpls+adam": "adam"})
    first, second = row["per_seed"]
    assert (first["epochs"], first["warm_epochs"], first["saved"]) == (2, 1, 1)
    assert (first["time"], first["warm_time"]) == (2.0, 1.5)
    assert first["start_accuracy"] == 0.85 and first["start_time"] == 0.5
    assert (second["epochs"], second["warm_epochs"], second["saved"]) == (3, None, None)
    assert row["saved"] is None and row["epochs"] == 2  # lower medians, None lowest
    assert row["gradient"] == "adam" and row["seeds"] == 2
    assert warm_start(records[:2], {"bpls+adam": "adam"}) == []
    text = to_markdown({
        "dataset": "toy", "command": "c", "seeds": [0, 1], "n_train": 1, "n_test": 1,
        "n_features": 1, "summary": [], "claim": [], "frontier": [], "tuning": {},
        "warm_start": [row],
        "machine": {"cpu": "x", "cores": 1, "python": "3", "numpy": "2", "scipy": "1",
                    "lsqnet": "0", "blas": []},
        "config": BenchConfig(threads=1).to_dict(),
    })
    assert "| bpls+adam 8 | 80.00 | 2 | 2.000 | 60.00 | 0.500 | never | - | never |" in text


def report(records, budgets=(1.0,)) -> str:
    """results.md of hand-built records."""
    return to_markdown({
        "dataset": "toy", "command": "c", "seeds": [0, 1], "n_train": 1, "n_test": 1,
        "n_features": 1, "summary": summarize(records), "claim": claim(records, CLOSED_FORM),
        "frontier": frontier(records, CLOSED_FORM, budgets), "tuning": {}, "warm_start": [],
        "machine": {"cpu": "x", "cores": 1, "python": "3", "numpy": "2", "scipy": "1",
                    "lsqnet": "0", "blas": []},
        "config": BenchConfig(threads=1, epochs=7).to_dict(),
    })


def test_summary_in_words_at_the_top_of_the_report(records):
    """Each budget's winner, the claim's verdict, and the "reached on k/n seeds ... never"
    rows spelled out, above the tables."""
    text = report(records, (0.1, 0.5, 1.0, 2.0))
    summary = text.split("## Summary\n", 1)[1].split("Command:", 1)[0]
    assert text.index("## Summary") < text.index("Command:") < text.index("| method |")
    assert summary.splitlines()[3:] == [
        "- **Time budgets.** A closed-form method was the more accurate within 0 of the 4 "
        "training-time budgets, a gradient method within 2 (1 s and 2 s) (the frontier "
        "table):",
        "  - 0.1 s: no method had finished a training step.",
        "  - 0.5 s: only a closed-form method had a trained model, ridge at 62.50 %; no "
        "gradient method had finished a step.",
        "  - 1 s: nag 4 (96.88 %) ahead of ridge (62.50 %).",
        "  - 2 s: nag 4 (96.88 %) ahead of bpls 8 (75.00 %).",
        "- **The paper's claim**, that BPLS trains a network to an accuracy competitive with "
        "Adam, SGD, NAG and AdaGrad in a fraction of their time, held against 1 and was split "
        "over the seeds against 1 of the 2 gradient methods (the claim table):",
        "  - adam 8 reached the test accuracy of BPLS (same seed) on 1 of 2 seeds (seed 0 "
        "after 1.5x BPLS's time); on the other 1 it never did within its 7 epochs; hence "
        "\"never\", the median over seeds in the table. The claim held against it on 2 of 2 "
        "seeds.",
        "  - sgd 8 reached the test accuracy of BPLS (same seed) on every seed (seed 0 after "
        "2.0x BPLS's time, seed 1 after 1.0x BPLS's time). The claim held against it on 1 of "
        "2 seeds.",
        "",
    ]
    assert "| adam 8 | 75.00 | 1.000 | 1/2 seeds | never | 50.00 |" in text


def test_summary_when_the_claim_held_or_failed_on_every_seed():
    bpls = [make_record("bpls", s, [(1, 1.0, 0.9)]) for s in (0, 1)]
    slow = [make_record("adam", s, [(0, 0.0, 0.1), (1, 2.0, 0.8), (2, 4.0, 0.95)])
            for s in (0, 1)]
    fast = [make_record("sgd", s, [(0, 0.0, 0.1), (1, 0.043, 0.9), (2, 0.5, 0.97)])
            for s in (0, 1)]
    text = report(bpls + slow)
    assert "in a fraction of their time, held on this run (the claim table):" in text
    assert ("  - adam 8 needed longer than BPLS to reach its final test accuracy, on every "
            "seed (4.0x BPLS's training time).") in text
    text = report(bpls + fast)
    assert "in a fraction of their time, did not hold on this run (the claim table):" in text
    assert ("  - sgd 8 reached BPLS's final test accuracy before BPLS had finished training, "
            "on every seed (after 0.043x BPLS's training time); all of them ended more "
            "accurate than BPLS.") in text
    assert "| sgd 8 | 90.00 | 1.000 | 2/2 seeds | 0.043x | 97.00 |" in text
    assert "within 1 of the 1 training-time budgets (1 s), a gradient method within none" \
        not in text  # sgd 8 was ahead at 1 s
    assert "  - 1 s: sgd 8 (97.00 %) ahead of bpls 8 (90.00 %)." in text
    text = report(slow)  # no BPLS: nothing to compare
    assert ("in a fraction of their time, was not measured: the run has no BPLS method or no "
            "gradient method of BPLS's sizes.") in text
    assert "  - 1 s: only a gradient method had a trained model" not in text  # adam: 2 s
    assert "  - 1 s: no method had finished a training step." in text


@pytest.mark.parametrize("method", ["bpls-fast", "bpls-accurate", "bpls-patches"])
def test_window_grids_tune_contrasts_with_the_default_in_the_middle(method):
    grid = METHODS[method].grid
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)  # no repeats
    preset = method.partition("-")[2]
    alpha = 10.0 if method == "bpls-patches" else PRESETS[preset]["alpha"]
    assert grid[len(grid) // 2] == {"init": "patches", "patch_size": PATCH_SIZE, "alpha": alpha}
    assert {"init": "contrasts", "patch_size": (0.15, 0.36), "alpha": 10.0} in grid
    assert {p["init"] for p in grid} == {"patches", "contrasts"}


def test_tuning_table_shows_window_grids():
    # patch_size pairs (lists once read back from JSON) next to alpha; "edge of the grid"
    # only for grids of one parameter
    grid = [{"alpha": a, "patch_size": w} for w in ([0.15, 0.36], [0.25, 0.5]) for a in (10, 20)]
    units = [{"init": "contrasts", "patch_size": [0.15, 0.36], "alpha": 10},
             {"init": "patches", "patch_size": [0.25, 0.5], "alpha": 20}]
    text = to_markdown({
        "dataset": "toy", "command": "c", "seeds": [0], "n_train": 1, "n_test": 1,
        "n_features": 1, "summary": [], "claim": [], "frontier": [], "warm_start": [],
        "tuning": {
            "bpls-patches 8": {"grid": grid, "scores": [0.9, 0.8, 0.7, 0.6], "chosen": grid[0]},
            "bpls-fast 768": {"grid": [{"patch_size": [0.15, 0.36]}, {"patch_size": [0.25, 0.5]}],
                              "scores": [0.5, 0.6], "chosen": {"patch_size": [0.25, 0.5]}},
            "bpls-accurate 3072": {"grid": units, "scores": [0.7, 0.6], "chosen": units[0]},
        },
        "machine": {"cpu": "x", "cores": 1, "python": "3", "numpy": "2", "scipy": "1",
                    "lsqnet": "0", "blas": []},
        "config": BenchConfig(threads=1).to_dict(),
    })
    assert (
        "| bpls-patches 8 | alpha=10 patch_size=(0.15, 0.36); alpha=20 patch_size=(0.15, 0.36); "
        "alpha=10 patch_size=(0.25, 0.5); alpha=20 patch_size=(0.25, 0.5) "
        "| 90.00, 80.00, 70.00, 60.00 | alpha=10, patch_size=(0.15, 0.36) |"
    ) in text
    assert (
        "| bpls-fast 768 | (0.15, 0.36), (0.25, 0.5) | 50.00, 60.00 "
        "| patch_size=(0.25, 0.5) (edge of the grid) |"
    ) in text
    assert (
        "| bpls-accurate 3072 | init=contrasts patch_size=(0.15, 0.36) alpha=10; init=patches "
        "patch_size=(0.25, 0.5) alpha=20 | 70.00, 60.00 "
        "| init=contrasts, patch_size=(0.15, 0.36), alpha=10 |"
    ) in text


def test_benchmark_keeps_hybrids_out_of_the_claim_and_frontier(digits):
    cfg = BenchConfig(hidden=(16,), epochs=2, max_iter=2, threads=1)
    out = benchmark("digits", methods=("bpls", "adam", "bpls+adam"), hidden=[(16,)],
                    seeds=(0,), tune_params=False, data=digits, config=cfg)
    assert [row["label"] for row in out["claim"]] == ["adam 16"]
    assert all("bpls+adam" not in str(row) for row in out["frontier"])
    (row,) = out["warm_start"]
    assert row["label"] == "bpls+adam 16" and row["gradient"] == "adam"
    assert "Warm starts" in to_markdown(out)


def test_benchmark_without_tuning_uses_the_middle_of_the_grid(digits):
    out = benchmark("digits", methods=("ridge",), hidden=[(16,)], seeds=(0,),
                    tune_params=False, data=digits, config=BenchConfig(threads=1))
    assert out["tuning"]["ridge"]["chosen"] == {"alpha": 1.0}
    assert out["records"][0]["params"] == {"alpha": 1.0}


def test_benchmark_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown method 'lbfgs'") as info:
        benchmark("digits", methods=("bpls", "lbfgs"))
    for name in METHODS:
        assert repr(name) in str(info.value)


def test_benchmark_rejects_regression_datasets():
    with pytest.raises(ValueError, match="'linear' is a regression problem"):
        benchmark("linear", methods=("ridge",), hidden=[(4,)], seeds=(0,))


def test_benchmark_needs_seeds_and_architectures():
    with pytest.raises(ValueError, match="at least one method, one architecture and one seed"):
        benchmark("digits", methods=("ridge",), seeds=())
    with pytest.raises(ValueError, match="at least one"):
        benchmark("digits", methods=("ridge",), hidden=[])


def test_write_results_writes_three_files(payload, tmp_path):
    out = tmp_path / "new" / "folder"
    written = write_results(payload, out)
    assert written == [out / "frontier.png", out / "results.md", out / "results.json"]
    assert canonical(read_results(out / "results.json")) == canonical(payload)
    assert canonical(read_results(out)) == canonical(payload)  # the folder works too
    markdown = (out / "results.md").read_text()
    assert markdown == to_markdown(payload)
    for header in (
        "# lsqnet bench: digits",
        "| method | test accuracy % | train time s | peak memory MiB | train loss | steps "
        "| settings |",
        "| method | BPLS accuracy % | BPLS time s | reached in | time to reach / BPLS time "
        "| accuracy at BPLS time % |",
        "| budget s | best closed-form | best gradient | closed form |",
        "| method | grid | validation accuracy % | chosen |",
    ):
        assert header in markdown.splitlines()
    assert "| adam 16 |" in markdown and "| ridge |" in markdown
    assert (out / "frontier.png").read_bytes()[:8] == PNG_MAGIC
    assert temp_files(out) == []


def test_write_results_without_plot(payload, tmp_path):
    assert write_results(payload, tmp_path, plot=False) == [
        tmp_path / "results.md", tmp_path / "results.json"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]


def test_write_results_failing_plot_keeps_the_old_frontier(payload, tmp_path, monkeypatch):
    (tmp_path / "frontier.png").write_bytes(b"old plot")

    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(lsqnet.plotting, "plot_frontier", broken)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_results(payload, tmp_path)
    assert (tmp_path / "frontier.png").read_bytes() == b"old plot"
    assert temp_files(tmp_path) == []


def test_write_results_failing_write_keeps_the_old_file(payload, tmp_path, monkeypatch):
    (tmp_path / "results.json").write_text("old results")

    def full_disk(fd):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)  # fails after the bytes went to the temp file
    with pytest.raises(OSError, match="No space left"):
        write_results(payload, tmp_path)
    assert (tmp_path / "results.json").read_text() == "old results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_read_results_rejects_a_wrong_schema(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema": "lsqnet-bench/0"}))
    with pytest.raises(ValueError, match="schema 'lsqnet-bench/0'; this lsqnet reads") as info:
        read_results(path)
    assert str(path) in str(info.value)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="schema None"):
        read_results(path)


def test_read_results_rejects_non_json(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a results.json file") as info:
        read_results(path)
    assert str(path) in str(info.value)


def test_read_results_rejects_a_binary_file_naming_it(tmp_path):
    path = tmp_path / "frontier.png"
    path.write_bytes(PNG_MAGIC + bytes(range(256)))
    with pytest.raises(ValueError, match="frontier.png"):
        read_results(path)


def test_plot_frontier_draws_one_line_per_method(payload):
    ax = plot_frontier(payload)
    try:
        assert isinstance(ax, matplotlib.axes.Axes)
        assert ax.get_xscale() == "log"
        labels = sorted({r["label"] for r in payload["records"]})
        assert len(ax.get_lines()) == len(labels)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert sorted(text.split(" (")[0] for text in legend) == labels
    finally:
        plt.close(ax.figure)


def test_plot_frontier_uses_the_given_axes(payload):
    fig, ax = plt.subplots()
    try:
        assert plot_frontier(payload, ax=ax) is ax
        assert len(fig.axes) == 1 and ax.get_xscale() == "log"
        # Step 0 (the untrained network) is left out: no point at time 0 on a log axis.
        for line in ax.get_lines():
            assert np.all(np.asarray(line.get_xdata()) > 0)
    finally:
        plt.close(fig)
