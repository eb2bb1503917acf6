r"""BPLS from data that does not fit in memory, one chunk at a time.

Every least-squares solve of BPLS needs only the Gram statistics of a layer's inputs and
targets (:class:`lsqnet.GramStats`), and those are sums over samples. :func:`fit_bpls_chunked`
runs the algorithm of :func:`lsqnet.bpls.fit_bpls` over a :class:`ChunkSource`, which
computes a function on every chunk where the chunk lives and returns the sum of the results:
:class:`ArrayChunks` reads row blocks of an array (a NumPy memmap among them),
:class:`IterableChunks` reads a collection of ``(X, y)`` chunks that can be iterated again,
and :class:`lsqnet._dask.DaskChunks` runs on the workers of a Dask cluster and tree-reduces.

Passes over the data: a backward sweep of a network with ``L`` layers makes ``L`` passes (for
the layer being solved, each chunk goes forward through the network as it was at the start
of the sweep and its targets come back down through the layers solved so far; the chunk's
statistics of that layer are added up), then one pass for the training loss and accuracy of
the new network. A fit makes ``max_iter * (L + 1)`` passes at most, two more with
``refit_output``, two before the first sweep with ``init="samples"`` (the sample count
and mean, then the chosen samples), and two per step of ``output_iter`` (the working
targets' cross terms, then the trial steps' cross-entropies). Memory holds one chunk and
its activations, and the statistics (``p x p`` for a layer with ``p`` inputs): it does not
grow with the number of samples.

The result equals the in-memory fit up to the rounding of sums taken in another order.
Chunked fits solve from summed statistics, so they need ``solver="auto"`` or
``"cholesky"`` (with the eigendecomposition as fallback) and ``layer_method="inverse"``.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from . import _flops
from . import activations as _activations
from .bpls import (
    CURVATURE_BOUNDS,
    STEP_MULTIPLES,
    BPLSOptions,
    BPLSResult,
    History,
    _metrics,
    check_finite,
    cross_entropy,
    output_pre_activations,
    penalised_cross_entropy,
    pre_activation_targets,
)
from .layers import Dense, _gram_solver
from .network import Network, desired_inputs
from .solvers import GramStats
from .solvers._lstsq import _ROBUSTNESS, factorize_with_fallback

__all__ = [
    "ArrayChunks",
    "ChunkSource",
    "IterableChunks",
    "check_chunked_options",
    "fit_bpls_chunked",
    "sampled_inputs",
]

#: A chunk: inputs (n, d), output-space targets (n, k), class indices (n,) or None.
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class ChunkSource(Protocol):
    """Chunks of training data that can be read any number of times."""

    n_features: int

    def map_sum(self, fn: Callable[[np.ndarray, np.ndarray, Any, int], Any]) -> Any:
        """``fn(X, Y, labels, start)`` on every chunk (``start``: the index of its first
        row), summed with ``+``; None for a source without rows."""


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

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def blocks(self) -> Iterator[tuple[np.ndarray, int, int]]:
        n = self.X.shape[0]
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
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


# -- the sums a pass returns ------------------------------------------------------------------


@dataclass(frozen=True)
class _Metrics:
    """Sums behind the training loss and accuracy of a pass."""

    squared_error: float
    correct: int
    n_samples: int
    n_values: int

    def __add__(self, other: _Metrics) -> _Metrics:
        return _Metrics(
            self.squared_error + other.squared_error,
            self.correct + other.correct,
            self.n_samples + other.n_samples,
            self.n_values + other.n_values,
        )


def _chunk_metrics(out: np.ndarray, Y: np.ndarray, labels: np.ndarray | None) -> _Metrics:
    loss, acc = _metrics(out, Y, labels)
    n = Y.shape[0]
    correct = 0 if labels is None else int(round(acc * n))
    return _Metrics(loss * Y.size, correct, n, Y.size)


@dataclass(frozen=True)
class _Trials:
    """Summed cross-entropies and metrics of the trial steps of an output-layer refinement."""

    cross_entropy: np.ndarray  # (len(STEP_MULTIPLES),), summed over samples
    metrics: tuple[_Metrics, ...]

    def __add__(self, other: _Trials) -> _Trials:
        return _Trials(
            self.cross_entropy + other.cross_entropy,
            tuple(a + b for a, b in zip(self.metrics, other.metrics, strict=True)),
        )


@dataclass(frozen=True)
class _Rows:
    """Chosen rows of the data, gathered across chunks: ``{row index: row}``."""

    rows: dict[int, np.ndarray]

    def __add__(self, other: _Rows) -> _Rows:
        return _Rows({**self.rows, **other.rows})


class _SampledInputs:
    """What :func:`lsqnet.network.init_network` reads of ``X`` for ``init="samples"`` (its
    shape, column means and a few rows), each computed by a pass over a chunk source."""

    def __init__(self, source: ChunkSource) -> None:
        self.source = source
        self.passes = 1
        count, total = source.map_sum(
            lambda X, Y, labels, start: _Pair(X.shape[0], X.sum(axis=0, dtype=np.float64))
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
            return _Rows({int(i): X[i - start].copy() for i in mine})

        self.passes += 1
        found = self.source.map_sum(pick).rows
        return np.stack([found[int(i)] for i in rows])


@dataclass(frozen=True)
class _Pair:
    """Two sums carried through one pass."""

    first: Any
    second: Any

    def __add__(self, other: _Pair) -> _Pair:
        return _Pair(self.first + other.first, self.second + other.second)

    @property
    def values(self) -> tuple[Any, Any]:
        return self.first, self.second


# -- the algorithm ---------------------------------------------------------------------------


def _layer_targets(
    old: Network, new: list[Dense], idx: int, X: np.ndarray, Y: np.ndarray, opts: BPLSOptions
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk's inputs and desired pre-activations of layer ``idx`` in a backward sweep.

    ``old`` is the network at the start of the sweep, ``new`` its layers with those above
    ``idx`` already solved: the steps of :func:`lsqnet.bpls.backward_sweep` for one chunk.
    """
    acts = old.forward_all(X)
    desired = Y
    for j in range(len(new) - 1, idx - 1, -1):
        H = acts[j]
        T = pre_activation_targets(old.layers[j], H, desired, opts.target_eps)
        if j == idx:
            return H, T
        current = H if opts.hidden_target == "closest" else None
        desired = desired_inputs(new[j], T, current, opts.backprop_ridge)
    raise AssertionError("unreachable")  # pragma: no cover


