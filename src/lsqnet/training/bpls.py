r"""BPLS as a training method: backward sweeps over a data source.

The method of Tomic, Matos-Carvalho and Beko, arXiv 2401.06699 (2024), described in
:mod:`lsqnet.bpls`. One sweep solves the layers from the output down; each layer's
least-squares problem is gathered over the source by one walk down the layers
(:func:`walk`, the same for every source):

- a resident source (:class:`~lsqnet.training.sources.InMemory`) keeps the network's
  activations between sweeps and walks down once per sweep, solving each layer from its data
  (:func:`backward_sweep`; every solver, ``layer_method="weighted"``, the float32 ladder);
- a streamed source walks each chunk down to the layer being solved and sums its Gram
  statistics: one pass per layer, then one for the training loss.

:class:`Sweeps` is the method (``start``/``step``), :func:`fit` the whole fit: sweeps, the
optional output refit, then the optional cross-entropy steps
(:mod:`lsqnet.training.cross_entropy`), all through :func:`lsqnet.training._loop.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _flops
from .. import activations as _activations
from .._array_api import device, get_namespace, xp_dtype
from ..layers import Dense
from ..network import Network, apply_layer, desired_inputs
from ..solvers import GramStats
from ..solvers._policy import most_robust
from ._layer import LayerCache, solve_data, solve_summed
from ._loop import History, Iterate, Metrics, Step, loss_and_accuracy, run
from .cross_entropy import refine_output
from .sources import DataSource, InMemory, Pair, Passes

__all__ = [
    "HIDDEN_TARGETS",
    "ITERATION_RULES",
    "LAYER_METHODS",
    "BPLSOptions",
    "BPLSResult",
    "Sweeps",
    "backward_sweep",
    "check_chunked_options",
    "class_targets",
    "fit",
    "pre_activation_targets",
    "walk",
]

ITERATION_RULES = ("all", "misclassified")
HIDDEN_TARGETS = ("closest", "min_norm")
LAYER_METHODS = ("inverse", "weighted")


@dataclass(frozen=True)
class BPLSOptions:
    """The choices BPLS leaves open; the defaults are lsqnet's, ``paper()`` the literal ones.

    Attributes
    ----------
    alpha : float
        Ridge penalty of every layer's weight solve (never on biases).
    solver : str
        ``"auto"``/``"cholesky"`` (normal equations, factorisations reused) or ``"qr"``/``"svd"``.
    target_eps : float
        Margin keeping desired outputs inside each activation's open range.
    hidden_target : {"closest", "min_norm"}
        Desired previous-layer activations: the least-squares solution closest to the current
        activations, or the minimum-norm one (the literal reading of the paper).
    layer_method : {"inverse", "weighted"}
        Plain least squares on inverted targets, or weighted by ``f'(z)^2`` per sample and
        neuron (a first-order match of the output-space error; one factorisation per neuron).
    iteration_rule : {"all", "misclassified"}
        Which samples later iterations use (classification only).
    backprop_ridge : float
        Relative ridge of the backward target step (see ``desired_inputs``).
    max_iter : int
        Maximum number of backward sweeps (0: none, with ``refit_output``).
    tol : float
        Stop when the training loss improves by less than ``tol`` (relative).
    refit_output : bool
        After the sweeps, solve the output layer once more on the returned network's final
        hidden activations (each sweep leaves the output layer fitted to the hidden layers
        it started from). With ``max_iter=0`` this is the whole fit: only the output layer
        is solved, on the initial hidden layers (an extreme learning machine).
    output_iter : int
        Then at most that many least-squares steps that fit the output layer (sigmoid or
        softmax) to the cross-entropy instead of the squared error of its inverted targets
        (:func:`lsqnet.training.cross_entropy.refine_output`); they stop early when the
        cross-entropy improves by less than ``tol`` (relative). 0: none.
    """

    alpha: float = 1.0
    solver: str = "auto"
    target_eps: float = 0.01
    hidden_target: str = "closest"
    layer_method: str = "inverse"
    iteration_rule: str = "all"
    backprop_ridge: float = 1e-3
    max_iter: int = 10
    tol: float = 1e-4
    refit_output: bool = False
    output_iter: int = 0

    @classmethod
    def paper(cls, **overrides: Any) -> BPLSOptions:
        """The settings that follow the paper's description literally."""
        base = dict(
            alpha=0.0, solver="auto", hidden_target="min_norm", layer_method="inverse",
            iteration_rule="misclassified", backprop_ridge=0.0,
        )
        base.update(overrides)
        return cls(**base)


