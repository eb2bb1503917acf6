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
scikit-learn imports: :mod:`lsqnet.estimators` wraps it. The method itself lives in
:mod:`lsqnet.training` (:mod:`lsqnet.training.bpls`, :mod:`lsqnet.training.cross_entropy`),
which runs it over any data source; :func:`fit_bpls` runs it on data in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from . import _flops
from ._validation import check_option
from .features import PATCH_SIZE, FeatureMap, make_feature_map
from .network import Network
from .solvers._factor import CONDEST_STEPS
from .solvers._gram import BLOCK_ROWS
from .training import InMemory
from .training import kfac as _kfac
from .training import levenberg_marquardt as _lm
from .training.bpls import (
    HIDDEN_TARGETS,
    ITERATION_RULES,
    LAYER_METHODS,
    MAX_TRIALS,
    BPLSOptions,
    BPLSResult,
    backward_sweep,
    class_targets,
    fit,
    objective_loss,
    pre_activation_targets,
)
from .training.cross_entropy import (
    CURVATURE_BOUNDS,
    STEP_MULTIPLES,
    cross_entropy,
    output_pre_activations,
    penalised_cross_entropy,
    refine_output,
)

__all__ = [
    "COUNTED_METHODS",
    "CURVATURE_BOUNDS",
    "HIDDEN_TARGETS",
    "ITERATION_RULES",
    "LAYER_METHODS",
    "MAX_TRIALS",
    "STEP_MULTIPLES",
    "BPLSOptions",
    "BPLSResult",
    "backward_sweep",
    "class_targets",
    "count_flops",
    "cross_entropy",
    "fit_bpls",
    "output_pre_activations",
    "penalised_cross_entropy",
    "pre_activation_targets",
    "refine_output",
]


#: The methods :func:`count_flops` counts (the estimators' ``method`` of a fit).
COUNTED_METHODS = ("bpls", "lm", "kfac")


