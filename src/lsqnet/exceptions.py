"""Exceptions and warnings raised by lsqnet.

Every warning here says how to silence it; lsqnet never installs warning filters of its own.
"""

from __future__ import annotations

__all__ = [
    "IllConditionedWarning",
    "LSQNetError",
    "SolverFallbackWarning",
    "TargetClippingWarning",
]


class LSQNetError(Exception):
    """Base class of the errors that lsqnet raises for reasons other than bad arguments."""


class SolverFallbackWarning(UserWarning):
    """A solver could not be trusted on this problem and a safer one was used instead.

    The solver actually used is recorded (``solver_`` on estimators, ``.solver`` on results).
    Silence it by passing ``solver="svd"`` (always safe), a positive ``alpha``, or with
    ``warnings.filterwarnings("ignore", category=lsqnet.exceptions.SolverFallbackWarning)``.
    """


class IllConditionedWarning(UserWarning):
    """A solve succeeded, but the problem is so ill-conditioned that digits were lost."""


class TargetClippingWarning(UserWarning):
    """Targets outside an activation's open output range were clipped into it."""
