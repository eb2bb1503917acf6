"""The ``lsqnet`` command line: the demo runs, user errors exit 2 with one line, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import lsqnet
from lsqnet.cli import main
from lsqnet.estimators._base import METHODS


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
    assert "LSQClassifier on 150 samples x 4 features" in capsys.readouterr().out
    assert main(["predict", str(model), str(features)]) == 0
    predicted = capsys.readouterr().out.split()
    # the printed labels are what the saved model predicts, and mostly right
    # (the model has the header's feature names; an array without them is read by position)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
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
    assert "LSQRegressor" in capsys.readouterr().out
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
        (["fit", "{csv}", "--model", "{out}", "--target", "0"],
         "line 2, column 5 (species): 'setosa' is not a number"),
        (["fit", "{missing}", "--model", "{out}"], "No such file"),
        (["predict", "{missing}", "{features}"], "No lsqnet model file"),
        (["predict", "{csv}", "{features}"], "it is not an lsqnet model file"),
        (["predict", "{features}", "{features}"], "it is not an lsqnet model file"),
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
    assert "allow_pickle" not in err
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
    method = next(a for a in commands.choices["fit"]._actions if a.dest == "method")
    assert tuple(method.choices) == METHODS


@pytest.mark.parametrize("method", ["lm", "auto"])
def test_fit_with_a_training_method(tmp_path, capsys, rng, method):
    X = rng.standard_normal((120, 3))
    np.savez(tmp_path / "reg.npz", X=X, y=np.tanh(X[:, 0]) + X[:, 1] ** 2)
    model = tmp_path / "reg.lsq"
    assert main(["fit", str(tmp_path / "reg.npz"), "--model", str(model), "--hidden", "8",
                 "--method", method, "--max-iter", "20"]) == 0
    fitted = lsqnet.load(model)
    assert fitted.method == method and fitted.method_ == "lm"


@pytest.mark.parametrize(("activation", "method", "units"), [
    ("auto", "kfac", "relu"), ("auto", "lm", "tanh"), ("sigmoid", "kfac", "sigmoid"),
])
def test_fit_with_an_activation(tmp_path, capsys, rng, activation, method, units):
    X = rng.standard_normal((120, 3))
    np.savez(tmp_path / "reg.npz", X=X, y=np.tanh(X[:, 0]) + X[:, 1] ** 2)
    model = tmp_path / "reg.lsq"
    assert main(["fit", str(tmp_path / "reg.npz"), "--model", str(model), "--hidden", "8",
                 "--method", method, "--activation", activation, "--max-iter", "2"]) == 0
    fitted = lsqnet.load(model)
    assert fitted.activation == activation
    assert fitted.network_.layers[0].activation == units


# --------------------------------------------------------------------------------------------
# --version, CSV layouts, missing values, progress
# --------------------------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys):
    from lsqnet._version import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"lsqnet {__version__}\n"
    assert __version__ == lsqnet.__version__


def _iris_text(iris_csv, delimiter=",", header=True):
    path, _, _, _ = iris_csv
    lines = path.read_text().splitlines()
    return "\n".join(line.replace(",", delimiter) for line in lines[0 if header else 1:]) + "\n"


@pytest.mark.parametrize(
    ("delimiter", "shown"), [(";", "';'"), ("\t", "tabs"), ("|", "'|'"), (" ", "spaces")]
)
def test_fit_detects_the_delimiter_and_says_so(iris_csv, tmp_path, capsys, delimiter, shown):
    data = tmp_path / "iris.csv"
    data.write_text(_iris_text(iris_csv, delimiter))
    model = tmp_path / "m.lsq"
    assert main(["fit", str(data), "--model", str(model), "--hidden", "8"]) == 0
    captured = capsys.readouterr()
    assert "LSQClassifier on 150 samples x 4 features" in captured.out
    assert captured.err == (
        f"lsqnet fit: read {data}: 150 rows of 5 columns separated by {shown} (detected; "
        f"--delimiter to choose), a header line (detected; --no-header if it is data)\n"
    )
    assert lsqnet.load(model).n_features_in_ == 4


def test_fit_keeps_the_first_row_of_a_headerless_csv(iris_csv, tmp_path, capsys):
    """Text labels on every line: the first line is data, all 150 samples are trained on."""
    data = tmp_path / "noheader.csv"
    data.write_text(_iris_text(iris_csv, header=False))
    assert main(["fit", str(data), "--model", str(tmp_path / "m.lsq"), "--hidden", "8"]) == 0
    captured = capsys.readouterr()
    assert "on 150 samples x 4 features" in captured.out
    assert "no header line (the first line is data) (detected; --header if it names the " \
           "columns)" in captured.err


def test_fit_and_predict_with_explicit_csv_options(tmp_path, capsys):
    """--delimiter (a name or a character) and --header/--no-header are used as given; given
    both, nothing is reported."""
    data = tmp_path / "d.txt"
    data.write_text("0\t1\t2\n" + "".join(f"{i}\t{2 * i}\t{i % 2}\n" for i in range(1, 41)))
    model = tmp_path / "m.lsq"
    assert main(["fit", str(data), "--model", str(model), "--delimiter", "tab", "--header",
                 "--hidden", "4"]) == 0
    captured = capsys.readouterr()
    assert "on 40 samples x 2 features" in captured.out and captured.err == ""
    assert main(["fit", str(data), "--model", str(model), "--no-header", "--hidden", "4"]) == 0
    captured = capsys.readouterr()
    assert "on 41 samples" in captured.out and "separated by tabs (detected" in captured.err
    features = tmp_path / "x.csv"
    features.write_text("1;2\n3;6\n")
    assert main(["predict", str(model), str(features), "--delimiter", ";", "--no-header"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.split()) == 2 and captured.err == ""
    assert main(["predict", str(model), str(features)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.split()) == 2
    assert captured.err.startswith(f"lsqnet predict: read {features}: 2 rows of 2 columns "
                                   f"separated by ';' (detected")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--delimiter", ";;"], "argument --delimiter: expected one character such as ';'"),
        (["--delimiter", ""], "argument --delimiter: expected one character"),
        (["--header", "yes"], "unrecognized arguments: yes"),
    ],
)
def test_csv_option_usage_errors_exit_2(iris_csv, tmp_path, capsys, argv, message):
    path, _, _, _ = iris_csv
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(path), "--model", str(tmp_path / "m.lsq"), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("cell", "what"), [("", "an empty cell"), ("NaN", "NaN"), ("nan", "nan")]
)
@pytest.mark.parametrize("command", ["fit", "predict"])
def test_missing_values_are_one_line_naming_file_line_and_column(
        iris_csv, tmp_path, capsys, cell, what, command):
    path, features, _, _ = iris_csv
    model = tmp_path / "m.lsq"
    if command == "predict":
        assert main(["fit", str(path), "--model", str(model), "--hidden", "4"]) == 0
        capsys.readouterr()
    rows = [line.split(",") for line in path.read_text().splitlines()]
    rows[3][2] = cell
    if command == "predict":  # features only
        rows = [row[:4] for row in rows]
    data = tmp_path / "holes.csv"
    data.write_text("".join(",".join(row) + "\n" for row in rows))
    argv = (["fit", str(data), "--model", str(tmp_path / "new.lsq")] if command == "fit"
            else ["predict", str(model), str(data), "--delimiter", ",", "--header"])
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert captured.err == (
        f"lsqnet {command}: error: {data}, line 4, column 3 (petal_l): missing value ({what}); "
        f"lsqnet needs every value: fill in or drop such rows first.\n"
    )
    assert not (tmp_path / "new.lsq").exists()


def test_messages_print_label_values_not_numpy_reprs(tmp_path, capsys):
    data = tmp_path / "wine.csv"
    data.write_text("alcohol,ash,cultivar\n13.2,2.1,barolo\n12.4,2.3,barolo\n13.9,2.5,barolo\n")
    for extra in ([], ["--task", "regression"]):
        assert main(["fit", str(data), "--model", str(tmp_path / "m.lsq"), *extra]) == 2
        err = capsys.readouterr().err
        assert "'barolo'" in err and "np.str_" not in err, err
        assert err.splitlines()[-1].startswith("lsqnet fit: error: ")


def test_predict_rejects_data_files_as_models_without_pickle_hints(iris_csv, tmp_path, capsys):
    path, features, X, _ = iris_csv
    empty = tmp_path / "empty.lsq"
    empty.write_bytes(b"")
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "train.npz", X=X, y=np.arange(150) % 3)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for model, why in [
        (path, "this file starts with b'sepal_'"), (empty, "this file is empty"),
        (tmp_path / "x.npy", "a single array"), (tmp_path / "train.npz", "without a 'metadata'"),
        (tmp_path / "objects.npy", "pickled Python objects, which lsqnet never loads"),
    ]:
        assert main(["predict", str(model), str(features)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lsqnet predict: error: Cannot load '{model}': ")
        assert why in err and "allow_pickle" not in err and err.count("\n") == 1, err


def test_fit_progress_shows_the_objective_of_each_sweep(iris_csv, tmp_path, capsys):
    path, _, _, _ = iris_csv
    argv = ["fit", str(path), "--model", str(tmp_path / "m.lsq"), "--hidden", "8",
            "--max-iter", "3"]
    assert main([*argv, "--progress"]) == 0
    err = capsys.readouterr().err
    history = lsqnet.load(tmp_path / "m.lsq").history_
    # the bar is complete, also when the fit stops before max_iter
    assert "lsqnet fit: 100%|" in err and f"{len(history)}/{len(history)}" in err
    losses = [float(v) for v in re.findall(r"loss=([0-9.e+-]+)", err)]
    assert [f"{v:.6g}" for v in dict.fromkeys(losses)] == [
        f"{e['loss']:.6g}" for e in history]
    assert main(argv) == 0  # not a terminal: no bar
    assert "lsqnet fit:" not in capsys.readouterr().err.replace("lsqnet fit: read", "")
    assert main([*argv, "--no-progress"]) == 0
    assert "%" not in capsys.readouterr().err


def test_fit_progress_without_tqdm_prints_a_line_per_sweep(iris_csv, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails
    path, _, _, _ = iris_csv
    assert main(["fit", str(path), "--model", str(tmp_path / "m.lsq"), "--hidden", "8",
                 "--max-iter", "2", "--method", "bpls", "--progress"]) == 0
    err = capsys.readouterr().err
    assert re.findall(r"lsqnet fit: sweep (\d): loss [0-9.e+-]+, accuracy [0-9.]+, [0-9.]+ s",
                      err) == ["1", "2"]


def test_an_interrupted_command_exits_130_without_traceback(iris_csv, tmp_path, capsys,
                                                           monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lsqnet.BPLSClassifier, "fit", interrupted)
    path, _, _, _ = iris_csv
    assert main(["fit", str(path), "--model", str(tmp_path / "m.lsq"), "--no-header",
                 "--delimiter", ","]) == 2  # the header line is not numbers: a user error
    assert "line 1, column 1: 'sepal_l' is not a number" in capsys.readouterr().err
    assert main(["fit", str(path), "--model", str(tmp_path / "m.lsq")]) == 130
    assert capsys.readouterr().err.endswith("lsqnet fit: interrupted\n")
    assert not (tmp_path / "m.lsq").exists()


# --------------------------------------------------------------------------------------------
# The CSV header as the model's feature names
# --------------------------------------------------------------------------------------------


def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(f"{v:g}" for v in row) + "\n"
                                                       for row in rows))
    return path


def test_fit_records_the_header_as_feature_names(iris_csv, tmp_path, capsys):
    path, _, X, _ = iris_csv
    model = tmp_path / "model.lsq"
    assert main(["fit", str(path), "--model", str(model), "--hidden", "8"]) == 0
    loaded = lsqnet.load(model)
    # as scikit-learn records a DataFrame's columns: an object array of str, target left out
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    # scikit-learn's semantics follow: an array without names is accepted with its warning
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        loaded.predict(X)


def test_fit_without_header_records_no_feature_names(iris_csv, tmp_path, capsys):
    data = tmp_path / "plain.csv"
    data.write_text(_iris_text(iris_csv, header=False))
    model = tmp_path / "model.lsq"
    assert main(["fit", str(data), "--model", str(model), "--hidden", "8"]) == 0
    assert not hasattr(lsqnet.load(model), "feature_names_in_")


def test_predict_checks_the_header_against_the_feature_names(iris_csv, tmp_path, capsys):
    path, _, X, _ = iris_csv
    model = tmp_path / "model.lsq"
    assert main(["fit", str(path), "--model", str(model), "--hidden", "8"]) == 0
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = list(lsqnet.load(model).predict(X[:5]))
    capsys.readouterr()
    names = ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    same = _csv(tmp_path / "same.csv", names, X[:5])
    assert main(["predict", str(model), str(same)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == expected
    assert "feature names" not in captured.err  # no warning from scikit-learn either
    renamed = _csv(tmp_path / "renamed.csv", ["sepal_l", "sepal_w", "petal_l", "width"], X[:5])
    assert main(["predict", str(model), str(renamed)]) == 2
    captured = capsys.readouterr()
    error = captured.err.splitlines()[-1]
    assert error == (
        f"lsqnet predict: error: {renamed}: the header names the columns sepal_l, sepal_w, "
        f"petal_l, width: without petal_w and with width (not seen in fit), but the model was "
        f"fitted on the features sepal_l, sepal_w, petal_l, petal_w; rename or reorder the "
        f"columns, or remove the header line to read the values by position."
    )
    assert "Traceback" not in captured.err and captured.out == ""
    swapped = _csv(tmp_path / "swapped.csv", ["sepal_w", "sepal_l", "petal_l", "petal_w"], X[:5])
    assert main(["predict", str(model), str(swapped)]) == 2
    assert "in another order" in capsys.readouterr().err
    # the advice works: without the header line the values are read by position
    bare = tmp_path / "bare.csv"
    bare.write_text("".join(renamed.read_text().splitlines(keepends=True)[1:]))
    assert main(["predict", str(model), str(bare)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == expected and "feature names" not in captured.err


def test_fit_takes_alpha_auto_or_a_number(iris_csv, tmp_path, capsys):
    path, _, _, _ = iris_csv
    for alpha, expected in (("auto", None), ("0.5", 0.5)):
        assert main(["fit", str(path), "--model", str(tmp_path / "m.lsq"), "--alpha", alpha,
                     "--max-iter", "3"]) == 0
        model = lsqnet.load(tmp_path / "m.lsq")
        assert model.alpha == (alpha if expected is None else expected)
        assert expected is not None or model.alpha_ in model.alphas_
    with pytest.raises(SystemExit):
        main(["fit", str(path), "--model", str(tmp_path / "m.lsq"), "--alpha", "best"])
    assert "expected 'auto' or a number >= 0, got 'best'" in capsys.readouterr().err
