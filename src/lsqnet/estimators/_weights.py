"""The ``sample_weight`` of the estimators' fits, checked as scikit-learn checks it.

scikit-learn's conventions (``sklearn.utils.validation._check_sample_weight``): None means
every sample weighs 1; a number gives every sample that weight; otherwise one finite,
non-negative weight per sample, 1-D. lsqnet also refuses weights that are all zero (nothing
would be fitted). A weight multiplies its sample's loss in the training objective, so that an
integer weight is the same as repeating the row.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _validation
from .._array_api import describe, device, get_namespace, is_array_api
from .._dask import is_dask_array
from ._common import invalid

__all__ = ["check_sample_weight", "sample_weight_array"]


def check_sample_weight(
    sample_weight: Any, n_samples: int, dtype: Any, owner: str, like: Any = None,
    *, allow_zero: bool = False,
) -> Any:
    """``sample_weight`` for ``n_samples`` rows as a 1-D array of ``dtype`` (None stays None),
    or a ``ValueError``/``TypeError`` naming it and what is accepted.

    ``like``: a tensor the weights must live with (same library and device; a NumPy array or
    list is copied there). A Dask array is computed (the weights of a Dask fit are in memory,
    as its ``y`` is). ``allow_zero``: weights that are all 0 are accepted (one chunk's).
    """
    if sample_weight is None:
        return None
    try:
        return sample_weight_array(sample_weight, n_samples, dtype, like, allow_zero=allow_zero)
    except (ValueError, TypeError) as err:
        raise invalid(err, owner, "sample_weight") from err


def sample_weight_array(
    sample_weight: Any, n_samples: int, dtype: Any, like: Any = None, *,
    allow_zero: bool = False,
) -> Any:
    """:func:`check_sample_weight`'s checks, raising with messages that do not name the
    caller (``sample_weight`` must not be None)."""
    if is_dask_array(sample_weight):
        sample_weight = sample_weight.compute()
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    if like is not None and is_array_api(like):
        if is_array_api(sample_weight):
            if get_namespace(sample_weight) is not get_namespace(like) or (
                device(sample_weight) != device(like)
            ):
                raise ValueError(
                    f"X is {describe(like)} and sample_weight is {describe(sample_weight)}; "
                    f"pass both on one device."
                )
        else:
            sample_weight = get_namespace(like).asarray(
                np.asarray(sample_weight), device=device(like)
            )
    elif is_array_api(sample_weight):
        raise TypeError(
            f"sample_weight is {describe(sample_weight)} but X is not a tensor; pass a NumPy "
            f"array (or a tensor X)."
        )
    w = _validation.check_array(sample_weight, "sample_weight", ndim=1, dtype=dtype)
    if w.shape[0] != n_samples:
        raise ValueError(
            f"it has {w.shape[0]} entries, but X has {n_samples} samples; pass one weight per "
            f"sample (shape ({n_samples},)), a number, or None."
        )
    xp = get_namespace(w)
    negative = int(xp.count_nonzero(w < 0))
    if negative:
        raise ValueError(
            f"sample weights must be non-negative; {negative} of {n_samples} are negative."
        )
    if not allow_zero and not bool(xp.any(w > 0)):
        raise ValueError(
            "every sample weight is zero, so there is nothing to fit; give at least one "
            "sample a positive weight."
        )
    return w
