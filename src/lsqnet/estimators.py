"""scikit-learn estimators over BPLS: :class:`BPLSRegressor` and :class:`BPLSClassifier`.

Thin wrappers: ``__init__`` stores arguments, ``fit`` validates them and the data, calls
:func:`lsqnet.bpls.fit_bpls` (data in memory) or :func:`lsqnet.streaming.fit_bpls_chunked`
(``batch_size``, ``fit_chunks``, dask arrays), checks the fitted weights are finite, and sets
attributes named as in scikit-learn's ``MLPRegressor``/``MLPClassifier`` (``coefs_``,
``intercepts_``, ``n_layers_``, ``n_iter_``, ``classes_``) plus ``history_``, ``flops_`` and
``solver_``. ``partial_fit`` (single-layer models) adds Gram statistics chunk by chunk; a
failed fit of any kind leaves the estimator as it was.

PyTorch tensors (any array API library) are fitted in their own namespace and on their
device (:mod:`lsqnet._array_api`): tensors in, tensors out.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import numbers
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import DataConversionWarning, UndefinedMetricWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import assert_all_finite
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _flops, _validation
from . import activations as _activations
from ._array_api import describe, device, get_namespace, is_array_api, numpy_dtype
from ._dask import DaskChunks, is_dask_array
from ._validation import check_option, check_random_state, check_scalar
from .bpls import (
    CURVATURE_BOUNDS,
    HIDDEN_TARGETS,
    ITERATION_RULES,
    LAYER_METHODS,
    BPLSOptions,
    _metrics,
    check_finite,
    class_targets,
    fit_bpls,
)
from .exceptions import LSQNetError, TargetClippingWarning
from .features import INITS, PATCH_SIZE, check_image_shape, check_patch_size, make_feature_map
from .layers import Dense, _gram_solver
from .network import Network, init_network
from .solvers import SOLVERS, GramStats
from .solvers._lstsq import factorize_with_fallback
from .streaming import (
    ArrayChunks,
    IterableChunks,
    check_chunked_options,
    fit_bpls_chunked,
    sampled_inputs,
)

__all__ = ["BPLSClassifier", "BPLSRegressor"]

_DTYPES = (None, "float32", "float64")


@contextlib.contextmanager
def _unchanged_on_error(estimator: BaseEstimator) -> Iterator[None]:
    """Restore every attribute of ``estimator`` if the enclosed fit raises: a failed fit
    leaves a previously fitted model as it was."""
    state = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise


@dataclass(frozen=True, eq=False)
class _Targets:
    """A fit's output-space targets, made for any block of rows: regression targets ``Y``
    (n, k), or class indices ``labels`` one-hot encoded block by block; ``attributes`` are
    the fitted attributes they imply (``classes_``, ``_y_1d``)."""

    Y: np.ndarray | None
    labels: np.ndarray | None
    n_outputs: int
    activation: str
    dtype: np.dtype
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def classification(self) -> bool:
        return "classes_" in self.attributes

    def block(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self.labels is None:
            return self.Y[start:stop], None
        indices = self.labels[start:stop]
        return class_targets(indices, self.n_outputs, self.activation, self.dtype), indices


def _check_monitor(monitor: Any, owner: str) -> None:
    if monitor is not None and not callable(monitor):
        raise TypeError(
            f"{owner}: monitor must be a callable monitor(entry, network) or None. "
            f"Got {monitor!r} instead."
        )


def _check_block(block: np.ndarray, start: int, *, owner: str) -> None:
    """Raise naming X and the rows if a block read from X is not finite."""
    if not np.isfinite(block).all():
        raise ValueError(
            f"{owner}: invalid X: rows {start} to {start + block.shape[0] - 1} contain NaN or "
            f"infinity."
        )


def _convert_block(
    X_block: Any, y_block: np.ndarray, *, dtype: np.dtype, owner: str, n_outputs: int,
    activation: str, classification: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A dask block and its targets as a chunk ``(X, Y, labels)`` (run on a worker)."""
    X = np.asarray(X_block, dtype=dtype)
    _check_block(X, 0, owner=owner)
    if not classification:
        return X, np.asarray(y_block, dtype=dtype), None
    return X, class_targets(y_block, n_outputs, activation, dtype), y_block


