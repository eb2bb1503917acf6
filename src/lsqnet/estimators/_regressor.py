"""The regressor."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_array,
)

from .. import _validation
from .. import activations as _activations
from .._array_api import get_namespace, is_array_api, numpy_dtype
from ..exceptions import TargetClippingWarning
from ._base import BaseBPLS
from ._chunked import single_layer
from ._common import Targets, invalid, user_stacklevel
from ._tensors import (
    on_device_of,
    tensor_r2_score,
)

__all__ = ["BPLSRegressor"]


class BPLSRegressor(RegressorMixin, BaseBPLS):
    """A fully-connected network regressor trained in closed form by BPLS.

    Every layer is solved by least squares, from the output layer back to the input
    (Tomic, Matos-Carvalho, Beko, arXiv 2401.06699); see :mod:`lsqnet.bpls`.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int or "auto", default=(100,)
        Width of each hidden layer; ``()`` gives a single layer (:func:`lsqnet.fit_layer`).
        ``"auto"``: one hidden layer of 32 units where Levenberg–Marquardt trains it
        (``method`` ``"auto"`` within its size limits, or ``"lm"``), of 256 otherwise
        (``lsqnet.estimators._base.AUTO_WIDTHS``); a classifier trained by
        Levenberg–Marquardt takes at most one parameter per two training rows (at least 4
        units). ``coefs_`` shows the width used.
    activation : str, default="tanh"
        Hidden activation, any name in :data:`lsqnet.activations.ACTIVATIONS` but softmax;
        ``"logistic"`` (scikit-learn's name) is the sigmoid. ``"auto"``: the one that suits
        the training method (``method_``), ReLU for ``"kfac"`` and tanh for ``"lm"`` and
        ``"bpls"``.
    output_activation : str, default="identity"
        Any invertible activation; targets outside its range are clipped with a warning.
    alpha : float, "auto" or array-like of float, default=1.0
        Ridge penalty ``alpha / 2 * |W|^2`` on every layer's weights (not on intercepts), in
        the training objective and in every least-squares solve. ``"auto"``, or a list of
        positive candidates: the candidate with the least leave-one-out error of the output
        layer's least-squares problem on the initial hidden units (the network itself
        without hidden layers), computed exactly as scikit-learn's ``RidgeCV`` does, every
        candidate from one eigendecomposition and a second pass over the data; it is then
        the penalty of every layer and every step. For ``"lm"`` and ``"kfac"``, which train
        the hidden units, no candidate beating the largest by more than 1 % (the initial
        units predict nothing the mean does not) gives the middle candidate instead.
        ``"auto"``'s candidates are 21 values
        from ``1e-8`` to ``1e2`` times the mean eigenvalue of that problem's centred Gram
        matrix. ``partial_fit`` chooses by generalised cross-validation of the chunks so far.
        With ``method="lm"``, ``"auto"`` starts from that choice and re-estimates the penalty
        after every step by MacKay's evidence approximation (Bayesian regularisation;
        :mod:`lsqnet.training.levenberg_marquardt`), ``history_`` recording each step's.
    solver : {"auto", "cholesky", "qr", "svd"}, default="auto"
    method : {"bpls", "lm", "kfac", "auto"}, default="bpls"
        How the layers are trained (the guide's "Training methods" says which to use when).
        ``"bpls"``: backward sweeps of layer-by-layer least squares (arXiv 2401.06699;
        :mod:`lsqnet.bpls`), guarded by ``safeguard``. ``"lm"``: Levenberg–Marquardt steps
        on every layer at once, each a damped least-squares solve of the Gauss–Newton system
        of all parameters, accepted only if it lowers the objective (the squared error, or
        for a classifier the cross-entropy, plus ``alpha / 2`` times the squared weights),
        after the output layer is solved on the initial hidden layers; for networks of up to
        a few thousand parameters, data in memory, ``batch_size``, ``fit_chunks`` or Dask
        (tensors are fitted on a host copy, the weights returned on their device;
        :mod:`lsqnet.training.levenberg_marquardt`). ``"kfac"``: Kronecker-factored
        least-squares steps on mini-batches for wide networks with hidden layers, the output
        layer fitted to the cross-entropy after every step; data in memory, ``batch_size``,
        ``fit_chunks`` or Dask (the model of the fit in memory, up to rounding)
        (:mod:`lsqnet.training.kfac`). ``"auto"``: ``"lm"`` while a step is
        cheap (at most 2000 parameters ``p`` and ``2 n k p^2`` at most ``1e10`` operations for
        ``n`` rows and ``k`` outputs), else ``"kfac"`` for networks with hidden layers, else
        ``"bpls"`` (a single layer, solved exactly).
        The method used is ``method_``.
    method_options : dict or None, default=None
        Settings of the training method beyond the estimator's parameters, by name: the
        fields of :class:`lsqnet.training.kfac.KFACOptions` for ``"kfac"`` (such as
        ``batch_size``, ``batches_per_step``, ``step_size``, ``damping``, ``gram_rows``,
        ``eval_rows``, ``output_iter``) and of
        :class:`lsqnet.training.levenberg_marquardt.LMOptions` for ``"lm"``
        (``evidence``); with ``"auto"``, those of the method it chooses. ``alpha``,
        ``max_iter``, ``tol`` and ``random_state`` are set on the estimator, not here;
        ``"bpls"`` takes none. For example ``method="kfac", max_iter=1,
        method_options={"batches_per_step": 40}`` trains on a third of MNIST's rows once.
    max_iter : int or None, default=None
        Maximum number of backward sweeps (``"bpls"``; None: 10), Levenberg–Marquardt steps
        (``"lm"``; None: 200) or passes of Kronecker-factored steps (``"kfac"``; None: 2);
        for ``"bpls"``, 0 (with ``refit_output=True``) solves only the output layer, on the
        initial hidden layers (an extreme learning machine).
    tol : float, default=1e-4
        Relative improvement of the training loss below which sweeps stop. For
        ``method="lm"``: the steps stop when the last three lowered the objective by less
        than ``tol`` times its value before the first step, on average per step.
    init : {"fan_in", "uniform", "samples", "patches", "contrasts", "auto"}, default="fan_in"
        The first layer's feature map (:mod:`lsqnet.features`). ``"uniform"`` is the
        paper's U[-1, 1]; ``"fan_in"`` scales it by sqrt(3 / n_in); ``"samples"`` makes each
        first-layer unit a centred, unit-norm training sample; ``"patches"`` (images: needs
        ``image_shape``) a local receptive field: a centred training sample kept inside a
        random window, with a random threshold; ``"contrasts"`` (images, data in memory) a
        random window whose weights are fitted by ridge least squares to the difference of
        two random target columns (two classes), thresholded likewise; ``"auto"`` is
        ``"patches"`` when ``image_shape`` is given and ``"samples"`` otherwise.
    init_scale : float, default=1.0
        Multiplies every initial weight (how far into the activation's non-linear range the
        initial pre-activations reach).
    scale_inputs : bool, default=False
        Standardise the inputs of a network with hidden layers: it is trained on
        ``(X - mean) / std`` of the training rows (weighted by ``sample_weight``, computed in
        one or two passes over chunked data), as ``make_pipeline(StandardScaler(), est)``
        would train it, and the map is then folded into the first layer, so that the fitted
        network (``coefs_``, ``predict``, ``to_torch``, saved files) reads X as given. A
        sparse X is scaled, not centred (``StandardScaler(with_mean=False)``); a constant
        column keeps the scale 1. A network without hidden layers is fitted on X as given.
        Monitors see the network of X as given.
    image_shape : (int, int), default=None
        Rows and columns of the images whose pixels are the features (row by row), for the
        image maps ``"patches"`` and ``"contrasts"`` (and ``"auto"``); ``rows * cols`` must
        be the number of features. None: the features are not an image.
    patch_size : (float, float), default=(0.25, 0.5)
        The smallest and largest side of the windows of the image maps, as fractions of the
        image's shorter side, in (0, 1] (7 to 14 pixels for 28 x 28 images; (0.15, 0.36), 4
        to 10 pixels, suited Fashion-MNIST better and MNIST worse); unused by other inits.
    target_eps : float, default=0.01
        Margin keeping desired outputs inside each activation's open range.
    hidden_target : {"closest", "min_norm"}, default="closest"
    layer_method : {"inverse", "weighted"}, default="inverse"
    iteration_rule : {"all", "misclassified"}, default="all"
        Unused by the regressor (every sweep uses all samples).
    backprop_ridge : float, default=1e-3
    refit_output : bool, default=False
        After the sweeps, solve the output layer once more on the final hidden layers.
    safeguard : bool, default=True
        BPLS sweeps (and the output refit) are proposals: one is kept only if it lowers the
        training objective (half the squared error, or a classifier's cross-entropy, plus
        ``alpha / 2`` times the squared weights, per sample), else the largest of a few
        halved steps toward it that does, else the sweeps stop with the network unchanged
        (:class:`lsqnet.bpls.BPLSOptions`). ``False`` keeps every sweep, as the BPLS paper
        does, and returns the sweep with the best training accuracy (then loss).
    warm_start : bool, default=False
        Start ``fit`` from the network of the previous fit (same sizes, dtype, activations
        and, for a classifier, classes) instead of drawing a new one, as scikit-learn's MLP
        does; the training method then continues from there.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for a classifier),
        score it after every step (accuracy, or R^2), stop after ``n_iter_no_change`` steps
        that do not improve the best score by at least ``tol``, and keep the network with the
        best validation score, as scikit-learn's MLP does. Data in memory (NumPy) only.
    validation_fraction : float, default=0.1
        The share held out by ``early_stopping``, in (0, 1).
    n_iter_no_change : int, default=10
        Steps without improvement before ``early_stopping`` stops the fit.
    output_iter : int, default=0
        Then at most that many least-squares steps fitting the output layer to the
        cross-entropy instead of the squared error (output_activation "sigmoid" or
        "softmax"): each refits it to working targets, its pre-activations moved against the
        residual, with the one factorisation of its input's Gram matrix
        (:func:`lsqnet.bpls.refine_output`). Each adds a ``history_`` entry; the last
        step's network is returned.
    batch_size : int, "auto" or None, default=None
        None fits in memory. ``"auto"`` fits a NumPy ``X`` in memory as None does, unless
        every layer's activations for all rows would take more memory than ``X`` itself (and
        more than 32 MiB): it is then read in blocks of rows whose activations take about
        16 MiB, as with an int (a fit that needs all rows at once stays in memory:
        ``layer_method="weighted"``, solvers ``"qr"``/``"svd"``, ``init="contrasts"``; so
        does K-FAC, whose streamed passes compute the hidden layers again).
        An int fits from blocks of that many rows (read one at a time
        from ``X``, which may be a NumPy memmap larger than memory): memory does not grow
        with the number of samples, and the result equals the in-memory fit up to rounding
        (:mod:`lsqnet.streaming`, which also says how many passes over ``X`` a fit makes).
        Blocks of 20,000 rows or more keep the Gram accumulation at 0.7 or more of the
        BLAS's matrix-multiply speed, 5000 at about 0.66 (``benchmarks/bench_gram.py``). A
        ``dask.array`` ``X`` is always fitted block by block, on the Dask workers (blocks of
        20,000 rows or more, likewise).
    random_state : int, RandomState instance or None, default=None
    dtype : {None, "float32", "float64"}, default=None
        Computation dtype; None keeps float32 input as float32 and uses float64 otherwise.
    verbose : int or bool, default=0
        Print the loss (and accuracy) of each step; ``True`` is 1.

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape (n_in, n_out) of layer i.
    intercepts_ : list of ndarray
    n_layers_ : int
        Number of layers including input and output (scikit-learn's convention).
    n_iter_ : int
        Sweeps run.
    history_ : list of dict
        Per sweep: iteration, n_samples, loss, accuracy, time, flops.
    loss_ : float
        Training mean squared error of the returned network.
    flops_ : int
        Floating-point operations counted during ``fit``.
    flops_exact_ : bool
        False if an iterative solver (SVD, eigh) ran, whose count depends on the data.
    solver_ : str
        Most robust solver used by any solve.
    method_ : str
        The training method used: ``method``, or what ``"auto"`` chose.
    alpha_ : float
        The penalty trained with: ``alpha``, or the candidate chosen (with ``alpha="auto"``
        and ``method="lm"``, the penalty of the last step).
    alphas_ : ndarray of shape (n_alphas,) or None
        The candidates (None when ``alpha`` is a number).
    cv_errors_ : ndarray of shape (n_alphas,) or None
        Each candidate's mean squared cross-validation error over samples and outputs
        (leave-one-out; generalised cross-validation after ``partial_fit``).
    validation_scores_ : list of float
        With ``early_stopping``, the validation score after each step.
    best_validation_score_ : float
        With ``early_stopping``, the best of them (that of the network kept).
    loss_curve_ : list of float
        The objective after each step that records one (see ``safeguard``), as scikit-learn's
        MLP's ``loss_curve_``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from lsqnet import BPLSRegressor
    >>> X = np.linspace(-1, 1, 200)[:, None]
    >>> reg = BPLSRegressor(hidden_layer_sizes=(20,), random_state=0).fit(X, np.sin(3 * X[:, 0]))
    >>> bool(reg.score(X, np.sin(3 * X[:, 0])) > 0.9)
    True
    """

    _output_activations = tuple(
        name for name, act in _activations.ACTIVATIONS.items() if act.invertible and not act.rowwise
    )
    # the presets' softmax output fitted to the cross-entropy is the classifier's
    _not_from_presets = ("output_activation", "output_iter")

    @available_if(single_layer)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> BPLSRegressor:
        """Add one chunk of data to a single-layer model (``hidden_layer_sizes=()``).

        The model keeps the Gram statistics of every chunk so far and is solved anew after
        each call: after the last chunk it equals ``fit`` on all the chunks together (up to
        rounding; the output activation's inverse is applied to each chunk's targets). Chunks
        must have the same features, targets and dtype. Each call adds one entry to
        ``history_`` (the loss on that chunk). Multi-layer models have no ``partial_fit``:
        use ``batch_size`` with ``fit`` for data larger than memory.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), float or None, default=None
            Non-negative weight of each sample of this chunk (None: all 1), as in ``fit``:
            the statistics kept are weighted sums, so after the last chunk the model equals
            ``fit`` with the chunks' weights together.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, sample_weight=sample_weight)

    def _targets(self, y: np.ndarray, dtype: np.dtype) -> Targets:
        Y = y[:, None] if y.ndim == 1 else y
        act = _activations.get(self.output_activation)
        lo, hi = act.output_range
        outside = int(get_namespace(Y).count_nonzero((Y <= lo) | (Y >= hi)))
        if outside:
            warnings.warn(
                f"{type(self).__name__}: {outside} target value(s) are outside the open range "
                f"({lo:g}, {hi:g}) of output_activation={self.output_activation!r} and are "
                f"clipped into it (target_eps={self.target_eps:g}). Scale y into the range, or "
                f"use output_activation='identity'.",
                TargetClippingWarning,
                stacklevel=user_stacklevel(),
            )
        return Targets(
            Y, None, Y.shape[1], self.output_activation, numpy_dtype(dtype),
            {"_y_1d": y.ndim == 1},
        )

    def _partial_targets(self, y: np.ndarray, dtype: np.dtype, classes: Any, first: bool):
        targets = self._targets(y, dtype)
        if not first and (targets.n_outputs, y.ndim == 1) != (self.n_outputs_, self._y_1d):
            raise ValueError(
                f"{type(self).__name__}.partial_fit: invalid y: it has shape {y.shape}, but "
                f"earlier chunks had {self.n_outputs_} target(s)"
                + (" as a 1-D array." if self._y_1d else " as a 2-D array.")
            )
        return targets

    @staticmethod
    def _check_y(y: Any, dtype: np.dtype) -> np.ndarray:
        # Converted to X's dtype before the finiteness check, so that None in an object y
        # (NaN after conversion) and values beyond float32 are caught as non-finite.
        with np.errstate(over="ignore", invalid="ignore"):
            if is_array_api(y):
                y = _validation.check_array(y, "y", ndim=(1, 2), dtype=dtype)
            else:
                y = check_array(
                    y, ensure_2d=False, dtype=dtype, input_name="y", ensure_min_features=0
                )
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError(
                f"y has 0 targets (shape {y.shape}); at least one target column is required."
            )
        return y

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, shape (n_samples,) or (n_samples, n_targets)."""
        out = self._forward(X)
        return out[:, 0] if self._y_1d else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The coefficient of determination R^2 of ``predict(X)`` for ``y`` (scikit-learn's
        ``r2_score``; uniform average over targets)."""
        y_pred = self.predict(X)
        if is_array_api(y_pred):
            y = self._validate_y(on_device_of(y_pred, y, f"{type(self).__name__}.score"), None)
            return tensor_r2_score(y, y_pred, sample_weight)
        try:
            # Huge targets overflow in the sums of squares: R^2 is then what the infinite
            # sums give, without NumPy's RuntimeWarnings.
            with np.errstate(over="ignore", invalid="ignore"):
                return float(r2_score(y, y_pred, sample_weight=sample_weight))
        except (ValueError, TypeError) as err:
            name = "y" if sample_weight is None else "y or sample_weight"
            raise invalid(err, f"{type(self).__name__}.score", name) from err

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
