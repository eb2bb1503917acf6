r"""BPLS: training every layer of a fully-connected network by least squares.

The method of Tomic, Matos-Carvalho and Beko, "A Closed-form Solution for Weight Optimization
in Fully-connected Feed-forward Neural Networks", arXiv 2401.06699 (2024):

1. initialise the weights (uniform in [-1, 1] in the paper) and run a forward pass, keeping
   every layer's activations;
2. from the output layer down to the first: the desired pre-activations are the inverse
   activation of the layer's desired outputs (clipped into the activation's open range by
   ``target_eps``); all neurons of the layer are solved at once by least squares on the
   previous layer's activations (one factorisation, many right-hand sides); then the desired
   activations of the previous layer are found by least squares through the new weights
   (:func:`lsqnet.network.desired_inputs`);
3. for a mapping that is not injective (classification), repeat. The paper repeats the
   procedure on the misclassified samples only (``iteration_rule="misclassified"``); lsqnet
   also offers repeating it on all samples (``"all"``), which lets the first layer's Gram
   matrix and its factorisation be reused across iterations.

Every operation is recorded in the active operation ledger (:mod:`lsqnet._flops`);
:func:`count_flops` predicts the same count from the sizes alone. This module has no
scikit-learn imports: :mod:`lsqnet.estimators` wraps it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import _flops
from . import activations as _activations
from ._array_api import device, get_namespace, numpy_dtype, xp_dtype
from .exceptions import SolverFallbackWarning
from .features import PATCH_SIZE, FeatureMap, make_feature_map
from .layers import Dense, _gram_solver
from .network import Network, apply_layer, desired_inputs
from .solvers import GramStats, solve_least_squares
from .solvers._factor import CONDEST_STEPS, NotPositiveDefiniteError
from .solvers._lstsq import (
    _ROBUSTNESS,
    _external_stacklevel,
    _warn_fallback,
    factorize_with_fallback,
)

__all__ = [
    "HIDDEN_TARGETS",
    "ITERATION_RULES",
    "LAYER_METHODS",
    "BPLSOptions",
    "BPLSResult",
    "count_flops",
    "fit_bpls",
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
        (:func:`refine_output`); they stop early when the cross-entropy improves by less
        than ``tol`` (relative). 0: none.
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


def _metrics(out: np.ndarray, Y: np.ndarray, labels: np.ndarray | None) -> tuple[float, float]:
    xp = get_namespace(out)
    n, k = Y.shape
    loss = float(xp.sum((out - Y) ** 2, dtype=xp.float64)) / (n * k)
    _flops.record("metrics", 3 * n * k)
    if labels is None:
        return loss, float("nan")
    _flops.record("metrics", n * k)
    return loss, int(xp.count_nonzero(xp.argmax(out, axis=1) == labels)) / n


class History:
    """The steps of a fit, one entry each, and the ``monitor`` called after each.

    ``time`` in an entry is the training time since the history was created, without the
    time spent in the monitor (a caller may evaluate on held-out data there).
    """

    def __init__(self, monitor: Callable[[dict[str, float], Any], bool | None] | None) -> None:
        self.entries: list[dict[str, float]] = []
        self._monitor = monitor
        self._start = time.perf_counter()
        self._excluded = 0.0

    def record(self, network: Any, **fields: float) -> bool:
        """Append an entry (``iteration``, then ``fields`` and ``time``); return True if the
        monitor asks to stop."""
        entry = {
            "iteration": len(self.entries) + 1, **fields,
            "time": time.perf_counter() - self._start - self._excluded,
        }
        self.entries.append(entry)
        if self._monitor is None:
            return False
        paused = time.perf_counter()
        stop = bool(self._monitor(dict(entry), network))
        self._excluded += time.perf_counter() - paused
        return stop

    def improved(self, loss: float, tol: float) -> bool:
        """Whether ``loss`` improved on the previous entry's by more than ``tol`` (relative)."""
        previous = self.entries[-2]["loss"]
        return previous - loss > tol * previous


class _LayerCache:
    """The Gram statistics and factor of a layer whose input does not change (the first
    layer's, across sweeps; the output layer's, across :func:`refine_output` steps)."""

    def __init__(self) -> None:
        self.stats: GramStats | None = None
        self.factor = None


