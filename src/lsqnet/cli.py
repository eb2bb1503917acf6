"""The ``lsqnet`` command line: argparse only, no logic of its own beyond calling the public API.

- ``lsqnet bench`` trains BPLS, ELM, ridge and the ``torch.optim`` baselines on the same data
  and writes ``results.json``, ``results.md`` and ``frontier.png`` (:mod:`lsqnet.bench`);
  ``lsqnet bench --suite tabular`` compares lsqnet's estimators with scikit-learn's on small
  tables (:mod:`lsqnet.bench.tabular`).
- ``lsqnet fit DATA --model PATH`` trains an estimator on a CSV / .npz file and saves it;
  ``lsqnet predict MODEL DATA`` prints its predictions.
- ``lsqnet demo`` trains a BPLS network and a linear least-squares classifier on
  scikit-learn's bundled digits data (works offline) and prints test accuracy and time.

User errors exit with status 2 and a one-line message; ``--debug`` shows the traceback.
Long runs (``fit``, ``bench``) draw a progress bar on standard error when it is a terminal
(``--progress``/``--no-progress`` to choose); ``lsqnet --version`` prints the version.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from collections.abc import Sequence

_BENCH_DATASETS = ("digits", "mnist", "fashion-mnist", "xor")  # the classification sets
# The library's names, listed here to keep every command's start light (a test checks them)
_PRESETS = ("instant", "fast", "accurate", "paper", "tabular")
_INITS = ("auto", "uniform", "fan_in", "samples", "patches", "contrasts")
_METHODS = ("auto", "bpls", "lm", "kfac")

__all__ = ["main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    if text.strip() in ("", "()"):
        return ()
    return tuple(_positive_int(part) for part in text.split(","))


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _methods(text: str) -> tuple[str, ...]:
    from .bench import METHODS

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if names == ("all",):
        return tuple(METHODS)
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(map(repr, unknown)) or repr(text)}; choose from "
            f"{', '.join(METHODS)} (comma-separated) or 'all'"
        )
    return tuple(dict.fromkeys(names))


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _alpha(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return _nonnegative_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a number >= 0, got {text!r}"
        ) from None


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _image_shape(text: str) -> tuple[int, int]:
    """``ROWSxCOLS`` (or ``ROWS,COLS``) as two positive ints."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        rows, cols = (int(p) for p in parts)
    except ValueError:
        rows = cols = 0
    if rows < 1 or cols < 1:
        raise argparse.ArgumentTypeError(
            f"expected ROWSxCOLS, two positive integers such as 28x28; got {text!r}"
        )
    return rows, cols


def _budgets(text: str) -> tuple[float, ...]:
    return tuple(_positive_float(part) for part in text.split(","))


_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "semicolon": ";"}


def _delimiter(text: str) -> str:
    """One character, or a name: tab (or \\t), space, comma, semicolon."""
    value = _DELIMITER_NAMES.get(text.lower(), text)
    if len(value) != 1 or value in "\"\r\n":
        raise argparse.ArgumentTypeError(
            f"expected one character such as ';' or '|', or tab, space, comma, semicolon; "
            f"got {text!r}"
        )
    return value


def _show_delimiter(delimiter: str) -> str:
    names = {"\t": "tabs", " ": "spaces"}
    return names.get(delimiter, f"'{delimiter}'")


def _progress_wanted(args: argparse.Namespace) -> bool:
    """--progress / --no-progress; by default a bar only where standard error is a terminal."""
    return sys.stderr.isatty() if args.progress is None else args.progress


