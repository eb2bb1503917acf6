"""The model file format: a plain record of a fitted estimator, written and read without pickle.

:func:`write_record` writes a :class:`ModelRecord` (the estimator's name, its parameters and
scalar fitted attributes as JSON, its layers, labels and feature names as arrays) and
:func:`read_record` reads one back, checked against the :class:`EstimatorSchema` of the
estimator it names. The estimators turn themselves into records and back
(:mod:`lsqnet.estimators`, ``model.save(path)`` and ``lsqnet.load(path)``); this module knows
no estimator class, so the two never import each other.

Design constraints:

* No code runs on load. The file is read with ``np.load(..., allow_pickle=False)``, the
  estimator is looked up by name in a fixed table of schemas given by the caller (never
  imported or evaluated from the file), and every value read is checked before it is used, so
  a file from an untrusted source can at worst be refused with :class:`ModelFormatError`.
* Bit-identical predictions: the weights are stored as the arrays themselves (dtype, byte
  values and memory order kept), never re-computed or converted.
* Atomic saves: the file is written under a temporary name in the target's directory, flushed
  and ``fsync``-ed, then moved onto the target with :func:`os.replace`. A crash or an error
  mid-save leaves any previous file at the target untouched and no temporary file behind.

File format, version 6
----------------------
One uncompressed NumPy ``.npz`` archive (a zip file written by :func:`numpy.savez`), saved
under the path exactly as given (no ``.npz`` suffix is added). Every member is a ``.npy``
array of plain (non-object) dtype, stored without compression:

``metadata``
    1-D ``uint8``: UTF-8 encoded JSON (below).
``layer_{i}_weight``, ``layer_{i}_bias``, for ``i = 0 .. n_layers_ - 2``
    Layer ``i`` of ``network_``: weight of shape (n_in, n_out) and bias of shape (n_out,),
    float32 or float64, the same dtype for every layer (the dtype predictions are made in).
``classes``
    Classifiers only: ``classes_``, 1-D, numeric, bool or fixed-width unicode/bytes. Labels of
    object dtype are stored as unicode (all strings) or numeric (all numbers) and restored as
    object arrays; other object labels cannot be saved.
``feature_names_in``
    Only if the estimator has ``feature_names_in_``: 1-D fixed-width unicode, restored as the
    object array of str that scikit-learn uses.

The JSON object has exactly these keys:

``"format"``
    ``"lsqnet-model"``.
``"format_version"``
    ``6``.
``"lsqnet_version"``
    The ``lsqnet.__version__`` that wrote the file (informative only).
``"estimator"``
    ``"BPLSRegressor"`` or ``"BPLSClassifier"``.
``"params"``
    ``get_params()``, every parameter (files of versions 1 to 4 lack ``scale_inputs`` and
    load with False, files of versions 1 to 5 lack ``method_options`` and load with None:
    how they were trained). Tuples are stored as lists (``hidden_layer_sizes``,
    ``image_shape`` and ``patch_size`` are restored as tuples) and NumPy scalars as Python numbers.
    ``random_state`` is stored as null when it is not an int or None (a ``RandomState`` or
    ``Generator`` instance): a loaded estimator refitted then draws different initial weights.
``"activations"``
    The activation name of each layer, in order (names of
    :data:`lsqnet.activations.ACTIVATIONS`).
``"attributes"``
    The scalar fitted attributes ``n_features_in_``, ``n_layers_``, ``n_outputs_``,
    ``n_iter_``, ``loss_``, ``flops_``, ``flops_exact_``, ``solver_``, ``method_`` (files of
    versions 1 and 2 lack it and load with ``"bpls"``), ``out_activation_``,
    ``history_`` (a list of objects), ``alpha_`` (the penalty trained with), ``alphas_`` and
    ``cv_errors_`` (lists, or null when ``alpha`` was a number; files of versions 1 to 3
    lack these three and load with ``alpha_`` equal to the ``alpha`` parameter), plus
    ``_y_1d`` for regressors (whether ``fit`` saw a 1-D ``y``, which makes ``predict``
    return a 1-D array) and ``_multilabel`` for
    classifiers (whether ``y`` was a multilabel indicator matrix; false in older files).
``"classes_object"``
    Classifiers only: true when ``classes_`` had object dtype.
``"has_feature_names"``
    Whether the ``feature_names_in`` array is present.

Non-finite floats in the JSON (``history_`` holds NaN accuracies for regressors) are written
as ``NaN``, ``Infinity`` and ``-Infinity``, the extension that Python's :mod:`json` and most
JSON readers accept.

What :func:`load` checks, refusing the file with a :class:`ModelFormatError` that names it
otherwise: a zip archive of uncompressed, uniquely named ``.npy`` members that loads without
pickle; ``"format"`` and then ``"format_version"`` (before anything else, so that a newer file
is reported as such); exactly the keys above and exactly the arrays they imply; a known
estimator name; parameters that the estimator accepts; known activation names; finite float32
or float64 weights, one dtype for all, whose shapes chain from ``n_features_in_`` through
every layer to ``n_outputs_`` (the number of classes, for classifiers); attribute values of
the right types. ``save`` refuses to write a file that ``load`` would refuse.

Version policy: ``format_version`` is raised whenever the set of arrays or JSON keys, or their
meaning, changes. A reader refuses files of a newer version than it knows, saying so, and
keeps reading every older version. ``lsqnet_version`` is never used to decide anything.

Versions 1 and 2 differ only in their parameters, read with the values with which the lsqnet
that wrote the file trained: version 1 may lack ``output_iter`` (0) and ``patch_size``
((0.25, 0.5)); neither has ``method`` ("bpls"), ``safeguard`` (False: every sweep was
kept), ``warm_start``, ``early_stopping`` (False, with their defaults) or ``image_shape``,
which is ``(side, side)`` for the image maps ``init="patches"`` and ``"contrasts"`` (those
versions took the features as a square image of ``side * side`` pixels) and None otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import numbers
import os
import secrets
import zipfile
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from . import activations as _activations
from ._version import __version__
from .exceptions import ModelFormatError

__all__ = [
    "ATTRIBUTES",
    "FORMAT",
    "FORMAT_VERSION",
    "EstimatorSchema",
    "InvalidRecord",
    "ModelRecord",
    "check_path",
    "check_record",
    "read_record",
    "seed_to_json",
    "to_json",
    "write_record",
]

#: The value of the ``"format"`` field of every lsqnet model file.
FORMAT = "lsqnet-model"

#: The newest file format version this module writes and reads.
FORMAT_VERSION = 6

#: The parameters a version-1 file may lack, with the behaviour of the lsqnet that wrote it.
_PARAMS_AFTER_VERSION_1 = {"output_iter": 0, "patch_size": [0.25, 0.5]}

#: The parameters a file of version 1 or 2 lacks besides ``image_shape``: it trained by BPLS
#: with every sweep kept.
_PARAMS_AFTER_VERSION_2 = {
    "method": "bpls", "safeguard": False, "warm_start": False, "early_stopping": False,
    "validation_fraction": 0.1, "n_iter_no_change": 10,
}

_METADATA = "metadata"
_CLASSES = "classes"
_FEATURE_NAMES = "feature_names_in"
_TOP_KEYS = frozenset(
    {
        "format",
        "format_version",
        "lsqnet_version",
        "estimator",
        "params",
        "activations",
        "attributes",
        "has_feature_names",
    }
)
#: The scalar fitted attributes of every estimator's file.
ATTRIBUTES = (
    "n_features_in_",
    "n_layers_",
    "n_outputs_",
    "n_iter_",
    "loss_",
    "flops_",
    "flops_exact_",
    "solver_",
    "method_",
    "out_activation_",
    "history_",
    "alpha_",
    "alphas_",
    "cv_errors_",
)
# The metadata is a few kilobytes; the cap stops a crafted file from making load() decode and
# parse gigabytes of JSON.
_MAX_METADATA_BYTES = 64 * 2**20
_LABEL_KINDS = "biufUS"


class InvalidRecord(Exception):
    """A consistency check failed; the reason is the message. Converted by the callers."""


class ModelRecord(NamedTuple):
    """A fitted estimator as plain values: what a model file holds.

    Attributes
    ----------
    estimator : str
        The estimator's class name (a key of the schemas given to :func:`read_record`).
    params : dict
        Every parameter, as JSON values (tuples as lists).
    activations : list of str
        Each layer's activation name.
    attributes : dict
        The scalar fitted attributes (:data:`ATTRIBUTES`, and those of the schema), as JSON.
    weights, biases : list of ndarray
        Each layer's weight (n_in, n_out) and bias (n_out,), NumPy arrays of one float dtype.
    classes : ndarray or None
        A classifier's ``classes_``.
    feature_names : ndarray or None
        ``feature_names_in_``, when the estimator has it.
    """

    estimator: str
    params: dict[str, Any]
    activations: list[str]
    attributes: dict[str, Any]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    classes: np.ndarray | None = None
    feature_names: np.ndarray | None = None


class EstimatorSchema(NamedTuple):
    """What a model file of one estimator must hold besides the layers.

    Attributes
    ----------
    params : frozenset of str
        The names of its parameters.
    attributes : frozenset of str
        The names of its scalar fitted attributes beyond :data:`ATTRIBUTES`.
    output_activations : tuple of str
        The output activations it allows.
    classifier : bool
        Whether its files hold ``classes``.
    """

    params: frozenset[str]
    attributes: frozenset[str]
    output_activations: tuple[str, ...]
    classifier: bool


def _weight_name(i: int) -> str:
    return f"layer_{i}_weight"


def _bias_name(i: int) -> str:
    return f"layer_{i}_bias"


def check_path(path: Any, owner: str) -> str:
    """``path`` as a str, or ``TypeError`` naming the argument of ``owner``."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(
            f"The 'path' argument of {owner} must be a str or an os.PathLike (such as "
            f"pathlib.Path) naming a file. Got {path!r} of type {type(path).__name__} instead."
        )
    return path


