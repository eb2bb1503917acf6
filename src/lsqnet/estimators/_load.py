""":func:`load`: an estimator from a model file written by ``model.save(path)``."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from .._flops import FlopLedger
from .._persistence import InvalidRecord, read_record
from ..exceptions import ModelFormatError
from ..features.windows import banded_product
from ..layers import Dense
from ..network import Network
from ..solvers import GramStats
from ..training.bpls import BPLSOptions
from ._classifier import BPLSClassifier
from ._lsq import LSQClassifier, LSQRegressor
from ._persist import rebuild, schema
from ._regressor import BPLSRegressor

__all__ = ["load", "skops_trusted_types"]

#: The estimators a model file may hold, by name (never looked up any other way).
_ESTIMATORS: dict[str, type] = {
    cls.__name__: cls for cls in (BPLSRegressor, BPLSClassifier, LSQRegressor, LSQClassifier)
}
_SCHEMAS = {name: schema(cls) for name, cls in _ESTIMATORS.items()}


def skops_trusted_types() -> list[str]:
    """The types a fitted lsqnet estimator holds, to trust when ``skops.io`` loads it.

    ``skops.io`` (scikit-learn's safe format for whole pipelines) loads only the types it is
    told to trust; scikit-learn's own it trusts already. An lsqnet estimator adds its class,
    its network's records, its options, the statistics a single-layer model keeps for
    ``partial_fit`` and the banded product of window units. Pass this list (plus any other
    types ``skops.io.get_untrusted_types`` reports for a file from a source you trust):

    >>> import skops.io as sio  # doctest: +SKIP
    >>> pipe = sio.load("pipeline.skops", trusted=lsqnet.skops_trusted_types())  # doctest: +SKIP
    """
    kinds = (BPLSRegressor, BPLSClassifier, LSQRegressor, LSQClassifier, Dense, Network,
             BPLSOptions, GramStats, FlopLedger, Counter, banded_product)
    return sorted(f"{kind.__module__}.{kind.__qualname__}" for kind in kinds)


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
    BPLSRegressor, BPLSClassifier, LSQRegressor or LSQClassifier
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
