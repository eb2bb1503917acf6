"""Tests for lsqnet.activations: round trips, derivatives, clipping, dtypes, the registry.

Tolerances come from :func:`tolerance` (1e-4 for float32, 1e-7 for float64), used as both the
relative and the absolute tolerance, since round trips through values near 0 have no relative
accuracy to speak of. ``rng`` is the seeded generator fixture of ``conftest.py``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

from lsqnet.activations import ACTIVATIONS, ELU_ALPHA, LEAKY_RELU_SLOPE, Activation, get

DTYPES = [np.float32, np.float64]
ALL = sorted(ACTIVATIONS)
ELEMENTWISE = [name for name in ALL if not ACTIVATIONS[name].rowwise]
INVERTIBLE_ELEMENTWISE = [name for name in ELEMENTWISE if ACTIVATIONS[name].invertible]

# Pre-activations whose image lies well inside the open range, so that z -> y -> z is well
# conditioned in float32 too (e.g. sigmoid(6) = 1 - 2.5e-3: 1 - y still has ~4 digits in float32).
Z_BOUNDS = {
    "identity": (-1e3, 1e3),
    "sigmoid": (-6.0, 6.0),
    "tanh": (-3.0, 3.0),
    "elu": (-5.0, 50.0),
    "leaky_relu": (-1e3, 1e3),
    "softplus": (-30.0, 30.0),
    "softminus": (-30.0, 30.0),
}
# Targets strictly inside the open range, with margins that survive the cast to float32.
Y_BOUNDS = {
    "identity": (-1e3, 1e3),
    "sigmoid": (1e-6, 1 - 1e-4),
    "tanh": (-1 + 1e-4, 1 - 1e-4),
    "elu": (-ELU_ALPHA + 1e-4, 1e3),
    "leaky_relu": (-1e3, 1e3),
    "softplus": (1e-6, 1e3),
    "softminus": (-1e3, -1e-6),
}


def tolerance(dtype: np.dtype | type) -> float:
    """The dtype-aware tolerance: 1e-4 for float32, 1e-7 for float64."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-7


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: np.dtype | type) -> None:
    """Relative and absolute tolerance ``tolerance(dtype)`` (absolute for values near 0)."""
    t = tolerance(dtype)
    assert_allclose(actual, expected, rtol=t, atol=t)


def arrays_in(low: float, high: float, max_size: int = 20) -> st.SearchStrategy:
    return hnp.arrays(
        np.float64,
        st.integers(1, max_size),
        elements=st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


def test_bounds_tables_cover_every_invertible_elementwise_activation():
    assert set(Z_BOUNDS) == set(INVERTIBLE_ELEMENTWISE) == set(Y_BOUNDS)
    assert set(ALL) == set(INVERTIBLE_ELEMENTWISE) | {"relu", "softmax"}


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", INVERTIBLE_ELEMENTWISE)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_inverse_of_forward_is_identity(name, dtype, data):
    act = ACTIVATIONS[name]
    z = data.draw(arrays_in(*Z_BOUNDS[name])).astype(dtype)
    y = act.forward(z)
    assert np.all((y > act.output_range[0]) & (y < act.output_range[1]))
    assert_close(act.inverse(y), z, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", INVERTIBLE_ELEMENTWISE)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_forward_of_inverse_is_identity(name, dtype, data):
    act = ACTIVATIONS[name]
    y = data.draw(arrays_in(*Y_BOUNDS[name])).astype(dtype)
    z = act.inverse(y)
    assert np.all(np.isfinite(z))
    assert_close(act.forward(z), y, dtype)


def softmax_rows(min_value: float, max_value: float) -> st.SearchStrategy:
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(2, 6)),
        elements=st.floats(min_value, max_value, allow_nan=False, allow_infinity=False),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=60, deadline=None)