@dataclass
class BPLSResult:
    """The fitted network, per-iteration history, solver used and operation ledger."""

    network: Network
    history: list[dict[str, float]]
    n_iter: int
    solver: str
    ledger: _flops.FlopLedger = field(repr=False)
    #: The first layer's Gram statistics (with the targets of its last solve), when they
    #: were kept for reuse; for a single-layer network, what ``partial_fit`` continues.
    first_layer_stats: GramStats | None = field(default=None, repr=False)
    #: The training loss (mean squared error in output space) of ``network``.
    loss: float = float("nan")


def class_targets(indices: np.ndarray, n_classes: int, activation: str, dtype) -> np.ndarray:
    """One-hot targets in the output activation's range: its finite bounds, else 0 and 1."""
    xp = get_namespace(indices)
    lo, hi = _activations.get(activation).output_range
    lo = lo if np.isfinite(lo) else 0.0
    hi = hi if np.isfinite(hi) else 1.0
    on = {"device": device(indices)}
    classes = xp.arange(n_classes, dtype=indices.dtype, **on)
    high = xp.asarray(hi, dtype=xp_dtype(xp, dtype), **on)
    return xp.where(indices[:, None] == classes, high, lo)


def pre_activation_targets(
    layer: Dense, H: np.ndarray, desired: np.ndarray, target_eps: float
) -> np.ndarray:
    """The desired pre-activations of ``layer`` (inputs ``H``) for its desired outputs:
    clipped into the activation's open range and inverted (for ReLU, whose inverse is
    one-sided, relative to the layer's current pre-activations)."""
    act = _activations.get(layer.activation)
    n, q = desired.shape
    clipped, _ = act.clip(desired, target_eps)
    _flops.record("elementwise", _flops.elementwise(n, q))
    reference = None
    if not act.invertible:  # the one-sided inverse needs the current pre-activations
        reference = H @ layer.weight + layer.bias
        _flops.record("gemm", _flops.gemm(n, layer.n_in, q))
        _flops.record("elementwise", _flops.elementwise(n, q))
    T = act.inverse(clipped, reference=reference)
    _flops.record("elementwise", _flops.elementwise(n, q))
    return T


def walk(
    network: Network, layers: Sequence[Dense], acts: Sequence[Any], Y: Any, opts: BPLSOptions,
    last: int = 0,
) -> Iterator[tuple[int, Any, Any]]:
    """One chunk's least-squares problems from the output layer down to layer ``last``:
    ``(index, inputs H, desired pre-activations T)`` (step 2 of :mod:`lsqnet.bpls`).

    ``acts`` are ``network``'s activations on the chunk, ``Y`` its output-space targets.
    Before the walk resumes after yielding layer ``i``, ``layers[i]`` must hold its solution:
    the desired activations of the layer below are found through it.
    """
    desired = Y
    for idx in range(len(layers) - 1, last - 1, -1):
        H = acts[idx]
        T = pre_activation_targets(network.layers[idx], H, desired, opts.target_eps)
        yield idx, H, T
        if idx > last:
            current = H if opts.hidden_target == "closest" else None
            desired = desired_inputs(layers[idx], T, current, opts.backprop_ridge)


def _cache_for(
    idx: int, top: int, first: LayerCache | None, output: LayerCache | None
) -> LayerCache | None:
    """The kept statistics of layer ``idx``: the first layer's, else the output layer's."""
    kept = first if idx == 0 and first is not None else None
    return output if kept is None and idx == top else kept


