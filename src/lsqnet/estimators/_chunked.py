"""Fits that read the data a block at a time: ``batch_size`` (NumPy arrays and memmaps), Dask
arrays, ``fit_chunks`` (any collection of chunks read once per pass) and ``partial_fit``
(single-layer models). Each runs the training of :mod:`lsqnet.streaming` over a data source;
memory does not grow with the number of samples. Sample weights travel with the source: one
weight per row of ``X`` in memory (``batch_size``, Dask), or with each chunk."""

from __future__ import annotations

import copy
import functools
import numbers
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
)

from .. import _flops, _sparse
from .. import activations as _activations
from .._dask import DaskChunks, is_dask_array
from ..bpls import class_targets
from ..layers import Dense
from ..network import Network
from ..solvers import GramStats
from ..solvers._policy import Accepts, factorize, gram_solver
from ..streaming import (
    ArrayChunks,
    IterableChunks,
)
from ..training import check_finite, loss_and_accuracy
from ._common import Targets, check_monitor, invalid, unchanged_on_error
from ._weights import check_sample_weight, sample_weight_array

__all__ = ["ChunkedFits", "check_block", "single_layer"]


def check_block(block: np.ndarray, start: int, *, owner: str) -> None:
    """Raise naming X and the rows if a block read from X is not finite."""
    if not np.isfinite(block.data if _sparse.is_sparse(block) else block).all():
        raise ValueError(
            f"{owner}: invalid X: rows {start} to {start + block.shape[0] - 1} contain NaN or "
            f"infinity."
        )


