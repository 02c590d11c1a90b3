"""Messages that cross threads: from the loader and the training worker to the app.

Every message here is posted with ``post_message`` from a worker thread (which is
thread-safe in Textual) and handled on the UI thread by ``MnistApp``. ``TrainStatus``
is the plain snapshot of counters the status panel draws. Messages only one widget
posts to its parent (e.g. ``ControlsPanel.Changed``) live with that widget instead.
Types from ``model`` are only named in annotations, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from model.analysis import Misclassified
    from model.config import HyperParams
    from model.gradcheck import CheckReport
    from model.trainer import EvalMetrics, Trainer

#: Run states shown in the status panel.
STATES = ("loading", "running", "paused", "diverged", "stopped")


@dataclass(frozen=True)
class TrainStatus:
    """The counters of a run at one moment (None: not known yet)."""

    state: str = "loading"
    epoch: float = 0.0  # fractional epochs completed
    epochs: int = 0  # epochs the run is set to (pauses there)
    step: int = 0
    examples_seen: int = 0
    examples_per_second: float | None = None  # training throughput, evaluation excluded
    elapsed: float = 0.0  # seconds spent training (pauses and evaluation excluded)
    lr: float | None = None  # rate the next step uses
    last_loss: float | None = None  # last finite minibatch loss
    valid_error: float | None = None  # at the latest evaluation
    best_valid_error: float | None = None
    test_error_at_best: float | None = None  # test error when validation was best
    variant: str = "exact"  # backward-pass variant the next step uses
    angles: tuple[tuple[str, float], ...] = ()  # latest (weight, degrees to the true gradient) pairs


# ---- loader -> app ---------------------------------------------------------------------


@dataclass
class DataProgress(Message):
    """The MNIST loader moved on: a message and a fraction in [0, 1] (None: unknown)."""

    text: str
    fraction: float | None


@dataclass
class DataReady(Message):
    """MNIST is loaded and a trainer is built on it (``note`` says e.g. what was resumed)."""

    data: Any
    trainer: Trainer
    note: str = ""


@dataclass
class DataFailed(Message):
    """Loading MNIST (or the checkpoint to resume) failed; ``reason`` is one line."""

    reason: str


# ---- training worker -> app ------------------------------------------------------------


@dataclass
class TrainProgress(Message):
    """Steps since the last post: (examples seen, minibatch loss) pairs, the status now, and the
    alignment angles measured meanwhile as (examples seen, {"W1": degrees, "W2": degrees})."""

    examples: list[int]
    losses: list[float]
    status: TrainStatus
    angles: list[tuple[int, dict[str, float]]] = field(default_factory=list)


@dataclass
class Evaluated(Message):
    """Loss/error on train, valid and test, the misclassified test digits, and the status."""

    metrics: EvalMetrics
    misclassified: Misclassified | None
    status: TrainStatus
    epoch_end: bool = False


@dataclass
class HParamsApplied(Message):
    """The worker switched to new hyperparameters before the step after ``examples_seen``."""

    examples_seen: int
    changes: dict[str, Any]
    hp: HyperParams


@dataclass
class RunReset(Message):
    """The run restarted: fresh weights (``r``) or a loaded checkpoint (``source`` says which)."""

    hp: HyperParams
    status: TrainStatus
    source: str = "reset"


@dataclass
class Diverged(Message):
    """A step's loss exploded or was not finite: the update was refused, the last good weights
    restored, and training paused."""

    examples_seen: int
    status: TrainStatus


@dataclass
class GradCheckDone(Message):
    """Gradient-check reports: the toy suite and the sampled check of the live model."""

    toy: list[CheckReport]
    live: CheckReport | None
    error: str | None = None


@dataclass
class CheckpointSaved(Message):
    """The run was written to ``path``."""

    path: str


@dataclass
class WorkerFailed(Message):
    """An unexpected exception in the training worker: training stopped, the worker still serves commands."""

    summary: str  # one line: "TypeError: ..."
    detail: str  # the traceback
    log_path: str | None  # where the full report was written (None: nowhere)


@dataclass
class Notice(Message):
    """A one-line note for the user (load failed, run finished, worker error)."""

    text: str
    severity: str = "information"  # Textual notify severity: information, warning, error