def fit_bpls(
    X: np.ndarray,
    Y: np.ndarray,
    network: Network,
    opts: BPLSOptions,
    *,
    labels: np.ndarray | None = None,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
    sample_weight: np.ndarray | None = None,
) -> BPLSResult:
    """Train ``network`` on validated ``X`` (n, d) and output-space targets ``Y`` (n, k).

    ``labels`` (class indices, n) marks a classification problem: accuracy is recorded and
    ``iteration_rule`` applies. ``sample_weight`` (n,), validated non-negative weights (None:
    all 1), weights every row's loss, in the objective, the layers' least-squares problems
    and the recorded loss and accuracy (weighted means); an integer weight equals repeating
    the row.

    With ``opts.safeguard`` (the default) every sweep is a proposal, kept only if it lowers
    the training objective (:mod:`lsqnet.training.bpls`), else the largest shorter step toward
    it that does; the last network kept is returned. Sweeps stop after ``max_iter``, when
    every training sample is classified correctly, when no step toward a sweep lowers the
    objective, or when it improves by less than ``tol`` relative to the previous sweep.
    Without the safeguard (``BPLSOptions.paper()``) every sweep is kept, the iterate with the
    best training accuracy (then loss; for regression the lowest loss) is returned, and the
    ``tol`` rule compares the training loss (except under the ``"misclassified"`` rule, whose
    loss is not monotone). With ``refit_output``, the output layer of that network is then
    solved once more (a step of its own, a proposal too under the safeguard).
    ``history`` has one entry per step: ``iteration``, ``layers`` (solved by the step),
    ``n_samples`` (used by it), ``loss`` (training mean squared error in output space),
    ``accuracy`` (NaN for regression), ``time`` (seconds of training since the start) and
    ``flops`` (cumulative, including what ``ledger`` held already); under the safeguard the
    sweeps and the refit also record ``objective`` (per sample, of the network kept after
    the step), ``trials`` (evaluations of the objective) and ``accepted``.

    ``monitor(entry, network)``, if given, is called after every step with the history entry
    and that step's network (scikit-learn's gradient boosting has the same hook). The time it
    takes is excluded from ``time``, so a caller can evaluate the network on held-out data
    without distorting the training-time curve. If it returns True, training stops.
    """
    return fit(
        InMemory(X, Y, labels, sample_weight), network, opts, classification=labels is not None,
        monitor=monitor, ledger=ledger,
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
    method: str = "bpls",
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
    trials: Sequence[int] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    batch_size: int | None = None,
    method_options: Mapping[str, Any] | None = None,
) -> int:
    r"""The exact number of floating-point operations of a fit, from sizes alone.

    ``method="bpls"`` (the default) counts a BPLS fit, as itemised below; ``method="lm"``
    counts an estimator's Levenberg–Marquardt fit from its ``history`` (see the parameter,
    and :func:`lsqnet.training.levenberg_marquardt.count_flops` for a step's operations);
    ``method="kfac"`` an estimator's Kronecker-factored fit from its ``history``
    (:func:`lsqnet.training.kfac.count_flops` with the estimators' options, whose count
    depends on their ``alpha`` only: ``max_iter``, ``tol`` and ``output_iter`` act through
    the steps the history records).

    The fit counted is unweighted: a fit with ``sample_weight`` records more (the weights'
    products with the data and the weighted metrics), and its ``flops_`` exceeds this count.

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
        For ``method="lm"`` and ``"kfac"``, an int: the training samples.
    sizes : sequence of int
        Layer sizes (n_features, hidden..., n_outputs).
    method : {"bpls", "lm", "kfac"}, default="bpls"
        The estimators' ``method`` of the fit counted (its ``method_``). ``"lm"`` and
        ``"kfac"`` read ``n_samples``, ``sizes``, ``alpha``, ``activations``,
        ``classification``, ``init``, ``image_shape``, ``patch_size``, ``history`` and
        ``batch_size``; the other parameters describe BPLS sweeps.
    n_iter : int, default=1
        Number of sweeps (ignored when ``n_samples`` is a sequence).
    n_train : int, default=None
        Samples in the forward passes; defaults to the first sweep's count.
    alpha, hidden_target, backprop_ridge : as in :class:`BPLSOptions`
    activations : sequence of str, default=None
        Activation of each layer; only whether a layer is ReLU matters (its one-sided
        inverse needs the current pre-activations). For ``method="kfac"`` only the output
        layer's matters (a classifier's ``"softmax"`` or ``"sigmoid"``; a regression's output
        other than ``"identity"`` is not projected); None: the estimators' defaults,
        ``"sigmoid"`` for a classifier and ``"identity"`` for a regression.
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
    trials : sequence of int, default=None
        For a fit with ``BPLSOptions.safeguard`` (the estimators' default): the evaluations
        of the objective made by each sweep, then by the refit (the history's ``trials``,
        one per sweep and one for ``refit_output``). The objective of the start network
        (once, before the first step): the metrics, the cross-entropy (``4 n k``; a
        sigmoid's ``10 n k``; none for the squared error of a regressor, which the
        metrics' sum gives) and the penalty ``sum_l 2 p q``. The first trial of a step is
        the forward pass and metrics counted above, plus the cross-entropy and penalty;
        each later one moves the solved layers (``3 (p q + q)`` each), then a forward pass
        of them, the metrics, the cross-entropy and the penalty. None: a fit without the
        safeguard (``BPLSOptions.paper()``).
    history : sequence of dict, default=None
        For ``method="lm"`` (required there): the fit's ``history_``, of which the count
        reads ``"trials"`` and ``"accepted"``. The first entry is the output layer's solve
        on the initial hidden layers (a BPLS refit, ``refit_output`` with ``max_iter=0``);
        under the safeguard it records the evaluations of the objective it made
        (``"trials"``). Each later entry is a Levenberg–Marquardt step: the damped solves it
        tried and whether one was accepted; steps that record an ``"alpha"`` re-estimated the
        penalty after they were accepted (a regressor's ``alpha="auto"``, whose leave-one-out
        choice itself is not counted). A list of such dicts predicts a fit not yet run.
        For ``method="kfac"`` (required there): one entry per step with its ``"retries"``
        (the proposals rejected before the accepted one; ``max_retries + 1``: none
        accepted), then one without ``"retries"`` per final cross-entropy step of the
        output layer.
    batch_size : int, default=None
        For ``method="lm"`` and ``"kfac"``: the estimator's ``batch_size`` (rows per chunk),
        None for a fit in memory. A chunked fit's output-layer solve passes over the chunks,
        summing each chunk's statistics around its own means; every curvature pass adds the
        chunks' sums (K-FAC: the passes of the output layer's projection, the objective and
        the final steps compute the hidden layers again and add the chunks' statistics).
    method_options : dict, default=None
        For ``method="kfac"``: the estimator's ``method_options``, the settings of
        :class:`lsqnet.training.kfac.KFACOptions` other than its defaults (a step's cost
        depends on ``batch_size``, ``batches_per_step``, ``update_every``, ``gram_rows``,
        ``eval_rows`` and ``project_iter``).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For an unknown ``method``, for ``method="lm"`` or ``"kfac"`` without ``history`` or
        with a malformed one, for a classifier's ``"kfac"`` output other than ``"softmax"``
        or ``"sigmoid"``, and for ``history`` or ``batch_size`` with ``method="bpls"``.

    Notes
    -----
    Exact for the ``"cholesky"`` path (``solver="auto"`` without fallback) and
    ``layer_method="inverse"``; ``fit`` records whether its ledger stayed exact. Products are
    counted whole: the first layer of local receptive fields multiplies only bands of the
    inputs (:func:`lsqnet.features.windows.banded_product`), fewer operations than counted.
    The counts of ``method="lm"`` and ``"kfac"`` are those of a number ``alpha``: with
    ``alpha="auto"`` or candidate penalties, ``flops_`` also holds the choice of the penalty
    (and ``"auto"`` marks the ledger inexact). That of ``"kfac"`` is exact where every
    damped inverse and output-layer factorisation succeeds by Cholesky (``flops_exact_``).

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet import BPLSRegressor, count_flops
    >>> X = np.random.default_rng(0).standard_normal((200, 3))
    >>> reg = BPLSRegressor(hidden_layer_sizes=(8,), method="lm", max_iter=5, random_state=0)
    >>> reg = reg.fit(X, np.sin(X[:, 0]))
    >>> count_flops(200, [3, 8, 1], method="lm", history=reg.history_,
    ...             activations=["tanh", "identity"]) == reg.flops_
    True
    """
    if method == "lm":
        return _count_lm(
            n_samples, sizes, history, batch_size=batch_size, alpha=alpha,
            activations=activations, classification=classification, init=init,
            image_shape=image_shape, patch_size=patch_size,
        )
    if method == "kfac":
        return _count_kfac(
            n_samples, sizes, history, batch_size=batch_size, alpha=alpha,
            activations=activations, classification=classification, init=init,
            image_shape=image_shape, patch_size=patch_size, method_options=method_options,
        )
    check_option(method, "method", "count_flops", COUNTED_METHODS)
    if method_options is not None:
        raise ValueError(
            "count_flops: method_options describe a fit of method='kfac'; a BPLS fit's "
            "settings are count_flops' own parameters. Use method_options=None."
        )
    if history is not None or batch_size is not None:
        raise ValueError(
            "count_flops: history and batch_size describe a fit of method='lm' or 'kfac'; a "
            "BPLS fit is counted in memory from n_samples, n_iter and trials (the history's "
            "'n_samples' and 'trials')."
        )
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
    guarded = trials is not None
    if guarded:
        trials = [int(t) for t in trials]
        expected = len(counts) + int(refit_output)
        if len(trials) != expected or any(t < 1 or t > MAX_TRIALS for t in trials):
            raise ValueError(
                f"count_flops: trials must hold one count in [1, {MAX_TRIALS}] per sweep "
                f"({len(counts)}) and one for refit_output ({int(refit_output)}): {expected} "
                f"in all (the history's 'trials'); got {trials!r}."
            )
        out_act = (activations or ["tanh"] * n_layers)[-1]
        loss = objective_loss(out_act, classification)
        cross = {"squared_error": 0, "softmax": 4, "sigmoid": 10}[loss] * n_all * k_out
        penalty = sum(2 * p * q for p, q in zip(sizes[:-1], sizes[1:], strict=True))
        value = metrics + cross + penalty  # an objective, from the outputs

        def shorter(tried: int, layers: range) -> int:
            """The trials after a step's first: move, forward pass, objective."""
            each = value + sum(
                3 * (sizes[i] * sizes[i + 1] + sizes[i + 1]) + _flops.gemm(
                    n_all, sizes[i], sizes[i + 1]
                ) + 2 * n_all * sizes[i + 1]
                for i in layers
            )
            return (tried - 1) * each

        total += value if trials else 0  # the start network's objective
        for tried in trials[: len(counts)]:
            total += cross + penalty + shorter(tried, range(n_layers))
        if refit_output:
            total += cross + penalty + shorter(trials[-1], range(n_layers - 1, n_layers))
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


