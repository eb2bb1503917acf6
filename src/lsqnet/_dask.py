"""Chunks that live on a Dask cluster: each pass runs where the blocks are, and only sums
(Gram statistics, loss and accuracy counts) travel, added pairwise in a tree.

Imported only when a fit is given a ``dask.array`` (the extra ``lsqnet[dask]``). The work
runs on the scheduler Dask would use anyway: a ``distributed.Client`` if one is active (on a
``LocalCluster`` or at a scheduler address), else Dask's local threads.
"""

from __future__ import annotations

import operator
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import _flops

__all__ = ["DaskChunks", "is_dask_array"]


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a ``dask.array.Array``, without importing Dask when it is not loaded."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(x, module.Array)


@dataclass(frozen=True, eq=False)
class DaskChunks:
    """The row blocks of a 2-D dask array ``X`` with the matching blocks of ``y``, made into
    ``(X, Y, labels)`` chunks on the workers by ``convert(X_block, y_block)``, and the
    matching blocks of the 1-D dask array ``weights`` (the sample weights, in ``X``'s dtype on
    the workers; None: every row weighs 1): a :class:`lsqnet.training.sources.DataSource`."""

    X: Any
    y: Any
    convert: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, Any]]
    weights: Any = None
    resident: ClassVar[bool] = False

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def map_sum(self, fn):
        import dask

        x_blocks = self.X.to_delayed().ravel()
        y_blocks = self.y.to_delayed().ravel()
        w_blocks = (
            [None] * len(x_blocks) if self.weights is None else self.weights.to_delayed().ravel()
        )
        starts = np.concatenate(([0], np.cumsum(self.X.chunks[0])[:-1]))
        # The function (and the networks it holds) is one task of the graph, sent to each
        # worker once, not once per block.
        shared = dask.delayed(_identity, pure=True)(fn)
        convert = dask.delayed(_identity, pure=True)(self.convert)
        parts = [
            dask.delayed(_apply)(shared, convert, xb, yb, wb, int(start))
            for xb, yb, wb, start in zip(x_blocks, y_blocks, w_blocks, starts, strict=True)
        ]
        if not parts:
            return None
        while len(parts) > 1:  # a binary tree of additions
            pairs = [
                dask.delayed(operator.add)(parts[i], parts[i + 1])
                for i in range(0, len(parts) - 1, 2)
            ]
            parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
        total = dask.compute(parts[0])[0]
        for op, flops in total.counts.items():  # the workers' operations, in this ledger
            _flops.record(op, flops)
        if not total.exact:
            _flops.mark_inexact()
        return total.value


@dataclass(frozen=True)
class _Counted:
    """A chunk's result with the operations a worker performed to compute it."""

    value: Any
    counts: Counter
    exact: bool

    def __add__(self, other: _Counted) -> _Counted:
        with _flops.counting() as ledger:  # adding statistics is counted too
            value = self.value + other.value
        return _Counted(
            value, self.counts + other.counts + ledger.counts,
            self.exact and other.exact and ledger.exact,
        )


def _identity(value: Any) -> Any:
    return value


def _apply(fn, convert, X_block, y_block, w_block, start) -> _Counted:
    with _flops.counting() as ledger:
        X, Y, labels = convert(X_block, y_block)
        w = None if w_block is None else np.asarray(w_block, dtype=X.dtype)
        value = fn(X, Y, labels, start, w)
    return _Counted(value, ledger.counts, ledger.exact)
