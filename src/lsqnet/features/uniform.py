"""Random units that read no data: ``"uniform"`` (the BPLS paper's) and ``"fan_in"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = ["FanIn", "Uniform"]


@dataclass(frozen=True)
class Uniform:
    """Every weight and bias uniform in [-1, 1], the choice of Tomic et al. (arXiv 2401.06699).

    :func:`lsqnet.network.init_network` draws every layer this way, not only the first.
    """

    name: ClassVar[str] = "uniform"
    needs_inputs: ClassVar[bool] = False
    needs_targets: ClassVar[bool] = False

    def units(self, n_in: int, n_out: int, rng: np.random.Generator, *, X: Any = None,
              Y: Any = None) -> tuple[np.ndarray, np.ndarray]:
        W = rng.uniform(-1.0, 1.0, size=(n_in, n_out))
        b = rng.uniform(-1.0, 1.0, size=n_out)
        return W, b

    def flops(self, n_samples: int, n_in: int, n_out: int, n_targets: int) -> int:
        return 0


@dataclass(frozen=True)
class FanIn:
    """Weights uniform in [-sqrt(3/n_in), sqrt(3/n_in)], biases zero: unit-variance
    pre-activations for unit-variance inputs (LeCun's scaling).

    The units of every layer after the first, whatever the first layer's map (but
    :class:`Uniform`).
    """

    name: ClassVar[str] = "fan_in"
    needs_inputs: ClassVar[bool] = False
    needs_targets: ClassVar[bool] = False

    def units(self, n_in: int, n_out: int, rng: np.random.Generator, *, X: Any = None,
              Y: Any = None) -> tuple[np.ndarray, np.ndarray]:
        limit = np.sqrt(3.0 / n_in)
        W = rng.uniform(-limit, limit, size=(n_in, n_out))
        return W, np.zeros(n_out)

    def flops(self, n_samples: int, n_in: int, n_out: int, n_targets: int) -> int:
        return 0
