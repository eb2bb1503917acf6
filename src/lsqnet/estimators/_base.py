"""The parameters, validation, in-memory fit and prediction shared by the two estimators;
the fits from tensors and from chunks are mixed in from :mod:`._tensors` and
:mod:`._chunked`."""

from __future__ import annotations

import copy
import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .. import _flops, _sparse
from .. import activations as _activations
from .._array_api import get_namespace, is_array_api
from .._dask import is_dask_array
from .._validation import check_option, check_random_state, check_scalar
from ..bpls import (
    CURVATURE_BOUNDS,
    HIDDEN_TARGETS,
    ITERATION_RULES,
    LAYER_METHODS,
    BPLSOptions,
    fit_bpls,
)
from ..exceptions import LSQNetError
from ..features import INITS, PATCH_SIZE, check_image_shape, check_patch_size, make_feature_map
from ..network import Network, init_network
from ..solvers import SOLVERS, GramStats
from ..solvers._loo import RidgePath
from ..streaming import (
    check_chunked_options,
    fit_bpls_chunked,
    sampled_inputs,
)
from ..training import kfac, levenberg_marquardt
from ..training.penalty import choose_alpha
from ..training.sources import InMemory, positive_rows
from ._chunked import ChunkedFits
from ._common import Targets, check_monitor, invalid, unchanged_on_error
from ._persist import save
from ._presets import PRESETS
from ._scaling import InputScaling
from ._tensors import (
    TensorFits,
)
from ._weights import check_sample_weight

__all__ = ["AUTO_ACTIVATIONS", "DEFAULT_MAX_ITER", "METHODS", "METHOD_OPTIONS", "BaseBPLS"]

#: The training methods the estimators' ``method`` names, and each one's steps by default.
METHODS = ("auto", "bpls", "lm", "kfac")
DEFAULT_MAX_ITER = {"bpls": 10, "lm": 200, "kfac": kfac.KFACOptions().max_iter}

#: ``activation="auto"``: the hidden activation of each training method. Kronecker-factored
#: steps trained ReLU units to better accuracy than tanh units on MNIST and Fashion-MNIST
#: (``benchmarks/study_kfac.py``) and on the tabular suite's digits
#: (``benchmarks/study_small_tables.py``); Levenberg–Marquardt's Gauss–Newton steps and
#: BPLS's inverted targets keep smooth, invertible tanh units.
AUTO_ACTIVATIONS = {"bpls": "tanh", "lm": "tanh", "kfac": "relu"}

#: The settings ``method_options`` reaches: each method's options class, less the fields the
#: estimator sets from its own parameters (named here) or from the task (``loss``).
METHOD_OPTIONS = {"lm": levenberg_marquardt.LMOptions, "kfac": kfac.KFACOptions}
OWN_FIELDS = {
    "alpha": "alpha", "max_iter": "max_iter", "tol": "tol", "random_state": "random_state",
    "loss": "output_activation",
}

#: A fit of a NumPy ``X`` in memory keeps every layer's activations for all rows; with
#: ``batch_size="auto"``, when they would take more bytes than ``X`` and than this, it reads
#: ``X`` in blocks instead (the same model, up to rounding), each block's activations and
#: inputs near BLOCK_BYTES.
RESIDENT_BYTES = 32 * 2**20
BLOCK_BYTES = 16 * 2**20

#: ``method="auto"`` trains networks of at most this many parameters ``p`` by
#: Levenberg–Marquardt, when a step's Gauss–Newton system (about ``2 n k p^2`` operations for
#: ``n`` rows and ``k`` outputs) costs at most LM_MAX_STEP_FLOPS: a few hundredths of a second
#: at the BLAS's speed, so that the tens of steps of a fit take seconds at most.
LM_MAX_PARAMETERS = 2000
LM_MAX_STEP_FLOPS = 10**10

#: ``hidden_layer_sizes="auto"``: one hidden layer of the first width where
#: Levenberg–Marquardt trains it (``method`` ``"auto"`` or ``"lm"``, within the limits above),
#: else of the second. Steps on all layers at once make the most of few units; the methods
#: for larger problems (Kronecker-factored steps, BPLS) gain from more (on the tabular
#: suite's digits, 32 units by K-FAC reached 90 % on validation, 256 units 97 %).
AUTO_WIDTHS = (32, 256)

#: ``hidden_layer_sizes="auto"`` for a classifier trained by Levenberg–Marquardt: at most
#: this many parameters per training row (but at least MIN_CLASSIFIER_WIDTH units). Its
#: penalty is chosen once, for the initial units, and 32 trained units overfit small tables
#: (iris's 112 rows); a regressor's penalty is re-estimated as it trains (the evidence
#: approximation) and keeps 32. On the tabular suite's validation splits this narrowed
#: iris, wine and breast cancer only, to 4-6 units: iris from 87.0 % to 91.3 %, the others
#: as accurate, breast cancer about 20 times faster (``benchmarks/study_small_tables.py``).
CLASSIFIER_PARAMETERS_PER_ROW = 0.5
MIN_CLASSIFIER_WIDTH = 4


