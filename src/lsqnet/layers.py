r"""One fully-connected layer, and its closed-form training.

A layer computes :math:`y = f(x W + b)`. Training it in closed form (seed 000) means
inverting the targets through ``f`` and solving one least-squares problem for the
pre-activations; every output column shares one factorisation. Three refinements:

- ``method="weighted"`` weights each sample and output by :math:`f'(f^{-1}(y))^2`, which makes
  the pre-activation error a first-order match of the output-space squared error
  (Fontenla-Romero et al., Pattern Recognition 43, 2010).
- ``refine=k`` takes up to ``k`` Levenberg-Marquardt damped Gauss-Newton steps on the true
  output-space squared error, each itself a weighted least-squares solve. There is no closed
  form for the zero of the gradient of a sigmoid layer (seed 002), but a few linear solves
  find it.
- ReLU is not invertible: a target 0 has the half-line :math:`z \le 0` as its pre-image. The
  ``"inverse"`` method then solves the convex one-sided problem
  :math:`\sum_{y>0} (z-y)^2 + \sum_{y=0} \max(z, 0)^2` by majorise-minimise iterations that
  only change the right-hand side, so the one factorisation is reused.

This module imports the solver core and the activations only (no scikit-learn estimators).
Like them it is written against the array API standard (:mod:`lsqnet._array_api`): NumPy
arrays are computed with NumPy, exactly as before; PyTorch tensors (CPU or CUDA) in their
namespace and on their device, and the fitted weights are tensors there (nothing is copied to
the host).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from . import _sparse
from . import activations as _activations
from ._array_api import check_same_library, device, get_namespace, numpy_dtype
from ._validation import (
    check_array,
    check_consistent_length,
    check_option,
    check_sample_weight,
    check_scalar,
    float_dtype,
)
from .exceptions import LSQNetError, TargetClippingWarning
from .solvers import SOLVERS, GramStats, solve_least_squares
from .solvers._policy import Accepts, factorize, gram_solver

__all__ = ["METHODS", "Dense", "LayerFit", "collapse_linear", "fit_layer"]

METHODS = ("inverse", "weighted")

@dataclass(frozen=True, eq=False)
class Dense:
    """A fully-connected layer ``activation(X @ weight + bias)``: a frozen record.

    Attributes
    ----------
    weight : ndarray or tensor of shape (n_in, n_out)
    bias : ndarray or tensor of shape (n_out,)
        Of one library (NumPy, or an array API library such as PyTorch) and on one device.
    activation : str
        A name registered in :data:`lsqnet.activations.ACTIVATIONS`.
    product : callable or None
        ``product(X, weight)`` computing ``X @ weight`` the way that suits the weight (a
        feature map's units may have a cheaper product: see :mod:`lsqnet.features`); None for
        ``@``. Not saved with a model.
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "identity"
    product: Callable[[Any, Any], Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _activations.get(self.activation)  # fail early on an unknown name
        if self.weight.ndim != 2 or tuple(self.bias.shape) != (self.weight.shape[1],):
            raise ValueError(
                f"Dense needs weight of shape (n_in, n_out) and bias of shape (n_out,); "
                f"got {tuple(self.weight.shape)} and {tuple(self.bias.shape)}."
            )
        check_same_library("Dense", weight=self.weight, bias=self.bias)

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    def pre_activation(self, X: np.ndarray) -> np.ndarray:
        """``X @ weight + bias`` (a new array)."""
        # a map's own product is for dense inputs; a sparse X multiplies its stored values only
        if self.product is None or _sparse.is_sparse(X):
            Z = X @ self.weight
        else:
            Z = self.product(X, self.weight)
        Z += self.bias
        return Z

    def forward(self, X: Any) -> np.ndarray:
        """The layer's output for ``X`` of shape (n_samples, n_in) (a SciPy sparse matrix
        too, for a layer of NumPy arrays: only its stored values are multiplied).

        ``X`` must be of the weight's library and on its device: a tensor for a layer of
        tensors (``ValueError`` otherwise), an array or array-like for a layer of NumPy arrays.
        """
        check_same_library("Dense.forward", X=X, weight=self.weight)
        X = check_array(X, "X", dtype=self.weight.dtype, accept_sparse=True)
        if X.shape[1] != self.n_in:
            raise ValueError(f"X has {X.shape[1]} features, but the layer takes {self.n_in}.")
        return _activations.get(self.activation).forward(self.pre_activation(X))

    __call__ = forward


class LayerFit(NamedTuple):
    """What :func:`fit_layer` did, returned with ``return_info=True``.

    Attributes
    ----------
    layer : Dense
    solver : str
        The solver actually used by the last solve.
    n_clipped : int
        Number of target entries moved into the activation's open range.
    loss : float
        Weighted output-space mean squared error of the returned layer.
    grad_norm : float
        Norm of the gradient of the output-space objective at the returned layer.
    grad_norm_rel : float
        ``grad_norm`` divided by the gradient norm at the start of the refinement (the
        closed-form solution); NaN when ``refine=0``.
    n_refine : int
        Gauss-Newton steps taken.
    """

    layer: Dense
    solver: str
    n_clipped: int
    loss: float
    grad_norm: float
    grad_norm_rel: float
    n_refine: int


def _objective(act, X, Y, W, b, w, alpha, fit_intercept=True):
    """Output-space objective ``sum w * (f(z) - y)^2 + alpha ||W||^2`` and its gradient norm.

    The gradient is taken with respect to the free parameters: ``W``, and ``b`` only when
    an intercept is fitted.
    """
    xp = get_namespace(X, Y, W, b, w)
    # Weights fitted to tiny or huge data can be huge themselves: their squares may overflow
    # to infinity, which is then the value reported (without NumPy's RuntimeWarnings).
    with np.errstate(over="ignore", invalid="ignore"):
        z = X @ W + b
        r = act.forward(z) - Y
        wr = r if w is None else r * w[:, None]
        loss = float(xp.sum(wr * r, dtype=xp.float64))
        if alpha:  # 0 * inf would be NaN
            loss += alpha * float(xp.sum(W * W, dtype=xp.float64))
        g = wr * act.derivative(z)
        grad_W = 2 * (X.T @ g + alpha * W)
        sq = float(xp.sum(grad_W**2, dtype=xp.float64))
        if fit_intercept:
            sq += float(xp.sum((2 * xp.sum(g, axis=0)) ** 2, dtype=xp.float64))
    return loss, math.sqrt(sq)


def _gauss_newton(act, X, Y, W, b, w, alpha, fit_intercept, solver, max_steps, tol):
    """Levenberg-Marquardt damped Gauss-Newton, one output column at a time.

    For an elementwise activation the output-space objective separates by column. Each step
    minimises the linearised objective plus ``lam * ||W_new - W||^2``: a weighted ridge
    problem with weights ``w * f'(z)^2`` and targets ``z - r / f'(z)``, whose normal
    equations are ``(C + (alpha + lam) I) W_new = C_b + lam W`` (C centred when an intercept
    is fitted). ``lam`` shrinks after a successful step and grows after a failed one.
    """
    xp = get_namespace(X, Y, W, b, w)
    base = xp.ones(X.shape[0], dtype=X.dtype, device=device(X)) if w is None else w
    tiny = xp.finfo(X.dtype).smallest_normal
    steps = 0
    used = "cholesky"
    W_cols, b_cols = [], []  # the refined columns, concatenated at the end (inputs untouched)
    for j in range(W.shape[1]):
        y = Y[:, j : j + 1]
        wj, bj = W[:, j : j + 1], b[j : j + 1]
        loss, grad0 = _objective(act, X, y, wj, bj, w, alpha, fit_intercept)
        lam = None
        for _ in range(max_steps):
            z = X @ wj + bj
            d = act.derivative(z)
            r = act.forward(z) - y
            safe = xp.abs(d) > tiny
            target = z - xp.where(safe, r / xp.where(safe, d, 1), 0)  # 0 where f' vanishes
            gn_weights = base * (d[:, 0] ** 2)
            if not bool(xp.any(gn_weights != 0)):
                break  # f' = 0 on every sample (dead ReLU column): the gradient is zero
            stats = GramStats.from_data(X, target, gn_weights)
            scale = float(xp.mean(xp.linalg.diagonal(stats.AtA))) + 1e-12
            if lam is None:
                lam = 1e-3 * scale
            rhs_base = stats.centered_AtB(fit_intercept)
            while lam <= 1e12 * scale:  # beyond that the step is zero to working precision
                factor = factorize(
                    stats, alpha + lam, fit_intercept=fit_intercept, solver=solver,
                    owner="fit_layer", accepts=Accepts(),
                )
                used = factor.solver
                w_new = xp.astype(factor.solve(rhs_base + lam * wj), X.dtype, copy=False)
                b_new = stats.intercept(w_new, fit_intercept)
                new_loss, grad = _objective(act, X, y, w_new, b_new, w, alpha, fit_intercept)
                if new_loss <= loss:
                    break
                lam *= 10.0
            else:
                break  # no decrease at any damping: a (numerical) minimum
            improved = loss - new_loss
            wj, bj, loss = w_new, b_new, new_loss
            lam = max(lam / 3.0, 1e-12)
            steps += 1
            if grad <= tol * grad0 or improved <= 1e-15 * max(loss, 1e-300):
                break
        W_cols.append(wj)
        b_cols.append(bj)
    return xp.concat(W_cols, axis=1), xp.concat(b_cols), steps, used


def _check_finite_weights(W: np.ndarray, b: np.ndarray, solver: str, owner: str) -> None:
    """A fitted layer never holds NaN or infinity (scikit-learn's MLP checks the same).

    The data-based solves check their own result, but the Gram-statistics paths (the
    one-sided inverse, the refinement) do not.
    """
    xp = get_namespace(W, b)
    if bool(xp.all(xp.isfinite(W))) and bool(xp.all(xp.isfinite(b))):
        return
    dtype = numpy_dtype(W.dtype)
    hint = " or use float64" if dtype == np.float32 else ""
    raise LSQNetError(
        f"{owner}: the fitted weights are not finite (solver {solver!r}, {W.shape[0]} inputs, "
        f"{W.shape[1]} outputs): the least-squares problem exceeds the range of {dtype}. "
        f"Rescale X and Y (e.g. sklearn StandardScaler), increase alpha{hint}."
    )


def fit_layer(
    X: Any,
    Y: Any,
    *,
    activation: str = "identity",
    method: str = "inverse",
    refine: int = 0,
    alpha: float = 0.0,
    solver: str = "auto",
    target_eps: float = 1e-2,
    sample_weight: Any = None,
    fit_intercept: bool = True,
    inverse_iter: int = 20,
    tol: float = 1e-10,
    return_info: bool = False,
) -> Dense | LayerFit:
    r"""Train one layer :math:`Y \approx f(X W + b)` in closed form.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_in)
        Inputs. Not modified. A SciPy sparse matrix or array is used through its products
        only (never made dense); its solvers are then ``"auto"`` and ``"cholesky"``, which
        form the sums :math:`X^T X` and :math:`X^T Y`.
    Y : array-like of shape (n_samples,) or (n_samples, n_out)
        Targets in the activation's output space. Values outside the activation's open output
        range are clipped into it by ``target_eps`` (and counted); values outside its closure
        (for example 1.5 for a sigmoid) also raise a
        :class:`~lsqnet.exceptions.TargetClippingWarning`.
    activation : str, default="identity"
        Name from :data:`lsqnet.activations.ACTIVATIONS`.
    method : {"inverse", "weighted"}, default="inverse"
        ``"inverse"``: least squares on :math:`f^{-1}(Y)`. ``"weighted"``: the same, each
        sample and output weighted by :math:`f'(f^{-1}(Y))^2` (one factorisation per output
        column, since the weights differ by column). Needs an invertible activation.
    refine : int, default=0
        Maximum number of damped Gauss-Newton steps on the output-space squared error after
        the closed-form start. Not available for ``"softmax"`` (its outputs are coupled).
    alpha : float, default=0.0
        Ridge penalty on ``W`` (never on the bias), in [0, inf).
    solver : {"auto", "cholesky", "qr", "svd"}, default="auto"
        Least-squares solver; see :mod:`lsqnet.solvers`.
    target_eps : float, default=0.01
        Margin by which targets are kept inside the activation's open range, in (0, 0.5).
    sample_weight : array-like of shape (n_samples,), default=None
    fit_intercept : bool, default=True
    inverse_iter : int, default=20
        Majorise-minimise iterations for a non-invertible activation (``"relu"``).
    tol : float, default=1e-10
        Gauss-Newton stops when the gradient norm falls below ``tol`` times its start.
    return_info : bool, default=False
        Return a :class:`LayerFit` (layer, solver, clipping count, loss, gradient norm).

    Returns
    -------
    Dense or LayerFit
        The weight and bias are arrays of the inputs' library, on their device, float32 if
        ``X`` and ``Y`` are float32 and float64 otherwise.

    Raises
    ------
    LSQNetError
        If the fitted weights are not finite (the problem overflowed the dtype); a fitted
        layer never holds NaN or infinity.
    ValueError
        If ``X``, ``Y`` and ``sample_weight`` mix libraries or devices (see Notes).

    Notes
    -----
    PyTorch tensors (and arrays of other array API libraries), on the CPU or a GPU, are fitted
    in their own namespace and on their device: tensors in, tensors out, nothing copied to
    the host. ``X``, ``Y`` and ``sample_weight`` must then all be tensors of one library on one
    device; a tensor mixed with a NumPy array, a list or a tensor on another device raises a
    ``ValueError`` naming both arguments and what they are, as PyTorch's own operations do.
    Nothing is converted or moved behind the caller's back: convert explicitly, e.g.
    ``torch.as_tensor(Y, device=X.device)``. Without any tensor, array-likes are NumPy arrays
    as before. The dtype rule is the same for both: tensors of other dtypes (integers,
    float16) are computed in float64, and one float64 argument makes the fit float64.

    References
    ----------
    O. Fontenla-Romero, B. Guijarro-Berdiñas, B. Pérez-Sánchez, A. Alonso-Betanzos, "A new
    convex objective function for the supervised learning of single-layer neural networks",
    Pattern Recognition 43(5), 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet import fit_layer
    >>> layer = fit_layer([[1.0], [1.0]], [1.0, 2.0], fit_intercept=False)
    >>> layer.weight
    array([[1.5]])
    """
    owner = "fit_layer"
    act = _activations.get(activation)
    method = check_option(method, "method", owner, METHODS)
    solver = check_option(solver, "solver", owner, SOLVERS)
    refine = check_scalar(refine, "refine", owner, kind=int, low=0)
    alpha = check_scalar(alpha, "alpha", owner, low=0.0)
    target_eps = check_scalar(
        target_eps, "target_eps", owner, low=0.0, high=0.5, low_inclusive=False,
        high_inclusive=False,
    )
    inverse_iter = check_scalar(inverse_iter, "inverse_iter", owner, kind=int, low=1)
    tol = check_scalar(tol, "tol", owner, low=0.0)
    if not isinstance(fit_intercept, bool | np.bool_):
        raise TypeError(
            f"The 'fit_intercept' parameter of {owner} must be a bool. "
            f"Got {fit_intercept!r} instead."
        )
    check_same_library(owner, X=X, Y=Y, sample_weight=sample_weight)
    dtype = float_dtype(X, Y)
    X = check_array(X, "X", dtype=dtype, accept_sparse=True)
    Y = check_array(Y, "Y", ndim=(1, 2), dtype=dtype)
    Y2 = Y[:, None] if Y.ndim == 1 else Y
    check_consistent_length(X=X, Y=Y2)
    w = check_sample_weight(sample_weight, X.shape[0], Y2.shape[1], dtype)
    if w is not None and w.ndim != 1:
        raise ValueError(
            f"Input sample_weight of {owner} must be 1-D; got shape {tuple(w.shape)}."
        )
    if act.rowwise and Y2.shape[1] < 2:
        raise ValueError("The 'softmax' activation needs at least 2 output columns; Y has 1.")
    if method == "weighted" and not act.invertible:
        raise ValueError(
            f"method='weighted' needs an invertible activation, and {act.name!r} is not; use "
            f"method='inverse' (which solves the one-sided {act.name} problem) or refine > 0."
        )
    if refine and act.rowwise:
        raise ValueError(
            f"refine > 0 is not available for the {act.name!r} activation, whose outputs are "
            f"coupled; use 'sigmoid' outputs or refine=0."
        )

    xp = get_namespace(X, Y2, w)
    lo, hi = act.output_range
    outside = int(xp.count_nonzero((Y2 < lo) | (Y2 > hi)))
    if outside:
        warnings.warn(
            f"{owner}: {outside} target value(s) lie outside the {act.name!r} output range "
            f"({lo:g}, {hi:g}) and were clipped into it (target_eps={target_eps:g}). Rescale "
            f"the targets or choose another activation to avoid this.",
            TargetClippingWarning,
            stacklevel=2,
        )
    Yc, n_clipped = act.clip(Y2, target_eps)

    def solve(Z, weights):
        return solve_least_squares(
            X, Z, sample_weight=weights, alpha=alpha, solver=solver,
            fit_intercept=fit_intercept, owner=owner,
        )

    Z = act.inverse(Yc)
    if method == "weighted":
        slope2 = act.derivative(Z) ** 2
        weights = slope2 if w is None else slope2 * w[:, None]
        if bool(xp.all(weights == weights[:, :1])):  # same weights for every column: one solve
            weights = weights[:, 0]
        result = solve(Z, weights)
    elif act.invertible:
        result = solve(Z, w)
    else:
        # One-sided (ReLU) problem: same Gram matrix every iteration; only the targets change.
        stats = GramStats.from_data(X, Z, w)
        factor = factorize(
            stats, alpha, fit_intercept=fit_intercept, solver=gram_solver(solver), owner=owner,
            accepts=Accepts(),
        )
        result = stats.solve_with(factor, fit_intercept=fit_intercept)
        _check_finite_weights(result.coef, result.intercept, result.solver, owner)
        for _ in range(inverse_iter - 1):
            Z = act.inverse(Yc, reference=X @ result.coef + result.intercept)
            result = stats.with_targets(X, Z, w).solve_with(factor, fit_intercept=fit_intercept)
    W, b, used = result.coef, result.intercept, result.solver
    _check_finite_weights(W, b, used, owner)  # before the objective, which would warn on them

    loss0, grad0 = _objective(act, X, Y2, W, b, w, alpha, fit_intercept)
    n_steps = 0
    if refine:
        W, b, n_steps, used = _gauss_newton(
            act, X, Y2, W, b, w, alpha, fit_intercept, gram_solver(solver), refine, tol
        )
    loss, grad = _objective(act, X, Y2, W, b, w, alpha, fit_intercept) if refine else (loss0, grad0)
    _check_finite_weights(W, b, used, owner)
    layer = Dense(W, b, act.name)
    if not return_info:
        return layer
    total_w = X.shape[0] if w is None else float(xp.sum(w))
    mse = (loss - alpha * float(xp.sum(W * W))) / (total_w * Y2.shape[1])
    rel = grad / grad0 if refine and grad0 > 0 else (0.0 if refine else float("nan"))
    return LayerFit(layer, used, int(n_clipped), mse, grad, rel, n_steps)


def collapse_linear(layers: Sequence[Dense]) -> Dense:
    """The single layer equivalent to a stack of identity-activation layers (seed 003).

    ``x W1 + b1`` followed by ``h W2 + b2`` is ``x (W1 W2) + (b1 W2 + b2)``; a deep linear
    network therefore represents nothing a single affine layer cannot.

    Raises
    ------
    ValueError
        If ``layers`` is empty, a layer is not linear, or consecutive sizes do not match.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("collapse_linear needs at least one layer; got none.")
    check_same_library(
        "collapse_linear", **{f"layers[{i}].weight": layer.weight for i, layer in enumerate(layers)}
    )
    W, b = layers[0].weight, layers[0].bias
    for i, layer in enumerate(layers):
        if layer.activation != "identity":
            raise ValueError(
                f"collapse_linear needs identity activations; layer {i} uses {layer.activation!r}."
            )
        if i == 0:
            continue
        if layer.n_in != W.shape[1]:
            raise ValueError(
                f"Layer {i} takes {layer.n_in} inputs, but layer {i - 1} gives {W.shape[1]}."
            )
        W, b = W @ layer.weight, b @ layer.weight + layer.bias
    return Dense(W, b, "identity")