class _ChunkChecker:
    """Checks the ``(X, y)`` chunks of ``fit_chunks`` and converts them for a pass."""

    def __init__(self, estimator: _BaseBPLS, owner: str) -> None:
        self.estimator = estimator
        self.owner = owner
        self.n_features: int | None = None
        self.dtype: np.dtype | None = None
        self.classes: np.ndarray | None = None
        self.targets: _Targets | None = None

    def _X(self, X: Any, index: int | None) -> np.ndarray:
        est = self.estimator
        chunk = "a chunk read again" if index is None else f"chunk {index}"
        try:
            X = check_array(X, dtype=est._dtype(), input_name="X")
        except (ValueError, TypeError) as err:
            raise _invalid(err, self.owner, f"X of {chunk}") from err
        if self.n_features is None:
            self.n_features, self.dtype = X.shape[1], X.dtype
        elif X.shape[1] != self.n_features:
            raise ValueError(
                f"{self.owner}: invalid X of {chunk}: it has {X.shape[1]} features but "
                f"the first chunk has {self.n_features}."
            )
        elif X.dtype != self.dtype:
            raise ValueError(
                f"{self.owner}: invalid X of {chunk}: it is {X.dtype} but the first chunk "
                f"is {self.dtype}; give every chunk one dtype, or set dtype."
            )
        return X

    def _pair(self, chunk: Any, index: int) -> tuple[Any, Any]:
        try:
            X, y = chunk
        except (TypeError, ValueError):
            raise TypeError(
                f"{self.owner}: chunk {index} is not an (X, y) pair; got "
                f"{type(chunk).__name__}."
            ) from None
        return X, y

    def first_pass(self, chunks: Iterable[Any], classes: Any) -> _Targets:
        """Check every chunk; return the targets' summary (outputs, dtype, attributes)."""
        est = self.estimator
        labels, n_targets, index = [], None, -1
        for index, chunk in enumerate(chunks):
            X, y = self._pair(chunk, index)
            X = self._X(X, index)
            y = est._validate_y(y, X.dtype)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"{self.owner}: chunk {index} has {X.shape[0]} rows of X but "
                    f"{y.shape[0]} of y."
                )
            if is_classifier(est):
                labels.append(np.unique(y))
            elif n_targets is None:
                n_targets = y.shape[1:]
            elif y.shape[1:] != n_targets:
                raise ValueError(
                    f"{self.owner}: invalid y of chunk {index}: its shape {y.shape} does not "
                    f"match the first chunk's targets {n_targets}."
                )
        if index < 0:
            raise ValueError(f"{self.owner}: chunks is empty; at least one chunk is needed.")
        if not is_classifier(est):
            k = n_targets[0] if n_targets else 1
            self.targets = _Targets(
                None, None, k, est.output_activation, self.dtype, {"_y_1d": not n_targets}
            )
            return self.targets
        seen = np.unique(np.concatenate(labels))
        if classes is not None:
            classes = np.unique(column_or_1d(classes))
            unseen = np.setdiff1d(seen, classes)
            if unseen.size:
                raise ValueError(
                    f"{self.owner}: invalid y: the chunks hold labels not in classes: "
                    f"{unseen[:10]!r}."
                )
            seen = classes
        if seen.shape[0] < 2:
            raise ValueError(
                f"{self.owner}: a classifier needs at least 2 classes; the chunks hold "
                f"{seen!r}."
            )
        self.classes = seen
        self.targets = _Targets(
            None, np.empty(0, np.intp), seen.shape[0], est.output_activation, self.dtype,
            {"classes_": seen},
        )
        return self.targets

    def convert(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """A chunk as ``(X, Y, labels)`` for a pass (checked again: files may change)."""
        X = self._X(X, None)
        y = self.estimator._validate_y(y, X.dtype)
        if self.classes is not None:
            indices = np.searchsorted(self.classes, y)
            indices = np.minimum(indices, self.classes.shape[0] - 1)
            if not np.array_equal(self.classes[indices], y):
                raise ValueError(f"{self.owner}: a chunk's labels changed between passes.")
            return X, class_targets(indices, *self._class_args()), indices
        Y = y[:, None] if y.ndim == 1 else y
        return X, Y, None

    def _class_args(self) -> tuple[int, str, np.dtype]:
        return self.classes.shape[0], self.estimator.output_activation, self.dtype


def _single_layer(estimator: _BaseBPLS) -> bool:
    """``partial_fit`` exists for single-layer models only (``hidden_layer_sizes=()``)."""
    sizes = estimator.hidden_layer_sizes
    try:
        n_hidden = 1 if isinstance(sizes, numbers.Integral) else len(tuple(sizes))
    except TypeError:  # not sizes at all: partial_fit's parameter check says so
        return True
    if n_hidden:
        raise AttributeError(
            f"{type(estimator).__name__}.partial_fit needs a single-layer model "
            f"(hidden_layer_sizes=()), which can be fitted exactly chunk by chunk; a network "
            f"with hidden layers cannot (each BPLS sweep needs every sample). For data larger "
            f"than memory, set batch_size and pass a NumPy memmap to fit, or pass a dask array "
            f"(lsqnet.streaming)."
        )
    return True


def _user_stacklevel() -> int:
    """The ``stacklevel`` of a warning that points at the first caller outside lsqnet."""
    import sys

    frame, level = sys._getframe(1), 1
    package = __name__.rpartition(".")[0]
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package + "."):
        frame, level = frame.f_back, level + 1
    return level


def _checked_tensor_X(X: Any, owner: str, dtype: Any) -> Any:
    """A tensor ``X`` checked as 2-D, finite numbers of ``dtype`` (None: its float dtype)."""
    try:
        return _validation.check_array(X, "X", dtype=dtype)
    except (ValueError, TypeError) as err:
        raise _invalid(err, owner, "X") from err


def _on_device_of(X: Any, y: Any, owner: str) -> Any:
    """``y`` as an array of ``X``'s namespace on ``X``'s device. A tensor must be there
    already (nothing is moved between devices behind the user's back); array-likes (NumPy
    arrays, lists) are copied there."""
    if is_array_api(y):
        if get_namespace(y) is not get_namespace(X) or device(y) != device(X):
            raise ValueError(
                f"{owner}: invalid y: X is {describe(X)} and y is {describe(y)}; "
                f"pass both on one device."
            )
        return y
    try:
        return get_namespace(X).asarray(np.asarray(y), device=device(X))
    except (ValueError, TypeError, RuntimeError) as err:
        raise ValueError(
            f"{owner}: invalid y: it cannot be an array of X's library on {device(X)} "
            f"({describe(y)}): {err}"
        ) from err


def _check_tensor_labels(y: Any) -> Any:
    """Class labels given as a tensor: 1-D (a column is raveled with scikit-learn's warning),
    of integers, booleans, or floats that are finite whole numbers."""
    xp = get_namespace(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples, ), for example using ravel().",
            DataConversionWarning, stacklevel=_user_stacklevel(),
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {tuple(y.shape)} instead.")
    if not xp.isdtype(y.dtype, ("bool", "integral", "real floating")):
        raise TypeError(f"class labels must be numbers; got a tensor of dtype {y.dtype}.")
    if xp.isdtype(y.dtype, "real floating"):
        _validation.check_array(y, "y", ndim=1)  # finite
        if bool(xp.any(y != xp.round(y))):
            raise ValueError(
                "Unknown label type: continuous. Maybe you are trying to fit a classifier, "
                "which expects discrete classes on a regression target with continuous values."
            )
    return y


def _tensor_weights(like: Any, sample_weight: Any, owner: str) -> Any:
    """Sample weights for a score on tensors: ones, or ``sample_weight`` checked, float64."""
    xp = get_namespace(like)
    n = like.shape[0]
    if sample_weight is None:
        return xp.ones(n, dtype=xp.float64, device=device(like))
    w = _on_device_of(like, sample_weight, owner)
    try:
        w = _validation.check_sample_weight(w, n, 1, np.float64)
    except (ValueError, TypeError) as err:
        raise _invalid(err, owner, "sample_weight") from err
    return w


def _weighted_mean(correct: Any, sample_weight: Any, owner: str) -> float:
    """The (weighted) fraction of true entries of ``correct``: accuracy on tensors."""
    xp = get_namespace(correct)
    w = _tensor_weights(correct, sample_weight, owner)
    return float(xp.sum(w * xp.astype(correct, w.dtype)) / xp.sum(w))


