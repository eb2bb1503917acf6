"""Array namespaces: one algorithm code for NumPy arrays and PyTorch tensors (CPU or CUDA).

lsqnet's numerical code is written against the array API standard, through
`array-api-compat <https://data-apis.org/array-api-compat/>`_ as scikit-learn does: every
function asks :func:`get_namespace` for the namespace ``xp`` of its inputs and computes with
``xp``, so NumPy arrays stay NumPy arrays (plain ``numpy`` is the namespace, so that path is
unchanged) and tensors stay tensors on their device. Nothing is copied to the host; Python
scalars are read from 0-d results where a decision needs one (a condition estimate, a loss).

The few operations the standard lacks, or that SciPy does better on NumPy (the symmetric
product, Cholesky solves, the logistic function), are the functions below, each with a NumPy
branch (SciPy, LAPACK) and a generic one. Short Cholesky factorisations and solves, between
large NumPy products, run SciPy's BLAS on one thread (:mod:`lsqnet._threads`).
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np
import scipy.linalg
import scipy.special

from ._threads import serial_blas

__all__ = [
    "check_same_library",
    "cho_factor",
    "cho_solve",
    "describe",
    "device",
    "eigh",
    "expit",
    "get_namespace",
    "is_array_api",
    "is_numpy",
    "logit",
    "numpy_dtype",
    "solve_triangular",
    "to_numpy",
    "xp_dtype",
]


def is_array_api(x: Any) -> bool:
    """Whether ``x`` is an array of a library other than NumPy that the array API covers
    (a PyTorch tensor, a CuPy or JAX array, ...). Dask arrays are not: they have a path of
    their own (:mod:`lsqnet._dask`)."""
    if isinstance(x, np.ndarray) or array_api_compat.is_dask_array(x):
        return False
    return array_api_compat.is_array_api_obj(x)


def get_namespace(*arrays: Any) -> Any:
    """The array namespace of ``arrays`` (``None`` entries are skipped): ``numpy`` itself for
    NumPy arrays, array-api-compat's wrapper otherwise.

    Raises ``TypeError`` for arrays of different libraries.
    """
    arrays = tuple(a for a in arrays if a is not None)
    if not any(is_array_api(a) for a in arrays):
        return np
    return array_api_compat.array_namespace(*arrays)


def is_numpy(xp: Any) -> bool:
    return xp is np or array_api_compat.is_numpy_namespace(xp)


def device(x: Any) -> Any:
    """The device ``x`` lives on (``"cpu"`` for NumPy arrays and other host objects)."""
    return array_api_compat.device(x) if is_array_api(x) else "cpu"


def to_numpy(x: Any) -> Any:
    """``x`` as a NumPy array, copied to the host if it is a tensor (for files and reports,
    and for Levenberg–Marquardt, which documents that its steps run on the host; never
    hidden inside an algorithm); anything else is returned as it is."""
    if not is_array_api(x):
        return x
    return np.asarray(array_api_compat.to_device(x, "cpu"))


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype of the same name as ``dtype`` (a NumPy or a torch dtype)."""
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        return np.dtype(dtype)
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


def xp_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype of namespace ``xp`` of the same name as ``dtype`` (a NumPy or xp dtype)."""
    return getattr(xp, numpy_dtype(dtype).name)


def expit(xp: Any, z: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-z))``, without overflow."""
    if is_numpy(xp):
        return scipy.special.expit(z)
    if array_api_compat.is_torch_namespace(xp):
        import torch

        return torch.sigmoid(z)
    e = xp.exp(-xp.abs(z))  # in (0, 1]: no overflow on either side
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def logit(xp: Any, y: Any) -> Any:
    """``log(y / (1 - y))``, the inverse of :func:`expit`."""
    if is_numpy(xp):
        return scipy.special.logit(y)
    return xp.log(y) - xp.log1p(-y)


