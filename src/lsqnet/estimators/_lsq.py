"""The estimators with lsqnet's recommended defaults: :class:`LSQRegressor`, :class:`LSQClassifier`.

They are :class:`~lsqnet.BPLSRegressor` and :class:`~lsqnet.BPLSClassifier` with other
default values only: the training method chosen by the cost of a step (``method="auto"``),
the ridge penalty chosen by leave-one-out cross-validation and, for a regressor trained by
Levenberg–Marquardt, re-estimated by the evidence approximation as it trains
(``alpha="auto"``), a hidden layer of 32 units where Levenberg–Marquardt steps are cheap
(tables of thousands of rows; fewer for a classifier with fewer than two rows per parameter) and
of 256 where they are not (``hidden_layer_sizes="auto"``), tanh units for
Levenberg–Marquardt and ReLU units for Kronecker-factored steps (``activation="auto"``),
inputs standardised inside the fit (``scale_inputs=True``), a stop once the steps gain
little (``tol=1e-3``), and data in memory read in blocks when its activations would outgrow
it (``batch_size="auto"``).
The BPLS estimators keep the paper's method and their defaults.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ._classifier import BPLSClassifier
from ._presets import PRESETS
from ._regressor import BPLSRegressor

__all__ = ["RECOMMENDED", "LSQClassifier", "LSQRegressor"]

#: The defaults that differ from the BPLS estimators': the ``"tabular"`` preset.
RECOMMENDED = dict(PRESETS["tabular"])


def _with_defaults(init: Callable[..., None], defaults: dict[str, Any]) -> Callable[..., None]:
    """``init`` with other default values for some keyword parameters, in its signature too
    (scikit-learn's ``get_params``, ``clone`` and ``repr`` read the signature)."""
    signature = inspect.signature(init)
    parameters = [
        p.replace(default=defaults[p.name]) if p.name in defaults else p
        for p in signature.parameters.values()
    ]

    @functools.wraps(init)
    def __init__(self, **params: Any) -> None:
        init(self, **{**defaults, **params})

    __init__.__signature__ = signature.replace(parameters=parameters)
    return __init__


class _PresetsOfBPLS:
    """``from_preset`` gives the preset's BPLS estimator: what a preset leaves unset of the
    recommended defaults takes the BPLS estimators' value (BPLS sweeps, a fixed penalty)."""

    _bpls: type  # the BPLS estimator the class takes its parameters from

    @classmethod
    def _preset_params(cls, name: str) -> dict[str, Any]:
        defaults = inspect.signature(cls._bpls.__init__).parameters
        return {**{k: defaults[k].default for k in RECOMMENDED}, **super()._preset_params(name)}


class LSQRegressor(_PresetsOfBPLS, BPLSRegressor):
    """A fully-connected network regressor trained by least squares, with lsqnet's
    recommended defaults.

    The parameters and attributes are :class:`~lsqnet.BPLSRegressor`'s, with these defaults:
    ``method="auto"`` (Levenberg–Marquardt steps on all layers while a step is cheap,
    Kronecker-factored steps otherwise), ``alpha="auto"`` (the penalty by leave-one-out
    cross-validation, re-estimated after every Levenberg–Marquardt step by the evidence
    approximation), ``hidden_layer_sizes="auto"`` (32 units trained by Levenberg–Marquardt,
    or 256 where a step of it would cost too much), ``activation="auto"`` (tanh units for
    Levenberg–Marquardt, ReLU units for Kronecker-factored steps), ``batch_size="auto"``,
    ``scale_inputs=True`` (the hidden
    layers see standardised inputs; the fitted network reads X as given) and ``tol=1e-3`` (a
    Levenberg–Marquardt fit stops once its last steps gain less than a thousandth of the
    starting objective per step; on the benchmark's validation splits later steps changed
    the score by less than the noise between seeds).

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from lsqnet import LSQRegressor
    >>> X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
    >>> reg = LSQRegressor(random_state=0).fit(X[:750], y[:750])
    >>> reg.method_
    'lm'
    >>> bool(reg.score(X[750:], y[750:]) > 0.9)
    True
    """

    _bpls = BPLSRegressor
    __init__ = _with_defaults(BPLSRegressor.__init__, RECOMMENDED)


class LSQClassifier(_PresetsOfBPLS, BPLSClassifier):
    """A fully-connected network classifier trained by least squares, with lsqnet's
    recommended defaults.

    The parameters and attributes are :class:`~lsqnet.BPLSClassifier`'s, with the defaults
    of :class:`LSQRegressor`: ``method="auto"``, ``alpha="auto"`` (chosen once: the evidence
    approximation is a regressor's), ``hidden_layer_sizes="auto"`` (trained by
    Levenberg–Marquardt, at most one parameter per two training rows, at least 4 units and
    at most 32), ``activation="auto"``, ``batch_size="auto"``, ``scale_inputs=True``,
    ``tol=1e-3``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from lsqnet import LSQClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LSQClassifier(random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    _bpls = BPLSClassifier
    __init__ = _with_defaults(BPLSClassifier.__init__, RECOMMENDED)
