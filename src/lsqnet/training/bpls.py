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

A sweep solves each layer's least-squares problem in the space of its pre-activations, with
the targets of the layers above: nothing guarantees that the network it returns fits the data
better than the one it started from (a second sweep often fits worse). With
``BPLSOptions.safeguard`` (the default) every sweep, and the output refit, is therefore a
*proposal*: it is kept only if it lowers the training objective

.. math:: \frac{1}{\sum_i w_i} \Big(\sum_i w_i\, \ell(f(x_i), y_i)
          + \frac{\alpha}{2} \sum_l \|W_l\|_F^2\Big)

(:func:`objective_loss` names ``\ell``: half the squared error of the outputs for regression,
the cross-entropy of sigmoid or softmax outputs for a classifier; ``alpha`` is the ridge of
the layer solves, the biases are not penalised; ``w_i`` the sample weights of the source,
1 without them, and every layer's least-squares problem is weighted by them likewise; the
same objective as :mod:`lsqnet.training.levenberg_marquardt`). Otherwise shorter steps
between the current and the proposed weights are tried (half, a quarter, ... of the step,
every layer the sweep solved moved by the same fraction), at most :data:`MAX_TRIALS`
evaluations of the objective in all, each a forward pass (a pass over a streamed source). If
none lowers the objective, the network is kept as it was and the stage stops: the objective
never increases over the steps of a fit. ``BPLSOptions.paper()`` turns the safeguard off
(every sweep kept, the iterate with the best training accuracy, then loss, returned), as the
paper describes.

:class:`Sweeps` is the method (``start``/``step``), :func:`fit` the whole fit: sweeps, the
optional output refit, then the optional cross-entropy steps
(:mod:`lsqnet.training.cross_entropy`), all through :func:`lsqnet.training._loop.run`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import _flops
from .. import activations as _activations
from .._array_api import device, get_namespace, xp_dtype
from ..layers import Dense
from ..network import Network, apply_layer, desired_inputs
from ..solvers import GramStats
from ..solvers._policy import most_robust
from ._layer import LayerCache, TargetOverflow, solve_data, solve_summed
from ._loop import History, Iterate, Metrics, Step, loss_and_accuracy, run
from .cross_entropy import CURVATURE_BOUNDS, cross_entropy, refine_output
from .sources import DataSource, InMemory, Pair, Passes

__all__ = [
    "HIDDEN_TARGETS",
    "ITERATION_RULES",
    "LAYER_METHODS",
    "MAX_TRIALS",
    "BPLSOptions",
    "BPLSResult",
    "Sweeps",
    "backward_sweep",
    "check_chunked_options",
    "class_targets",
    "fit",
    "objective_loss",
    "pre_activation_targets",
    "walk",
]

ITERATION_RULES = ("all", "misclassified")
HIDDEN_TARGETS = ("closest", "min_norm")
LAYER_METHODS = ("inverse", "weighted")

