"""``"samples"``: each unit a centred training sample of unit norm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import _flops
from .._array_api import device, get_namespace

__all__ = ["Samples", "sample_units"]


def sample_units(
    X: Any, h: int, rng: np.random.Generator,
    windows: Callable[[int, np.random.Generator], np.ndarray] | None = None,
):
    """``h`` centred training rows of ``X`` (drawn without replacement, with replacement when
    ``X`` has fewer rows), each multiplied by its row of ``windows(h, rng)`` (an (h, d) 0/1
    NumPy array drawn after the rows; None: no windows) and scaled to unit norm, as the
    columns of a weight; the bias subtracts the mean sample. float64, in ``X``'s namespace
    and on its device.

    ``X`` needs only ``shape``, ``sum(axis, dtype)`` and ``take`` of the array API (a chunked
    data source stands in for it: :func:`lsqnet.streaming.sampled_inputs`).
    """
    xp = get_namespace(X)
    n, d = X.shape
    on = {"device": device(X)}
    rows = xp.asarray(rng.choice(n, size=h, replace=h > n), **on)
    mean = xp.sum(X, axis=0, dtype=xp.float64) / n
    S = xp.astype(xp.take(X, rows, axis=0), xp.float64) - mean
    if windows is not None:
        S = S * xp.asarray(windows(h, rng), **on)
        _flops.record("init", h * d)
    norms = xp.sqrt(xp.sum(S * S, axis=1))
    S = S / xp.where(norms > 0, norms, 1.0)[:, None]
    _flops.record("init", n * d + 6 * h * d)  # mean, centre, norms (2), divide, scale, bias
    W = S.T
    return W, -(mean @ W)


def sample_flops(n_samples: int, n_in: int, n_out: int) -> int:
    """What :func:`sample_units` records, without windows."""
    return n_samples * n_in + 6 * n_out * n_in


@dataclass(frozen=True)
class Samples:
    """Each unit a training sample, centred on the mean sample and scaled to unit norm, drawn
    without replacement (with replacement when there are fewer samples than units); its bias
    subtracts the mean, so the unit computes ``<x - mean, s>`` with ``|s| = 1``.

    A data-dependent map for any table: the units point where the data lies.
    """

    name: ClassVar[str] = "samples"
    needs_inputs: ClassVar[bool] = True
    needs_targets: ClassVar[bool] = False

    def units(self, n_in: int, n_out: int, rng: np.random.Generator, *, X: Any = None,
              Y: Any = None):
        return sample_units(X, n_out, rng)

    def flops(self, n_samples: int, n_in: int, n_out: int, n_targets: int) -> int:
        return sample_flops(n_samples, n_in, n_out)
