"""The ``lsqnet`` command line: the demo runs, user errors exit 2 with one line, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import lsqnet
from lsqnet.cli import main


def test_demo_prints_accuracies_and_times(capsys):
    assert main(["demo", "--hidden", "256", "--max-iter", "3"]) == 0
    out = capsys.readouterr().out
    linear = re.search(r"linear least squares \(64-10\)\s+([0-9.]+)\s+([0-9.]+)s", out)
    bpls = re.search(r"BPLS 64-256-10, \d sweep\(s\)\s+([0-9.]+)\s+([0-9.]+)s", out)
    assert linear and bpls, out
    # One hidden layer clearly beats the linear least-squares classifier on held-out digits.
    assert float(bpls.group(1)) > float(linear.group(1)) + 0.02
    assert "flops (exact)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--hidden", "0"], "positive integer"),
        (["demo", "--hidden", "abc"], "positive integer"),
        (["demo", "--max-iter", "-1"], "positive integer"),
        (["bogus"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_entry_point_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "lsqnet.cli", "demo", "--hidden", "0"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--hidden" in proc.stderr


# --------------------------------------------------------------------------------------------
# lsqnet fit / lsqnet predict on a user's files
# --------------------------------------------------------------------------------------------


@pytest.fixture
def iris_csv(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    path = tmp_path / "iris.csv"
    lines = ["sepal_l,sepal_w,petal_l,petal_w,species"]
    lines += [
        ",".join(f"{v:g}" for v in row) + f",{label}"
        for row, label in zip(X, names, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    features = tmp_path / "features.csv"
    np.savetxt(features, X, delimiter=",")
    return path, features, X, names


def test_fit_then_predict_a_csv_with_text_labels(iris_csv, tmp_path, capsys):
    path, features, X, names = iris_csv
    model = tmp_path / "model.lsq"
    assert main(["fit", str(path), "--model", str(model), "--hidden", "16"]) == 0
    assert "BPLSClassifier on 150 samples x 4 features" in capsys.readouterr().out
    assert main(["predict", str(model), str(features)]) == 0
    predicted = capsys.readouterr().out.split()
    # the printed labels are what the saved model predicts, and mostly right
    assert predicted == list(lsqnet.load(model).predict(X))
    assert np.mean(np.array(predicted) == names) > 0.9
    out = tmp_path / "predictions.txt"
    assert main(["predict", str(model), str(features), "--out", str(out)]) == 0
    assert out.read_text().split() == predicted


def test_fit_a_regression_from_npz_and_predict_from_npy(tmp_path, capsys, rng):
    X = rng.standard_normal((200, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1
    np.savez(tmp_path / "train.npz", X=X, y=y)
    np.save(tmp_path / "x.npy", X[:5])
    model = tmp_path / "reg.lsq"
    assert main(["fit", str(tmp_path / "train.npz"), "--model", str(model), "--hidden", "",
                 "--alpha", "0"]) == 0
    assert "BPLSRegressor" in capsys.readouterr().out
    assert main(["predict", str(model), str(tmp_path / "x.npy")]) == 0
    values = np.array(capsys.readouterr().out.split(), dtype=float)
    np.testing.assert_allclose(values, y[:5], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("image", [[], ["--image-shape", "4x5"]])
def test_fit_with_a_preset_for_both_tasks(tmp_path, capsys, rng, image):
    """The presets' softmax output and cross-entropy steps are the classifier's: a regression
    with --preset takes the rest of the preset. They work on a table (20 features, not a
    square) and, with --image-shape, on images of that shape (local receptive fields)."""
    X = rng.random((300, 20))
    np.savez(tmp_path / "reg.npz", X=X, y=X @ rng.standard_normal(20))
    np.savez(tmp_path / "clf.npz", X=X, y=(X[:, 0] > 0.5).astype(int))
    for name, cls in (("reg", "BPLSRegressor"), ("clf", "BPLSClassifier")):
        model = tmp_path / f"{name}.lsq"
        assert main(["fit", str(tmp_path / f"{name}.npz"), "--model", str(model),
                     "--preset", "fast", *image]) == 0
        assert cls in capsys.readouterr().out
        assert lsqnet.load(model).image_shape == ((4, 5) if image else None)
        assert main(["predict", str(model), str(tmp_path / f"{name}.npz")]) == 0
        assert len(capsys.readouterr().out.split()) == 300


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--init", "patches"], "init='patches' needs the shape of the images"),
        (["--init", "patches", "--image-shape", "3x3"], "9 pixels, but X has 20 features"),
        (["--image-shape", "4by5"], "expected ROWSxCOLS"),
        (["--image-shape", "0x20"], "expected ROWSxCOLS"),
        (["--init", "pixels"], "invalid choice: 'pixels'"),
    ],
)
def test_fit_image_options_errors_exit_2(tmp_path, capsys, rng, argv, message):
    X = rng.random((50, 20))
    np.savez(tmp_path / "clf.npz", X=X, y=(X[:, 0] > 0.5).astype(int))
    out = tmp_path / "m.lsq"
    try:
        code = main(["fit", str(tmp_path / "clf.npz"), "--model", str(out), *argv])
    except SystemExit as exit:  # argparse's own usage errors
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "{csv}", "--model", "{out}", "--target", "nope"], "no column named 'nope'"),
        (["fit", "{csv}", "--model", "{out}", "--target", "0"], "line 2, column 5: 'setosa'"),
        (["fit", "{missing}", "--model", "{out}"], "No such file"),
        (["predict", "{missing}", "{features}"], "No lsqnet model file"),
        (["predict", "{csv}", "{features}"], "Cannot load"),
    ],
)
def test_fit_and_predict_user_errors_exit_2_with_one_line(iris_csv, tmp_path, capsys, argv,
                                                         message):
    path, features, _, _ = iris_csv
    names = {"csv": path, "out": tmp_path / "m.lsq", "missing": tmp_path / "missing.csv",
             "features": features}
    assert main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "m.lsq").exists()  # nothing half written


def test_predict_with_the_wrong_number_of_features_exits_2(iris_csv, tmp_path, capsys):
    path, _, X, _ = iris_csv
    model = tmp_path / "model.lsq"
    assert main(["fit", str(path), "--model", str(model), "--hidden", "4"]) == 0
    np.save(tmp_path / "three.npy", X[:, :3])
    assert main(["predict", str(model), str(tmp_path / "three.npy")]) == 2
    assert "features" in capsys.readouterr().err


def test_fit_presets_are_the_library_presets():
    """The CLI names the presets itself (importing the estimators to build the parser would
    slow every command's start): the names must stay lsqnet.PRESETS'."""
    import argparse

    from lsqnet.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    preset = next(a for a in commands.choices["fit"]._actions if a.dest == "preset")
    assert set(preset.choices) == set(lsqnet.PRESETS)
    init = next(a for a in commands.choices["fit"]._actions if a.dest == "init")
    assert tuple(init.choices) == lsqnet.features.INITS
