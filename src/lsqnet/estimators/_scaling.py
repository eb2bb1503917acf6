"""Inputs standardised inside the estimators (``scale_inputs=True``).

A network with hidden layers is trained on ``(X - mean) / scale`` (the column means and
standard deviations of the training rows, weighted by the sample weights), as scikit-learn's
``StandardScaler`` would give it; afterwards the map is folded into the first layer,

.. math:: W_1' = \\operatorname{diag}(1/s)\\, W_1, \\qquad b_1' = b_1 - (m / s)^\\top W_1,

so that the fitted network reads raw inputs: ``predict``, ``coefs_``, ``to_torch`` and saved
models need nothing else. A sparse ``X`` is scaled but not centred (centring would make it
dense), as ``StandardScaler(with_mean=False)`` does. A column of zero variance keeps the
scale 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import _sparse
from .._array_api import device, get_namespace, is_array_api, to_numpy
from ..layers import Dense
from ..network import Network

__all__ = ["InputScaling"]


@dataclass(frozen=True)
class InputScaling:
    """The column means ``mean`` and scales ``scale`` (float64, shape (d,)) of a fit's inputs
    (``mean`` is 0 for sparse inputs, which are not centred)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, X: Any, weights: Any = None) -> InputScaling:
        """The moments of ``X`` in memory (NumPy, sparse or a tensor), weighted by
        ``weights`` (None: every row weighs 1)."""
        if is_array_api(X):
            X = to_numpy(X)
            weights = None if weights is None else to_numpy(weights)
        return cls.of_source(_Rows(X, weights))

    @classmethod
    def of_source(cls, source: Any) -> InputScaling:
        """The moments of the inputs of ``source`` (two passes: the means, then the squares
        of the centred inputs; a sparse source's one pass sums the raw squares)."""
        first = source.map_sum(lambda X, Y, labels, start, w: _sums(X, w, None))
        mean = first.x / first.total
        if first.sparse:  # not centred; the variance from the raw squares
            var = first.x2 / first.total - mean * mean
            mean = np.zeros_like(mean)
        else:
            var = source.map_sum(lambda X, Y, labels, start, w: _sums(X, w, mean)).x2
            var = var / first.total
        scale = np.sqrt(np.maximum(var, 0.0))
        # a constant column (to rounding) keeps the scale 1, as in StandardScaler
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
        return cls(mean, np.where(scale > tiny, scale, 1.0))

    def apply(self, X: Any) -> Any:
        """``(X - mean) / scale`` in ``X``'s library and dtype (sparse: ``X / scale``)."""
        if _sparse.is_sparse(X):
            return _sparse.astype(X.multiply(1.0 / self.scale[None, :]).tocsr(), X.dtype)
        if isinstance(X, np.ndarray):  # one new array, not two
            Z = X - self.mean.astype(X.dtype)
            Z /= self.scale.astype(X.dtype)
            return Z
        mean, scale = self._like(X)
        return (X - mean) / scale

    def _like(self, a: Any) -> tuple[Any, Any]:
        """``mean`` and ``scale`` as arrays of ``a``'s library, dtype and device."""
        xp = get_namespace(a)
        return tuple(xp.asarray(m, dtype=a.dtype, device=device(a))
                     for m in (self.mean, self.scale))

    def chunks(self, source: Any) -> ScaledChunks:
        """``source`` with every chunk's inputs scaled as it is read."""
        return ScaledChunks(source, self)

    def fold(self, network: Network) -> Network:
        """The network of raw inputs equal to ``network`` of scaled inputs."""
        first = network.layers[0]
        mean, scale = self._like(first.weight)
        W = first.weight / scale[:, None]
        b = first.bias - (mean[None, :] @ W)[0, :]
        return Network((Dense(W, b, first.activation), *network.layers[1:]))

    def unfold(self, network: Network) -> Network:
        """The network of scaled inputs equal to ``network`` of raw inputs (:meth:`fold`'s
        inverse): where a warm start continues from."""
        first = network.layers[0]
        mean, scale = self._like(first.weight)
        b = first.bias + (mean[None, :] @ first.weight)[0, :]
        return Network((Dense(first.weight * scale[:, None], b, first.activation),
                        *network.layers[1:]))


@dataclass(frozen=True)
class _Moments:
    """The total weight of some rows, and their weighted column sums of ``x`` and ``x^2``."""

    total: float
    x: np.ndarray
    x2: np.ndarray
    sparse: bool = False

    def __add__(self, other: _Moments) -> _Moments:
        return _Moments(self.total + other.total, self.x + other.x, self.x2 + other.x2,
                        self.sparse or other.sparse)


def _sums(X: Any, w: Any, mean: np.ndarray | None) -> _Moments:
    """The total weight of the rows of ``X`` and their weighted column sums of ``x`` and of
    ``(x - mean)^2`` (``x^2`` without ``mean``), in float64."""
    w = None if w is None else np.asarray(w, np.float64)
    total = float(X.shape[0]) if w is None else float(np.sum(w))
    if _sparse.is_sparse(X):
        X = X.astype(np.float64)
        squares = X.multiply(X)
        if w is None:
            return _Moments(total, np.asarray(X.sum(axis=0)).ravel(),
                            np.asarray(squares.sum(axis=0)).ravel(), True)
        return _Moments(total, np.asarray(X.T @ w).ravel(), np.asarray(squares.T @ w).ravel(),
                        True)
    X = np.asarray(X, np.float64)
    centred = X if mean is None else X - mean
    x = X.sum(axis=0) if w is None else w @ X
    x2 = np.einsum("ij,ij->j", centred, centred) if w is None else w @ (centred * centred)
    return _Moments(total, x, x2)


@dataclass(frozen=True)
class _Rows:
    """``X`` in memory as a source of one chunk, for the moments."""

    X: Any
    weights: Any

    def map_sum(self, fn):
        return fn(self.X, None, None, 0, self.weights)


@dataclass(frozen=True, eq=False)
class ScaledChunks:
    """A chunked source whose chunks' inputs are scaled as they are read; everything else is
    the wrapped source's."""

    source: Any
    scaling: InputScaling
    resident: ClassVar[bool] = False

    @property
    def n_features(self) -> int:
        return int(self.source.n_features)

    def map_sum(self, fn):
        apply = self.scaling.apply
        return self.source.map_sum(
            lambda X, Y, labels, start, w: fn(apply(X), Y, labels, start, w)
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)
