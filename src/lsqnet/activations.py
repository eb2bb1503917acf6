"""Activation functions with the inverse and the output range that closed-form training needs.

lsqnet fits a layer ``y = f(z)``, ``z = x W + b`` by pulling the targets back through ``f``
(``z = f^-1(y)``, after clipping ``y`` into the range the inverse accepts) and solving a linear
least-squares problem for ``z``; the derivative ``f'(z)`` later weights the samples. One
:class:`Activation` record holds the four pieces (forward, inverse, derivative, output range), and
the :data:`ACTIVATIONS` table maps names to records.

Design constraints:

* Pure NumPy/SciPy. The only lsqnet import is :mod:`lsqnet._validation`, so every other module
  (solvers, layers, networks) may import this one without cycles.
* dtype preserving: float32 in, float32 out; float64 in, float64 out. Other inputs (integers,
  booleans, float16, Python lists and scalars) are computed in float64.
* Inputs are never modified; every function returns a new array.
* Numerically stable in float32 and float64: ``scipy.special.expit``/``logit``, ``np.logaddexp``,
  ``log1p``/``expm1``. ``forward`` and ``derivative`` raise no overflow warnings for
  ``|z| <= 1e4``.
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
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logit

from lsqnet._validation import check_option, check_scalar

__all__ = [
    "ACTIVATIONS",
    "ELU_ALPHA",
    "LEAKY_RELU_SLOPE",
    "Activation",
    "get",
]

#: Scale of the negative branch of "elu": ``f(z) = ELU_ALPHA * expm1(z)`` for ``z <= 0``, so the
#: output range is ``(-ELU_ALPHA, inf)``.
ELU_ALPHA: float = 1.0

#: Slope of the negative branch of "leaky_relu": ``f(z) = LEAKY_RELU_SLOPE * z`` for ``z <= 0``.
LEAKY_RELU_SLOPE: float = 0.01

_LN2 = float(np.log(2.0))


# --------------------------------------------------------------------------------------------
# Array plumbing
# --------------------------------------------------------------------------------------------


def _as_float(x: ArrayLike) -> np.ndarray:
    """``x`` as an array of float32 or float64 (never a copy when it already is one)."""
    arr = np.asarray(x)
    if arr.dtype in (np.float32, np.float64):
        return arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Activations take arrays of real numbers (int, float or bool); "
            f"got an array of dtype {arr.dtype}."
        )
    return arr.astype(np.float64)


def _dtype_preserving(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """Convert the first argument with :func:`_as_float`; return a new array of its dtype."""

    @functools.wraps(fn)
    def wrapper(x: ArrayLike, *args: Any, **kwargs: Any) -> np.ndarray:
        arr = _as_float(x)
        out = np.asarray(fn(arr, *args, **kwargs))
        if out.dtype != arr.dtype:
            return out.astype(arr.dtype)
        if np.may_share_memory(out, arr):
            # The caller may write into the result; it must not reach back into the input.
            return out.copy()
        return out

    return wrapper


def _silent_inverse(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """An inverse that maps out-of-range targets to NaN/+-inf without warnings or errors.

    NumPy would warn for some functions (``arctanh(1)``) and not for others (SciPy's ``logit``);
    silencing them all makes the behaviour the same for every activation, also under
    ``np.seterr(all="raise")``.
    """

    @functools.wraps(fn)
    def wrapper(y: ArrayLike, reference: ArrayLike | None = None) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(y, reference)

    return _dtype_preserving(wrapper)


def _require_rows(z: np.ndarray) -> None:
    if z.ndim == 0:
        raise ValueError(
            "softmax works row-wise over the last axis and needs an array with at least one "
            "dimension; got a scalar (0-D array)."
        )


def _log1mexp(a: np.ndarray) -> np.ndarray:
    """``log(1 - exp(-a))`` for ``a > 0``, accurate for small and large ``a`` (Maechler 2012)."""
    small = a <= _LN2
    return np.where(small, np.log(-np.expm1(-a)), np.log1p(-np.exp(-np.where(small, _LN2, a))))


# --------------------------------------------------------------------------------------------
# The functions themselves (inputs already float32/float64 arrays)
# --------------------------------------------------------------------------------------------


def _identity_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = z``."""
    return z.copy()


def _identity_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = y``; ``reference`` is ignored."""
    return y.copy()


def _identity_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = 1``."""
    return np.ones_like(z)


def _sigmoid_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = 1 / (1 + exp(-z))``."""
    return expit(z)


def _sigmoid_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = log(y / (1 - y))``; ``reference`` is ignored."""
    return logit(y)


def _sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = y (1 - y) = expit(z) expit(-z)`` (the product form keeps relative accuracy)."""
    return expit(z) * expit(-z)


def _tanh_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = tanh(z)``."""
    return np.tanh(z)


def _tanh_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = arctanh(y)``; ``reference`` is ignored."""
    return np.arctanh(y)


def _tanh_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = 1 - y^2 = 4 expit(2z) expit(-2z)`` (no cancellation, no cosh overflow)."""
    return 4 * expit(2 * z) * expit(-2 * z)


def _elu_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = z`` for ``z > 0``, ``ELU_ALPHA * expm1(z)`` otherwise."""
    # expm1 only ever sees z <= 0: no overflow for large positive z.
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0)))


def _elu_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = y`` for ``y > 0``, ``log1p(y / ELU_ALPHA)`` otherwise; ``reference`` is ignored."""
    return np.where(y > 0, y, np.log1p(np.minimum(y, 0) / ELU_ALPHA))


def _elu_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = 1`` for ``z > 0``, ``ELU_ALPHA * exp(z)`` otherwise."""
    return np.where(z > 0, 1, ELU_ALPHA * np.exp(np.minimum(z, 0)))


def _leaky_relu_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = z`` for ``z > 0``, ``LEAKY_RELU_SLOPE * z`` otherwise."""
    return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)