#: Most evaluations of the objective in one safeguarded step: the proposal, then a half, a
#: quarter, ... of it (the last tried is ``2 ** -(MAX_TRIALS - 1)`` of the step).
MAX_TRIALS = 6


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
        Stop when the training objective (with ``safeguard``; else the training loss)
        improves by less than ``tol`` (relative) from one sweep to the next.
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
    safeguard : bool
        Keep a sweep (and the output refit) only if it lowers the training objective, else
        the largest of at most :data:`MAX_TRIALS` - 1 shorter steps toward it that does, else
        stop with the network unchanged (see the module): the objective never increases, and
        the fit returns the last network kept. False: every sweep is kept and the iterate
        with the best training accuracy (then loss) is returned, as in the paper.
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
    safeguard: bool = True

    @classmethod
    def paper(cls, **overrides: Any) -> BPLSOptions:
        """The settings that follow the paper's description literally: no ridge, minimum-norm
        hidden targets, later sweeps on the misclassified samples, and every sweep kept
        (``safeguard=False``: a sweep may raise the training objective; the iterate with the
        best training accuracy is returned)."""
        base = dict(
            alpha=0.0, solver="auto", hidden_target="min_norm", layer_method="inverse",
            iteration_rule="misclassified", backprop_ridge=0.0, safeguard=False,
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


class SweepDiverged(ValueError):
    """The targets a sweep back-propagated to a hidden layer overflowed: the sweeps diverged
    (the literal method's output weights grow without bound on some data)."""

    def __init__(self, layer: int, dtype: Any) -> None:
        super().__init__(
            f"BPLS: the targets back-propagated to hidden layer {layer} overflowed in {dtype}: "
            f"the sweeps diverged. Use safeguard=True, a positive alpha and backprop_ridge, "
            f"or dtype='float64'."
        )


def _solve_hidden(solve: Callable[[], Any], layer: int, top: int, dtype: Any) -> Any:
    """``solve()`` for layer ``layer``; an overflow of a hidden layer's targets raises
    :class:`SweepDiverged` (the output layer's targets are the user's ``y``)."""
    try:
        return solve()
    except TargetOverflow as err:
        if layer == top:
            raise
        raise SweepDiverged(layer, dtype) from err


def backward_sweep(
    network: Network,
    acts: Sequence[np.ndarray],
    Y: np.ndarray,
    opts: BPLSOptions,
    cache: LayerCache | None = None,
    n_layers: int | None = None,
    output_cache: LayerCache | None = None,
    weights: Any = None,
) -> tuple[Network, str]:
    """One BPLS pass from the output layer down over data in memory: ``acts`` are the
    network's activations on it, ``Y`` the targets, ``weights`` the rows' sample weights
    (None: all 1).

    ``n_layers`` solves only that many layers from the output down (None: all). ``cache``
    keeps the first layer's statistics and factor, ``output_cache`` the output layer's.
    """
    layers = list(network.layers)
    last = 0 if n_layers is None else len(layers) - n_layers
    solvers = []
    for idx, H, T in walk(network, layers, acts, Y, opts, last):
        act = _activations.get(layers[idx].activation)
        kept = _cache_for(idx, len(layers) - 1, cache, output_cache)
        r = _solve_hidden(lambda: solve_data(H, T, act, opts, kept, weights),  # noqa: B023
                          idx, len(layers) - 1, H.dtype)
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
    measure: str | None = None,
) -> tuple[Network, str, int, _Value | None]:
    """:func:`backward_sweep` over a streamed source: a pass per layer, in which every chunk
    walks down to the layer (through the layers solved so far) and adds its statistics.
    ``restrict``: only the samples ``network`` misclassifies. ``measure`` (a loss of
    :func:`objective_loss`; not with ``restrict``): the first pass also sums the loss and
    metrics of ``network``. Returns the network, the solver, the samples used and those sums
    (None without ``measure``)."""
    if measure is not None and restrict:
        raise ValueError("a restricted sweep cannot measure the objective on every sample")
    layers = list(network.layers)
    top = len(layers) - 1
    solvers, n_used, value = [], 0, None
    for idx in range(top, top - n_layers, -1):
        cache = _cache_for(idx, top, first, output)
        known = cache is not None and cache.filled  # its Gram matrix: only targets change
        measured = measure if idx == top else None

        def chunk_stats(X, Y, labels, start, w, idx=idx, known=known, measured=measured):
            if restrict:
                keep = _misclassified(network.forward(X), labels, w)
                X, Y = X[keep], Y[keep]
                w = None if w is None else w[keep]
            acts = network.forward_all(X)
            # walk down to layer idx through the layers solved so far: its problem comes last
            *_, (_, H, T) = walk(network, layers, acts, Y, opts, idx)
            if known:
                stats = Pair(GramStats.target_terms(H, T, w), H.shape[0])
            else:
                # each chunk's sums around its own means (Chan): they add up without the
                # float32 centring noise of plain sums; a layer's activations (idx > 0) are
                # ours to shift
                stats = Pair(GramStats.around_means(H, T, w, overwrite_a=idx > 0), H.shape[0])
            if measured is None:
                return stats
            return Pair(stats, _Value.of(acts[-1], Y, labels, measured, w))

        summed = source.map_sum(chunk_stats)
        if measured is not None:
            summed, value = summed.values
        stats, count = summed.values
        n_used = count if idx == top else n_used
        if stats.sum_w <= 0 and not known:
            solvers.append("cholesky")  # every sample classified correctly: nothing to fit
            continue
        dtype = layers[idx].weight.dtype
        r = _solve_hidden(lambda: solve_summed(stats, opts, cache),  # noqa: B023
                          idx, top, dtype)
        solvers.append(r.solver)
        layers[idx] = Dense(
            r.coef.astype(dtype, copy=False), r.intercept.astype(dtype), layers[idx].activation
        )
    return Network(tuple(layers)), most_robust(solvers), n_used, value


def objective_loss(activation: str, classification: bool) -> str:
    """The loss of the training objective for outputs ``activation``: the cross-entropy
    (``"softmax"`` or ``"sigmoid"``) for a classifier with such outputs, else
    ``"squared_error"`` (half the squared error of the outputs)."""
    if classification and activation in CURVATURE_BOUNDS:
        return activation
    return "squared_error"


