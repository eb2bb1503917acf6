"""Argument and array checks shared by every public function.

Messages follow scikit-learn's format, so that a user of both reads one style:
``The 'alpha' parameter of lstsq must be a float in [0, inf). Got -1 instead.``
Checks never modify their inputs; conversions return new arrays only when they must.
Arrays of other array API libraries (PyTorch tensors) are checked in their own namespace and
on their own device (:mod:`lsqnet._array_api`); everything else becomes a NumPy array.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _sparse
from ._array_api import get_namespace, is_array_api, numpy_dtype, xp_dtype

__all__ = [
    "check_array",
    "check_consistent_length",
    "check_option",
    "check_random_state",
    "check_scalar",
    "check_sample_weight",
    "float_dtype",
]


def float_dtype(*arrays: Any) -> np.dtype:
    """The floating dtype results are computed in: float32 only if every input is float32."""
    dtypes = [
        numpy_dtype(a.dtype) for a in arrays
        if isinstance(a, np.ndarray) or is_array_api(a) or _sparse.is_sparse(a)
    ]
    if dtypes and all(d == np.float32 for d in dtypes):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def check_scalar(
    value: Any,
    name: str,
    owner: str,
    *,
    kind: type = float,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> Any:
    """Check a numeric hyper-parameter and return it as ``kind``.

    ``kind=float`` accepts any real number (bool excluded); ``kind=int`` accepts integers only.
    NaN and infinity are always rejected.
    """
    if kind is int:
        ok_type = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        word = "an int"
    else:
        ok_type = isinstance(value, numbers.Real) and not isinstance(value, bool)
        word = "a float"
    left = "[" if low is not None and low_inclusive else "("
    right = "]" if high is not None and high_inclusive else ")"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    interval = f"{left}{lo}, {hi}{right}"
    message = (
        f"The {name!r} parameter of {owner} must be {word} in {interval}. "
        f"Got {_describe(value)} instead."
    )
    if not ok_type:
        raise TypeError(message)
    try:
        finite = bool(np.isfinite(float(value)))
    except OverflowError:  # a Python int beyond the float range
        finite = False
    if not finite:
        raise ValueError(message)
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise ValueError(message)
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise ValueError(message)
    return kind(value)


def check_option(value: Any, name: str, owner: str, options: Iterable[str]) -> str:
    """Check that ``value`` is one of the string ``options``; the message lists them all."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise ValueError(
            f"The {name!r} parameter of {owner} must be one of {valid}. "
            f"Got {_describe(value)} instead."
        )
    return value


def check_random_state(
    random_state: Any, owner: str, *, validate_only: bool = False
) -> np.random.Generator | None:
    """A NumPy ``Generator`` from a seed, or raise naming ``random_state``.

    Accepted: None (fresh entropy), a non-negative int, a ``numpy.random.RandomState`` (one
    draw from it seeds the generator), a ``Generator``, ``SeedSequence`` or ``BitGenerator``.
    ``validate_only=True`` checks the value and returns None, drawing nothing.
    """
    seed = random_state
    if seed is not None and not isinstance(
        seed,
        np.random.RandomState | np.random.Generator | np.random.SeedSequence
        | np.random.BitGenerator,
    ):
        message = (
            f"The 'random_state' parameter of {owner} must be None, an int in [0, inf), a "
            f"numpy RandomState or a numpy Generator. Got {_describe(random_state)} instead."
        )
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool | np.bool_):
            raise TypeError(message)
        if seed < 0:
            raise ValueError(message)
        seed = int(seed)
    if validate_only:
        return None
    if isinstance(seed, np.random.RandomState):
        seed = seed.randint(2**31)
    return np.random.default_rng(seed)


def _assert_all_finite(array: np.ndarray, name: str) -> None:
    # The sum of the array is a cheap first test (one pass, no temporary); only when it is not
    # finite, which may also be an overflow of finite values, is the element-wise test run.
    xp = get_namespace(array)
    with np.errstate(over="ignore", invalid="ignore"):
        total = xp.sum(array, dtype=xp.float64)
    if bool(xp.isfinite(total)):
        return
    bad = int(xp.count_nonzero(~xp.isfinite(array)))
    if bad:
        kind = "NaN" if bool(xp.any(xp.isnan(array))) else "infinity"
        raise ValueError(
            f"Input {name} contains {kind} ({bad} non-finite value(s)); "
            f"lsqnet needs finite numbers: remove or impute them first."
        )