def _leaky_relu_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = y`` for ``y > 0``, ``y / LEAKY_RELU_SLOPE`` otherwise; ``reference`` is ignored."""
    return np.where(y > 0, y, y / LEAKY_RELU_SLOPE)


def _leaky_relu_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = 1`` for ``z > 0``, ``LEAKY_RELU_SLOPE`` otherwise (also at ``z = 0``)."""
    return np.where(z > 0, 1, LEAKY_RELU_SLOPE)


def _softplus_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = log(1 + exp(z))``."""
    return np.logaddexp(0, z)


def _softplus_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = log(expm1(y)) = y + log(1 - exp(-y))``; ``reference`` is ignored."""
    return y + _log1mexp(y)


def _softplus_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = expit(z)``."""
    return expit(z)


def _softminus_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = z - softplus(z) = -softplus(-z) = log(expit(z))``."""
    return -np.logaddexp(0, -z)


def _softminus_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """``z = -softplus^-1(-y) = y - log(1 - exp(y))``; ``reference`` is ignored."""
    return y - _log1mexp(-y)


def _softminus_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = expit(-z)``."""
    return expit(-z)


def _softmax_forward(z: np.ndarray) -> np.ndarray:
    """``f(z)_i = exp(z_i) / sum_j exp(z_j)`` over the last axis."""
    _require_rows(z)
    # Subtracting the row maximum leaves the result unchanged and keeps exp from overflowing.
    e = np.exp(z - np.max(z, axis=-1, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=-1, keepdims=True)


def _softmax_inverse(y: np.ndarray, reference: Any = None) -> np.ndarray:
    """Return the zero-row-mean pre-image of softmax targets ``y`` (row-wise, last axis).

    softmax is invariant to adding a constant to a row, so its inverse is defined up to that
    constant; the representative returned is ``z = log(y) - mean(log(y), axis=-1)``, the one with
    zero row mean. ``forward(inverse(y)) == y`` for rows on the open simplex (positive entries
    summing to 1); for positive rows that do not sum to 1 it gives ``y / y.sum(-1)``. Entries
    equal to 0 give -inf (and NaN for the rest of the row), negative entries NaN. ``reference``
    is ignored.
    """
    _require_rows(y)
    log_y = np.log(y)
    return log_y - np.mean(log_y, axis=-1, keepdims=True)


def _softmax_derivative(z: np.ndarray) -> np.ndarray:
    """The diagonal of the row Jacobian, ``dy_i/dz_i = y_i (1 - y_i)``."""
    y = _softmax_forward(z)
    return y * (1 - y)


def _relu_forward(z: np.ndarray) -> np.ndarray:
    """``f(z) = max(z, 0)``."""
    return np.maximum(z, 0)


def _relu_inverse(y: np.ndarray, reference: ArrayLike | None = None) -> np.ndarray:
    """Return a pre-image of relu targets ``y``.

    relu is not invertible: a target 0 has the whole half-line ``z <= 0`` as pre-image. This
    returns ``y`` where ``y > 0``; where ``y == 0`` it returns ``min(reference, 0)`` when a
    reference pre-activation (an array of the shape of ``y``) is given, else 0. Targets below 0
    have no pre-image and give NaN.

    With ``reference`` the current pre-activation ``z_k``, the least-squares fit to these targets
    minimises a majoriser of the convex one-sided loss

        L(z) = sum_{y > 0} (z - y)^2 + sum_{y == 0} max(z, 0)^2,

    touching it at ``z_k``: ``max(z, 0)^2 <= (z - min(z_k, 0))^2`` with equality at ``z = z_k``.
    Repeating "targets from the current z, then least squares" (the caller iterates) is a
    majorise-minimise scheme: ``L`` never increases from one iterate to the next. Without a
    reference, zero targets are fitted as 0 (the plain least-squares baseline).
    """
    if reference is None:
        fill: np.ndarray | float = 0.0
    else:
        ref = _as_float(reference)
        if ref.shape != y.shape:
            raise ValueError(
                f"The reference pre-activation of relu.inverse must have the shape of y; "
                f"got reference of shape {ref.shape} and y of shape {y.shape}."
            )
        fill = np.minimum(ref, 0)
    out = np.where(y > 0, y, fill).astype(y.dtype)
    out[y < 0] = np.nan  # outside [0, inf): no pre-image
    return out


def _relu_derivative(z: np.ndarray) -> np.ndarray:
    """``f'(z) = 1`` for ``z > 0``, else 0 (also at ``z = 0``)."""
    return (z > 0).astype(z.dtype)


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
    function modifies its input.

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
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[..., np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
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

    def __call__(self, z: ArrayLike) -> np.ndarray:
        """Apply ``forward``."""
        return self.forward(z)

    @property
    def _has_open_finite_bound(self) -> bool:
        return any(
            np.isfinite(bound) and not is_closed
            for bound, is_closed in zip(self.output_range, self.closed, strict=True)
        )

    def clip(self, y: ArrayLike, eps: float) -> tuple[np.ndarray, int]:
        """Move targets into the range that :attr:`inverse` accepts.

        Parameters
        ----------
        y : array-like of any shape
            Targets (outputs of the activation). Not modified.
        eps : float
            Margin kept from each finite open bound: values below ``low + eps`` become
            ``low + eps`` and values above ``high - eps`` become ``high - eps``. Must be a float
            in (0, 0.5) when the range has a finite open bound; ignored otherwise (a closed bound
            needs no margin: relu's targets below 0 become 0 itself). If the margin rounds onto
            the bound in the dtype of ``y`` (e.g. ``eps=1e-10`` in float32), the nearest
            representable value strictly inside is used instead.

        Returns
        -------
        y_clipped : ndarray of the shape of y
            A new array, float32 if ``y`` is float32, else float64. NaN entries are passed
            through unchanged (and not counted).
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
        out = arr.copy()
        changed = np.zeros(arr.shape, dtype=bool)
        for side, (bound, is_closed) in enumerate(zip(self.output_range, self.closed, strict=True)):
            if not np.isfinite(bound):
                continue
            inward = 1.0 if side == 0 else -1.0
            margin = _margin(bound, 0.0 if is_closed else eps, inward, arr.dtype, is_closed)
            mask = arr < margin if side == 0 else arr > margin
            out[mask] = margin
            changed |= mask
        if self.rowwise and arr.size:
            out, changed = _renormalise_rows(arr, out, changed)
        return out, int(np.count_nonzero(changed))


def _margin(bound: float, eps: float, inward: float, dtype: np.dtype, closed: bool) -> Any:
    """``bound + inward * eps`` in ``dtype``, strictly inside an open bound."""
    b = dtype.type(bound)
    if closed:
        return b
    m = dtype.type(bound + inward * eps)
    edge = np.nextafter(b, dtype.type(inward * np.inf))
    return max(m, edge) if inward > 0 else min(m, edge)


def _renormalise_rows(
    arr: np.ndarray, out: np.ndarray, clipped: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Divide rows that were clipped or do not sum to 1 within rounding by their sum."""
    k = arr.shape[-1]
    sums = np.sum(out, axis=-1, keepdims=True)
    tol = max(k, 1) * np.finfo(arr.dtype).eps
    rows = np.any(clipped, axis=-1, keepdims=True) | (np.abs(sums - 1) > tol)
    out = np.where(rows, out / np.where(rows, sums, 1), out)
    differs = (out != arr) & ~(np.isnan(out) & np.isnan(arr))
    return out, clipped | (rows & differs)


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


def _make(
    name: str,
    forward: Callable[[np.ndarray], Any],
    inverse: Callable[..., Any],
    derivative: Callable[[np.ndarray], Any],
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
