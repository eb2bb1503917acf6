r"""Kronecker-factored least-squares steps for wide networks, as a training method.

Every layer ``l`` (inputs ``a``, weights and bias ``W~ = [W; b]``, pre-activations
``z = [a 1] W~``) is trained by steps whose curvature is the Kronecker product of two small
Gram matrices (K-FAC: Martens and Grosse 2015, arXiv 1503.05671):

.. math:: \Delta \tilde W = -\eta\, (A + \gamma_A I)^{-1}\, \nabla_{\tilde W}\,
          (G + \gamma_G I)^{-1},

with ``A = E[[a 1]^T [a 1]]`` the layer's input Gram and ``G = E[g^T g]`` the Gram of the
back-propagated errors ``g`` (the per-sample gradients of the loss in ``z``: ``P - Y`` at a
softmax or sigmoid output fitted to the cross-entropy, ``(out - Y) f'(z)`` for the squared
error), ``\nabla`` the mini-batch gradient of the objective below, and the damping
``gamma = sqrt(damping) * mean(diag)`` of each factor. ``A (x) G`` approximates the
(empirical) Fisher matrix of the layer, so the step is the least-squares solution of the
layer's linearised problem with Kronecker-factored curvature: two small solves per layer
instead of one of size ``p``. The first layer's ``A`` is the Gram of the training inputs
(of ``gram_rows`` rows drawn once, or all), computed once and inverted through its Cholesky
factor once for each damping value the fit uses; the other factors are running averages
(``decay``) over mini-batches of ``batch_size`` rows, inverted every ``update_every``
mini-batches.

One step of the method (:class:`KroneckerSteps`) is ``batches_per_step`` such mini-batch
updates (an epoch by default), after which the output layer is solved on the evaluation rows
(variable projection: ``project_iter`` cross-entropy least-squares steps of
:class:`~lsqnet.training.cross_entropy.CrossEntropySteps` for a softmax or sigmoid output, the
exact ridge solve for an identity output in regression). The step is then accepted only if it
lowers the objective

.. math:: J = \frac{1}{\sum_i w_i} \Big(\sum_i w_i \ell_i
          + \frac{\alpha \beta}{2} \sum_l |W_l|^2\Big)

(``ell`` the cross-entropy of a classifier, with ``beta`` the curvature bound of
:data:`~lsqnet.training.cross_entropy.CURVATURE_BOUNDS`, or half the squared error of a
regression, ``beta = 1``; biases are not penalised; ``w_i`` the sample weights, 1 without
them; the same objective the cross-entropy steps minimise, up to the constant penalty of the
hidden layers). A step that does not lower it (or that overflows: weights, or hidden outputs
too large to square, which also marks the operation count inexact) is taken again from the
same state over the same mini-batches with the damping multiplied and the step size divided
by ``retry_factor``, at most ``max_retries`` times; it is never kept. When every retry
fails the state is unchanged and the fit stops. After an accepted step the damping moves
back toward its initial value by the same factor, and the step size toward a ceiling that
starts at ``step_size`` and is multiplied by ``step_decay`` after every accepted step.

The objective is measured on the evaluation rows: all training rows (``eval_rows=None``,
the default), or a fixed subset of ``eval_rows`` rows drawn once from the seed. On the subset
the guarantee is exact for the subset's objective (an estimate of the training objective
from a fixed random sample, which costs ``eval_rows / n`` of a full forward pass per step,
and on which the output layer is then fitted); the final
cross-entropy steps (``output_iter``) always run on all training rows.

:func:`fit` chains the stages: the steps (``max_iter``, stopping when the objective improves
by less than ``tol``, relative), then the cross-entropy steps of the output layer on the
training data, all through :func:`lsqnet.training._loop.run`. The data is in memory
(:class:`~lsqnet.training.sources.InMemory`, NumPy arrays or tensors of an array API library
such as PyTorch) or streamed (any :class:`~lsqnet.training.sources.DataSource`: row blocks,
chunks, Dask arrays); float32 data stays float32.

The mini-batches are rows given by their indices, the same on every source. A streamed
source brings the rows of the upcoming mini-batches into memory by one pass over its chunks
(:func:`~lsqnet.training.sources.gather`: consecutive mini-batches of at most
``gather_rows`` rows in all, at least one), and every computation over all rows (the first
layer's input Gram, the objective, the output layer's projection, the final cross-entropy
steps) sums over the chunks (``map_sum``). A streamed fit thus gives the model of the fit in
memory, up to the rounding of sums taken in another order, and holds one chunk, the
gathered rows and the row indices (8 bytes a row for an epoch's order), not the data.

Its passes: one that counts and checks the rows, one for the input Gram, one for the
start's objective (or one that gathers the ``eval_rows``, which then stay in memory for the
objective and the projection); for every step tried (retries included) one per group of
gathered mini-batches, then on all rows the projection's: ``2 project_iter`` for a
classifier (its cross-entropy steps' working targets and trial steps), two for a regression
(the output layer's statistics, then the objective), one without projection (the
objective); at the end two per cross-entropy step. The projection computes the hidden
layers again in each of its passes, where a fit in memory keeps them: data that fits in
memory is fitted faster there.

:func:`count_flops` predicts the operations a fit records, in memory or on chunks, from the
sizes, the options and the retries its history records.

With sample weights, the Gram matrices, gradients and objective are weighted sums, each
mini-batch's divided by its rows times the mean weight (so that its expectation is the
weighted mean over all rows); rows of zero weight are left out before the mini-batches are
drawn, so that the fit equals the fit without them. Integer weights equal repeated rows when
every step is one mini-batch of all rows (``batch_size`` at least the number of rows,
repeated ones included, and ``gram_rows`` and ``eval_rows`` None or as large); with smaller
mini-batches the rows drawn differ, and so do the steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _flops, _sparse
from .. import activations as _activations
from .._array_api import cho_factor, cho_solve, device, eigh, get_namespace, is_numpy
from ..layers import Dense
from ..network import Network
from ..solvers import GramStats
from ..solvers._factor import CONDEST_STEPS
from ..solvers._policy import most_robust
from ._layer import InputOverflow, LayerCache, solve_data, solve_summed
from ._loop import History, Iterate, Metrics, Step, loss_and_accuracy, run
from .bpls import BPLSOptions, BPLSResult
from .cross_entropy import (
    CURVATURE_BOUNDS,
    STEP_MULTIPLES,
    CrossEntropySteps,
    cross_entropy,
    refine_output,
)
from .sources import DataSource, InMemory, Pair, Passes, gather

__all__ = [
    "BATCH_ROWS",
    "GATHER_BYTES",
    "KFACOptions",
    "LOSSES",
    "MIN_BATCHES",
    "KroneckerSteps",
    "batch_rows",
    "count_flops",
    "damped_inverse",
    "fit",
    "kronecker_direction",
    "objective_value",
]

#: Bytes of inputs and targets that one pass over a streamed source gathers for the
#: upcoming mini-batches (``KFACOptions.gather_rows=None``): fewer passes, more memory.
GATHER_BYTES = 32 * 2**20


#: ``KFACOptions.batch_size=None``: mini-batches of BATCH_ROWS rows, or of fewer where a pass
#: over the training rows would have fewer than MIN_BATCHES of them. 500 rows beat 250 and
#: 1000 on MNIST and Fashion-MNIST (see :class:`KFACOptions`). On the tabular suite's digits
#: (about 1,000 rows: a pass of 500-row mini-batches is two or three updates), mini-batches of
#: a tenth of the rows reached 97.04 % with tanh units and 98.15 % with ReLU units on the
#: validation splits, against 96.67 % and 97.04 % with 500 rows
#: (``benchmarks/study_small_tables.py``).
BATCH_ROWS = 500
MIN_BATCHES = 10


@dataclass(frozen=True)
class KFACOptions:
    """The settings of the Kronecker-factored steps (see the module).

    The defaults were chosen on a validation split (the last 10000 training images) of
    MNIST and Fashion-MNIST with a 784-256-10 tanh/softmax network: a batch of 500 rows
    beat 250 and 1000; with it the step size 0.03 beat 0.05 and the damping 1 beat 0.3; and
    halving the step size after the first pass (``step_decay``) avoided the rejected second
    pass that a constant step size met on MNIST.

    Attributes
    ----------
    alpha : float
        Ridge penalty on every layer's weights (not biases), in the units of BPLS's ``alpha``:
        ``alpha beta |W|^2 / 2`` added to the summed loss.
    max_iter : int
        Maximum number of steps (each ``batches_per_step`` mini-batch updates).
    tol : float
        Stop when the objective improves by less than ``tol`` (relative), in the steps and in
        the final cross-entropy steps.
    batch_size : int or None
        Rows of each mini-batch; None: :data:`BATCH_ROWS`, or fewer where a pass over the
        ``n`` training rows would have fewer than :data:`MIN_BATCHES` mini-batches
        (``ceil(n / MIN_BATCHES)`` rows; :func:`batch_rows`).
    batches_per_step : int or None
        Mini-batch updates per step (None: one pass over the training rows).
    damping : float
        Initial damping ``lambda``; each factor gets ``sqrt(lambda) * mean(diag)`` added.
    step_size : float
        Initial step size ``eta``.
    decay : float
        Weight of the old value in the running averages of the factors.
    update_every : int
        Mini-batch updates between two inversions of the running factors.
    gram_rows : int or None
        Rows (drawn once) of the first layer's input Gram; None: all training rows.
    eval_rows : int or None
        Rows (drawn once) on which the objective is measured and the output layer solved
        after every step; None: all training rows.
    project_iter : int
        Cross-entropy steps of the output layer after every step (classifiers); for a
        regression with an identity output, any positive value solves the output layer
        exactly. 0: no projection.
    max_retries : int
        Retries of a step that did not lower the objective.
    retry_factor : float
        Multiplies the damping and divides the step size at each retry (> 1).
    step_decay : float
        Multiplies the largest step size allowed after every accepted step (in (0, 1]).
    output_iter : int
        Cross-entropy steps of the output layer on all training rows at the end.
    random_state : int
        Seed of the mini-batch order and of the rows drawn.
    gather_rows : int or None
        Streamed sources: most rows of the upcoming mini-batches gathered into memory by one
        pass over the chunks (whole mini-batches, at least one); None: as many as the
        largest chunk has rows, or as fit in :data:`GATHER_BYTES` (inputs and targets) if
        more. It changes the passes made and the memory held, not the fit.
    """

    alpha: float = 1.0
    max_iter: int = 2
    tol: float = 1e-4
    batch_size: int | None = None
    batches_per_step: int | None = None
    damping: float = 1.0
    step_size: float = 0.03
    decay: float = 0.95
    update_every: int = 20
    gram_rows: int | None = 10000
    eval_rows: int | None = None
    project_iter: int = 3
    max_retries: int = 4
    retry_factor: float = 2.0
    step_decay: float = 0.5
    output_iter: int = 5
    random_state: int = 0
    gather_rows: int | None = None

    def __post_init__(self) -> None:
        checks = [
            ("alpha", self.alpha, 0.0, False), ("tol", self.tol, 0.0, False),
            ("damping", self.damping, 0.0, True), ("step_size", self.step_size, 0.0, True),
            ("retry_factor", self.retry_factor, 1.0, True),
        ]
        for name, value, low, strict in checks:
            if not (isinstance(value, (int, float)) and math.isfinite(value)) or (
                value <= low if strict else value < low
            ):
                bound = f"> {low}" if strict else f">= {low}"
                raise ValueError(
                    f"KFACOptions: {name} must be a finite number {bound}; got {value!r}."
                )
        if not (isinstance(self.step_decay, (int, float)) and 0.0 < self.step_decay <= 1.0):
            raise ValueError(
                f"KFACOptions: step_decay must be in (0, 1]; got {self.step_decay!r}."
            )
        if not (isinstance(self.decay, (int, float)) and 0.0 <= self.decay < 1.0):
            raise ValueError(f"KFACOptions: decay must be in [0, 1); got {self.decay!r}.")
        counts = [
            ("max_iter", self.max_iter, 0), ("batch_size", self.batch_size, 1),
            ("update_every", self.update_every, 1), ("project_iter", self.project_iter, 0),
            ("max_retries", self.max_retries, 0), ("output_iter", self.output_iter, 0),
            ("batches_per_step", self.batches_per_step, 1), ("gram_rows", self.gram_rows, 1),
            ("eval_rows", self.eval_rows, 1), ("gather_rows", self.gather_rows, 1),
        ]
        optional = ("batch_size", "batches_per_step", "gram_rows", "eval_rows", "gather_rows")
        for name, value, low in counts:
            if value is None and name in optional:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                extra = " or None" if name in optional else ""
                raise ValueError(
                    f"KFACOptions: {name} must be an integer >= {low}{extra}; got {value!r}."
                )


def batch_rows(n: int, opts: KFACOptions) -> int:
    """The rows of each mini-batch of a fit on ``n`` training rows (see ``batch_size``)."""
    if opts.batch_size is not None:
        return opts.batch_size
    return max(1, min(BATCH_ROWS, -(-n // MIN_BATCHES)))


def damped_inverse(F: Any, damping: float) -> tuple[Any, str]:
    """``(F + gamma I)^{-1}`` with ``gamma = sqrt(damping) * mean(diag F)`` (at least a
    millionfold the dtype's smallest normal number, so an all-zero factor stays invertible),
    and the solver that gave it: ``"cholesky"``, or ``"eigh"`` (eigenvalues kept at or above
    ``gamma``) when rounding left the damped factor without a Cholesky factor."""
    xp = get_namespace(F)
    k = F.shape[0]
    diag = xp.linalg.diagonal(F)
    gamma = math.sqrt(damping) * max(float(xp.mean(diag)), float(xp.finfo(F.dtype).tiny) * 1e6)
    eye = xp.eye(k, dtype=F.dtype, device=device(F))
    damped = F + gamma * eye
    try:
        inverse = cho_solve(xp, cho_factor(xp, damped), eye)
        _flops.record("factor", _flops.potrf(k) + _flops.potrs(k, k))
        return inverse, "cholesky"
    except np.linalg.LinAlgError:
        w, V = eigh(xp, F + gamma * eye)
        _flops.record("factor", 9 * k**3 + _flops.gemm(k, k, k))
        return (V / xp.clip(w, min=gamma)) @ V.T, "eigh"


def kronecker_direction(grad: Any, A_inv: Any, G_inv: Any) -> Any:
    """``A_inv @ grad @ G_inv``: the Kronecker-factored preconditioning of a layer's
    gradient ``grad`` (rows: inputs and bias; columns: outputs)."""
    p, q = grad.shape
    _flops.record("gemm", _flops.gemm(p, p, q) + _flops.gemm(p, q, q))
    return (A_inv @ grad) @ G_inv


def _finite(a: Any) -> bool:
    xp = get_namespace(a)
    return bool(xp.all(xp.isfinite(a)))


def _gram(a: Any) -> Any:
    """``a^T a`` (a contiguous copy of ``a^T`` first for NumPy, whose ``a.T @ a`` of a tall
    float32 array is several times slower)."""
    xp = get_namespace(a)
    n, k = a.shape
    _flops.record("gemm", _flops.gemm(k, n, k))
    if _sparse.is_sparse(a):  # the first layer's input: products of its stored values
        return _sparse.gram(a)
    if is_numpy(xp):
        return np.ascontiguousarray(a.T) @ a
    return a.T @ a


def _augmented_gram(a: Any, w: Any = None) -> Any:
    """``[a 1]^T diag(w) [a 1]`` (no ``w``: all 1), by blocks (``a`` is not copied with a
    column of ones)."""
    xp = get_namespace(a)
    n = a.shape[0]
    if w is not None:
        _flops.record("elementwise", 2 * _flops.elementwise(*a.shape))
        if _sparse.is_sparse(a):
            scaled, root = _sparse.scale_rows(a, w), _sparse.scale_rows(a, np.sqrt(w))
            sums = _sparse.column_sums(scaled)
        else:
            root = a * xp.sqrt(w)[:, None]
            sums = xp.sum(a * w[:, None], axis=0)
        count = xp.reshape(xp.astype(xp.sum(w), a.dtype), (1, 1))
        upper = xp.concat([_gram(root), sums[:, None]], axis=1)
        return xp.concat([upper, xp.concat([sums[None, :], count], axis=1)], axis=0)
    sums = _sparse.column_sums(a) if _sparse.is_sparse(a) else xp.sum(a, axis=0)
    _flops.record("elementwise", _flops.elementwise(*a.shape))
    count = xp.asarray([[float(n)]], dtype=a.dtype, device=device(a))
    upper = xp.concat([_gram(a), sums[:, None]], axis=1)
    return xp.concat([upper, xp.concat([sums[None, :], count], axis=1)], axis=0)


def _augmented_gradient(a: Any, errors: Any) -> Any:
    """``[a 1]^T errors``: the weights' rows, then the bias row."""
    xp = get_namespace(a)
    _flops.record("gemm", _flops.gemm(a.shape[1], a.shape[0], errors.shape[1]))
    _flops.record("elementwise", _flops.elementwise(*errors.shape))
    return xp.concat([a.T @ errors, xp.sum(errors, axis=0)[None, :]], axis=0)


def _penalty(network: Network) -> float:
    """``sum_l |W_l|^2`` in float64."""
    total = 0.0
    for layer in network.layers:
        xp = get_namespace(layer.weight)
        total += float(xp.sum(layer.weight * layer.weight, dtype=xp.float64))
        _flops.record("metrics", 2 * layer.weight.shape[0] * layer.weight.shape[1])
    return total


def _beta(network: Network, classification: bool) -> float:
    return CURVATURE_BOUNDS[network.layers[-1].activation] if classification else 1.0


def objective_value(
    network: Network, out: Any, Y: Any, alpha: float, classification: bool,
    weights: Any = None,
) -> float:
    """The objective of the module (``J``) of ``network`` whose outputs on the rows of
    targets ``Y`` (sample weights ``weights``, None: all 1) are ``out``."""
    xp = get_namespace(out)
    n = Y.shape[0] if weights is None else float(xp.sum(weights, dtype=xp.float64))
    beta = _beta(network, classification)
    if classification:
        loss = cross_entropy(out, Y, network.layers[-1].activation, weights)
    elif weights is None:
        loss = 0.5 * float(xp.sum((out - Y) ** 2, dtype=xp.float64)) / n
        _flops.record("metrics", 3 * out.shape[0] * out.shape[1])
    else:
        rows = xp.sum(xp.astype((out - Y) ** 2, xp.float64), axis=1)
        loss = 0.5 * float(xp.sum(xp.astype(weights, xp.float64) * rows)) / n
        _flops.record("metrics", 3 * out.shape[0] * out.shape[1] + 2 * out.shape[0])
    return loss + alpha * beta * _penalty(network) / (2 * n)


def _derivative(name: str, Z: Any, out: Any) -> Any:
    """``f'(Z)`` of a hidden activation, from its outputs ``out`` where that is cheaper
    (tanh: ``1 - out^2``; sigmoid: ``out (1 - out)``; relu: ``out > 0``)."""
    _flops.record("elementwise", 2 * _flops.elementwise(*Z.shape))
    if name == "tanh":
        return 1 - out * out
    if name == "sigmoid":
        return out * (1 - out)
    if name == "relu":
        xp = get_namespace(out)
        return xp.astype(out > 0, out.dtype)
    return _activations.get(name).derivative(Z)


def _forward(network: Network, X: Any) -> list[Any]:
    """``[X, h_1, ..., h_L]`` by plain products (the layers' weights are dense here)."""
    acts = [X]
    for layer in network.layers:
        Z = acts[-1] @ layer.weight
        Z += layer.bias
        _flops.record("gemm", _flops.gemm(Z.shape[0], layer.n_in, layer.n_out))
        acts.append(_activations.get(layer.activation).forward_(Z))
        _flops.record("elementwise", 2 * _flops.elementwise(*Z.shape))
    return acts


@dataclass(frozen=True)
class _Factors:
    """The Kronecker factors: running ``A`` of the layers above the first (index 0 unused),
    running ``G`` of every layer, their damped inverses, and the updates made."""

    A: tuple[Any, ...]
    G: tuple[Any, ...]
    A_inv: tuple[Any, ...]
    G_inv: tuple[Any, ...]
    damping: float
    solver: str = "cholesky"  # the most robust solver of the inversions so far
    updates: int = 0


@dataclass(frozen=True)
class _State:
    iterate: Iterate
    objective: float
    factors: _Factors | None
    damping: float
    step_size: float
    epoch: int = 0
    offset: int = 0  # rows of the epoch's order used so far
    retries: int = 0  # retries of the step that made this state
    ceiling: float = math.inf  # the largest step size the next step may use
    cache: LayerCache | None = None  # the output layer's statistics of the projection


class KroneckerSteps:
    """Kronecker-factored least-squares steps as a training method (see the module).

    ``data`` holds the training rows the mini-batches are drawn from, ``eval_source`` the
    evaluation rows (in memory: the training rows or a fixed subset of them; a streamed
    source: all its rows), ``A0`` the first layer's input Gram (inputs and a column of ones,
    per row).
    """

    def __init__(
        self, opts: KFACOptions, classification: bool, *, eval_source: DataSource, A0: Any,
        data: _Rows,
    ) -> None:
        self.opts = opts
        self.classification = classification
        self.eval_source = eval_source
        self.A0 = A0
        self.data = data
        self._A0_inv: dict[float, tuple[Any, str]] = {}  # by damping: one inversion each
        self.ce_opts = BPLSOptions(alpha=opts.alpha, tol=opts.tol, output_iter=opts.project_iter)
        #: The state the last step made (its retries, damping and step size).
        self.last: _State | None = None

    def A0_inv(self, damping: float) -> tuple[Any, str]:
        if damping not in self._A0_inv:
            self._A0_inv[damping] = damped_inverse(self.A0, damping)
        return self._A0_inv[damping]

    def iterate(self, state: _State) -> Iterate:
        return state.iterate

    def start(self, source: DataSource, iterate: Iterate) -> tuple[_State, float]:
        network = Network(tuple(
            Dense(layer.weight, layer.bias, layer.activation) for layer in iterate.network.layers
        ))
        it, objective = self._evaluate(network)
        opts = self.opts
        state = _State(it, objective, None, opts.damping, opts.step_size, ceiling=opts.step_size)
        return state, objective

    # -- one step -------------------------------------------------------------------------

    def step(self, source: DataSource, state: _State) -> tuple[_State, Step]:
        opts = self.opts
        damping, step_size = state.damping, state.step_size
        for retry in range(opts.max_retries + 1):
            proposal = self._propose(state, damping, step_size)
            if proposal.objective < state.objective:
                ceiling = state.ceiling * opts.step_decay
                new = replace(
                    proposal, damping=max(damping / opts.retry_factor, opts.damping),
                    step_size=min(step_size * opts.retry_factor, ceiling), retries=retry,
                    ceiling=ceiling,
                )
                self.last = new
                return new, self._report(new, converged=False)
            damping *= opts.retry_factor
            step_size /= opts.retry_factor
        # every retry failed: the state stays, and the fit stops (the objective did not move)
        kept = replace(state, retries=opts.max_retries + 1)
        self.last = kept
        return kept, self._report(kept, converged=True)

    def _report(self, state: _State, converged: bool) -> Step:
        it = state.iterate
        n_used = self._batches() * self.opts.batch_size
        return Step(
            it.network, len(it.network.layers), min(n_used, self.data.n), it.loss,
            it.score if self.classification else float("nan"), state.objective, converged,
            "cholesky" if state.factors is None else state.factors.solver,
        )

    def _batches(self) -> int:
        return _batches_per_step(self.data.n, self.opts)

    def _propose(self, state: _State, damping: float, step_size: float) -> _State:
        """``batches_per_step`` mini-batch updates from ``state``, then the output layer's
        projection and the objective on the evaluation rows (a candidate state)."""
        opts = self.opts
        data = self.data
        n = data.n
        layers = [(layer.weight, layer.bias) for layer in state.iterate.network.layers]
        acts_names = [layer.activation for layer in state.iterate.network.layers]
        factors = state.factors
        rescale = factors is not None and damping != factors.damping
        spans, epoch, offset = _spans(n, opts.batch_size, self._batches(), state.epoch,
                                      state.offset)
        beta = _beta(state.iterate.network, self.classification)
        # a mini-batch's sums are divided by its rows times the mean weight
        coef = (
            opts.alpha * beta / n if not data.weighted
            else opts.alpha * beta / (n * data.mean_weight)
        )
        # A step too long for the network overflows: it is a proposal rejected, not an error
        with np.errstate(over="ignore", invalid="ignore"):
            for Xb, Yb, wb in data.mini_batches(spans):
                factors = self._update(
                    layers, acts_names, Xb, Yb, factors, damping, step_size, coef, rescale, wb
                )
                rescale = False
            rejected = replace(state, objective=math.inf)
            if not all(_finite(W) and _finite(b) for W, b in layers):
                _flops.mark_inexact()  # the projection counted for every proposal is skipped
                return rejected
            network = Network(tuple(
                Dense(W, b, name) for (W, b), name in zip(layers, acts_names, strict=True)
            ))
            try:
                iterate, objective, cache = self._project(network)
            except InputOverflow:  # the hidden units' outputs overflowed when squared
                _flops.mark_inexact()
                return rejected
        return _State(iterate, objective, factors, damping, step_size, epoch, offset, cache=cache)

    def _update(self, layers, names, Xb, Yb, factors, damping, step_size, coef, rescale,
                wb=None):
        """One mini-batch: forward, errors, factors, and every layer's step (in place in
        ``layers``); returns the factors. ``wb``: the rows' weights over the mean weight
        (None: all 1)."""
        b = Xb.shape[0]
        acts, Zs = [Xb], []
        for (W, bias), name in zip(layers, names, strict=True):
            Z = acts[-1] @ W
            Z += bias
            _flops.record("gemm", _flops.gemm(b, W.shape[0], W.shape[1]))
            Zs.append(Z)
            acts.append(_activations.get(name).forward(Z))
        out_act = _activations.get(names[-1])
        if self.classification:
            g = acts[-1] - Yb  # the cross-entropy's gradient in the output pre-activations
        else:
            g = (acts[-1] - Yb) * out_act.derivative(Zs[-1])
        top = len(layers) - 1
        errors = [None] * len(layers)
        errors[top] = g
        for i in range(top, 0, -1):
            W = layers[i][0]
            back = errors[i] @ W.T
            _flops.record("gemm", _flops.gemm(b, W.shape[1], W.shape[0]))
            errors[i - 1] = back * _derivative(names[i - 1], Zs[i - 1], acts[i])
        # the factors of this batch, folded into the running averages
        A_new = [None] + [_augmented_gram(a, wb) / b for a in acts[1:-1]]
        if wb is None:
            G_new = [_gram(e) / b for e in errors]
        else:
            root = get_namespace(wb).sqrt(wb)[:, None]
            G_new = [_gram(e * root) / b for e in errors]
            errors = [e * wb[:, None] for e in errors]  # the gradient's weighted sums
            _flops.record("elementwise", 2 * sum(_flops.elementwise(*e.shape) for e in errors))
        if factors is None:
            A, G, updates, solver = A_new, G_new, 0, "cholesky"
        else:
            d = self.opts.decay
            A = [None] + [
                d * a + (1 - d) * an for a, an in zip(factors.A[1:], A_new[1:], strict=True)
            ]
            G = [d * a + (1 - d) * an for a, an in zip(factors.G, G_new, strict=True)]
            updates, solver = factors.updates, factors.solver
        if factors is None or rescale or updates % self.opts.update_every == 0:
            inverses = [self.A0_inv(damping)] + [damped_inverse(a, damping) for a in A[1:]]
            inverses += [damped_inverse(gg, damping) for gg in G]
            A_inv = [inv for inv, _ in inverses[: len(layers)]]
            G_inv = [inv for inv, _ in inverses[len(layers):]]
            solver = most_robust([solver, *(used for _, used in inverses)])
        else:
            A_inv, G_inv = list(factors.A_inv), list(factors.G_inv)
        for i, (W, bias) in enumerate(layers):
            grad = _augmented_gradient(acts[i], errors[i])
            grad /= b
            grad[:-1] += coef * W
            step = kronecker_direction(grad, A_inv[i], G_inv[i])
            layers[i] = (W - step_size * step[:-1], bias - step_size * step[-1])
        return _Factors(
            tuple(A), tuple(G), tuple(A_inv), tuple(G_inv), damping, solver, updates + 1
        )

    def _project(self, network: Network) -> tuple[Iterate, float, LayerCache | None]:
        """The output layer solved on the evaluation rows; the iterate, its objective and the
        output layer's factorised statistics (None without cross-entropy steps)."""
        ev = self.eval_source
        if not ev.resident:
            return self._project_streamed(network)
        acts = _forward(network, ev.X)
        out = network.layers[-1]
        name = out.activation
        cache = None
        if self.classification and name in CURVATURE_BOUNDS and self.opts.project_iter:
            cache = LayerCache()
            method = CrossEntropySteps(self.ce_opts, cache, True)
            st, _ = method.start(ev, Iterate(network, acts))
            for _ in range(self.opts.project_iter):
                st, _ = method.step(ev, st)
            network, acts = st.iterate.network, st.iterate.acts
        elif not self.classification and name == "identity" and self.opts.project_iter:
            H = acts[-2]
            xp = get_namespace(H)
            r = solve_data(H, ev.Y, _activations.get(name), self.ce_opts, None, ev.weights)
            layer = Dense(
                xp.astype(r.coef, H.dtype, copy=False), xp.astype(r.intercept, H.dtype), name
            )
            network = Network((*network.layers[:-1], layer))
            acts = [*acts[:-1], acts[-2] @ layer.weight + layer.bias]
        objective = objective_value(
            network, acts[-1], ev.Y, self.opts.alpha, self.classification, ev.weights
        )
        loss, acc = loss_and_accuracy(acts[-1], ev.Y, ev.labels, ev.weights)
        iterate = Iterate(network, acts, acc if self.classification else 0.0, loss)
        return iterate, objective, cache

    def _project_streamed(self, network: Network) -> tuple[Iterate, float, LayerCache | None]:
        """:meth:`_project` over the passes of a streamed source: the cross-entropy steps of
        a classifier's output layer (their last trial pass gives the objective), or the
        ridge solve of a regression's identity output layer from summed statistics, then a
        pass for the objective."""
        ev = self.eval_source
        name = network.layers[-1].activation
        hidden = Network(network.layers[:-1])
        opts = self.opts
        if self.classification and name in CURVATURE_BOUNDS and opts.project_iter:
            cache = LayerCache()
            method = CrossEntropySteps(self.ce_opts, cache, True)
            st, _ = method.start(ev, Iterate(network))
            for _ in range(opts.project_iter):
                st, step = method.step(ev, st)
            network = st.iterate.network
            beta = _beta(network, True)
            objective = step.objective + opts.alpha * beta * _penalty(hidden) / (2 * st.n)
            return Iterate(network, None, step.accuracy, step.loss), objective, cache
        if not self.classification and name == "identity" and opts.project_iter:

            def statistics(X, Y, labels, start, w):
                H = _forward(hidden, X)[-1]
                return GramStats.around_means(H, Y, w, overwrite_a=True)

            r = solve_summed(ev.map_sum(statistics), self.ce_opts, None)
            dtype = network.layers[0].weight.dtype
            layer = Dense(r.coef.astype(dtype, copy=False), r.intercept.astype(dtype), name)
            network = Network((*hidden.layers, layer))
        return (*self._evaluate(network), None)

    def _evaluate(self, network: Network) -> tuple[Iterate, float]:
        """``network``'s iterate and objective on the evaluation rows."""
        ev = self.eval_source
        if ev.resident:
            acts = _forward(network, ev.X)
            objective = objective_value(
                network, acts[-1], ev.Y, self.opts.alpha, self.classification, ev.weights
            )
            loss, acc = loss_and_accuracy(acts[-1], ev.Y, ev.labels, ev.weights)
            return Iterate(network, acts, acc if self.classification else 0.0, loss), objective
        data_loss, metrics = ev.map_sum(_value_pass(network, self.classification)).values
        total = metrics.n_samples
        beta = _beta(network, self.classification)
        objective = float(data_loss) / total + self.opts.alpha * beta * _penalty(network) / (
            2 * total
        )
        loss, acc = metrics.values(self.classification)
        return Iterate(network, None, acc if self.classification else 0.0, loss), objective


def _batches_per_step(n: int, opts: KFACOptions) -> int:
    """Mini-batches per step: ``batches_per_step``, or those of one pass over ``n`` rows."""
    if opts.batches_per_step is not None:
        return opts.batches_per_step
    return max(1, -(-n // opts.batch_size))


def _spans(
    n: int, batch_size: int, batches: int, epoch: int, offset: int
) -> tuple[list[tuple[int, int, int]], int, int]:
    """The mini-batches of a step from ``offset`` in the order of ``epoch``: each as
    ``(epoch, start, stop)`` in that epoch's order (a batch ends where its epoch does),
    and the epoch and offset after them."""
    spans = []
    for _ in range(batches):
        if offset >= n:
            epoch, offset = epoch + 1, 0
        stop = min(offset + batch_size, n)
        spans.append((epoch, offset, stop))
        offset = stop
    return spans, epoch, offset


class _Rows:
    """The training rows the mini-batches are drawn from: the ``n`` rows of positive weight
    of ``source`` (all rows without weights), of total weight ``total``. In memory,
    ``source`` holds only those rows; a streamed source holds them all, and ``positive``
    gives the index of each among its rows (None: the same index)."""

    def __init__(
        self, source: DataSource, n: int, total: float, weighted: bool, opts: KFACOptions,
        positive: np.ndarray | None = None, row_bytes: int = 0, largest_chunk: int = 0,
    ) -> None:
        self.source, self.n, self.total, self.weighted = source, n, total, weighted
        opts = replace(opts, batch_size=batch_rows(n, opts))  # the options of the fit
        self.opts, self.positive = opts, positive
        self.mean_weight = total / n if weighted else 1.0
        self.gather_rows = opts.gather_rows or max(
            opts.batch_size, largest_chunk, GATHER_BYTES // max(row_bytes, 1)
        )

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.opts.random_state, epoch]).permutation(self.n)

    def mini_batches(self, spans: list[tuple[int, int, int]]) -> Iterator[tuple[Any, Any, Any]]:
        """The ``(X, Y, weights over the mean weight)`` of each mini-batch of ``spans``
        (weights None without them): taken from the arrays in memory, or from the rows of
        several mini-batches gathered by one pass over a streamed source."""
        if self.source.resident:
            yield from self._resident_batches(spans)
            return
        group: list[np.ndarray] = []
        orders: dict[int, np.ndarray] = {}
        for i, (epoch, start, stop) in enumerate(spans):
            if epoch not in orders:
                orders = {epoch: self.order(epoch)}  # the spans go through epochs in turn
            group.append(orders[epoch][start:stop])
            following = spans[i + 1][2] - spans[i + 1][1] if i + 1 < len(spans) else None
            size = sum(rows.shape[0] for rows in group)
            if following is None or size + following > self.gather_rows:
                yield from self._gathered(group)
                group = []

    def _resident_batches(self, spans):
        X, Y, w = self.source.X, self.source.Y, self.source.weights
        xp = get_namespace(X)
        on = device(X)
        order, current = None, None
        for epoch, start, stop in spans:
            if epoch != current:
                order, current = self.order(epoch), epoch
            rows = order[start:stop]
            idx = xp.asarray(rows, device=on) if not is_numpy(xp) else rows
            # a sparse X: the mini-batch's rows made dense (the dense fit's products)
            Xb = _sparse.dense_rows(X, rows) if _sparse.is_sparse(X) else xp.take(X, idx, axis=0)
            Yb = xp.take(Y, idx, axis=0)
            wb = None if w is None else xp.take(w, idx, axis=0) / self.mean_weight
            yield Xb, Yb, wb

    def _gathered(self, group: list[np.ndarray]):
        rows = np.concatenate(group)
        held = gather(self.source, rows if self.positive is None else self.positive[rows])
        sparse = _sparse.is_sparse(held.X)
        at = 0
        for part in group:
            span = slice(at, at + part.shape[0])
            at = span.stop
            # copies: the gathered rows are freed before the next gather, whatever the
            # caller still holds of the last batch
            Xb = _sparse.dense_rows(held.X, span) if sparse else held.X[span].copy()
            wb = None
            if self.weighted:
                wb = (
                    np.ones(part.shape[0], held.X.dtype) if held.weights is None
                    else held.weights[span]
                ) / self.mean_weight
            yield Xb, held.Y[span].copy(), wb


@dataclass(frozen=True)
class _Scan:
    """What the first pass over a streamed source finds: for each chunk its first row, its
    rows and the indices of its rows of positive weight (None: all of them), the total
    weight, whether any chunk has weights, and the bytes of a row's inputs and targets."""

    chunks: tuple[tuple[int, int, np.ndarray | None], ...]
    total: float
    weighted: bool
    row_bytes: int

    def __add__(self, other: _Scan) -> _Scan:
        return _Scan(
            self.chunks + other.chunks, self.total + other.total,
            self.weighted or other.weighted, max(self.row_bytes, other.row_bytes),
        )


def _scan(source: DataSource, network: Network, opts: KFACOptions) -> _Rows:
    """The training rows of a streamed source, by one pass that also checks every chunk
    (its columns, and finite values)."""
    n_in, n_out = network.layers[0].n_in, network.layers[-1].n_out

    def scan(X, Y, labels, start, w):
        m = X.shape[0]
        if X.shape[1] != n_in or Y.shape[1] != n_out:
            raise ValueError(
                f"KFAC training: X has {X.shape[1]} columns and Y {Y.shape[1]}; the network "
                f"maps {n_in} inputs to {n_out} outputs."
            )
        for name, arr in (("X", X), ("Y", Y)):
            if not np.all(np.isfinite(arr.data if _sparse.is_sparse(arr) else arr)):
                raise ValueError(
                    f"KFAC training: {name} contains NaN or infinity (rows {start} to "
                    f"{start + m - 1})."
                )
        row_bytes = (X.shape[1] + Y.shape[1]) * np.dtype(X.dtype).itemsize
        if w is None:
            return _Scan(((start, m, None),), float(m), False, row_bytes)
        keep = np.flatnonzero(np.asarray(w) > 0)
        kept = None if keep.shape[0] == m else keep + start
        return _Scan(((start, m, kept),), float(np.sum(w, dtype=np.float64)), True, row_bytes)

    found = source.map_sum(scan)
    chunks = sorted(found.chunks, key=lambda chunk: chunk[0])
    rows = sum(m for _, m, _ in chunks)
    if rows < 2:
        raise ValueError(f"KFAC training needs at least 2 samples; got {rows}.")
    positive = None
    if any(kept is not None for _, _, kept in chunks):
        positive = np.concatenate([
            np.arange(start, start + m) if kept is None else kept for start, m, kept in chunks
        ])
    n = rows if positive is None else int(positive.shape[0])
    if n == 0:
        raise ValueError("KFAC training: every sample weight is 0; there is nothing to fit.")
    largest = max(m for _, m, _ in chunks)
    return _Rows(source, n, found.total, found.weighted, opts, positive, found.row_bytes, largest)


def _input_gram(data: _Rows, rows: np.ndarray | None) -> Any:
    """The first layer's input factor ``A``: the weighted mean of ``[x 1]^T [x 1]`` over the
    training rows ``rows`` (None: all), in memory or summed over a streamed source's
    chunks."""
    source = data.source
    if source.resident:
        X, w = source.X, source.weights
        xp = get_namespace(X)
        Xg, wg = _take(X, rows), _take(w, rows)
        return _augmented_gram(Xg, wg) / (
            Xg.shape[0] if wg is None else float(xp.sum(wg, dtype=xp.float64))
        )
    wanted = data.positive if rows is None else (
        rows if data.positive is None else data.positive[rows]
    )

    def part(X, Y, labels, start, w):
        if wanted is None:
            local = None
        else:
            lo, hi = np.searchsorted(wanted, [start, start + X.shape[0]])
            local = wanted[lo:hi] - start
        Xg, wg = _take(X, local), _take(w, local)
        count = Xg.shape[0] if wg is None else float(np.sum(wg, dtype=np.float64))
        return Pair(_augmented_gram(Xg, wg), count)

    gram, count = source.map_sum(part).values
    return gram / count


def _take(arr: Any, rows: np.ndarray | None) -> Any:
    """The rows ``rows`` of ``arr`` (None: ``arr`` itself)."""
    if rows is None or arr is None:
        return arr
    if _sparse.is_sparse(arr):
        return _sparse.take_rows(arr, rows)
    xp = get_namespace(arr)
    return xp.take(arr, rows if is_numpy(xp) else xp.asarray(rows, device=device(arr)), axis=0)


def _summed_loss(out: Any, Y: Any, activation: str, classification: bool, w: Any) -> float:
    """The summed loss of a chunk's rows (the cross-entropy, or half the squared error;
    weighted by ``w`` if given), with the operations :func:`objective_value` records."""
    if classification:
        n = out.shape[0] if w is None else float(np.sum(w, dtype=np.float64))
        return cross_entropy(out, Y, activation, w) * n
    if w is None:
        _flops.record("metrics", 3 * out.shape[0] * out.shape[1])
        return 0.5 * float(np.sum((out - Y) ** 2, dtype=np.float64))
    rows = np.sum(((out - Y) ** 2).astype(np.float64), axis=1)
    _flops.record("metrics", 3 * out.shape[0] * out.shape[1] + 2 * out.shape[0])
    return 0.5 * float(np.asarray(w, np.float64) @ rows)


def _value_pass(network: Network, classification: bool) -> Callable[..., Pair]:
    """A chunk's summed loss and metrics at ``network``."""
    name = network.layers[-1].activation

    def value(X, Y, labels, start, w):
        out = _forward(network, X)[-1]
        return Pair(
            _summed_loss(out, Y, name, classification, w), Metrics.of(out, Y, labels, w)
        )

    return value


def _rows(n: int, wanted: int | None, seed: int, salt: int) -> np.ndarray | None:
    """``wanted`` of ``n`` rows drawn once (sorted), or None for all."""
    if wanted is None or wanted >= n:
        return None
    rng = np.random.default_rng([seed, salt])
    return np.sort(rng.choice(n, size=wanted, replace=False))


def _positive_weights(source: InMemory) -> InMemory:
    """``source`` without its rows of zero weight (itself if it has none)."""
    w = source.weights
    if w is None:
        return source
    xp = get_namespace(w)
    keep = w > 0
    if bool(xp.all(keep)):
        return source
    return source.rows(xp.nonzero(keep)[0])


def _check_network(network: Network, classification: bool) -> None:
    if len(network.layers) < 2:
        raise ValueError(
            "KFAC training needs a network with at least one hidden layer; for a single layer "
            "use lsqnet.training.bpls.fit (its output solve is exact)."
        )
    for layer in network.layers[:-1]:
        if _activations.get(layer.activation).rowwise:
            raise ValueError(
                f"KFAC training needs elementwise hidden activations; got "
                f"{layer.activation!r} in a hidden layer."
            )
    out = network.layers[-1].activation
    if classification and out not in CURVATURE_BOUNDS:
        raise ValueError(
            f"A KFAC classifier fits the cross-entropy: its output activation must be one of "
            f"{sorted(CURVATURE_BOUNDS)}; got {out!r}."
        )


def _check_arrays(source: InMemory, network: Network) -> None:
    X, Y = source.X, source.Y
    n = int(X.shape[0])
    if n < 2:
        raise ValueError(f"KFAC training needs at least 2 samples; got {n}.")
    if X.shape[1] != network.layers[0].n_in or Y.shape[1] != network.layers[-1].n_out:
        raise ValueError(
            f"KFAC training: X has {X.shape[1]} columns and Y {Y.shape[1]}; the network maps "
            f"{network.layers[0].n_in} inputs to {network.layers[-1].n_out} outputs."
        )
    xp = get_namespace(X)
    for name, arr in (("X", X), ("Y", Y)):
        values = arr.data if _sparse.is_sparse(arr) else arr
        if not bool(xp.all(xp.isfinite(values))):
            raise ValueError(f"KFAC training: {name} contains NaN or infinity.")


def _training_rows(source: DataSource, network: Network, opts: KFACOptions) -> _Rows:
    """The rows the mini-batches are drawn from, the data checked: in memory, ``source``
    without its rows of zero weight; streamed, by :func:`_scan`'s pass."""
    if not source.resident:
        return _scan(source, network, opts)
    _check_arrays(source, network)
    source = _positive_weights(source)
    w = source.weights
    n = int(source.X.shape[0])
    if w is None:
        return _Rows(source, n, float(n), False, opts)
    xp = get_namespace(w)
    return _Rows(source, n, float(xp.sum(w, dtype=xp.float64)), True, opts)


def fit(
    source: DataSource,
    network: Network,
    opts: KFACOptions,
    *,
    classification: bool,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
    init_passes: int = 0,
) -> BPLSResult:
    """Train ``network`` on ``source`` by Kronecker-factored steps, then the cross-entropy
    steps of the output layer (classifiers, ``output_iter``).

    ``source`` is data in memory (:class:`~lsqnet.training.InMemory`) or any streamed
    source (row blocks, chunks, Dask); a streamed fit gives the model of the fit in memory,
    up to the rounding of sums taken in another order (see the module).

    History entries record ``iteration``, ``layers``, ``n_samples``, ``loss`` and
    ``accuracy`` (on the evaluation rows during the steps, on all training rows in the
    cross-entropy steps), ``objective`` (the module's ``J``, non-increasing over the
    entries), ``retries`` (of the step), ``damping``, ``step_size``, ``flops`` and ``time``;
    for a streamed source also ``passes``, the passes over the data so far, counting the
    ``init_passes`` made to initialise ``network``.
    """
    if not isinstance(opts, KFACOptions):
        raise TypeError(f"opts must be a KFACOptions; got {type(opts).__name__}.")
    _check_network(network, classification)
    history = History(monitor)
    if not source.resident:
        source = Passes(source, init_passes)
    data = _training_rows(source, network, opts)
    source, opts = data.source, data.opts
    n, total = data.n, data.total

    def passes() -> int | None:
        return source.count if isinstance(source, Passes) else None

    with _flops.counting(ledger) as ledger:
        A0 = _input_gram(data, _rows(n, opts.gram_rows, opts.random_state, 1))
        ev_rows = _rows(n, opts.eval_rows, opts.random_state, 2)
        if ev_rows is None:
            ev = source
        else:
            ev = gather(source, ev_rows if data.positive is None else data.positive[ev_rows])
        method = KroneckerSteps(opts, classification, eval_source=ev, A0=A0, data=data)
        beta = _beta(network, classification)

        def record(step: Step) -> bool:
            state = method.last
            extra = {"objective": step.objective}
            if state is not None:
                extra.update(
                    retries=state.retries, damping=state.damping, step_size=state.step_size
                )
            return history.record_step(step, ledger.total, passes(), **extra)

        best, solvers, stop = run(
            method, source, Iterate(network), max_steps=opts.max_iter, tol=opts.tol,
            record=record, keep="last",
        )
        if opts.output_iter and not stop and classification:
            # on the same rows the projection's statistics of the output layer serve again
            kept = None if method.last is None or ev_rows is not None else method.last.cache
            method.last = None
            net = best.network
            acts = None
            if source.resident:
                acts = (
                    best.acts if ev_rows is None and best.acts is not None
                    else _forward(net, source.X)
                )
            hidden = opts.alpha * beta * _penalty(Network(net.layers[:-1])) / (2 * total)

            def record_ce(step: Step) -> bool:  # the whole objective: the hidden layers' penalty
                return record(step._replace(objective=step.objective + hidden))

            ce_opts = BPLSOptions(alpha=opts.alpha, tol=opts.tol, output_iter=opts.output_iter)
            best, used, stop = refine_output(
                source, Iterate(net, acts, best.score, best.loss), ce_opts, kept or LayerCache(),
                classification=True, record=record_ce,
            )
            solvers += used
    return BPLSResult(
        best.network, history.entries, len(history.entries),
        most_robust(["cholesky", *solvers]), ledger, None, loss=best.loss,
    )


# -- the operation count ---------------------------------------------------------------------

#: The losses :func:`count_flops` counts, by output: the squared error of a regression's
#: identity output, the cross-entropy of a classifier's softmax or sigmoid output.
LOSSES = ("squared_error", "softmax", "sigmoid")


def _forward_flops(rows: int, sizes: list[int]) -> int:
    """:func:`_forward` over ``rows`` rows: every layer's product and activation."""
    return sum(
        _flops.gemm(rows, p, q) + 2 * rows * q for p, q in zip(sizes[:-1], sizes[1:], strict=True)
    )


def _penalty_flops(sizes: list[int]) -> int:
    return sum(2 * p * q for p, q in zip(sizes[:-1], sizes[1:], strict=True))


def _loss_flops(rows: int, k: int, loss: str) -> int:
    """The summed loss of ``rows`` outputs (:func:`objective_value`'s data part)."""
    return {"squared_error": 3, "softmax": 4, "sigmoid": 10}[loss] * rows * k


def _metrics_flops(rows: int, k: int, loss: str) -> int:
    """:func:`~lsqnet.training.loss_and_accuracy` of ``rows`` outputs (accuracy for the
    classifiers)."""
    return (3 if loss == "squared_error" else 4) * rows * k


def _evaluate_flops(rows: int, sizes: list[int], loss: str) -> int:
    """An objective and metrics from the inputs: forward pass, loss, penalty, metrics."""
    k = sizes[-1]
    return (
        _forward_flops(rows, sizes) + _loss_flops(rows, k, loss) + _penalty_flops(sizes)
        + _metrics_flops(rows, k, loss)
    )


def _factorize_flops(p: int, alpha: float) -> int:
    """The Cholesky factorisation of a layer's centred, penalised normal equations (``p``
    inputs): centring, ridge, condition estimate."""
    return (
        p + 4 * p * p + (p if alpha else 0) + 2 * p * p + _flops.potrf(p)
        + CONDEST_STEPS * (_flops.potrs(p, 1) + 3 * p)
    )


def _solve_flops(p: int, k: int, shifted: bool) -> int:
    """A solve with a layer's factorisation: centred right-hand side, triangular solves,
    intercept (its inputs' sums brought back from a shift)."""
    return p + 2 * p * k + _flops.potrs(p, k) + _flops.gemm(1, p, k) + 2 * k + (
        2 * p if shifted else 0
    )


def _gram_flops(rows: int, p: int, k: int) -> int:
    """:meth:`~lsqnet.GramStats.from_data` of ``rows`` rows: Gram matrix, sums, cross terms."""
    return _flops.syrk(rows, p) + _flops.gemm(1, rows, p) + _cross_flops(rows, p, k)


def _cross_flops(rows: int, p: int, k: int) -> int:
    """The cross terms alone (a known Gram matrix)."""
    return _flops.gemm(p, rows, k) + 4 * rows * k


def _merge_flops(p: int, k: int, shifted: bool) -> int:
    """Adding two chunks' statistics (the second brought to the first's shift)."""
    return p * p + p * k + p + 2 * k + ((6 * p * p + 2 * p * k + 2 * p) if shifted else 0)


def _ce_objective_flops(rows: int, p: int, k: int, loss: str) -> int:
    """The penalised cross-entropy of ``rows`` outputs of an output layer of ``p`` inputs."""
    return _loss_flops(rows, k, loss) + 2 * p * k + 3


def _resident_ce_flops(rows: int, p: int, k: int, loss: str, steps: int, alpha: float,
                       cached: bool) -> int:
    """``steps`` cross-entropy steps of an output layer (``p`` inputs, ``k`` outputs) on
    ``rows`` rows in memory, from its inputs (the start's pre-activations and objective); the
    first step forms and factorises the Gram matrix unless it is ``cached``."""
    trial = 2 * p * k + 2 * k + 3 * rows * k + _ce_objective_flops(rows, p, k, loss)
    total = _flops.gemm(rows, p, k) + 2 * rows * k + _ce_objective_flops(rows, p, k, loss)
    for step in range(steps):
        total += 3 * rows * k + _solve_flops(p, k, False) + p * k + _move_flops(rows, p, k)
        total += _metrics_flops(rows, k, loss) + len(STEP_MULTIPLES) * trial
        if cached or step:
            total += _cross_flops(rows, p, k)
        else:
            total += _gram_flops(rows, p, k) + _factorize_flops(p, alpha)
    return total


def _move_flops(rows: int, p: int, k: int) -> int:
    """The move of the pre-activations for a whole step: its bias row and product."""
    return k + _flops.gemm(rows, p, k) + rows * k


def _streamed_ce_flops(chunks: list[int], sizes: list[int], loss: str, steps: int,
                       alpha: float, cached: bool) -> int:
    """``steps`` cross-entropy steps of the output layer over the chunks of ``chunks`` rows
    each, every pass from the inputs: the start's pass (working targets' statistics around
    each chunk's means, or their cross terms when ``cached``) and objective; per step a
    solve and the trial steps' pass, after the first a working targets' pass before."""
    n, p, k = sum(chunks), sizes[-2], sizes[-1]
    merges = len(chunks) - 1
    hidden = _forward_flops(n, sizes[:-1])
    working = hidden + _flops.gemm(n, p, k) + n * k + 4 * n * k + _loss_flops(n, k, loss)
    around = 2 * n * p + _gram_flops(n, p, k) + merges * _merge_flops(p, k, True)
    terms = _cross_flops(n, p, k) + merges * _merge_flops(p, k, False)
    trials = hidden + 2 * (_flops.gemm(n, p, k) + n * k) + len(STEP_MULTIPLES) * (
        3 * n * k + _loss_flops(n, k, loss) + _metrics_flops(n, k, loss)
        + 2 * p * k + 3
    )
    total = working + (terms if cached else around) + 2 * p * k + 3
    for step in range(steps):
        if step:
            total += working + terms
        if cached or step:
            total += 2 * p * k  # the cross terms brought to the factorised statistics' shift
        else:
            total += _factorize_flops(p, alpha)
        total += _solve_flops(p, k, True) + trials
    return total


def _update_flops(b: int, sizes: list[int]) -> int:
    """One mini-batch update of ``b`` rows, without the inversions: forward pass, errors
    back-propagated, the factors' Gram matrices, every layer's gradient and direction."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    total = sum(_flops.gemm(b, p, q) for p, q in pairs)
    for i, (p, q) in enumerate(pairs):
        if i:  # errors back to the layer's inputs, the input factor of a hidden layer
            total += _flops.gemm(b, q, p) + 2 * b * p + b * p + _flops.gemm(p, b, p)
        total += _flops.gemm(q, b, q)  # the error factor
        total += _flops.gemm(p, b, q) + b * q  # the gradient
        total += _flops.gemm(p + 1, p + 1, q) + _flops.gemm(p + 1, q, q)  # its direction
    return total


def _inverse_flops(k: int) -> int:
    """:func:`damped_inverse` of a ``k x k`` factor by Cholesky."""
    return _flops.potrf(k) + _flops.potrs(k, k)


def count_flops(
    n: int,
    sizes: list[int] | tuple[int, ...],
    loss: str,
    retries: list[int] | tuple[int, ...],
    *,
    opts: KFACOptions | None = None,
    output_steps: int = 0,
    chunks: list[int] | tuple[int, ...] | None = None,
) -> int:
    """The operations :func:`fit` records for ``n`` training rows (unweighted), a network of
    ``sizes`` (n_in, hidden..., n_out), the ``loss`` of its output (:data:`LOSSES`) and the
    options ``opts`` (None: the defaults), from what its history records: the ``retries`` of
    every step (the entries with ``"retries"``, in order) and the number of cross-entropy
    steps at the end (``output_steps``: the entries after them, of one layer).

    ``chunks``: the rows of each chunk of a streamed source (None: data in memory; with the
    estimators, the blocks of ``batch_size`` rows, the chunks of ``fit_chunks`` or the
    blocks of a Dask array).

    The count: the first layer's input Gram over the ``gram_rows`` rows; the start's
    objective on the evaluation rows; for every step, each proposal it tried (``retries``
    more than the accepted one, or ``max_retries + 1`` when none was accepted): its
    mini-batches (the forward pass, errors, factors, gradients and directions; the damped
    inverses of every factor when the factors are new, the damping changed or
    ``update_every`` updates have passed, the first layer's once per damping value), then
    the projection of the output layer (cross-entropy steps or ridge solve) and the
    objective on the evaluation rows; and the final cross-entropy steps on all rows. A
    streamed source computes the hidden layers again in each pass of the projection and of
    the final steps, and adds the chunks' statistics.

    Exact for fits whose inversions and output-layer factorisations all succeed by Cholesky
    (the fit's ``ledger.exact`` says whether one fell back to the eigendecomposition, whose
    count is not fixed), and, on streamed sources, whose chunks' columns' means differ (the
    statistics of two chunks of equal means are added without a shift). Weighted fits
    record more (the weights' products) and are not counted. A regression whose output is
    not the identity has no projection: count it with ``project_iter=0``.
    """
    opts = KFACOptions() if opts is None else opts
    sizes = [int(s) for s in sizes]
    n = int(n)
    opts = replace(opts, batch_size=batch_rows(n, opts))
    if loss not in LOSSES:
        raise ValueError(f"count_flops: loss must be one of {LOSSES}; got {loss!r}.")
    if len(sizes) < 3 or n < 2:
        raise ValueError(
            f"count_flops: K-FAC trains networks with a hidden layer on at least 2 rows; got "
            f"sizes {sizes} and n={n}."
        )
    if any(not 0 <= int(r) <= opts.max_retries + 1 for r in retries):
        raise ValueError(
            f"count_flops: retries must be in [0, {opts.max_retries + 1}] (the history's "
            f"'retries'); got {list(retries)!r}."
        )
    if chunks is not None and (sum(chunks) != n or min(chunks) < 1):
        raise ValueError(
            f"count_flops: chunks must be positive row counts adding up to n={n}; got "
            f"{list(chunks)!r}."
        )
    classification = loss != "squared_error"
    d, k, p_out = sizes[0], sizes[-1], sizes[-2]
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    gram = n if opts.gram_rows is None else min(opts.gram_rows, n)
    subset = opts.eval_rows is not None and opts.eval_rows < n
    ev = opts.eval_rows if subset else n
    streamed = chunks is not None and not subset
    chunks = None if chunks is None else [int(c) for c in chunks]

    def evaluate() -> int:
        if not streamed:
            return _evaluate_flops(ev, sizes, loss)
        return _evaluate_flops(n, sizes, loss)  # the same operations, summed over chunks

    def project() -> int:
        if classification and opts.project_iter:
            if streamed:
                return _streamed_ce_flops(
                    chunks, sizes, loss, opts.project_iter, opts.alpha, False
                ) + _penalty_flops(sizes[:-1])
            return _forward_flops(ev, sizes) + _resident_ce_flops(
                ev, p_out, k, loss, opts.project_iter, opts.alpha, False
            ) + _loss_flops(ev, k, loss) + _penalty_flops(sizes) + _metrics_flops(ev, k, loss)
        if not classification and opts.project_iter:
            solve = _factorize_flops(p_out, opts.alpha) + _solve_flops(p_out, k, streamed)
            if streamed:
                stats = (
                    _forward_flops(n, sizes[:-1]) + 2 * n * p_out + _gram_flops(n, p_out, k)
                    + (len(chunks) - 1) * _merge_flops(p_out, k, True)
                )
                return stats + solve + evaluate()
            return (
                _forward_flops(ev, sizes) + _gram_flops(ev, p_out, k) + solve
                + _loss_flops(ev, k, loss) + _penalty_flops(sizes) + _metrics_flops(ev, k, loss)
            )
        return evaluate()

    total = gram * d + _flops.gemm(d, gram, d) + evaluate()
    inverses = _inverse_flops(d + 1)  # the first layer's input factor, once per damping
    inverses_rest = sum(_inverse_flops(p + 1) for p, _ in pairs[1:]) + sum(
        _inverse_flops(q) for _, q in pairs
    )
    batches = _batches_per_step(n, opts)
    epoch, offset, damping = 0, 0, opts.damping
    factors: tuple[int, float] | None = None  # (updates, damping of the last inversion)
    seen: set[float] = set()
    cached = False  # a projection's output statistics, kept for the final steps
    for r in retries:
        accepted = r <= opts.max_retries
        trial_damping = damping
        for attempt in range(r + 1 if accepted else opts.max_retries + 1):
            spans, end_epoch, end_offset = _spans(n, opts.batch_size, batches, epoch, offset)
            current = factors
            rescale = current is not None and trial_damping != current[1]
            for _, start, stop in spans:
                total += _update_flops(stop - start, sizes)
                if current is None or rescale or current[0] % opts.update_every == 0:
                    total += inverses_rest
                    if trial_damping not in seen:
                        seen.add(trial_damping)
                        total += inverses
                current = (1 if current is None else current[0] + 1, trial_damping)
                rescale = False
            total += project()
            if accepted and attempt == r:
                epoch, offset, factors = end_epoch, end_offset, current
                damping = max(trial_damping / opts.retry_factor, opts.damping)
                cached = classification and opts.project_iter > 0
            else:
                trial_damping *= opts.retry_factor
    if output_steps:
        kept = cached and not subset
        total += _penalty_flops(sizes[:-1])
        if chunks is not None:
            total += _streamed_ce_flops(chunks, sizes, loss, output_steps, opts.alpha, kept)
        else:
            if subset or not retries:  # the inputs of the output layer on all rows
                total += _forward_flops(n, sizes)
            total += _resident_ce_flops(n, p_out, k, loss, output_steps, opts.alpha, kept)
    return total