def _convert_block(
    X_block: Any, y_block: np.ndarray, *, dtype: np.dtype, owner: str, n_outputs: int,
    activation: str, classification: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A dask block and its targets as a chunk ``(X, Y, labels)`` (run on a worker)."""
    X = np.asarray(X_block, dtype=dtype)
    check_block(X, 0, owner=owner)
    if not classification:
        return X, np.asarray(y_block, dtype=dtype), None
    return X, class_targets(y_block, n_outputs, activation, dtype), y_block


class _ChunkChecker:
    """Checks the ``(X, y)`` chunks of ``fit_chunks`` and converts them for a pass."""

    def __init__(self, estimator: Any, owner: str) -> None:
        self.estimator = estimator
        self.owner = owner
        self.n_features: int | None = None
        self.dtype: np.dtype | None = None
        self.classes: np.ndarray | None = None
        self.targets: Targets | None = None

    def _X(self, X: Any, index: int | None) -> np.ndarray:
        est = self.estimator
        chunk = "a chunk read again" if index is None else f"chunk {index}"
        try:
            X = check_array(X, dtype=est._dtype(), input_name="X")
        except (ValueError, TypeError) as err:
            raise invalid(err, self.owner, f"X of {chunk}") from err
        if self.n_features is None:
            self.n_features, self.dtype = X.shape[1], X.dtype
        elif X.shape[1] != self.n_features:
            raise ValueError(
                f"{self.owner}: invalid X of {chunk}: it has {X.shape[1]} features but "
                f"the first chunk has {self.n_features}."
            )
        elif X.dtype != self.dtype:
            raise ValueError(
                f"{self.owner}: invalid X of {chunk}: it is {X.dtype} but the first chunk "
                f"is {self.dtype}; give every chunk one dtype, or set dtype."
            )
        return X

    def _parts(self, chunk: Any, index: int) -> tuple[Any, Any, Any]:
        """A chunk's ``X``, ``y`` and sample weights (None for a pair)."""
        try:
            X, y, *weights = chunk
        except (TypeError, ValueError):
            weights = [None, None]
        if len(weights) > 1:
            raise TypeError(
                f"{self.owner}: chunk {index} is not an (X, y) pair or an (X, y, "
                f"sample_weight) triple; got {type(chunk).__name__}."
            ) from None
        return X, y, weights[0] if weights else None

    def _weights(self, w: Any, n_rows: int, index: int | None) -> np.ndarray | None:
        """A chunk's sample weights checked (a chunk's may all be 0; not every chunk's)."""
        if w is None:
            return None
        chunk = "a chunk read again" if index is None else f"chunk {index}"
        try:
            return sample_weight_array(w, n_rows, self.dtype, allow_zero=True)
        except (ValueError, TypeError) as err:
            raise invalid(err, self.owner, f"sample_weight of {chunk}") from err

    def first_pass(self, chunks: Iterable[Any], classes: Any) -> Targets:
        """Check every chunk; return the targets' summary (outputs, dtype, attributes)."""
        est = self.estimator
        labels, n_targets, index, total = [], None, -1, 0.0
        for index, chunk in enumerate(chunks):
            X, y, w = self._parts(chunk, index)
            X = self._X(X, index)
            w = self._weights(w, X.shape[0], index)
            total += X.shape[0] if w is None else float(np.sum(w, dtype=np.float64))
            y = est._validate_y(y, X.dtype)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"{self.owner}: chunk {index} has {X.shape[0]} rows of X but "
                    f"{y.shape[0]} of y."
                )
            if is_classifier(est) and y.ndim == 2:
                raise ValueError(
                    f"{self.owner}: y of chunk {index} is a multilabel indicator matrix; fit "
                    f"it with fit (in memory, with batch_size, or on Dask arrays)."
                )
            if is_classifier(est):
                labels.append(np.unique(y))
            elif n_targets is None:
                n_targets = y.shape[1:]
            elif y.shape[1:] != n_targets:
                raise ValueError(
                    f"{self.owner}: invalid y of chunk {index}: its shape {y.shape} does not "
                    f"match the first chunk's targets {n_targets}."
                )
        if index < 0:
            raise ValueError(f"{self.owner}: chunks is empty; at least one chunk is needed.")
        if total <= 0:
            raise ValueError(
                f"{self.owner}: invalid sample_weight: every chunk's sample weights are zero, so "
                f"there is nothing to fit; give at least one sample a positive weight."
            )
        if not is_classifier(est):
            k = n_targets[0] if n_targets else 1
            self.targets = Targets(
                None, None, k, est.output_activation, self.dtype, {"_y_1d": not n_targets}
            )
            return self.targets
        seen = np.unique(np.concatenate(labels))
        if classes is not None:
            classes = np.unique(column_or_1d(classes))
            unseen = np.setdiff1d(seen, classes)
            if unseen.size:
                raise ValueError(
                    f"{self.owner}: invalid y: the chunks hold labels not in classes: "
                    f"{unseen[:10]!r}."
                )
            seen = classes
        if seen.shape[0] < 2:
            raise ValueError(
                f"{self.owner}: a classifier needs at least 2 classes; the chunks hold "
                f"{seen!r}."
            )
        self.classes = seen
        self.targets = Targets(
            None, np.empty(0, np.intp), seen.shape[0], est.output_activation, self.dtype,
            {"classes_": seen, "_multilabel": False},
        )
        return self.targets

    def convert(self, X: Any, y: Any, sample_weight: Any = None) -> tuple[Any, ...]:
        """A chunk as ``(X, Y, labels, weights)`` for a pass (checked again: files may
        change)."""
        X = self._X(X, None)
        y = self.estimator._validate_y(y, X.dtype)
        w = self._weights(sample_weight, X.shape[0], None)
        if self.classes is not None:
            indices = np.searchsorted(self.classes, y)
            indices = np.minimum(indices, self.classes.shape[0] - 1)
            if not np.array_equal(self.classes[indices], y):
                raise ValueError(f"{self.owner}: a chunk's labels changed between passes.")
            return X, class_targets(indices, *self._class_args()), indices, w
        Y = y[:, None] if y.ndim == 1 else y
        return X, Y, None, w

    def _class_args(self) -> tuple[int, str, np.dtype]:
        return self.classes.shape[0], self.estimator.output_activation, self.dtype


def single_layer(estimator: Any) -> bool:
    """``partial_fit`` exists for single-layer models only (``hidden_layer_sizes=()``)."""
    sizes = estimator.hidden_layer_sizes
    try:
        n_hidden = 1 if isinstance(sizes, numbers.Integral) else len(tuple(sizes))
    except TypeError:  # not sizes at all: partial_fit's parameter check says so
        return True
    if n_hidden:
        raise AttributeError(
            f"{type(estimator).__name__}.partial_fit needs a single-layer model "
            f"(hidden_layer_sizes=()), which can be fitted exactly chunk by chunk; a network "
            f"with hidden layers cannot (each BPLS sweep needs every sample). For data larger "
            f"than memory, set batch_size and pass a NumPy memmap to fit, or pass a dask array "
            f"(lsqnet.streaming)."
        )
    return True


