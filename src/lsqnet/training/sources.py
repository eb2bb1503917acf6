"""Data sources: where the passes of a training method over the data run.

A source computes a function on every chunk of the training data, where the chunk lives,
and returns the sum of the results (:meth:`DataSource.map_sum`):

- :class:`InMemory`: arrays or tensors in memory, one chunk that stays (``resident``): a
  method keeps what it computed on it (activations, outputs) from one pass to the next;
- :class:`ArrayChunks`: row blocks of an array (a NumPy memmap among them);
- :class:`IterableChunks`: a collection of ``(X, y)`` chunks (or ``(X, y, sample_weight)``
  triples) that can be iterated again;
- :class:`lsqnet._dask.DaskChunks`: the blocks of a Dask array, on the workers that hold
  them, added up in a tree.

Every source may carry sample weights: each chunk comes with its rows' weights (None: every
row weighs 1), and the passes weight their sums by them. Rows of zero weight contribute
nothing, and the rows that data-dependent initialisation reads are drawn among the rows of
positive weight (:func:`sampled_inputs`, :func:`positive_rows`).

What a pass returns are sums: :class:`~lsqnet.GramStats`, :class:`Pair` of sums,
:class:`Rows` chosen from the data, :class:`lsqnet.training._loop.Metrics`.
:func:`gather` brings given rows of any source into memory, in one pass.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from .. import _sparse
from .._array_api import device, get_namespace

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
    "gather",
    "positive_rows",
    "sampled_inputs",
]

#: A chunk: inputs (n, d), output-space targets (n, k), class indices (n,) or None, sample
#: weights (n,) or None (every row weighs 1).
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]


class DataSource(Protocol):
    """Training data that can be read any number of times, one chunk at a time.

    ``resident`` is True for data held in memory as one chunk (:class:`InMemory`): a method
    may then keep arrays computed on it from one step to the next (activations, outputs)
    instead of computing them again in every pass.
    """

    n_features: int
    resident: bool

    def map_sum(self, fn: Callable[[np.ndarray, np.ndarray, Any, int, Any], Any]) -> Any:
        """``fn(X, Y, labels, start, weights)`` on every chunk (``start``: the index of its
        first row; ``weights``: its rows' sample weights, None when all are 1), summed with
        ``+``; None for a source without rows."""


#: The chunk sources of :mod:`lsqnet.streaming` (the name it has always had there).
ChunkSource = DataSource


@dataclass(frozen=True, eq=False)
class InMemory:
    """Data in memory (NumPy arrays or tensors on any device) as a source of one chunk that
    stays: ``X`` (n, d), output-space targets ``Y`` (n, k), class indices ``labels`` (n,) or
    None, sample weights ``weights`` (n,) or None (every row weighs 1)."""

    X: Any
    Y: Any
    labels: Any = None
    weights: Any = None
    resident: ClassVar[bool] = True

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def map_sum(self, fn):
        return fn(self.X, self.Y, self.labels, 0, self.weights)

    def rows(self, rows: Any) -> InMemory:
        """The source of the rows ``rows`` (indices of the array namespace of ``X``)."""
        xp = get_namespace(self.X)

        def take(a: Any) -> Any:
            if a is None:
                return None
            return _sparse.take_rows(a, rows) if _sparse.is_sparse(a) else xp.take(a, rows, axis=0)

        return InMemory(take(self.X), take(self.Y), take(self.labels), take(self.weights))


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
    targets made per block by ``targets(start, stop)`` and the rows of ``weights`` (n,) (in
    memory; None: every row weighs 1).

    For a read-only NumPy memmap, the pages of each block are released after use, so the
    resident memory of a pass stays at about one block (the data stays in the system's file
    cache for the next pass).
    """

    X: np.ndarray
    targets: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]]
    batch_size: int
    dtype: np.dtype
    check: Callable[[np.ndarray, int], None] | None = None
    weights: np.ndarray | None = None
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
                w = None if self.weights is None else self.weights[start:stop]
                yield fn(block, Y, labels, start, w)

        return _sum(parts())


@dataclass(frozen=True, eq=False)
class IterableChunks:
    """Chunks from ``chunks``, a collection of ``(X, y)`` pairs or ``(X, y, sample_weight)``
    triples iterated anew for every pass (a list, or any object whose ``__iter__`` starts
    again from the first chunk), converted by ``convert(X, y, sample_weight) -> (X, Y,
    labels, weights)`` (``sample_weight`` None for a pair)."""

    chunks: Iterable[tuple[Any, ...]]
    convert: Callable[[Any, Any, Any], Chunk]
    n_features: int
    resident: ClassVar[bool] = False

    def map_sum(self, fn):
        def parts():
            start = 0
            for chunk in self.chunks:
                X, y, *weights = chunk
                X, Y, labels, w = self.convert(X, y, weights[0] if weights else None)
                yield fn(X, Y, labels, start, w)
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

    rows: dict[int, Any]

    def __add__(self, other: Rows) -> Rows:
        return Rows({**self.rows, **other.rows})


def positive_rows(X: Any, weights: Any) -> Any:
    """The rows of ``X`` whose weight is positive (``X`` itself when ``weights`` is None or
    every weight is positive): what data-dependent initialisation reads, so that rows of
    zero weight are never drawn and a fit with them equals the fit without them."""
    if weights is None:
        return X
    xp = get_namespace(X, weights)
    keep = weights > 0
    if bool(xp.all(keep)):
        return X
    if _sparse.is_sparse(X):
        return _sparse.take_rows(X, keep)
    return xp.take(X, xp.nonzero(keep)[0], axis=0)