def _read(args: argparse.Namespace, target: str | None):
    """``read_table`` of the command's data; for a CSV file, one line on standard error saying
    how it was read (what was detected, and the option that changes it)."""
    from .datasets import read_table, sniff_table

    path = args.data
    if os.path.splitext(path)[1].lower() in (".npy", ".npz"):
        return read_table(path, target=target)
    fmt = sniff_table(path, delimiter=args.delimiter, header=args.header)
    X, y, names = read_table(path, target=target, delimiter=fmt.delimiter, header=fmt.header)
    if args.delimiter is None or args.header is None:
        how = "detected; --delimiter to choose" if args.delimiter is None else "--delimiter"
        head = ("a header line" if fmt.header else "no header line (the first line is data)")
        head += "" if args.header is not None else (
            " (detected; --no-header if it is data)" if fmt.header
            else " (detected; --header if it names the columns)")
        print(
            f"lsqnet {args.command}: read {path}: {X.shape[0]} rows of "
            f"{X.shape[1] + (y is not None)} columns separated by "
            f"{_show_delimiter(fmt.delimiter)} ({how}), {head}",
            file=sys.stderr,
        )
    return X, y, names


class _FitProgress:
    """The ``monitor`` of ``lsqnet fit``: a tqdm bar of the sweeps with the training loss
    (the objective) and accuracy; one line per sweep on standard error without tqdm."""

    def __init__(self, total: int | None) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm comes with lsqnet[bench]
            self.bar = None
        else:
            self.bar = tqdm(total=total, desc="lsqnet fit", unit="sweep", leave=True)

    def __call__(self, entry, network) -> None:
        acc = entry["accuracy"]
        text = f"loss={entry['loss']:.6g}" + ("" if acc != acc else f", accuracy={acc:.4f}")
        if self.bar is None:
            print(f"lsqnet fit: sweep {entry['iteration']}: {text.replace('=', ' ')}, "
                  f"{entry['time']:.3f} s", file=sys.stderr)
        else:
            self.bar.update()
            self.bar.set_postfix_str(text)  # refreshed: every sweep's objective is shown

    def close(self) -> None:
        if self.bar is not None:
            self.bar.total = self.bar.n  # a fit that stopped early is complete too
            self.bar.refresh()
            self.bar.close()


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _bench_tabular(args: argparse.Namespace) -> int:
    from .bench import tabular

    datasets = tabular.check_names("dataset", _names(args.datasets) if args.datasets else (
        tabular.QUICK_DATASETS if args.quick else tabular.DATASETS), tabular.DATASETS)
    models = tabular.check_names("model", _names(args.models) if args.models else (
        tabular.QUICK_MODELS if args.quick else tabular.MODELS), tabular.MODELS)
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    args.threads = args.threads or 1
    results = tabular.run_suite(
        datasets=datasets, models=models, seeds=tuple(range(seeds)), threads=args.threads,
        command=args.command_line, progress=_progress_wanted(args),
    )
    written = tabular.write_results(results, args.out, plot=not args.no_plot)
    print(tabular.to_markdown(results))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import BenchConfig, benchmark, to_markdown, write_results

    if args.suite == "tabular":
        return _bench_tabular(args)
    for option in ("datasets", "models", "quick"):
        if getattr(args, option):
            raise ValueError(
                f"--{option} belongs to --suite tabular; the images suite takes --dataset "
                f"and --methods."
            )
    if args.seeds is None:
        args.seeds = 3
    if args.threads is None:
        args.threads = os.cpu_count() or 1

    config = BenchConfig(
        activation=args.activation, epochs=args.epochs, batch_size=args.batch_size,
        loss=args.loss, init=args.init, max_iter=args.max_iter, threads=args.threads,
        tune_epochs=args.tune_epochs, evals_per_epoch=args.evals_per_epoch,
    )
    results = benchmark(
        args.dataset, methods=args.methods, hidden=args.hidden, config=config,
        seeds=tuple(range(args.seeds)), tune_params=not args.no_tune, budgets=args.budgets,
        data_home=args.data_home, command=args.command_line,
        progress=_progress_wanted(args),
    )
    written = write_results(results, args.out, plot=not args.no_plot)
    print(to_markdown(results))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _fit(args: argparse.Namespace) -> int:
    import numpy as np

    from . import BPLSClassifier, BPLSRegressor, LSQClassifier, LSQRegressor

    X, y, names = _read(args, args.target)
    if y is None:
        raise ValueError(f"{args.data}: no target values (an .npz file needs an array 'y').")
    task = args.task
    if task == "auto":  # strings, or few distinct integers: classes; otherwise a regression
        integral = y.dtype.kind in "iub" or (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0))
        few = np.unique(y).shape[0] <= max(2, min(100, y.shape[0] // 5))
        task = "classification" if y.dtype.kind in "UOS" or (integral and few) else "regression"
    # the recommended defaults; a preset sets up a BPLS estimator
    if args.preset:
        cls = BPLSClassifier if task == "classification" else BPLSRegressor
    else:
        cls = LSQClassifier if task == "classification" else LSQRegressor
    params = {"random_state": args.seed}
    for key in ("hidden_layer_sizes", "activation", "alpha", "max_iter", "init", "image_shape",
                "method"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    model = cls.from_preset(args.preset, **params) if args.preset else cls(**params)
    progress = None
    if _progress_wanted(args):
        params = model.get_params()  # max_iter None: the method's default, not known here
        progress = _FitProgress(None if params["max_iter"] is None else
                                max(1, params["max_iter"]) + params.get("output_iter", 0))
    start = time.perf_counter()
    try:
        model.fit(X, y, monitor=progress)
    finally:
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - start
    score = model.score(X, y)
    if names is not None:
        # the header's names, as scikit-learn records a DataFrame's columns: a later predict
        # from a DataFrame checks them, and lsqnet predict checks a CSV header against them
        model.feature_names_in_ = np.asarray(names, dtype=object)
    model.save(args.model)
    metric = "accuracy" if task == "classification" else "R^2"
    print(
        f"{type(model).__name__} on {X.shape[0]} samples x {X.shape[1]} features: training "
        f"{metric} {score:.4f} in {seconds:.3f} s; saved to {args.model}"
    )
    return 0


def _check_columns(model, names: list[str] | None, path: str) -> None:
    """Raise ``ValueError`` if the header of the CSV ``path`` (``names``; None without a
    header) does not name the features the model was fitted on, in their order. A file
    without a header is read by position, as scikit-learn reads a NumPy array."""
    fitted = getattr(model, "feature_names_in_", None)
    if names is None or fitted is None:
        return
    fitted = [str(name) for name in fitted]
    if list(names) == fitted:
        return
    if sorted(names) == sorted(fitted):
        problem = "in another order"
    else:
        missing = [name for name in fitted if name not in names]
        unknown = [name for name in names if name not in fitted]
        parts = []
        if missing:
            parts.append("without " + ", ".join(missing))
        if unknown:
            parts.append("with " + ", ".join(unknown) + " (not seen in fit)")
        problem = " and ".join(parts) or "with other names"
    raise ValueError(
        f"{path}: the header names the columns {', '.join(names)}: {problem}, but the model "
        f"was fitted on the features {', '.join(fitted)}; rename or reorder the columns, or "
        f"remove the header line to read the values by position."
    )


def _predict(args: argparse.Namespace) -> int:
    from . import load
    from ._io import atomic_write

    model = load(args.model)
    X, _, names = _read(args, None)
    _check_columns(model, names, args.data)
    with warnings.catch_warnings():
        # the columns were checked above by name, or are read by position (no header)
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        predictions = model.predict(X)
    rows = predictions.reshape(predictions.shape[0], -1).tolist()
    text = "".join(
        ",".join(f"{v:.17g}" if isinstance(v, float) else str(v) for v in row) + "\n"
        for row in rows
    )
    if args.out is None:
        sys.stdout.write(text)
    else:
        with atomic_write(args.out) as f:
            f.write(text.encode())
    return 0


def _demo(args: argparse.Namespace) -> int:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from . import BPLSClassifier, fit_layer

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32 if args.float32 else np.float64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    print(
        f"digits: {X_train.shape[0]} training and {X_test.shape[0]} test samples, "
        f"{X.shape[1]} features, {len(np.unique(y))} classes"
    )

    start = time.perf_counter()
    linear = fit_layer(X_train, np.eye(10, dtype=X.dtype)[y_train], alpha=1e-3)
    linear_time = time.perf_counter() - start
    linear_acc = float(np.mean(np.argmax(linear.forward(X_test), axis=1) == y_test))

    clf = BPLSClassifier(
        hidden_layer_sizes=args.hidden, max_iter=args.max_iter, random_state=args.seed
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    bpls_time = time.perf_counter() - start
    bpls_acc = clf.score(X_test, y_test)

    sizes = "-".join(str(s) for s in (X.shape[1], *args.hidden, 10))
    print(f"{'method':<34}{'test accuracy':>14}{'fit time':>12}")
    print(f"{'linear least squares (64-10)':<34}{linear_acc:>14.4f}{linear_time:>11.3f}s")
    print(f"{f'BPLS {sizes}, {clf.n_iter_} sweep(s)':<34}{bpls_acc:>14.4f}{bpls_time:>11.3f}s")
    exact = "exact" if clf.flops_exact_ else "approximate"
    print(f"BPLS operation count: {clf.flops_:,} flops ({exact})")
    return 0


def _add_csv_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--delimiter", type=_delimiter, default=None, metavar="CHAR",
        help="the CSV field delimiter: one character, or tab, space, comma, semicolon "
        "(default: detected with csv.Sniffer among , ; tab | space, and reported)",
    )
    command.add_argument(
        "--header", action=argparse.BooleanOptionalAction, default=None,
        help="whether the CSV file's first line names the columns (default: detected and "
        "reported; a first line of numbers only is data)",
    )


def _add_progress(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help=f"show a progress bar of the {what} on standard error (default: only when it "
        "is a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    from .bench import METHODS

    parser = argparse.ArgumentParser(
        prog="lsqnet",
        description="Closed-form (least-squares) training of fully-connected neural networks.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"lsqnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser(
        "bench",
        help="compare closed-form and gradient training side by side",
        description="Train the same fully-connected network with BPLS, an extreme learning "
        "machine, ridge regression and torch.optim's Adam, SGD, NAG and AdaGrad on one dataset "
        "and machine; record test accuracy after every epoch or sweep against training time, "
        "peak memory and training loss for several seeds; write results.json (every number), "
        "results.md (the tables) and frontier.png (accuracy against time) into --out. "
        "Learning rates and ridge penalties are chosen on a validation split of the training "
        "data. The defaults finish in well under a minute on 2 cores. Gradient methods need "
        "the extra lsqnet[bench] (torch).",
    )
    bench.add_argument(
        "--suite", choices=("images", "tabular"), default="images",
        help="images: the options below on one image data set; tabular: lsqnet's estimators "
        "and scikit-learn's MLP, Nystroem + ridge, linear models and gradient boosting on "
        "13 small tables (lsqnet.bench.tabular; --datasets, --models, --quick, --seeds, "
        "--threads, --out, --no-plot apply) (default: %(default)s)",
    )
    bench.add_argument(
        "--datasets", default=None, metavar="LIST",
        help="--suite tabular: comma-separated data sets (default: all)",
    )
    bench.add_argument(
        "--models", default=None, metavar="LIST",
        help="--suite tabular: comma-separated models (default: all)",
    )
    bench.add_argument(
        "--quick", action="store_true",
        help="--suite tabular: a small subset (3 data sets, 4 models, 1 seed) in seconds",
    )
    bench.add_argument(
        "--dataset", choices=_BENCH_DATASETS, default="digits",
        help="digits is bundled with scikit-learn; mnist and fashion-mnist are read from "
        "--data-home, $LSQNET_DATA or the cache folder, else downloaded; xor is generated"
        " (default: %(default)s)",
    )
    bench.add_argument(
        "--methods", type=_methods, default="all", metavar="LIST",
        help=f"comma-separated methods among {', '.join(METHODS)}, or 'all' (default)",
    )
    bench.add_argument(
        "--hidden", type=_sizes, nargs="+", default=[(256,)], metavar="SIZES",
        help="hidden layer sizes of the network, e.g. 256 or 256,128; several architectures "
        "may follow, each is run (ELM uses the first size, ridge none; default: 256)",
    )
    bench.add_argument(
        "--activation", default="tanh",
        choices=("tanh", "sigmoid", "relu", "elu", "leaky_relu", "softplus", "identity"),
        help="hidden activation, the same for every method (default: %(default)s)",
    )
    bench.add_argument(
        "--epochs", type=_positive_int, default=10, help="epochs of each gradient method"
        " (default: %(default)s)"
    )
    bench.add_argument(
        "--evals-per-epoch", type=_positive_int, default=1, metavar="N",
        help="test-set evaluations per gradient epoch, for short time budgets "
        "(untimed; default: %(default)s)",
    )
    bench.add_argument("--batch-size", type=_positive_int, default=128,
                       help="mini-batch size of the gradient methods (default: %(default)s)")
    bench.add_argument(
        "--loss", choices=("cross_entropy", "mse"), default="cross_entropy",
        help="loss of the gradient methods; mse on one-hot targets is what BPLS minimises"
             " (default: %(default)s)",
    )
    bench.add_argument(
        "--init", choices=("default", "fan_in", "uniform"), default="default",
        help="initial weights: each method's own (PyTorch's for gradient methods, fan_in for "
        "BPLS), or one lsqnet scheme shared by all (identical starting networks per seed)"
        " (default: %(default)s)",
    )
    bench.add_argument("--max-iter", type=_positive_int, default=10,
                       help="maximum BPLS backward sweeps (default: %(default)s)")
    bench.add_argument("--seeds", type=_positive_int, default=None,
                       help="number of seeds (0, 1, ...); medians and spreads are reported"
                            " (default: 3; 1 with --quick)")
    bench.add_argument(
        "--threads", type=_positive_int, default=None,
        help="threads for BLAS and torch (and OpenMP with --suite tabular), fixed for every "
        f"run and recorded (default: {os.cpu_count() or 1}, all cores; 1 with --suite tabular)",
    )
    bench.add_argument(
        "--tune-epochs", type=_positive_int, default=None, metavar="N",
        help="epochs per candidate learning rate when tuning (default: --epochs)",
    )
    bench.add_argument("--no-tune", action="store_true",
                       help="skip tuning; use the middle of each method's grid")
    bench.add_argument(
        "--budgets", type=_budgets, default="0.5,1,2,5,10", metavar="SECONDS",
        help="comma-separated training-time budgets of the frontier table (default: %(default)s)",
    )
    bench.add_argument("--out", default="lsqnet-bench", metavar="DIR",
                       help="output folder, created if needed; files are replaced atomically"
                            " (default: %(default)s)")
    bench.add_argument("--data-home", default=None, metavar="DIR",
                       help="folder holding mnist/ and fashion-mnist/ (searched first)")
    bench.add_argument("--no-plot", action="store_true", help="do not draw frontier.png")
    _add_progress(bench, "runs (the method, seed and last result)")
    bench.set_defaults(func=_bench)

    fit = sub.add_parser(
        "fit",
        help="train a network on a CSV, .npy or .npz file and save it",
        description="Train an LSQClassifier or LSQRegressor (with --preset, a BPLS estimator) "
        "on your data and save it as an "
        "lsqnet model file (lsqnet.load reads it; no pickle). DATA is a CSV file (numeric "
        "features; the target column is the last one, or --target; the delimiter and a "
        "header line are detected, see --delimiter and --header) or an .npz file with "
        "arrays X and y. Missing values (empty cells, NaN) are errors naming their line "
        "and column. A header line's names become the model's feature_names_in_, as "
        "scikit-learn records a DataFrame's columns.",
    )
    fit.add_argument("data", metavar="DATA", help="training data (.csv or .npz)")
    fit.add_argument("--model", required=True, metavar="PATH",
                     help="where to save the fitted model (written atomically)")
    fit.add_argument("--target", default="-1", metavar="COLUMN",
                     help="CSV target column: a header name or an index (default: -1, last)")
    fit.add_argument("--task", choices=("auto", "classification", "regression"),
                     default="auto", help="default: classification if the target holds text "
                     "or few distinct integers, else regression")
    fit.add_argument("--preset", choices=_PRESETS, default=None,
                     help="start from a preset (BPLSClassifier.from_preset)")
    fit.add_argument("--hidden", dest="hidden_layer_sizes", type=_sizes, default=None,
                     metavar="SIZES", help="hidden layer sizes, e.g. 256 or 128,64")
    fit.add_argument("--activation", default=None,
                     choices=("auto", "tanh", "sigmoid", "relu", "elu", "leaky_relu",
                              "softplus", "softminus", "identity"),
                     help="hidden activation; 'auto' is ReLU for Kronecker-factored steps "
                     "and tanh otherwise (default: 'auto'; with --preset, the preset's, or "
                     "'tanh')")
    fit.add_argument("--alpha", type=_alpha, default=None,
                     help="ridge penalty of every layer, or 'auto' to choose it by "
                     "leave-one-out cross-validation (default: 'auto'; with --preset, the "
                     "preset's, or 1.0)")
    fit.add_argument("--method", choices=_METHODS, default=None,
                     help="how the layers are trained: BPLS sweeps, Levenberg-Marquardt (small "
                     "networks), Kronecker-factored steps (wide classifiers in memory), or "
                     "'auto' to choose by a step's cost (default: 'auto'; with --preset, the "
                     "preset's, or 'bpls')")
    fit.add_argument("--init", choices=_INITS, default=None,
                     help="the first layer's units (lsqnet.features); 'patches' and "
                     "'contrasts' need --image-shape, 'auto' (the presets') is 'patches' with "
                     "an image shape and 'samples' without")
    fit.add_argument("--image-shape", type=_image_shape, default=None, metavar="ROWSxCOLS",
                     help="the features are the pixels of images of this shape, row by row "
                     "(e.g. 28x28 for 784 features): for the image units of --init and the "
                     "presets")
    fit.add_argument("--max-iter", type=_nonnegative_int, default=None,
                     help="maximum backward sweeps")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _add_csv_options(fit)
    _add_progress(fit, "sweeps, with the training loss and accuracy of each")
    fit.set_defaults(func=_fit)

    predict = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Load a model saved by 'lsqnet fit' (or model.save) and print one "
        "prediction per sample (comma-separated for several outputs). DATA holds the "
        "features only: a CSV file, an .npy array, or an .npz file with an array X. A CSV "
        "header must name the model's features in their order (those of the header it was "
        "fitted on), else it is an error; a CSV without a header, like an array, is read by "
        "position.",
    )
    predict.add_argument("model", metavar="MODEL", help="a saved lsqnet model")
    predict.add_argument("data", metavar="DATA", help="features (.csv, .npy or .npz)")
    predict.add_argument("--out", default=None, metavar="PATH",
                         help="write the predictions there instead of standard output")
    _add_csv_options(predict)
    predict.set_defaults(func=_predict)

    demo = sub.add_parser(
        "demo",
        help="train BPLS and linear least squares on the bundled digits data",
        description="Train a BPLS network and a linear least-squares classifier on "
        "scikit-learn's digits (8x8 images, 75/25 stratified split, seed 0) and print test "
        "accuracy and training time.",
    )
    demo.add_argument(
        "--hidden", type=_sizes, default=(256,), metavar="SIZES",
        help="comma-separated hidden layer sizes, e.g. 256 or 128,64 (default: 256)",
    )
    demo.add_argument(
        "--max-iter", type=_positive_int, default=10, help="maximum BPLS sweeps (default: 10)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--float32", action="store_true", help="compute in float32")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lsqnet`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["lsqnet", *(sys.argv[1:] if argv is None else argv)])
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"lsqnet {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        if args.debug:
            raise
        print(
            f"lsqnet {args.command}: error: the optional dependency {err.name!r} is missing; "
            f"install it with: pip install 'lsqnet[bench]'",
            file=sys.stderr,
        )
        return 2
    except (ValueError, TypeError, OSError) as err:
        if args.debug:
            raise
        print(f"lsqnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