@given(z=softmax_rows(-5.0, 5.0))
def test_softmax_inverse_of_forward_is_the_zero_mean_representative(dtype, z):
    act = ACTIVATIONS["softmax"]
    z = z.astype(dtype)
    back = act.inverse(act.forward(z))
    assert_close(back, z - z.mean(axis=-1, keepdims=True), dtype)
    assert_close(back.mean(axis=-1), np.zeros(z.shape[0]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=60, deadline=None)
@given(w=softmax_rows(1e-2, 1.0))
def test_softmax_forward_of_inverse_is_identity_on_the_simplex(dtype, w):
    act = ACTIVATIONS["softmax"]
    y = (w / w.sum(axis=-1, keepdims=True)).astype(dtype)
    assert_close(act.forward(act.inverse(y)), y, dtype)


def test_softmax_on_a_single_row_and_rejects_scalars():
    act = ACTIVATIONS["softmax"]
    y = act.forward(np.array([1.0, 2.0, 3.0]))
    assert_allclose(y, np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum(), rtol=1e-12)
    assert_allclose(act.inverse(y), [-1.0, 0.0, 1.0], atol=1e-12)
    with pytest.raises(ValueError, match="at least one dimension"):
        act.forward(np.float64(1.0))


@pytest.mark.parametrize("name", INVERTIBLE_ELEMENTWISE)
def test_invertible_activations_ignore_the_reference(name, rng):
    act = ACTIVATIONS[name]
    y = act.forward(rng.uniform(-2, 2, size=(5, 3)))
    assert_array_equal(act.inverse(y, reference=rng.standard_normal((5, 3))), act.inverse(y))


@pytest.mark.parametrize(
    ("name", "at_bound", "beyond"),
    [
        ("sigmoid", [0.0, 1.0], [-0.5, 1.5]),
        ("tanh", [-1.0, 1.0], [-1.5, 1.5]),
        ("elu", [-ELU_ALPHA], [-ELU_ALPHA - 0.5]),
        ("softplus", [0.0], [-0.5]),
        ("softminus", [0.0], [0.5]),
    ],
)
def test_inverse_out_of_range_gives_inf_or_nan_silently(name, at_bound, beyond):
    act = ACTIVATIONS[name]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        z_at = act.inverse(np.array(at_bound))
        z_beyond = act.inverse(np.array(beyond))
    assert np.all(np.isinf(z_at))
    assert np.all(np.isnan(z_beyond))


# --------------------------------------------------------------------------------------------
# Derivatives
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_difference(name, rng):
    act = ACTIVATIONS[name]
    z = rng.uniform(-6, 6, size=400)
    z = z[np.abs(z) > 1e-3]  # keep the kinks of relu, leaky_relu and elu out of the stencil
    h = 1e-5
    numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h)
    assert_close(act.derivative(z), numeric, np.float64)


def test_softmax_derivative_is_the_jacobian_diagonal(rng):
    act = ACTIVATIONS["softmax"]
    z = rng.uniform(-4, 4, size=(30, 5))
    h = 1e-5
    numeric = np.empty_like(z)
    for j in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, j] = h
        numeric[:, j] = (act.forward(z + step)[:, j] - act.forward(z - step)[:, j]) / (2 * h)
    assert_close(act.derivative(z), numeric, np.float64)


def test_derivative_values_at_the_kinks_and_the_documented_constants():
    z = np.array([-2.0, 0.0, 2.0])
    assert_array_equal(ACTIVATIONS["relu"].derivative(z), [0.0, 0.0, 1.0])
    assert_array_equal(
        ACTIVATIONS["leaky_relu"].derivative(z), [LEAKY_RELU_SLOPE, LEAKY_RELU_SLOPE, 1.0]
    )
    assert_allclose(ACTIVATIONS["elu"].derivative(z), [ELU_ALPHA * np.exp(-2.0), ELU_ALPHA, 1.0])
    assert ACTIVATIONS["elu"].output_range == (-ELU_ALPHA, np.inf)