def _solve_layer(H, T, act, opts, cache: _LayerCache | None):
    """Weights and bias of one layer: least squares from inputs ``H`` to pre-activations ``T``."""
    if opts.layer_method == "weighted":
        weights = act.derivative(T) ** 2
        _flops.record("elementwise", 2 * _flops.elementwise(*T.shape))
        r = solve_least_squares(
            H, T, sample_weight=weights, alpha=opts.alpha, solver=opts.solver,
            fit_intercept=True, owner="BPLS",
        )
        return r.coef, r.intercept, r.solver
    if opts.solver in ("qr", "svd"):
        r = solve_least_squares(
            H, T, alpha=opts.alpha, solver=opts.solver, fit_intercept=True, owner="BPLS"
        )
        return r.coef, r.intercept, r.solver
    if cache is not None and cache.stats is not None:
        xp = get_namespace(H)
        if cache.stats.dtype != H.dtype:  # the statistics were recomputed in float64
            H, T = xp.astype(H, cache.stats.dtype), xp.astype(T, cache.stats.dtype)
        stats, factor = cache.stats.with_targets(H, T), cache.factor
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
            stats = GramStats.from_data(H, T)
        check_finite(stats)
        stats, factor = _factorize_layer(H, T, stats, opts)
        if cache is not None:
            cache.stats, cache.factor = stats, factor
    r = stats.solve_with(factor, fit_intercept=True)
    return r.coef, r.intercept, r.solver


def check_finite(stats: GramStats, owner: str = "BPLS") -> None:
    """Raise ``ValueError`` (its message starting with ``owner``) if a layer's statistics
    overflowed, saying whether in its inputs' sums of squares or its targets' (in memory, in
    chunked fits and in ``partial_fit`` alike)."""
    if stats.is_finite():
        return
    xp = get_namespace(stats.AtA)
    if bool(xp.all(xp.isfinite(xp.linalg.diagonal(stats.AtA)))):  # the targets overflowed
        raise ValueError(
            f"{owner}: the least-squares statistics of a layer with {stats.n_features} inputs "
            f"and {stats.n_targets} outputs overflowed in {stats.dtype}: its targets are too "
            f"large when squared. Rescale y (e.g. sklearn StandardScaler)."
        )
    raise ValueError(
        f"{owner}: the least-squares statistics of a layer with {stats.n_features} inputs "
        f"overflowed in {stats.dtype}: the inputs are too large when squared. Rescale X "
        f"(e.g. sklearn StandardScaler)."
    )


def _factorize_layer(H, T, stats: GramStats, opts: BPLSOptions):
    """The factorisation of a layer's statistics, and the statistics it belongs to.

    float32 statistics that the Cholesky check rejects are recomputed from ``H`` and ``T``
    around the columns' means (still float32, :class:`~lsqnet.GramStats` with a shift), then
    if need be in float64 (in blocks of rows), before the eigendecomposition is tried: the
    rejection is usually the rounding noise of centring float32 sums, which the shift
    removes, while the eigendecomposition's rank cut-off then drops directions that matter
    (7 points of test accuracy on one Fashion-MNIST seed, benchmarks/FINDINGS.md). Warns
    whichever succeeds.
    """
    solver = _gram_solver(opts.solver)
    if solver == "eigh" or numpy_dtype(stats.dtype) != np.float32:
        factor = factorize_with_fallback(
            stats, opts.alpha, fit_intercept=True, solver=solver, rcond=None, owner="BPLS"
        )
        return stats, factor
    try:
        return stats, stats.factorize(opts.alpha, fit_intercept=True, solver="cholesky")
    except NotPositiveDefiniteError as err:
        reason = str(err)
    xp = get_namespace(H)

    def recomputed(how: str) -> None:
        warnings.warn(
            f"BPLS: the float32 statistics of a layer with {H.shape[1]} inputs could not be "
            f"trusted: {reason}; they were recomputed {how} and solved by Cholesky. To avoid "
            f"the extra time, pass a larger alpha or dtype='float64'; to silence it, "
            f"warnings.filterwarnings('ignore', "
            f"category=lsqnet.exceptions.SolverFallbackWarning).",
            SolverFallbackWarning,
            stacklevel=_external_stacklevel(),
        )

    shifted = GramStats.around_means(H, T)
    try:
        factor = shifted.factorize(opts.alpha, fit_intercept=True, solver="cholesky")
    except NotPositiveDefiniteError:
        pass
    else:
        recomputed("around the columns' means (still float32)")
        return shifted, factor
    stats = GramStats.from_data(H, T, dtype=xp.float64)  # in blocks: no float64 copy of H
    try:
        factor = stats.factorize(opts.alpha, fit_intercept=True, solver="cholesky")
    except NotPositiveDefiniteError as err:
        _warn_fallback("BPLS", opts.solver, "eigh", f"{reason}, and in float64 {err}")
        return stats, stats.factorize(opts.alpha, fit_intercept=True, solver="eigh")
    recomputed("in float64 (the weights stay float32)")
    return stats, factor


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


