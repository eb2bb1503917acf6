"""The ``lsqnet`` command line: argparse only, no logic of its own beyond calling the public API.

``lsqnet demo`` trains a BPLS network and a linear least-squares classifier on scikit-learn's
bundled digits data (works offline) and prints test accuracy and training time.
User errors exit with status 2 and a one-line message; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lsqnet",
        description="Closed-form (least-squares) training of fully-connected neural networks.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as err:
        if args.debug:
            raise
        print(f"lsqnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