# --------------------------------------------------------------------------------------------
# dtypes and purity
# --------------------------------------------------------------------------------------------


def valid_targets(act: Activation, rng: np.random.Generator, dtype) -> np.ndarray:
    y, _ = act.clip(act.forward(rng.uniform(-3, 3, size=(6, 4)).astype(dtype)), eps=1e-3)
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL)
def test_dtype_is_preserved(name, dtype, rng):
    act = ACTIVATIONS[name]
    z = rng.uniform(-3, 3, size=(6, 4)).astype(dtype)
    y = valid_targets(act, rng, dtype)
    assert act.forward(z).dtype == dtype
    assert act(z).dtype == dtype
    assert act.derivative(z).dtype == dtype
    assert act.inverse(y).dtype == dtype
    assert act.inverse(y, reference=z.astype(np.float64)).dtype == dtype
    clipped, _ = act.clip(y, eps=1e-3)
    assert clipped.dtype == dtype


@pytest.mark.parametrize("name", ALL)
def test_integer_and_list_inputs_are_computed_in_float64(name):
    act = ACTIVATIONS[name]
    assert act.forward(np.array([[0, 1, 2]])).dtype == np.float64
    assert act.derivative([[0.0, 1.0, 2.0]]).dtype == np.float64
    assert act.clip([[0, 1, 2]], eps=1e-3)[0].dtype == np.float64


@pytest.mark.parametrize("name", ALL)
def test_inputs_are_never_modified(name, rng):
    act = ACTIVATIONS[name]
    z = rng.uniform(-3, 3, size=(6, 4))
    # Out-of-range targets too: clip must not clip in place.
    y = np.concatenate([valid_targets(act, rng, np.float64), rng.uniform(-3, 3, size=(2, 4))])
    y[0, 0] = 0.0
    reference = rng.standard_normal(y.shape)
    saved = [a.copy() for a in (z, y, reference)]
    for a in (z, y, reference):
        a.flags.writeable = False  # any in-place write would raise
    outputs = [
        act.forward(z),
        act.derivative(z),
        act.inverse(y),
        act.inverse(y, reference=reference),
        act.clip(y, eps=1e-3)[0],
    ]
    for a, copy in zip((z, y, reference), saved, strict=True):
        assert_array_equal(a, copy)
    for out in outputs:
        assert not np.shares_memory(out, z)
        assert not np.shares_memory(out, y)
        assert not np.shares_memory(out, reference)


# --------------------------------------------------------------------------------------------
# clip
# --------------------------------------------------------------------------------------------

OPEN_BOUNDED = [
    name
    for name in ELEMENTWISE
    if any(
        np.isfinite(b) and not c
        for b, c in zip(ACTIVATIONS[name].output_range, ACTIVATIONS[name].closed, strict=True)
    )
]


def margins(act: Activation, eps: float, dtype) -> tuple[float, float]:
    low, high = act.output_range
    lo = dtype(low + eps) if np.isfinite(low) else -np.inf
    hi = dtype(high - eps) if np.isfinite(high) else np.inf
    return lo, hi


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", OPEN_BOUNDED)
def test_clip_moves_values_beyond_each_finite_bound_to_the_margin(name, dtype):
    act = ACTIVATIONS[name]
    eps = 1e-3
    lo, hi = margins(act, eps, dtype)
    values, expected = [], []
    if np.isfinite(lo):
        below = [lo - 10, lo - eps, lo - eps / 2]  # beyond the bound, at it, inside the margin
        values += below + [lo]
        expected += [lo] * len(below) + [lo]
    if np.isfinite(hi):
        above = [hi + eps / 2, hi + eps, hi + 10]
        values += above + [hi]
        expected += [hi] * len(above) + [hi]
    inside = [v for v in (-0.9, -0.3, 0.0, 0.25, 0.5, 0.75, 5.0) if lo < v < hi]
    values += inside
    expected += inside
    y = np.array(values, dtype=dtype)
    clipped, n_changed = act.clip(y, eps=eps)
    assert_array_equal(clipped, np.array(expected, dtype=dtype))
    assert n_changed == int(np.count_nonzero(clipped != y))
    assert n_changed == len(values) - len(inside) - np.isfinite([lo, hi]).sum()
    assert np.all(np.isfinite(act.inverse(clipped)))


