"""PyTorch interop: a fitted network as a ``torch.nn.Sequential``.

torch is imported only when this is used (the extra ``lsqnet[torch]`` installs it).
"""

from __future__ import annotations

from typing import Any

from . import activations as _activations
from .network import Network

__all__ = ["TORCH_ACTIVATIONS", "activation_module", "to_torch"]

#: lsqnet activation name -> torch.nn module name and arguments (the same functions)
TORCH_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "identity": ("Identity", {}),
    "tanh": ("Tanh", {}),
    "sigmoid": ("Sigmoid", {}),
    "relu": ("ReLU", {}),
    "elu": ("ELU", {"alpha": _activations.ELU_ALPHA}),
    "leaky_relu": ("LeakyReLU", {"negative_slope": _activations.LEAKY_RELU_SLOPE}),
    "softplus": ("Softplus", {}),
    "softminus": ("LogSigmoid", {}),  # log(expit(z)) = -softplus(-z)
    "softmax": ("Softmax", {"dim": -1}),
}


def activation_module(name: str) -> Any:
    """The ``torch.nn`` module computing lsqnet's activation ``name``."""
    import torch

    module, kwargs = TORCH_ACTIVATIONS[name]
    return getattr(torch.nn, module)(**kwargs)


def to_torch(network: Network, *, output_activation: bool = True) -> Any:
    """``network`` as a ``torch.nn.Sequential`` of ``Linear`` layers and activations.

    The weights are copied (float32 stays float32, float64 stays float64), so the module is
    independent of the network. With ``output_activation=False`` the last activation is left
    out: the module returns the output layer's pre-activations (logits), what a
    cross-entropy loss expects when the network is trained further by gradient descent.
    Identity activations are omitted.
    """
    import torch

    modules: list[Any] = []
    last = len(network.layers) - 1
    for i, layer in enumerate(network.layers):
        weight, bias = torch.as_tensor(layer.weight), torch.as_tensor(layer.bias)
        linear = torch.nn.Linear(
            layer.n_in, layer.n_out, dtype=weight.dtype, device=weight.device
        )
        with torch.no_grad():
            linear.weight.copy_(weight.T)
            linear.bias.copy_(bias)
        modules.append(linear)
        if layer.activation != "identity" and (i < last or output_activation):
            modules.append(activation_module(layer.activation))
    return torch.nn.Sequential(*modules)
