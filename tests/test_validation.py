"""Unit tests of lsqnet._validation: message formats, dtype rules and the errors they raise."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from lsqnet._validation import (
    check_array,
    check_consistent_length,
    check_option,
    check_sample_weight,
    check_scalar,
    float_dtype,
)


def raises_exactly(error, message):
    """``pytest.raises`` whose message must be ``message``, in full."""
    return pytest.raises(error, match=f"^{re.escape(message)}$")


# -- check_scalar -------------------------------------------------------------------------------
def test_check_scalar_message_format():
    with raises_exactly(
        ValueError, "The 'alpha' parameter of lstsq must be a float in [0, inf). Got -1 instead."
    ):
        check_scalar(-1, "alpha", "lstsq", low=0.0)


@pytest.mark.parametrize(
    "kwargs, interval",
    [
        ({}, "(-inf, inf)"),
        ({"low": 0.0}, "[0, inf)"),
        ({"low": 0.0, "low_inclusive": False}, "(0, inf)"),
        ({"high": 1.0}, "(-inf, 1]"),
        ({"low": 0.0, "high": 1.0, "low_inclusive": False}, "(0, 1]"),
        ({"low": 0.5, "high": 2.5, "high_inclusive": False}, "[0.5, 2.5)"),
        ({"low": 1e-12, "high": 1e6}, "[1e-12, 1e+06]"),
    ],
)
def test_check_scalar_states_the_interval(kwargs, interval):
    expected = f"The 'x' parameter of f must be a float in {interval}. Got nan instead."
    with raises_exactly(ValueError, expected):
        check_scalar(float("nan"), "x", "f", **kwargs)


@pytest.mark.parametrize(
    "value, kwargs",
    [
        (0.0, {"low": 0.0, "low_inclusive": False}),
        (1.0, {"high": 1.0, "high_inclusive": False}),
        (-1e-300, {"low": 0.0}),
        (1.0 + 1e-15, {"high": 1.0}),
        (float("inf"), {}),
        (-float("inf"), {}),
        (float("nan"), {}),
        (np.float32("nan"), {}),
    ],
)
def test_check_scalar_rejects_values_outside_the_interval(value, kwargs):
    with pytest.raises(ValueError, match=r"^The 'x' parameter of f must be a float in "):
        check_scalar(value, "x", "f", **kwargs)


@pytest.mark.parametrize(
    "value, kwargs",
    [(0.0, {"low": 0.0}), (1.0, {"high": 1.0}), (0.5, {"low": 0.0, "high": 1.0}), (-3, {})],
)
def test_check_scalar_accepts_the_bounds_it_includes(value, kwargs):
    assert check_scalar(value, "x", "f", **kwargs) == value


@pytest.mark.parametrize("value", [3, np.int64(3), np.float32(3.0), np.float64(3.0), 3.0])
def test_check_scalar_float_kind_returns_a_python_float(value):
    result = check_scalar(value, "alpha", "lstsq")
    assert type(result) is float and result == 3.0


@pytest.mark.parametrize(
    "value, shown", [(True, "True"), ("1", "'1'"), (None, "None"), ([1.0], "[1.0]")]
)
def test_check_scalar_float_kind_rejects_non_numbers(value, shown):
    with raises_exactly(
        TypeError,
        f"The 'alpha' parameter of lstsq must be a float in [0, inf). Got {shown} instead.",
    ):
        check_scalar(value, "alpha", "lstsq", low=0.0)


@pytest.mark.parametrize("value", [3, np.int32(3), np.int64(3), np.uint8(3)])
def test_check_scalar_int_kind_accepts_integers(value):
    result = check_scalar(value, "max_iter", "fit", kind=int, low=1)
    assert type(result) is int and result == 3


@pytest.mark.parametrize(
    "value, shown", [(3.0, "3.0"), (np.float64(2.5), "2.5"), (True, "True"), (False, "False")]
)
def test_check_scalar_int_kind_rejects_floats_and_bools(value, shown):
    with raises_exactly(
        TypeError,
        f"The 'max_iter' parameter of fit must be an int in [1, inf). Got {shown} instead.",
    ):
        check_scalar(value, "max_iter", "fit", kind=int, low=1)


def test_check_scalar_int_kind_checks_bounds():
    with raises_exactly(
        ValueError, "The 'max_iter' parameter of fit must be an int in [1, 10]. Got 0 instead."
    ):
        check_scalar(0, "max_iter", "fit", kind=int, low=1, high=10)


def test_check_scalar_huge_int_gets_the_parameter_message():
    with pytest.raises((TypeError, ValueError), match=r"^The 'alpha' parameter of lstsq"):
        check_scalar(10**400, "alpha", "lstsq", low=0.0)


# -- check_option -------------------------------------------------------------------------------
def test_check_option_lists_every_option():
    expected = (
        "The 'solver' parameter of lstsq must be one of 'auto', 'cholesky', 'qr', 'svd'. "
        "Got 'lu' instead."
    )
    with raises_exactly(ValueError, expected):
        check_option("lu", "solver", "lstsq", ("auto", "cholesky", "qr", "svd"))


@pytest.mark.parametrize("value, shown", [(None, "None"), (1, "1"), ("Auto", "'Auto'"), ("", "''")])
def test_check_option_rejects_non_members(value, shown):
    with pytest.raises(
        ValueError, match=f"must be one of 'a', 'b'. Got {re.escape(shown)} instead.$"
    ):
        check_option(value, "x", "f", iter(["a", "b"]))  # any iterable of options


def test_check_option_returns_the_value():
    assert check_option("qr", "solver", "lstsq", ["cholesky", "qr"]) == "qr"


# -- check_array --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_array_keeps_float32_and_float64_without_copying(dtype):
    x = np.ones((3, 2), dtype)
    result = check_array(x, "A")
    assert result is x


@pytest.mark.parametrize(
    "data",
    [
        np.ones((3, 2), np.int64),
        np.ones((3, 2), np.uint8),
        np.ones((3, 2), bool),
        np.ones((3, 2), np.float16),
        [[1, 2], [3, 4]],
        [[1.0, 2.0]],
    ],
)
def test_check_array_converts_other_numbers_to_float64(data):
    result = check_array(data, "A")
    assert result.dtype == np.float64
    assert_array_equal(result, np.asarray(data, np.float64))


@pytest.mark.parametrize("source", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("target", [np.float32, np.float64])
def test_check_array_dtype_argument_wins(source, target):
    assert check_array(np.ones((2, 2), source), "A", dtype=target).dtype == target


def test_check_array_does_not_modify_its_input():
    x = np.array([[1, 2], [3, 4]], np.int64)
    check_array(x, "A", dtype=np.float32)
    assert x.dtype == np.int64
    assert_array_equal(x, [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "data, dtype_word",
    [
        (np.array([[1.0]], dtype=object), "object"),
        (np.array([["a"]]), "<U1"),
        (np.array([[b"a"]]), "|S1"),
        (np.array([[1 + 2j]]), "complex128"),
        (np.array([[np.datetime64("2024-01-01")]]), "datetime64"),
    ],
)
def test_check_array_rejects_non_real_dtypes(data, dtype_word):
    with pytest.raises(
        TypeError, match=rf"^Input A must hold real numbers .*dtype {re.escape(dtype_word)}"
    ):
        check_array(data, "A")


def test_check_array_rejects_none():
    with raises_exactly(TypeError, "Input B must be an array of numbers, got None."):
        check_array(None, "B")


def test_check_array_rejects_ragged_lists():
    with pytest.raises(ValueError, match=r"^Input A could not be converted to an array"):
        check_array([[1.0, 2.0], [3.0]], "A")


@pytest.mark.parametrize(
    "shape, ndim, message",
    [
        ((2, 2, 2), 2, "Input A must be a 2-D array; got 3-D with shape (2, 2, 2)."),
        ((3,), 2, "Input A must be a 2-D array; got 1-D with shape (3,)."),
        ((), 2, "Input A must be a 2-D array; got 0-D with shape ()."),
        ((2, 2, 2), (1, 2), "Input A must be a 1-D or 2-D array; got 3-D with shape (2, 2, 2)."),
    ],
)
def test_check_array_checks_ndim(shape, ndim, message):
    with raises_exactly(ValueError, message):
        check_array(np.ones(shape), "A", ndim=ndim)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_check_array_rejects_empty_arrays_unless_allowed(shape):
    with raises_exactly(
        ValueError, f"Input A is empty (shape {shape}); at least one value is needed."
    ):
        check_array(np.ones(shape), "A")
    assert check_array(np.ones(shape), "A", allow_empty=True).shape == shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "values, message",
    [
        ([np.nan, 1.0], "Input A contains NaN (1 non-finite value(s))"),
        ([np.inf, -np.inf], "Input A contains infinity (2 non-finite value(s))"),
        ([np.nan, np.inf], "Input A contains NaN (2 non-finite value(s))"),
    ],
)
def test_check_array_rejects_non_finite_values(dtype, values, message):
    x = np.array([values + [0.0]], dtype)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}; lsqnet needs finite numbers"):
        check_array(x, "A")
    assert check_array(x, "A", ensure_finite=False) is x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_array_accepts_huge_finite_values_whose_sum_overflows(dtype):
    big = np.finfo(dtype).max
    x = np.array([[big, big], [big, big]], dtype)
    assert check_array(x, "A") is x


# -- check_consistent_length --------------------------------------------------------------------
def test_check_consistent_length_lists_every_length():
    with raises_exactly(
        ValueError, "Inputs have inconsistent numbers of samples: A has 5, B has 4, w has 5."
    ):
        check_consistent_length(A=np.ones((5, 2)), B=np.ones(4), w=np.ones(5))


def test_check_consistent_length_returns_the_length_and_skips_none():
    assert check_consistent_length(A=np.ones((5, 2)), B=np.ones(5), sample_weight=None) == 5


# -- check_sample_weight ------------------------------------------------------------------------
def test_check_sample_weight_none_is_none():
    assert check_sample_weight(None, 5, 2, np.float64) is None


@pytest.mark.parametrize("shape", [(4,), (4, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_sample_weight_converts_to_the_computation_dtype(shape, dtype):
    w = check_sample_weight(np.ones(shape, np.int64), 4, 2, np.dtype(dtype))
    assert w.dtype == dtype and w.shape == shape


@pytest.mark.parametrize("shape", [(3,), (5,), (4, 1), (4, 3), (2, 4)])
def test_check_sample_weight_states_the_expected_shapes(shape):
    with raises_exactly(
        ValueError, f"Input sample_weight must have shape (4,) or (4, 2); got {shape}."
    ):
        check_sample_weight(np.ones(shape), 4, 2, np.float64)


@pytest.mark.parametrize(
    "weights, message",
    [
        ([1.0, -1.0, 1.0], "Input sample_weight must be non-negative; it has negative entries."),
        ([0.0, 0.0, 0.0], "Input sample_weight must have a positive sum (per target if 2-D)."),
        (
            [[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]],
            "Input sample_weight must have a positive sum (per target if 2-D).",
        ),
    ],
)
def test_check_sample_weight_values(weights, message):
    w = np.array(weights)
    with raises_exactly(ValueError, message):
        check_sample_weight(w, 3, 1 if w.ndim == 1 else 2, np.float64)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_check_sample_weight_must_be_finite(bad):
    with pytest.raises(ValueError, match=r"^Input sample_weight contains"):
        check_sample_weight(np.array([1.0, bad]), 2, 1, np.float64)


# -- float_dtype --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arrays, expected",
    [
        ((np.ones(2, np.float32), np.ones(2, np.float32)), np.float32),
        ((np.ones(2, np.float32), None), np.float32),
        ((np.ones(2, np.float32), np.ones(2, np.float64)), np.float64),
        ((np.ones(2, np.float32), np.ones(2, np.int64)), np.float64),
        ((np.ones(2, np.int32),), np.float64),
        ((np.ones(2, np.float16),), np.float64),
        (([1.0, 2.0],), np.float64),
        ((), np.float64),
    ],
)
def test_float_dtype(arrays, expected):
    assert float_dtype(*arrays) == expected
