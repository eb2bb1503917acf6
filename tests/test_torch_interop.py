"""PyTorch interop: ``to_torch()`` exports a fitted network as a ``torch.nn.Sequential`` whose
outputs match lsqnet's, in float32 and float64, for every activation.

Tolerance (``rounding_atol``): two evaluations of the same weights in the same dtype differ
only by rounding, which depends on the summation order of the BLAS kernel (CPU, thread count).
The rounding error of a forward pass is about ``kappa * eps(dtype)``, ``kappa`` being the
network's sensitivity to rounding: the condition number of the forward pass times the size of
its products, large where large weights give products that cancel (fits with "leaky_relu" hidden
layers reach weights of 4e4 and ``kappa`` of several hundred). ``kappa`` is measured, not assumed:
the largest difference between a float32 and a float64 evaluation of the network, over
``eps(float32)``, and at least the largest output (one rounding of the result). Each of the two
evaluations compared is within about ``kappa * eps`` of the exact result, so they differ by at
most about ``2 * kappa * eps``; the tolerance is ``8 * kappa * eps(dtype)``, a margin of 4 over
that for the spread of rounding errors between kernels (measured differences stay below
``2.1 * kappa * eps`` with OpenBLAS's Prescott to SkylakeX kernels, MKL's SSE4.2 to AVX-512
code paths, and one or two threads).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet._torch import TORCH_ACTIVATIONS
from lsqnet.activations import ACTIVATIONS


def test_every_activation_has_a_torch_module():
    assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


HIDDEN = sorted(set(ACTIVATIONS) - {"softmax", "identity"})


def forward(network, X, dtype) -> np.ndarray:
    """``network``'s output for ``X``, computed in ``dtype`` on copies of its weights."""
    h = np.asarray(X, dtype)
    for layer in network.layers:
        h = ACTIVATIONS[layer.activation](h @ layer.weight.astype(dtype) + layer.bias.astype(dtype))
    return h


def rounding_atol(network, X, dtype) -> float:
    """``8 * kappa * eps(dtype)``: how far two ``dtype`` evaluations of ``network`` on ``X`` may
    differ by rounding alone (see the module docstring)."""
    exact = forward(network, X, np.float64)
    spread = np.abs(forward(network, X, np.float32) - exact).max()
    kappa = max(spread / np.finfo(np.float32).eps, np.abs(exact).max())
    return 8 * kappa * float(np.finfo(dtype).eps)


def test_rounding_atol_measures_the_sensitivity_to_rounding(rng):
    """For a linear layer the tolerance stays below 8 times the classical bound on its rounding
    error, ``n * eps * max(|X| @ |W| + |b|)`` for n terms, and it grows with cancellation: the
    same function written with weights of 4096 and -4096 on two copies of a feature gets a
    tolerance a hundred times larger. The float64 tolerance is the float32 one scaled by the
    ratio of the dtypes' eps."""
    X = rng.random((500, 8)).astype(np.float32)
    X = np.hstack([X, X[:, :1]])  # the last feature repeats the first
    W = rng.standard_normal((9, 3)).astype(np.float32)
    W[-1] = 0.0
    b = rng.standard_normal(3).astype(np.float32)

    def linear(weight):
        layer = SimpleNamespace(weight=weight, bias=b, activation="identity")
        return SimpleNamespace(layers=[layer])

    eps = float(np.finfo(np.float32).eps)
    plain = rounding_atol(linear(W), X, np.float32)
    scale = (np.abs(X) @ np.abs(W) + np.abs(b)).max()
    assert plain <= 8 * 10 * eps * scale
    assert rounding_atol(linear(W), X, np.float64) == pytest.approx(
        plain * np.finfo(np.float64).eps / eps)
    cancelling = W.copy()
    cancelling[0] += 4096.0
    cancelling[-1] -= 4096.0
    assert rounding_atol(linear(cancelling), X, np.float32) > 100 * plain


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("output_activation", ["sigmoid", "softmax"])
def test_classifier_outputs_match(digits, activation, output_activation):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(24, 12), activation=activation,
                         output_activation=output_activation, max_iter=2, random_state=0)
    clf.fit(X, y)
    model = clf.to_torch()
    assert isinstance(model, torch.nn.Sequential)
    with torch.no_grad():
        out = model(torch.from_numpy(X)).numpy()
    assert out.dtype == np.float32
    atol = rounding_atol(clf.network_, X, np.float32)
    np.testing.assert_allclose(out, clf.network_.forward(X), rtol=0, atol=atol)
    # lsqnet's predicted class has the module's largest output, up to rounding: a row whose two
    # largest outputs are within atol may rank them either way.
    predicted = np.searchsorted(clf.classes_, clf.predict(X))
    assert np.all(out[np.arange(len(X)), predicted] >= out.max(axis=1) - atol)


def test_regressor_float64_and_logits(digits):
    X, y = digits
    X64 = X.astype(np.float64)
    reg = BPLSRegressor(hidden_layer_sizes=(16,), output_activation="tanh", random_state=0)
    reg.fit(X64, np.tanh(y / 10.0))
    model = reg.to_torch()
    with torch.no_grad():
        out = model(torch.from_numpy(X64)).numpy()
    assert out.dtype == np.float64
    atol = rounding_atol(reg.network_, X64, np.float64)
    np.testing.assert_allclose(out[:, 0], reg.predict(X64), rtol=0, atol=atol)
    logits = reg.to_torch(output_activation=False)
    assert not isinstance(logits[-1], torch.nn.Tanh)
    with torch.no_grad():
        np.testing.assert_allclose(np.tanh(logits(torch.from_numpy(X64)).numpy()), out,
                                   rtol=0, atol=atol)


def test_export_is_a_copy(digits):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    before = clf.coefs_[0].copy()
    model = clf.to_torch()
    with torch.no_grad():
        model[0].weight.zero_()
    np.testing.assert_array_equal(clf.coefs_[0], before)


def test_single_layer_and_identity_layers_are_omitted(digits):
    X, y = digits
    reg = BPLSRegressor(hidden_layer_sizes=(), random_state=0).fit(X, y.astype(np.float32))
    model = reg.to_torch()
    assert len(model) == 1 and isinstance(model[0], torch.nn.Linear)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(X)).numpy()[:, 0], reg.predict(X),
                                   rtol=0, atol=rounding_atol(reg.network_, X, np.float32))


def test_not_fitted():
    with pytest.raises(NotFittedError):
        BPLSClassifier().to_torch()
