"""``"contrasts"``: local linear discriminants, windowed least-squares fits of class contrasts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import _flops
from .._array_api import device, get_namespace
from ._base import check_image_shape
from .windows import (
    PATCH_BIAS_ROWS,
    WindowMap,
    by_first_input,
    spread_thresholds,
    threshold_flops,
    window_pixels,
    window_sides,
)

__all__ = ["CONTRAST_RIDGE", "CONTRAST_ROWS", "Contrasts", "contrast_windows"]

#: Rows of ``X`` and the targets whose covariances fit the units (fewer if X has fewer); the
#: first :data:`~lsqnet.features.windows.PATCH_BIAS_ROWS` of them set the thresholds.
CONTRAST_ROWS = 10_000

#: The ridge of each unit's least-squares fit, relative to the mean variance of its window's
#: pixels (0.1 scored best of 0.03, 0.1, 0.3 and 1 on Fashion-MNIST validation, all within
#: 0.4 point: ``benchmarks/study_presets.py --family contrasts``). Read at every call.
CONTRAST_RIDGE = 0.1

#: Most entries of the stacked window covariances solved at once.
CONTRAST_BATCH = 2**22


def contrast_windows(
    image_shape: tuple[int, int], h: int, patch_size: tuple[float, float]
) -> dict[int, int]:
    """How many of ``h`` windows of :class:`Contrasts` have each side (in pixels)."""
    low, high = window_sides(image_shape, patch_size)
    sides = high - low + 1
    counts = {low + j: h // sides + (j < h % sides) for j in range(sides)}
    return {s: count for s, count in counts.items() if count}


@dataclass(frozen=True)
class Contrasts(WindowMap):
    """Windowed local least-squares fits of random two-column contrasts of the targets.

    Windows as :class:`~lsqnet.features.Patches` draws them, each side equally often; each
    unit's weights are fitted by ridge least squares (ridge :data:`CONTRAST_RIDGE` times the
    window's mean pixel variance) to the difference of two random target columns (one column:
    the column, with a random sign) over :data:`CONTRAST_ROWS` training rows: local linear
    discriminants between two classes, where patches are local templates. Thresholded and
    ordered like patches. Needs the targets, so data in memory.

    Its parameters, ``image_shape`` and ``patch_size``, are those of
    :class:`~lsqnet.features.windows.WindowMap`.
    """

    name: ClassVar[str] = "contrasts"
    needs_targets: ClassVar[bool] = True

    def units(self, n_in: int, n_out: int, rng: np.random.Generator, *, X: Any = None,
              Y: Any = None):
        check_image_shape(self.image_shape, "Contrasts", n_in)
        if Y is None:
            raise ValueError("init='contrasts' fits its units to the targets: pass Y.")
        return by_first_input(*self._fit_units(X, Y, n_out, rng))

    def _fit_units(self, X: Any, Y: Any, h: int, rng: np.random.Generator):
        xp = get_namespace(X)
        n, d = X.shape
        n_rows, n_cols = self.image_shape
        on = {"device": device(X)}
        low, high = window_sides(self.image_shape, self.patch_size)
        size = low + rng.permutation(h) % (high - low + 1)  # each side equally often
        top = rng.integers(0, n_rows - size + 1)
        left = rng.integers(0, n_cols - size + 1)
        m = min(n, CONTRAST_ROWS)
        rows = xp.asarray(rng.choice(n, size=m, replace=False), **on)
        # The covariances in X's dtype (float32: a quarter of float64's time on 2 cores), the
        # small solves in float64
        Xs = xp.take(X, rows, axis=0)
        Ys = xp.astype(xp.take(Y, rows, axis=0), X.dtype)
        k = Ys.shape[1]
        mean = xp.sum(Xs, axis=0, dtype=xp.float64) / m
        Xs = Xs - xp.astype(mean, X.dtype)
        Ys = Ys - xp.astype(xp.sum(Ys, axis=0, dtype=xp.float64) / m, X.dtype)
        coef = np.zeros((k, h))
        if k > 1:  # column a minus column b, a != b
            first = rng.integers(k, size=h)
            coef[first, np.arange(h)] = 1.0
            coef[(first + rng.integers(1, k, size=h)) % k, np.arange(h)] = -1.0
        else:
            coef[0] = rng.choice((-1.0, 1.0), size=h)
        cov = Xs.T @ Xs
        rhs = xp.astype(Xs.T @ Ys, xp.float64) @ xp.asarray(coef, **on)  # (d, h): units' targets
        _flops.record("init", 2 * m * (d + k) + _flops.syrk(m, d) + _flops.gemm(d, m, k)
                      + _flops.gemm(d, k, h))
        S = xp.zeros((h, d), dtype=xp.float64, **on)
        tiny = float(np.finfo(np.float64).tiny)
        ridge = CONTRAST_RIDGE
        for s, count in contrast_windows(self.image_shape, h, self.patch_size).items():
            t = s * s
            units = np.flatnonzero(size == s)
            for batch in np.array_split(units, -(-count * t * t // CONTRAST_BATCH)):
                P = xp.asarray(window_pixels(self.image_shape, s, top[batch], left[batch]), **on)
                G = xp.astype(cov[P[:, :, None], P[:, None, :]], xp.float64)
                shift = ridge / t * xp.sum(xp.linalg.diagonal(G), axis=-1)
                G = G + xp.maximum(shift, tiny)[:, None, None] * xp.eye(
                    t, dtype=xp.float64, **on
                )
                B = xp.asarray(batch, **on)
                w = xp.linalg.solve(G, rhs[P, B[:, None]][..., None])[..., 0]
                S[B[:, None], P] = w
            _flops.record("init", count * (2 * t + 1 + _flops.gesv(t, 1)))
        norms = xp.sqrt(xp.sum(S * S, axis=1))
        W = (S / xp.where(norms > 0, norms, 1.0)[:, None]).T
        _flops.record("init", 5 * h * d + h)  # norms (3), divide, bias
        # Centred rows: the thresholds need only each unit's standard deviation over them
        some = xp.astype(Xs[: min(m, PATCH_BIAS_ROWS), :], xp.float64)
        return W, spread_thresholds(some, W, -(mean @ W), rng)

    def flops(self, n_samples: int, n_in: int, n_out: int, n_targets: int) -> int:
        n, d, h, k = n_samples, n_in, n_out, n_targets
        r = min(n, CONTRAST_ROWS)
        total = 2 * r * (d + k) + _flops.syrk(r, d) + _flops.gemm(d, r, k)
        total += _flops.gemm(d, k, h) + 5 * h * d + h
        for side, count in contrast_windows(self.image_shape, h, self.patch_size).items():
            t = side * side
            total += count * (2 * t + 1 + _flops.gesv(t, 1))
        return total + threshold_flops(min(r, PATCH_BIAS_ROWS), d, h)