@dataclass(frozen=True)
class _Value:
    """The loss part of the objective (summed over samples) and the training metrics, summed
    over chunks."""

    loss: float
    metrics: Metrics

    @classmethod
    def of(cls, out: Any, Y: Any, labels: Any, loss: str, weights: Any = None) -> _Value:
        """The sums of one chunk's outputs ``out``, its rows weighted by ``weights`` if given
        (operations recorded: the metrics', and the cross-entropy's). Errors too large for
        the dtype make the sums infinite, without a warning: an objective that is not finite
        is never lower than another."""
        with np.errstate(over="ignore", invalid="ignore"):
            if weights is None:
                mean_squared, acc = loss_and_accuracy(out, Y, labels)
                n, k = Y.shape
                correct = 0 if labels is None else int(round(acc * n))
                metrics = Metrics(mean_squared * n * k, correct, n, n * k, n)
            else:
                metrics = Metrics.of(out, Y, labels, weights)
            if loss == "squared_error":
                return cls(0.5 * metrics.squared_error, metrics)
            return cls(cross_entropy(out, Y, loss, weights) * metrics.n_samples, metrics)

    def __add__(self, other: _Value) -> _Value:
        return _Value(self.loss + other.loss, self.metrics + other.metrics)


def _penalty(network: Network, alpha: float) -> float:
    """The ridge term of the objective, ``alpha / 2 * sum_l |W_l|^2`` (biases free), with its
    ``2 p q`` operations per layer of ``p`` inputs and ``q`` outputs recorded."""
    total = 0.0
    for layer in network.layers:
        xp = get_namespace(layer.weight)
        with np.errstate(over="ignore"):  # too large for the dtype: infinite, never kept
            total += float(xp.sum(layer.weight * layer.weight, dtype=xp.float64))
        _flops.record("metrics", 2 * layer.n_in * layer.n_out)
    return 0.5 * alpha * total


def _between(current: Network, proposal: Network, fraction: float, below: int) -> Network:
    """``current`` moved by ``fraction`` of the way to ``proposal`` in the weights and biases
    of its layers from ``below`` up (the others are the same in both)."""
    layers = list(current.layers)
    for idx in range(below, len(layers)):
        a, b = current.layers[idx], proposal.layers[idx]
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite step is not kept
            layers[idx] = Dense(
                a.weight + fraction * (b.weight - a.weight),
                a.bias + fraction * (b.bias - a.bias), a.activation,
            )
        _flops.record("elementwise", 3 * (a.n_in * a.n_out + a.n_out))
    return Network(tuple(layers))


def _misclassified(out: Any, labels: Any, weights: Any) -> Any:
    """Which rows ``out`` misclassifies, among those of positive weight (every row without
    ``weights``): the rows of the ``"misclassified"`` rule."""
    xp = get_namespace(out)
    wrong = xp.argmax(out, axis=1) != labels
    return wrong if weights is None else wrong & (weights > 0)


def _restricted(acts: Sequence[Any], Y: Any, labels: Any, weights: Any):
    """The activations, targets and weights of the rows the network misclassifies (its
    outputs are ``acts[-1]``)."""
    xp = get_namespace(acts[-1])
    rows = xp.nonzero(_misclassified(acts[-1], labels, weights))[0]
    w = None if weights is None else xp.take(weights, rows, axis=0)
    return [xp.take(a, rows, axis=0) for a in acts], xp.take(Y, rows, axis=0), w


@dataclass(frozen=True)
class _SweepState:
    iterate: Iterate
    restrict: bool = False  # the next sweep uses the misclassified samples only
    objective: float | None = None  # of iterate's network, per sample (safeguard)


