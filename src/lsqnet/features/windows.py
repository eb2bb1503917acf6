"""What the image maps share: square windows on an image, thresholds spread over each unit's
range, and the banded product that their units make cheap.

The image maps (:mod:`~lsqnet.features.patches`, :mod:`~lsqnet.features.contrasts`) take the
image shape explicitly: nothing here guesses an image from a square number of features. A
window's side is drawn between two fractions of the image's shorter side; its position
anywhere it fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import _flops
from .._array_api import device, get_namespace, is_numpy
from ._base import check_image_shape, check_patch_size

__all__ = [
    "BAND_COLUMNS",
    "BAND_MIN_ROWS",
    "PATCH_BIAS_ROWS",
    "PATCH_SIZE",
    "PATCH_THRESHOLDS",
    "WindowMap",
    "banded_product",
    "by_first_input",
    "row_bands",
    "spread_thresholds",
    "threshold_flops",
    "window_pixels",
    "window_sides",
    "windows",
]

#: Rows of ``X`` that set the thresholds of window units (fewer if X has fewer).
PATCH_BIAS_ROWS = 1000

#: The default smallest and largest window side, as fractions of the image's shorter side
#: (7 to 14 pixels for 28 x 28 images).
PATCH_SIZE = (0.25, 0.5)

#: Each window unit's bias is lowered by ``u`` times its standard deviation over
#: ``PATCH_BIAS_ROWS`` rows, ``u`` uniform in this range (a negative ``u`` raises it: the unit
#: fires on more samples). This range was 0.2-0.5 point better than [0, 1) on Fashion-MNIST up
#: to 2048 units and level on MNIST (``benchmarks/study_presets.py --family windows``).
PATCH_THRESHOLDS = (-0.5, 1.0)

#: Columns per block of :func:`banded_product`, and the fewest rows of ``X`` it looks for
#: bands from (below that, scanning the weight would cost more than it saves).
BAND_COLUMNS = 256
BAND_MIN_ROWS = 1024


def banded_product(X: Any, W: Any) -> Any:
    """``X @ W``, skipping for each block of :data:`BAND_COLUMNS` columns of ``W`` the leading
    and trailing rows that are zero in the whole block.

    The same product for finite ``X``, up to rounding. It pays for NumPy weights whose blocks
    of units read a band of the inputs: local receptive fields ordered by their first pixel
    (:func:`by_first_input`), whose 784-pixel products then read 35-55 % of the rows;
    otherwise (tensors, few rows of ``X``, bands over 3/4 of the rows) it is ``X @ W``.
    """
    n, d = X.shape
    h = W.shape[1]
    if n < BAND_MIN_ROWS or h <= BAND_COLUMNS or not is_numpy(get_namespace(X, W)):
        return X @ W
    first, stop, starts, widths = row_bands(W)
    if np.sum((stop - first) * widths) > 0.75 * d * h:
        return X @ W
    Z = np.empty((n, h), dtype=np.result_type(X, W))
    for lo, hi, start, width in zip(first, stop, starts, widths, strict=True):
        cols = slice(start, start + width)
        if hi > lo:
            np.matmul(X[:, lo:hi], W[lo:hi, cols], out=Z[:, cols])
        else:
            Z[:, cols] = 0
    return Z


@dataclass(frozen=True)
class WindowMap:
    """What the image maps share: the image's shape and the windows' sizes, both checked,
    the training inputs read, and the banded product of units ordered by their first pixel.

    Parameters
    ----------
    image_shape : (int, int)
        Rows and columns of the images; the features are their pixels, row by row.
    patch_size : (float, float), default=(0.25, 0.5)
        The smallest and largest window side, as fractions of the image's shorter side.
    """

    image_shape: tuple[int, int]
    patch_size: tuple[float, float] = PATCH_SIZE

    needs_inputs: ClassVar[bool] = True
    #: The units read bands of the image: the first layer multiplies only those.
    product: ClassVar = staticmethod(banded_product)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, owner))
        object.__setattr__(self, "patch_size", check_patch_size(self.patch_size, owner))


def window_sides(image_shape: tuple[int, int], patch_size: tuple[float, float]) -> tuple[int, int]:
    """The smallest and largest window side in pixels that ``patch_size`` gives (fractions of
    the image's shorter side, rounded, kept within 1 and that side)."""
    side = min(image_shape)
    low, high = (min(side, max(1, round(f * side))) for f in patch_size)
    return low, high


def window_pixels(
    image_shape: tuple[int, int], size: np.ndarray, top: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """The flat pixel indices (rows, then columns) of square windows of one ``size`` at
    ``top``, ``left``: shape (n_windows, size**2)."""
    cols = image_shape[1]
    offsets = np.arange(size)
    return (
        (top[:, None, None] + offsets[:, None]) * cols + left[:, None, None] + offsets
    ).reshape(top.shape[0], size * size)


def windows(
    h: int, image_shape: tuple[int, int], rng: np.random.Generator,
    patch_size: tuple[float, float],
) -> np.ndarray:
    """``h`` random square windows (sides from :func:`window_sides`) as 0/1 rows
    (h, rows * cols)."""
    n_rows, n_cols = image_shape
    low, high = window_sides(image_shape, patch_size)
    size = rng.integers(low, high + 1, size=h)
    top = rng.integers(0, n_rows - size + 1)
    left = rng.integers(0, n_cols - size + 1)
    in_rows = (np.arange(n_rows) >= top[:, None]) & (np.arange(n_rows) < (top + size)[:, None])
    in_cols = (np.arange(n_cols) >= left[:, None]) & (np.arange(n_cols) < (left + size)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :]).reshape(h, n_rows * n_cols).astype(
        np.float64
    )


def spread_thresholds(rows: Any, W: Any, b: Any, rng: np.random.Generator):
    """``b`` lowered by a random multiple (uniform in :data:`PATCH_THRESHOLDS`) of each unit's
    standard deviation over the float64 ``rows`` (m x d)."""
    xp = get_namespace(rows)
    m, d = rows.shape
    h = W.shape[1]
    Z = rows @ W + b
    u = xp.asarray(rng.uniform(*PATCH_THRESHOLDS, size=h), device=device(rows))
    _flops.record("init", threshold_flops(m, d, h))
    return b - u * xp.std(Z, axis=0)


def threshold_flops(m: int, d: int, h: int) -> int:
    """The thresholds of ``h`` window units over ``m`` rows of ``d`` inputs (pre-activations,
    their standard deviations, the random shifts)."""
    return 2 * m * d * h + 5 * m * h + 2 * h


def by_first_input(W: Any, b: Any) -> tuple[Any, Any]:
    """The units (columns of ``W``, entries of ``b``) in the order of their first nonzero
    input: windows by their top row, so that :func:`banded_product` computes each block of
    units from a band of the image."""
    xp = get_namespace(W)
    first = xp.argmax(xp.astype(W != 0, xp.int8), axis=0)
    order = xp.argsort(first, stable=True)
    return xp.take(W, order, axis=1), xp.take(b, order, axis=0)


def row_bands(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each block of :data:`BAND_COLUMNS` columns of the NumPy weight ``W`` (d, h): the
    first and one past the last row that is nonzero in the block (0 and 0 for a block of
    zeros), the block's first column and its width."""
    d, h = W.shape
    starts = np.arange(0, h, BAND_COLUMNS)
    used = np.logical_or.reduceat(W != 0, starts, axis=1)  # (d, blocks): rows used per block
    first = np.where(used.any(axis=0), np.argmax(used, axis=0), 0)
    stop = np.where(used.any(axis=0), d - np.argmax(used[::-1], axis=0), 0)
    return first, stop, starts, np.diff(np.append(starts, h))