class ChunkedFits:
    """The estimators' fits from blocks of rows, Dask arrays, chunks, and ``partial_fit``."""

    def _fit_blocks(
        self, X: Any, y: Any, monitor: Any, sample_weight: Any = None,
        batch_size: int | None = None,
    ):
        """``fit`` with ``batch_size`` (or the ``batch_size`` given): ``X`` is read that many
        rows at a time (the sample weights are in memory). With ``batch_size`` given, ``X`` is
        a NumPy array ``fit`` has validated (n_features_in_, feature_names_in_ set)."""
        owner = type(self).__name__
        if batch_size is None:
            if not isinstance(X, np.ndarray) or X.dtype.kind not in "biuf":
                # not an array of numbers (or a memmap): in memory anyway, converted here
                X = self._check_sparse_fit(self._validate_X(X, reset=True, dtype=self._dtype()))
            else:
                # Shape errors worded as scikit-learn does, and n_features_in_, from the
                # first row; the values of every block are checked as it is read.
                self._validate_X(X[:1] if X.ndim else X, reset=True, dtype=self._dtype())
        dtype, targets = self._row_targets(X, y)
        source = ArrayChunks(
            X, targets.block, int(batch_size or self.batch_size), dtype,
            check=functools.partial(check_block, owner=owner),
            weights=check_sample_weight(sample_weight, X.shape[0], dtype, owner),
        )
        return self._fit(None, targets, monitor, source)

    def _fit_dask(self, X: Any, y: Any, monitor: Any, sample_weight: Any = None):
        """``fit`` on a ``dask.array``: every pass runs on the workers that hold the blocks.
        The sample weights (a 1-D Dask array, or any array) are computed, as ``y`` is, and
        sent with the blocks of ``X``'s rows."""
        import dask.array as da

        owner = type(self).__name__
        if not is_dask_array(X):
            raise TypeError(
                f"{owner}: invalid X: y is a dask array, so X must be one too (with the same "
                f"row chunks); got {type(X).__name__}."
            )
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(
                f"{owner}: invalid X: it must be a 2-D dask array with at least one sample and "
                f"one feature; got shape {X.shape}."
            )
        if len(X.chunks[1]) != 1:
            raise ValueError(
                f"{owner}: invalid X: the dask array is chunked along its features (column "
                f"chunks {X.chunks[1]}); every block must hold whole rows. Use "
                f"X.rechunk({{1: -1}})."
            )
        if np.dtype(X.dtype).kind not in "biuf":
            raise ValueError(
                f"{owner}: invalid X: it must hold real numbers; got dtype {X.dtype}."
            )
        self._reset_features(X.shape[1])
        dtype, targets = self._row_targets(X, y.compute() if is_dask_array(y) else y)
        per_row = targets.labels if targets.labels is not None else targets.Y
        y_blocks = da.from_array(per_row, chunks=(X.chunks[0], *per_row.shape[1:]))
        convert = functools.partial(
            _convert_block, dtype=dtype, owner=owner, n_outputs=targets.n_outputs,
            activation=self.output_activation, classification=targets.classification,
        )
        w = check_sample_weight(sample_weight, X.shape[0], dtype, owner)
        w_blocks = None if w is None else da.from_array(w, chunks=(X.chunks[0],))
        return self._fit(None, targets, monitor, DaskChunks(X, y_blocks, convert, w_blocks))

    def fit_chunks(self, chunks: Any, *, classes: Any = None, monitor: Any = None):
        """Fit from ``chunks``, a collection of ``(X, y)`` pairs or ``(X, y, sample_weight)``
        triples read once per pass.

        For data that does not fit in memory: ``chunks`` is iterated anew for every pass over
        the data (a list, or any object whose ``__iter__`` starts again from the first chunk,
        e.g. one that reads files; a one-shot iterator or generator is refused), and memory
        holds one chunk at a time. The first pass checks every chunk (same features, same
        dtype, no empty chunk; a triple's weights as ``fit`` checks ``sample_weight``, one
        per row, though one chunk's may all be 0) and, for a classifier, collects the labels
        unless ``classes`` lists them. The result equals ``fit`` on the chunks concatenated
        (with their weights; a pair's rows weigh 1), up to rounding; :mod:`lsqnet.streaming`
        says how many passes a fit makes. A failed fit leaves the estimator as it was.

        Parameters
        ----------
        chunks : iterable of (X, y) or (X, y, sample_weight)
            ``X`` (n_i, n_features), ``y`` (n_i,) or (n_i, n_targets), ``sample_weight``
            (n_i,) non-negative (None: all 1).
        classes : array-like, default=None
            Every label of a classifier's chunks (None: collected by the first pass).
        monitor : callable, default=None
            As in ``fit``.

        Returns
        -------
        self
        """
        owner = f"{type(self).__name__}.fit_chunks"
        with unchanged_on_error(self):
            self._options = self._validate_params_()
            check_monitor(monitor, owner)
            if isinstance(chunks, Iterator) or not isinstance(chunks, Iterable):
                raise TypeError(
                    f"{owner}: chunks must be a collection of (X, y) pairs (or (X, y, "
                    f"sample_weight) triples) that can be "
                    f"iterated more than once (a fit reads the data several times): a list, or "
                    f"an object whose __iter__ starts again. Got {type(chunks).__name__}."
                )
            checked = _ChunkChecker(self, owner)
            summary = checked.first_pass(chunks, classes)
            self._reset_features(checked.n_features)
            source = IterableChunks(chunks, checked.convert, checked.n_features)
            return self._fit(None, summary, monitor, source)

    def _row_targets(self, X: Any, y: Any) -> tuple[np.dtype, Targets]:
        """The computation dtype for ``X`` (read block by block) and the targets of its rows
        from ``y`` (in memory)."""
        if self.dtype is not None:
            dtype = np.dtype(self.dtype)
        else:
            dtype = np.dtype(X.dtype)
            dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        y = self._validate_y(y, dtype)
        check_consistent_length(np.empty((X.shape[0], 0)), y)
        return dtype, self._targets(y, dtype)

    def _partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None):
        owner = type(self).__name__
        with unchanged_on_error(self):
            opts = self._validate_params_()
            self._options = opts
            if opts.layer_method != "inverse" or opts.solver not in ("auto", "cholesky"):
                raise ValueError(
                    f"{owner}.partial_fit adds up Gram statistics chunk by chunk: it needs "
                    f"layer_method='inverse' and solver 'auto' or 'cholesky'; got "
                    f"layer_method={opts.layer_method!r}, solver={opts.solver!r}."
                )
            if opts.output_iter:
                raise ValueError(
                    f"{owner}.partial_fit solves the least-squares fit of the chunks so far; "
                    f"the cross-entropy steps of output_iter={opts.output_iter} need all the "
                    f"data at every step. Use output_iter=0, or fit (with batch_size for data "
                    f"larger than memory)."
                )
            stats = getattr(self, "_partial_stats", None)
            first = stats is None
            if first and hasattr(self, "network_"):
                raise ValueError(
                    f"{owner}.partial_fit continues the Gram statistics of earlier fits; "
                    f"this model holds none (it was loaded from a file, or fitted with "
                    f"iteration_rule='misclassified', layer_method='weighted' or solver 'qr' "
                    f"or 'svd'). Call partial_fit on a new estimator "
                    f"(sklearn.base.clone(model)), or refit with fit."
                )
            started = time.perf_counter()
            X = self._validate_X(X, reset=first, dtype=self._dtype())
            if not first and X.dtype != stats.dtype:
                raise ValueError(
                    f"{owner}.partial_fit: invalid X: this chunk is {X.dtype} but earlier "
                    f"chunks were {stats.dtype}; pass chunks of one dtype, or set "
                    f"dtype={str(stats.dtype)!r}."
                )
            y = self._validate_y(y, X.dtype)
            check_consistent_length(X, y)
            w = check_sample_weight(sample_weight, X.shape[0], X.dtype, f"{owner}.partial_fit")
            targets = self._partial_targets(y, X.dtype, classes, first=first)
            Y, labels = targets.block(0, X.shape[0])
            ledger = _flops.FlopLedger() if first else copy.deepcopy(self._partial_ledger)
            with _flops.counting(ledger):
                act = _activations.get(self.output_activation)
                clipped, _ = act.clip(Y, opts.target_eps)
                T = act.inverse(clipped)
                _flops.record("elementwise", 2 * _flops.elementwise(*Y.shape))
                # Each chunk's sums around its own column means (+ brings them to the first
                # chunk's): float32 sums of columns with large means keep the centred Gram
                # matrix accurate, as in fit's chunked path.
                chunk = GramStats.around_means(X, T, w)
                check_finite(chunk, owner=f"{owner}.partial_fit")
                stats = chunk if first else stats + chunk
                factor = factorize(
                    stats, self._summed_alpha(stats), fit_intercept=True,
                    solver=gram_solver(opts.solver),
                    owner=f"{owner}.partial_fit",
                    accepts=Accepts(("auto", "cholesky"), dtype=True),
                )
                r = stats.solve_with(factor, fit_intercept=True)
                layer = Dense(
                    r.coef.astype(X.dtype, copy=False), r.intercept.astype(X.dtype), act.name
                )
                network = Network((layer,))
                loss, acc = loss_and_accuracy(network.forward(X), Y, labels, w)
            history = [] if first else list(self.history_)
            elapsed = time.perf_counter() - started + (history[-1]["time"] if history else 0.0)
            history.append({
                "iteration": len(history) + 1, "layers": 1, "n_samples": int(X.shape[0]),
                "loss": loss, "accuracy": acc, "time": elapsed, "flops": ledger.total,
            })
            self._set_result(network, targets, r.solver, history, loss, ledger)
            self.method_ = "bpls"
            self._partial_stats = stats
            self._partial_ledger = ledger
            return self