# --------------------------------------------------------------------------------------------
# Checks shared by save (on the estimator) and load (on the file)
# --------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_layers(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    activations: list[Any],
    n_features_in: int,
    n_outputs: int,
) -> None:
    """Raise :class:`InvalidRecord` unless the layers make a finite, consistently shaped network."""
    if not weights:
        raise InvalidRecord("the network has no layers.")
    if not (len(weights) == len(biases) == len(activations)):
        raise InvalidRecord(
            f"{len(weights)} weights, {len(biases)} biases and {len(activations)} activation "
            f"names do not describe the same number of layers."
        )
    dtype = None
    n_prev = n_features_in
    for i, (W, b, act) in enumerate(zip(weights, biases, activations, strict=True)):
        if not isinstance(act, str) or act not in _activations.ACTIVATIONS:
            valid = ", ".join(repr(name) for name in _activations.ACTIVATIONS)
            raise InvalidRecord(
                f"layer {i} has activation {act!r}; valid activations are {valid}."
            )
        for name, arr, ndim in (("weight", W, 2), ("bias", b, 1)):
            if not isinstance(arr, np.ndarray) or arr.ndim != ndim:
                raise InvalidRecord(f"layer {i}'s {name} is not a {ndim}-D array.")
            if arr.dtype.kind != "f" or arr.dtype.itemsize not in (4, 8):
                raise InvalidRecord(
                    f"layer {i}'s {name} has dtype {arr.dtype}; float32 or float64 is needed."
                )
            if dtype is None:
                dtype = arr.dtype.newbyteorder("=")
            elif arr.dtype.newbyteorder("=") != dtype:
                raise InvalidRecord(
                    f"layer {i}'s {name} has dtype {arr.dtype}, but layer 0's weight has "
                    f"{dtype}; every layer must have the same dtype."
                )
            if not np.isfinite(arr).all():
                raise InvalidRecord(f"layer {i}'s {name} contains NaN or infinity.")
        n_in, n_out = W.shape
        if n_in != n_prev or n_out < 1:
            what = "n_features_in_" if i == 0 else f"layer {i - 1}'s outputs"
            raise InvalidRecord(
                f"layer {i}'s weight has shape {W.shape}, but {what} is {n_prev}: the weight "
                f"must have shape ({n_prev}, n_out) with n_out >= 1."
            )
        if b.shape != (n_out,):
            raise InvalidRecord(
                f"layer {i}'s bias has shape {b.shape}, but its weight has {n_out} outputs: "
                f"the bias must have shape ({n_out},)."
            )
        n_prev = n_out
    if n_prev != n_outputs:
        raise InvalidRecord(f"the last layer has {n_prev} outputs, but n_outputs_ is {n_outputs}.")


