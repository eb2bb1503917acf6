r"""Levenberg–Marquardt: every layer of a small network trained at once by damped least squares.

There is no closed form for the zero of the gradient of a network with a non-linear layer
(seed 002), but a sequence of linear least-squares problems finds it. Each step linearises
the network's outputs around the current parameters :math:`\theta` (all weights and biases of
all layers, ``p`` numbers) and solves the damped Gauss–Newton system

.. math:: (J^\top H J + \alpha P + \lambda D)\,\delta = -(J^\top e + \alpha P \theta)

where ``J`` is the Jacobian of the network's outputs (regression) or of its output
pre-activations (classification) with respect to :math:`\theta`, ``e`` the residual, ``H``
the curvature of the loss in those outputs, ``P`` the diagonal that selects the weights (the
ridge ``alpha`` never penalises biases) and ``D`` Marquardt's scaling, the diagonal of the
undamped matrix. The objective is

- regression: :math:`\tfrac12 \sum_i \|f(z_i) - y_i\|^2 + \tfrac{\alpha}{2} \sum_l \|W_l\|^2`,
  ``e = f(z) - y``, ``H = I`` (Gauss–Newton on the squared error);
- classification, softmax outputs: the summed cross-entropy plus the same ridge term,
  ``e = p - y`` and ``H = diag(p) - p p^T`` for each sample (the Fisher form of Gauss–Newton,
  exact for the cross-entropy of a softmax, so the damped step is a trust-region Newton step
  in the logits); sigmoid outputs: the summed binary cross-entropies, ``H = diag(p (1-p))``.

With sample weights ``w_i`` every sample's loss, and its terms of :math:`J^\top H J` and
:math:`J^\top e`, are multiplied by ``w_i`` (the ridge term stays as it is), so that integer
weights equal repeated rows.

A step is accepted only if it lowers the objective (by more than rounding,
:data:`ROUNDING`); otherwise :math:`\lambda` grows fourfold and the system is solved again
(at most :data:`MAX_TRIALS` times, each a forward pass and a Cholesky solve of size ``p``);
after a success :math:`\lambda` shrinks threefold. The
objective therefore never increases over accepted steps. If no trial lowers it, the fit has
reached a (numerical) minimum and stops. Hagan and Menhaj, "Training feedforward networks
with the Marquardt algorithm", IEEE Trans. Neural Networks 5(6), 1994.

With ``evidence=True`` (regression), the penalty is re-estimated after every accepted step
by MacKay's evidence approximation, as in the Bayesian regularisation of Foresee and Hagan
("Gauss–Newton approximation to Bayesian learning", ICNN 1997): the weights' prior and the
noise are Gaussian, :math:`\gamma = \sum_{\text{weights}} (1 - \alpha [(J^\top J +
\alpha P)^{-1}]_{ii})` counts the weights the data determine, and the penalty becomes

.. math:: \alpha \leftarrow \frac{\gamma}{\|W\|^2} \Big/ \frac{N - \gamma - b}{\|e\|^2}

(the weights' precision over the noise's; ``N`` residuals, ``b`` biases), at most
:data:`EVIDENCE_FACTOR` times larger or smaller per step. A step still lowers the objective of
the penalty it is taken with; the next step's objective is that of the new penalty. On
small, noisy tables this stops the trained units from fitting the noise (where a penalty
chosen once for the initial units is far too weak or too strong).

:math:`J^\top H J` and :math:`J^\top e` are sums over samples: each chunk of the source adds its
own, built in blocks of rows from the per-layer products of the inputs and the
back-propagated derivatives, so memory holds one block of ``J`` (at most
:data:`BLOCK_ENTRIES` numbers) and the ``p x p`` matrix, whatever the number of samples.
A step costs about :math:`2 n k p^2` operations (``k`` outputs) and a factorisation of size
``p``: the method suits networks of up to a few thousand parameters.

The steps compute with NumPy and SciPy's BLAS, which serve such small systems best: tensors
in memory (any array API library, any device) are copied to the host as NumPy arrays of their
dtype for the fit, and the network is returned (and shown to the monitor) as arrays of
``X``'s library on its device, equal to the fit of the same NumPy arrays.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg.blas
from threadpoolctl import threadpool_limits

from .. import _flops, _sparse
from .. import activations as _activations
from .._array_api import cho_factor, cho_solve, device, get_namespace, is_array_api, to_numpy
from ..layers import Dense
from ..network import Network
from ._layer import LayerCache
from ._loop import History, Iterate, Metrics, Step, run
from .bpls import BPLSOptions, Sweeps
from .sources import DataSource, InMemory, Passes

__all__ = [
    "BLOCK_ENTRIES",
    "DAMPING",
    "EVIDENCE_FACTOR",
    "EVIDENCE_JITTER",
    "EVIDENCE_RANGE",
    "LOSSES",
    "MAX_TRIALS",
    "ONE_THREAD_PARAMETERS",
    "ROUNDING",
    "STALL_STEPS",
    "LMOptions",
    "LevenbergMarquardt",
    "chunks_flops",
    "count_flops",
    "evidence_flops",
    "fit",
    "n_parameters",
    "pass_flops",
    "solve_flops",
    "step_flops",
    "trial_flops",
    "value_flops",
]

#: The losses, by output activation: Gauss–Newton on the squared error, or the Fisher form
#: for the cross-entropy of softmax and sigmoid outputs (classifiers).
LOSSES = ("squared_error", "softmax", "sigmoid")

#: Most damped solves tried in one step before the fit stops (no lower objective found).
MAX_TRIALS = 12

#: Up to this many parameters a fit runs the BLAS on one thread: its products and solves are
#: small, and more threads only wait on each other (on 2 cores, friedman1's 10-32-1 network
#: took 2.4 s for its 79 steps on one thread and 4.8 s on two; 15 steps of its 10-100-1
#: network took 3.3 and 4.2 s).
ONE_THREAD_PARAMETERS = 2000

#: Most entries of one block of the Jacobian held at once (rows x parameters).
BLOCK_ENTRIES = 2**21

#: The damping's start, growth on a rejected trial, shrinking on an accepted one, and floor.
DAMPING = (1e-3, 4.0, 3.0, 1e-12)

#: A trial is accepted only if it lowers the objective by more than this fraction of it: a
#: smaller change is the rounding of the sums, and the same data in another order (or given
#: as repeated rows instead of integer weights) would round it the other way.
ROUNDING = 1e-12

#: The steps over which the ``tol`` rule averages the objective's decrease: one short step
#: (a large damping) does not stop a fit that still descends.
STALL_STEPS = 3

#: With ``evidence=True``, one re-estimate changes the penalty by at most this factor either
#: way, and the penalty stays within :data:`EVIDENCE_RANGE`: early steps, far from a
#: minimum, give rough estimates, and a network that fits its rows exactly would otherwise
#: drive the penalty to zero.
EVIDENCE_FACTOR = 10.0
EVIDENCE_RANGE = (1e-10, 1e10)
#: The ridge on the biases, relative to the curvature's mean diagonal, that makes a bias the
#: data do not determine count as undetermined in the evidence re-estimate.
EVIDENCE_JITTER = 1e-10


@dataclass(frozen=True)
class LMOptions:
    """The settings of a Levenberg–Marquardt fit.

    Attributes
    ----------
    alpha : float
        Ridge penalty ``alpha / 2 * sum |W_l|^2`` on every layer's weights (not biases).
    max_iter : int
        Most accepted steps.
    tol : float
        Stop when the last :data:`STALL_STEPS` accepted steps lowered the objective by less
        than ``tol`` times its value before the first step, on average per step: the fit
        stops once it gains little against where it started, however slowly it still
        descends (the noise's share of a regression's objective is never fitted away).
    loss : {"squared_error", "softmax", "sigmoid"}
        What the steps minimise (see the module).
    evidence : bool
        Re-estimate ``alpha`` after every accepted step by MacKay's evidence approximation
        (regression only, ``loss="squared_error"``; see the module). ``alpha`` is then the
        starting penalty.
    """

    alpha: float = 1.0
    max_iter: int = 100
    tol: float = 1e-6
    loss: str = "squared_error"
    evidence: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.evidence, bool | np.bool_):
            raise TypeError(f"LMOptions: evidence must be a bool; got {self.evidence!r}.")
        if self.evidence and self.loss != "squared_error":
            raise ValueError(
                f"LMOptions: evidence=True re-estimates the penalty of a regression's squared "
                f"error; loss={self.loss!r} needs evidence=False."
            )


def n_parameters(sizes: tuple[int, ...] | list[int]) -> int:
    """The weights and biases of a network of ``sizes`` (n_in, hidden..., n_out)."""
    return sum((p + 1) * q for p, q in zip(sizes[:-1], sizes[1:], strict=True))


def _flatten(network: Network) -> np.ndarray:
    return np.concatenate([
        np.concatenate([np.asarray(layer.weight, np.float64).ravel(),
                        np.asarray(layer.bias, np.float64)])
        for layer in network.layers
    ])


def _unflatten(theta: np.ndarray, like: Network) -> Network:
    layers, at = [], 0
    for layer in like.layers:
        p, q = layer.n_in, layer.n_out
        W = theta[at: at + p * q].reshape(p, q)
        b = theta[at + p * q: at + (p + 1) * q]
        at += (p + 1) * q
        dtype = layer.weight.dtype
        layers.append(Dense(W.astype(dtype), b.astype(dtype), layer.activation))
    return Network(tuple(layers))


def _penalty_mask(sizes: list[int]) -> np.ndarray:
    """1 for weights, 0 for biases, in the order of :func:`_flatten`."""
    return np.concatenate([
        np.concatenate([np.ones(p * q), np.zeros(q)])
        for p, q in zip(sizes[:-1], sizes[1:], strict=True)
    ])


def _forward(network: Network, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every layer's input and pre-activation (float64), for the derivatives."""
    acts, pre = [X], []
    for layer in network.layers:
        Z = acts[-1] @ np.asarray(layer.weight, np.float64) + np.asarray(layer.bias, np.float64)
        pre.append(Z)
        acts.append(_activations.get(layer.activation).forward(Z))
    return acts, pre


