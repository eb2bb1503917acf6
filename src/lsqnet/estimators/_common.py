"""What the estimators' modules share: the targets of a fit, error wrapping, the user's stack
level, and the guarantee that a failed fit changes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ..bpls import (
    class_targets,
)

__all__ = ["Targets", "check_monitor", "invalid", "unchanged_on_error", "user_stacklevel"]


@contextlib.contextmanager
def unchanged_on_error(estimator: BaseEstimator) -> Iterator[None]:
    """Restore every attribute of ``estimator`` if the enclosed fit raises: a failed fit
    leaves a previously fitted model as it was."""
    state = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise


@dataclass(frozen=True, eq=False)
class Targets:
    """A fit's output-space targets, made for any block of rows: regression targets ``Y``
    (n, k), or class indices ``labels`` one-hot encoded block by block; ``attributes`` are
    the fitted attributes they imply (``classes_``, ``_y_1d``)."""

    Y: np.ndarray | None
    labels: np.ndarray | None
    n_outputs: int
    activation: str
    dtype: np.dtype
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def classification(self) -> bool:
        """Class labels (one-hot encoded per block); multilabel targets are 0/1 columns fitted
        as targets of sigmoid outputs, not as exclusive classes."""
        return "classes_" in self.attributes and not self.attributes.get("_multilabel", False)

    def block(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self.labels is None:
            return self.Y[start:stop], None
        indices = self.labels[start:stop]
        return class_targets(indices, self.n_outputs, self.activation, self.dtype), indices



def check_monitor(monitor: Any, owner: str) -> None:
    if monitor is not None and not callable(monitor):
        raise TypeError(
            f"{owner}: monitor must be a callable monitor(entry, network) or None. "
            f"Got {monitor!r} instead."
        )

def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning that points at the first caller outside lsqnet."""
    import sys

    frame, level = sys._getframe(1), 1
    package = __name__.partition(".")[0]  # lsqnet
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package + "."):
        frame, level = frame.f_back, level + 1
    return level


def invalid(err: Exception, owner: str, name: str) -> Exception:
    """``err`` (a ValueError or TypeError from scikit-learn or NumPy) as the same type, with a
    message that names the argument ``name`` and keeps the original text."""
    cls = ValueError if isinstance(err, ValueError) else TypeError
    return cls(f"{owner}: invalid {name}: {err}")