def backward_sweep(
    network: Network,
    acts: Sequence[np.ndarray],
    Y: np.ndarray,
    opts: BPLSOptions,
    cache: _LayerCache | None = None,
    n_layers: int | None = None,
    output_cache: _LayerCache | None = None,
) -> tuple[Network, str]:
    """One BPLS pass from the output layer down to the first (step 2 of the module doc).

    ``n_layers`` solves only that many layers from the output down (None: all). ``cache``
    keeps the first layer's statistics and factor, ``output_cache`` the output layer's.
    """
    layers = list(network.layers)
    desired = Y
    solvers = []
    last = 0 if n_layers is None else len(layers) - n_layers
    for idx in range(len(layers) - 1, last - 1, -1):
        old = layers[idx]
        act = _activations.get(old.activation)
        H = acts[idx]
        T = pre_activation_targets(old, H, desired, opts.target_eps)
        kept = cache if idx == 0 and cache is not None else None
        if kept is None and idx == len(layers) - 1:
            kept = output_cache
        coef, intercept, used = _solve_layer(H, T, act, opts, kept)
        solvers.append(used)
        xp = get_namespace(H)
        layers[idx] = Dense(
            xp.astype(coef, H.dtype, copy=False), xp.astype(intercept, H.dtype), act.name
        )
        if idx > last:
            current = H if opts.hidden_target == "closest" else None
            desired = desired_inputs(layers[idx], T, current, opts.backprop_ridge)
    return Network(tuple(layers)), max(solvers, key=_ROBUSTNESS.__getitem__)


#: Bounds on the curvature of the cross-entropy in an output pre-activation (Böhning 1992):
#: the Hessian of the softmax cross-entropy is at most ``I / 2``, the sigmoid's ``1 / 4``.
CURVATURE_BOUNDS = {"softmax": 0.5, "sigmoid": 0.25}

#: The multiples of the bound's step that :func:`refine_output` compares at every step.
STEP_MULTIPLES = (1.0, 2.0, 4.0, 8.0, 16.0)


def cross_entropy(P: np.ndarray, Y: np.ndarray, activation: str) -> float:
    """Mean cross-entropy per sample of outputs ``P`` for targets ``Y`` in [0, 1] (softmax:
    ``-sum Y log P``; sigmoid: the sum over outputs of the binary cross-entropies);
    probabilities are kept above the dtype's smallest normal number."""
    xp = get_namespace(P)
    n, k = P.shape
    tiny = float(xp.finfo(P.dtype).tiny)
    total = -xp.sum(Y * xp.log(xp.clip(P, min=tiny)), dtype=xp.float64)
    _flops.record("metrics", 4 * n * k)  # clip, log, product, sum
    if activation == "sigmoid":
        total -= xp.sum((1 - Y) * xp.log(xp.clip(1 - P, min=tiny)), dtype=xp.float64)
        _flops.record("metrics", 6 * n * k)  # 1 - Y, 1 - P, clip, log, product, sum
    return float(total) / n


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