class SampledInputs:
    """What :func:`lsqnet.network.init_network` reads of ``X`` for ``init="samples"`` (its
    shape, column sums and a few rows), each computed by a pass over a chunk source.

    It stands for the rows of positive weight only (all rows of an unweighted source), in
    their order: row ``i`` of the stand-in is the ``i``-th row of positive weight, as in
    :func:`positive_rows` of the data in memory.
    """

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.passes = 1

        def count(X, Y, labels, start, w):
            kept = positive_rows(X, w)
            return Pair(
                Rows({start: kept.shape[0]}),
                Pair(kept.shape[0], _sparse.column_sums(kept, np.float64)),
            )

        counts, inner = source.map_sum(count).values
        n_rows, total = inner.values
        self.shape = (n_rows, source.n_features)
        self._sum = total
        # the index in the stand-in of each chunk's first kept row, by the chunk's start
        starts = sorted(counts.rows)
        offsets = np.cumsum([0] + [counts.rows[s] for s in starts[:-1]])
        self._offsets = dict(zip(starts, offsets.tolist(), strict=True))

    def sum(self, axis: int, dtype: Any, out: Any = None) -> np.ndarray:
        """The column sums (``numpy.sum`` of the stand-in), in float64."""
        return self._sum

    def take(self, rows: np.ndarray, axis: int = 0, out: Any = None, mode: str = "raise"):
        """The rows ``rows`` (``numpy.take`` of the stand-in along axis 0)."""
        wanted = np.unique(rows)
        offsets = self._offsets

        def pick(X, Y, labels, start, w):
            local = np.arange(X.shape[0]) if w is None else np.flatnonzero(np.asarray(w) > 0)
            first = offsets[start]
            mine = wanted[(wanted >= first) & (wanted < first + local.shape[0])]
            return Rows({int(i): _sparse.dense_rows(X, [local[i - first]])[0] for i in mine})

        self.passes += 1
        found = self.source.map_sum(pick).rows
        return np.stack([found[int(i)] for i in rows])


@dataclass(frozen=True)
class _Picked:
    """Rows picked from chunks: per chunk, the position of its first picked row among the
    rows asked for (sorted), and its picked ``X``, ``Y``, labels and weights."""

    parts: tuple[tuple[int, Any, Any, Any, Any], ...]

    def __add__(self, other: _Picked) -> _Picked:
        return _Picked(self.parts + other.parts)


def _arrange(blocks: list[tuple[int, Any]], inverse: np.ndarray) -> Any:
    """Row ``i`` of the result is row ``inverse[i]`` of the blocks stacked (each block given
    with the index of its first row), filled in place: memory holds the blocks and the
    result, not a stacked copy too. None for a column the chunks do not have."""
    if blocks[0][1] is None:
        return None
    if _sparse.is_sparse(blocks[0][1]):
        import scipy.sparse

        return scipy.sparse.vstack([block for _, block in blocks], format="csr")[inverse]
    first = blocks[0][1]
    out = np.empty((inverse.shape[0], *first.shape[1:]), first.dtype)
    order = np.argsort(inverse, kind="stable")
    ranks = inverse[order]
    for lo, block in blocks:
        a, b = np.searchsorted(ranks, [lo, lo + block.shape[0]])
        out[order[a:b]] = block[ranks[a:b] - lo]
    return out


def gather(source: DataSource, rows: Any) -> InMemory:
    """The rows ``rows`` (indices of the rows of all chunks, in their order; any order,
    repeats allowed) of ``source``, in memory and in that order: :meth:`InMemory.rows` of a
    resident source, else one pass that keeps only those rows of each chunk (a sparse
    chunk's rows stay sparse). Raises ``IndexError`` for rows the source does not have."""
    rows = np.asarray(rows, dtype=np.intp)
    if source.resident:
        xp = get_namespace(source.X)
        return source.rows(rows if xp is np else xp.asarray(rows, device=device(source.X)))
    wanted, inverse = np.unique(rows, return_inverse=True)

    def pick(X, Y, labels, start, w):
        lo, hi = np.searchsorted(wanted, [start, start + X.shape[0]])
        if lo == hi:
            return _Picked(())
        local = wanted[lo:hi] - start

        def take(a: Any) -> Any:
            if a is None:
                return None
            return _sparse.take_rows(a, local) if _sparse.is_sparse(a) else np.asarray(a)[local]

        return _Picked(((int(lo), take(X), take(Y), take(labels), take(w)),))

    parts = sorted(source.map_sum(pick).parts, key=lambda part: part[0])
    found = sum(part[1].shape[0] for part in parts)
    if found != wanted.shape[0]:
        raise IndexError(
            f"gather: {wanted.shape[0] - found} of the {wanted.shape[0]} rows asked for are "
            f"not rows of the source (the largest asked for is {int(wanted[-1])})."
        )
    weighted = [part[4] for part in parts if part[4] is not None]
    if weighted and len(weighted) < len(parts):  # chunks without weights: their rows weigh 1
        dtype = weighted[0].dtype
        parts = [
            part if part[4] is not None else (*part[:4], np.ones(part[1].shape[0], dtype))
            for part in parts
        ]
    return InMemory(*(_arrange([(part[0], part[i]) for part in parts], inverse)
                      for i in range(1, 5)))


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
