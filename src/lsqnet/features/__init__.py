"""Feature maps: how the first layer's units are chosen before training.

Each map is a small frozen record registered by name in :data:`FEATURE_MAPS`, owning its
parameters and its operation count (the :class:`FeatureMap` interface). A new map is one new
module here and one entry in the registry. The estimators' ``init`` parameter names a map;
:func:`make_feature_map` builds it from the estimators' parameters.

========== ======================================================= ==========================
name       units                                                   data
========== ======================================================= ==========================
uniform    weights and biases uniform in [-1, 1] (every layer)      none
fan_in     uniform in ±sqrt(3 / n_in), biases zero                 none
samples    centred training samples of unit norm                   inputs
patches    training samples seen through random square windows     inputs; ``image_shape``
contrasts  windowed ridge fits of random contrasts of two classes  inputs and targets;
                                                                   ``image_shape``
========== ======================================================= ==========================

``init="auto"`` is ``"patches"`` when an image shape is given and ``"samples"`` otherwise: the
presets use it, so that they work on images and on tables alike. Image maps never guess an
image from a square number of features.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from ._base import FeatureMap, check_image_shape, check_patch_size
from .contrasts import Contrasts
from .patches import Patches
from .samples import Samples
from .uniform import FanIn, Uniform
from .windows import PATCH_SIZE

__all__ = [
    "FEATURE_MAPS",
    "IMAGE_MAPS",
    "INITS",
    "Contrasts",
    "FanIn",
    "FeatureMap",
    "Patches",
    "Samples",
    "Uniform",
    "check_image_shape",
    "check_patch_size",
    "make_feature_map",
]

#: The feature maps by name: a read-only mapping of classes implementing :class:`FeatureMap`.
FEATURE_MAPS: Mapping[str, type] = MappingProxyType(
    {cls.name: cls for cls in (Uniform, FanIn, Samples, Patches, Contrasts)}
)

#: The names the estimators' ``init`` accepts: the maps, and ``"auto"``.
INITS: tuple[str, ...] = ("auto", *FEATURE_MAPS)

#: The maps of images, which take ``image_shape`` and ``patch_size``.
IMAGE_MAPS = frozenset(
    name for name, cls in FEATURE_MAPS.items()
    if "image_shape" in {f.name for f in dataclasses.fields(cls)}
)


def make_feature_map(
    init: str | FeatureMap,
    *,
    image_shape: tuple[int, int] | None = None,
    patch_size: tuple[float, float] = PATCH_SIZE,
    owner: str = "init_network",
) -> FeatureMap:
    """The feature map ``init`` names, built from the estimators' parameters.

    ``init`` is a name of :data:`INITS` or a map already built (returned as it is).
    ``image_shape`` and ``patch_size`` configure the image maps; ``"auto"`` is ``"patches"``
    with an ``image_shape`` and ``"samples"`` without.

    Raises
    ------
    ValueError
        If ``init`` is unknown, or an image map is asked for without ``image_shape``.
    """
    if isinstance(init, FeatureMap) and not isinstance(init, str):
        return init
    if init not in INITS:
        valid = ", ".join(repr(name) for name in INITS)
        raise ValueError(
            f"The 'init' parameter of {owner} must be one of {valid}. Got {init!r} instead."
        )
    if init == "auto":
        init = "samples" if image_shape is None else "patches"
    cls = FEATURE_MAPS[init]
    if init not in IMAGE_MAPS:
        return cls()
    if image_shape is None:
        raise ValueError(
            f"init={init!r} needs the shape of the images: pass image_shape=(rows, cols) to "
            f"{owner}, e.g. image_shape=(28, 28) for 784 pixels; for data that are not images "
            f"use init='samples' (or init='auto')."
        )
    return cls(image_shape=image_shape, patch_size=patch_size)