def refine_output(
    network: Network,
    H: np.ndarray,
    Y: np.ndarray,
    opts: BPLSOptions,
    cache: _LayerCache,
    record: Callable[[Network, np.ndarray], bool],
) -> tuple[Network, str]:
    r"""Fit the output layer to the cross-entropy by least squares (``opts.output_iter`` steps).

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
    ``H``. The penalised cross-entropy (mean per sample, plus ``alpha beta |W|^2 / (2 n)``)
    never increases; steps stop after ``opts.output_iter``, when it improves by less than
    ``opts.tol`` (relative), or when ``record(network, outputs)``, called after every step,
    returns True. Returns the last step's network and the solver used.
    """
    layer = network.layers[-1]
    act = _activations.get(layer.activation)
    beta = CURVATURE_BOUNDS[act.name]
    n, q = Y.shape
    p = layer.n_in
    plain = replace(opts, layer_method="inverse")
    xp = get_namespace(H)

    def objective(layer: Dense, P) -> float:
        return penalised_cross_entropy(
            cross_entropy(P, Y, act.name), layer.weight, opts.alpha, beta, n
        )

    Z = output_pre_activations(H, layer)
    P = act.forward(Z)
    _flops.record("elementwise", _flops.elementwise(n, q))
    loss = objective(layer, P)
    solvers = []
    for _ in range(opts.output_iter):
        T = Z - (P - Y) / beta
        _flops.record("elementwise", 3 * _flops.elementwise(n, q))
        coef, intercept, used = _solve_layer(H, T, act, plain, cache)
        solvers.append(used)
        dW = xp.astype(coef, H.dtype, copy=False) - layer.weight
        db = xp.astype(intercept, H.dtype) - layer.bias
        _flops.record("elementwise", p * q + q)
        dZ = output_pre_activations(H, Dense(dW, db, "identity"))  # Z's move for a full step
        previous, start = loss, layer
        for multiple in STEP_MULTIPLES:
            trial = Dense(start.weight + multiple * dW, start.bias + multiple * db, act.name)
            Z_trial = Z + multiple * dZ
            P_trial = act.forward(Z_trial)
            _flops.record("elementwise", 2 * p * q + 2 * q + 3 * _flops.elementwise(n, q))
            value = objective(trial, P_trial)
            if value < loss or multiple == STEP_MULTIPLES[0]:
                loss, layer, Z_best, P = value, trial, Z_trial, P_trial
        Z = Z_best
        network = Network((*network.layers[:-1], layer))
        if record(network, P) or not previous - loss > opts.tol * previous:
            break
    return network, max(solvers, key=_ROBUSTNESS.__getitem__)