def _check_attributes(
    attrs: dict[str, Any], name: str, schema: EstimatorSchema, n_layers: int
) -> None:
    """Raise :class:`InvalidRecord` unless the scalar fitted attributes have sensible values."""
    positive = ("n_features_in_", "n_outputs_")
    non_negative = ("n_iter_", "flops_")
    for name in positive + non_negative:
        low = 1 if name in positive else 0
        if not _is_int(attrs[name]) or attrs[name] < low:
            raise InvalidRecord(f"{name} must be an int >= {low}; got {attrs[name]!r}.")
    if not _is_int(attrs["n_layers_"]) or attrs["n_layers_"] != n_layers + 1:
        raise InvalidRecord(
            f"n_layers_ is {attrs['n_layers_']!r}, but there are {n_layers} layers "
            f"(n_layers_ counts the input too: {n_layers + 1})."
        )
    if not isinstance(attrs["loss_"], float | int) or isinstance(attrs["loss_"], bool):
        raise InvalidRecord(f"loss_ must be a number; got {attrs['loss_']!r}.")
    try:
        float(attrs["loss_"])
    except OverflowError:  # an int beyond the float range
        raise InvalidRecord(
            f"loss_ must be a number in the float range; got {attrs['loss_']}."
        ) from None
    if not isinstance(attrs["flops_exact_"], bool):
        raise InvalidRecord(f"flops_exact_ must be true or false; got {attrs['flops_exact_']!r}.")
    if not isinstance(attrs["solver_"], str):
        raise InvalidRecord(f"solver_ must be a string; got {attrs['solver_']!r}.")
    if not isinstance(attrs["method_"], str):
        raise InvalidRecord(f"method_ must be a string; got {attrs['method_']!r}.")
    if not _is_number(attrs["alpha_"]) or not attrs["alpha_"] >= 0:
        raise InvalidRecord(f"alpha_ must be a number >= 0; got {attrs['alpha_']!r}.")
    path = [attrs["alphas_"], attrs["cv_errors_"]]
    if path != [None, None] and not (
        all(isinstance(v, list) and all(_is_number(x) for x in v) for v in path)
        and len(path[0]) == len(path[1]) > 0
    ):
        raise InvalidRecord(
            "alphas_ and cv_errors_ must both be null, or lists of numbers of one length."
        )
    out = attrs["out_activation_"]
    if not isinstance(out, str) or out not in schema.output_activations:
        valid = ", ".join(repr(act) for act in schema.output_activations)
        raise InvalidRecord(f"out_activation_ is {out!r}; {name} allows {valid}.")
    history = attrs["history_"]
    scalars = (str, int, float, bool, type(None))
    if not isinstance(history, list) or not all(
        isinstance(entry, dict) and all(isinstance(v, scalars) for v in entry.values())
        for entry in history
    ):
        raise InvalidRecord("history_ must be a list of objects with scalar values.")
    if "_multilabel" in attrs and not isinstance(attrs["_multilabel"], bool):
        raise InvalidRecord(f"_multilabel must be true or false; got {attrs['_multilabel']!r}.")
    if "_y_1d" in attrs:
        if not isinstance(attrs["_y_1d"], bool):
            raise InvalidRecord(f"_y_1d must be true or false; got {attrs['_y_1d']!r}.")
        if attrs["_y_1d"] and attrs["n_outputs_"] != 1:
            raise InvalidRecord(f"_y_1d is true, but n_outputs_ is {attrs['n_outputs_']}, not 1.")


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------