def _history_entries(history: Any, accepted_form: str, non_empty: bool) -> list[Mapping]:
    """The entries of a fit's ``history`` (a sequence of dicts, not empty if ``non_empty``),
    or a ``ValueError`` that says what is accepted (``accepted_form``)."""
    if history is None or isinstance(history, Mapping | str) or not isinstance(
        history, Sequence
    ):
        raise ValueError(f"{accepted_form}; got {history!r}.")
    entries = list(history)
    if (non_empty and not entries) or not all(isinstance(e, Mapping) for e in entries):
        raise ValueError(f"{accepted_form}; got {entries!r}.")
    return entries


def _int_in(value: Any, low: int, high: int) -> bool:
    """Whether ``value`` is an int (not a bool) in [low, high]."""
    return (isinstance(value, int | np.integer) and not isinstance(value, bool)
            and low <= value <= high)


def _check_lm_history(history: Any) -> tuple[int | None, list[int], list[bool]]:
    """The start's trials (None: unguarded) and each step's trials and acceptance from an
    LM fit's ``history``, or a ``ValueError`` that says what is accepted."""
    accepted_form = (
        "count_flops: method='lm' needs history, the fit's history_: a non-empty sequence "
        f"of dicts, the output layer's solve (with 'trials', an int in [1, {MAX_TRIALS}], "
        f"under the safeguard), then one per step with 'trials' (an int in "
        f"[1, {_lm.MAX_TRIALS}]) and 'accepted' (a bool)"
    )
    entries = _history_entries(history, accepted_form, non_empty=True)

    def tried(entry: Mapping[str, Any], most: int) -> bool:
        return _int_in(entry.get("trials"), 1, most)

    start = entries[0]
    for i, entry in enumerate(entries[1:], 1):
        ok = isinstance(entry.get("accepted"), bool | np.bool_)
        if not (ok and tried(entry, _lm.MAX_TRIALS)):
            raise ValueError(
                f"{accepted_form}; entry {i} has trials={entry.get('trials')!r}, "
                f"accepted={entry.get('accepted')!r}."
            )
    if "trials" in start and not tried(start, MAX_TRIALS):
        raise ValueError(f"{accepted_form}; entry 0 has trials={start['trials']!r}.")
    steps = entries[1:]
    return (
        int(start["trials"]) if "trials" in start else None,
        [int(e["trials"]) for e in steps], [bool(e["accepted"]) for e in steps],
    )


