"""Fits and scores on tensors (PyTorch, any array API library), in their namespace and on
their device: tensors in, tensors out."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import DataConversionWarning, UndefinedMetricWarning
from sklearn.utils.validation import (
    check_consistent_length,
)

from .. import _validation
from .._array_api import describe, device, get_namespace, is_array_api
from ._common import invalid, user_stacklevel
from ._weights import check_sample_weight

__all__ = ["TensorFits", "check_tensor_labels", "on_device_of", "tensor_r2_score", "weighted_mean"]


def _checked_tensor_X(X: Any, owner: str, dtype: Any) -> Any:
    """A tensor ``X`` checked as 2-D, finite numbers of ``dtype`` (None: its float dtype)."""
    try:
        return _validation.check_array(X, "X", dtype=dtype)
    except (ValueError, TypeError) as err:
        raise invalid(err, owner, "X") from err


def on_device_of(X: Any, y: Any, owner: str) -> Any:
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


def check_tensor_labels(y: Any) -> Any:
    """Class labels given as a tensor: 1-D (a column is raveled with scikit-learn's warning),
    of integers, booleans, or floats that are finite whole numbers."""
    xp = get_namespace(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples, ), for example using ravel().",
            DataConversionWarning, stacklevel=user_stacklevel(),
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
    w = on_device_of(like, sample_weight, owner)
    try:
        w = _validation.check_sample_weight(w, n, 1, np.float64)
    except (ValueError, TypeError) as err:
        raise invalid(err, owner, "sample_weight") from err
    return w


def weighted_mean(correct: Any, sample_weight: Any, owner: str) -> float:
    """The (weighted) fraction of true entries of ``correct``: accuracy on tensors."""
    xp = get_namespace(correct)
    w = _tensor_weights(correct, sample_weight, owner)
    return float(xp.sum(w * xp.astype(correct, w.dtype)) / xp.sum(w))


def tensor_r2_score(y: Any, y_pred: Any, sample_weight: Any) -> float:
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
                      UndefinedMetricWarning, stacklevel=user_stacklevel())
        return float("nan")
    w = _tensor_weights(Y, sample_weight, owner)[:, None]
    mean = xp.sum(w * Y, axis=0) / xp.sum(w)
    num = xp.sum(w * (Y - P) ** 2, axis=0)
    den = xp.sum(w * (Y - mean) ** 2, axis=0)
    r2 = xp.where(den != 0, 1 - num / xp.where(den != 0, den, 1.0), xp.where(num == 0, 1.0, 0.0))
    return float(xp.mean(r2))


class TensorFits:
    """The estimators' ``fit`` on tensors, and the checks of tensors given to ``predict``."""

    def _fit_array_api(self, X: Any, y: Any, monitor: Any, sample_weight: Any = None):
        """``fit`` on tensors (PyTorch, on any device): checked and trained in their namespace,
        with the fitted attributes on ``X``'s device; the sample weights a tensor on that
        device too (array-likes are copied there)."""
        owner = type(self).__name__
        self._require_y(y)
        if not is_array_api(X):
            raise ValueError(
                f"{owner}: invalid X: y is {describe(y)} but X is "
                f"{describe(X)}: pass X as a tensor on y's device (then the fit runs "
                f"there), or y as a NumPy array."
            )
        if self.batch_size not in (None, "auto"):  # "auto" reads tensors all at once
            raise ValueError(
                f"{owner}: batch_size reads NumPy arrays and memmaps block by block; X is "
                f"{describe(X)}. Fit it with batch_size=None or 'auto', in its device's memory."
            )
        X = _checked_tensor_X(X, owner, self.dtype)
        y = on_device_of(X, y, owner)
        self._reset_features(X.shape[1])
        y = self._validate_y(y, X.dtype)
        check_consistent_length(X, y)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype, owner, like=X)
        return self._fit(X, self._targets(y, X.dtype), monitor, sample_weight=w)

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
