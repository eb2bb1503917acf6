"""What every benchmark run shares: configuration, the record, the clock and the memory meter."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import activations as _activations
from .._validation import check_option, check_scalar
from ..datasets import Dataset
from ..features import INITS, check_image_shape

LOSSES = ("cross_entropy", "mse")

__all__ = ["BenchConfig", "Recorder", "Record", "label", "machine", "peak_memory"]


def label(method: str, hidden: tuple[int, ...]) -> str:
    """A method and its hidden sizes, e.g. ``"adam 256"``; ``"ridge"`` has none."""
    return f"{method} {'-'.join(map(str, hidden))}" if hidden else method


@dataclass(frozen=True)
class BenchConfig:
    """Settings shared by every method of one benchmark run.

    ``hidden`` is the hidden-layer sizes of the network every method trains (ELM uses the first
    one, ridge none); ``epochs`` is the gradient methods' budget and ``max_iter`` BPLS's;
    ``loss`` the gradient methods' loss (``"cross_entropy"`` or ``"mse"``, the squared error
    BPLS minimises); ``init`` is ``"default"`` (each method's own: PyTorch's for gradient
    methods, lsqnet's ``"fan_in"`` for BPLS) or an lsqnet scheme (``"fan_in"``, ``"uniform"``)
    used by every method, which then all start from identical weights for a given seed.
    ``image_shape`` is the shape of the images whose pixels are the features (for the image
    feature maps of the presets and ``bpls-patches``), None when they are not images;
    :func:`~lsqnet.bench.benchmark` sets it for the known image data sets.
    ``evals_per_epoch`` is how many curve points a gradient epoch gets (more points show
    what a gradient method reaches within short time budgets).
    """

    hidden: tuple[int, ...] = (256,)
    activation: str = "tanh"
    epochs: int = 10
    batch_size: int = 128
    loss: str = "cross_entropy"
    init: str = "default"
    max_iter: int = 10
    threads: int = 1
    tune_epochs: int | None = None  # None: the full epoch budget
    val_fraction: float = 0.1
    evals_per_epoch: int = 1
    image_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        owner = "BenchConfig"
        if not isinstance(self.hidden, tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in self.hidden
        ):
            raise ValueError(
                f"The 'hidden' parameter of {owner} must be a tuple of positive ints. "
                f"Got {self.hidden!r} instead."
            )
        check_option(self.activation, "activation", owner, _activations.ACTIVATIONS)
        for name in ("epochs", "batch_size", "max_iter", "threads", "evals_per_epoch"):
            check_scalar(getattr(self, name), name, owner, kind=int, low=1)
        check_option(self.loss, "loss", owner, LOSSES)
        check_option(self.init, "init", owner, ("default", *INITS))
        if self.image_shape is not None:
            object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, owner))
        if self.tune_epochs is not None:
            check_scalar(self.tune_epochs, "tune_epochs", owner, kind=int, low=1)
        check_scalar(
            self.val_fraction, "val_fraction", owner, low=0.0, high=1.0,
            low_inclusive=False, high_inclusive=False,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Record:
    """One training run of one method on one dataset with one seed: every number it produced.

    ``curve`` holds a point (``step``, ``time``, ``test_accuracy``, ``train_loss``) after every
    epoch or BPLS sweep; ``time`` is training wall time so far, evaluation excluded.
    ``peak_memory_mib`` is the peak resident memory above the level before the run (Linux),
    or None where it cannot be measured. ``warnings`` lists the kinds of warning raised
    (one message each); ``info`` what the method reports beyond its parameters (BPLS: the
    solver used and the operation count).
    """

    method: str
    dataset: str
    seed: int
    hidden: tuple[int, ...]
    params: dict[str, Any]
    train_time: float
    test_accuracy: float
    train_loss: float
    loss_name: str
    peak_memory_mib: float | None
    curve: list[dict[str, float]] = field(default_factory=list)
    status: str = "ok"
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The method and its hidden sizes (:func:`label`)."""
        return label(self.method, self.hidden)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        out["label"] = self.label
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        data = {k: v for k, v in data.items() if k != "label"}
        return cls(**{**data, "hidden": tuple(data["hidden"])})


class Recorder:
    """A training clock that pauses while the model is evaluated on the test set."""

    def __init__(self, data: Dataset) -> None:
        self._X_test = data.X_test
        self._y_test = data.y_test
        self.curve: list[dict[str, float]] = []
        self._start = time.perf_counter()
        self._excluded = 0.0

    def start(self) -> None:
        self.curve.clear()
        self._start = time.perf_counter()
        self._excluded = 0.0

    def elapsed(self) -> float:
        """Training seconds since :meth:`start`, evaluation excluded."""
        return time.perf_counter() - self._start - self._excluded

    def point(self, step: int, predict, train_loss: float) -> float:
        """Record test accuracy of ``predict`` (X -> labels) now; return the accuracy."""
        now = self.elapsed()
        paused = time.perf_counter()
        accuracy = float(np.mean(np.asarray(predict(self._X_test)) == self._y_test))
        self.curve.append(
            {"step": step, "time": now, "test_accuracy": accuracy, "train_loss": float(train_loss)}
        )
        self._excluded += time.perf_counter() - paused
        return accuracy


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class peak_memory:  # noqa: N801 - used as a context manager, like contextlib's
    """Measure peak resident memory above the level at entry (Linux only; else ``None``).

    On entry, freed heap memory is returned to the system (glibc ``malloc_trim``) and the
    kernel's high-water mark is reset (``/proc/self/clear_refs``); on exit ``mib`` is
    ``VmHWM`` minus the resident size at entry.
    """

    def __enter__(self) -> peak_memory:
        self.mib: float | None = None
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        self._start = _status_kib("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self._start = None
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _status_kib("VmHWM")
        if self._start is not None and peak is not None:
            self.mib = max(peak - self._start, 0) / 1024.0


def machine(threads: int | None = None) -> dict[str, Any]:
    """CPU, cores, BLAS libraries and their threads, library versions."""
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    from .._version import __version__

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    out: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "lsqnet": __version__,
        "blas": blas,
    }
    try:
        import torch
    except ImportError:
        out["torch"] = None
    else:
        out["torch"] = torch.__version__
        out["torch_threads"] = torch.get_num_threads()
    if threads is not None:
        out["threads"] = threads
    return out
