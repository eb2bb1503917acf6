"""Activation functions with the inverse and the output range that closed-form training needs.

lsqnet fits a layer ``y = f(z)``, ``z = x W + b`` by pulling the targets back through ``f``
(``z = f^-1(y)``, after clipping ``y`` into the range the inverse accepts) and solving a linear
least-squares problem for ``z``; the derivative ``f'(z)`` later weights the samples. One
:class:`Activation` record holds the four pieces (forward, inverse, derivative, output range), and
the :data:`ACTIVATIONS` table maps names to records.

Design constraints:

* Written once against the array API standard (:mod:`lsqnet._array_api`): NumPy arrays and
  array-likes are computed with NumPy, through SciPy's special functions; arrays of another
  library (PyTorch tensors, CPU or CUDA) with that library, on their device, and come back as
  arrays of it: tensor in, tensor out, nothing copied to the host. The only lsqnet imports are
  :mod:`lsqnet._validation` and :mod:`lsqnet._array_api`, so every other module (solvers,
  layers, networks) may import this one without cycles.
* dtype preserving: float32 in, float32 out; float64 in, float64 out. Other inputs (integers,
  booleans, float16, Python lists and scalars) are computed in float64.
* Inputs are never modified; every function returns a new array.
* Numerically stable in float32 and float64: ``expit``/``logit`` (SciPy's for NumPy),
  ``logaddexp``, ``log1p``/``expm1``. ``forward`` and ``derivative`` overflow nowhere (and raise
  no NumPy overflow warnings) for ``|z| <= 1e4``.
* ``inverse`` does not clip: callers clip first with :meth:`Activation.clip`. On out-of-range input
  it returns NaN (beyond a bound) or +-inf (at an open bound), silently and without raising.

Two activations need a choice of pre-image. softmax is invariant to a constant added to a row;
its inverse returns the representative with zero row mean. relu maps the half-line ``z <= 0`` to
0; its inverse takes an optional ``reference`` pre-activation and returns ``min(reference, 0)``
for zero targets, which makes repeated least-squares fits a majorise-minimise scheme for a
one-sided loss (see ``ACTIVATIONS["relu"].inverse.__doc__``).
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import scipy.special
from numpy.typing import ArrayLike

from lsqnet._array_api import device, expit, get_namespace, is_numpy, logit, numpy_dtype
from lsqnet._validation import check_option, check_scalar

__all__ = [
    "ACTIVATIONS",
    "ELU_ALPHA",
    "LEAKY_RELU_SLOPE",
    "Activation",
    "get",
]

#: A NumPy array, or an array of another array API library (a PyTorch tensor).
Array: TypeAlias = Any

#: Scale of the negative branch of "elu": ``f(z) = ELU_ALPHA * expm1(z)`` for ``z <= 0``, so the
#: output range is ``(-ELU_ALPHA, inf)``.
ELU_ALPHA: float = 1.0

#: Slope of the negative branch of "leaky_relu": ``f(z) = LEAKY_RELU_SLOPE * z`` for ``z <= 0``.
LEAKY_RELU_SLOPE: float = 0.01

_LN2 = float(np.log(2.0))


# --------------------------------------------------------------------------------------------
# Array plumbing
# --------------------------------------------------------------------------------------------


def _as_float(x: ArrayLike) -> Array:
    """``x`` as an array of float32 or float64 (never a copy when it already is one).

    NumPy arrays and array-likes (lists, scalars) become NumPy arrays; an array of another
    library (a tensor) stays an array of it, on its device. Integer, boolean and other real
    floating dtypes (float16, bfloat16) become float64.
    """
    xp = get_namespace(x)
    if is_numpy(xp):
        arr = np.asarray(x)
        real = arr.dtype.kind in "biuf"
    else:
        arr = x
        real = xp.isdtype(arr.dtype, ("bool", "integral", "real floating"))
    if arr.dtype in (xp.float32, xp.float64):
        return arr
    if not real:
        raise TypeError(
            f"Activations take arrays of real numbers (int, float or bool); "
            f"got an array of dtype {arr.dtype}."
        )
    return xp.astype(arr, xp.float64)


def _dtype_preserving(fn: Callable[..., Any]) -> Callable[..., Array]:
    """Convert the first argument with :func:`_as_float`; return a new array of its dtype, of
    its library and on its device."""

    @functools.wraps(fn)
    def wrapper(x: ArrayLike, *args: Any, **kwargs: Any) -> Array:
        arr = _as_float(x)
        xp = get_namespace(arr)
        out = fn(arr, *args, **kwargs)
        if is_numpy(xp):
            out = np.asarray(out)  # SciPy and NumPy may return scalars for 0-D input
        if out.dtype != arr.dtype:
            return xp.astype(out, arr.dtype)
        # The caller may write into the result; it must not reach back into the input. The
        # functions build new arrays (identity copies), so for other libraries, which have no
        # may_share_memory, checking that the input itself did not come back is enough.
        if out is arr or (is_numpy(xp) and np.may_share_memory(out, arr)):
            return xp.asarray(out, copy=True)
        return out

    return wrapper


def _silent_inverse(fn: Callable[..., Any]) -> Callable[..., Array]:
    """An inverse that maps out-of-range targets to NaN/+-inf without warnings or errors.

    NumPy would warn for some functions (``arctanh(1)``) and not for others (SciPy's ``logit``);
    silencing them all makes the behaviour the same for every activation, also under
    ``np.seterr(all="raise")``. (``np.errstate`` only affects NumPy; PyTorch does not warn.)
    """

    @functools.wraps(fn)
    def wrapper(y: ArrayLike, reference: ArrayLike | None = None) -> Array:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(y, reference)

    return _dtype_preserving(wrapper)


def _require_rows(z: Array) -> None:
    if z.ndim == 0:
        raise ValueError(
            "softmax works row-wise over the last axis and needs an array with at least one "
            "dimension; got a scalar (0-D array)."
        )


def _log1mexp(a: Array) -> Array:
    """``log(1 - exp(-a))`` for ``a > 0``, accurate for small and large ``a`` (Maechler 2012)."""
    xp = get_namespace(a)
    small = a <= _LN2
    return xp.where(small, xp.log(-xp.expm1(-a)), xp.log1p(-xp.exp(-xp.where(small, _LN2, a))))


# --------------------------------------------------------------------------------------------
# The functions themselves (inputs already float32/float64 arrays, of any namespace)
# --------------------------------------------------------------------------------------------


def _identity_forward(z: Array) -> Array:
    """``f(z) = z``."""
    return get_namespace(z).asarray(z, copy=True)


def _identity_inverse(y: Array, reference: Any = None) -> Array:
    """``z = y``; ``reference`` is ignored."""
    return get_namespace(y).asarray(y, copy=True)


def _identity_derivative(z: Array) -> Array:
    """``f'(z) = 1``."""
    return get_namespace(z).ones_like(z)


def _sigmoid_forward(z: Array) -> Array:
    """``f(z) = 1 / (1 + exp(-z))``."""
    return expit(get_namespace(z), z)


def _sigmoid_inverse(y: Array, reference: Any = None) -> Array:
    """``z = log(y / (1 - y))``; ``reference`` is ignored."""
    return logit(get_namespace(y), y)


def _sigmoid_derivative(z: Array) -> Array:
    """``f'(z) = y (1 - y) = expit(z) expit(-z)`` (the product form keeps relative accuracy)."""
    xp = get_namespace(z)
    return expit(xp, z) * expit(xp, -z)


def _tanh_forward(z: Array) -> Array:
    """``f(z) = tanh(z)``."""
    return get_namespace(z).tanh(z)


def _tanh_inverse(y: Array, reference: Any = None) -> Array:
    """``z = arctanh(y)``; ``reference`` is ignored."""
    return get_namespace(y).atanh(y)


def _tanh_derivative(z: Array) -> Array:
    """``f'(z) = 1 - y^2 = 4 expit(2z) expit(-2z)`` (no cancellation, no cosh overflow)."""
    xp = get_namespace(z)
    return 4 * expit(xp, 2 * z) * expit(xp, -2 * z)


def _elu_forward(z: Array) -> Array:
    """``f(z) = z`` for ``z > 0``, ``ELU_ALPHA * expm1(z)`` otherwise."""
    xp = get_namespace(z)
    # expm1 only ever sees z <= 0: no overflow for large positive z.
    return xp.where(z > 0, z, ELU_ALPHA * xp.expm1(xp.minimum(z, 0)))


def _elu_inverse(y: Array, reference: Any = None) -> Array:
    """``z = y`` for ``y > 0``, ``log1p(y / ELU_ALPHA)`` otherwise; ``reference`` is ignored."""
    xp = get_namespace(y)
    return xp.where(y > 0, y, xp.log1p(xp.minimum(y, 0) / ELU_ALPHA))


def _elu_derivative(z: Array) -> Array:
    """``f'(z) = 1`` for ``z > 0``, ``ELU_ALPHA * exp(z)`` otherwise."""
    xp = get_namespace(z)
    return xp.where(z > 0, 1, ELU_ALPHA * xp.exp(xp.minimum(z, 0)))


def _leaky_relu_forward(z: Array) -> Array:
    """``f(z) = z`` for ``z > 0``, ``LEAKY_RELU_SLOPE * z`` otherwise."""
    return get_namespace(z).where(z > 0, z, LEAKY_RELU_SLOPE * z)


def _leaky_relu_inverse(y: Array, reference: Any = None) -> Array:
    """``z = y`` for ``y > 0``, ``y / LEAKY_RELU_SLOPE`` otherwise; ``reference`` is ignored."""
    return get_namespace(y).where(y > 0, y, y / LEAKY_RELU_SLOPE)


def _leaky_relu_derivative(z: Array) -> Array:
    """``f'(z) = 1`` for ``z > 0``, ``LEAKY_RELU_SLOPE`` otherwise (also at ``z = 0``)."""
    xp = get_namespace(z)
    # The slope is rounded once, to z's dtype (a bare Python 0.01 would become float32 in
    # PyTorch's default dtype, whatever z's).
    return xp.where(z > 0, 1.0, xp.full_like(z, LEAKY_RELU_SLOPE))


def _softplus_forward(z: Array) -> Array:
    """``f(z) = log(1 + exp(z))``."""
    return get_namespace(z).logaddexp(0, z)


def _softplus_inverse(y: Array, reference: Any = None) -> Array:
    """``z = log(expm1(y)) = y + log(1 - exp(-y))``; ``reference`` is ignored."""
    return y + _log1mexp(y)


def _softplus_derivative(z: Array) -> Array:
    """``f'(z) = expit(z)``."""
    return expit(get_namespace(z), z)


def _softminus_forward(z: Array) -> Array:
    """``f(z) = z - softplus(z) = -softplus(-z) = log(expit(z))``."""
    return -get_namespace(z).logaddexp(0, -z)


def _softminus_inverse(y: Array, reference: Any = None) -> Array:
    """``z = -softplus^-1(-y) = y - log(1 - exp(y))``; ``reference`` is ignored."""
    return y - _log1mexp(-y)


def _softminus_derivative(z: Array) -> Array:
    """``f'(z) = expit(-z)``."""
    return expit(get_namespace(z), -z)


def _softmax_forward(z: Array) -> Array:
    """``f(z)_i = exp(z_i) / sum_j exp(z_j)`` over the last axis."""
    _require_rows(z)
    xp = get_namespace(z)
    if z.shape[-1] == 0:  # empty rows: nothing to normalise, and no maximum to subtract
        return xp.asarray(z, copy=True)
    # Subtracting the row maximum leaves the result unchanged and keeps exp from overflowing.
    e = xp.exp(z - _row_max(z))
    return e / xp.sum(e, axis=-1, keepdims=True)


#: Rows up to this long take their maximum column by column in NumPy (see :func:`_row_max`).
_COLUMNWISE_MAX = 64


def _row_max(z: Array) -> Array:
    """The maximum over the last axis, kept as an axis of length 1.

    NumPy reduces a short last axis slowly (the reduction loops over 10 entries per row):
    for 60,000 x 10 float32, ``max(axis=-1)`` took 3.7 ms and ``np.maximum`` over the
    columns 0.85 ms, a third of a softmax. The same values either way.
    """
    xp = get_namespace(z)
    if xp is not np or z.ndim != 2 or not 0 < z.shape[1] <= _COLUMNWISE_MAX:
        return xp.max(z, axis=-1, keepdims=True)
    top = z[:, 0].copy()
    for j in range(1, z.shape[1]):
        np.maximum(top, z[:, j], out=top)
    return top[:, None]


def _softmax_inverse(y: Array, reference: Any = None) -> Array:
    """Return the zero-row-mean pre-image of softmax targets ``y`` (row-wise, last axis).

    softmax is invariant to adding a constant to a row, so its inverse is defined up to that
    constant; the representative returned is ``z = log(y) - mean(log(y), axis=-1)``, the one with
    zero row mean. ``forward(inverse(y)) == y`` for rows on the open simplex (positive entries
    summing to 1); for positive rows that do not sum to 1 it gives ``y / y.sum(-1)``. Entries
    equal to 0 give -inf (and NaN for the rest of the row), negative entries NaN. ``reference``
    is ignored.
    """
    _require_rows(y)
    xp = get_namespace(y)
    log_y = xp.log(y)
    return log_y - xp.mean(log_y, axis=-1, keepdims=True)


def _softmax_derivative(z: Array) -> Array:
    """The diagonal of the row Jacobian, ``dy_i/dz_i = y_i (1 - y_i)``."""
    y = _softmax_forward(z)
    return y * (1 - y)


def _relu_forward(z: Array) -> Array:
    """``f(z) = max(z, 0)``."""
    return get_namespace(z).maximum(z, 0)


def _relu_inverse(y: Array, reference: ArrayLike | None = None) -> Array:
    """Return a pre-image of relu targets ``y``.

    relu is not invertible: a target 0 has the whole half-line ``z <= 0`` as pre-image. This
    returns ``y`` where ``y > 0``; where ``y == 0`` it returns ``min(reference, 0)`` when a
    reference pre-activation (an array of the shape of ``y``; one of another library than
    ``y``'s, e.g. a NumPy array for a tensor ``y``, is converted to ``y``'s library and device)
    is given, else 0. Targets below 0 have no pre-image and give NaN.

    With ``reference`` the current pre-activation ``z_k``, the least-squares fit to these targets
    minimises a majoriser of the convex one-sided loss

        L(z) = sum_{y > 0} (z - y)^2 + sum_{y == 0} max(z, 0)^2,

    touching it at ``z_k``: ``max(z, 0)^2 <= (z - min(z_k, 0))^2`` with equality at ``z = z_k``.
    Repeating "targets from the current z, then least squares" (the caller iterates) is a
    majorise-minimise scheme: ``L`` never increases from one iterate to the next. Without a
    reference, zero targets are fitted as 0 (the plain least-squares baseline).
    """
    xp = get_namespace(y)
    if reference is None:
        fill: Array | float = 0.0
    else:
        ref = _as_float(reference)
        if get_namespace(ref) is not xp:
            ref = xp.asarray(ref, device=device(y))
        if ref.shape != y.shape:
            raise ValueError(
                f"The reference pre-activation of relu.inverse must have the shape of y; "
                f"got reference of shape {tuple(ref.shape)} and y of shape {tuple(y.shape)}."
            )
        fill = xp.minimum(ref, 0)
    out = xp.astype(xp.where(y > 0, y, fill), y.dtype)
    return xp.where(y < 0, xp.nan, out)  # outside [0, inf): no pre-image


def _relu_derivative(z: Array) -> Array:
    """``f'(z) = 1`` for ``z > 0``, else 0 (also at ``z = 0``)."""
    return get_namespace(z).astype(z > 0, z.dtype)


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An activation function with its inverse, derivative and output range.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"sigmoid"``.
    forward : callable
        ``z -> y``, elementwise (row-wise over the last axis when ``rowwise``). Takes and returns
        arrays of any shape.
    inverse : callable
        ``inverse(y, reference=None) -> z`` with ``forward(inverse(y)) == y`` for ``y`` strictly
        inside the output range. It does not clip: call :meth:`clip` first. Out-of-range
        targets give NaN (beyond a bound) or +-inf (at an open bound), without warnings or
        exceptions. ``reference`` (an array of the shape of ``y``, typically the current
        pre-activation) picks a pre-image where ``forward`` is not injective; invertible
        activations ignore it.
    derivative : callable
        ``z -> dy/dz``, elementwise as a function of the pre-activation ``z``. For a row-wise
        activation, the diagonal of the row Jacobian.
    output_range : tuple of float
        ``(low, high)``, the outputs ``forward`` can produce; either may be ``-inf``/``inf``.
    closed : tuple of bool, default=(False, False)
        Whether ``low``/``high`` themselves are attainable outputs (relu's 0). Targets at a
        closed bound are valid; targets at an open bound are not.
    invertible : bool, default=True
        False when ``forward`` is not injective (relu); ``inverse`` then returns one pre-image
        chosen with the help of ``reference``.
    rowwise : bool, default=False
        True when ``forward`` couples the entries of a row (the last axis) and its outputs are
        rows of the open probability simplex (softmax); :meth:`clip` then also renormalises rows.

    Notes
    -----
    Calling the record applies ``forward``: ``ACTIVATIONS["tanh"](z) == np.tanh(z)``.
    float32 and float64 inputs keep their dtype in every function and in :meth:`clip`; no
    function modifies its input. The registered functions take NumPy arrays (and array-likes)
    or arrays of another array API library, e.g. PyTorch tensors on any device, and return
    arrays of the input's library and device.

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet.activations import get
    >>> sigmoid = get("sigmoid")
    >>> y, n_clipped = sigmoid.clip(np.array([0.0, 0.5, 1.0]), eps=1e-3)
    >>> n_clipped
    2
    >>> np.allclose(sigmoid(sigmoid.inverse(y)), y)
    True
    """

    name: str
    forward: Callable[[Array], Array]
    inverse: Callable[..., Array]
    derivative: Callable[[Array], Array]
    output_range: tuple[float, float]
    closed: tuple[bool, bool] = (False, False)
    invertible: bool = True
    rowwise: bool = False

    def __post_init__(self) -> None:
        low, high = self.output_range
        if not low < high:
            raise ValueError(
                f"The output_range of Activation {self.name!r} must satisfy low < high; "
                f"got {self.output_range}."
            )
        for bound, is_closed in zip((low, high), self.closed, strict=True):
            if is_closed and not np.isfinite(bound):
                raise ValueError(
                    f"Activation {self.name!r} has an infinite bound marked as closed "
                    f"(output_range={self.output_range}, closed={self.closed})."
                )

    def __repr__(self) -> str:
        return (
            f"Activation(name={self.name!r}, output_range={self.output_range}, "
            f"closed={self.closed}, invertible={self.invertible}, rowwise={self.rowwise})"
        )

    def __call__(self, z: ArrayLike) -> Array:
        """Apply ``forward``."""
        return self.forward(z)

    def forward_(self, z: Array) -> Array:
        """``forward(z)`` computed in the memory of ``z`` where that is possible, else new.

        For callers that own ``z`` and do not use it afterwards (the network's forward pass,
        whose pre-activations are temporary): a registered element-wise activation with an
        in-place NumPy form (identity, relu, tanh, sigmoid) writes into a float32/float64
        ``z`` and returns it, saving an array of ``z``'s size (for a wide layer, allocating
        and first touching a gigabyte takes longer than the activation itself). Results are
        identical to ``forward``'s; any other input gets ``forward(z)``.
        """
        inplace = _NUMPY_IN_PLACE.get(self.name)
        if (
            inplace is None
            or ACTIVATIONS.get(self.name) is not self
            or not isinstance(z, np.ndarray)
            or z.dtype not in (np.float32, np.float64)
        ):
            return self.forward(z)
        return inplace(z)

    @property
    def _has_open_finite_bound(self) -> bool:
        return any(
            np.isfinite(bound) and not is_closed
            for bound, is_closed in zip(self.output_range, self.closed, strict=True)
        )

    def clip(self, y: ArrayLike, eps: float) -> tuple[Array, int]:
        """Move targets into the range that :attr:`inverse` accepts.

        Parameters
        ----------
        y : array-like or array of any shape
            Targets (outputs of the activation): a NumPy array or array-like, or an array of
            another array API library (a PyTorch tensor). Not modified.
        eps : float
            Margin kept from each finite open bound: values below ``low + eps`` become
            ``low + eps`` and values above ``high - eps`` become ``high - eps``. Must be a float
            in (0, 0.5) when the range has a finite open bound; ignored otherwise (a closed bound
            needs no margin: relu's targets below 0 become 0 itself). If the margin rounds onto
            the bound in the dtype of ``y`` (e.g. ``eps=1e-10`` in float32), the nearest
            representable value strictly inside is used instead.

        Returns
        -------
        y_clipped : array of the shape of y
            A new array, float32 if ``y`` is float32, else float64; of ``y``'s library and on
            its device (a NumPy array for array-likes). NaN entries are passed through unchanged
            (and not counted).
        n_changed : int
            Number of entries whose value changed.

        Raises
        ------
        TypeError, ValueError
            If ``eps`` is needed and is not a float in (0, 0.5).

        Notes
        -----
        For a row-wise activation (softmax), entries are first clipped into ``[eps, 1 - eps]``;
        then every row that was clipped, or whose sum differs from 1 by more than rounding
        (``k * machine epsilon`` for rows of length ``k``), is divided by its sum. Rows that
        needed neither are returned as they are. ``n_changed`` counts the entries whose value
        differs from the input after both steps, so it includes the entries of a renormalised
        row that were not clipped themselves. After renormalisation an entry may lie slightly
        below ``eps``, but always strictly inside (0, 1).

        Examples
        --------
        >>> import numpy as np
        >>> from lsqnet.activations import get
        >>> y, n = get("tanh").clip(np.array([-2.0, 0.3, 1.0]), eps=0.01)
        >>> y, n
        (array([-0.99,  0.3 ,  0.99]), 2)
        """
        arr = _as_float(y)
        if self._has_open_finite_bound:
            eps = check_scalar(
                eps,
                "eps",
                "Activation.clip",
                low=0.0,
                high=0.5,
                low_inclusive=False,
                high_inclusive=False,
            )
        if self.rowwise:
            _require_rows(arr)
        xp = get_namespace(arr)
        out = xp.asarray(arr, copy=True)
        changed = xp.zeros(arr.shape, dtype=xp.bool, device=device(arr))
        for side, (bound, is_closed) in enumerate(zip(self.output_range, self.closed, strict=True)):
            if not np.isfinite(bound):
                continue
            inward = 1.0 if side == 0 else -1.0
            value = _margin(
                bound, 0.0 if is_closed else eps, inward, numpy_dtype(arr.dtype), is_closed
            )
            # A 0-D array of arr's dtype: the float32 margin stays exactly that float32 value.
            margin = xp.asarray(value, dtype=arr.dtype, device=device(arr))
            mask = arr < margin if side == 0 else arr > margin
            out = xp.where(mask, margin, out)
            changed = changed | mask
        if self.rowwise and math.prod(arr.shape):
            out, changed = _renormalise_rows(arr, out, changed)
        return out, int(xp.count_nonzero(changed))


def _margin(bound: float, eps: float, inward: float, dtype: np.dtype, closed: bool) -> Any:
    """``bound + inward * eps`` as a NumPy scalar of ``dtype``, strictly inside an open bound."""
    b = dtype.type(bound)
    if closed:
        return b
    m = dtype.type(bound + inward * eps)
    edge = np.nextafter(b, dtype.type(inward * np.inf))
    return max(m, edge) if inward > 0 else min(m, edge)


def _renormalise_rows(arr: Array, out: Array, clipped: Array) -> tuple[Array, Array]:
    """Divide rows that were clipped or do not sum to 1 within rounding by their sum."""
    xp = get_namespace(arr)
    k = arr.shape[-1]
    sums = xp.sum(out, axis=-1, keepdims=True)
    tol = max(k, 1) * xp.finfo(arr.dtype).eps
    rows = xp.any(clipped, axis=-1, keepdims=True) | (xp.abs(sums - 1) > tol)
    out = xp.where(rows, out / xp.where(rows, sums, 1), out)
    differs = (out != arr) & ~(xp.isnan(out) & xp.isnan(arr))
    return out, clipped | (rows & differs)


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


def _make(
    name: str,
    forward: Callable[[Array], Any],
    inverse: Callable[..., Any],
    derivative: Callable[[Array], Any],
    output_range: tuple[float, float],
    **flags: Any,
) -> Activation:
    return Activation(
        name=name,
        forward=_dtype_preserving(forward),
        inverse=_silent_inverse(inverse),
        derivative=_dtype_preserving(derivative),
        output_range=output_range,
        **flags,
    )


_INF = float("inf")

#: In-place NumPy forms of the registered element-wise activations that have one (the same
#: ufuncs as ``forward``, so the same results), used by :meth:`Activation.forward_`.
_NUMPY_IN_PLACE: Mapping[str, Callable[[np.ndarray], np.ndarray]] = types.MappingProxyType({
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0, out=z),
    "tanh": lambda z: np.tanh(z, out=z),
    "sigmoid": lambda z: scipy.special.expit(z, out=z),
})


#: Read-only mapping from activation name to :class:`Activation`. Names: identity, sigmoid,
#: tanh, relu, leaky_relu, elu, softplus, softminus, softmax.
ACTIVATIONS: Mapping[str, Activation] = types.MappingProxyType(
    {
        act.name: act
        for act in (
            _make(
                "identity",
                _identity_forward,
                _identity_inverse,
                _identity_derivative,
                (-_INF, _INF),
            ),
            _make(
                "sigmoid",
                _sigmoid_forward,
                _sigmoid_inverse,
                _sigmoid_derivative,
                (0.0, 1.0),
            ),
            _make("tanh", _tanh_forward, _tanh_inverse, _tanh_derivative, (-1.0, 1.0)),
            _make(
                "relu",
                _relu_forward,
                _relu_inverse,
                _relu_derivative,
                (0.0, _INF),
                closed=(True, False),
                invertible=False,
            ),
            _make(
                "leaky_relu",
                _leaky_relu_forward,
                _leaky_relu_inverse,
                _leaky_relu_derivative,
                (-_INF, _INF),
            ),
            _make("elu", _elu_forward, _elu_inverse, _elu_derivative, (-ELU_ALPHA, _INF)),
            _make(
                "softplus",
                _softplus_forward,
                _softplus_inverse,
                _softplus_derivative,
                (0.0, _INF),
            ),
            _make(
                "softminus",
                _softminus_forward,
                _softminus_inverse,
                _softminus_derivative,
                (-_INF, 0.0),
            ),
            _make(
                "softmax",
                _softmax_forward,
                _softmax_inverse,
                _softmax_derivative,
                (0.0, 1.0),
                rowwise=True,
            ),
        )
    }
)


def get(activation: str | Activation) -> Activation:
    """Return the activation record for a name, or an :class:`Activation` unchanged.

    Parameters
    ----------
    activation : str or Activation
        A key of :data:`ACTIVATIONS` (``"identity"``, ``"sigmoid"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"elu"``, ``"softplus"``, ``"softminus"``, ``"softmax"``), or an
        :class:`Activation` instance, which is returned as is.

    Returns
    -------
    Activation
        The registered record.

    Raises
    ------
    ValueError
        If ``activation`` is a string that is not a registered name; the message lists the
        valid names.
    TypeError
        If ``activation`` is neither a string nor an :class:`Activation`.

    Examples
    --------
    >>> from lsqnet.activations import get
    >>> get("tanh").output_range
    (-1.0, 1.0)
    """
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str):
        valid = ", ".join(repr(name) for name in sorted(ACTIVATIONS))
        raise TypeError(
            f"The 'activation' parameter of activations.get must be a str among {valid} or an "
            f"Activation instance. Got {activation!r} of type {type(activation).__name__} instead."
        )
    check_option(activation, "activation", "activations.get", sorted(ACTIVATIONS))
    return ACTIVATIONS[activation]
