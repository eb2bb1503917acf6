"""Fitting the output layer to the cross-entropy by least squares, as a training method.

:class:`CrossEntropySteps` is the method (``start``/``step`` over a data source) and
:func:`refine_output` the stage of a BPLS fit that runs it (``output_iter``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _flops
from .. import activations as _activations
from .._array_api import get_namespace
from ..layers import Dense
from ..network import Network
from ..solvers import GramStats
from ._layer import LayerCache, solve_data, solve_summed
from ._loop import Iterate, Metrics, Outcome, Step, loss_and_accuracy, run
from .sources import DataSource, Pair

__all__ = [
    "CURVATURE_BOUNDS",
    "STEP_MULTIPLES",
    "CrossEntropySteps",
    "cross_entropy",
    "output_pre_activations",
    "penalised_cross_entropy",
    "refine_output",
]

#: Bounds on the curvature of the cross-entropy in an output pre-activation (Böhning 1992):
#: the Hessian of the softmax cross-entropy is at most ``I / 2``, the sigmoid's ``1 / 4``.
CURVATURE_BOUNDS = {"softmax": 0.5, "sigmoid": 0.25}

#: The multiples of the bound's step that :func:`refine_output` compares at every step.
STEP_MULTIPLES = (1.0, 2.0, 4.0, 8.0, 16.0)


def cross_entropy(
    P: np.ndarray, Y: np.ndarray, activation: str, weights: np.ndarray | None = None
) -> float:
    """Mean cross-entropy per sample of outputs ``P`` for targets ``Y`` in [0, 1] (softmax:
    ``-sum Y log P``; sigmoid: the sum over outputs of the binary cross-entropies);
    probabilities are kept above the dtype's smallest normal number. With sample
    ``weights`` (n,), the weighted mean ``sum(w * loss) / sum(w)`` (0 if ``sum(w)`` is 0)."""
    xp = get_namespace(P)
    n, k = P.shape
    tiny = float(xp.finfo(P.dtype).tiny)
    if weights is not None:
        return _weighted_cross_entropy(P, Y, activation, weights, tiny)
    total = -xp.sum(Y * xp.log(xp.clip(P, min=tiny)), dtype=xp.float64)
    _flops.record("metrics", 4 * n * k)  # clip, log, product, sum
    if activation == "sigmoid":
        total -= xp.sum((1 - Y) * xp.log(xp.clip(1 - P, min=tiny)), dtype=xp.float64)
        _flops.record("metrics", 6 * n * k)  # 1 - Y, 1 - P, clip, log, product, sum
    return float(total) / n


def _weighted_cross_entropy(P, Y, activation: str, weights, tiny: float) -> float:
    """:func:`cross_entropy` with sample weights: each row's loss, then their weighted mean."""
    xp = get_namespace(P, weights)
    n, k = P.shape
    rows = -xp.sum(xp.astype(Y * xp.log(xp.clip(P, min=tiny)), xp.float64), axis=1)
    _flops.record("metrics", 4 * n * k)
    if activation == "sigmoid":
        rows = rows - xp.sum(
            xp.astype((1 - Y) * xp.log(xp.clip(1 - P, min=tiny)), xp.float64), axis=1
        )
        _flops.record("metrics", 6 * n * k + n)
    w = xp.astype(weights, xp.float64)
    _flops.record("metrics", 3 * n)
    total = float(xp.sum(w))
    # rows of zero weight only (a chunk's): their mean is taken as 0, weighing nothing
    return float(xp.sum(w * rows)) / total if total > 0 else 0.0


def output_pre_activations(H: np.ndarray, layer: Dense) -> np.ndarray:
    """``H @ W + b`` of ``layer`` (a new array), with its operations recorded."""
    Z = H @ layer.weight
    Z += layer.bias
    _flops.record("gemm", _flops.gemm(H.shape[0], layer.n_in, layer.n_out))
    _flops.record("elementwise", _flops.elementwise(H.shape[0], layer.n_out))
    return Z


def penalised_cross_entropy(
    mean_cross_entropy: float, weight: np.ndarray, alpha: float, beta: float, n: float
) -> float:
    """What :func:`refine_output` minimises: the mean cross-entropy plus
    ``alpha beta |W|^2 / (2 n)``."""
    xp = get_namespace(weight)
    _flops.record("metrics", 2 * weight.shape[0] * weight.shape[1] + 3)
    penalty = float(xp.sum(weight * weight, dtype=xp.float64))
    return mean_cross_entropy + alpha * beta * penalty / (2 * n)



def _total(weights: Any) -> float:
    """The total of sample ``weights``, in float64."""
    xp = get_namespace(weights)
    return float(xp.sum(weights, dtype=xp.float64))