class BaseBPLS(ChunkedFits, TensorFits, BaseEstimator):
    """Parameters and fitting shared by the regressor and the classifier."""

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "tanh",
        output_activation: str = "identity",
        alpha: float = 1.0,
        solver: str = "auto",
        method: str = "bpls",
        method_options: dict[str, Any] | None = None,
        max_iter: int | None = None,
        tol: float = 1e-4,
        init: str = "fan_in",
        init_scale: float = 1.0,
        scale_inputs: bool = False,
        image_shape: tuple[int, int] | None = None,
        patch_size: tuple[float, float] = PATCH_SIZE,
        target_eps: float = 0.01,
        hidden_target: str = "closest",
        layer_method: str = "inverse",
        iteration_rule: str = "all",
        backprop_ridge: float = 1e-3,
        refit_output: bool = False,
        safeguard: bool = True,
        warm_start: bool = False,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        output_iter: int = 0,
        batch_size: int | str | None = None,
        random_state: Any = None,
        dtype: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.alpha = alpha
        self.solver = solver
        self.method = method
        self.method_options = method_options
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.init_scale = init_scale
        self.scale_inputs = scale_inputs
        self.image_shape = image_shape
        self.patch_size = patch_size
        self.target_eps = target_eps
        self.hidden_target = hidden_target
        self.layer_method = layer_method
        self.iteration_rule = iteration_rule
        self.backprop_ridge = backprop_ridge
        self.refit_output = refit_output
        self.safeguard = safeguard
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.output_iter = output_iter
        self.batch_size = batch_size
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # -- validation ----------------------------------------------------------------------
    _output_activations: tuple[str, ...] = ()

    def _max_iter(self, method: str | None = None) -> int:
        """``max_iter`` checked; None is the default of ``method`` (the resolved one; before
        ``fit`` knows the sizes, BPLS's)."""
        if self.max_iter is None:
            method = method or self.method
            return DEFAULT_MAX_ITER["bpls" if method == "auto" else method]
        return check_scalar(self.max_iter, "max_iter", type(self).__name__, kind=int, low=0)

    def _validate_params_(self) -> BPLSOptions:
        owner = type(self).__name__
        check_option(self.method, "method", owner, METHODS)
        self._method_options(None if self.method == "auto" else self.method)
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, str) and sizes == "auto":
            sizes = AUTO_WIDTHS[-1:]  # the widest it may be; a fit resolves it (_hidden_sizes)
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(
                f"The 'hidden_layer_sizes' parameter of {owner} must be a tuple of positive "
                f"ints (() for a single layer) or 'auto'. Got {self.hidden_layer_sizes!r} "
                f"instead."
            )
        self._sizes = tuple(int(s) for s in sizes)
        hidden = check_option(
            self.activation, "activation", owner, (*_activations.ACTIVATIONS, "logistic", "auto")
        )
        # scikit-learn's name for the sigmoid; "auto" is resolved with the method (_fit)
        hidden = self._activation = "sigmoid" if hidden == "logistic" else hidden
        if hidden == "auto":
            hidden = AUTO_ACTIVATIONS["bpls"]  # what the checks below need of BPLS's
        if _activations.get(hidden).rowwise:
            raise ValueError(
                f"The 'activation' parameter of {owner} cannot be 'softmax', an output-layer "
                f"activation; use one of 'tanh', 'sigmoid', 'elu', 'leaky_relu', 'relu'."
            )
        check_option(self.output_activation, "output_activation", owner, self._output_activations)
        check_option(self.init, "init", owner, INITS)
        check_scalar(self.init_scale, "init_scale", owner, low=0.0, low_inclusive=False)
        self._patch_size = check_patch_size(self.patch_size, owner)
        if self.image_shape is not None:
            check_image_shape(self.image_shape, owner)
        check_scalar(self.validation_fraction, "validation_fraction", owner, low=0.0, high=1.0,
                     low_inclusive=False, high_inclusive=False)
        check_scalar(self.n_iter_no_change, "n_iter_no_change", owner, kind=int, low=1)
        for flag in ("scale_inputs", "refit_output", "safeguard", "warm_start",
                     "early_stopping"):
            if not isinstance(getattr(self, flag), bool | np.bool_):
                raise TypeError(
                    f"The {flag!r} parameter of {owner} must be a bool. "
                    f"Got {getattr(self, flag)!r} instead."
                )
        if self.dtype is not None:
            check_option(self.dtype, "dtype", owner, ("float32", "float64"))
        if isinstance(self.batch_size, str) and self.batch_size != "auto":
            raise ValueError(
                f"The 'batch_size' parameter of {owner} must be an int >= 1, 'auto' or None. "
                f"Got {self.batch_size!r} instead."
            )
        if self.batch_size not in (None, "auto"):
            check_scalar(self.batch_size, "batch_size", owner, kind=int, low=1)
        if not isinstance(self.verbose, bool | np.bool_):  # True and False, as scikit-learn's
            check_scalar(self.verbose, "verbose", owner, kind=int, low=0)
        check_random_state(self.random_state, owner, validate_only=True)
        self._alphas = self._alpha_candidates()
        opts = BPLSOptions(
            alpha=1.0 if self._alphas is not None else check_scalar(
                self.alpha, "alpha", owner, low=0.0
            ),
            solver=check_option(self.solver, "solver", owner, SOLVERS),
            target_eps=check_scalar(
                self.target_eps, "target_eps", owner, low=0.0, high=0.5, low_inclusive=False,
                high_inclusive=False,
            ),
            hidden_target=check_option(self.hidden_target, "hidden_target", owner, HIDDEN_TARGETS),
            layer_method=check_option(self.layer_method, "layer_method", owner, LAYER_METHODS),
            iteration_rule=check_option(
                self.iteration_rule, "iteration_rule", owner, ITERATION_RULES
            ),
            backprop_ridge=check_scalar(self.backprop_ridge, "backprop_ridge", owner, low=0.0),
            max_iter=self._max_iter(),
            tol=check_scalar(self.tol, "tol", owner, low=0.0),
            refit_output=bool(self.refit_output),
            safeguard=bool(self.safeguard),
            output_iter=check_scalar(self.output_iter, "output_iter", owner, kind=int, low=0),
        )
        if opts.output_iter and self.output_activation not in CURVATURE_BOUNDS:
            raise ValueError(
                f"The 'output_iter' parameter of {owner} is {opts.output_iter}: its steps fit "
                f"the output layer to the cross-entropy, which needs output_activation "
                f"'sigmoid' or 'softmax'; got {self.output_activation!r}. Use output_iter=0."
            )
        if opts.max_iter == 0 and not opts.refit_output:
            raise ValueError(
                f"The 'max_iter' parameter of {owner} is 0 and refit_output is False: nothing "
                f"would be trained. Use max_iter >= 1, or refit_output=True to solve only the "
                f"output layer."
            )
        if opts.layer_method == "weighted" and (
            not _activations.get(hidden).invertible and self._sizes
        ):
            raise ValueError(
                f"layer_method='weighted' needs invertible activations; {hidden!r} is not. "
                f"Use layer_method='inverse'."
            )
        return opts

    def _method_options(self, method: str | None) -> dict[str, Any]:
        """``method_options`` checked, as a new dict: the names of its settings against the
        options of ``method`` (None, before ``method="auto"`` has chosen: against those of
        every method it may choose)."""
        options, owner = self.method_options, type(self).__name__
        if options is None:
            return {}
        if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
            raise TypeError(
                f"The 'method_options' parameter of {owner} must be a dict of settings of the "
                f"training method by name (for example {{'batch_size': 250}} with "
                f"method='kfac'), or None. Got {options!r} instead."
            )
        for key in options:
            if key in OWN_FIELDS:
                raise ValueError(
                    f"The 'method_options' parameter of {owner} cannot set {key!r}: the "
                    f"estimator sets it from its {OWN_FIELDS[key]!r} parameter. Remove it "
                    f"from method_options" + (
                        f" and set {key}= on the estimator." if OWN_FIELDS[key] == key else "."
                    )
                )
        methods = [method] if method is not None else list(METHOD_OPTIONS)
        accepted = sorted({
            f.name for m in methods if m in METHOD_OPTIONS
            for f in dataclasses.fields(METHOD_OPTIONS[m]) if f.name not in OWN_FIELDS
        })
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            if method is None:
                what = f"the methods method='auto' may choose accept {accepted}"
            elif self.method == "auto":
                what = (
                    f"method='auto' chose {method!r} for these data, which accepts "
                    f"{accepted or 'none'}; set method= to the method the settings are for"
                )
            elif not accepted:
                what = (
                    f"method={method!r} takes its settings from the estimator's parameters "
                    f"and accepts no method_options; use method_options=None"
                )
            else:
                what = f"method={method!r} accepts {accepted}"
            raise ValueError(
                f"The 'method_options' parameter of {owner} has settings that are not "
                f"options of the training method: {unknown}; {what}."
            )
        return dict(options)

    def _method_settings(self, method: str, options_class: type, **settings: Any) -> Any:
        """``options_class`` (the resolved ``method``'s) from the estimator's ``settings`` and
        ``method_options``, its error naming the estimator's parameter."""
        owner = type(self).__name__
        extra = self._method_options(method)
        if "output_iter" in extra and self.output_iter:
            raise ValueError(
                f"{owner}: output_iter={self.output_iter} and method_options' output_iter="
                f"{extra['output_iter']!r} both set the final cross-entropy steps; give one "
                f"(output_iter=0 leaves them to method_options)."
            )
        try:
            return options_class(**{**settings, **extra})
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"The 'method_options' parameter of {owner} is invalid for method="
                f"{method!r}: {err}"
            ) from None

    def _alpha_candidates(self) -> Any:
        """None for a number ``alpha``; else ``"auto"`` or the candidate penalties, a 1-D
        float64 array of positive values."""
        alpha, owner = self.alpha, type(self).__name__
        if isinstance(alpha, str):
            if alpha != "auto":
                raise ValueError(
                    f"The 'alpha' parameter of {owner} must be a float >= 0, 'auto', or a "
                    f"list of positive floats to choose from. Got {alpha!r} instead."
                )
            return "auto"
        if isinstance(alpha, numbers.Real) or np.ndim(alpha) == 0:
            return None
        try:
            candidates = np.asarray(alpha, dtype=np.float64)
        except (TypeError, ValueError):
            candidates = None
        if (
            candidates is None or candidates.ndim != 1 or candidates.size == 0
            or not np.all(np.isfinite(candidates)) or not np.all(candidates > 0)
        ):
            raise ValueError(
                f"The 'alpha' parameter of {owner} must be a float >= 0, 'auto', or a "
                f"non-empty list of positive, finite floats to choose from. Got {alpha!r} "
                f"instead."
            )
        return candidates

    def _choose_alpha(self, source: Any, network: Network, ledger: Any, method: str) -> None:
        """Set ``alpha_`` (and with ``alpha="auto"`` or candidates, ``alphas_`` and
        ``cv_errors_``), and the training options' penalty to it."""
        if self._alphas is None:
            self.alpha_, self.alphas_, self.cv_errors_ = float(self.alpha), None, None
            return
        with _flops.counting(ledger):
            choice = choose_alpha(
                source, network, self._alphas, self._options.target_eps,
                trained_units=method in ("lm", "kfac") and len(network.layers) > 1,
            )
        self.alpha_ = choice.alpha
        self.alphas_, self.cv_errors_ = choice.alphas, choice.errors
        self._options = replace(self._options, alpha=choice.alpha)

    def _summed_alpha(self, stats: GramStats) -> float:
        """The penalty of a single layer solved from summed statistics alone (``partial_fit``,
        whose earlier chunks are gone): with candidates, the one of least generalised
        cross-validation error. Sets ``alpha_``, ``alphas_`` and ``cv_errors_``."""
        if self._alphas is None:
            self.alpha_, self.alphas_, self.cv_errors_ = float(self.alpha), None, None
            return self.alpha_
        path = RidgePath.from_stats(stats, self._alphas)
        errors = path.gcv_errors()
        self.alpha_ = path.best(errors)
        self.alphas_, self.cv_errors_ = path.alphas, errors / (stats.n_samples * stats.n_targets)
        return self.alpha_

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, monitor: Any = None
    ) -> Self:
        """Fit the network to ``X`` (n_samples, n_features) and ``y``: a regressor's targets
        (n_samples[, n_targets]), or a classifier's labels (n_samples,).

        Parameters
        ----------
        X : {array-like, sparse matrix}, dask array or tensor of shape (n_samples, n_features)
            A SciPy sparse matrix or array (CSR or CSC; other formats are converted to
            CSR) enters only the first layer's products and is never made dense.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            A regressor's targets; a classifier's labels, or its multilabel indicator
            matrix of 0 and 1 (n_samples, n_labels).
        sample_weight : array-like of shape (n_samples,), float or None, default=None
            Non-negative weight of each sample, as in scikit-learn (None: every sample
            weighs 1; a number: every sample that weight; not all 0). It multiplies the
            sample's loss in the training objective, ``sum(w * loss) / sum(w)`` plus the
            ridge term ``alpha / 2 * |W|^2`` over ``sum(w)``, in every layer's least-squares
            solve and in every method (``"bpls"`` with its safeguard, the cross-entropy
            steps, ``"lm"``, ``"kfac"``); ``history_``'s ``loss`` and ``accuracy`` and
            ``loss_curve_`` are weighted means, and ``early_stopping`` splits the weights
            with their rows and weights the validation score. An integer weight equals
            repeating the row (for ``"kfac"`` only when each step is one mini-batch of all
            rows); a zero weight equals dropping it. Data-dependent initialisation
            (``init="samples"``, ``"patches"``, ``"contrasts"``) draws among the rows of
            positive weight, uniformly, so repeated rows are drawn more often than weighted
            ones and only the zero-weight equivalence is exact there. With ``batch_size`` the
            weights are a NumPy array in memory; with a Dask ``X`` a 1-D Dask array (or any
            array); with tensors a tensor on ``X``'s device (array-likes are copied there).
        monitor : callable, default=None
            ``monitor(entry, network)`` is called after every step with that step's
            ``history_`` entry and :class:`~lsqnet.Network`; its time is excluded from the
            recorded training times, and returning True stops training (the hook of
            scikit-learn's gradient boosting).

        Returns
        -------
        self
        """
        return self._fit_checked(X, y, monitor, sample_weight)


    def _fit_checked(self, X: Any, y: Any, monitor: Any, sample_weight: Any = None):
        """``fit``: the data in memory, in blocks of ``batch_size`` rows, or on Dask, each row
        weighted by ``sample_weight`` (None: all 1)."""
        with unchanged_on_error(self):
            self._options = self._validate_params_()
            check_monitor(monitor, f"{type(self).__name__}.fit")
            blocks = self.batch_size not in (None, "auto")
            streamed = is_dask_array(X) or is_dask_array(y) or blocks
            if self.early_stopping and (streamed or is_array_api(X) or is_array_api(y)):
                raise ValueError(
                    f"{type(self).__name__}: early_stopping holds out a validation split of "
                    f"data in memory (NumPy arrays, without batch_size); with batch_size, Dask "
                    f"arrays or tensors use early_stopping=False."
                )
            if is_dask_array(X) or is_dask_array(y):
                return self._fit_dask(X, y, monitor, sample_weight)
            if is_array_api(X) or is_array_api(y):
                return self._fit_array_api(X, y, monitor, sample_weight)
            if blocks:
                return self._fit_blocks(X, y, monitor, sample_weight)
            X, y = self._validate_X_y(X, y)
            X = self._check_sparse_fit(X)
            w = check_sample_weight(sample_weight, X.shape[0], X.dtype, type(self).__name__)
            if self.early_stopping:
                return self._fit_early_stopping(X, y, monitor, w)
            batch_size = self._automatic_batch_size(X, y)
            if batch_size is not None:
                return self._fit_blocks(X, y, monitor, w, batch_size=batch_size)
            targets = self._targets(y, X.dtype)
            return self._fit(X, targets, monitor, sample_weight=w)

    def _hidden_sizes(self, n_rows: int, n_features: int, n_outputs: int) -> tuple[int, ...]:
        """The hidden layers' widths for ``n_rows`` rows: ``hidden_layer_sizes``, or for
        ``"auto"`` one layer of a width of :data:`AUTO_WIDTHS`."""
        if not (isinstance(self.hidden_layer_sizes, str) and self.hidden_layer_sizes == "auto"):
            return self._sizes
        if self.method == "lm" or self.method == "auto" and _lm_affordable(
            (n_features, AUTO_WIDTHS[0], n_outputs), n_rows
        ):
            width = AUTO_WIDTHS[0]
            if is_classifier(self):  # a penalty chosen once: the rows bound the parameters
                while width > MIN_CLASSIFIER_WIDTH and levenberg_marquardt.n_parameters(
                    (n_features, width, n_outputs)
                ) > CLASSIFIER_PARAMETERS_PER_ROW * n_rows:
                    width -= 1
            return (width,)
        return AUTO_WIDTHS[1:]

    def _automatic_batch_size(self, X: Any, y: Any = None) -> int | None:
        """The blocks in which ``fit`` reads a NumPy ``X`` in memory with ``batch_size="auto"``:
        None (all at once) unless the activations of every layer for all rows would take
        more memory than ``X`` itself and than :data:`RESIDENT_BYTES`, and the fit can run on
        blocks; then as many rows as keep one block's activations and inputs near
        :data:`BLOCK_BYTES`."""
        if self.batch_size != "auto" or not isinstance(X, np.ndarray) or (
            self.init == "contrasts"
        ):
            return None
        opts = self._options
        if opts.layer_method != "inverse" or opts.solver not in ("auto", "cholesky"):
            return None
        k = y.shape[1] if getattr(y, "ndim", 1) == 2 else 1
        width = sum(self._hidden_sizes(X.shape[0], X.shape[1], k)) + 1
        if X.shape[0] * width * X.itemsize <= max(RESIDENT_BYTES, X.nbytes):
            return None
        return max(1024, BLOCK_BYTES // ((width + X.shape[1]) * X.itemsize))

    def _check_sparse_fit(self, X: Any) -> Any:
        """A sparse ``X`` to fit on, in CSR format (its rows are read in blocks and
        batches); the solvers that would factorise it dense are refused."""
        if not _sparse.is_sparse(X):
            return X
        if self.solver not in ("auto", "cholesky"):
            raise ValueError(
                f"{type(self).__name__}: solver={self.solver!r} factorises X itself, which "
                f"would make the sparse X dense; use solver='auto' or 'cholesky' (sums of X's "
                f"products), or pass X.toarray()."
            )
        return X.tocsr() if X.format != "csr" else X

    def _fit_early_stopping(self, X: Any, y: Any, monitor: Any, sample_weight: Any = None):
        """``fit`` with ``early_stopping``: a validation split held out as scikit-learn's MLP
        holds it (stratified for a classifier), scored after every step; the fit stops after
        ``n_iter_no_change`` steps that did not improve the best score by ``tol``, and the
        network with the best validation score is kept. Sample weights are split with their
        rows and weight the validation score."""
        stratify = y if is_classifier(self) else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        X, X_val, y, y_val, *weights = train_test_split(
            *arrays, test_size=self.validation_fraction, stratify=stratify,
            random_state=int(check_random_state(self.random_state, "").integers(2**31)),
        )
        w, w_val = weights if weights else (None, None)
        if w is not None and not np.any(w > 0):
            raise ValueError(
                f"{type(self).__name__}: invalid sample_weight: every weight of the training "
                f"split that early_stopping keeps is 0; give more samples a positive weight, "
                f"or use early_stopping=False."
            )
        targets = self._targets(y, X.dtype)
        scores: list[float] = []
        best: dict[str, Any] = {"score": -np.inf, "network": None, "stale": 0}

        def early(entry, network):
            score = self._score_network(network, X_val, y_val, w_val)
            scores.append(score)
            best["stale"] = best["stale"] + 1 if score < best["score"] + self.tol else 0
            if score > best["score"]:
                best.update(score=score, network=network)
            stop = monitor(entry, network) if monitor is not None else None
            return bool(stop) or best["stale"] > self.n_iter_no_change

        self._fit(X, targets, early, sample_weight=w)
        if best["network"] is not None:
            self._set_fitted(best["network"], targets, self.solver_)
        self.validation_scores_ = scores
        self.best_validation_score_ = best["score"]
        return self

    def _score_network(
        self, network: Network, X: Any, y: Any, sample_weight: Any = None
    ) -> float:
        """The score (accuracy, or R^2) of ``network``'s predictions of ``y`` from ``X``,
        weighted by ``sample_weight`` if given."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = network.forward(X)
        if is_classifier(self):
            hit = self.classes_[np.argmax(out, axis=1)] == y
            if sample_weight is not None and np.sum(sample_weight) > 0:
                return float(np.average(hit, weights=sample_weight))
            return float(np.mean(hit))
        if sample_weight is not None and not np.sum(sample_weight) > 0:
            sample_weight = None  # a validation split of zero weight: scored unweighted
        return float(r2_score(y, out[:, 0] if y.ndim == 1 else out, sample_weight=sample_weight))

    def _fit(
        self, X: Any, targets: Targets, monitor: Any, source: Any = None,
        sample_weight: Any = None,
    ):
        """Initialise and train the network on ``X`` in memory, its rows weighted by
        ``sample_weight`` (checked; None: all 1), or on the chunks of ``source`` (``X`` is
        then None; the source holds the weights), and set the fitted attributes."""
        opts = self._options
        rng = check_random_state(self.random_state, type(self).__name__)
        n_features = X.shape[1] if source is None else source.n_features
        n_rows = X.shape[0] if source is None else _rows(source)
        hidden = self._hidden_sizes(n_rows, n_features, targets.n_outputs)
        sizes = (n_features, *hidden, targets.n_outputs)
        dtype = np.dtype(targets.dtype)
        if source is not None:
            check_chunked_options(opts)
        method = self._resolve_method(sizes, targets, X, source)
        if self._activation == "auto":
            self._activation = AUTO_ACTIVATIONS[method]
        features = make_feature_map(
            self.init, image_shape=None if self.image_shape is None else check_image_shape(
                self.image_shape, type(self).__name__, n_features
            ), patch_size=self._patch_size, owner=type(self).__name__,
        )
        if source is not None and features.needs_targets:
            raise ValueError(
                f"{type(self).__name__}: init='contrasts' fits its units to the targets of "
                f"data in memory; with batch_size, Dask arrays or fit_chunks use "
                f"init='patches' (or fit NumPy arrays or tensors without batch_size)."
            )
        # the hidden layers see standardised inputs; _set_result folds the map into layer 1
        scaling = None
        if self.scale_inputs and len(sizes) > 2:
            if source is None:
                scaling = InputScaling.of(X, sample_weight)
                X = scaling.apply(X)
            else:
                scaling = InputScaling.of_source(source)
                source = scaling.chunks(source)
        self._input_scaling = scaling
        Y, labels = targets.block(0, X.shape[0]) if source is None else (None, None)
        ledger = _flops.FlopLedger()
        w = sample_weight
        # data-dependent initialisation reads only the rows of positive weight
        samples = positive_rows(X, w) if source is None else X
        data = InMemory(X, Y, labels, w) if source is None else source
        network = self._warm_network(sizes, dtype, targets)
        if network is not None and scaling is not None:
            network = scaling.unfold(network)
        if network is None:
            with _flops.counting(ledger):
                if source is not None and features.needs_inputs:
                    samples = sampled_inputs(source)  # read by init_network: 2 or 3 passes
                network = init_network(
                    sizes, self._activation, self.output_activation, features, rng, dtype,
                    X=samples, Y=Y if Y is None else positive_rows(Y, w),
                    scale=float(self.init_scale),
                )
        verbose = self.verbose

        def hook(entry, network):
            if verbose:
                acc = entry["accuracy"]
                print(
                    f"Iteration {entry['iteration']}: loss = {entry['loss']:.6g}"
                    + ("" if np.isnan(acc) else f", accuracy = {acc:.4f}")
                    + f", {entry['time']:.3f} s"
                )
            if monitor is None:
                return None
            return monitor(entry, network if scaling is None else scaling.fold(network))

        hook = hook if verbose or monitor is not None else None
        for name, value in targets.attributes.items():  # classes_ for monitors during fit
            setattr(self, name, value)
        if method != "bpls" and self.max_iter is None:
            self._options = replace(opts, max_iter=self._max_iter(method))
        self._choose_alpha(data, network, ledger, method)
        opts = self._options
        if method == "lm":
            return self._fit_lm(
                data, network, targets, hook, ledger, getattr(samples, "passes", 0),
            )
        if method == "kfac":
            return self._fit_kfac(
                data, network, targets, hook, ledger, rng, getattr(samples, "passes", 0),
            )
        if source is None:
            result = fit_bpls(
                X, Y, network, opts, labels=labels, monitor=hook, ledger=ledger,
                sample_weight=w,
            )
        else:
            result = fit_bpls_chunked(
                source, network, opts, classification=targets.classification,
                monitor=hook, ledger=ledger, init_passes=getattr(samples, "passes", 0),
            )
        self._set_result(result.network, targets, result.solver, result.history, result.loss,
                         result.ledger)
        # A single-layer model keeps the statistics of its solve, so partial_fit can go on
        if (
            len(result.network.layers) == 1 and result.first_layer_stats is not None
            and not opts.output_iter
        ):
            self._partial_stats = result.first_layer_stats
            self._partial_ledger = copy.deepcopy(result.ledger)
        return self

    def _warm_network(self, sizes, dtype, targets) -> Network | None:
        """With ``warm_start``, the network of the previous fit to start from (None: draw a
        new one); it must have the same sizes, dtype, activations and classes."""
        previous = getattr(self, "network_", None)
        if not self.warm_start or previous is None:
            return None
        owner = type(self).__name__
        weight = previous.layers[0].weight
        activations = [layer.activation for layer in previous.layers]
        wanted = [self._activation] * (len(sizes) - 2) + [self.output_activation]
        if (
            tuple(previous.sizes) != tuple(sizes) or not isinstance(weight, np.ndarray)
            or weight.dtype != dtype or activations != wanted
        ):
            raise ValueError(
                f"{owner}: warm_start=True continues the previous fit's network "
                f"({'-'.join(map(str, previous.sizes))}, {weight.dtype}), but this fit needs "
                f"{'-'.join(map(str, sizes))}, {np.dtype(dtype)} with activations {wanted}. "
                f"Use warm_start=False to start anew."
            )
        classes = targets.attributes.get("classes_")
        if classes is not None and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"{owner}: warm_start=True can only be used where y has the same classes as "
                f"in the previous call to fit ({list(self.classes_)}); use warm_start=False."
            )
        return previous

    def _resolve_method(self, sizes, targets, X, source) -> str:
        """The method a fit uses: ``method``, or for ``"auto"`` Levenberg–Marquardt up to
        :data:`LM_MAX_PARAMETERS` parameters whose steps cost at most
        :data:`LM_MAX_STEP_FLOPS`, Kronecker-factored steps for other networks with hidden
        layers, BPLS for a single layer (solved exactly). Records ``method_``."""
        method = self.method
        owner = type(self).__name__
        if method == "auto":
            rows = X.shape[0] if X is not None else _rows(source)
            if _lm_affordable(sizes, rows):
                method = "lm"  # on tensors too: its steps run on a host copy
            elif len(sizes) > 2:
                method = "kfac"
            else:
                method = "bpls"
        if method == "kfac" and len(sizes) < 3:
            raise ValueError(
                f"{owner}: method='kfac' trains hidden layers; hidden_layer_sizes=() has none "
                f"(its single layer is solved exactly by method='bpls')."
            )
        self._method_options(method)  # settings for another method are refused now
        self.method_ = method
        return method

    def _fit_kfac(self, source, network, targets, hook, ledger, rng, init_passes=0):
        """The fit of ``method="kfac"`` (in memory or streamed)."""
        opts = self._options
        kfac_opts = self._method_settings(
            "kfac", kfac.KFACOptions, alpha=opts.alpha, max_iter=opts.max_iter, tol=opts.tol,
            output_iter=opts.output_iter or kfac.KFACOptions().output_iter,
            random_state=int(rng.integers(2**31)),
        )
        result = kfac.fit(
            source, network, kfac_opts, classification=targets.classification, monitor=hook,
            ledger=ledger, init_passes=init_passes,
        )
        self._set_result(result.network, targets, result.solver, result.history, result.loss,
                         result.ledger)
        return self

    def _fit_lm(self, source, network, targets, hook, ledger, init_passes):
        """The fit of ``method="lm"``: the output layer solved, then Levenberg–Marquardt."""
        opts = self._options
        if targets.classification:
            loss = "softmax" if self.output_activation == "softmax" else "sigmoid"
        else:
            loss = "squared_error"
        # alpha="auto" of a regressor (a multilabel classifier's squared error is not one)
        evidence = not is_classifier(self) and isinstance(self._alphas, str)
        lm_opts = self._method_settings(
            "lm", levenberg_marquardt.LMOptions, alpha=opts.alpha, max_iter=opts.max_iter,
            tol=opts.tol, loss=loss, evidence=evidence,
        )
        evidence = lm_opts.evidence
        start = replace(opts, max_iter=0, refit_output=True, output_iter=0)
        best, history, ledger = levenberg_marquardt.fit(
            source, network, lm_opts, classification=targets.classification, monitor=hook,
            ledger=ledger, init_passes=init_passes, start=start,
        )
        if evidence:  # the penalty of the objective the last step lowered
            self.alpha_ = next((e["alpha"] for e in reversed(history) if "alpha" in e),
                               self.alpha_)
        self._set_result(best.network, targets, "cholesky", history, best.loss, ledger)
        return self

    def _set_result(
        self, network: Network, targets: Targets, solver: str, history: list[dict[str, Any]],
        loss: float, ledger: _flops.FlopLedger,
    ) -> None:
        """The fitted attributes of a fit: the network's (:meth:`_set_fitted`; the network of
        raw inputs where the fit scaled them), its history, loss, operation count and solver;
        earlier ``partial_fit`` statistics are dropped."""
        scaling = self.__dict__.pop("_input_scaling", None)
        self._set_fitted(network if scaling is None else scaling.fold(network), targets, solver)
        self.n_iter_ = len(history)
        self.history_ = history
        self.loss_ = loss
        self.flops_ = ledger.total
        self.flops_exact_ = ledger.exact
        self.solver_ = solver
        self.__dict__.pop("_partial_stats", None)
        self.__dict__.pop("_partial_ledger", None)

    def _set_fitted(self, network: Network, targets: Targets, solver: str) -> None:
        xp = get_namespace(network.layers[0].weight)
        for i, layer in enumerate(network.layers):
            finite = xp.all(xp.isfinite(layer.weight)) and xp.all(xp.isfinite(layer.bias))
            if not bool(finite):
                raise LSQNetError(
                    f"{type(self).__name__}: layer {i} has non-finite weights after fitting "
                    f"(sizes {network.sizes}, solver {solver!r}). Increase alpha or "
                    f"scale X."
                )
        self.network_ = network
        self.coefs_ = [layer.weight for layer in network.layers]
        self.intercepts_ = [layer.bias for layer in network.layers]
        self.n_layers_ = len(network.layers) + 1
        self.n_outputs_ = targets.n_outputs
        self.out_activation_ = self.output_activation
        for name, value in targets.attributes.items():
            setattr(self, name, value)

    def _reset_features(self, n_features: int) -> None:
        self.n_features_in_ = int(n_features)
        self.__dict__.pop("feature_names_in_", None)

    def _require_y(self, y: Any) -> None:
        if y is None:  # scikit-learn's message
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but the target "
                f"y is None."
            )

    def _validate_y(self, y: Any, dtype: np.dtype) -> Any:
        self._require_y(y)
        try:
            return self._check_y(y, dtype)
        except (ValueError, TypeError) as err:
            raise invalid(err, type(self).__name__, "y") from err

    def _dtype(self) -> Any:
        # validate_data keeps the first listed dtype the input already has, else converts.
        return np.dtype(self.dtype) if self.dtype is not None else [np.float64, np.float32]

    def _validate_X(self, X: Any, *, reset: bool, dtype: Any) -> np.ndarray:
        try:
            return validate_data(self, X, reset=reset, dtype=dtype, accept_sparse=_sparse.FORMATS)
        except (ValueError, TypeError) as err:
            raise invalid(err, type(self).__name__, "X") from err

    def _validate_X_y(self, X: Any, y: Any) -> tuple[np.ndarray, Any]:
        """``X`` validated (and ``n_features_in_`` set) and ``y`` converted by ``_check_y``;
        an error names the argument at fault."""
        self._require_y(y)  # before X, as scikit-learn does
        X = self._validate_X(X, reset=True, dtype=self._dtype())
        y = self._validate_y(y, X.dtype)
        check_consistent_length(X, y)
        return X, y

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        if is_array_api(self.coefs_[0]):
            X = self._check_tensor_X(X)
        else:
            X = self._validate_X(X, reset=False, dtype=self.coefs_[0].dtype)
        # Huge inputs overflow to infinity in the products (tanh and sigmoid saturate); the
        # network's answer to them is returned without NumPy's RuntimeWarnings.
        with np.errstate(over="ignore", invalid="ignore"):
            return self.network_.forward(X)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any):
        """An unfitted estimator with the parameters of preset ``name`` (see :data:`PRESETS`),
        updated by ``overrides`` (any constructor parameter, e.g. ``random_state``).

        >>> from lsqnet import BPLSClassifier
        >>> BPLSClassifier.from_preset("paper", random_state=0).iteration_rule
        'misclassified'
        """
        name = check_option(name, "name", f"{cls.__name__}.from_preset", PRESETS)
        return cls(**{**cls._preset_params(name), **overrides})

    #: Preset parameters a subclass does not take from :data:`PRESETS`.
    _not_from_presets: tuple[str, ...] = ()

    @classmethod
    def _preset_params(cls, name: str) -> dict[str, Any]:
        return {k: v for k, v in PRESETS[name].items() if k not in cls._not_from_presets}

    def save(self, path: Any) -> None:
        """Save the fitted estimator to a file, safely (no pickle) and atomically.

        The file is an uncompressed NumPy ``.npz`` archive of plain arrays (each layer's
        weight and bias, ``classes_``, ``feature_names_in_``) plus JSON metadata (format
        version, parameters, scalar fitted attributes); the format is documented in
        :mod:`lsqnet._persistence`. :func:`lsqnet.load` reads it back without executing any
        code from the file, and the loaded estimator's predictions are bit-identical.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write, used exactly as given: no ``.npz`` suffix is added (it is
            the convention, though). An existing file is replaced.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        TypeError
            If ``path`` is not a str or os.PathLike, or a parameter cannot be stored as JSON.
        ValueError
            If a parameter is invalid, or ``classes_`` holds objects other than strings and
            numbers, which cannot be stored without pickle.
        OSError
            If the file cannot be written.

        See Also
        --------
        lsqnet.load : Read the file back.

        Notes
        -----
        The new file is written under a temporary name in the same directory, flushed to
        disk, and only then renamed onto ``path``: an error or a crash mid-save leaves a
        previous file at ``path`` unchanged and no partial file behind.

        The Gram statistics a single-layer model keeps for ``partial_fit`` are not saved: a
        loaded model predicts and can be refitted, but ``partial_fit`` cannot continue it
        (pickle and joblib keep them).

        ``random_state`` is stored only if it is an int or None; a ``RandomState`` or
        ``Generator`` instance is stored as None (a fitted model does not need it to
        predict; only refitting the loaded estimator draws different initial weights).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from lsqnet import BPLSRegressor, load
        >>> X = np.linspace(-1, 1, 50)[:, None]
        >>> reg = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0).fit(X, np.sin(3 * X[:, 0]))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     reg.save(os.path.join(tmp, "model.npz"))
        ...     loaded = load(os.path.join(tmp, "model.npz"))
        >>> bool(np.array_equal(loaded.predict(X), reg.predict(X)))
        True
        """
        save(self, path)

    @property
    def loss_curve_(self) -> list[float]:
        """The objective after each step that records one (``history_``'s ``objective``):
        half the squared error, or a classifier's cross-entropy, plus ``alpha / 2`` times the
        squared weights, per sample, as scikit-learn's MLP records its loss. Steps of BPLS
        without its safeguard record none."""
        check_is_fitted(self, "history_")
        return [entry["objective"] for entry in self.history_ if "objective" in entry]

    def to_torch(self, *, output_activation: bool = True) -> Any:
        """The fitted network as a ``torch.nn.Sequential`` (weights copied, same dtype).

        Its outputs are those of the fitted network (``predict`` of a regressor; for a
        classifier, the scores whose row-wise argmax is ``predict``), to rounding.
        ``output_activation=False`` leaves out the output activation, giving logits to train
        further with a cross-entropy loss (a closed-form start for gradient descent).
        Needs PyTorch (the extra ``lsqnet[torch]``).
        """
        check_is_fitted(self, "network_")
        from .._torch import to_torch

        return to_torch(self.network_, output_activation=output_activation)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


def _lm_affordable(sizes: tuple[int, ...], n_rows: int) -> bool:
    """Whether ``method="auto"`` trains a network of ``sizes`` on ``n_rows`` rows by
    Levenberg–Marquardt: at most :data:`LM_MAX_PARAMETERS` parameters ``p``, and a step's
    ``2 n k p^2`` at most :data:`LM_MAX_STEP_FLOPS`."""
    p = levenberg_marquardt.n_parameters(sizes)
    return p <= LM_MAX_PARAMETERS and 2 * n_rows * sizes[-1] * p**2 <= LM_MAX_STEP_FLOPS


def _rows(source: Any) -> int:
    """The rows of a chunked source where it knows them without a pass (Dask arrays, NumPy
    arrays read in blocks), else 0."""
    return int(getattr(getattr(source, "X", None), "shape", (0,))[0])