def _cross_terms(H: np.ndarray, T: np.ndarray) -> GramStats:
    """The target-dependent sums of ``GramStats.from_data(H, T)`` (the others left empty)."""
    empty = np.zeros((0,), H.dtype)
    AtB, _, Tw = GramStats._cross_products(H, T, np.ones(H.shape[0], H.dtype), unweighted=True)
    return GramStats._with_cross_terms(empty, empty, 0.0, 0, T, Tw, AtB)


def check_chunked_options(opts: BPLSOptions) -> None:
    """Raise unless ``opts`` can be solved from summed Gram statistics."""
    if opts.layer_method != "inverse":
        raise ValueError(
            f"A chunked BPLS fit needs layer_method='inverse' (it solves from summed Gram "
            f"statistics); got {opts.layer_method!r}."
        )
    if opts.solver not in ("auto", "cholesky"):
        raise ValueError(
            f"A chunked BPLS fit solves from summed Gram statistics: solver must be 'auto' or "
            f"'cholesky' (which falls back to the Gram eigendecomposition); got {opts.solver!r}."
        )


def fit_bpls_chunked(
    source: ChunkSource,
    network: Network,
    opts: BPLSOptions,
    *,
    classification: bool = False,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
    init_passes: int = 0,
) -> BPLSResult:
    """Train ``network`` on the chunks of ``source``, as :func:`lsqnet.bpls.fit_bpls` does in
    memory (same options, stopping rules, best iterate, history and ``monitor``).

    ``classification`` says that the chunks carry class indices (accuracy is recorded and
    ``iteration_rule`` applies). History entries also record ``passes``, the passes over the
    data made so far, counting the ``init_passes`` made to initialise ``network``.
    """
    check_chunked_options(opts)
    history = History(monitor)
    passes = init_passes
    misclassified = classification and opts.iteration_rule == "misclassified"
    first_layer: dict[str, Any] = {}  # the first layer's Gram statistics and factor, reused
    output_layer: dict[str, Any] = {}  # the output layer's, from the refit, for output_iter

    def run(fn):
        nonlocal passes
        passes += 1
        result = source.map_sum(fn)
        if result is None:
            raise ValueError("The training data has no chunks; at least one sample is needed.")
        return result

    def metrics(net: Network) -> _Metrics:
        return run(lambda X, Y, labels, start: _chunk_metrics(net.forward(X), Y, labels))

    def step(net: Network, m: _Metrics, n_layers: int, n_used: int):
        loss = m.squared_error / m.n_values
        acc = m.correct / m.n_samples if classification else float("nan")
        stop = history.record(
            net, layers=n_layers, n_samples=n_used, loss=loss, accuracy=acc,
            flops=ledger.total, passes=passes,
        )
        return loss, acc, stop

    def solve_from(stats: GramStats, kept: dict[str, Any], keep: bool):
        """Solve with the statistics' cross terms and the factor in ``kept`` if it has one
        (``stats`` holds only cross terms then); else factorise, and keep it if ``keep``."""
        if "stats" in kept:
            stats = kept["stats"].with_cross_terms_of(stats)
            return stats.solve_with(kept["factor"], fit_intercept=True)
        check_finite(stats)
        factor = factorize_with_fallback(
            stats, opts.alpha, fit_intercept=True, solver=_gram_solver(opts.solver),
            rcond=None, owner="BPLS",
        )
        if keep:
            kept.update(stats=stats, factor=factor)
        return stats.solve_with(factor, fit_intercept=True)

    def solve_layer(
        old: Network, new: list[Dense], idx: int, restrict: bool, keep_output: bool = False
    ):
        def chunk_stats(X, Y, labels, start):
            if restrict:
                keep = np.argmax(old.forward(X), axis=1) != labels
                X, Y = X[keep], Y[keep]
            H, T = _layer_targets(old, new, idx, X, Y, opts)
            if idx == 0 and "stats" in first_layer:
                return _Pair(_cross_terms(H, T), H.shape[0])
            # each chunk's sums around its own means (Chan): they add up without the float32
            # centring noise of plain sums; a layer's activations (idx > 0) are ours to shift
            return _Pair(GramStats.around_means(H, T, overwrite_a=idx > 0), H.shape[0])

        stats, n_used = run(chunk_stats).values
        if stats.n_samples == 0 and not (idx == 0 and "stats" in first_layer):
            return new[idx], "cholesky", 0  # every sample classified correctly: nothing to fit
        if idx == 0:
            r = solve_from(stats, first_layer, keep=not restrict and not misclassified)
        else:
            r = solve_from(stats, output_layer if keep_output else {}, keep=keep_output)
        old_layer = old.layers[idx]
        dtype = old_layer.weight.dtype
        layer = Dense(r.coef.astype(dtype, copy=False), r.intercept.astype(dtype),
                      old_layer.activation)
        return layer, r.solver, n_used

    def sweep(net: Network, restrict: bool, n_layers: int, keep_output: bool = False):
        layers = list(net.layers)
        used, n_used = [], 0
        for idx in range(len(layers) - 1, len(layers) - 1 - n_layers, -1):
            layers[idx], solver, count = solve_layer(net, layers, idx, restrict, keep_output)
            used.append(solver)
            n_used = n_used if idx < len(layers) - 1 else count
        return Network(tuple(layers)), max(used, key=_ROBUSTNESS.__getitem__), n_used

    def refine(net: Network, kept: dict[str, Any]):
        """:func:`lsqnet.bpls.refine_output` over the chunks: per step, a pass for the
        working targets' cross terms and one for the trial steps' cross-entropies."""
        hidden, out = Network(net.layers[:-1]), net.layers[-1]
        act = _activations.get(out.activation)
        beta = CURVATURE_BOUNDS[act.name]
        delta = out

        def working(X, Y, labels, start):
            H = hidden.forward(X)
            Z = output_pre_activations(H, out)
            P = act.forward(Z)
            T = Z - (P - Y) / beta
            _flops.record("elementwise", 4 * _flops.elementwise(*Z.shape))
            own = len(hidden.layers) > 0  # H is then the hidden activations, not X
            stats = (
                _cross_terms(H, T) if "stats" in kept
                else GramStats.around_means(H, T, overwrite_a=own)
            )
            n = H.shape[0]
            return _Pair(stats, np.array([cross_entropy(P, Y, act.name) * n, n]))

        def trials(X, Y, labels, start):
            H = hidden.forward(X)
            Z, dZ = output_pre_activations(H, out), output_pre_activations(H, delta)
            values, metrics = [], []
            for multiple in STEP_MULTIPLES:
                P = act.forward(Z + multiple * dZ)
                _flops.record("elementwise", 3 * _flops.elementwise(*Z.shape))
                values.append(cross_entropy(P, Y, act.name) * H.shape[0])
                metrics.append(_chunk_metrics(P, Y, labels))
            return _Trials(np.array(values), tuple(metrics))

        def objective(total: float, n: float, weight: np.ndarray) -> float:
            return penalised_cross_entropy(total / n, weight, opts.alpha, beta, n)

        stats, (total, n) = run(working).values
        loss = objective(total, n, out.weight)
        solvers, result = [], None
        for it in range(1, opts.output_iter + 1):
            if it > 1:
                stats, _ = run(working).values
            r = solve_from(stats, kept, keep=True)
            solvers.append(r.solver)
            dtype = out.weight.dtype
            delta = Dense(
                r.coef.astype(dtype, copy=False) - out.weight,
                r.intercept.astype(dtype) - out.bias, "identity",
            )
            tried = run(trials)
            values = [
                objective(total, n, out.weight + multiple * delta.weight)
                for total, multiple in zip(tried.cross_entropy, STEP_MULTIPLES, strict=True)
            ]
            best_trial = int(np.argmin(values))
            multiple = STEP_MULTIPLES[best_trial]
            out = Dense(
                out.weight + multiple * delta.weight, out.bias + multiple * delta.bias,
                act.name,
            )
            net = Network((*hidden.layers, out))
            previous, loss = loss, values[best_trial]
            result = step(net, tried.metrics[best_trial], 1, int(n))
            if result[2] or not previous - loss > opts.tol * previous:
                break
        return net, max(solvers, key=_ROBUSTNESS.__getitem__), result

    with _flops.counting(ledger) as ledger:
        best = (network, -np.inf, np.inf)
        solver_used = "cholesky"
        restrict = False
        stop = False
        for it in range(1, opts.max_iter + 1):
            network, used, n_used = sweep(network, restrict, len(network.layers))
            solver_used = max(solver_used, used, key=_ROBUSTNESS.__getitem__)
            m = metrics(network)
            loss, acc, stop = step(network, m, len(network.layers), n_used)
            score = acc if classification else 0.0
            if (score, -loss) > (best[1], -best[2]):
                best = (network, score, loss)
            if stop:
                break
            if classification and m.correct == m.n_samples:
                break
            if misclassified:
                restrict = True
            elif it > 1 and not history.improved(loss, opts.tol):
                break
        if opts.refit_output and not stop:
            network, used, n_used = sweep(best[0], False, 1, keep_output=True)
            solver_used = max(solver_used, used, key=_ROBUSTNESS.__getitem__)
            loss, acc, stop = step(network, metrics(network), 1, n_used)
            score = acc if classification else 0.0
            if (score, -loss) > (best[1], -best[2]):
                best = (network, score, loss)
        if opts.output_iter and not stop:
            kept = first_layer if len(network.layers) == 1 else output_layer
            network, used, (loss, acc, _) = refine(best[0], kept)
            solver_used = max(solver_used, used, key=_ROBUSTNESS.__getitem__)
            best = (network, acc, loss)  # the last step's
    return BPLSResult(
        best[0], history.entries, len(history.entries), solver_used, ledger,
        first_layer.get("stats"), loss=best[2],
    )


def sampled_inputs(source: ChunkSource) -> _SampledInputs:
    """The stand-in for ``X`` that :func:`lsqnet.network.init_network` needs for
    ``init="samples"``, read from ``source`` (two passes: count and mean, chosen rows)."""
    return _SampledInputs(source)