def _as_float64(X: Any) -> Any:
    """``X`` in float64: a NumPy array, or a sparse matrix kept sparse (its rows are made
    dense one block of the Jacobian at a time)."""
    return _sparse.astype(X, np.float64) if _sparse.is_sparse(X) else np.asarray(X, np.float64)


def _data_objective(loss: str, out: np.ndarray, Y: np.ndarray, w: Any = None) -> float:
    """The loss part of the objective, summed over the rows (weighted by ``w`` if given)."""
    if w is not None:  # each row's loss, weighted
        if loss == "squared_error":
            return 0.5 * float(w @ np.sum((out - Y) ** 2, axis=1))
        tiny = np.finfo(np.float64).tiny
        rows = -np.sum(Y * np.log(np.maximum(out, tiny)), axis=1)
        if loss == "sigmoid":
            rows -= np.sum((1 - Y) * np.log(np.maximum(1 - out, tiny)), axis=1)
        return float(w @ rows)
    if loss == "squared_error":
        return 0.5 * float(np.sum((out - Y) ** 2))
    tiny = np.finfo(np.float64).tiny
    total = -float(np.sum(Y * np.log(np.maximum(out, tiny))))
    if loss == "sigmoid":
        total -= float(np.sum((1 - Y) * np.log(np.maximum(1 - out, tiny))))
    return total