def _count_lm(
    n_samples: Any, sizes: Sequence[int], history: Any, *, batch_size: int | None,
    alpha: float, activations: Sequence[str] | None, classification: bool,
    init: str | FeatureMap, image_shape: tuple[int, int] | None,
    patch_size: tuple[float, float],
) -> int:
    """:func:`count_flops` of ``method="lm"``: the estimators' start (the output layer solved
    on the initial hidden layers, as a BPLS refit) and the Levenberg–Marquardt steps."""
    _check_rows(n_samples, batch_size, "lm")
    start, trials, accepted = _check_lm_history(history)
    n, sizes = int(n_samples), [int(s) for s in sizes]
    acts = list(activations or ["tanh"] * (len(sizes) - 1))
    if not classification:
        loss = "squared_error"
    else:
        loss = "softmax" if acts[-1] == "softmax" else "sigmoid"
    total = count_flops(
        n, sizes, n_iter=0, alpha=alpha, activations=acts, classification=classification,
        refit_output=True, init=init, image_shape=image_shape, patch_size=patch_size,
        trials=None if start is None else [start],
    )
    chunks = 1
    if batch_size is not None:
        chunks = -(-n // int(batch_size))
        total += _streamed_start_flops(n, sizes, int(batch_size), start or 1)
    if not trials:  # max_iter=0, or the monitor stopped the fit: no steps were started
        return total
    evidence = any("alpha" in entry for entry in history[1:])
    return total + _lm.count_flops(n, sizes, loss, trials, accepted, chunks=chunks,
                                   evidence=evidence)


def _check_rows(n_samples: Any, batch_size: Any, method: str) -> None:
    """A ``ValueError`` unless ``n_samples`` is a positive int and ``batch_size`` one or
    None, as ``method="lm"`` and ``"kfac"`` take them."""
    if np.ndim(n_samples) or isinstance(n_samples, bool) or not isinstance(
        n_samples, int | np.integer
    ) or n_samples < 1:
        raise ValueError(
            f"count_flops: method={method!r} takes n_samples as a positive int (the training "
            f"samples); got {n_samples!r}."
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise ValueError(
            f"count_flops: batch_size must be an int >= 1 (the rows of each chunk) or None "
            f"(a fit in memory); got {batch_size!r}."
        )


def _count_kfac(
    n_samples: Any, sizes: Sequence[int], history: Any, *, batch_size: int | None,
    alpha: float, activations: Sequence[str] | None, classification: bool,
    init: str | FeatureMap, image_shape: tuple[int, int] | None,
    patch_size: tuple[float, float], method_options: Mapping[str, Any] | None,
) -> int:
    """:func:`count_flops` of ``method="kfac"``: the first layer's initialisation and
    :func:`lsqnet.training.kfac.count_flops` with the options the estimators build."""
    _check_rows(n_samples, batch_size, "kfac")
    n, sizes = int(n_samples), [int(s) for s in sizes]
    if method_options is not None and not isinstance(method_options, Mapping):
        raise ValueError(
            f"count_flops: method_options must be a dict of KFACOptions settings or None; "
            f"got {method_options!r}."
        )
    try:
        defaults = _kfac.KFACOptions(**(method_options or {}))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"count_flops: method_options are not settings of KFACOptions: {err}"
        ) from None
    retries, output_steps = _check_kfac_history(history, defaults.max_retries + 1)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.number) or not (
        np.isfinite(alpha) and alpha >= 0
    ):
        raise ValueError(
            f"count_flops: method='kfac' counts a fit of a number alpha >= 0 (pass the "
            f"chosen alpha_ of alpha='auto'); got {alpha!r}."
        )
    acts = list(activations or ["tanh"] * (len(sizes) - 2) + [
        "sigmoid" if classification else "identity"
    ])
    if len(acts) != len(sizes) - 1:
        raise ValueError(
            f"count_flops: activations must name one activation per layer "
            f"({len(sizes) - 1} for sizes {sizes}); got {acts!r}."
        )
    if classification and acts[-1] not in CURVATURE_BOUNDS:
        raise ValueError(
            f"count_flops: a classifier of method='kfac' has a 'softmax' or 'sigmoid' output "
            f"(the last of activations); got {acts[-1]!r}."
        )
    opts = replace(
        defaults, alpha=float(alpha),
        project_iter=defaults.project_iter if classification or acts[-1] == "identity" else 0,
    )
    chunks = None if batch_size is None else [
        min(int(batch_size), n - lo) for lo in range(0, n, int(batch_size))
    ]
    total = _kfac.count_flops(
        n, sizes, acts[-1] if classification else "squared_error", retries, opts=opts,
        output_steps=output_steps, chunks=chunks,
    )
    first = make_feature_map(
        init, image_shape=image_shape, patch_size=patch_size, owner="count_flops"
    )
    return total + first.flops(n, sizes[0], sizes[1], sizes[-1])