def fit_bpls(
    X: np.ndarray,
    Y: np.ndarray,
    network: Network,
    opts: BPLSOptions,
    *,
    labels: np.ndarray | None = None,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
) -> BPLSResult:
    """Train ``network`` on validated ``X`` (n, d) and output-space targets ``Y`` (n, k).

    ``labels`` (class indices, n) marks a classification problem: accuracy is recorded,
    ``iteration_rule`` applies, and the iterate with the best training accuracy (then loss) is
    returned. For regression the iterate with the lowest training loss is returned.

    Sweeps stop after ``max_iter``, when every training sample is classified correctly, or
    (except under the ``"misclassified"`` rule, whose loss is not monotone) when the training
    loss improves by less than ``tol`` relative to the previous sweep. With ``refit_output``,
    the output layer of the best iterate is then solved once more (a step of its own).
    ``history`` has one entry per step: ``iteration``, ``layers`` (solved by the step),
    ``n_samples`` (used by it), ``loss`` (training mean squared error in output space),
    ``accuracy`` (NaN for regression), ``time`` (seconds of training since the start) and
    ``flops`` (cumulative, including what ``ledger`` held already).

    ``monitor(entry, network)``, if given, is called after every step with the history entry
    and that step's network (scikit-learn's gradient boosting has the same hook). The time it
    takes is excluded from ``time``, so a caller can evaluate the network on held-out data
    without distorting the training-time curve. If it returns True, training stops.
    """
    xp = get_namespace(X)
    history = History(monitor)
    cache = None if opts.iteration_rule == "misclassified" and labels is not None else (
        _LayerCache()
    )

    def step(network, acts, n_layers, n_used):
        loss, acc = _metrics(acts[-1], Y, labels)
        stop = history.record(
            network, layers=n_layers, n_samples=n_used, loss=loss, accuracy=acc,
            flops=ledger.total,
        )
        return loss, acc, stop

    with _flops.counting(ledger) as ledger:
        acts = network.forward_all(X)
        best = (network, -np.inf, np.inf, acts)
        subset = None
        solver_used = "cholesky"
        stop = False
        for it in range(1, opts.max_iter + 1):
            sweep_acts = acts if subset is None else [xp.take(a, subset, axis=0) for a in acts]
            sweep_Y = Y if subset is None else xp.take(Y, subset, axis=0)
            network, used = backward_sweep(network, sweep_acts, sweep_Y, opts, cache)
            solver_used = max(solver_used, used, key=_ROBUSTNESS.__getitem__)
            acts = network.forward_all(X)
            loss, acc, stop = step(network, acts, len(network.layers), int(sweep_Y.shape[0]))
            score = acc if labels is not None else 0.0
            if (score, -loss) > (best[1], -best[2]):
                best = (network, score, loss, acts)
            wrong = None if labels is None else xp.argmax(acts[-1], axis=1) != labels
            if stop:
                break  # the monitor asked to stop
            if wrong is not None and not bool(xp.any(wrong)):
                break  # every training sample is classified correctly
            if labels is not None and opts.iteration_rule == "misclassified":
                subset = xp.nonzero(wrong)[0]  # the paper's rule: runs until max_iter
            elif it > 1 and not history.improved(loss, opts.tol):
                break  # the training loss stopped improving
        # the output layer's input no longer changes: its statistics serve every solve left
        output_cache = cache if len(network.layers) == 1 and cache is not None else (
            _LayerCache()
        )
        if opts.refit_output and not stop:
            network, _, _, acts = best
            network, used = backward_sweep(
                network, acts, Y, opts, None, n_layers=1, output_cache=output_cache
            )
            solver_used = max(solver_used, used, key=_ROBUSTNESS.__getitem__)
            acts = [*acts[:-1], apply_layer(network.layers[-1], acts[-2])]
            loss, acc, stop = step(network, acts, 1, int(Y.shape[0]))
            score = acc if labels is not None else 0.0
            if (score, -loss) > (best[1], -best[2]):
                best = (network, score, loss, acts)
        if opts.output_iter and not stop:
            network, _, _, acts = best
            last = {}

            def record(net, P):
                last["acts"] = [*acts[:-1], P]
                last["loss"], last["acc"], stop = step(net, last["acts"], 1, int(Y.shape[0]))
                return stop

            network, used = refine_output(network, acts[-2], Y, opts, output_cache, record)
            solver_used = max(solver_used, used, key=_ROBUSTNESS.__getitem__)
            best = (network, last["acc"], last["loss"], last["acts"])  # the last step's
    return BPLSResult(
        best[0], history.entries, len(history.entries), solver_used, ledger,
        None if cache is None else cache.stats, loss=best[2],
    )


def _factorize_flops(d: int, ridge: bool, centered: bool) -> int:
    flops = (d + 4 * d * d) if centered else 0
    flops += d if ridge else 0
    flops += 2 * d * d + _flops.potrf(d) + CONDEST_STEPS * (_flops.potrs(d, 1) + 3 * d)
    return flops


def _gram_flops(n: int, d: int, k: int) -> int:
    return _flops.syrk(n, d) + _flops.gemm(1, n, d) + _cross_flops(n, d, k)


def _cross_flops(n: int, d: int, k: int) -> int:
    return _flops.gemm(d, n, k) + 4 * n * k