@dataclass(frozen=True)
class _Trials:
    """Summed cross-entropies and metrics of the trial steps, over chunks."""

    cross_entropy: np.ndarray  # (len(STEP_MULTIPLES),), summed over samples
    metrics: tuple[Metrics, ...]

    def __add__(self, other: _Trials) -> _Trials:
        return _Trials(
            self.cross_entropy + other.cross_entropy,
            tuple(a + b for a, b in zip(self.metrics, other.metrics, strict=True)),
        )


@dataclass(frozen=True)
class _State:
    """The output layer and what the next step needs: on a resident source, its inputs
    ``H``, pre-activations ``Z`` and outputs ``P``; on a streamed one, the working targets'
    statistics when a pass has already summed them. ``n`` is the samples' total weight (their
    number without weights), ``rows`` their number."""

    iterate: Iterate
    layer: Dense
    objective: float
    n: float
    rows: int
    H: Any = None
    Z: Any = None
    P: Any = None
    stats: GramStats | None = None


class CrossEntropySteps:
    r"""Fit the output layer to the cross-entropy by least squares (a training method).

    The output layer ``f(H W + b)`` (``f`` sigmoid or softmax, inputs ``H``, targets ``Y``)
    starts from its least-squares fit to the inverted targets. The cross-entropy's Hessian in
    the pre-activations ``Z`` is at most ``beta I`` (:data:`CURVATURE_BOUNDS`), so the
    quadratic with that curvature at the current ``Z`` lies above it (Böhning and Lindsay's
    bound), and its minimiser over ``(W, b)`` is a least-squares solve: the layer refitted to
    the working targets

    .. math:: T = Z - (f(Z) - Y) / \beta

    with the same ridge ``alpha`` (which penalises ``alpha beta |W|^2 / 2`` in the summed
    cross-entropy). That step is safe but short, as the bound holds for the flattest
    outputs: the step taken is the best multiple of it in :data:`STEP_MULTIPLES`, whose
    objectives cost only elementwise work (the pre-activations move by the same multiple).
    Every solve has the same Gram matrix of ``H``, so its factorisation is computed once
    (``cache``, filled by the first solve when empty) and a step costs two products with
    ``H``. The objective, the penalised cross-entropy (mean per sample, plus
    ``alpha beta |W|^2 / (2 n)``), never increases. With sample weights, the mean is the
    weighted one, ``n`` the total weight, and every solve weighted by them.

    On a resident source ``H``, ``Z`` and the outputs are kept from step to step; on a
    streamed one a step makes two passes: the working targets' statistics, then the trial
    steps' cross-entropies and metrics.
    """

    def __init__(self, opts: Any, cache: LayerCache, classification: bool) -> None:
        self.opts = opts
        self.plain = replace(opts, layer_method="inverse")
        self.cache = cache
        self.classification = classification

    def iterate(self, state: _State) -> Iterate:
        return state.iterate

    def start(self, source: DataSource, iterate: Iterate) -> tuple[_State, float]:
        layer = iterate.network.layers[-1]
        act = _activations.get(layer.activation)
        if source.resident:
            H = iterate.acts[-2]
            rows, q = source.Y.shape
            w = source.weights
            n = rows if w is None else _total(w)
            Z = output_pre_activations(H, layer)
            P = act.forward(Z)
            _flops.record("elementwise", _flops.elementwise(rows, q))
            objective = self._objective(
                cross_entropy(P, source.Y, act.name, w), layer.weight, act.name, n
            )
            return _State(iterate, layer, objective, n, rows, H, Z, P), objective
        stats, (total, n, rows) = source.map_sum(self._working(iterate.network)).values
        objective = self._objective(total / n, layer.weight, act.name, n)
        return _State(iterate, layer, objective, n, int(rows), stats=stats), objective

    def _objective(self, mean_cross_entropy: float, weight: Any, activation: str, n: float):
        beta = CURVATURE_BOUNDS[activation]
        return penalised_cross_entropy(mean_cross_entropy, weight, self.opts.alpha, beta, n)

    def step(self, source: DataSource, state: _State) -> tuple[_State, Step]:
        if source.resident:
            return self._resident_step(source, state)
        return self._streamed_step(source, state)

    def _resident_step(self, source: DataSource, state: _State) -> tuple[_State, Step]:
        H, Z, P, Y, w = state.H, state.Z, state.P, source.Y, source.weights
        start = state.layer
        act = _activations.get(start.activation)
        beta = CURVATURE_BOUNDS[act.name]
        rows, q = Y.shape
        n = state.n
        p = start.n_in
        xp = get_namespace(H)
        T = Z - (P - Y) / beta
        _flops.record("elementwise", 3 * _flops.elementwise(rows, q))
        r = solve_data(H, T, act, self.plain, self.cache, w)
        dW = xp.astype(r.coef, H.dtype, copy=False) - start.weight
        db = xp.astype(r.intercept, H.dtype) - start.bias
        _flops.record("elementwise", p * q + q)
        dZ = output_pre_activations(H, Dense(dW, db, "identity"))  # Z's move for a full step
        objective, layer = state.objective, start
        for multiple in STEP_MULTIPLES:
            trial = Dense(start.weight + multiple * dW, start.bias + multiple * db, act.name)
            Z_trial = Z + multiple * dZ
            P_trial = act.forward(Z_trial)
            _flops.record("elementwise", 2 * p * q + 2 * q + 3 * _flops.elementwise(rows, q))
            value = self._objective(
                cross_entropy(P_trial, Y, act.name, w), trial.weight, act.name, n
            )
            if value < objective or multiple == STEP_MULTIPLES[0]:
                objective, layer, Z_best, P_best = value, trial, Z_trial, P_trial
        network = Network((*state.iterate.network.layers[:-1], layer))
        loss, acc = loss_and_accuracy(P_best, Y, source.labels, w)
        iterate = Iterate(network, [*state.iterate.acts[:-1], P_best], acc, loss)
        new = _State(iterate, layer, objective, n, rows, H, Z_best, P_best)
        return new, Step(network, 1, rows, loss, acc, objective, False, r.solver)

    def _working(self, network: Network) -> Callable[..., Pair]:
        """A chunk's working-target statistics and summed cross-entropy (with its total
        weight and rows)."""
        hidden, out = Network(network.layers[:-1]), network.layers[-1]
        act = _activations.get(out.activation)
        beta = CURVATURE_BOUNDS[act.name]
        known = self.cache.filled

        def working(X, Y, labels, start, w):
            H = hidden.forward(X)
            Z = output_pre_activations(H, out)
            P = act.forward(Z)
            T = Z - (P - Y) / beta
            _flops.record("elementwise", 4 * _flops.elementwise(*Z.shape))
            own = len(hidden.layers) > 0  # H is then the hidden activations, not X
            stats = (
                GramStats.target_terms(H, T, w) if known
                else GramStats.around_means(H, T, w, overwrite_a=own)
            )
            rows = H.shape[0]
            n = rows if w is None else _total(w)
            return Pair(stats, np.array([cross_entropy(P, Y, act.name, w) * n, n, rows]))

        return working

    def _streamed_step(self, source: DataSource, state: _State) -> tuple[_State, Step]:
        network, out = state.iterate.network, state.layer
        hidden = Network(network.layers[:-1])
        act = _activations.get(out.activation)
        stats = state.stats
        if stats is None:
            stats, _ = source.map_sum(self._working(network)).values
        r = solve_summed(stats, self.opts, self.cache)
        dtype = out.weight.dtype
        delta = Dense(
            r.coef.astype(dtype, copy=False) - out.weight, r.intercept.astype(dtype) - out.bias,
            "identity",
        )

        def trials(X, Y, labels, start, w):
            H = hidden.forward(X)
            Z, dZ = output_pre_activations(H, out), output_pre_activations(H, delta)
            n = H.shape[0] if w is None else _total(w)
            values, chunk_metrics = [], []
            for multiple in STEP_MULTIPLES:
                P = act.forward(Z + multiple * dZ)
                _flops.record("elementwise", 3 * _flops.elementwise(*Z.shape))
                values.append(cross_entropy(P, Y, act.name, w) * n)
                chunk_metrics.append(Metrics.of(P, Y, labels, w))
            return _Trials(np.array(values), tuple(chunk_metrics))

        tried = source.map_sum(trials)
        n = state.n
        values = [
            self._objective(total / n, out.weight + multiple * delta.weight, act.name, n)
            for total, multiple in zip(tried.cross_entropy, STEP_MULTIPLES, strict=True)
        ]
        best = int(np.argmin(values))
        multiple = STEP_MULTIPLES[best]
        layer = Dense(
            out.weight + multiple * delta.weight, out.bias + multiple * delta.bias, act.name
        )
        network = Network((*hidden.layers, layer))
        loss, acc = tried.metrics[best].values(self.classification)
        new = _State(Iterate(network, None, acc, loss), layer, values[best], n, state.rows)
        return new, Step(network, 1, state.rows, loss, acc, values[best], False, r.solver)


def refine_output(
    source: DataSource,
    start: Iterate,
    opts: Any,
    cache: LayerCache,
    *,
    classification: bool,
    record: Callable[[Step], bool],
) -> Outcome:
    """At most ``opts.output_iter`` steps of :class:`CrossEntropySteps` from ``start``; they
    stop early when the penalised cross-entropy improves by less than ``opts.tol``
    (relative) or when ``record`` (called after every step) returns True. Returns the last
    step's iterate."""
    method = CrossEntropySteps(opts, cache, classification)
    return run(
        method, source, start, max_steps=opts.output_iter, tol=opts.tol, record=record,
        keep="last",
    )
