"""The interface every feature map implements, and the checks of its parameters.

A feature map chooses the first layer's units (its weights and biases) before any training:
random directions, training samples, windows of images. It is a small frozen record of its
own parameters with two methods: ``units`` draws the units, and ``flops`` counts, from sizes
alone, the operations ``units`` performs on the data (what :func:`lsqnet.bpls.count_flops`
adds for the initialisation). This module imports nothing from the rest of the package but
the array helpers, so that the layers, the network and the training code can all use the maps.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["FeatureMap", "check_image_shape", "check_patch_size"]


@runtime_checkable
class FeatureMap(Protocol):
    """The first layer's initial units.

    Attributes
    ----------
    name : str
        The key of the map in :data:`lsqnet.features.FEATURE_MAPS` (the estimators' ``init``).
    needs_inputs : bool
        Whether :meth:`units` reads the training inputs ``X``.
    needs_targets : bool
        Whether :meth:`units` reads the training targets ``Y`` as well (data in memory only).
    """

    name: ClassVar[str]
    needs_inputs: ClassVar[bool]
    needs_targets: ClassVar[bool]

    def units(
        self, n_in: int, n_out: int, rng: np.random.Generator, *, X: Any = None, Y: Any = None
    ) -> tuple[Any, Any]:
        """The weight (n_in, n_out) and bias (n_out,) of the first layer, before scaling.

        NumPy float64 arrays, or arrays of ``X``'s namespace on its device when ``X`` is read.
        """

    def flops(self, n_samples: int, n_in: int, n_out: int, n_targets: int) -> int:
        """The operations :meth:`units` records for ``n_samples`` training rows."""


def check_patch_size(patch_size: Any, owner: str) -> tuple[float, float]:
    """``patch_size`` as two floats ``0 < low <= high <= 1``, or raise naming it."""
    try:
        low, high = (float(f) for f in patch_size)
    except (TypeError, ValueError):
        low = high = np.nan
    if not 0.0 < low <= high <= 1.0 or isinstance(patch_size, str):
        raise ValueError(
            f"The 'patch_size' parameter of {owner} must be two fractions of the image side "
            f"(low, high) with 0 < low <= high <= 1, e.g. (0.15, 0.5). "
            f"Got {patch_size!r} instead."
        )
    return low, high


def check_image_shape(
    image_shape: Any, owner: str, n_features: int | None = None
) -> tuple[int, int]:
    """``image_shape`` as ``(rows, cols)`` of positive ints (``rows * cols == n_features``
    when that is given), or raise naming it."""
    try:
        rows, cols = image_shape
        ok = all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in (rows, cols))
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(image_shape, str) or min(int(rows), int(cols)) < 1:
        raise ValueError(
            f"The 'image_shape' parameter of {owner} must be (rows, cols), two positive ints "
            f"whose product is the number of features, e.g. (28, 28) for 784 pixels. "
            f"Got {image_shape!r} instead."
        )
    rows, cols = int(rows), int(cols)
    if n_features is not None and rows * cols != n_features:
        raise ValueError(
            f"The 'image_shape' parameter of {owner} is {(rows, cols)}, {rows * cols} pixels, "
            f"but X has {n_features} features."
        )
    return rows, cols
