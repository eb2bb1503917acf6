"""Data sources: where the passes of a training method over the data run.

A source computes a function on every chunk of the training data, where the chunk lives,
and returns the sum of the results (:meth:`DataSource.map_sum`):

- :class:`InMemory`: arrays or tensors in memory, one chunk that stays (``resident``): a
  method keeps what it computed on it (activations, outputs) from one pass to the next;
- :class:`ArrayChunks`: row blocks of an array (a NumPy memmap among them);
- :class:`IterableChunks`: a collection of ``(X, y)`` chunks that can be iterated again;
- :class:`lsqnet._dask.DaskChunks`: the blocks of a Dask array, on the workers that hold
  them, added up in a tree.

What a pass returns are sums: :class:`~lsqnet.GramStats`, :class:`Pair` of sums,
:class:`Rows` chosen from the data, :class:`lsqnet.training._loop.Metrics`.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from .. import _sparse

__all__ = [
    "ArrayChunks",
    "ChunkSource",
    "DataSource",
    "InMemory",
    "IterableChunks",
    "Pair",
    "Passes",
    "Rows",
    "SampledInputs",
    "sampled_inputs",
]

#: A chunk: inputs (n, d), output-space targets (n, k), class indices (n,) or None.
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class DataSource(Protocol):
    """Training data that can be read any number of times, one chunk at a time.

    ``resident`` is True for data held in memory as one chunk (:class:`InMemory`): a method
    may then keep arrays computed on it from one step to the next (activations, outputs)
    instead of computing them again in every pass.
    """

    n_features: int
    resident: bool

    def map_sum(self, fn: Callable[[np.ndarray, np.ndarray, Any, int], Any]) -> Any:
        """``fn(X, Y, labels, start)`` on every chunk (``start``: the index of its first
        row), summed with ``+``; None for a source without rows."""


#: The chunk sources of :mod:`lsqnet.streaming` (the name it has always had there).
ChunkSource = DataSource


@dataclass(frozen=True, eq=False)
class InMemory:
    """Data in memory (NumPy arrays or tensors on any device) as a source of one chunk that
    stays: ``X`` (n, d), output-space targets ``Y`` (n, k), class indices ``labels`` (n,) or
    None."""

    X: Any
    Y: Any
    labels: Any = None
    resident: ClassVar[bool] = True

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def map_sum(self, fn):
        return fn(self.X, self.Y, self.labels, 0)


class Passes:
    """A source that counts the passes made over it (history's ``passes``) and refuses to
    return the sum of no chunks."""

    def __init__(self, source: DataSource, passes: int = 0) -> None:
        self.source = source
        self.count = passes
        self.n_features = source.n_features
        self.resident = source.resident

    def map_sum(self, fn):
        self.count += 1
        result = self.source.map_sum(fn)
        if result is None:
            raise ValueError("The training data has no chunks; at least one sample is needed.")
        return result


def _sum(parts: Iterable[Any]) -> Any:
    total = None
    for part in parts:
        total = part if total is None else total + part
    return total


@dataclass(frozen=True, eq=False)
class ArrayChunks:
    """Row blocks of ``batch_size`` rows of an array ``X``, converted to ``dtype`` one block at
    a time and passed to ``check(block, start)`` if given (which raises for bad values), with
    targets made per block by ``targets(start, stop)``.

    For a read-only NumPy memmap, the pages of each block are released after use, so the
    resident memory of a pass stays at about one block (the data stays in the system's file
    cache for the next pass).
    """

    X: np.ndarray
    targets: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]]
    batch_size: int
    dtype: np.dtype
    check: Callable[[np.ndarray, int], None] | None = None
    resident: ClassVar[bool] = False

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def blocks(self) -> Iterator[tuple[np.ndarray, int, int]]:
        n = self.X.shape[0]
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if _sparse.is_sparse(self.X):  # a CSR block: its rows, still sparse
                block = _sparse.astype(self.X[start:stop], self.dtype)
            else:
                block = np.array(self.X[start:stop], dtype=self.dtype, order="C")
            _release_pages(self.X[start:stop])
            if self.check is not None:
                self.check(block, start)
            yield block, start, stop

    def map_sum(self, fn):
        def parts():
            for block, start, stop in self.blocks():
                Y, labels = self.targets(start, stop)
                yield fn(block, Y, labels, start)

        return _sum(parts())


@dataclass(frozen=True, eq=False)
class IterableChunks:
    """Chunks from ``chunks``, a collection of ``(X, y)`` pairs iterated anew for every pass
    (a list, or any object whose ``__iter__`` starts again from the first chunk), converted
    by ``convert(X, y) -> (X, Y, labels)``."""

    chunks: Iterable[tuple[Any, Any]]
    convert: Callable[[Any, Any], Chunk]
    n_features: int
    resident: ClassVar[bool] = False

    def map_sum(self, fn):
        def parts():
            start = 0
            for X, y in self.chunks:
                X, Y, labels = self.convert(X, y)
                yield fn(X, Y, labels, start)
                start += X.shape[0]

        return _sum(parts())


def _release_pages(view: np.ndarray) -> None:
    """Drop the pages of ``view`` from the process's memory if it lies in a read-only memmap.

    Only a read-only shared mapping is touched: its pages are copies of the file, which the
    system keeps in its cache, so nothing is lost. Anything else is left alone.
    """
    mm = getattr(view, "_mmap", None)
    if not isinstance(view, np.memmap) or getattr(view, "mode", None) != "r" or mm is None:
        return
    if not hasattr(mm, "madvise") or view.size == 0:
        return
    base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    begin = view.ctypes.data - base
    end = begin + view.nbytes
    page = mmap.PAGESIZE
    begin, end = -(-begin // page) * page, (end // page) * page  # whole pages inside the view
    if end > begin:
        mm.madvise(mmap.MADV_DONTNEED, begin, end - begin)


@dataclass(frozen=True)
class Rows:
    """Chosen rows of the data, gathered across chunks: ``{row index: row}``."""

    rows: dict[int, np.ndarray]

    def __add__(self, other: Rows) -> Rows:
        return Rows({**self.rows, **other.rows})


class SampledInputs:
    """What :func:`lsqnet.network.init_network` reads of ``X`` for ``init="samples"`` (its
    shape, column means and a few rows), each computed by a pass over a chunk source."""

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.passes = 1
        count, total = source.map_sum(
            lambda X, Y, labels, start: Pair(X.shape[0], _sparse.column_sums(X, np.float64))
        ).values
        self.shape = (count, source.n_features)
        self._sum = total

    def sum(self, axis: int, dtype: Any, out: Any = None) -> np.ndarray:
        """The column sums (``numpy.sum`` of the stand-in), in float64."""
        return self._sum

    def take(self, rows: np.ndarray, axis: int = 0, out: Any = None, mode: str = "raise"):
        """The rows ``rows`` (``numpy.take`` of the stand-in along axis 0)."""
        wanted = np.unique(rows)

        def pick(X, Y, labels, start):
            mine = wanted[(wanted >= start) & (wanted < start + X.shape[0])]
            return Rows({int(i): _sparse.dense_rows(X, [i - start])[0] for i in mine})

        self.passes += 1
        found = self.source.map_sum(pick).rows
        return np.stack([found[int(i)] for i in rows])


@dataclass(frozen=True)
class Pair:
    """Two sums carried through one pass."""

    first: Any
    second: Any

    def __add__(self, other: Pair) -> Pair:
        return Pair(self.first + other.first, self.second + other.second)

    @property
    def values(self) -> tuple[Any, Any]:
        return self.first, self.second


def sampled_inputs(source: DataSource) -> SampledInputs:
    """The stand-in for ``X`` that :func:`lsqnet.network.init_network` needs for
    ``init="samples"``, read from ``source`` (two passes: count and mean, chosen rows)."""
    return SampledInputs(source)
