"""The classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import assert_all_finite
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d

from .._array_api import get_namespace, is_array_api, numpy_dtype
from ..features import PATCH_SIZE
from ._base import BaseBPLS
from ._chunked import single_layer
from ._common import Targets, invalid
from ._tensors import (
    check_tensor_labels,
    on_device_of,
    weighted_mean,
)

__all__ = ["BPLSClassifier"]


class BPLSClassifier(ClassifierMixin, BaseBPLS):
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
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            output_activation=output_activation, alpha=alpha, solver=solver, method=method,
            method_options=method_options, max_iter=max_iter,
            tol=tol, init=init, init_scale=init_scale, scale_inputs=scale_inputs,
            image_shape=image_shape,
            patch_size=patch_size,
            target_eps=target_eps,
            hidden_target=hidden_target, layer_method=layer_method,
            iteration_rule=iteration_rule, backprop_ridge=backprop_ridge,
            refit_output=refit_output, safeguard=safeguard, warm_start=warm_start,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            output_iter=output_iter,
            batch_size=batch_size,
            random_state=random_state,
            dtype=dtype, verbose=verbose,
        )

    @available_if(single_layer)
    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> BPLSClassifier:
        """Add one chunk of data to a single-layer model (``hidden_layer_sizes=()``).

        ``classes`` (every label that any chunk may hold) is required on the first call, as
        in scikit-learn. The model keeps the Gram statistics of every chunk so far and is
        solved anew after each call: after the last chunk it equals ``fit`` on all the
        chunks together (up to rounding), with ``iteration_rule="all"`` (the paper's
        ``"misclassified"`` rule needs every sample at once, so it is refused). Chunks must
        have the same features and dtype. Each call adds one entry to ``history_`` (loss and
        accuracy on that chunk). Multi-layer models have no ``partial_fit``: use
        ``batch_size`` with ``fit`` for data larger than memory.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every label any chunk may hold; required on the first call.
        sample_weight : array-like of shape (n_samples,), float or None, default=None
            Non-negative weight of each sample of this chunk (None: all 1), as in ``fit``:
            the statistics kept are weighted sums, so after the last chunk the model equals
            ``fit`` with the chunks' weights together.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, classes, sample_weight)

    def _targets(self, y: np.ndarray, dtype: np.dtype) -> Targets:
        owner = type(self).__name__
        if y.ndim == 2:  # a multilabel indicator matrix (checked by _check_y)
            if self.output_activation != "sigmoid":
                raise ValueError(
                    f"{owner}: y is a multilabel indicator matrix ({y.shape[1]} labels), whose "
                    f"labels are not exclusive: it needs output_activation='sigmoid'; got "
                    f"{self.output_activation!r}."
                )
            Y = np.asarray(y, dtype=numpy_dtype(dtype))
            return Targets(
                Y, None, Y.shape[1], self.output_activation, numpy_dtype(dtype),
                {"classes_": np.arange(Y.shape[1]), "_multilabel": True},
            )
        try:
            if is_array_api(y):
                classes, indices = get_namespace(y).unique_inverse(y)
            else:
                check_classification_targets(y)
                classes, indices = np.unique(y, return_inverse=True)
        except (ValueError, TypeError) as err:  # labels of types that cannot be ordered
            raise invalid(err, owner, "y") from err
        if classes.shape[0] < 2:
            raise ValueError(
                f"{owner} needs samples of at least 2 classes; y has only one class: "
                f"{classes[0]!r}."
            )
        return Targets(
            None, indices, classes.shape[0], self.output_activation, numpy_dtype(dtype),
            {"classes_": classes, "_multilabel": False},
        )

    def _partial_targets(self, y: np.ndarray, dtype: np.dtype, classes: Any, first: bool):
        owner = f"{type(self).__name__}.partial_fit"
        if y.ndim == 2:
            raise ValueError(
                f"{owner}: y is a multilabel indicator matrix; fit it with fit (in memory, "
                f"with batch_size, or on Dask arrays)."
            )
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
            raise invalid(err, owner, "y or classes") from err
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
        return Targets(
            None, np.searchsorted(classes, y), classes.shape[0], self.output_activation,
            np.dtype(dtype), {"classes_": classes, "_multilabel": False},
        )

    @staticmethod
    def _check_y(y: Any, dtype: np.dtype) -> np.ndarray:
        if is_array_api(y):
            return check_tensor_labels(y)
        shape = np.shape(np.asarray(y))
        if len(shape) == 2 and shape[1] > 1:
            kind = type_of_target(np.asarray(y))
            if kind != "multilabel-indicator" or not np.isin(np.asarray(y), (0, 1)).all():
                raise ValueError(
                    f"y of shape {shape} must be a multilabel indicator matrix (0 and 1 in "
                    f"every column) or 1-D labels; got {kind!r} targets."
                )
            return check_array(y, dtype=None, input_name="y")
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
            y = self._validate_y(on_device_of(y_pred, y, owner), None)
            return weighted_mean(y == y_pred, sample_weight, owner)
        try:
            # scikit-learn casts float labels to int before it rejects NaN: no stray warning
            with np.errstate(invalid="ignore"):
                return float(accuracy_score(y, y_pred, sample_weight=sample_weight))
        except (ValueError, TypeError) as err:
            name = "y" if sample_weight is None else "y or sample_weight"
            raise invalid(err, f"{type(self).__name__}.score", name) from err

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes): the outputs, normalised (for
        multilabel targets, each label's sigmoid output, as scikit-learn's MLP gives)."""
        out = self._forward(X)
        xp = get_namespace(out)
        out = xp.clip(out, min=float(xp.finfo(out.dtype).tiny))
        if getattr(self, "_multilabel", False):
            return out
        return out / xp.sum(out, axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        proba = self.predict_proba(X)
        return get_namespace(proba).log(proba)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        out = self._forward(X)
        xp = get_namespace(out)
        if getattr(self, "_multilabel", False):  # each label where its output passes 1/2
            return xp.astype(out > 0.5, xp.int64)
        return xp.take(self.classes_, xp.argmax(out, axis=1), axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
