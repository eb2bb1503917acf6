"""Exceptions and warnings raised by lsqnet.

Every warning here says how to silence it; lsqnet never installs warning filters of its own.
"""

from __future__ import annotations

__all__ = [
    "DatasetCorruptError",
    "DatasetNotFoundError",
    "IllConditionedWarning",
    "LSQNetError",
    "ModelFormatError",
    "SolverFallbackWarning",
    "TargetClippingWarning",
]


class LSQNetError(Exception):
    """Base class of the errors that lsqnet raises for reasons other than bad arguments."""


class DatasetNotFoundError(LSQNetError, FileNotFoundError):
    """A dataset's files are neither on disk nor downloadable; the message says where they go."""


class DatasetCorruptError(LSQNetError, ValueError):
    """A dataset file is corrupt or truncated (wrong md5, magic number or size); names the file."""


class ModelFormatError(LSQNetError, ValueError):
    """A file given to :func:`lsqnet.load` is not a valid lsqnet model file.

    Raised for every kind of bad content: not an ``.npz`` archive, truncated or corrupt,
    malformed or missing metadata, arrays inconsistent with it, or a format version newer
    than this lsqnet reads. The message names the file and what is wrong with it.
    """


class SolverFallbackWarning(UserWarning):
    """A solver could not be trusted on this problem and a safer one was used instead.

    The solver actually used is recorded (``solver_`` on estimators, ``.solver`` on results).
    The message gives the estimated condition number (with its reciprocal, ``rcond``) and the
    limit it exceeded, and points at the first caller outside lsqnet. Silence it by passing
    ``solver="svd"`` (always safe), a positive ``alpha``, or with
    ``warnings.filterwarnings("ignore", category=lsqnet.exceptions.SolverFallbackWarning)``.
    """


class IllConditionedWarning(UserWarning):
    """A solve succeeded, but the problem is so ill-conditioned that digits were lost."""


class TargetClippingWarning(UserWarning):
    """Targets outside an activation's open output range were clipped into it."""