def value_flops(n: int, sizes: list[int], loss: str) -> int:
    """The operations of the objective's pass over ``n`` rows: the forward pass, the loss, and
    the training metrics (squared error; accuracy for the cross-entropies, which are the
    classifiers')."""
    forward = sum(
        _flops.gemm(n, p, q) + 2 * n * q for p, q in zip(sizes[:-1], sizes[1:], strict=True)
    )
    per_output = {"squared_error": 3, "softmax": 3, "sigmoid": 8}[loss]
    metrics = 3 if loss == "squared_error" else 4
    return forward + (per_output + metrics) * n * sizes[-1]


def pass_flops(n: int, sizes: list[int], loss: str) -> int:
    """The operations of the curvature pass over ``n`` rows: the objective's pass, the
    residual and the loss's curvature weights, then for each output the back-propagated
    derivatives, the Jacobian's rows and their products ``J^T H J`` (a rank-``n`` update of
    its upper triangle) and ``J^T e`` (and for softmax outputs the correction ``- S^T S``),
    and the lower triangle copied. A pass over chunks does this for each chunk, and adds
    their sums (:func:`chunks_flops`)."""
    p = n_parameters(sizes)
    k = sizes[-1]
    per_output = 0
    for layer in range(len(sizes) - 1, 0, -1):  # the layer's block of J, then one back
        a, b = sizes[layer - 1], sizes[layer]
        per_output += n * a * b
        if layer > 1:
            per_output += _flops.gemm(n, b, a) + 2 * n * a
    per_output += _flops.syrk(n, p) + _flops.gemm(p, n, 1)
    total = value_flops(n, sizes, loss) + 3 * n * k + k * per_output + p * p
    if loss != "squared_error":  # the square roots of H's weights, and J scaled by them
        total += k * n + k * n * p
    if loss == "softmax":  # S = sum_j p_j J_j and - S^T S
        total += 2 * k * n * p + _flops.syrk(n, p)
    return total