def check_array(
    array: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = 2,
    dtype: np.dtype | None = None,
    allow_empty: bool = False,
    ensure_finite: bool = True,
    accept_sparse: bool = False,
) -> np.ndarray:
    """Return ``array`` as a finite floating NumPy array, or raise naming the argument.

    float32 and float64 are kept as they are (no copy) unless ``dtype`` says otherwise; other
    numeric types become float64. Object, string, complex and boolean-less structured arrays
    are rejected with a ``TypeError``. A tensor of another array API library is checked the
    same way and returned as a tensor on its device.

    With ``accept_sparse``, a SciPy sparse matrix or array (2-D) is checked the same way on
    its stored values and returned sparse: CSR and CSC as they are, other formats (COO, LIL,
    ...) converted to CSR, never made dense. Without it, sparse input is a ``TypeError``
    that says so.
    """
    if array is None:
        raise TypeError(f"Input {name} must be an array of numbers, got None.")
    if _sparse.is_sparse(array):
        return _check_sparse(
            array, name, ndim=ndim, dtype=dtype, allow_empty=allow_empty,
            ensure_finite=ensure_finite, accept_sparse=accept_sparse,
        )
    if is_array_api(array):
        arr = array
        xp = get_namespace(arr)
        real = xp.isdtype(arr.dtype, ("bool", "integral", "real floating"))
    else:
        try:
            arr = np.asarray(array)
        except Exception as err:  # ragged lists and the like
            raise ValueError(f"Input {name} could not be converted to an array: {err}") from err
        xp = np
        real = arr.dtype.kind in "biuf"
    if not real:
        raise TypeError(
            f"Input {name} must hold real numbers (int, float or bool); "
            f"got an array of dtype {arr.dtype}."
        )
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    shape = tuple(arr.shape)
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(
            f"Input {name} must be a {want} array; got {arr.ndim}-D with shape {shape}."
        )
    if not allow_empty and 0 in shape:
        raise ValueError(f"Input {name} is empty (shape {shape}); at least one value is needed.")
    if dtype is not None:
        target = xp_dtype(xp, dtype)
    elif arr.dtype in (xp.float32, xp.float64):
        target = arr.dtype
    else:
        target = xp.float64
    # Values beyond float32 become infinite when cast: found by the check below (or, without
    # it, by the caller's own check of its results), so NumPy's warning is not wanted.
    with np.errstate(over="ignore"):
        arr = xp.astype(arr, target, copy=False)
    if ensure_finite and 0 not in shape:
        _assert_all_finite(arr, name)
    return arr


def _check_sparse(
    array: Any, name: str, *, ndim: int | tuple[int, ...], dtype: np.dtype | None,
    allow_empty: bool, ensure_finite: bool, accept_sparse: bool,
) -> Any:
    """:func:`check_array` of a SciPy sparse matrix or array."""
    if not accept_sparse:
        raise TypeError(
            f"Input {name} is a sparse {array.format.upper()} matrix, which is not supported "
            f"here; pass a dense array (e.g. {name}.toarray())."
        )
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if 2 not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(
            f"Input {name} must be a {want} array; got a 2-D sparse matrix of shape "
            f"{tuple(array.shape)}."
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Input {name} must hold real numbers (int, float or bool); "
            f"got a sparse matrix of dtype {array.dtype}."
        )
    shape = tuple(array.shape)
    if not allow_empty and 0 in shape:
        raise ValueError(f"Input {name} is empty (shape {shape}); at least one value is needed.")
    if array.format not in _sparse.FORMATS:
        array = array.tocsr()
    if dtype is not None:
        target = np.dtype(dtype)
    elif array.dtype in (np.float32, np.float64):
        target = array.dtype
    else:
        target = np.dtype(np.float64)
    with np.errstate(over="ignore"):
        array = _sparse.astype(array, target)
    if ensure_finite and array.nnz:
        _assert_all_finite(array.data, name)
    return array


def check_consistent_length(**arrays: np.ndarray | None) -> int:
    """Check that all arrays have the same number of rows; return it."""
    lengths = {name: a.shape[0] for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs have inconsistent numbers of samples: {desc}.")
    return next(iter(lengths.values()))


def check_sample_weight(
    sample_weight: Any, n_samples: int, n_targets: int, dtype: np.dtype
) -> np.ndarray | None:
    """Validate sample weights of shape (n_samples,) or (n_samples, n_targets).

    Weights must be finite and non-negative, with a positive total (per column if 2-D).
    """
    if sample_weight is None:
        return None
    w = check_array(sample_weight, "sample_weight", ndim=(1, 2), dtype=dtype)
    if w.shape[0] != n_samples or (w.ndim == 2 and w.shape[1] != n_targets):
        raise ValueError(
            f"Input sample_weight must have shape ({n_samples},) or ({n_samples}, {n_targets}); "
            f"got {w.shape}."
        )
    xp = get_namespace(w)
    if bool(xp.any(w < 0)):
        raise ValueError("Input sample_weight must be non-negative; it has negative entries.")
    with np.errstate(over="ignore"):  # a sum overflowing to infinity is positive
        total = xp.sum(w, axis=0)
    if bool(xp.any(total <= 0)):
        raise ValueError("Input sample_weight must have a positive sum (per target if 2-D).")
    return w
