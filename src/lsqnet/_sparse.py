"""SciPy sparse matrices and arrays as the inputs ``X`` of a network.

Only the first layer ever sees ``X``: its forward product ``X @ W`` and, when it is solved,
the sums ``X^T X``, ``X^T B`` and the column sums of ``X`` (:class:`lsqnet.GramStats`).
Each is a product whose result is dense and small (n x h, d x d, d x k), computed from the
stored entries of ``X`` only; nothing here makes a dense copy of all of ``X``. Where an
algorithm needs dense rows (a few rows drawn for an initialisation, the row blocks of the
Jacobian of Levenberg-Marquardt, a mini-batch of Kronecker-factored steps), only those rows
are made dense (:func:`dense_rows`).

Design constraints: imports NumPy and ``scipy.sparse`` only, so that every layer of the
package may use it; the functions take NumPy arrays or sparse matrices (never tensors) and
return NumPy arrays, except :func:`take_rows` and :func:`astype`, which keep ``X`` sparse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse

__all__ = [
    "FORMATS",
    "SparseRows",
    "astype",
    "column_sums",
    "dense_rows",
    "gram",
    "is_sparse",
    "left_product",
    "scale_rows",
    "take_rows",
]

#: The sparse formats kept as they are; any other format is converted to the first.
FORMATS = ("csr", "csc")


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a SciPy sparse matrix or sparse array."""
    return scipy.sparse.issparse(x)


def astype(X: Any, dtype: Any) -> Any:
    """``X`` with its stored values of ``dtype`` (``X`` itself when they already are)."""
    return X if X.dtype == dtype else X.astype(dtype)


def scale_rows(X: Any, s: np.ndarray) -> Any:
    """``diag(s) @ X``, sparse, in CSR format."""
    return scipy.sparse.csr_matrix(X.multiply(np.asarray(s)[:, None]))


def gram(X: Any) -> np.ndarray:
    """``X^T X`` as a dense (d, d) array of ``X``'s dtype."""
    G = X.T @ X
    return np.asarray(G.toarray() if is_sparse(G) else G, dtype=X.dtype)


def left_product(M: np.ndarray, X: Any) -> np.ndarray:
    """``M @ X`` for a dense ``M`` (m, n) and a sparse ``X`` (n, d): a dense (m, d) array."""
    return np.ascontiguousarray(np.asarray(X.T @ M.T).T)


def column_sums(X: Any, dtype: Any = None) -> np.ndarray:
    """The sums of ``X``'s columns, a 1-D array (of ``dtype``, default ``X``'s)."""
    return np.asarray(X.sum(axis=0, dtype=dtype)).reshape(-1)


def take_rows(X: Any, rows: Any) -> Any:
    """The rows ``rows`` (indices or a boolean mask) of ``X``, still sparse."""
    return X[np.asarray(rows)]


def dense_rows(X: Any, rows: Any = None) -> np.ndarray:
    """The rows ``rows`` of ``X`` (a slice, indices, a mask; None: all of a block that is
    already small) as a dense C-ordered array; a dense ``X`` is only indexed."""
    part = X if rows is None else (X[rows] if isinstance(rows, slice) else take_rows(X, rows))
    if is_sparse(part):
        return part.toarray()
    return part


class SparseRows:
    """A stand-in for a sparse ``X`` where a feature map reads its shape, its column sums
    and a few of its rows (:func:`lsqnet.features.samples.sample_units`): ``numpy.sum`` and
    ``numpy.take`` of it give dense results, and only the rows taken are made dense."""

    def __init__(self, X: Any) -> None:
        self.X = X
        self.shape = X.shape
        self.dtype = X.dtype

    def sum(self, axis: int | None = None, dtype: Any = None, out: Any = None) -> np.ndarray:
        """The column sums (``numpy.sum(stand_in, axis=0)``)."""
        if axis != 0:
            raise ValueError("the rows of a sparse X are summed along axis 0 only")
        return column_sums(self.X, dtype)

    def take(self, rows: Any, axis: int = 0, out: Any = None, mode: str = "raise") -> np.ndarray:
        """The rows ``rows``, dense (``numpy.take(stand_in, rows, axis=0)``)."""
        if axis != 0:
            raise ValueError("the rows of a sparse X are taken along axis 0 only")
        return dense_rows(self.X, np.asarray(rows))