def check_record(record: ModelRecord, schema: EstimatorSchema) -> None:
    """Raise :class:`InvalidRecord` unless ``record``'s layers and attributes are consistent
    (what :func:`read_record` checks of a file), so that no file load would refuse is written."""
    attrs = record.attributes
    _check_layers(
        record.weights, record.biases, record.activations, attrs["n_features_in_"],
        attrs["n_outputs_"],
    )
    _check_attributes(attrs, record.estimator, schema, len(record.weights))


def to_json(value: Any, name: str) -> Any:
    """``value`` as JSON-ready Python objects: tuples and arrays become lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biufU":
        return value.item()
    if isinstance(value, tuple | list) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "biufU"
    ):
        return [to_json(v, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: to_json(v, name) for k, v in value.items()}
    raise TypeError(
        f"Cannot save {name}: {value!r} of type {type(value).__name__} cannot be stored in "
        f"the JSON metadata of a model file (numbers, strings, None and lists of them can)."
    )


def seed_to_json(random_state: Any) -> int | None:
    """An int seed as itself; None, or a RandomState or Generator instance, as None."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return None


def _label_array(labels: np.ndarray, what: str, owner: str) -> tuple[np.ndarray, bool]:
    """``labels`` as an array ``np.load(allow_pickle=False)`` reads; True if it was object."""
    labels = np.asarray(labels)
    if labels.dtype.kind in _LABEL_KINDS:
        return labels, False
    if labels.dtype == object:
        items = labels.tolist()
        if all(isinstance(v, str) for v in items):
            return np.array(items, dtype=str), True
        if all(isinstance(v, numbers.Real) for v in items):
            stored = np.array(items)
            if stored.dtype.kind in "biuf":
                return stored, True
    kinds = sorted({type(v).__name__ for v in labels.ravel().tolist()}) if labels.size else []
    raise ValueError(
        f"Cannot save {owner}: {what} has dtype {labels.dtype}"
        + (f" holding {', '.join(kinds)}" if kinds else "")
        + "; only numbers, booleans and strings can be stored without pickle. Refit with "
        "labels of one of those types, or use pickle/joblib for a trusted destination."
    )