def backward_sweep(
    network: Network,
    acts: Sequence[np.ndarray],
    Y: np.ndarray,
    opts: BPLSOptions,
    cache: LayerCache | None = None,
    n_layers: int | None = None,
    output_cache: LayerCache | None = None,
) -> tuple[Network, str]:
    """One BPLS pass from the output layer down over data in memory: ``acts`` are the
    network's activations on it, ``Y`` the targets.

    ``n_layers`` solves only that many layers from the output down (None: all). ``cache``
    keeps the first layer's statistics and factor, ``output_cache`` the output layer's.
    """
    layers = list(network.layers)
    last = 0 if n_layers is None else len(layers) - n_layers
    solvers = []
    for idx, H, T in walk(network, layers, acts, Y, opts, last):
        act = _activations.get(layers[idx].activation)
        r = solve_data(H, T, act, opts, _cache_for(idx, len(layers) - 1, cache, output_cache))
        solvers.append(r.solver)
        xp = get_namespace(H)
        layers[idx] = Dense(
            xp.astype(r.coef, H.dtype, copy=False), xp.astype(r.intercept, H.dtype), act.name
        )
    return Network(tuple(layers)), most_robust(solvers)


def _streamed_sweep(
    source: DataSource,
    network: Network,
    opts: BPLSOptions,
    n_layers: int,
    restrict: bool,
    first: LayerCache | None,
    output: LayerCache | None,
) -> tuple[Network, str, int]:
    """:func:`backward_sweep` over a streamed source: a pass per layer, in which every chunk
    walks down to the layer (through the layers solved so far) and adds its statistics.
    ``restrict``: only the samples ``network`` misclassifies. Returns the network, the
    solver and the samples used."""
    layers = list(network.layers)
    top = len(layers) - 1
    solvers, n_used = [], 0
    for idx in range(top, top - n_layers, -1):
        cache = _cache_for(idx, top, first, output)
        known = cache is not None and cache.filled  # its Gram matrix: only targets change

        def chunk_stats(X, Y, labels, start, idx=idx, known=known):
            if restrict:
                keep = np.argmax(network.forward(X), axis=1) != labels
                X, Y = X[keep], Y[keep]
            # walk down to layer idx through the layers solved so far: its problem comes last
            *_, (_, H, T) = walk(network, layers, network.forward_all(X), Y, opts, idx)
            if known:
                return Pair(GramStats.target_terms(H, T), H.shape[0])
            # each chunk's sums around its own means (Chan): they add up without the float32
            # centring noise of plain sums; a layer's activations (idx > 0) are ours to shift
            return Pair(GramStats.around_means(H, T, overwrite_a=idx > 0), H.shape[0])

        stats, count = source.map_sum(chunk_stats).values
        n_used = count if idx == top else n_used
        if stats.n_samples == 0 and not known:
            solvers.append("cholesky")  # every sample classified correctly: nothing to fit
            continue
        r = solve_summed(stats, opts, cache)
        solvers.append(r.solver)
        dtype = layers[idx].weight.dtype
        layers[idx] = Dense(
            r.coef.astype(dtype, copy=False), r.intercept.astype(dtype), layers[idx].activation
        )
    return Network(tuple(layers)), most_robust(solvers), n_used


@dataclass(frozen=True)
class _SweepState:
    iterate: Iterate
    restrict: bool = False  # the next sweep uses the misclassified samples only