def chunks_flops(p: int, chunks: int) -> int:
    """The operations a curvature pass over ``chunks`` chunks makes beyond one over all their
    rows at once: each further chunk's copy of the lower triangle, and its sums added to the
    others' (``p^2 + p``)."""
    return (chunks - 1) * (2 * p * p + p)


def step_flops(p: int) -> int:
    """The operations that set up a step's damped system: the penalised matrix, gradient and
    Marquardt's scaling."""
    return 5 * p


def solve_flops(p: int) -> int:
    """The operations of one damped solve of size ``p``: the damped matrix's diagonal, its
    Cholesky factorisation, the two triangular solves and the trial parameters."""
    return p + _flops.potrf(p) + _flops.potrs(p, 1) + p


def trial_flops(n: int, sizes: list[int], loss: str) -> int:
    """The operations of one trial over ``n`` rows: the damped solve, then the objective's
    pass and penalty."""
    p = n_parameters(sizes)
    return solve_flops(p) + value_flops(n, sizes, loss) + 3 * p


def evidence_flops(p: int) -> int:
    """The operations of one re-estimate of the penalty (``evidence=True``): the penalised
    matrix's diagonal (``5 p``), its Cholesky factor and the factor's triangular inverse,
    the inverse's diagonal (``2 p^2``), the weights the data determine and the biases
    (``6 p``), and the weights' squared norm (``3 p``). The objective at the new penalty
    then costs ``3 p`` more (:func:`count_flops`)."""
    return 5 * p + _flops.potrf(p) + _flops.trtri(p) + 2 * p * p + 6 * p + 3 * p


def count_flops(n: int, sizes: list[int], loss: str, trials: list[int],
                accepted: list[bool], chunks: int = 1, evidence: bool = False) -> int:
    """The operations of a fit over ``n`` samples whose steps tried ``trials[i]`` damped
    solves and were ``accepted[i]`` (the history's ``trials`` and ``accepted``): the start's
    curvature pass and penalty, then for each step its set-up and trials, and for an
    accepted one the curvature pass at the new parameters (and with ``evidence`` the
    penalty's re-estimate, :func:`evidence_flops`). A source of ``chunks`` chunks adds
    :func:`chunks_flops` to every curvature pass. Exact unless a factorisation failed (the
    ledger then says it is inexact). :func:`lsqnet.count_flops` with ``method="lm"`` adds
    the estimators' start (the output layer's solve)."""
    p = n_parameters(sizes)
    curvature = pass_flops(n, sizes, loss) + chunks_flops(p, chunks)
    total = curvature + 3 * p
    for tried, ok in zip(trials, accepted, strict=True):
        total += step_flops(p) + tried * trial_flops(n, sizes, loss)
        if ok:
            total += curvature + (evidence_flops(p) + 3 * p if evidence else 0)
    return total


@dataclass(frozen=True)
class _Value:
    """The objective's data part and the training metrics, summed over chunks."""

    objective: float
    metrics: Metrics

    def __add__(self, other: _Value) -> _Value:
        return _Value(self.objective + other.objective, self.metrics + other.metrics)


@dataclass(frozen=True)
class _Curvature:
    """``J^T H J``, ``J^T e``, the objective's data part and the metrics, summed over chunks."""

    JtHJ: np.ndarray
    Jte: np.ndarray
    value: _Value

    def __add__(self, other: _Curvature) -> _Curvature:
        p = self.Jte.shape[0]
        _flops.record("lm", p * p + p)  # the sums of two chunks' J^T H J and J^T e
        return _Curvature(self.JtHJ + other.JtHJ, self.Jte + other.Jte, self.value + other.value)


