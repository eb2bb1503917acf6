"""scikit-learn estimators over BPLS: :class:`BPLSRegressor` and :class:`BPLSClassifier`.

Thin wrappers: ``__init__`` stores arguments, ``fit`` validates them and the data, calls
:func:`lsqnet.bpls.fit_bpls`, checks the fitted weights are finite, and sets attributes named
as in scikit-learn's ``MLPRegressor``/``MLPClassifier`` (``coefs_``, ``intercepts_``,
``n_layers_``, ``n_iter_``, ``classes_``) plus ``history_``, ``flops_`` and ``solver_``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _flops
from . import activations as _activations
from ._validation import check_option, check_random_state, check_scalar
from .bpls import (
    HIDDEN_TARGETS,
    ITERATION_RULES,
    LAYER_METHODS,
    BPLSOptions,
    class_targets,
    fit_bpls,
)
from .exceptions import LSQNetError, TargetClippingWarning
from .network import INITS, init_network
from .solvers import SOLVERS

__all__ = ["BPLSClassifier", "BPLSRegressor"]

_DTYPES = (None, "float32", "float64")


def _invalid(err: Exception, owner: str, name: str) -> Exception:
    """``err`` (a ValueError or TypeError from scikit-learn or NumPy) as the same type, with a
    message that names the argument ``name`` and keeps the original text."""
    cls = ValueError if isinstance(err, ValueError) else TypeError
    return cls(f"{owner}: invalid {name}: {err}")

#: Named parameter sets for :meth:`BPLSClassifier.from_preset` (and the regressor's).
#: ``"paper"`` follows the BPLS paper's description literally (U[-1, 1] initialisation, no
#: ridge, minimum-norm hidden targets, later sweeps on the misclassified samples only).
#: ``"fast"`` and ``"accurate"`` are the best configurations found on validation splits of
#: MNIST and Fashion-MNIST (``benchmarks/study_presets.py``, benchmarks/FINDINGS.md) for about
#: one second and about ten seconds of training on 2 cores: a wide ReLU layer whose units are
#: centred training samples, and only the output layer solved (BPLS sweeps improved accuracy
#: less per second than width did). ``alpha=100`` keeps the float32 Cholesky solve of the wide
#: layer trustworthy on both datasets. ``lsqnet bench`` measures them on the test sets.
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "paper": MappingProxyType(dict(
        init="uniform", alpha=0.0, hidden_target="min_norm", iteration_rule="misclassified",
        backprop_ridge=0.0, max_iter=10,
    )),
    "fast": MappingProxyType(dict(
        hidden_layer_sizes=(1024,), activation="relu", init="samples", max_iter=0,
        refit_output=True, alpha=100.0,
    )),
    "accurate": MappingProxyType(dict(
        hidden_layer_sizes=(4096,), activation="relu", init="samples", max_iter=0,
        refit_output=True, alpha=100.0,
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
        target_eps: float = 0.01,
        hidden_target: str = "closest",
        layer_method: str = "inverse",
        iteration_rule: str = "all",
        backprop_ridge: float = 1e-3,
        refit_output: bool = False,
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
        self.target_eps = target_eps
        self.hidden_target = hidden_target
        self.layer_method = layer_method
        self.iteration_rule = iteration_rule
        self.backprop_ridge = backprop_ridge
        self.refit_output = refit_output
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
        if not isinstance(self.refit_output, bool | np.bool_):
            raise TypeError(
                f"The 'refit_output' parameter of {owner} must be a bool. "
                f"Got {self.refit_output!r} instead."
            )
        if self.dtype is not None:
            check_option(self.dtype, "dtype", owner, ("float32", "float64"))
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

    def _fit(self, X: np.ndarray, Y: np.ndarray, labels: np.ndarray | None, monitor):
        opts = self._options
        rng = check_random_state(self.random_state, type(self).__name__)
        sizes = (X.shape[1], *self._sizes, Y.shape[1])
        ledger = _flops.FlopLedger()
        with _flops.counting(ledger):
            network = init_network(
                sizes, self.activation, self.output_activation, self.init, rng, X.dtype,
                X=X, scale=float(self.init_scale),
            )
        if monitor is not None and not callable(monitor):
            raise TypeError(
                f"{type(self).__name__}.fit: monitor must be a callable "
                f"monitor(entry, network) or None. Got {monitor!r} instead."
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

        result = fit_bpls(
            X, Y, network, opts, labels=labels,
            monitor=hook if verbose or monitor is not None else None, ledger=ledger,
        )
        for i, layer in enumerate(result.network.layers):
            if not (np.isfinite(layer.weight).all() and np.isfinite(layer.bias).all()):
                raise LSQNetError(
                    f"{type(self).__name__}: layer {i} has non-finite weights after fitting "
                    f"(sizes {sizes}, solver {result.solver!r}). Increase alpha or scale X."
                )
        self.network_ = result.network
        self.coefs_ = [layer.weight for layer in result.network.layers]
        self.intercepts_ = [layer.bias for layer in result.network.layers]
        self.n_layers_ = len(sizes)
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self.output_activation
        self.n_iter_ = result.n_iter
        self.history_ = result.history
        self.loss_ = min(h["loss"] for h in result.history)
        self.flops_ = result.ledger.total
        self.flops_exact_ = result.ledger.exact
        self.solver_ = result.solver
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
        owner = type(self).__name__
        if y is None:  # scikit-learn's message
            raise ValueError(
                f"This {owner} estimator requires y to be passed, but the target y is None."
            )
        X = self._validate_X(X, reset=True, dtype=self._dtype())
        try:
            y = self._check_y(y, X.dtype)
        except (ValueError, TypeError) as err:
            raise _invalid(err, owner, "y") from err
        check_consistent_length(X, y)
        return X, y

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
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
        return cls(**{**PRESETS[name], **overrides})

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
    init : {"fan_in", "uniform", "samples"}, default="fan_in"
        ``"uniform"`` is the paper's U[-1, 1]; ``"fan_in"`` scales it by sqrt(3 / n_in);
        ``"samples"`` makes each first-layer unit a centred, unit-norm training sample
        (:func:`lsqnet.network.init_network`).
    init_scale : float, default=1.0
        Multiplies every initial weight (how far into the activation's non-linear range the
        initial pre-activations reach).
    target_eps : float, default=0.01
        Margin keeping desired outputs inside each activation's open range.
    hidden_target : {"closest", "min_norm"}, default="closest"
    layer_method : {"inverse", "weighted"}, default="inverse"
    iteration_rule : {"all", "misclassified"}, default="all"
        Unused by the regressor (every sweep uses all samples).
    backprop_ridge : float, default=1e-3
    refit_output : bool, default=False
        After the sweeps, solve the output layer once more on the final hidden layers.
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

    def fit(self, X: Any, y: Any, *, monitor: Any = None) -> BPLSRegressor:
        """Fit the network to ``X`` (n_samples, n_features) and ``y`` (n_samples[, n_targets]).

        ``monitor(entry, network)``, if given, is called after every sweep with that sweep's
        ``history_`` entry and :class:`~lsqnet.Network`; its time is excluded from the
        recorded training times, and returning True stops training (the hook of
        scikit-learn's gradient boosting).
        """
        self._options = self._validate_params_()
        X, y = self._validate_X_y(X, y)
        self._y_1d = y.ndim == 1
        Y = y[:, None] if y.ndim == 1 else y
        act = _activations.get(self.output_activation)
        lo, hi = act.output_range
        outside = int(np.count_nonzero((Y <= lo) | (Y >= hi)))
        if outside:
            warnings.warn(
                f"{type(self).__name__}: {outside} target value(s) are outside the open range "
                f"({lo:g}, {hi:g}) of output_activation={self.output_activation!r} and are "
                f"clipped into it (target_eps={self.target_eps:g}). Scale y into the range, or "
                f"use output_activation='identity'.",
                TargetClippingWarning,
                stacklevel=2,
            )
        return self._fit(X, Y, None, monitor)

    @staticmethod
    def _check_y(y: Any, dtype: np.dtype) -> np.ndarray:
        # Converted to X's dtype before the finiteness check, so that None in an object y
        # (NaN after conversion) and values beyond float32 are caught as non-finite.
        with np.errstate(over="ignore", invalid="ignore"):
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
        target_eps: float = 0.01,
        hidden_target: str = "closest",
        layer_method: str = "inverse",
        iteration_rule: str = "all",
        backprop_ridge: float = 1e-3,
        refit_output: bool = False,
        random_state: Any = None,
        dtype: str | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            output_activation=output_activation, alpha=alpha, solver=solver, max_iter=max_iter,
            tol=tol, init=init, init_scale=init_scale, target_eps=target_eps,
            hidden_target=hidden_target, layer_method=layer_method,
            iteration_rule=iteration_rule, backprop_ridge=backprop_ridge,
            refit_output=refit_output, random_state=random_state, dtype=dtype, verbose=verbose,
        )

    def fit(self, X: Any, y: Any, *, monitor: Any = None) -> BPLSClassifier:
        """Fit the network to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,).

        ``monitor(entry, network)``, if given, is called after every sweep with that sweep's
        ``history_`` entry and :class:`~lsqnet.Network`; its time is excluded from the
        recorded training times, and returning True stops training (the hook of
        scikit-learn's gradient boosting).
        """
        self._options = self._validate_params_()
        X, y = self._validate_X_y(X, y)
        try:
            check_classification_targets(y)
            self.classes_, indices = np.unique(y, return_inverse=True)
        except (ValueError, TypeError) as err:  # labels of types that cannot be ordered
            raise _invalid(err, type(self).__name__, "y") from err
        if self.classes_.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; y has only one "
                f"class: {self.classes_[0]!r}."
            )
        Y = class_targets(indices, self.classes_.shape[0], self.output_activation, X.dtype)
        return self._fit(X, Y, indices, monitor)

    @staticmethod
    def _check_y(y: Any, dtype: np.dtype) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        assert_all_finite(y, input_name="y")
        if y.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        return y

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The mean accuracy of ``predict(X)`` for the labels ``y``."""
        y_pred = self.predict(X)
        try:
            return float(accuracy_score(y, y_pred, sample_weight=sample_weight))
        except (ValueError, TypeError) as err:
            name = "y" if sample_weight is None else "y or sample_weight"
            raise _invalid(err, f"{type(self).__name__}.score", name) from err

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes): the outputs, normalised."""
        out = np.clip(self._forward(X), np.finfo(self.coefs_[0].dtype).tiny, None)
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        out = self._forward(X)
        return self.classes_[np.argmax(out, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