def _r2_score(y: Any, y_pred: Any, sample_weight: Any) -> float:
    """scikit-learn's ``r2_score`` (uniform average over targets, finite by its
    ``force_finite`` rule) computed on tensors, in float64."""
    xp = get_namespace(y_pred)
    owner = "BPLSRegressor.score"
    if y.ndim != y_pred.ndim or y.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"{owner}: invalid y: shape {tuple(y.shape)} does not match the predictions' "
            f"{tuple(y_pred.shape)}."
        )
    Y = xp.astype(y[:, None] if y.ndim == 1 else y, xp.float64)
    P = xp.astype(y_pred[:, None] if y_pred.ndim == 1 else y_pred, xp.float64)
    if Y.shape[0] < 2:
        warnings.warn("R^2 score is not well-defined with less than two samples.",
                      UndefinedMetricWarning, stacklevel=_user_stacklevel())
        return float("nan")
    w = _tensor_weights(Y, sample_weight, owner)[:, None]
    mean = xp.sum(w * Y, axis=0) / xp.sum(w)
    num = xp.sum(w * (Y - P) ** 2, axis=0)
    den = xp.sum(w * (Y - mean) ** 2, axis=0)
    r2 = xp.where(den != 0, 1 - num / xp.where(den != 0, den, 1.0), xp.where(num == 0, 1.0, 0.0))
    return float(xp.mean(r2))


def _invalid(err: Exception, owner: str, name: str) -> Exception:
    """``err`` (a ValueError or TypeError from scikit-learn or NumPy) as the same type, with a
    message that names the argument ``name`` and keeps the original text."""
    cls = ValueError if isinstance(err, ValueError) else TypeError
    return cls(f"{owner}: invalid {name}: {err}")

#: Named parameter sets for :meth:`BPLSClassifier.from_preset` (and the regressor's).
#: ``"paper"`` follows the BPLS paper's description literally (U[-1, 1] initialisation, no
#: ridge, minimum-norm hidden targets, later sweeps on the misclassified samples only).
#: ``"instant"``, ``"fast"`` and ``"accurate"`` are the best configurations found on
#: validation splits of MNIST and Fashion-MNIST (``benchmarks/study_presets.py --family
#: cross-entropy``, benchmarks/FINDINGS.md) for about half a second, about one second and
#: under ten seconds of training on 2 cores: a wide layer of ReLU units with
#: ``init="auto"`` (local receptive fields, ``"patches"``, when ``image_shape`` is given;
#: centred training samples, ``"samples"``, on any other table), only the output layer
#: solved, then fitted to the softmax cross-entropy by ``output_iter`` least-squares steps
#: (BPLS sweeps improved accuracy less per second than width did; windows beat whole-sample
#: units by about a point on images; the cross-entropy steps add one to two).
#: ``accurate``'s ridge of 20 keeps its float32 Gram matrix on Cholesky. Their windows are the
#: default ``patch_size``, 7 to 14 pixels on 28 x 28 images, the best for MNIST; for
#: Fashion-MNIST ``patch_size=(0.15, 0.36)`` and ``init="contrasts"`` were better on
#: validation, and ``lsqnet bench`` chooses the units on its validation split.
#: :class:`BPLSRegressor` takes them without the softmax output and its steps.
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "paper": MappingProxyType(dict(
        init="uniform", alpha=0.0, hidden_target="min_norm", iteration_rule="misclassified",
        backprop_ridge=0.0, max_iter=10,
    )),
    "instant": MappingProxyType(dict(
        hidden_layer_sizes=(384,), activation="relu", init="auto", max_iter=0,
        refit_output=True, alpha=10.0, output_activation="softmax", output_iter=1,
    )),
    "fast": MappingProxyType(dict(
        hidden_layer_sizes=(768,), activation="relu", init="auto", max_iter=0,
        refit_output=True, alpha=10.0, output_activation="softmax", output_iter=1,
    )),
    "accurate": MappingProxyType(dict(
        hidden_layer_sizes=(3072,), activation="relu", init="auto", max_iter=0,
        refit_output=True, alpha=20.0, output_activation="softmax", output_iter=5,
    )),
})


