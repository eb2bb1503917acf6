"""fit_layer, Dense and collapse_linear on PyTorch tensors (the array API path of lsqnet.layers).

A fit on tensors must give the fit on the same values as NumPy arrays, as tensors of the
input's dtype and on its device, without modifying the inputs and without copying anything to
the host. Mixed inputs (a tensor with a NumPy array or a list, or tensors on two devices) raise
a ``ValueError`` naming both arguments; the second device is PyTorch's ``meta`` device, which
every machine has.

Tolerances (``assert_same_fit``): entries agree to ``rtol`` relative to the largest entry of
the NumPy result (an absolute tolerance of ``rtol * max|expected|``, since entries near 0 have
no relative accuracy of their own): 1e-8 in float64. In float32 1e-4 (the suite's float32
tolerance, ``conftest.tol``): the two libraries' products and sums round differently, by a
few float32 epsilons (1.2e-7) amplified by the conditioning of the problems (< 10 here) and,
with ``refine``, by the damped Gauss-Newton steps, whose accept/reject tests compare losses
that differ by rounding. The largest float32 difference seen on this grid was 2.2e-5.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from lsqnet import Dense, collapse_linear, fit_layer
from lsqnet.activations import ACTIVATIONS
from lsqnet.exceptions import LSQNetError, TargetClippingWarning
from lsqnet.layers import LayerFit
from lsqnet.solvers import SOLVERS

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]
TORCH = {np.float32: torch.float32, np.float64: torch.float64}
RTOL = {np.float32: 1e-4, np.float64: 1e-8}
ACTS = ["identity", "sigmoid", "tanh", "relu", "softmax"]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def as_tensor(a, device="cpu"):
    return None if a is None else torch.tensor(np.asarray(a), device=device)


def data(activation, dtype, n=40, d=4, k=3, seed=0):
    """Inputs (not centred) and targets of a noisy layer, strictly inside the output range
    (relu's are about half zeros)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, d)) + rng.standard_normal(d)
    W = rng.uniform(-1.0, 1.0, (d, k))
    b = rng.uniform(-0.5, 0.5, k)
    Z = (X - X.mean(axis=0)) @ W + b + 0.2 * rng.standard_normal((n, k))
    Y = ACTIVATIONS[activation].forward(Z)
    return X.astype(dtype), Y.astype(dtype)


def weights(kind, n, k, dtype, seed=1):
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    shape = (n,) if kind == "1d" else (n, k)
    return rng.uniform(0.2, 2.0, shape).astype(dtype)


def assert_tensor_like(out, like):
    """``out`` is a tensor of ``like``'s dtype and device."""
    assert isinstance(out, torch.Tensor)
    assert out.dtype == like.dtype
    assert out.device == like.device


def assert_same_fit(got, expected, dtype):
    """A layer (or LayerFit) of tensors equals the NumPy one to the tolerances above."""
    rtol = RTOL[dtype]
    if isinstance(expected, LayerFit):
        assert isinstance(got, LayerFit)
        assert got.solver == expected.solver
        assert got.n_clipped == expected.n_clipped
        assert_allclose(got.loss, expected.loss, rtol=max(rtol, 1e-6), atol=1e-12)
        # Not n_refine: at the optimum, steps that change the loss by rounding only are
        # accepted or rejected depending on how each library rounds it.
        got, expected = got.layer, expected.layer
    assert got.activation == expected.activation
    for t, e in [(got.weight, expected.weight), (got.bias, expected.bias)]:
        scale = float(np.max(np.abs(e))) if e.size else 0.0
        assert_allclose(t.cpu().numpy(), e, rtol=rtol, atol=rtol * scale)


def fit_both(X, Y, w, **kwargs):
    """fit_layer on NumPy arrays and on CPU tensors of the same values; the inputs are
    checked to be unchanged. Returns (numpy result, tensor result, the tensor X)."""
    tX, tY, tw = as_tensor(X), as_tensor(Y), as_tensor(w)
    copies = [t.clone() for t in (tX, tY, tw) if t is not None]
    expected = fit_layer(X, Y, sample_weight=w, **kwargs)
    got = fit_layer(tX, tY, sample_weight=tw, **kwargs)
    for t, c in zip([t for t in (tX, tY, tw) if t is not None], copies, strict=True):
        assert torch.equal(t, c)  # inputs not modified
    return expected, got, tX


# --------------------------------------------------------------------------------------------
# 1. Tensors give NumPy's fit
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("sw", [None, "1d", "2d"], ids=["unweighted", "w1d", "w2d"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("activation", "refine"),
    # refine is not available for softmax (its error is tested below)
    [(act, refine) for act in ACTS for refine in (0, 3) if not (refine and act == "softmax")],
)
def test_tensor_fit_matches_numpy(activation, refine, solver, fit_intercept, sw, dtype):
    X, Y = data(activation, dtype)
    w = weights(sw, *Y.shape, dtype)
    kwargs = dict(
        activation=activation, solver=solver, fit_intercept=fit_intercept, refine=refine,
        alpha=0.1, return_info=True,
    )
    if sw == "2d":  # fit_layer takes 1-D weights only: the same error for both
        with pytest.raises(ValueError, match=r"sample_weight of fit_layer must be 1-D") as np_err:
            fit_layer(X, Y, sample_weight=w, **kwargs)
        with pytest.raises(ValueError, match=r"sample_weight of fit_layer must be 1-D") as t_err:
            fit_layer(as_tensor(X), as_tensor(Y), sample_weight=as_tensor(w), **kwargs)
        assert str(t_err.value) == str(np_err.value)
        return
    expected, got, tX = fit_both(X, Y, w, **kwargs)
    assert_tensor_like(got.layer.weight, tX)
    assert_tensor_like(got.layer.bias, tX)
    assert tuple(got.layer.weight.shape) == expected.layer.weight.shape
    assert_same_fit(got, expected, dtype)
    if not fit_intercept:
        assert not bool(torch.any(got.layer.bias != 0))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("sw", [None, "1d"], ids=["unweighted", "w1d"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softmax"])
def test_weighted_method_matches_numpy(activation, sw, dtype):
    X, Y = data(activation, dtype)
    w = weights(sw, *Y.shape, dtype)
    expected, got, tX = fit_both(X, Y, w, activation=activation, method="weighted",
                                 return_info=True)
    assert_tensor_like(got.layer.weight, tX)
    assert_same_fit(got, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_plain_return_dense_1d_targets_and_mixed_dtypes(dtype):
    """return_info=False gives a Dense of tensors; 1-D Y is one output column; a float32 X
    with a float64 Y is fitted in float64, as for NumPy."""
    X, Y = data("tanh", dtype, k=1)
    expected, got, tX = fit_both(X, Y[:, 0], None, activation="tanh", refine=2)
    assert isinstance(got, Dense)
    assert tuple(got.weight.shape) == (4, 1)
    assert_same_fit(got, expected, dtype)
    mixed = fit_layer(as_tensor(X.astype(np.float32)), as_tensor(Y.astype(np.float64)))
    assert mixed.weight.dtype == torch.float64
    ints = fit_layer(torch.tensor([[0, 1], [2, 0], [1, 1], [3, 5]]), torch.arange(4))
    assert ints.weight.dtype == torch.float64


def test_softmax_refine_error_is_the_same():
    X, Y = data("softmax", np.float64)
    with pytest.raises(ValueError, match="refine > 0 is not available for the 'softmax'"):
        fit_layer(as_tensor(X), as_tensor(Y), activation="softmax", refine=1)


def test_target_clipping_warns_and_counts_as_numpy():
    X, Y = data("sigmoid", np.float64)
    Y[:3, 0] = [1.5, -0.2, 1.0]
    with pytest.warns(TargetClippingWarning, match=r"2 target value\(s\).*'sigmoid'") as rec:
        got = fit_layer(as_tensor(X), as_tensor(Y), activation="sigmoid", return_info=True)
    assert rec[0].filename == __file__  # attributed to the caller
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TargetClippingWarning)
        expected = fit_layer(X, Y, activation="sigmoid", return_info=True)
    assert got.n_clipped == expected.n_clipped == 3
    assert_same_fit(got, expected, np.float64)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize("refine", [0, 2])
def test_non_finite_weights_raise_for_tensors(refine):
    """Tiny inputs, huge targets: the ReLU solution (~1e40) overflows float32."""
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((30, 3)) * 1e-21, dtype=torch.float32)
    Y = torch.tensor(rng.uniform(1.0, 2.0, (30, 2)) * 1e19, dtype=torch.float32)
    with pytest.raises(LSQNetError, match=r"fit_layer: the fitted weights are not finite.*"
                                          r"range of float32.*or use float64"):
        fit_layer(X, Y, activation="relu", refine=refine)


def test_dense_forward_and_collapse_linear_on_tensors():
    X, Y = data("identity", np.float64)
    tX = as_tensor(X)
    first = fit_layer(tX, as_tensor(Y))
    second = fit_layer(first(tX), as_tensor(Y[:, :2]))
    out = second(first(tX))
    assert_tensor_like(out, tX)
    single = collapse_linear([first, second])
    assert_tensor_like(single.weight, tX)
    assert_allclose(single(tX).numpy(), out.numpy(), rtol=1e-12, atol=1e-12)
    np_first = fit_layer(X, Y)
    assert_allclose(first.forward(tX).numpy(), np_first.forward(X), rtol=1e-8, atol=1e-8)


# --------------------------------------------------------------------------------------------
# 2. Nothing is copied to the host
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
def test_fit_layer_copies_nothing_to_the_host(monkeypatch):
    X, Y = data("relu", np.float64)
    cases = [
        (X, Y, dict(activation="relu", refine=2, return_info=True)),
        (X, Y, dict(activation="relu", solver="svd", fit_intercept=False)),
        (*data("sigmoid", np.float32), dict(activation="sigmoid", method="weighted",
                                            sample_weight=np.ones(40, np.float32))),
        (*data("tanh", np.float64), dict(activation="tanh", solver="qr", refine=3,
                                         sample_weight=weights("1d", 40, 3, np.float64))),
        (*data("softmax", np.float64), dict(activation="softmax", return_info=True)),
    ]
    tensors = [
        (as_tensor(X), as_tensor(Y),
         {k: as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
        for X, Y, kw in cases
    ]

    def no_host_copy(*args, **kwargs):
        raise AssertionError("a tensor was copied to the host")

    monkeypatch.setattr(torch.Tensor, "__array__", no_host_copy)
    monkeypatch.setattr(torch.Tensor, "numpy", no_host_copy)
    with pytest.raises(AssertionError, match="copied to the host"):  # the patch is effective
        np.asarray(torch.ones(2))
    for tX, tY, kw in tensors:
        out = fit_layer(tX, tY, **kw)
        layer = out.layer if isinstance(out, LayerFit) else out
        assert_tensor_like(layer.weight, tX)
        assert_tensor_like(layer(tX), tX)


# --------------------------------------------------------------------------------------------
# 3. Mixed libraries and devices
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (lambda X, Y, w: (as_tensor(X), Y, None),
         r"fit_layer: X is a torch Tensor on cpu and Y is a NumPy array; pass them as arrays of "
         r"one library on one device \(e\.g\. torch\.as_tensor\(Y, device=X\.device\)\)"),
        (lambda X, Y, w: (X, as_tensor(Y), None),
         r"X is a NumPy array and Y is a torch Tensor on cpu.*"
         r"torch\.as_tensor\(X, device=Y\.device\)"),
        (lambda X, Y, w: (X.tolist(), as_tensor(Y), None), r"X is a list and Y is a torch"),
        (lambda X, Y, w: (as_tensor(X), as_tensor(Y), w),
         r"X is a torch Tensor on cpu and sample_weight is a NumPy array"),
        (lambda X, Y, w: (as_tensor(X), as_tensor(Y), w.tolist()),
         r"X is a torch Tensor on cpu and sample_weight is a list"),
        (lambda X, Y, w: (X, Y, as_tensor(w)),
         r"X is a NumPy array and sample_weight is a torch Tensor on cpu"),
        (lambda X, Y, w: (as_tensor(X), as_tensor(Y, device="meta"), None),
         r"X is a torch Tensor on cpu and Y is a torch Tensor on meta"),
        (lambda X, Y, w: (as_tensor(X, device="meta"), as_tensor(Y), None),
         r"X is a torch Tensor on meta and Y is a torch Tensor on cpu"),
        (lambda X, Y, w: (as_tensor(X), as_tensor(Y), as_tensor(w, device="meta")),
         r"X is a torch Tensor on cpu and sample_weight is a torch Tensor on meta"),
    ],
    ids=["tensor-numpy", "numpy-tensor", "list-tensor", "numpy-weights", "list-weights",
         "tensor-weights", "Y-meta", "X-meta", "weights-meta"],
)
def test_mixed_inputs_raise_naming_both(args, match):
    X, Y = data("sigmoid", np.float64)
    X_, Y_, w_ = args(X, Y, np.ones(40))
    with pytest.raises(ValueError, match=match):
        fit_layer(X_, Y_, sample_weight=w_, activation="sigmoid")


def test_dense_rejects_mixed_arrays():
    X, Y = data("identity", np.float64)
    np_layer = fit_layer(X, Y)
    t_layer = fit_layer(as_tensor(X), as_tensor(Y))
    with pytest.raises(ValueError, match=r"Dense.forward: X is a NumPy array and weight is a "
                                         r"torch Tensor on cpu"):
        t_layer(X)
    with pytest.raises(ValueError, match=r"Dense.forward: X is a torch Tensor on cpu and weight "
                                         r"is a NumPy array"):
        np_layer(as_tensor(X))
    with pytest.raises(ValueError, match=r"Dense.forward: X is a torch Tensor on meta"):
        t_layer(as_tensor(X, device="meta"))
    with pytest.raises(ValueError, match=r"Dense: weight is a torch Tensor on cpu and bias is a "
                                         r"NumPy array"):
        Dense(t_layer.weight, np_layer.bias)
    with pytest.raises(ValueError, match=r"collapse_linear: layers\[0\]\.weight is a NumPy "
                                         r"array and layers\[1\]\.weight is a torch Tensor"):
        collapse_linear([np_layer, fit_layer(t_layer(as_tensor(X)), as_tensor(Y))])


# --------------------------------------------------------------------------------------------
# 4. CUDA
# --------------------------------------------------------------------------------------------


@needs_cuda
@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(activation="identity", solver="cholesky"),
        dict(activation="sigmoid", refine=3, solver="qr"),
        dict(activation="relu", refine=2, sample_weight="1d"),
        dict(activation="softmax", solver="svd"),
        dict(activation="tanh", method="weighted", fit_intercept=False),
    ],
    ids=lambda kw: kw["activation"],
)
def test_cuda_fit_stays_on_the_device_and_matches_numpy(kwargs, dtype):
    X, Y = data(kwargs["activation"], dtype)
    kw = dict(kwargs, return_info=True)
    w = weights(kw.pop("sample_weight", None), *Y.shape, dtype)
    expected = fit_layer(X, Y, sample_weight=w, **kw)
    tX, tY = as_tensor(X, device="cuda"), as_tensor(Y, device="cuda")
    got = fit_layer(tX, tY, sample_weight=as_tensor(w, device="cuda"), **kw)
    assert_tensor_like(got.layer.weight, tX)
    assert_tensor_like(got.layer.bias, tX)
    assert got.layer.weight.device.type == "cuda"
    assert_tensor_like(got.layer(tX), tX)
    assert_same_fit(got, expected, dtype)
    with pytest.raises(ValueError, match=r"X is a torch Tensor on cuda:0 and Y is a torch "
                                         r"Tensor on cpu"):
        fit_layer(tX, as_tensor(Y), **kw)


# --------------------------------------------------------------------------------------------
# 5. Property: any shape
# --------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_extra=st.integers(2, 30),
    d=st.integers(1, 5),
    k=st.integers(1, 4),
    activation=st.sampled_from(ACTS),
    refine=st.sampled_from([0, 2]),
    fit_intercept=st.booleans(),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_tensor_fit_matches_numpy_for_any_shape(
    n_extra, d, k, activation, refine, fit_intercept, weighted, seed
):
    """Over shapes with more samples than parameters (so that the fit is unique and both
    libraries take the same solver path), the tensor fit is NumPy's, in float64."""
    if activation == "softmax":
        k = max(k, 2)
        refine = 0
    n = d + 1 + n_extra
    X, Y = data(activation, np.float64, n=n, d=d, k=k, seed=seed)
    w = weights("1d" if weighted else None, n, k, np.float64, seed=seed + 1)
    expected, got, tX = fit_both(
        X, Y, w, activation=activation, refine=refine, fit_intercept=fit_intercept,
        alpha=1e-3, return_info=True,
    )
    assert_tensor_like(got.layer.weight, tX)
    assert tuple(got.layer.weight.shape) == (d, k) and tuple(got.layer.bias.shape) == (k,)
    assert_same_fit(got, expected, np.float64)
