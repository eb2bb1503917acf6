"""Named parameter sets of the estimators (:meth:`BPLSClassifier.from_preset`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["PRESETS"]


#: Named parameter sets for :meth:`BPLSClassifier.from_preset` (and the regressor's).
#: ``"paper"`` follows the BPLS paper's description literally (U[-1, 1] initialisation, no
#: ridge, minimum-norm hidden targets, later sweeps on the misclassified samples only).
#: ``"instant"``, ``"fast"`` and ``"accurate"`` are the best configurations found on
#: validation splits of MNIST and Fashion-MNIST (``benchmarks/study_presets.py --family
#: cross-entropy``, benchmarks/FINDINGS.md) for about half a second, about one second and
#: under ten seconds of training on 2 cores: a wide layer of ReLU units with
#: ``init="auto"`` (local receptive fields, ``"patches"``, when ``image_shape`` is given;
#: centred training samples, ``"samples"``, on any other table), only the output layer
#: solved, then fitted to the softmax cross-entropy by ``output_iter`` least-squares steps
#: (BPLS sweeps improved accuracy less per second than width did; windows beat whole-sample
#: units by about a point on images; the cross-entropy steps add one to two).
#: ``accurate``'s ridge of 20 keeps its float32 Gram matrix on Cholesky. Their windows are the
#: default ``patch_size``, 7 to 14 pixels on 28 x 28 images, the best for MNIST; for
#: Fashion-MNIST ``patch_size=(0.15, 0.36)`` and ``init="contrasts"`` were better on
#: validation, and ``lsqnet bench`` chooses the units on its validation split.
#: :class:`BPLSRegressor` takes them without the softmax output and its steps.
#: ``"tabular"`` is :class:`~lsqnet.LSQClassifier` and :class:`~lsqnet.LSQRegressor`'s
#: defaults, chosen on the validation splits of ``lsqnet bench --suite tabular``
#: (``benchmarks/study_defaults.py``, ``benchmarks/study_small_tables.py``): the method and
#: width by the cost of a Levenberg–Marquardt step, the penalty by leave-one-out (and for a
#: regressor the evidence approximation), inputs standardised inside the fit.
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "paper": MappingProxyType(dict(
        init="uniform", alpha=0.0, hidden_target="min_norm", iteration_rule="misclassified",
        backprop_ridge=0.0, max_iter=10, safeguard=False,
    )),
    "instant": MappingProxyType(dict(
        hidden_layer_sizes=(384,), activation="relu", init="auto", max_iter=0,
        refit_output=True, alpha=10.0, output_activation="softmax", output_iter=1,
    )),
    "fast": MappingProxyType(dict(
        hidden_layer_sizes=(768,), activation="relu", init="auto", max_iter=0,
        refit_output=True, alpha=10.0, output_activation="softmax", output_iter=1,
    )),
    "accurate": MappingProxyType(dict(
        hidden_layer_sizes=(3072,), activation="relu", init="auto", max_iter=0,
        refit_output=True, alpha=20.0, output_activation="softmax", output_iter=5,
    )),
    "tabular": MappingProxyType(dict(
        hidden_layer_sizes="auto", alpha="auto", method="auto", activation="auto",
        batch_size="auto", tol=1e-3, scale_inputs=True,
    )),
})