class _BaseBPLS(BaseEstimator):
    """Parameters and fitting shared by the regressor and the classifier."""

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "tanh",
        output_activation: str = "identity",
        alpha: float = 1.0,
        solver: str = "auto",
        max_iter: int = 10,
        tol: float = 1e-4,
        init: str = "fan_in",
        init_scale: float = 1.0,
        image_shape: tuple[int, int] | None = None,
        patch_size: tuple[float, float] = PATCH_SIZE,
        target_eps: float = 0.01,
        hidden_target: str = "closest",
        layer_method: str = "inverse",
        iteration_rule: str = "all",
        backprop_ridge: float = 1e-3,
        refit_output: bool = False,
        output_iter: int = 0,
        batch_size: int | None = None,
        random_state: Any = None,
        dtype: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.init_scale = init_scale
        self.image_shape = image_shape
        self.patch_size = patch_size
        self.target_eps = target_eps
        self.hidden_target = hidden_target
        self.layer_method = layer_method
        self.iteration_rule = iteration_rule
        self.backprop_ridge = backprop_ridge
        self.refit_output = refit_output
        self.output_iter = output_iter
        self.batch_size = batch_size
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # -- validation ----------------------------------------------------------------------
    _output_activations: tuple[str, ...] = ()

    def _validate_params_(self) -> BPLSOptions:
        owner = type(self).__name__
        sizes = self.hidden_layer_sizes
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
                f"ints (() for a single layer). Got {self.hidden_layer_sizes!r} instead."
            )
        self._sizes = tuple(int(s) for s in sizes)
        hidden = check_option(self.activation, "activation", owner, tuple(_activations.ACTIVATIONS))
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
        if not isinstance(self.refit_output, bool | np.bool_):
            raise TypeError(
                f"The 'refit_output' parameter of {owner} must be a bool. "
                f"Got {self.refit_output!r} instead."
            )
        if self.dtype is not None:
            check_option(self.dtype, "dtype", owner, ("float32", "float64"))
        if self.batch_size is not None:
            check_scalar(self.batch_size, "batch_size", owner, kind=int, low=1)
        check_scalar(self.verbose, "verbose", owner, kind=int, low=0)
        check_random_state(self.random_state, owner, validate_only=True)
        opts = BPLSOptions(
            alpha=check_scalar(self.alpha, "alpha", owner, low=0.0),
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
            max_iter=check_scalar(self.max_iter, "max_iter", owner, kind=int, low=0),
            tol=check_scalar(self.tol, "tol", owner, low=0.0),
            refit_output=bool(self.refit_output),
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

    def _fit_checked(self, X: Any, y: Any, monitor: Any):
        """``fit``: the data in memory, in blocks of ``batch_size`` rows, or on Dask."""
        with _unchanged_on_error(self):
            self._options = self._validate_params_()
            _check_monitor(monitor, f"{type(self).__name__}.fit")
            if is_dask_array(X) or is_dask_array(y):
                return self._fit_dask(X, y, monitor)
            if is_array_api(X) or is_array_api(y):
                return self._fit_array_api(X, y, monitor)
            if self.batch_size is not None:
                return self._fit_blocks(X, y, monitor)
            X, y = self._validate_X_y(X, y)
            targets = self._targets(y, X.dtype)
            return self._fit(X, targets, monitor)

    def _fit(self, X: Any, targets: _Targets, monitor: Any, source: Any = None):
        """Initialise and train the network on ``X`` in memory, or on the chunks of
        ``source`` (``X`` is then None), and set the fitted attributes."""
        opts = self._options
        rng = check_random_state(self.random_state, type(self).__name__)
        n_features = X.shape[1] if source is None else source.n_features
        sizes = (n_features, *self._sizes, targets.n_outputs)
        dtype = np.dtype(targets.dtype)
        if source is not None:
            check_chunked_options(opts)
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
        Y, labels = targets.block(0, X.shape[0]) if source is None else (None, None)
        ledger = _flops.FlopLedger()
        with _flops.counting(ledger):
            samples = X
            if source is not None and features.needs_inputs:
                samples = sampled_inputs(source)  # read by init_network: two or three passes
            network = init_network(
                sizes, self.activation, self.output_activation, features, rng, dtype,
                X=samples, Y=Y, scale=float(self.init_scale),
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
            return monitor(entry, network) if monitor is not None else None

        hook = hook if verbose or monitor is not None else None
        for name, value in targets.attributes.items():  # classes_ for monitors during fit
            setattr(self, name, value)
        if source is None:
            result = fit_bpls(X, Y, network, opts, labels=labels, monitor=hook, ledger=ledger)
        else:
            result = fit_bpls_chunked(
                source, network, opts, classification=targets.classification,
                monitor=hook, ledger=ledger, init_passes=getattr(samples, "passes", 0),
            )
        self._set_fitted(result.network, targets, result)
        self.n_iter_ = result.n_iter
        self.history_ = result.history
        self.loss_ = result.loss
        self.flops_ = result.ledger.total
        self.flops_exact_ = result.ledger.exact
        self.solver_ = result.solver
        # A single-layer model keeps the statistics of its solve, so partial_fit can go on
        self.__dict__.pop("_partial_stats", None)
        self.__dict__.pop("_partial_ledger", None)
        if (
            len(result.network.layers) == 1 and result.first_layer_stats is not None
            and not opts.output_iter
        ):
            self._partial_stats = result.first_layer_stats
            self._partial_ledger = copy.deepcopy(result.ledger)
        return self

    def _set_fitted(self, network: Network, targets: _Targets, result: Any) -> None:
        xp = get_namespace(network.layers[0].weight)
        for i, layer in enumerate(network.layers):
            finite = xp.all(xp.isfinite(layer.weight)) and xp.all(xp.isfinite(layer.bias))
            if not bool(finite):
                raise LSQNetError(
                    f"{type(self).__name__}: layer {i} has non-finite weights after fitting "
                    f"(sizes {network.sizes}, solver {result.solver!r}). Increase alpha or "
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

    # -- fits on tensors (the array API) -------------------------------------------------
    def _fit_array_api(self, X: Any, y: Any, monitor: Any):
        """``fit`` on tensors (PyTorch, on any device): checked and trained in their namespace,
        with the fitted attributes on ``X``'s device."""
        owner = type(self).__name__
        self._require_y(y)
        if not is_array_api(X):
            raise ValueError(
                f"{owner}: invalid X: y is {describe(y)} but X is "
                f"{describe(X)}: pass X as a tensor on y's device (then the fit runs "
                f"there), or y as a NumPy array."
            )
        if self.batch_size is not None:
            raise ValueError(
                f"{owner}: batch_size reads NumPy arrays and memmaps block by block; X is "
                f"{describe(X)}. Fit it with batch_size=None, in its device's memory."
            )
        X = _checked_tensor_X(X, owner, self.dtype)
        y = _on_device_of(X, y, owner)
        self._reset_features(X.shape[1])
        y = self._validate_y(y, X.dtype)
        check_consistent_length(X, y)
        return self._fit(X, self._targets(y, X.dtype), monitor)

    def _check_tensor_X(self, X: Any) -> Any:
        """``X`` for ``predict`` of a model fitted on tensors: a tensor of the fitted
        weights' library and device, with ``n_features_in_`` columns."""
        owner = type(self).__name__
        weight = self.coefs_[0]
        if not is_array_api(X) or get_namespace(X) is not get_namespace(weight) or (
            device(X) != device(weight)
        ):
            raise ValueError(
                f"{owner}: invalid X: the model was fitted on {describe(weight)}, and "
                f"X is {describe(X)}. Pass X as a tensor on {device(weight)}."
            )
        X = _checked_tensor_X(X, owner, weight.dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {owner} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    # -- fits from blocks of rows ---------------------------------------------------------
    def _fit_blocks(self, X: Any, y: Any, monitor: Any):
        """``fit`` with ``batch_size``: ``X`` is read ``batch_size`` rows at a time."""
        owner = type(self).__name__
        if not isinstance(X, np.ndarray) or X.dtype.kind not in "biuf":
            # not an array of numbers (or a memmap): in memory anyway, converted here
            X = self._validate_X(X, reset=True, dtype=self._dtype())
        else:
            # Shape errors worded as scikit-learn does, and n_features_in_, from the first
            # row; the values of every block are checked as it is read.
            self._validate_X(X[:1] if X.ndim else X, reset=True, dtype=self._dtype())
        dtype, targets = self._row_targets(X, y)
        source = ArrayChunks(
            X, targets.block, int(self.batch_size), dtype,
            check=functools.partial(_check_block, owner=owner),
        )
        return self._fit(None, targets, monitor, source)

    def _fit_dask(self, X: Any, y: Any, monitor: Any):
        """``fit`` on a ``dask.array``: every pass runs on the workers that hold the blocks."""
        import dask.array as da

        owner = type(self).__name__
        if not is_dask_array(X):
            raise TypeError(
                f"{owner}: invalid X: y is a dask array, so X must be one too (with the same "
                f"row chunks); got {type(X).__name__}."
            )
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(
                f"{owner}: invalid X: it must be a 2-D dask array with at least one sample and "
                f"one feature; got shape {X.shape}."
            )
        if len(X.chunks[1]) != 1:
            raise ValueError(
                f"{owner}: invalid X: the dask array is chunked along its features (column "
                f"chunks {X.chunks[1]}); every block must hold whole rows. Use "
                f"X.rechunk({{1: -1}})."
            )
        if np.dtype(X.dtype).kind not in "biuf":
            raise ValueError(
                f"{owner}: invalid X: it must hold real numbers; got dtype {X.dtype}."
            )
        self._reset_features(X.shape[1])
        dtype, targets = self._row_targets(X, y.compute() if is_dask_array(y) else y)
        per_row = targets.labels if targets.labels is not None else targets.Y
        y_blocks = da.from_array(per_row, chunks=(X.chunks[0], *per_row.shape[1:]))
        convert = functools.partial(
            _convert_block, dtype=dtype, owner=owner, n_outputs=targets.n_outputs,
            activation=self.output_activation, classification=targets.classification,
        )
        return self._fit(None, targets, monitor, DaskChunks(X, y_blocks, convert))

    def fit_chunks(self, chunks: Any, *, classes: Any = None, monitor: Any = None):
        """Fit from ``chunks``, a collection of ``(X, y)`` pairs read once per pass.

        For data that does not fit in memory: ``chunks`` is iterated anew for every pass over
        the data (a list, or any object whose ``__iter__`` starts again from the first chunk,
        e.g. one that reads files; a one-shot iterator or generator is refused), and memory
        holds one chunk at a time. The first pass checks every chunk (same features, same
        dtype, no empty chunk) and, for a classifier, collects the labels unless ``classes``
        lists them. The result equals ``fit`` on the chunks concatenated, up to rounding;
        :mod:`lsqnet.streaming` says how many passes a fit makes. A failed fit leaves the
        estimator as it was.
        """
        owner = f"{type(self).__name__}.fit_chunks"
        with _unchanged_on_error(self):
            self._options = self._validate_params_()
            _check_monitor(monitor, owner)
            if isinstance(chunks, Iterator) or not isinstance(chunks, Iterable):
                raise TypeError(
                    f"{owner}: chunks must be a collection of (X, y) pairs that can be "
                    f"iterated more than once (a fit reads the data several times): a list, or "
                    f"an object whose __iter__ starts again. Got {type(chunks).__name__}."
                )
            checked = _ChunkChecker(self, owner)
            summary = checked.first_pass(chunks, classes)
            self._reset_features(checked.n_features)
            source = IterableChunks(chunks, checked.convert, checked.n_features)
            return self._fit(None, summary, monitor, source)

    def _row_targets(self, X: Any, y: Any) -> tuple[np.dtype, _Targets]:
        """The computation dtype for ``X`` (read block by block) and the targets of its rows
        from ``y`` (in memory)."""
        if self.dtype is not None:
            dtype = np.dtype(self.dtype)
        else:
            dtype = np.dtype(X.dtype)
            dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        y = self._validate_y(y, dtype)
        check_consistent_length(np.empty((X.shape[0], 0)), y)
        return dtype, self._targets(y, dtype)

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
            raise _invalid(err, type(self).__name__, "y") from err

    # -- partial_fit ----------------------------------------------------------------------
    def _partial_fit(self, X: Any, y: Any, classes: Any = None):
        owner = type(self).__name__
        with _unchanged_on_error(self):
            opts = self._validate_params_()
            self._options = opts
            if opts.layer_method != "inverse" or opts.solver not in ("auto", "cholesky"):
                raise ValueError(
                    f"{owner}.partial_fit adds up Gram statistics chunk by chunk: it needs "
                    f"layer_method='inverse' and solver 'auto' or 'cholesky'; got "
                    f"layer_method={opts.layer_method!r}, solver={opts.solver!r}."
                )
            if opts.output_iter:
                raise ValueError(
                    f"{owner}.partial_fit solves the least-squares fit of the chunks so far; "
                    f"the cross-entropy steps of output_iter={opts.output_iter} need all the "
                    f"data at every step. Use output_iter=0, or fit (with batch_size for data "
                    f"larger than memory)."
                )
            stats = getattr(self, "_partial_stats", None)
            first = stats is None
            if first and hasattr(self, "network_"):
                raise ValueError(
                    f"{owner}.partial_fit continues the Gram statistics of earlier fits; "
                    f"this model holds none (it was loaded from a file, or fitted with "
                    f"iteration_rule='misclassified', layer_method='weighted' or solver 'qr' "
                    f"or 'svd'). Call partial_fit on a new estimator "
                    f"(sklearn.base.clone(model)), or refit with fit."
                )
            started = time.perf_counter()
            X = self._validate_X(X, reset=first, dtype=self._dtype())
            if not first and X.dtype != stats.dtype:
                raise ValueError(
                    f"{owner}.partial_fit: invalid X: this chunk is {X.dtype} but earlier "
                    f"chunks were {stats.dtype}; pass chunks of one dtype, or set "
                    f"dtype={str(stats.dtype)!r}."
                )
            y = self._validate_y(y, X.dtype)
            check_consistent_length(X, y)
            targets = self._partial_targets(y, X.dtype, classes, first=first)
            Y, labels = targets.block(0, X.shape[0])
            ledger = _flops.FlopLedger() if first else copy.deepcopy(self._partial_ledger)
            with _flops.counting(ledger):
                act = _activations.get(self.output_activation)
                clipped, _ = act.clip(Y, opts.target_eps)
                T = act.inverse(clipped)
                _flops.record("elementwise", 2 * _flops.elementwise(*Y.shape))
                # Each chunk's sums around its own column means (+ brings them to the first
                # chunk's): float32 sums of columns with large means keep the centred Gram
                # matrix accurate, as in fit's chunked path.
                chunk = GramStats.around_means(X, T)
                check_finite(chunk, owner=f"{owner}.partial_fit")
                stats = chunk if first else stats + chunk
                factor = factorize_with_fallback(
                    stats, opts.alpha, fit_intercept=True, solver=_gram_solver(opts.solver),
                    rcond=None, owner=f"{owner}.partial_fit",
                )
                r = stats.solve_with(factor, fit_intercept=True)
                layer = Dense(
                    r.coef.astype(X.dtype, copy=False), r.intercept.astype(X.dtype), act.name
                )
                network = Network((layer,))
                loss, acc = _metrics(network.forward(X), Y, labels)
            self._set_fitted(network, targets, r)
            history = [] if first else list(self.history_)
            elapsed = time.perf_counter() - started + (history[-1]["time"] if history else 0.0)
            history.append({
                "iteration": len(history) + 1, "layers": 1, "n_samples": int(X.shape[0]),
                "loss": loss, "accuracy": acc, "time": elapsed, "flops": ledger.total,
            })
            self.history_ = history
            self.n_iter_ = len(history)
            self.loss_ = loss
            self.flops_ = ledger.total
            self.flops_exact_ = ledger.exact
            self.solver_ = r.solver
            self._partial_stats = stats
            self._partial_ledger = ledger
            return self

    def _dtype(self) -> Any:
        # validate_data keeps the first listed dtype the input already has, else converts.
        return np.dtype(self.dtype) if self.dtype is not None else [np.float64, np.float32]

    def _validate_X(self, X: Any, *, reset: bool, dtype: Any) -> np.ndarray:
        try:
            return validate_data(self, X, reset=reset, dtype=dtype)
        except (ValueError, TypeError) as err:
            raise _invalid(err, type(self).__name__, "X") from err

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
        from ._persistence import save_estimator  # here: _persistence depends on this module

        save_estimator(self, path)

    def to_torch(self, *, output_activation: bool = True) -> Any:
        """The fitted network as a ``torch.nn.Sequential`` (weights copied, same dtype).

        Its outputs are those of the fitted network (``predict`` of a regressor; for a
        classifier, the scores whose row-wise argmax is ``predict``), to rounding.
        ``output_activation=False`` leaves out the output activation, giving logits to train
        further with a cross-entropy loss (a closed-form start for gradient descent).
        Needs PyTorch (the extra ``lsqnet[torch]``).
        """
        check_is_fitted(self, "network_")
        from ._torch import to_torch

        return to_torch(self.network_, output_activation=output_activation)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class BPLSRegressor(RegressorMixin, _BaseBPLS):
    """A fully-connected network regressor trained in closed form by BPLS.

    Every layer is solved by least squares, from the output layer back to the input
    (Tomic, Matos-Carvalho, Beko, arXiv 2401.06699); see :mod:`lsqnet.bpls`.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer; ``()`` gives a single layer (:func:`lsqnet.fit_layer`).
    activation : str, default="tanh"
        Hidden activation, any name in :data:`lsqnet.activations.ACTIVATIONS` but softmax.
    output_activation : str, default="identity"
        Any invertible activation; targets outside its range are clipped with a warning.
    alpha : float, default=1.0
        Ridge penalty of every layer's least-squares solve (not on intercepts).
    solver : {"auto", "cholesky", "qr", "svd"}, default="auto"
    max_iter : int, default=10
        Maximum number of backward sweeps; 0 (with ``refit_output=True``) solves only the
        output layer, on the initial hidden layers (an extreme learning machine).
    tol : float, default=1e-4
        Relative improvement of the training loss below which sweeps stop.
    init : {"fan_in", "uniform", "samples", "patches", "contrasts", "auto"}, default="fan_in"
        The first layer's feature map (:mod:`lsqnet.features`). ``"uniform"`` is the
        paper's U[-1, 1]; ``"fan_in"`` scales it by sqrt(3 / n_in); ``"samples"`` makes each
        first-layer unit a centred, unit-norm training sample; ``"patches"`` (images: needs
        ``image_shape``) a local receptive field: a centred training sample kept inside a
        random window, with a random threshold; ``"contrasts"`` (images, data in memory) a
        random window whose weights are fitted by ridge least squares to the difference of
        two random target columns (two classes), thresholded likewise; ``"auto"`` is
        ``"patches"`` when ``image_shape`` is given and ``"samples"`` otherwise.
    init_scale : float, default=1.0
        Multiplies every initial weight (how far into the activation's non-linear range the
        initial pre-activations reach).
    image_shape : (int, int), default=None
        Rows and columns of the images whose pixels are the features (row by row), for the
        image maps ``"patches"`` and ``"contrasts"`` (and ``"auto"``); ``rows * cols`` must
        be the number of features. None: the features are not an image.
    patch_size : (float, float), default=(0.25, 0.5)
        The smallest and largest side of the windows of the image maps, as fractions of the
        image's shorter side, in (0, 1] (7 to 14 pixels for 28 x 28 images; (0.15, 0.36), 4
        to 10 pixels, suited Fashion-MNIST better and MNIST worse); unused by other inits.
    target_eps : float, default=0.01
        Margin keeping desired outputs inside each activation's open range.
    hidden_target : {"closest", "min_norm"}, default="closest"
    layer_method : {"inverse", "weighted"}, default="inverse"
    iteration_rule : {"all", "misclassified"}, default="all"
        Unused by the regressor (every sweep uses all samples).
    backprop_ridge : float, default=1e-3
    refit_output : bool, default=False
        After the sweeps, solve the output layer once more on the final hidden layers.
    output_iter : int, default=0
        Then at most that many least-squares steps fitting the output layer to the
        cross-entropy instead of the squared error (output_activation "sigmoid" or
        "softmax"): each refits it to working targets, its pre-activations moved against the
        residual, with the one factorisation of its input's Gram matrix
        (:func:`lsqnet.bpls.refine_output`). Each adds a ``history_`` entry; the last
        step's network is returned.
    batch_size : int or None, default=None
        None fits in memory. An int fits from blocks of that many rows (read one at a time
        from ``X``, which may be a NumPy memmap larger than memory): memory does not grow
        with the number of samples, and the result equals the in-memory fit up to rounding
        (:mod:`lsqnet.streaming`, which also says how many passes over ``X`` a fit makes).
        Blocks of 20,000 rows or more keep the Gram accumulation at 0.7 or more of the
        BLAS's matrix-multiply speed, 5000 at about 0.66 (``benchmarks/bench_gram.py``). A
        ``dask.array`` ``X`` is always fitted block by block, on the Dask workers (blocks of
        20,000 rows or more, likewise).
    random_state : int, RandomState instance or None, default=None
    dtype : {None, "float32", "float64"}, default=None
        Computation dtype; None keeps float32 input as float32 and uses float64 otherwise.
    verbose : int, default=0

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape (n_in, n_out) of layer i.
    intercepts_ : list of ndarray
    n_layers_ : int
        Number of layers including input and output (scikit-learn's convention).
    n_iter_ : int
        Sweeps run.
    history_ : list of dict
        Per sweep: iteration, n_samples, loss, accuracy, time, flops.
    loss_ : float
        Training mean squared error of the returned network.
    flops_ : int
        Floating-point operations counted during ``fit``.
    flops_exact_ : bool
        False if an iterative solver (SVD, eigh) ran, whose count depends on the data.
    solver_ : str
        Most robust solver used by any solve.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet import BPLSRegressor
    >>> X = np.linspace(-1, 1, 200)[:, None]
    >>> reg = BPLSRegressor(hidden_layer_sizes=(20,), random_state=0).fit(X, np.sin(3 * X[:, 0]))
    >>> bool(reg.score(X, np.sin(3 * X[:, 0])) > 0.99)
    True
    """

    _output_activations = tuple(
        name for name, act in _activations.ACTIVATIONS.items() if act.invertible and not act.rowwise
    )
    # the presets' softmax output fitted to the cross-entropy is the classifier's
    _not_from_presets = ("output_activation", "output_iter")

    def fit(self, X: Any, y: Any, *, monitor: Any = None) -> BPLSRegressor:
        """Fit the network to ``X`` (n_samples, n_features) and ``y`` (n_samples[, n_targets]).

        ``monitor(entry, network)``, if given, is called after every sweep with that sweep's
        ``history_`` entry and :class:`~lsqnet.Network`; its time is excluded from the
        recorded training times, and returning True stops training (the hook of
        scikit-learn's gradient boosting).
        """
        return self._fit_checked(X, y, monitor)

    @available_if(_single_layer)
    def partial_fit(self, X: Any, y: Any) -> BPLSRegressor:
        """Add one chunk of data to a single-layer model (``hidden_layer_sizes=()``).

        The model keeps the Gram statistics of every chunk so far and is solved anew after
        each call: after the last chunk it equals ``fit`` on all the chunks together (up to
        rounding; the output activation's inverse is applied to each chunk's targets). Chunks
        must have the same features, targets and dtype. Each call adds one entry to
        ``history_`` (the loss on that chunk). Multi-layer models have no ``partial_fit``:
        use ``batch_size`` with ``fit`` for data larger than memory.
        """
        return self._partial_fit(X, y)

    def _targets(self, y: np.ndarray, dtype: np.dtype) -> _Targets:
        Y = y[:, None] if y.ndim == 1 else y
        act = _activations.get(self.output_activation)
        lo, hi = act.output_range
        outside = int(get_namespace(Y).count_nonzero((Y <= lo) | (Y >= hi)))
        if outside:
            warnings.warn(
                f"{type(self).__name__}: {outside} target value(s) are outside the open range "
                f"({lo:g}, {hi:g}) of output_activation={self.output_activation!r} and are "
                f"clipped into it (target_eps={self.target_eps:g}). Scale y into the range, or "
                f"use output_activation='identity'.",
                TargetClippingWarning,
                stacklevel=_user_stacklevel(),
            )
        return _Targets(
            Y, None, Y.shape[1], self.output_activation, numpy_dtype(dtype),
            {"_y_1d": y.ndim == 1},
        )

    def _partial_targets(self, y: np.ndarray, dtype: np.dtype, classes: Any, first: bool):
        targets = self._targets(y, dtype)
        if not first and (targets.n_outputs, y.ndim == 1) != (self.n_outputs_, self._y_1d):
            raise ValueError(
                f"{type(self).__name__}.partial_fit: invalid y: it has shape {y.shape}, but "
                f"earlier chunks had {self.n_outputs_} target(s)"
                + (" as a 1-D array." if self._y_1d else " as a 2-D array.")
            )
        return targets

    @staticmethod
    def _check_y(y: Any, dtype: np.dtype) -> np.ndarray:
        # Converted to X's dtype before the finiteness check, so that None in an object y
        # (NaN after conversion) and values beyond float32 are caught as non-finite.
        with np.errstate(over="ignore", invalid="ignore"):
            if is_array_api(y):
                y = _validation.check_array(y, "y", ndim=(1, 2), dtype=dtype)
            else:
                y = check_array(
                    y, ensure_2d=False, dtype=dtype, input_name="y", ensure_min_features=0
                )
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError(
                f"y has 0 targets (shape {y.shape}); at least one target column is required."
            )
        return y

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, shape (n_samples,) or (n_samples, n_targets)."""
        out = self._forward(X)
        return out[:, 0] if self._y_1d else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The coefficient of determination R^2 of ``predict(X)`` for ``y`` (scikit-learn's
        ``r2_score``; uniform average over targets)."""
        y_pred = self.predict(X)
        if is_array_api(y_pred):
            y = self._validate_y(_on_device_of(y_pred, y, f"{type(self).__name__}.score"), None)
            return _r2_score(y, y_pred, sample_weight)
        try:
            # Huge targets overflow in the sums of squares: R^2 is then what the infinite
            # sums give, without NumPy's RuntimeWarnings.
            with np.errstate(over="ignore", invalid="ignore"):
                return float(r2_score(y, y_pred, sample_weight=sample_weight))
        except (ValueError, TypeError) as err:
            name = "y" if sample_weight is None else "y or sample_weight"
            raise _invalid(err, f"{type(self).__name__}.score", name) from err

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class BPLSClassifier(ClassifierMixin, _BaseBPLS):
    """A fully-connected network classifier trained in closed form by BPLS.

    Labels of any type scikit-learn accepts are one-hot encoded into the output activation's
    range (0 and 1 for ``"sigmoid"`` and ``"softmax"``) and fitted by least squares; the
    network's outputs give ``predict_proba`` (normalised to sum to one per row).
    Parameters and attributes are those of :class:`BPLSRegressor`, with
    ``output_activation`` in {"sigmoid", "softmax"} (default "sigmoid"), ``iteration_rule``
    used ("misclassified" is the paper's rule), and ``classes_``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from lsqnet import BPLSClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BPLSClassifier(hidden_layer_sizes=(32,), random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _output_activations = ("sigmoid", "softmax")

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "tanh",
        output_activation: str = "sigmoid",
        alpha: float = 1.0,
        solver: str = "auto",
        max_iter: int = 10,
        tol: float = 1e-4,
        init: str = "fan_in",
        init_scale: float = 1.0,
        image_shape: tuple[int, int] | None = None,
        patch_size: tuple[float, float] = PATCH_SIZE,
        target_eps: float = 0.01,
        hidden_target: str = "closest",
        layer_method: str = "inverse",
        iteration_rule: str = "all",
        backprop_ridge: float = 1e-3,
        refit_output: bool = False,
        output_iter: int = 0,
        batch_size: int | None = None,
        random_state: Any = None,
        dtype: str | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            output_activation=output_activation, alpha=alpha, solver=solver, max_iter=max_iter,
            tol=tol, init=init, init_scale=init_scale, image_shape=image_shape,
            patch_size=patch_size,
            target_eps=target_eps,
            hidden_target=hidden_target, layer_method=layer_method,
            iteration_rule=iteration_rule, backprop_ridge=backprop_ridge,
            refit_output=refit_output, output_iter=output_iter, batch_size=batch_size,
            random_state=random_state,
            dtype=dtype, verbose=verbose,
        )

    def fit(self, X: Any, y: Any, *, monitor: Any = None) -> BPLSClassifier:
        """Fit the network to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,).

        ``monitor(entry, network)``, if given, is called after every sweep with that sweep's
        ``history_`` entry and :class:`~lsqnet.Network`; its time is excluded from the
        recorded training times, and returning True stops training (the hook of
        scikit-learn's gradient boosting).
        """
        return self._fit_checked(X, y, monitor)

    @available_if(_single_layer)
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> BPLSClassifier:
        """Add one chunk of data to a single-layer model (``hidden_layer_sizes=()``).

        ``classes`` (every label that any chunk may hold) is required on the first call, as
        in scikit-learn. The model keeps the Gram statistics of every chunk so far and is
        solved anew after each call: after the last chunk it equals ``fit`` on all the
        chunks together (up to rounding), with ``iteration_rule="all"`` (the paper's
        ``"misclassified"`` rule needs every sample at once, so it is refused). Chunks must
        have the same features and dtype. Each call adds one entry to ``history_`` (loss and
        accuracy on that chunk). Multi-layer models have no ``partial_fit``: use
        ``batch_size`` with ``fit`` for data larger than memory.
        """
        return self._partial_fit(X, y, classes)

    def _targets(self, y: np.ndarray, dtype: np.dtype) -> _Targets:
        owner = type(self).__name__
        try:
            if is_array_api(y):
                classes, indices = get_namespace(y).unique_inverse(y)
            else:
                check_classification_targets(y)
                classes, indices = np.unique(y, return_inverse=True)
        except (ValueError, TypeError) as err:  # labels of types that cannot be ordered
            raise _invalid(err, owner, "y") from err
        if classes.shape[0] < 2:
            raise ValueError(
                f"{owner} needs samples of at least 2 classes; y has only one class: "
                f"{classes[0]!r}."
            )
        return _Targets(
            None, indices, classes.shape[0], self.output_activation, numpy_dtype(dtype),
            {"classes_": classes},
        )

    def _partial_targets(self, y: np.ndarray, dtype: np.dtype, classes: Any, first: bool):
        owner = f"{type(self).__name__}.partial_fit"
        if self.iteration_rule != "all":
            raise ValueError(
                f"{owner} needs iteration_rule='all': the rule {self.iteration_rule!r} refits "
                f"on the misclassified samples of all the data, which chunks cannot do. Use "
                f"fit (with batch_size for data larger than memory)."
            )
        if first and classes is None:
            raise ValueError(
                f"{owner}: classes must be passed on the first call (every label that any "
                f"chunk may hold)."
            )
        try:
            check_classification_targets(y)
            if classes is not None:
                classes = np.unique(column_or_1d(classes))
            unseen = np.setdiff1d(y, classes if classes is not None else self.classes_)
        except (ValueError, TypeError) as err:
            raise _invalid(err, owner, "y or classes") from err
        if first and classes.shape[0] < 2:
            raise ValueError(f"{owner}: classes must hold at least 2 labels; got {classes!r}.")
        if not first:
            if classes is not None and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"{owner}: classes={classes!r} differs from the classes of the first call, "
                    f"{self.classes_!r}."
                )
            classes = self.classes_
        if unseen.size:
            raise ValueError(
                f"{owner}: invalid y: it holds labels not in classes: {unseen[:10]!r}."
            )
        return _Targets(
            None, np.searchsorted(classes, y), classes.shape[0], self.output_activation,
            np.dtype(dtype), {"classes_": classes},
        )

    @staticmethod
    def _check_y(y: Any, dtype: np.dtype) -> np.ndarray:
        if is_array_api(y):
            return _check_tensor_labels(y)
        y = column_or_1d(y, warn=True)
        assert_all_finite(y, input_name="y")
        if y.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        return y

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The mean accuracy of ``predict(X)`` for the labels ``y``."""
        y_pred = self.predict(X)
        if is_array_api(y_pred):
            owner = f"{type(self).__name__}.score"
            y = self._validate_y(_on_device_of(y_pred, y, owner), None)
            return _weighted_mean(y == y_pred, sample_weight, owner)
        try:
            # scikit-learn casts float labels to int before it rejects NaN: no stray warning
            with np.errstate(invalid="ignore"):
                return float(accuracy_score(y, y_pred, sample_weight=sample_weight))
        except (ValueError, TypeError) as err:
            name = "y" if sample_weight is None else "y or sample_weight"
            raise _invalid(err, f"{type(self).__name__}.score", name) from err

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes): the outputs, normalised."""
        out = self._forward(X)
        xp = get_namespace(out)
        out = xp.clip(out, min=float(xp.finfo(out.dtype).tiny))
        return out / xp.sum(out, axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        out = self._forward(X)
        xp = get_namespace(out)
        return xp.take(self.classes_, xp.argmax(out, axis=1), axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