def count_flops(
    n_samples: int | Sequence[int],
    sizes: Sequence[int],
    *,
    n_iter: int = 1,
    n_train: int | None = None,
    alpha: float = 1.0,
    hidden_target: str = "closest",
    backprop_ridge: float = 1e-3,
    activations: Sequence[str] | None = None,
    classification: bool = False,
    reuse_first_gram: bool = True,
    refit_output: bool = False,
    output_iter: int = 0,
    init: str | FeatureMap = "fan_in",
    image_shape: tuple[int, int] | None = None,
    patch_size: tuple[float, float] = PATCH_SIZE,
) -> int:
    r"""The exact number of floating-point operations of a BPLS fit, from sizes alone.

    Counts follow LAPACK Working Note 41 (a multiply-add is 2 flops; ``A^T A`` for A (n x d)
    is ``n d (d+1)``; Cholesky of d x d is ``d^3/3 + d^2/2 + d/6``; a solve with k right-hand
    sides ``2 d^2 k``), plus one flop per element for every elementwise pass. The sum over
    layers l = L..1 (``p`` inputs, ``q`` outputs) of each sweep with ``n`` samples:

    - targets: clip and inverse, ``2 n q`` (plus ``2 n p q + n q`` for a ReLU layer);
    - Gram statistics: ``n p (p+1) + 2 n p + 2 n p q + 4 n q`` (only the ``2 n p q + 4 n q``
      cross terms when the first layer's Gram matrix is reused);
    - factorisation: ``p + 4 p^2`` (intercept elimination) ``+ p`` (ridge) ``+ 2 p^2 +
      p^3/3 + p^2/2 + p/6 + 3 (2 p^2 + 3 p)`` (condition estimate), once per layer and sweep
      (once per fit for a reused first layer);
    - solve: ``p + 2 p q + 2 p^2 q + 2 p q + 2 q``;
    - backward target step (l > 1): ``n q`` (+ ``2 n p q + n q`` for ``"closest"``), a Gram
      of the weights and its factorisation (size ``m = min(p, q)``), ``2 m^2 n`` for the
      solve and ``2 n p q`` for the product (+ ``n p`` for ``"closest"``);

    then a forward pass ``sum_l (2 n p q + 2 n q)`` over all ``n_train`` samples and the metrics
    (``3 n k``, ``+ n k`` for classification); one forward pass precedes the first sweep.

    Parameters
    ----------
    n_samples : int or sequence of int
        Samples used by each sweep (a sequence gives one number per sweep, as the
        ``"misclassified"`` rule makes them vary; ``history_[i]["n_samples"]`` records them).
    sizes : sequence of int
        Layer sizes (n_features, hidden..., n_outputs).
    n_iter : int, default=1
        Number of sweeps (ignored when ``n_samples`` is a sequence).
    n_train : int, default=None
        Samples in the forward passes; defaults to the first sweep's count.
    alpha, hidden_target, backprop_ridge : as in :class:`BPLSOptions`
    activations : sequence of str, default=None
        Activation of each layer; only whether a layer is ReLU matters (its one-sided
        inverse needs the current pre-activations).
    classification : bool, default=False
    reuse_first_gram : bool, default=True
        Whether the first layer's Gram matrix is reused (``iteration_rule="all"``).
    refit_output : bool, default=False
        A final output-layer solve over ``n_train`` samples (:class:`BPLSOptions`):
        the output layer's targets, Gram statistics, factorisation and solve as in a sweep,
        then its forward pass and the metrics.
    output_iter : int, default=0
        Steps of :func:`refine_output` run (the history entries after the sweeps and the
        refit), each over ``n_train`` samples: working targets ``3 n q``; the cross terms
        and solve (the first step also forms and factorises the Gram matrix unless the refit,
        or the sweeps of a single-layer network, left it); ``p q + q`` for the step and
        ``2 n p q + n q`` for its move of the pre-activations; for each of the
        ``len(STEP_MULTIPLES)`` trial steps ``2 p q + 2 q + 3 n q`` and the objective
        (``2 p q + 3`` plus ``4 n q`` for the cross-entropy, ``10 n q`` for a sigmoid's);
        then the metrics. Before the first step: the pre-activations, outputs and objective.
    init : str or FeatureMap, default="fan_in"
        The first layer's feature map (:mod:`lsqnet.features`), as the estimators' ``init``
        names it: its data-dependent initialisation over ``n_train`` samples is added, as the
        map's ``flops`` counts it (``"samples"``: ``n d + 6 h d`` for ``h`` units of ``d``
        features; the image maps also their windows, window solves and thresholds).
    image_shape : (int, int), default=None
        The image shape of ``init="patches"`` and ``"contrasts"``.
    patch_size : (float, float), default=(0.25, 0.5)
        The window sizes of the image maps (``"contrasts"``' solves depend on them).

    Returns
    -------
    int

    Notes
    -----
    Exact for the ``"cholesky"`` path (``solver="auto"`` without fallback) and
    ``layer_method="inverse"``; ``fit`` records whether its ledger stayed exact. Products are
    counted whole: the first layer of local receptive fields multiplies only bands of the
    inputs (:func:`lsqnet.features.windows.banded_product`), fewer operations than counted.
    """
    counts = (
        [int(n) for n in n_samples] if np.ndim(n_samples) else [int(n_samples)] * n_iter
    )
    sizes = [int(s) for s in sizes]
    if n_train is not None:
        n_all = int(n_train)
    elif counts:
        n_all = counts[0]
    else:
        n_all = int(n_samples)
    n_layers = len(sizes) - 1
    relu = [a == "relu" for a in (activations or ["tanh"] * n_layers)]
    k_out = sizes[-1]

    forward = sum(
        _flops.gemm(n_all, p, q) + 2 * n_all * q
        for p, q in zip(sizes[:-1], sizes[1:], strict=True)
    )
    metrics = 3 * n_all * k_out + (n_all * k_out if classification else 0)
    total = forward
    for it, n in enumerate(counts):
        for layer in range(n_layers - 1, -1, -1):
            p, q = sizes[layer], sizes[layer + 1]
            total += 2 * n * q
            if relu[layer]:
                total += _flops.gemm(n, p, q) + n * q
            if layer == 0 and reuse_first_gram and it > 0:
                total += _cross_flops(n, p, q)
            else:
                total += _gram_flops(n, p, q) + _factorize_flops(p, alpha != 0, True)
            total += p + 2 * p * q + _flops.potrs(p, q) + _flops.gemm(1, p, q) + 2 * q
            if layer > 0:
                total += n * q
                if hidden_target == "closest":
                    total += _flops.gemm(n, p, q) + n * q
                m, other = (q, p) if q <= p else (p, q)
                total += _gram_flops(other, m, 0) + (m + 1)
                total += _factorize_flops(m, backprop_ridge != 0, False)
                total += _flops.potrs(m, n) + _flops.gemm(n, q, p)
                if hidden_target == "closest":
                    total += n * p
        total += forward + metrics
    n, p, q = n_all, sizes[-2], sizes[-1]
    solve = p + 2 * p * q + _flops.potrs(p, q) + _flops.gemm(1, p, q) + 2 * q
    # the output layer's Gram matrix is kept once a solve has formed it over all samples
    kept = n_layers == 1 and reuse_first_gram and bool(counts)
    if refit_output:
        total += 2 * n * q + (_flops.gemm(n, p, q) + n * q if relu[-1] else 0)
        if kept:
            total += _cross_flops(n, p, q)
        else:
            total += _gram_flops(n, p, q) + _factorize_flops(p, alpha != 0, True)
        total += solve + _flops.gemm(n, p, q) + 2 * n * q + metrics
        kept = True
    if output_iter:
        sigmoid = (activations or ["tanh"] * n_layers)[-1] == "sigmoid"
        objective = 2 * p * q + 3 + (10 if sigmoid else 4) * n * q
        total += _flops.gemm(n, p, q) + 2 * n * q + objective
        for step in range(output_iter):
            total += 3 * n * q + solve + p * q + q + _flops.gemm(n, p, q) + n * q + metrics
            if kept or step > 0:
                total += _cross_flops(n, p, q)
            else:
                total += _gram_flops(n, p, q) + _factorize_flops(p, alpha != 0, True)
            total += len(STEP_MULTIPLES) * (2 * p * q + 2 * q + 3 * n * q + objective)
    first = make_feature_map(
        init, image_shape=image_shape, patch_size=patch_size, owner="count_flops"
    )
    total += first.flops(n_all, sizes[0], sizes[1], sizes[-1])
    return total