@pytest.mark.parametrize("name", OPEN_BOUNDED)
@settings(max_examples=60, deadline=None)
@given(y=arrays_in(-5.0, 5.0, max_size=30), eps=st.floats(1e-6, 0.4))
def test_clip_is_numpy_clip_to_the_margins_and_counts_exactly(name, y, eps):
    act = ACTIVATIONS[name]
    lo, hi = margins(act, eps, np.float64)
    clipped, n_changed = act.clip(y, eps=eps)
    assert_array_equal(clipped, np.clip(y, lo, hi))
    assert n_changed == int(np.count_nonzero((y < lo) | (y > hi)))


def test_clip_keeps_a_tiny_margin_inside_the_range_in_float32():
    act = ACTIVATIONS["sigmoid"]
    clipped, n_changed = act.clip(np.array([0.0, 1.0, 2.0], dtype=np.float32), eps=1e-10)
    assert n_changed == 3
    assert np.all((clipped > 0) & (clipped < 1))
    assert np.all(np.isfinite(act.inverse(clipped)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_clips_negatives_to_zero(dtype):
    y = np.array([-2.0, -1e-30, 0.0, 1e-30, 0.5, 10.0], dtype=dtype)
    clipped, n_changed = ACTIVATIONS["relu"].clip(y, eps=1e-3)
    assert_array_equal(clipped, np.array([0.0, 0.0, 0.0, 1e-30, 0.5, 10.0], dtype=dtype))
    assert n_changed == 2


@pytest.mark.parametrize("name", ["identity", "leaky_relu"])
def test_clip_without_finite_bounds_changes_nothing(name):
    y = np.array([-1e6, 0.0, 1e6])
    clipped, n_changed = ACTIVATIONS[name].clip(y, eps=1e-3)
    assert_array_equal(clipped, y)
    assert n_changed == 0
    assert not np.shares_memory(clipped, y)


@pytest.mark.parametrize(
    ("eps", "error"),
    [
        (-1, ValueError),
        (0.0, ValueError),
        (0.5, ValueError),
        (np.nan, ValueError),
        ("0.1", TypeError),
        (True, TypeError),
    ],
)
def test_clip_validates_eps(eps, error):
    with pytest.raises(
        error,
        match=r"The 'eps' parameter of Activation.clip must be a float "
        r"in \(0, 0.5\)\. Got .* instead\.",
    ):
        ACTIVATIONS["sigmoid"].clip(np.array([0.5]), eps=eps)


def test_clip_error_message_matches_the_scikit_learn_format():
    with pytest.raises(ValueError) as info:
        ACTIVATIONS["tanh"].clip(np.array([0.5]), eps=-1)
    assert str(info.value) == (
        "The 'eps' parameter of Activation.clip must be a float in (0, 0.5). Got -1 instead."
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_clip_of_one_hot_rows(dtype):
    act = ACTIVATIONS["softmax"]
    one_hot = np.eye(4, dtype=dtype)[[0, 2, 1, 3, 3]]
    clipped, n_changed = act.clip(one_hot, eps=1e-2)
    assert n_changed == one_hot.size  # every row was clipped and renormalised
    assert np.all((clipped > 0) & (clipped < 1))
    assert_close(clipped.sum(axis=-1), np.ones(5), dtype)
    assert_array_equal(clipped.argmax(axis=-1), one_hot.argmax(axis=-1))
    z = act.inverse(clipped)
    assert_close(z.mean(axis=-1), np.zeros(5), dtype)
    assert_close(act.forward(z), clipped, dtype)


def test_softmax_clip_counts_clipped_and_renormalised_entries():
    act = ACTIVATIONS["softmax"]
    y = np.array(
        [
            [0.2, 0.3, 0.5],  # valid: untouched
            [0.2, 0.2, 0.2],  # in range but sums to 0.6: renormalised, 3 changed
            [0.0, 0.5, 0.5],  # one entry clipped, row renormalised: 3 changed
            [0.7, 0.2, 0.1],  # sums to 0.9999999999999999, 1 within rounding: untouched
        ]
    )
    clipped, n_changed = act.clip(y, eps=1e-3)
    assert n_changed == 6
    assert_array_equal(clipped[[0, 3]], y[[0, 3]])
    assert_allclose(clipped[1], [1 / 3, 1 / 3, 1 / 3], rtol=1e-15)
    assert_allclose(clipped.sum(axis=-1), np.ones(4), rtol=1e-15)
    assert n_changed == int(np.count_nonzero(clipped != y))


# --------------------------------------------------------------------------------------------
# relu: the non-invertible case
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_inverse_with_and_without_reference(dtype):
    act = ACTIVATIONS["relu"]
    assert not act.invertible and act.closed == (True, False)
    y = np.array([2.0, 0.0, 0.0, 0.0, 0.5], dtype=dtype)
    reference = np.array([-7.0, 3.0, -1.5, 0.0, -4.0])
    assert_array_equal(act.inverse(y), np.array([2.0, 0.0, 0.0, 0.0, 0.5], dtype=dtype))
    assert_array_equal(
        act.inverse(y, reference=reference), np.array([2.0, 0.0, -1.5, 0.0, 0.5], dtype=dtype)
    )
    assert_array_equal(act.forward(act.inverse(y, reference=reference)), y)
    assert np.isnan(act.inverse(np.array([-1.0]))).all()
    with pytest.raises(ValueError, match="shape"):
        act.inverse(y, reference=np.zeros(3))


def one_sided_loss(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(np.where(y > 0, (z - y) ** 2, np.maximum(z, 0) ** 2)))


def relu_problem(seed: int, zero_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, d = 200, 5
    X = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    z = X @ rng.standard_normal(d + 1) + 0.5 * rng.standard_normal(n)
    y = np.maximum(z - np.quantile(z, zero_fraction), 0)
    return X, y


def mm_losses(X: np.ndarray, y: np.ndarray, n_iter: int = 20) -> list[float]:
    relu = ACTIVATIONS["relu"]
    w = np.linalg.lstsq(X, relu.inverse(y), rcond=None)[0]
    losses = [one_sided_loss(X @ w, y)]
    for _ in range(n_iter):
        w = np.linalg.lstsq(X, relu.inverse(y, reference=X @ w), rcond=None)[0]
        losses.append(one_sided_loss(X @ w, y))
    return losses


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_inverse_with_reference_is_a_majorise_minimise_scheme(seed):
    # 10% zero targets: MM converges linearly at a rate set by the share of zero targets whose
    # fit is negative; with ~half the targets at zero it needs far more than 20 iterations
    # (see the next test), so this fixes a fraction where 20 iterations reach the optimum.
    X, y = relu_problem(seed, zero_fraction=0.1)
    losses = mm_losses(X, y)
    assert np.all(np.diff(losses) <= 1e-12 * losses[0])

    def fun(w):
        return one_sided_loss(X @ w, y)

    def jac(w):
        z = X @ w
        return 2 * X.T @ np.where(y > 0, z - y, np.maximum(z, 0))

    best = minimize(
        fun,
        np.zeros(X.shape[1]),
        jac=jac,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    assert losses[-1] <= best.fun + 1e-6


def test_relu_majorise_minimise_is_monotone_with_many_zero_targets():
    X, y = relu_problem(3, zero_fraction=0.5)
    losses = mm_losses(X, y, n_iter=50)
    assert np.all(np.diff(losses) <= 1e-12 * losses[0])
    assert losses[-1] < losses[0]


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def test_get_returns_registered_records_and_passes_instances_through():
    for name in ALL:
        assert get(name) is ACTIVATIONS[name]
        assert get(name).name == name
    custom = Activation(
        "cube", np.cbrt, lambda y, reference=None: y**3, np.ones_like, (-np.inf, np.inf)
    )
    assert get(custom) is custom


def test_get_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="'activation' parameter of activations.get") as info:
        get("sigmod")
    assert "'sigmoid'" in str(info.value)
    assert "'sigmod'" in str(info.value)


@pytest.mark.parametrize("bad", [3, None, np.tanh, ["relu"]])
def test_get_rejects_non_strings(bad):
    with pytest.raises(TypeError, match="'activation' parameter of activations.get"):
        get(bad)


def test_registry_and_records_are_read_only():
    with pytest.raises(TypeError):
        ACTIVATIONS["cube"] = ACTIVATIONS["identity"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ACTIVATIONS["tanh"].name = "other"  # type: ignore[misc]


def test_registered_ranges_and_flags():
    expected = {
        "identity": (-np.inf, np.inf),
        "sigmoid": (0.0, 1.0),
        "tanh": (-1.0, 1.0),
        "elu": (-1.0, np.inf),
        "leaky_relu": (-np.inf, np.inf),
        "softplus": (0.0, np.inf),
        "softminus": (-np.inf, 0.0),
        "softmax": (0.0, 1.0),
        "relu": (0.0, np.inf),
    }
    assert {name: act.output_range for name, act in ACTIVATIONS.items()} == expected
    assert [name for name in ALL if ACTIVATIONS[name].rowwise] == ["softmax"]
    assert [name for name in ALL if not ACTIVATIONS[name].invertible] == ["relu"]


def test_activation_rejects_an_empty_range():
    with pytest.raises(ValueError, match="low < high"):
        Activation("bad", np.tanh, np.arctanh, np.tanh, (1.0, -1.0))


# --------------------------------------------------------------------------------------------
# Numerical stability
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL)
def test_no_overflow_warnings_for_large_pre_activations(name, dtype):
    act = ACTIVATIONS[name]
    z = np.linspace(-1e4, 1e4, 2001, dtype=dtype)
    shapes = [(1, 2001), (2001, 1), (667, 3)] if act.rowwise else [(2001,)]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for shape in shapes:
            y = act.forward(z.reshape(shape))
            d = act.derivative(z.reshape(shape))
            assert np.all(np.isfinite(y)) and np.all(np.isfinite(d))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_in_place_equals_forward(name, dtype):
    """``forward_`` gives ``forward``'s exact result, in the input's memory where it can."""
    act = ACTIVATIONS[name]
    z = np.linspace(-30, 30, 600, dtype=dtype).reshape(-1, 3)
    expected = act.forward(z)
    work = z.copy()
    out = act.forward_(work)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == dtype
    if name in ("identity", "relu", "tanh", "sigmoid"):
        assert out is work  # computed in place
    else:
        np.testing.assert_array_equal(work, z)  # no in-place form: the input is left alone


@settings(max_examples=60, deadline=None)
@given(
    z=hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        st.tuples(st.integers(0, 6), st.sampled_from([1, 2, 10, 64, 65])),
        elements=st.floats(-1e6, 1e6, width=32) | st.sampled_from([np.nan, np.inf, -np.inf]),
    )
)
def test_softmax_row_maximum_equals_numpy_max(z):
    # NumPy rows up to _COLUMNWISE_MAX long take their maximum column by column (faster):
    # the same values as max(axis=-1), NaN and infinities included
    from lsqnet.activations import _row_max

    top = _row_max(z)
    assert_array_equal(top, np.max(z, axis=-1, keepdims=True))
    assert top.dtype == z.dtype and top.shape == (z.shape[0], 1)
