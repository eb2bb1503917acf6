"""``"patches"``: local receptive fields, each a training sample seen through a window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._array_api import device, get_namespace
from ._base import check_image_shape
from .samples import sample_flops, sample_units
from .windows import (
    PATCH_BIAS_ROWS,
    WindowMap,
    by_first_input,
    spread_thresholds,
    threshold_flops,
    windows,
)

__all__ = ["Patches"]


@dataclass(frozen=True)
class Patches(WindowMap):
    """Local receptive fields on images of ``image_shape`` pixels.

    Each unit is a centred training sample kept only inside a random square window whose side
    is drawn uniformly between ``patch_size`` (fractions of the image's shorter side, rounded
    to whole pixels: 7 to 14 pixels for 28 x 28 by default), scaled to unit norm, with its
    threshold moved by a random multiple (uniform in
    :data:`~lsqnet.features.windows.PATCH_THRESHOLDS`) of the unit's standard deviation over
    :data:`~lsqnet.features.windows.PATCH_BIAS_ROWS` training rows, so that units fire at
    different levels. The units come ordered by their top row, so that
    :func:`~lsqnet.features.windows.banded_product` computes them from bands of the image.

    Its parameters, ``image_shape`` and ``patch_size``, are those of
    :class:`~lsqnet.features.windows.WindowMap`.
    """

    name: ClassVar[str] = "patches"
    needs_targets: ClassVar[bool] = False

    def units(self, n_in: int, n_out: int, rng: np.random.Generator, *, X: Any = None,
              Y: Any = None):
        check_image_shape(self.image_shape, "Patches", n_in)
        W, b = sample_units(
            X, n_out, rng, lambda h, rng: windows(h, self.image_shape, rng, self.patch_size)
        )
        # thresholds spread over each unit's range on a few training rows
        n = X.shape[0]
        xp = get_namespace(X)
        some = xp.asarray(
            rng.choice(n, size=min(n, PATCH_BIAS_ROWS), replace=False), device=device(X)
        )
        b = spread_thresholds(xp.astype(xp.take(X, some, axis=0), xp.float64), W, b, rng)
        return by_first_input(W, b)

    def flops(self, n_samples: int, n_in: int, n_out: int, n_targets: int) -> int:
        return (
            sample_flops(n_samples, n_in, n_out) + n_out * n_in
            + threshold_flops(min(n_samples, PATCH_BIAS_ROWS), n_in, n_out)
        )