class Sweeps:
    """BPLS backward sweeps as a training method (:mod:`lsqnet.training._loop`).

    ``n_layers`` solves only that many layers from the output down (None: all; 1: the
    output refit). ``first`` and ``output`` keep the first and the output layer's
    statistics. Under ``iteration_rule="misclassified"`` (classification), sweeps after the
    first use the samples the network misclassifies.

    With ``opts.safeguard`` each sweep is a proposal, kept only if it lowers the training
    objective (see the module); ``objective`` is the objective (per sample) of the network
    the steps start from, if known (else the first step computes it). After each step
    :attr:`trials` holds the evaluations of the objective it made, :attr:`accepted` whether
    it kept a new network and :attr:`objective` the objective of the network kept. A step
    that keeps nothing reports ``converged``: the stage stops. Without the safeguard every
    sweep is kept (``trials`` 1), and under the ``"misclassified"`` rule the ``tol`` rule
    does not apply (that loss is not monotone).
    """

    def __init__(
        self, opts: BPLSOptions, classification: bool, *, first: LayerCache | None = None,
        output: LayerCache | None = None, n_layers: int | None = None,
        objective: float | None = None,
    ) -> None:
        self.opts = opts
        self.classification = classification
        self.first, self.output, self.n_layers = first, output, n_layers
        self.misclassified = classification and opts.iteration_rule == "misclassified"
        self.objective = objective
        self.trials = 0
        self.accepted = False

    def start(self, source: DataSource, iterate: Iterate) -> tuple[_SweepState, None]:
        return _SweepState(iterate, objective=self.objective), None

    def iterate(self, state: _SweepState) -> Iterate:
        return state.iterate

    def step(self, source: DataSource, state: _SweepState) -> tuple[_SweepState, Step]:
        network = state.iterate.network
        n_layers = self.n_layers or len(network.layers)
        if self.opts.safeguard:
            return self._guarded_step(source, state, n_layers)
        self.trials, self.accepted = 1, True
        try:
            if source.resident:
                new, solver, n_used, acts, (loss, acc), converged = self._resident_step(
                    source, state, n_layers
                )
            else:
                new, solver, n_used, _ = _streamed_sweep(
                    source, network, self.opts, n_layers, state.restrict, self.first,
                    self.output,
                )
        except SweepDiverged as err:  # the sweeps end at the network they started from
            warnings.warn(f"{err} The sweeps stop here.", ConvergenceWarning, stacklevel=2)
            self.accepted = False
            it = state.iterate
            acc = it.score if self.classification else float("nan")
            return state, Step(network, n_layers, 0, it.loss, acc, None, True, "cholesky")
        if not source.resident:
            acts = None
            m = source.map_sum(
                lambda X, Y, labels, start, w: Metrics.of(new.forward(X), Y, labels, w)
            )
            loss, acc = m.values(self.classification)
            converged = self.classification and m.all_correct
        score = acc if self.classification else 0.0
        state = _SweepState(Iterate(new, acts, score, loss), self.misclassified)
        objective = None if self.misclassified else loss
        return state, Step(new, n_layers, n_used, loss, acc, objective, converged, solver)

    def _resident_step(self, source: InMemory, state: _SweepState, n_layers: int):
        """The sweep on data in memory, from the activations kept, and the new network's
        activations (those of the layers below the ones solved are kept)."""
        xp = get_namespace(source.X)
        acts, Y, labels, w = state.iterate.acts, source.Y, source.labels, source.weights
        if state.restrict:
            acts, Y, w = _restricted(acts, Y, labels, w)
        new, solver = backward_sweep(
            state.iterate.network, acts, Y, self.opts, self.first, n_layers, self.output, w
        )
        below = len(new.layers) - n_layers
        acts = list(state.iterate.acts[: below + 1])
        for layer in new.layers[below:]:
            acts.append(apply_layer(layer, acts[-1]))
        loss, acc = loss_and_accuracy(acts[-1], source.Y, labels, source.weights)
        converged = labels is not None and not bool(
            xp.any(_misclassified(acts[-1], labels, source.weights))
        )
        return new, solver, int(Y.shape[0]), acts, (loss, acc), converged

    # -- the safeguard -------------------------------------------------------------------
    def _objective(self, value: _Value, network: Network) -> float:
        """The objective per sample of ``network`` whose loss and metrics are ``value``."""
        return (value.loss + _penalty(network, self.opts.alpha)) / value.metrics.n_samples

    def _iterate(self, network: Network, acts: Any, value: _Value) -> Iterate:
        loss, acc = value.metrics.values(self.classification)
        return Iterate(network, acts, acc if self.classification else 0.0, loss)

    def _guarded_step(
        self, source: DataSource, state: _SweepState, n_layers: int
    ) -> tuple[_SweepState, Step]:
        """A sweep as a proposal: the largest of the steps toward it (1, 1/2, ...) that
        lowers the objective, or none."""
        network = state.iterate.network
        loss = objective_loss(network.layers[-1].activation, self.classification)
        below = len(network.layers) - n_layers
        resident = source.resident
        current, iterate = state.objective, state.iterate
        if resident:
            acts, Y, labels, w = iterate.acts, source.Y, source.labels, source.weights
            if current is None:
                value = _Value.of(acts[-1], Y, labels, loss, w)
                current, iterate = self._objective(value, network), self._iterate(
                    network, acts, value
                )
            if state.restrict:
                acts, Y, w = _restricted(acts, Y, labels, w)
            proposal, solver = backward_sweep(
                network, acts, Y, self.opts, self.first, n_layers, self.output, w
            )
            n_used = int(Y.shape[0])
        else:
            proposal, solver, n_used, value = _streamed_sweep(
                source, network, self.opts, n_layers, state.restrict, self.first, self.output,
                measure=loss if current is None else None,
            )
            if current is None:
                current, iterate = self._objective(value, network), self._iterate(
                    network, None, value
                )

        def evaluate(candidate: Network) -> tuple[Any, _Value]:
            if resident:
                out = list(iterate.acts[: below + 1])
                for layer in candidate.layers[below:]:
                    out.append(apply_layer(layer, out[-1]))
                return out, _Value.of(out[-1], source.Y, source.labels, loss, source.weights)
            return None, source.map_sum(
                lambda X, Y, labels, start, w: _Value.of(
                    candidate.forward(X), Y, labels, loss, w
                )
            )

        kept, fraction = None, 1.0
        self.trials = 0
        while self.trials < MAX_TRIALS and kept is None:
            self.trials += 1
            candidate = proposal if fraction == 1.0 else _between(
                network, proposal, fraction, below
            )
            out, value = evaluate(candidate)
            objective = self._objective(value, candidate)
            if math.isfinite(objective) and objective < current:
                kept = (candidate, out, value, objective)
            fraction /= 2
        self.accepted = kept is not None
        if kept is None:  # no step toward the proposal lowers the objective: stop here
            self.objective = current
            acc = iterate.score if self.classification else float("nan")
            state = _SweepState(iterate, state.restrict, current)
            step = Step(network, n_layers, n_used, iterate.loss, acc, current, True, solver)
            return state, step
        candidate, out, value, objective = kept
        self.objective = objective
        iterate = self._iterate(candidate, out, value)
        loss_, acc = value.metrics.values(self.classification)
        converged = self.classification and value.metrics.all_correct
        state = _SweepState(iterate, self.misclassified, objective)
        step = Step(candidate, n_layers, n_used, loss_, acc, objective, converged, solver)
        return state, step


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
    made so far, counting the ``init_passes`` made to initialise ``network``. With
    ``opts.safeguard``, the entries of the sweeps and of the refit also record ``objective``
    (the training objective per sample of the network kept after the step), ``trials`` (its
    evaluations of the objective) and ``accepted`` (whether it kept a new network; the stage
    stops after a step that did not), and each stage returns its last network kept.
    """
    history = History(monitor)
    if not source.resident:
        source = Passes(source, init_passes)
    misclassified = classification and opts.iteration_rule == "misclassified"
    first = None if misclassified else LayerCache()
    # the output layer's input no longer changes after the sweeps: its statistics serve
    # every solve left
    output = first if len(network.layers) == 1 and first is not None else LayerCache()

    def recorder(method: Sweeps | None) -> Callable[[Step], bool]:
        def record(step: Step) -> bool:
            extra = {}
            if method is not None and opts.safeguard:
                extra = dict(
                    objective=step.objective, trials=method.trials, accepted=method.accepted
                )
            passes = source.count if isinstance(source, Passes) else None
            return history.record_step(step, ledger.total, passes, **extra)

        return record

    keep = "last" if opts.safeguard else "best"
    with _flops.counting(ledger) as ledger:
        acts = network.forward_all(source.X) if source.resident else None
        sweeps = Sweeps(opts, classification, first=first)
        best, solvers, stop = run(
            sweeps, source, Iterate(network, acts), max_steps=opts.max_iter, tol=opts.tol,
            record=recorder(sweeps), keep=keep,
        )
        if opts.refit_output and not stop:
            # the sweeps' last network kept is ``best``: its objective is known
            refit = Sweeps(
                opts, classification, output=output, n_layers=1, objective=sweeps.objective
            )
            best, used, stop = run(
                refit, source, best, max_steps=1, tol=opts.tol, record=recorder(refit),
                keep=keep,
            )
            solvers += used
        if opts.output_iter and not stop:
            best, used, stop = refine_output(
                source, best, opts, output, classification=classification,
                record=recorder(None),
            )
            solvers += used
    return BPLSResult(
        best.network, history.entries, len(history.entries), most_robust(["cholesky", *solvers]),
        ledger, None if first is None else first.stats, loss=best.loss,
    )