def _create_temporary(directory: str, base: str) -> tuple[int, str]:
    """Create a new empty file next to the target and return its descriptor and name.

    Like :func:`tempfile.mkstemp` (a random name, ``O_EXCL`` so an existing file is never
    opened), but with mode 0o666 filtered by the umask, as for a file written directly,
    instead of mkstemp's 0o600, which the final file would otherwise keep.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "No usable temporary file name", directory)


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_record(record: ModelRecord, path: str, owner: str) -> None:
    """Write ``record`` to ``path`` in the format of this module, atomically.

    ``path`` is used exactly as given (no suffix is added; ``.npz`` is the convention). An
    existing file is replaced, but only once the new one is complete. ``owner`` (who saves)
    names the failures.

    Raises
    ------
    ValueError
        If the labels or feature names cannot be stored without pickle.
    OSError
        If the file cannot be written; nothing is left behind.
    """
    arrays: dict[str, np.ndarray] = {}
    for i, (W, b) in enumerate(zip(record.weights, record.biases, strict=True)):
        arrays[_weight_name(i)] = W
        arrays[_bias_name(i)] = b
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lsqnet_version": __version__,
        "estimator": record.estimator,
        "params": record.params,
        "activations": record.activations,
        "attributes": record.attributes,
    }
    if record.classes is not None:
        arrays[_CLASSES], meta["classes_object"] = _label_array(record.classes, "classes_", owner)
    meta["has_feature_names"] = record.feature_names is not None
    if record.feature_names is not None:
        arrays[_FEATURE_NAMES], _ = _label_array(
            record.feature_names, "feature_names_in_", owner
        )
    text = json.dumps(meta, allow_nan=True)
    arrays[_METADATA] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    directory, base = os.path.split(os.path.abspath(path))
    try:
        fd, tmp = _create_temporary(directory, base)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            err.errno, f"Cannot save {owner}: the directory does not exist", directory
        ) from err
    try:
        with os.fdopen(fd, "wb") as f:
            # A file object, not a name: np.savez would append ".npz" to a name without it.
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _read_member(npz: Any, key: str, path: str) -> np.ndarray:
    try:
        value = npz[key]
    except Exception as err:  # CRC mismatch, truncated member, bad header, object dtype, ...
        raise ModelFormatError(
            f"Cannot load {path!r}: its {key!r} entry cannot be read "
            f"({type(err).__name__}: {err}); the file is damaged."
        ) from err
    if not isinstance(value, np.ndarray):
        raise ModelFormatError(f"Cannot load {path!r}: its {key!r} entry is not a .npy array.")
    return value


def _parse_metadata(raw: np.ndarray, path: str) -> dict[str, Any]:
    """The JSON metadata, with the format and version checked first."""
    fail = f"Cannot load {path!r}: "
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFormatError(
            fail + f"its metadata is a {raw.ndim}-D {raw.dtype} array, not UTF-8 bytes (1-D "
            f"uint8); it is not an lsqnet model file."
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise ModelFormatError(fail + f"its metadata is not valid UTF-8 JSON ({err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFormatError(
            fail + f"its metadata has no \"format\": {FORMAT!r} field; it is not an lsqnet "
            f"model file."
        )
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFormatError(
            fail + f"its format_version is {version!r}, not a positive int; the file is damaged."
        )
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            fail + f"it was written by a newer version of lsqnet; this version reads format "
            f"version {FORMAT_VERSION}, and the file has format version {version}. Upgrade "
            f"lsqnet to load it."
        )
    return meta


def _check_metadata(meta: dict[str, Any], schemas: Mapping[str, EstimatorSchema]) -> str:
    """Check the keys and types of the JSON; return the estimator name it gives."""
    name = meta.get("estimator")
    if not isinstance(name, str) or name not in schemas:
        valid = ", ".join(repr(c) for c in schemas)
        raise InvalidRecord(f"its estimator is {name!r}; this version of lsqnet knows {valid}.")
    schema = schemas[name]
    expected = set(_TOP_KEYS) | ({"classes_object"} if schema.classifier else set())
    if set(meta) != expected:
        missing, extra = sorted(expected - set(meta)), sorted(set(meta) - expected)
        raise InvalidRecord(
            "its metadata"
            + (f" lacks the key(s) {missing}" if missing else "")
            + (" and" if missing and extra else "")
            + (f" has unknown key(s) {extra}" if extra else "")
            + "."
        )
    if not isinstance(meta["lsqnet_version"], str):
        raise InvalidRecord("its lsqnet_version is not a string.")
    acts = meta["activations"]
    if not isinstance(acts, list) or not acts:
        raise InvalidRecord("its activations is not a non-empty list of names.")
    for flag in ("has_feature_names", "classes_object"):
        if flag in meta and not isinstance(meta[flag], bool):
            raise InvalidRecord(f"its {flag} is {meta[flag]!r}, not true or false.")
    params = meta.get("params")
    if meta["format_version"] == 1 and isinstance(params, dict):
        meta["params"] = params = {**_PARAMS_AFTER_VERSION_1, **params}
    if meta["format_version"] <= 2 and isinstance(params, dict) and "image_shape" not in params:
        meta["params"] = {**params, **_PARAMS_AFTER_VERSION_2, "image_shape": _square_image(meta)}
    attributes = meta.get("attributes")
    if meta["format_version"] <= 2 and isinstance(attributes, dict):
        meta["attributes"] = attributes = {"method_": "bpls", **attributes}
        if schema.classifier:
            meta["attributes"].setdefault("_multilabel", False)
    if meta["format_version"] <= 4 and isinstance(meta.get("params"), dict):
        meta["params"] = {"scale_inputs": False, **meta["params"]}
    if meta["format_version"] <= 5 and isinstance(meta.get("params"), dict):
        meta["params"] = {"method_options": None, **meta["params"]}
    if meta["format_version"] <= 3 and isinstance(attributes, dict):
        alpha = meta["params"].get("alpha") if isinstance(meta.get("params"), dict) else None
        meta["attributes"] = {
            "alpha_": alpha, "alphas_": None, "cv_errors_": None, **attributes
        }
    for section, keys in (
        ("params", set(schema.params)),
        ("attributes", set(ATTRIBUTES) | set(schema.attributes)),
    ):
        value = meta[section]
        if not isinstance(value, dict) or set(value) != keys:
            got = sorted(value) if isinstance(value, dict) else repr(value)
            raise InvalidRecord(f"its {section} are {got}; {name} has {sorted(keys)}.")
    return name


def _square_image(meta: dict[str, Any]) -> list[int] | None:
    """The image shape with which a file of version 1 or 2 trained: a square of its features
    for the image maps, which took the features as one."""
    n = meta.get("attributes", {}).get("n_features_in_") if isinstance(
        meta.get("attributes"), dict
    ) else None
    if meta["params"].get("init") not in ("patches", "contrasts") or not _is_int(n) or n < 1:
        return None
    side = math.isqrt(n)
    return [side, side] if side * side == n else None


def _record(
    name: str, schema: EstimatorSchema, meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> ModelRecord:
    """Check the arrays against the metadata and gather the record."""
    attrs = dict(meta["attributes"])
    acts = meta["activations"]
    _check_attributes(attrs, name, schema, len(acts))
    n = len(acts)
    # np.save keeps the writer's byte order; predictions are made in native order. The values
    # (and the memory order, C or Fortran) are unchanged, so the results are bit-identical.
    native = {
        key: arr.astype(arr.dtype.newbyteorder("="), copy=False)
        for key, arr in arrays.items()
    }
    weights = [native[_weight_name(i)] for i in range(n)]
    biases = [native[_bias_name(i)] for i in range(n)]
    _check_layers(weights, biases, acts, attrs["n_features_in_"], attrs["n_outputs_"])
    if attrs["out_activation_"] != acts[-1]:
        raise InvalidRecord(
            f"out_activation_ is {attrs['out_activation_']!r}, but the last layer's "
            f"activation is {acts[-1]!r}."
        )
    names = None
    if meta["has_feature_names"]:
        names = native[_FEATURE_NAMES]
        n_features = attrs["n_features_in_"]
        if names.ndim != 1 or names.dtype.kind != "U" or names.shape[0] != n_features:
            raise InvalidRecord(
                f"feature_names_in must be a 1-D unicode array of {n_features} names; "
                f"got dtype {names.dtype} and shape {names.shape}."
            )
        names = np.array(names.tolist(), dtype=object)
    labels = None
    if schema.classifier:
        labels = native[_CLASSES]
        if labels.ndim != 1 or labels.dtype.kind not in _LABEL_KINDS:
            raise InvalidRecord(
                f"classes must be a 1-D array of numbers or strings; got dtype "
                f"{labels.dtype} and shape {labels.shape}."
            )
        if labels.shape[0] != attrs["n_outputs_"]:
            raise InvalidRecord(
                f"there are {labels.shape[0]} classes, but the network has "
                f"{attrs['n_outputs_']} outputs (one per class)."
            )
        if meta["classes_object"]:
            labels = np.array(labels.tolist(), dtype=object)
    attrs["loss_"] = float(attrs["loss_"])
    return ModelRecord(
        name, dict(meta["params"]), list(acts), attrs, weights, biases, labels, names
    )


def read_record(
    path: str | os.PathLike[str], schemas: Mapping[str, EstimatorSchema], owner: str = "load"
) -> ModelRecord:
    """Read the record of a model file, without executing any code.

    The file is read with ``np.load(path, allow_pickle=False)``; its content is checked
    (format and version, an estimator named in ``schemas`` and its keys, known activation
    names, finite weights whose shapes chain from ``n_features_in_`` to ``n_outputs_``), so a
    file from an untrusted source yields a consistent record or an error. Files of older
    format versions are read with the parameters they lack (module docstring).

    Raises
    ------
    TypeError
        If ``path`` is not a str or os.PathLike.
    FileNotFoundError
        If there is no file at ``path``.
    lsqnet.exceptions.ModelFormatError
        (a ``ValueError``) If the file is not a valid lsqnet model file.
    OSError
        If the file exists but cannot be read (a directory, no permission).
    """
    path = check_path(path, owner)
    try:
        fid = open(path, "rb")
    except FileNotFoundError as err:
        raise FileNotFoundError(err.errno, "No lsqnet model file", path) from None
    fail = f"Cannot load {path!r}: "
    with fid:
        start = fid.read(6)
        fid.seek(0)
        if start[:2] != b"PK" and not start.startswith(b"\x93NUMPY"):
            raise ModelFormatError(
                fail + "it is not an lsqnet model file (not a readable NumPy .npz archive: "
                "model.save and 'lsqnet fit' write zip archives, and this file "
                + (f"starts with {start!r})." if start else "is empty).")
            )
        try:
            npz = np.load(fid, allow_pickle=False)
        except ValueError as err:
            if "allow_pickle" not in str(err):
                raise ModelFormatError(
                    fail + f"it is not a readable NumPy .npz archive ({err})."
                ) from err
            raise ModelFormatError(  # never a hint at loading pickles
                fail + "it is not an lsqnet model file (not a readable NumPy .npz archive: it "
                "holds pickled Python objects, which lsqnet never loads)."
            ) from err
        except Exception as err:  # EOFError, BadZipFile, ...
            raise ModelFormatError(
                fail + f"it is not a readable NumPy .npz archive: it is truncated, corrupt or "
                f"another kind of file ({type(err).__name__}: {err})."
            ) from err
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ModelFormatError(
                fail + "it holds a single array (a .npy file), not the .npz archive that "
                "model.save writes."
            )
        with npz:
            infos = npz.zip.infolist()
            names = [info.filename for info in infos]
            keys = [name.removesuffix(".npy") for name in names]
            if _METADATA + ".npy" not in names:
                raise ModelFormatError(
                    fail + f"it is an .npz archive without a {_METADATA!r} entry (it has "
                    f"{sorted(keys)[:10]}); it is not an lsqnet model file."
                )
            if len(set(names)) != len(names) or any(
                info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy")
                for info in infos
            ):
                raise ModelFormatError(
                    fail + "its entries are not uncompressed, uniquely named .npy arrays; it "
                    "was not written by model.save."
                )
            if npz.zip.getinfo(_METADATA + ".npy").file_size > _MAX_METADATA_BYTES:
                raise ModelFormatError(fail + "its metadata entry is implausibly large.")
            meta = _parse_metadata(_read_member(npz, _METADATA, path), path)
            try:
                name = _check_metadata(meta, schemas)
            except InvalidRecord as err:
                raise ModelFormatError(fail + str(err)) from None
            n = len(meta["activations"])
            expected = {_METADATA} | {f(i) for i in range(n) for f in (_weight_name, _bias_name)}
            if schemas[name].classifier:
                expected.add(_CLASSES)
            if meta["has_feature_names"]:
                expected.add(_FEATURE_NAMES)
            if set(keys) != expected:
                missing, extra = sorted(expected - set(keys)), sorted(set(keys) - expected)
                raise ModelFormatError(
                    fail + f"its arrays do not match its metadata ({n} layers): "
                    + (f"missing {missing}" if missing else "")
                    + ("; " if missing and extra else "")
                    + (f"unexpected {extra}" if extra else "")
                    + "."
                )
            arrays = {key: _read_member(npz, key, path) for key in sorted(expected - {_METADATA})}
    try:
        return _record(name, schemas[name], meta, arrays)
    except InvalidRecord as err:
        raise ModelFormatError(fail + str(err)) from None
    except OverflowError as err:  # any other number beyond the range of its type
        raise ModelFormatError(fail + f"a value in it is out of range ({err}).") from err
