"""The estimators as model files: ``model.save(path)`` and :func:`lsqnet.load`.

An estimator becomes a plain :class:`~lsqnet._persistence.ModelRecord` (its parameters and
scalar fitted attributes, its layers, labels and feature names) that
:mod:`lsqnet._persistence` writes; :func:`rebuild` turns a record read back, checked against
the :func:`schema` of the estimator it names, into the fitted estimator. This module knows the
estimators through their classes only (:mod:`._load` names them), so that ``save`` can live on
the estimators without an import cycle.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from .._array_api import to_numpy
from .._persistence import (
    ATTRIBUTES,
    EstimatorSchema,
    InvalidRecord,
    ModelRecord,
    check_path,
    check_record,
    seed_to_json,
    to_json,
    write_record,
)
from ..layers import Dense
from ..network import Network

__all__ = ["ESTIMATOR_NAMES", "rebuild", "save", "schema"]

#: The estimators a model file may hold, by class name.
ESTIMATOR_NAMES = ("BPLSRegressor", "BPLSClassifier", "LSQRegressor", "LSQClassifier")

#: Parameters held as tuples, stored as JSON lists.
_TUPLES = ("hidden_layer_sizes", "image_shape", "patch_size")


def schema(cls: type) -> EstimatorSchema:
    """What a model file of the estimator class ``cls`` holds besides its layers."""
    est = cls()
    classifier = is_classifier(est)
    return EstimatorSchema(
        params=frozenset(est.get_params(deep=False)),
        attributes=frozenset({"_multilabel"} if classifier else {"_y_1d"}),
        output_activations=tuple(cls._output_activations),
        classifier=classifier,
    )


def save(est: Any, path: str | os.PathLike[str]) -> None:
    """Write the fitted ``est`` to ``path`` (see :meth:`BPLSClassifier.save`).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``est`` is not fitted.
    TypeError
        If ``path`` is not a str or os.PathLike, ``est`` is not an lsqnet estimator, or a
        parameter cannot be stored as JSON.
    ValueError
        If a parameter is invalid, the labels cannot be stored without pickle, or the fitted
        state is inconsistent (for example weights changed by hand to NaN).
    OSError
        If the file cannot be written; nothing is left behind.
    """
    cls = type(est)
    owner = cls.__name__
    if owner not in ESTIMATOR_NAMES or cls.__module__.rpartition(".")[0] != __package__:
        raise TypeError(
            f"save supports {', '.join(ESTIMATOR_NAMES)} estimators (not subclasses); got "
            f"{owner}."
        )
    path = check_path(path, f"{owner}.save")
    check_is_fitted(est, "network_")
    # A file that load() would refuse is never written: parameters changed to invalid values
    # after fit, or weights edited into NaN, are reported now.
    params = est.get_params(deep=False)
    type(est)(**params)._validate_params_()
    params = {
        name: to_json(value, f"{owner}: the {name!r} parameter")
        if name != "random_state"
        else seed_to_json(value)
        for name, value in params.items()
    }
    layers = est.network_.layers
    attrs = {name: getattr(est, name) for name in ATTRIBUTES}
    if is_classifier(est):
        attrs["_multilabel"] = bool(getattr(est, "_multilabel", False))
    else:
        attrs["_y_1d"] = bool(est._y_1d)
    attrs = {name: to_json(value, f"{owner}: attribute {name}") for name, value in attrs.items()}
    record = ModelRecord(
        owner, params, [layer.activation for layer in layers], attrs,
        # A model fitted on tensors is saved as host arrays (and loads as a NumPy model).
        [to_numpy(layer.weight) for layer in layers], [to_numpy(layer.bias) for layer in layers],
        to_numpy(est.classes_) if is_classifier(est) else None,
        getattr(est, "feature_names_in_", None),
    )
    try:
        check_record(record, schema(cls))
    except InvalidRecord as err:
        raise ValueError(f"Cannot save {owner}: its fitted state is inconsistent: {err}") from None
    write_record(record, path, owner)


def rebuild(cls: type, record: ModelRecord) -> Any:
    """The fitted ``cls`` a record checked against ``schema(cls)`` describes; raises
    :class:`~lsqnet._persistence.InvalidRecord` if its parameters are not ``cls``'s."""
    params = dict(record.params)
    for key in _TUPLES:
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    seed = params["random_state"]
    if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool)):
        raise InvalidRecord(f"its random_state is {seed!r}, not an int or null.")
    est = cls()
    est.set_params(**params)
    try:
        # Sets the private state fit leaves behind (_sizes, _options) and checks the values.
        est._options = est._validate_params_()
    except (TypeError, ValueError) as err:
        raise InvalidRecord(f"its parameters are invalid: {err}") from err
    attrs = dict(record.attributes)
    est.n_features_in_ = attrs.pop("n_features_in_")
    if record.feature_names is not None:
        est.feature_names_in_ = record.feature_names
    if record.classes is not None:
        est.classes_ = record.classes
        est._multilabel = attrs.pop("_multilabel")
    else:
        est._y_1d = attrs.pop("_y_1d")
    layers = tuple(
        Dense(W, b, act)
        for W, b, act in zip(record.weights, record.biases, record.activations, strict=True)
    )
    est.network_ = Network(layers)
    est.coefs_ = [layer.weight for layer in layers]
    est.intercepts_ = [layer.bias for layer in layers]
    for name, value in attrs.items():
        setattr(est, name, value)
    for name in ("alphas_", "cv_errors_"):  # arrays, as fit leaves them
        if attrs[name] is not None:
            setattr(est, name, np.asarray(attrs[name], dtype=np.float64))
    return est


