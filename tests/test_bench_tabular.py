"""The tabular suite of ``lsqnet bench`` (:mod:`lsqnet.bench.tabular`).

The registry builds every data set with its documented shape and classes; the splits are
fixed per seed and the validation part is carved from the training part only; a small run of
``lsqnet bench --suite tabular`` writes its three files with sane numbers, and the conclusion
at the top of ``results.md`` is recomputed here from the records; failures are recorded and
the run goes on; unknown names exit with status 2 and one line listing the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
from unittest.mock import patch

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lsqnet.bench import tabular
from lsqnet.cli import main


@pytest.mark.parametrize("name", list(tabular.DATASETS))
def test_registry_builds_each_set_with_its_documented_shape(name):
    spec = tabular.DATASETS[name]
    X, y = spec.build()
    assert X.shape == spec.shape and X.dtype == np.float64
    assert y.shape == (spec.shape[0],)
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(y))
    if spec.task == "classification":
        assert y.dtype.kind in "iu"
        assert np.unique(y).shape[0] == spec.n_classes
    else:
        assert spec.task == "regression" and spec.n_classes is None
        assert y.dtype.kind == "f" and np.unique(y).shape[0] > 100  # not a few classes
    X2, y2 = spec.build()  # generated sets are fixed, not drawn anew
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("name", ["friedman2", "friedman3"])
def test_friedman_2_and_3_targets_are_standardised(name):
    _, y = tabular.DATASETS[name].build()
    eps = np.finfo(np.float64).eps * y.shape[0]  # summation error of mean and std
    assert abs(y.mean()) < eps and abs(y.std() - 1.0) < eps


def _rows(X):
    return sorted(map(tuple, X))


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_validation_is_carved_from_train_and_the_test_part_is_the_benchmarks(name):
    split = tabular.load_split(name, 1)
    n = tabular.DATASETS[name].shape[0]
    assert split.X_test.shape[0] == math.ceil(n * tabular.TEST_SIZE)
    assert split.X_train.shape[0] + split.X_test.shape[0] == n
    three = tabular.train_validation_test(name, 1, validation_fraction=0.2)
    np.testing.assert_array_equal(three.X_test, split.X_test)
    np.testing.assert_array_equal(three.y_test, split.y_test)
    assert _rows(np.vstack([three.X_fit, three.X_val])) == _rows(split.X_train)
    assert three.X_val.shape[0] == math.ceil(0.2 * split.X_train.shape[0])
    again = tabular.load_split(name, 1)
    np.testing.assert_array_equal(again.X_train, split.X_train)  # a seed fixes the split
    other = tabular.load_split(name, 2)
    assert _rows(other.X_test) != _rows(split.X_test)
    if tabular.DATASETS[name].task == "classification":  # stratified: proportions kept
        full = np.bincount(np.concatenate([split.y_train, split.y_test])) / n
        assert np.all(np.abs(np.bincount(split.y_test) / split.y_test.shape[0] - full)
                      <= 1.0 / split.y_test.shape[0] + 1e-12)
    with pytest.raises(ValueError, match="'validation_fraction' parameter"):
        tabular.train_validation_test(name, 0, validation_fraction=1.0)


def _lower_median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2]


def test_cli_run_writes_the_files_and_its_conclusion_matches_the_records(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["bench", "--suite", "tabular", "--datasets", "iris,wine",
            "--models", "lsqnet,mlp,nystroem-ridge", "--seeds", "2", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md",
                                                     "scores.png"]
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == tabular.SCHEMA and results["seeds"] == [0, 1]
    assert results["threads"] == 1 and results["machine"]["threads"] == 1
    assert all(v is None or v >= 0 for v in results["load_average"])
    assert results["machine"]["cpu"] and results["machine"]["scikit-learn"]
    records = results["records"]
    assert len(records) == 2 * 2 * 3
    for r in records:
        assert r["status"] == "ok", r["error"]
        assert 0.0 <= r["score"] <= 1.0 and r["metric"] == "accuracy"
        assert r["fit_time"] > 0 and r["peak_memory_mib"] > 0
        assert r["params"] and r["n_train"] + r["n_test"] == tabular.DATASETS[
            r["dataset"]].shape[0]
    lsq = [r for r in records if r["model"] == "lsqnet"]
    assert all("hidden_layer_sizes" in r["params"] and r["info"]["method_"] for r in lsq)
    mlp = [r for r in records if r["model"] == "mlp"]
    assert all(r["params"]["hidden_layer_sizes"] == [256] for r in mlp)

    # the conclusion, recomputed from the records
    def median(dataset, model, key):
        return _lower_median([r[key] for r in records
                              if r["dataset"] == dataset and r["model"] == model])

    differences, ratios = {}, []
    for dataset in ("iris", "wine"):
        best = max(median(dataset, b, "score") for b in ("mlp", "nystroem-ridge"))
        differences[dataset] = median(dataset, "lsqnet", "score") - best
        ratios.append(median(dataset, "lsqnet", "fit_time") / median(dataset, "mlp",
                                                                     "fit_time"))
    on_par = [d for d, v in differences.items() if v >= -0.005]
    behind = [d for d, v in differences.items() if v < -0.02]
    found = results["conclusion"]
    assert found["on_par"] == on_par and found["behind_sets"] == behind
    assert found["median_time_ratio"] == pytest.approx(float(np.median(ratios)), rel=1e-12)
    text = (out / "results.md").read_text()
    assert text in printed
    assert f"on {len(on_par)} of 2 data sets" in text
    assert f"more than 2 points (0.02 R²) below on {len(behind)}" in text
    worst = min(differences, key=differences.get)
    assert f"{100 * differences[worst]:+.2f} points on {worst}" in text
    assert f"{float(np.median(ratios)):.3g} times `mlp`'s" in text
    for dataset in ("iris", "wine"):  # the score table holds the medians
        cells = [f"{100 * median(dataset, m, 'score'):.2f}"
                 for m in ("lsqnet", "mlp", "nystroem-ridge")]
        assert f"| {dataset} | " + " | ".join(cells) + " |" in text


def _record(dataset, model, score, time_, status="ok", metric="accuracy"):
    return {"dataset": dataset, "model": model, "seed": 0, "metric": metric,
            "score": score if status == "ok" else None,
            "fit_time": time_ if status == "ok" else None,
            "peak_memory_mib": 1.0 if status == "ok" else None,
            "status": status, "error": None if status == "ok" else "ValueError: x"}


def test_conclusion_counts_on_par_and_behind_sets_from_medians():
    records = [
        # a: 0.3 point below the better baseline (nystroem): on par; 4x faster than mlp
        _record("a", "lsqnet", 0.900, 1.0), _record("a", "mlp", 0.880, 4.0),
        _record("a", "nystroem-ridge", 0.903, 2.0),
        # b: 1 point below: neither on par nor behind; 2x mlp's time
        _record("b", "lsqnet", 0.890, 2.0), _record("b", "mlp", 0.900, 1.0),
        _record("b", "nystroem-ridge", 0.0, 1.0, status="error"),
        # c (R²): 0.05 below: behind; the same time as mlp
        _record("c", "lsqnet", 0.90, 3.0, metric="r2"),
        _record("c", "mlp", 0.95, 3.0, metric="r2"),
        # d: lsqnet failed: left out
        _record("d", "lsqnet", 0.0, 1.0, status="error"), _record("d", "mlp", 0.9, 1.0),
    ]
    found = tabular.conclusion(records)
    assert found["sets"] == 3
    assert found["on_par"] == ["a"] and found["behind_sets"] == ["c"]
    assert found["median_time_ratio"] == pytest.approx(1.0)
    assert {s["dataset"]: s["baseline"] for s in found["per_set"]} == {
        "a": "nystroem-ridge", "b": "mlp", "c": "mlp"}
    assert "on 1 of 3 data sets (a)" in found["text"]
    assert "below on 1 (c)" in found["text"] and "-0.0500 R² on c" in found["text"]


def test_a_failing_fit_is_recorded_and_a_large_lm_network_is_skipped():
    split = tabular.load_split("iris", 0)
    X = split.X_train.copy()
    X[0, 0] = np.nan
    record = tabular.run_one("linear", "iris", 0, split._replace(X_train=X))
    assert record["status"] == "error" and record["score"] is None
    assert record["error"].startswith("ValueError: ") and "NaN" in record["error"]
    lm = tabular.MODELS["lsqnet-lm"]
    wide = dataclasses.replace(lm, make=lambda task, seed, n: lm.make(task, seed, n).set_params(
        hidden_layer_sizes=(64,)))
    with patch.dict(tabular.MODELS, {"lsqnet-lm": wide}):
        skipped = tabular.run_one("lsqnet-lm", "digits", 0)  # 64-64-10: 4810 parameters
    assert skipped["status"] == "skipped" and "4810 parameters" in skipped["error"]
    assert skipped["fit_time"] is None
    # the recommended width on digits' 1347 training rows, 8 units (610 parameters), runs
    ran = tabular.run_one("lsqnet-lm", "digits", 0)
    assert ran["status"] == "ok" and ran["info"]["method_"] == "lm"


def test_quick_runs_the_small_subset(tmp_path):
    assert main(["bench", "--suite", "tabular", "--quick", "--models", "linear",
                 "--no-plot", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["datasets"]) == list(tabular.QUICK_DATASETS)
    assert list(results["models"]) == ["linear"] and results["seeds"] == [0]
    regression = [r for r in results["records"] if r["metric"] == "r2"]
    assert [r["dataset"] for r in regression] == ["diabetes"]
    assert all(r["score"] <= 1.0 for r in regression)


@pytest.mark.parametrize("argv, message", [
    (["--datasets", "iris,bogus"], "unknown dataset(s) 'bogus'; choose from iris, wine, "
                                   "breast_cancer, digits,"),
    (["--models", "lsqnet,svm"], "unknown model(s) 'svm'; choose from lsqnet, lsqnet-bpls, "
                                 "lsqnet-instant,"),
], ids=["dataset", "model"])
def test_unknown_names_exit_2_with_one_line_listing_the_valid_ones(argv, message, tmp_path,
                                                                  capsys):
    assert main(["bench", "--suite", "tabular", *argv, "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err
    assert not list(tmp_path.iterdir())


def test_tabular_options_are_refused_by_the_images_suite(capsys):
    assert main(["bench", "--datasets", "iris"]) == 2
    assert "--datasets belongs to --suite tabular" in capsys.readouterr().err


def test_the_teacher_is_drawn_from_its_seed_and_its_noise_is_a_small_share():
    from lsqnet.bench.tabular import make_teacher

    X, y = make_teacher(500, 0.05, random_state=3)
    X2, y2 = make_teacher(500, 0.05, random_state=3)
    assert X.shape == (500, 5) and y.shape == (500,)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(y, make_teacher(500, 0.05, random_state=4)[1])
    _, clean = make_teacher(500, 0.0, random_state=3)
    assert_allclose(np.std(y - clean), 0.05, rtol=0.2)  # the noise, 500 draws
    assert 1 - 0.05**2 / np.var(y) > 0.99  # what an exact model's R^2 would be