def _check_kfac_history(history: Any, most: int) -> tuple[list[int], int]:
    """The steps' retries and the number of final cross-entropy steps of a K-FAC fit's
    ``history``, or a ``ValueError`` that says what is accepted."""
    accepted_form = (
        "count_flops: method='kfac' needs history, the fit's history_: a sequence of dicts, "
        f"one per step with 'retries' (an int in [0, {most}]), then one per final "
        f"cross-entropy step (without 'retries')"
    )
    entries = _history_entries(history, accepted_form, non_empty=False)
    steps = sum(1 for _ in itertools.takewhile(lambda e: "retries" in e, entries))
    for i, entry in enumerate(entries):
        r = entry.get("retries")
        ok = _int_in(r, 0, most) if i < steps else "retries" not in entry
        if not ok:
            raise ValueError(f"{accepted_form}; entry {i} has retries={r!r}.")
    return [int(e["retries"]) for e in entries[:steps]], len(entries) - steps


def _streamed_start_flops(n: int, sizes: list[int], batch_size: int, trials: int) -> int:
    """What the output layer's solve over chunks of ``batch_size`` rows records beyond the
    same solve in memory: each of its ``trials`` evaluates the whole network (in memory the
    hidden layers' outputs are kept), each chunk's statistics are sums around its own means
    (their means and the shift: ``2 n p``; a single layer's inputs are shifted in blocks of
    ``BLOCK_ROWS`` rows, whose sums are added), the chunks' sums are brought to the first's
    shift and added, and the intercept adds the shift back."""
    chunks = [min(batch_size, n - lo) for lo in range(0, n, batch_size)]
    p, q = sizes[-2], sizes[-1]
    hidden = sum(
        _flops.gemm(n, a, b) + 2 * n * b for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)
    )
    merge = p * p + p * q + p + 2 * q
    total = trials * hidden + 2 * n * p + 2 * p
    total += (len(chunks) - 1) * (6 * p * p + 2 * p * q + 2 * p + merge)
    if len(sizes) == 2:  # the inputs, not ours to shift in place: in blocks
        total += sum(-(-c // BLOCK_ROWS) - 1 for c in chunks) * merge
    return total
