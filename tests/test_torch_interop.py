"""PyTorch interop: ``to_torch()`` exports a fitted network as a ``torch.nn.Sequential`` whose
outputs match lsqnet's to 1e-5 in float32 (and to 1e-12 in float64), for every activation."""

from __future__ import annotations

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
    np.testing.assert_allclose(out, clf.network_.forward(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out.argmax(axis=1), np.searchsorted(clf.classes_,
                                                                        clf.predict(X)))


def test_regressor_float64_and_logits(digits):
    X, y = digits
    X64 = X.astype(np.float64)
    reg = BPLSRegressor(hidden_layer_sizes=(16,), output_activation="tanh", random_state=0)
    reg.fit(X64, np.tanh(y / 10.0))
    model = reg.to_torch()
    with torch.no_grad():
        out = model(torch.from_numpy(X64)).numpy()
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[:, 0], reg.predict(X64), rtol=0, atol=1e-12)
    logits = reg.to_torch(output_activation=False)
    assert not isinstance(logits[-1], torch.nn.Tanh)
    with torch.no_grad():
        np.testing.assert_allclose(np.tanh(logits(torch.from_numpy(X64)).numpy()), out,
                                   atol=1e-12)


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
                                   atol=1e-4)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        BPLSClassifier().to_torch()
