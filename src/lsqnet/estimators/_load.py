""":func:`load`: an estimator from a model file written by ``model.save(path)``."""

from __future__ import annotations

import os
from typing import Any

from .._persistence import InvalidRecord, read_record
from ..exceptions import ModelFormatError
from ._classifier import BPLSClassifier
from ._persist import rebuild, schema
from ._regressor import BPLSRegressor

__all__ = ["load"]

#: The estimators a model file may hold, by name (never looked up any other way).
_ESTIMATORS: dict[str, type] = {cls.__name__: cls for cls in (BPLSRegressor, BPLSClassifier)}
_SCHEMAS = {name: schema(cls) for name, cls in _ESTIMATORS.items()}


def load(path: str | os.PathLike[str]) -> Any:
    """Load an estimator saved with ``model.save(path)``, without executing any code.

    The file is read with ``np.load(path, allow_pickle=False)``; its content is checked
    (format and version, known estimator and activation names, finite weights whose shapes
    chain from ``n_features_in_`` to ``n_outputs_``, parameters the estimator accepts) before
    the estimator is rebuilt, so a file from an untrusted source can be loaded safely: it
    yields a valid model or an error. The format is described in the module docstring of
    :mod:`lsqnet._persistence`.

    Parameters
    ----------
    path : str or os.PathLike
        The file, exactly as named (no suffix is added).

    Returns
    -------
    BPLSRegressor or BPLSClassifier
        The fitted estimator; its predictions are bit-identical to those of the saved one.
        ``random_state`` is None if it was a ``RandomState`` or ``Generator`` instance.

    Raises
    ------
    TypeError
        If ``path`` is not a str or os.PathLike.
    FileNotFoundError
        If there is no file at ``path``.
    lsqnet.exceptions.ModelFormatError
        (a ``ValueError``) If the file is not a valid lsqnet model file: not an ``.npz``
        archive, truncated or corrupt, missing or malformed metadata, inconsistent arrays, or a
        newer format version than this lsqnet reads.
    OSError
        If the file exists but cannot be read (a directory, no permission).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import lsqnet
    >>> X = np.linspace(-1, 1, 50)[:, None]
    >>> reg = lsqnet.BPLSRegressor(hidden_layer_sizes=(8,), random_state=0).fit(X, np.tanh(2 * X))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     reg.save(os.path.join(tmp, "model.npz"))
    ...     same = lsqnet.load(os.path.join(tmp, "model.npz"))
    >>> bool(np.array_equal(same.predict(X), reg.predict(X)))
    True
    """
    record = read_record(path, _SCHEMAS)
    fail = f"Cannot load {os.fspath(path)!r}: "
    try:
        return rebuild(_ESTIMATORS[record.estimator], record)
    except InvalidRecord as err:
        raise ModelFormatError(fail + str(err)) from None
    except OverflowError as err:  # a number beyond the range of its type
        raise ModelFormatError(fail + f"a value in it is out of range ({err}).") from err
