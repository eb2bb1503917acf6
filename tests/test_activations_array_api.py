"""Activations on PyTorch tensors (the array API path of :mod:`lsqnet.activations`).

Every function of every registered activation must give, on a tensor, NumPy's result for the
same values (to rounding: the two libraries' ``exp``/``log``/sums may differ in the last bits),
as a new tensor of the input's dtype and device, leaving the input untouched.

Tolerances: ``RTOL`` (1e-6 for float32, 1e-12 for float64), used as both the relative and the
absolute tolerance, since results near 0 (``logit`` near 1/2, the softplus inverse near
``log 2``) are differences of O(1) terms and have no relative accuracy to compare.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from lsqnet.activations import ACTIVATIONS

torch = pytest.importorskip("torch")

ALL = sorted(ACTIVATIONS)
DTYPES = [np.float32, np.float64]
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}
RTOL = {np.float32: 1e-6, np.float64: 1e-12}
EPS = 1e-3


def assert_matches(actual, expected: np.ndarray, dtype) -> None:
    """``actual`` (a tensor) equals the NumPy result ``expected`` to ``RTOL[dtype]``."""
    t = RTOL[dtype]
    assert_allclose(actual.cpu().numpy(), expected, rtol=t, atol=t, equal_nan=True)


def assert_new_tensor_like(out, like) -> None:
    """``out`` is a tensor of ``like``'s dtype and device, in memory of its own."""
    assert isinstance(out, torch.Tensor)
    assert out.dtype == like.dtype
    assert out.device == like.device
    assert out.untyped_storage().data_ptr() != like.untyped_storage().data_ptr()


def pre_activations(dtype) -> np.ndarray:
    """Random pre-activations, with 0 (the kinks), +-1e4 (overflow) and NaN in the last row."""
    rng = np.random.default_rng(0)
    z = rng.uniform(-5, 5, size=(6, 4))
    z[-1] = [0.0, -1e4, 1e4, np.nan]
    return z.astype(dtype)


def raw_targets(act, z: np.ndarray) -> np.ndarray:
    """Outputs of ``act`` with out-of-range values and NaN in the last two rows (the shape of
    ``z``, which serves as relu's reference): clip has work to do."""
    extra = np.array([[-2.0, 2.0, 0.0, 1.0], [np.nan, 0.5, 1.5, -0.5]], dtype=z.dtype)
    return np.concatenate([act.forward(z[:-2]), extra])


# NumPy's logaddexp warns on the NaN input (softplus, softminus); the tensor path does not.
@pytest.mark.filterwarnings("ignore:invalid value encountered in logaddexp:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL)
def test_tensor_results_match_numpy(name, dtype):
    act = ACTIVATIONS[name]
    z = pre_activations(dtype)
    y = raw_targets(act, z)
    zt, yt = torch.tensor(z), torch.tensor(y)
    assert zt.dtype == TORCH_DTYPES[dtype]
    saved = [zt.clone(), yt.clone()]

    for fn in (act.forward, act, act.derivative):
        out = fn(zt)
        assert_new_tensor_like(out, zt)
        assert_matches(out, fn(z), dtype)

    clipped, n_changed = act.clip(y, eps=EPS)
    clipped_t, n_changed_t = act.clip(yt, eps=EPS)
    assert_new_tensor_like(clipped_t, yt)
    assert_matches(clipped_t, clipped, dtype)
    assert type(n_changed_t) is int
    assert n_changed_t == n_changed

    inverse_t = act.inverse(clipped_t)
    assert_new_tensor_like(inverse_t, yt)
    assert_matches(inverse_t, act.inverse(clipped), dtype)
    with_reference = act.inverse(clipped_t, reference=zt)
    assert_new_tensor_like(with_reference, yt)
    assert_matches(with_reference, act.inverse(clipped, reference=z), dtype)

    for tensor, copy in zip((zt, yt), saved, strict=True):
        assert_array_equal(tensor.numpy(), copy.numpy())  # NaN-aware: inputs unchanged


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_inverse_of_tensors_with_a_reference(dtype):
    act = ACTIVATIONS["relu"]
    y = torch.tensor([2.0, 0.0, 0.0, 0.0, 0.5, -1.0], dtype=TORCH_DTYPES[dtype])
    reference = np.array([-7.0, 3.0, -1.5, 0.0, -4.0, 1.0])
    expected = np.array([2.0, 0.0, -1.5, 0.0, 0.5, np.nan], dtype=dtype)
    assert_array_equal(act.inverse(y).numpy(), np.where(np.isnan(expected), np.nan, y.numpy()))
    for ref in (torch.tensor(reference), reference):  # a NumPy reference is converted
        out = act.inverse(y, reference=ref)
        assert_new_tensor_like(out, y)
        assert_array_equal(out.numpy(), expected)
    with pytest.raises(ValueError, match=r"shape \(3,\) and y of shape \(6,\)"):
        act.inverse(y, reference=torch.zeros(3))


@pytest.mark.parametrize("name", ALL)
def test_integer_and_bool_tensors_are_computed_in_float64(name):
    act = ACTIVATIONS[name]
    for z in (torch.tensor([[0, 1, 2]]), torch.tensor([[True, False, True]])):
        assert act.forward(z).dtype == torch.float64
        assert act.derivative(z).dtype == torch.float64
        assert act.clip(z, eps=EPS)[0].dtype == torch.float64
    # float16 as in NumPy: computed in float64.
    assert act.forward(torch.tensor([[0.5, 1.0]], dtype=torch.float16)).dtype == torch.float64


def test_complex_tensors_are_rejected():
    with pytest.raises(TypeError, match="real numbers"):
        ACTIVATIONS["tanh"].forward(torch.tensor([1j]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL)
def test_cuda_tensors_stay_on_the_device(name, dtype):
    act = ACTIVATIONS[name]
    z = pre_activations(dtype)
    y, _ = act.clip(raw_targets(act, z), eps=EPS)
    zt, yt = torch.tensor(z, device="cuda"), torch.tensor(y, device="cuda")
    for fn, arg, expected in (
        (act.forward, zt, act.forward(z)),
        (act.derivative, zt, act.derivative(z)),
        (act.inverse, yt, act.inverse(y)),
        (lambda t: act.inverse(t, reference=zt), yt, act.inverse(y, reference=z)),
        (lambda t: act.clip(t, eps=EPS)[0], yt, y),
    ):
        out = fn(arg)
        assert_new_tensor_like(out, arg)
        assert out.is_cuda
        # CUDA's exp/log/sums round differently from the CPU's: a looser tolerance.
        t = 1e-5 if dtype == np.float32 else 1e-10
        assert_allclose(out.cpu().numpy(), expected, rtol=t, atol=t, equal_nan=True)
    assert isinstance(act.clip(yt, eps=EPS)[1], int)


def pre_activation_arrays() -> st.SearchStrategy:
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 5)),
        elements=st.floats(-30.0, 30.0, allow_nan=False, allow_infinity=False),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(z=pre_activation_arrays())
def test_forward_and_derivative_agree_with_numpy(name, dtype, z):
    act = ACTIVATIONS[name]
    z = z.astype(dtype)
    zt = torch.tensor(z)
    assert_matches(act.forward(zt), act.forward(z), dtype)
    assert_matches(act.derivative(zt), act.derivative(z), dtype)
