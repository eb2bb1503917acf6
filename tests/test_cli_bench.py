"""The ``lsqnet bench`` command, run in-process through :func:`lsqnet.cli.main`.

A small run writes its three files and prints the tables; usage errors exit with status 2 and
one line naming the option; a missing dataset is one line on stderr (no traceback) unless
``--debug`` is given. No test reaches the network: ``urlopen`` is replaced where a download
could start.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import urllib.error
import urllib.request

import pytest

from lsqnet.bench import METHODS
from lsqnet.cli import build_parser, main
from lsqnet.exceptions import DatasetNotFoundError

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


def test_bench_writes_the_files_and_prints_the_tables(tmp_path, capsys):
    argv = ["bench", "--methods", "bpls,ridge,adam", "--hidden", "16", "--epochs", "1",
            "--seeds", "1", "--no-tune", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == [
        "frontier.png", "results.json", "results.md"
    ]
    assert "| method | test accuracy % | train time s |" in out
    assert "| budget s | best closed-form | best gradient | closed form |" in out
    for name in ("bpls 16", "ridge", "adam 16"):
        assert f"| {name} |" in out
    assert out.rstrip().splitlines()[-1] == "wrote " + ", ".join(
        str(folder / f) for f in ("frontier.png", "results.md", "results.json")
    )
    results = json.loads((folder / "results.json").read_text())
    assert results["command"] == shlex.join(["lsqnet", *argv])
    assert results["seeds"] == [0] and results["methods"] == ["bpls", "ridge", "adam"]
    assert results["config"]["epochs"] == 1
    assert results["config"]["threads"] == (os.cpu_count() or 1)  # the default
    assert {r["label"] for r in results["records"]} == {"bpls 16", "ridge", "adam 16"}
    assert (folder / "results.md").read_text() in out
    assert (folder / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_progress_names_each_run_and_the_last_result(tmp_path, capsys):
    argv = ["bench", "--dataset", "xor", "--methods", "bpls,ridge", "--hidden", "8",
            "--seeds", "2", "--no-tune", "--no-plot", "--threads", "1", "--out", str(tmp_path)]
    assert main([*argv, "--progress"]) == 0
    err = capsys.readouterr().err
    assert "lsqnet bench xor" in err and "ridge seed 1" in err
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    last = records[-2]  # the run before the last one, shown while the last one runs
    assert (f"last: {last['label']} {100 * last['test_accuracy']:.2f} % in "
            f"{last['train_time']:.2f} s, mse loss {last['train_loss']:.4g}") in err
    for quiet in ([], ["--no-progress"]):  # not a terminal, or not asked: silent
        assert main([*argv, *quiet]) == 0
        assert capsys.readouterr().err == ""


def test_bench_on_the_xor_toy_without_plot(tmp_path, capsys):
    argv = ["bench", "--dataset", "xor", "--methods", "bpls,ridge", "--hidden", "8",
            "--seeds", "2", "--no-tune", "--no-plot", "--threads", "1",
            "--budgets", "0.1,1", "--out", str(tmp_path)]
    assert main(argv) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["dataset"] == "xor" and results["n_features"] == 2
    assert results["budgets"] == [0.1, 1.0] and results["seeds"] == [0, 1]
    assert len(results["records"]) == 4


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "cifar10"], "argument --dataset: invalid choice: 'cifar10'"),
        (["--methods", "bpls,lbfgs"],
         "argument --methods: unknown method(s) 'lbfgs'; choose from " + ", ".join(METHODS)),
        (["--methods", ","], "argument --methods: unknown method(s) ','"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (["--seeds", "-1"], "argument --seeds: expected a positive integer, got '-1'"),
        (["--hidden", "0"], "argument --hidden: expected a positive integer, got '0'"),
        (["--hidden", "16,x"], "argument --hidden: expected a positive integer, got 'x'"),
        (["--budgets", "0"], "argument --budgets: expected a positive number, got '0'"),
        (["--budgets", "1,inf"], "argument --budgets: expected a positive number, got 'inf'"),
        (["--threads", "x"], "argument --threads: expected a positive integer, got 'x'"),
        (["--activation", "softminus"], "argument --activation: invalid choice"),
    ],
    ids=["dataset", "method", "no-method", "epochs", "seeds", "hidden", "hidden-part",
         "budgets", "budgets-inf", "threads", "activation"],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["bench", *argv, "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1
    assert lines[0] == captured.err.rstrip().splitlines()[-1]  # the last line
    assert lines[0].startswith("lsqnet bench: error: ")
    assert message in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "out").exists()


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Empty LSQNET_DATA and cache folders, and a network that never answers."""

    def unreachable(url, timeout=None, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setenv("LSQNET_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    (tmp_path / "home").mkdir()
    return ["bench", "--dataset", "mnist", "--data-home", str(tmp_path / "home"),
            "--out", str(tmp_path / "out")]


def test_missing_dataset_is_one_line_without_traceback(offline, tmp_path, capsys):
    assert main(offline) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("lsqnet bench: error: dataset 'mnist': file(s) ")
    for f in IDX_FILES:
        assert f in line
    assert str(tmp_path / "home" / "mnist") in line
    assert "network is unreachable" in line
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


def test_missing_dataset_with_debug_raises(offline):
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
        main(["--debug", *offline])


def test_elm_without_hidden_layer_is_a_usage_error(tmp_path, capsys):
    argv = ["bench", "--methods", "elm", "--hidden", "()", "--seeds", "1", "--no-tune",
            "--no-plot", "--threads", "1", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "hidden" in err and "Traceback" not in err


def _bench_options() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bench = sub.choices["bench"]
    return [s for a in bench._actions for s in a.option_strings if s.startswith("--")]


def test_bench_help_mentions_every_option(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks inside hyphenated names
    with pytest.raises(SystemExit) as info:
        main(["bench", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    expected = {
        "--help", "--dataset", "--methods", "--hidden", "--activation", "--epochs",
        "--batch-size", "--loss", "--init", "--max-iter", "--seeds", "--threads",
        "--tune-epochs", "--no-tune", "--budgets", "--out", "--data-home", "--no-plot",
        "--progress", "--no-progress",
    }
    options = _bench_options()
    assert expected <= set(options)
    for option in options:
        assert option in out, option
    for method in METHODS:  # the help names every method
        assert method in out
    for dataset in ("digits", "mnist", "fashion-mnist", "xor"):
        assert dataset in out
