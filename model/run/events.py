"""What a run reports, as typed events handed to every listener (``Run.listen``) in order.

Listeners run on the thread that drives the run, between two steps: the app's bridge turns
these into its own messages, ``train`` prints them, the study measures on ``Stepped``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.analysis import Misclassified
    from model.config import HyperParams
    from model.run.figures import EpochRecord
    from model.target import TargetReport
    from model.trainer import EvalMetrics, StepMetrics


@dataclass(frozen=True)
class Stepped:
    """One minibatch step (also one the trainer refused: ``metrics.diverged``)."""

    metrics: StepMetrics


@dataclass(frozen=True)
class Evaluated:
    """Loss and error on every set (``train``: running since the last evaluation, or over the epoch
    at an epoch end); ``mistakes``: the misclassified test digits when the policy asks for them;
    ``best``: this evaluation is the best so far."""

    metrics: EvalMetrics
    epoch_end: bool
    mistakes: Misclassified | None = None
    best: bool = False


@dataclass(frozen=True)
class EpochEnded:
    """An epoch's line: at its end, or a fraction of one when the run closes between epoch ends."""

    record: EpochRecord


@dataclass(frozen=True)
class Diverged:
    """The step's loss exploded or was not finite: the update was refused and the last good
    weights restored; the run halts (state "diverged") until it is told to go on."""

    metrics: StepMetrics


@dataclass(frozen=True)
class Finished:
    """The configured epochs are done (state "finished"); ``Resume`` trains ``more`` epochs again."""

    epochs: int
    more: int


@dataclass(frozen=True)
class TargetReached:
    """The first evaluation below the target validation error (state "target")."""

    report: TargetReport


@dataclass(frozen=True)
class Changed:
    """Settings changed before the step after ``step``: ``changes`` maps each field that changed to
    its new value; ``pending`` names the architecture fields waiting for a reset; ``extended``: the
    epochs a ``Resume`` past the end added (0 otherwise)."""

    step: int
    examples: int
    changes: dict[str, Any]
    desired: HyperParams
    pending: tuple[str, ...] = ()
    extended: int = 0


@dataclass(frozen=True)
class Restarted:
    """New weights (``Reset``) or a loaded checkpoint (``Load``, ``path``): the run starts again."""

    source: str  # "reset" or "load"
    path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StateChanged:
    """The run's state is now ``state`` (running, paused, finished, target, diverged)."""

    state: str


@dataclass(frozen=True)
class Closing:
    """The run is about to end with ``status`` (``Run.close``; its record still takes lines)."""

    status: str


@dataclass(frozen=True)
class Saved:
    """The run was written to ``path``."""

    path: Path


RunEvent = (
    Stepped
    | Evaluated
    | EpochEnded
    | Diverged
    | Finished
    | TargetReached
    | Changed
    | Restarted
    | StateChanged
    | Saved
    | Closing
)