class LevenbergMarquardt:
    """The method (``start``/``step``/``iterate``, :mod:`lsqnet.training._loop`).

    After each step, :attr:`trials` holds the damped solves it tried, :attr:`accepted`
    whether one lowered the objective and :attr:`alpha` the penalty it was taken with.
    """

    def __init__(self, opts: LMOptions, classification: bool) -> None:
        self.opts = opts
        self.classification = classification
        self.trials = 0
        self.accepted = False
        self.alpha = opts.alpha

    # -- the passes over the data ------------------------------------------------------
    def _value(self, network: Network) -> Callable[..., _Value]:
        loss = self.opts.loss
        out_act = _activations.get(network.layers[-1].activation)
        sizes = list(network.sizes)

        def value(X, Y, labels, start, w=None) -> _Value:
            X64 = _as_float64(X)
            Y64 = np.asarray(Y, np.float64)
            w64 = None if w is None else np.asarray(w, np.float64)
            _, pre = _forward(network, X64)
            out = out_act.forward(pre[-1])
            metrics = _metrics(out, Y64, labels, w64)  # records its own operations
            _flops.record("lm", value_flops(X64.shape[0], sizes, loss)
                          - _metrics_flops(X64.shape[0], sizes[-1], loss))
            return _Value(_data_objective(loss, out, Y64, w64), metrics)

        return value

    def _curvature(self, network: Network) -> Callable[..., _Curvature]:
        loss = self.opts.loss
        layers = network.layers
        out_act = _activations.get(layers[-1].activation)
        sizes = list(network.sizes)
        p = n_parameters(sizes)
        k = sizes[-1]
        block = max(1, BLOCK_ENTRIES // p)

        def curvature(X, Y, labels, start, w=None) -> _Curvature:
            X64 = _as_float64(X)
            Y64 = np.asarray(Y, np.float64)
            w64 = None if w is None else np.asarray(w, np.float64)
            JtHJ = np.zeros((p, p), order="F")  # its upper triangle, by rank-k updates
            Jte = np.zeros(p)
            total = None
            for lo in range(0, X64.shape[0], block):
                rows = slice(lo, lo + block)
                acts, pre = _forward(network, _sparse.dense_rows(X64, rows))  # J's rows
                Z = pre[-1]
                out = out_act.forward(Z)
                Yb = Y64[rows]
                wb = None if w64 is None else w64[rows]
                e = out - Yb
                if loss == "squared_error":  # J of the outputs: f'(z) at the output layer
                    slope, root = out_act.derivative(Z), None
                elif loss == "softmax":  # J of the logits; H = diag(p) - p p^T
                    slope, root = np.ones_like(Z), np.sqrt(out)
                else:  # sigmoid: H = diag(p (1 - p))
                    slope, root = np.ones_like(Z), np.sqrt(out * (1 - out))
                if wb is not None:  # each sample's terms weighted: e by w, H by w
                    e = e * wb[:, None]
                    scale = np.sqrt(wb)[:, None]
                    root = np.broadcast_to(scale, Z.shape) if root is None else root * scale
                S = np.zeros((Z.shape[0], p)) if loss == "softmax" else None
                for j in range(k):
                    J = _jacobian_rows(layers, acts, pre, j, slope[:, j])
                    Jte += J.T @ e[:, j]
                    if S is not None:
                        S += J * out[:, j: j + 1]
                    if root is not None:
                        J *= root[:, j: j + 1]
                    JtHJ = _add_gram(JtHJ, J, 1.0)
                if S is not None:
                    if wb is not None:
                        S *= np.sqrt(wb)[:, None]
                    JtHJ = _add_gram(JtHJ, S, -1.0)
                _flops.record("lm", pass_flops(Z.shape[0], sizes, loss) - p * p
                              - _metrics_flops(Z.shape[0], k, loss))
                part = _Value(
                    _data_objective(loss, out, Yb, wb),
                    _metrics(out, Yb, None if labels is None else labels[rows], wb),
                )
                total = part if total is None else total + part
            JtHJ = np.triu(JtHJ) + np.triu(JtHJ, 1).T
            _flops.record("lm", p * p)  # the copy, once per chunk (pass_flops counts it)
            return _Curvature(JtHJ, Jte, total)

        return curvature

    def _objective(self, data: float, theta: np.ndarray, mask: np.ndarray,
                   alpha: float) -> float:
        """The objective: the loss part plus the ridge ``alpha`` on the weights."""
        _flops.record("lm", 3 * theta.shape[0])
        return data + 0.5 * alpha * float(np.sum(mask * theta * theta))

    def _evidence(self, curv: _Curvature, theta: np.ndarray, mask: np.ndarray, alpha: float,
                  residuals: float) -> float:
        """The penalty re-estimated at ``theta`` by MacKay's evidence approximation (see the
        module), from the curvature there and the number of ``residuals`` (the total weight
        times the outputs); ``alpha`` where the estimate is undefined."""
        p = theta.shape[0]
        _flops.record("lm", evidence_flops(p))
        # A bias the data do not determine (its unit's outgoing weights are zero) is counted
        # as undetermined, by a trace-relative ridge on the biases.
        jitter = EVIDENCE_JITTER * max(float(np.mean(np.diag(curv.JtHJ))), 1.0)
        try:
            factor = scipy.linalg.cholesky(
                curv.JtHJ + np.diag(alpha * mask + jitter * (1 - mask)), lower=False
            )
        except np.linalg.LinAlgError:  # counted as if factored: the ledger says inexact
            _flops.mark_inexact()
            return alpha
        inverse, info = scipy.linalg.lapack.dtrtri(factor, lower=0)
        if info != 0:
            _flops.mark_inexact()
            return alpha
        determined = float(np.sum(mask * (1 - alpha * np.sum(inverse * inverse, axis=1))))
        weights = float(np.sum(mask * theta * theta))
        free = residuals - determined - float(np.sum(1 - mask))
        squares = 2 * curv.value.objective
        if not (weights > 0 and free > 0 and squares > 0 and determined > 0):
            return alpha
        estimate = determined * squares / (free * weights)
        low, high = EVIDENCE_RANGE
        return float(np.clip(estimate, max(alpha / EVIDENCE_FACTOR, low),
                             min(alpha * EVIDENCE_FACTOR, high)))

    def _iterate(self, network: Network, value: _Value) -> Iterate:
        loss, acc = value.metrics.values(self.classification)
        return Iterate(network, None, acc if self.classification else 0.0, loss)

    # -- the method --------------------------------------------------------------------
    def start(self, source: DataSource, iterate: Iterate) -> tuple[dict[str, Any], float]:
        network = iterate.network
        theta, mask = _flatten(network), _penalty_mask(list(network.sizes))
        curv = source.map_sum(self._curvature(network))
        n = curv.value.metrics.n_samples  # the total weight (the samples without weights)
        alpha = self.alpha = self.opts.alpha
        objective = self._objective(curv.value.objective, theta, mask, alpha)
        state = dict(
            network=network, theta=theta, mask=mask, curvature=curv, damping=DAMPING[0],
            objective=objective, n=n, rows=curv.value.metrics.rows, alpha=alpha,
            iterate=self._iterate(network, curv.value), first=objective, gains=(),
        )
        return state, objective / n

    def iterate(self, state: dict[str, Any]) -> Iterate:
        return state["iterate"]

    def step(self, source: DataSource, state: dict[str, Any]) -> tuple[dict[str, Any], Step]:
        alpha = self.alpha = state["alpha"]
        theta, mask, curv = state["theta"], state["mask"], state["curvature"]
        p = theta.shape[0]
        _flops.record("lm", step_flops(p))
        A = curv.JtHJ + alpha * np.diag(mask)
        g = curv.Jte + alpha * mask * theta
        scale = np.diag(A).copy()
        scale = np.maximum(scale, max(float(np.mean(scale)), np.finfo(np.float64).tiny) * 1e-9)
        damping = state["damping"]
        _, grow, shrink, least = DAMPING
        accepted = None
        self.trials = 0
        while self.trials < MAX_TRIALS and accepted is None:
            self.trials += 1
            try:
                factor = cho_factor(np, A + damping * np.diag(scale))
            except np.linalg.LinAlgError:  # not positive definite to working precision
                _flops.mark_inexact()
                damping *= grow
                continue
            trial = theta - cho_solve(np, factor, g)
            network = _unflatten(trial, state["network"])
            value = source.map_sum(self._value(network))
            objective = self._objective(value.objective, trial, mask, alpha)
            _flops.record("lm", solve_flops(p))
            lower = state["objective"] * (1 - ROUNDING)
            if math.isfinite(objective) and objective < lower:
                accepted = (trial, network, value, objective)
            else:
                damping *= grow
        self.accepted = accepted is not None
        n, rows = state["n"], state["rows"]
        if accepted is None:  # no damping lowers the objective: a (numerical) minimum
            network = state["network"]
            loss, acc = curv.value.metrics.values(self.classification)
            step = Step(network, len(network.layers), rows, loss, acc, state["objective"] / n,
                        True, "cholesky")
            return state, step
        theta, network, value, objective = accepted
        curv = source.map_sum(self._curvature(network))
        gains = (*state["gains"], state["objective"] - objective)
        stalled = self._stalled(gains, state["first"])
        after = objective  # the objective this step lowered, of the penalty it was taken with
        if self.opts.evidence:  # the next step's penalty, and its objective here
            alpha = self._evidence(curv, theta, mask, alpha, n * network.sizes[-1])
            objective = self._objective(value.objective, theta, mask, alpha)
        new = {
            **state, "theta": theta, "network": network, "curvature": curv,
            "damping": max(damping / shrink, least), "objective": objective, "alpha": alpha,
            "iterate": self._iterate(network, value), "gains": gains,
        }
        loss, acc = value.metrics.values(self.classification)
        step = Step(network, len(network.layers), rows, loss, acc, after / n, stalled,
                    "cholesky")
        return new, step

    def _stalled(self, gains: tuple[float, ...], first: float) -> bool:
        """The ``tol`` rule: the last :data:`STALL_STEPS` steps lowered the objective by less
        than ``tol`` times the objective before the first step, on average per step (each
        step's decrease of the objective it was taken with)."""
        if len(gains) < STALL_STEPS:
            return False
        return sum(gains[-STALL_STEPS:]) / STALL_STEPS <= self.opts.tol * first


def _add_gram(C: np.ndarray, A: np.ndarray, alpha: float) -> np.ndarray:
    """``C + alpha A^T A`` in ``C``'s upper triangle (BLAS ``syrk``; ``C`` Fortran-ordered)."""
    return scipy.linalg.blas.dsyrk(
        alpha, np.asarray(A, np.float64).T, beta=1.0, c=C, trans=0, lower=0, overwrite_c=1
    )


def _metrics_flops(n: int, k: int, loss: str) -> int:
    """What :class:`~lsqnet.training._loop.Metrics` records for ``n`` rows of ``k`` outputs."""
    return (3 if loss == "squared_error" else 4) * n * k


def _metrics(out: np.ndarray, Y: np.ndarray, labels: Any, w: Any = None) -> Metrics:
    return Metrics.of(out, Y, None if labels is None else np.asarray(labels), w)


def _jacobian_rows(
    layers: tuple[Dense, ...], acts: list[np.ndarray], pre: list[np.ndarray], j: int,
    slope: np.ndarray,
) -> np.ndarray:
    """The rows of ``J`` for output ``j`` of a block: ``d out_j / d theta`` (n_rows, p), in
    the order of :func:`_flatten`, by back-propagation from the output layer."""
    n = slope.shape[0]
    delta = np.zeros((n, layers[-1].n_out))
    delta[:, j] = slope
    blocks = []
    for idx in range(len(layers) - 1, -1, -1):
        a = acts[idx]
        blocks.append(np.concatenate(
            [(a[:, :, None] * delta[:, None, :]).reshape(n, -1), delta], axis=1
        ))
        if idx > 0:
            W = np.asarray(layers[idx].weight, np.float64)
            act = _activations.get(layers[idx - 1].activation)
            delta = (delta @ W.T) * act.derivative(pre[idx - 1])
    return np.concatenate(blocks[::-1], axis=1)


def _moved(network: Network, move: Callable[[Any], Any]) -> Network:
    """``network`` with every weight and bias replaced by ``move`` of it."""
    return Network(tuple(
        Dense(move(layer.weight), move(layer.bias), layer.activation) for layer in network.layers
    ))


def _fit_on_host(
    source: InMemory, network: Network, opts: LMOptions, *, classification: bool,
    monitor: Callable[[dict[str, float], Network], bool | None] | None,
    ledger: _flops.FlopLedger | None, start: BPLSOptions | None,
) -> tuple[Iterate, list[dict[str, float]], _flops.FlopLedger]:
    """:func:`fit` of tensors in memory: on NumPy copies of the data and network (of their
    dtype), with the networks the monitor sees and the one returned as arrays of ``X``'s
    library on its device."""
    X = source.X

    def back(net: Network) -> Network:
        return _moved(net, lambda a: get_namespace(X).asarray(a, device=device(X)))

    host = InMemory(*(to_numpy(a) for a in (X, source.Y, source.labels, source.weights)))
    hook = None if monitor is None else (lambda entry, net: monitor(entry, back(net)))
    best, history, ledger = fit(
        host, _moved(network, to_numpy), opts, classification=classification, monitor=hook,
        ledger=ledger, start=start,
    )
    return Iterate(back(best.network), None, best.score, best.loss), history, ledger


def fit(
    source: DataSource,
    network: Network,
    opts: LMOptions,
    *,
    classification: bool,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
    init_passes: int = 0,
    start: BPLSOptions | None = None,
) -> tuple[Iterate, list[dict[str, float]], _flops.FlopLedger]:
    """Train every layer of ``network`` on ``source`` by Levenberg–Marquardt steps.

    With ``start``, the output layer is first solved by least squares on the initial hidden
    layers (a BPLS output refit with those options: one history entry, which with
    ``start.safeguard`` also records its ``trials``, evaluations of the objective, and
    ``accepted``), so that the steps begin from the best output layer for the initial units.

    Tensors in memory are fitted on a host copy (see the module); the network returned is
    on their device.

    Returns the last accepted step's iterate (the lowest objective; the start if no step
    lowered it), the history (one entry per step: ``loss``, ``accuracy``, ``time``,
    ``flops``; for the steps also ``objective`` (per sample), ``trials`` (damped solves
    tried) and ``accepted``, and with ``opts.evidence`` ``alpha``, the penalty of the
    objective the step lowered; ``passes`` for a streamed source) and the ledger.
    """
    X = source.X if source.resident else None
    if X is not None and is_array_api(X):  # tensors: the steps run on a host copy
        return _fit_on_host(
            source, network, opts, classification=classification, monitor=monitor,
            ledger=ledger, start=start,
        )
    history = History(monitor)
    if not source.resident:
        source = Passes(source, init_passes)
    method = LevenbergMarquardt(opts, classification)
    refit = None if start is None else Sweeps(start, classification, output=LayerCache(),
                                              n_layers=1)

    def passes() -> int | None:
        return source.count if isinstance(source, Passes) else None

    def record(step: Step) -> bool:
        extra = dict(alpha=method.alpha) if opts.evidence else {}
        return history.record_step(
            step, ledger.total, passes(), objective=step.objective, trials=method.trials,
            accepted=method.accepted, **extra,
        )

    def record_start(step: Step) -> bool:  # the output layer's solve
        extra = dict(trials=refit.trials, accepted=refit.accepted) if start.safeguard else {}
        return history.record_step(step, ledger.total, passes(), **extra)

    few = n_parameters(list(network.sizes)) <= ONE_THREAD_PARAMETERS
    threads = threadpool_limits(limits=1, user_api="blas") if few else contextlib.nullcontext()
    with _flops.counting(ledger) as ledger, threads:
        begin = Iterate(network, network.forward_all(source.X) if source.resident else None)
        if refit is not None:
            begin, _, stopped = run(refit, source, begin, max_steps=1, tol=0.0,
                                    record=record_start)
            if stopped or opts.max_iter == 0:  # no steps: no curvature pass to start them
                return begin, history.entries, ledger
        outcome = run(  # a step that lowers nothing reports convergence itself
            method, source, Iterate(begin.network), max_steps=opts.max_iter, tol=None,
            record=record, keep="last",
        )
    return outcome.best, history.entries, ledger