def cho_factor(xp: Any, g: Any) -> Any:
    """The upper Cholesky factor ``c`` of a symmetric ``g`` (``g = c.T @ c``).

    Raises ``numpy.linalg.LinAlgError`` when ``g`` is not positive definite, whatever the
    namespace. ``g`` may be overwritten.
    """
    if is_numpy(xp):
        with serial_blas(g.shape[0] ** 3 / 3):
            c, _ = scipy.linalg.cho_factor(g, lower=False, overwrite_a=True, check_finite=False)
        return c
    if array_api_compat.is_torch_namespace(xp):
        import torch

        lower, info = torch.linalg.cholesky_ex(g)
        if int(info) != 0:
            raise np.linalg.LinAlgError(f"{int(info)}-th leading minor not positive definite")
        return lower.mT
    lower = xp.linalg.cholesky(g)
    if not bool(xp.all(xp.isfinite(lower))):
        raise np.linalg.LinAlgError("the matrix is not positive definite")
    return lower.mT


def cho_solve(xp: Any, c: Any, rhs: Any) -> Any:
    """``(c.T @ c)^-1 @ rhs`` for an upper Cholesky factor ``c``; ``rhs`` is (d,) or (d, k)."""
    if is_numpy(xp):
        with serial_blas(2 * c.shape[0] ** 2 * (rhs.size // max(c.shape[0], 1))):
            return scipy.linalg.cho_solve((c, False), rhs, check_finite=False)
    vector = rhs.ndim == 1
    r = rhs[:, None] if vector else rhs
    if array_api_compat.is_torch_namespace(xp):
        import torch

        out = torch.cholesky_solve(r, c, upper=True)
    else:  # the standard has no triangular solve: two general ones
        out = xp.linalg.solve(c, xp.linalg.solve(c.mT, r))
    return out[:, 0] if vector else out


def solve_triangular(xp: Any, r: Any, rhs: Any) -> Any:
    """``r^-1 @ rhs`` for an upper triangular ``r``; ``rhs`` is (d, k)."""
    if is_numpy(xp):
        with serial_blas(r.shape[0] ** 2 * (rhs.size // max(r.shape[0], 1))):
            return scipy.linalg.solve_triangular(r, rhs, check_finite=False)
    if array_api_compat.is_torch_namespace(xp):
        import torch

        return torch.linalg.solve_triangular(r, rhs, upper=True)
    return xp.linalg.solve(r, rhs)


def eigh(xp: Any, g: Any) -> tuple[Any, Any]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric ``g``."""
    if is_numpy(xp):
        return scipy.linalg.eigh(g, check_finite=False)
    return xp.linalg.eigh(g)


def describe(a: Any) -> str:
    """``a`` in words for messages: "a torch Tensor on cuda:0", "a NumPy array", "a list"."""
    if is_array_api(a):
        return f"a {type(a).__module__.split('.')[0]} {type(a).__name__} on {device(a)}"
    return "a NumPy array" if isinstance(a, np.ndarray) else f"a {type(a).__name__}"


def check_same_library(owner: str, **arrays: Any) -> None:
    """Raise ``ValueError`` unless ``arrays`` (``None`` entries skipped) are all host data
    (NumPy arrays, array-likes) or all arrays of one array API library on one device.

    Nothing is moved between libraries or devices behind the caller's back, as in PyTorch
    itself ("Expected all tensors to be on the same device"); the message names the first
    two arguments that differ and says what each is.
    """
    given = [(name, a) for name, a in arrays.items() if a is not None]
    if not any(is_array_api(a) for _, a in given):
        return
    (first, ref), *others = given
    for name, a in others:
        if is_array_api(a) and is_array_api(ref):
            try:
                get_namespace(a, ref)
            except TypeError:  # arrays of two array API libraries
                same = False
            else:
                same = device(a) == device(ref)
        else:  # host data is fine with host data, nothing else
            same = not (is_array_api(a) or is_array_api(ref))
        if same:
            continue
        # The host argument (or the second one) goes to the tensor's device in the example.
        move, to = (name, first) if is_array_api(ref) else (first, name)
        tensor = ref if is_array_api(ref) else a
        example = (
            f" (e.g. torch.as_tensor({move}, device={to}.device))"
            if type(tensor).__module__.split(".")[0] == "torch" else ""
        )
        raise ValueError(
            f"{owner}: {first} is {describe(ref)} and {name} is {describe(a)}; pass them as "
            f"arrays of one library on one device{example}: lsqnet copies nothing between "
            f"libraries or devices."
        )