class Sweeps:
    """BPLS backward sweeps as a training method (:mod:`lsqnet.training._loop`).

    ``n_layers`` solves only that many layers from the output down (None: all; 1: the
    output refit). ``first`` and ``output`` keep the first and the output layer's
    statistics. Under ``iteration_rule="misclassified"`` (classification), sweeps after the
    first use the samples the network misclassifies, and the ``tol`` rule does not apply
    (that loss is not monotone).
    """

    def __init__(
        self, opts: BPLSOptions, classification: bool, *, first: LayerCache | None = None,
        output: LayerCache | None = None, n_layers: int | None = None,
    ) -> None:
        self.opts = opts
        self.classification = classification
        self.first, self.output, self.n_layers = first, output, n_layers
        self.misclassified = classification and opts.iteration_rule == "misclassified"

    def start(self, source: DataSource, iterate: Iterate) -> tuple[_SweepState, None]:
        return _SweepState(iterate), None

    def iterate(self, state: _SweepState) -> Iterate:
        return state.iterate

    def step(self, source: DataSource, state: _SweepState) -> tuple[_SweepState, Step]:
        network = state.iterate.network
        n_layers = self.n_layers or len(network.layers)
        if source.resident:
            new, solver, n_used, acts, (loss, acc), converged = self._resident_step(
                source, state, n_layers
            )
        else:
            new, solver, n_used = _streamed_sweep(
                source, network, self.opts, n_layers, state.restrict, self.first, self.output
            )
            acts = None
            m = source.map_sum(
                lambda X, Y, labels, start: Metrics.of(new.forward(X), Y, labels)
            )
            loss, acc = m.values(self.classification)
            converged = self.classification and m.correct == m.n_samples
        score = acc if self.classification else 0.0
        state = _SweepState(Iterate(new, acts, score, loss), self.misclassified)
        objective = None if self.misclassified else loss
        return state, Step(new, n_layers, n_used, loss, acc, objective, converged, solver)

    def _resident_step(self, source: InMemory, state: _SweepState, n_layers: int):
        """The sweep on data in memory, from the activations kept, and the new network's
        activations (those of the layers below the ones solved are kept)."""
        xp = get_namespace(source.X)
        acts, Y, labels = state.iterate.acts, source.Y, source.labels
        if state.restrict:
            rows = xp.nonzero(xp.argmax(acts[-1], axis=1) != labels)[0]
            acts, Y = [xp.take(a, rows, axis=0) for a in acts], xp.take(Y, rows, axis=0)
        new, solver = backward_sweep(
            state.iterate.network, acts, Y, self.opts, self.first, n_layers, self.output
        )
        below = len(new.layers) - n_layers
        acts = list(state.iterate.acts[: below + 1])
        for layer in new.layers[below:]:
            acts.append(apply_layer(layer, acts[-1]))
        loss, acc = loss_and_accuracy(acts[-1], source.Y, labels)
        converged = labels is not None and not bool(
            xp.any(xp.argmax(acts[-1], axis=1) != labels)
        )
        return new, solver, int(Y.shape[0]), acts, (loss, acc), converged


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


def fit(
    source: DataSource,
    network: Network,
    opts: BPLSOptions,
    *,
    classification: bool,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
    init_passes: int = 0,
) -> BPLSResult:
    """Train ``network`` on ``source`` with ``opts``: the sweeps, then the output refit
    (``refit_output``), then the cross-entropy steps (``output_iter``), each stage starting
    from the best iterate of those before it (see :func:`lsqnet.bpls.fit_bpls`).

    History entries of a streamed source also record ``passes``, the passes over the data
    made so far, counting the ``init_passes`` made to initialise ``network``.
    """
    history = History(monitor)
    if not source.resident:
        source = Passes(source, init_passes)
    misclassified = classification and opts.iteration_rule == "misclassified"
    first = None if misclassified else LayerCache()
    # the output layer's input no longer changes after the sweeps: its statistics serve
    # every solve left
    output = first if len(network.layers) == 1 and first is not None else LayerCache()

    def record(step: Step) -> bool:
        fields = dict(
            layers=step.layers, n_samples=step.n_samples, loss=step.loss,
            accuracy=step.accuracy, flops=ledger.total,
        )
        if isinstance(source, Passes):
            fields["passes"] = source.count
        return history.record(step.network, **fields)

    with _flops.counting(ledger) as ledger:
        acts = network.forward_all(source.X) if source.resident else None
        sweeps = Sweeps(opts, classification, first=first)
        best, solvers, stop = run(
            sweeps, source, Iterate(network, acts), max_steps=opts.max_iter, tol=opts.tol,
            record=record,
        )
        if opts.refit_output and not stop:
            refit = Sweeps(opts, classification, output=output, n_layers=1)
            best, used, stop = run(
                refit, source, best, max_steps=1, tol=opts.tol, record=record
            )
            solvers += used
        if opts.output_iter and not stop:
            best, used, stop = refine_output(
                source, best, opts, output, classification=classification, record=record
            )
            solvers += used
    return BPLSResult(
        best.network, history.entries, len(history.entries), most_robust(["cholesky", *solvers]),
        ledger, None if first is None else first.stats, loss=best.loss,
    )
