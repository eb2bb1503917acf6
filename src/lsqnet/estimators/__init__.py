"""scikit-learn estimators: :class:`BPLSRegressor` and :class:`BPLSClassifier`, and the same
with lsqnet's recommended defaults, :class:`LSQRegressor` and :class:`LSQClassifier`.

Thin wrappers: ``__init__`` stores arguments, ``fit`` validates them and the data, trains by
:func:`lsqnet.bpls.fit_bpls` (data in memory) or :func:`lsqnet.streaming.fit_bpls_chunked`
(``batch_size``, ``fit_chunks``, dask arrays), checks the fitted weights are finite, and sets
attributes named as in scikit-learn's ``MLPRegressor``/``MLPClassifier`` (``coefs_``,
``intercepts_``, ``n_layers_``, ``n_iter_``, ``classes_``) plus ``history_``, ``flops_`` and
``solver_``. ``partial_fit`` (single-layer models) adds Gram statistics chunk by chunk; a
failed fit of any kind leaves the estimator as it was.

The code is split by concern: parameters, validation, the in-memory fit and prediction
(``_base``); fits from blocks, Dask arrays, chunks and ``partial_fit`` (``_chunked``); fits
and scores on tensors (``_tensors``); the presets (``_presets``); each estimator's targets
and scores (``_regressor``, ``_classifier``); the recommended defaults (``_lsq``); the model
files (``_persist``, ``_load``).
"""

from ._classifier import BPLSClassifier
from ._load import load, skops_trusted_types
from ._lsq import LSQClassifier, LSQRegressor
from ._presets import PRESETS
from ._regressor import BPLSRegressor

__all__ = [
    "PRESETS",
    "BPLSClassifier",
    "BPLSRegressor",
    "LSQClassifier",
    "LSQRegressor",
    "load",
    "skops_trusted_types",
]
