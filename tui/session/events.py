"""What the training worker reports: plain dataclasses, handed to a callback.

The worker (``tui.session.worker``) builds these on its own thread and passes each to the
``post`` callback it was given; the app wraps them for Textual and the main screen routes
them to its panels. ``TrainStatus`` is the plain snapshot of counters the status panel draws.
Nothing here knows about Textual, so the worker runs (and is tested) without an app.
Types from ``model`` are only named in annotations, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.analysis import Misclassified
    from model.challenges import Verdict
    from model.challenges.play import ChallengePlay
    from model.config import HyperParams
    from model.gradcheck import CheckReport
    from model.target import TargetReport
    from model.trainer import EvalMetrics


@dataclass(frozen=True)
class TrainStatus:
    """The counters of a run at one moment (None: not known yet).

    state: "loading", "running", "paused", "diverged", "finished" (the configured epochs are
    done), "target" (paused at the first evaluation below the target validation error), "solved"
    (paused at the evaluation that met a challenge's goal) or "stopped" (the worker failed or is
    shutting down).
    """

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
    target_error: float = 0.0  # the validation error to stop at (0: none)
    target: TargetReport | None = None  # where the run got below its current target (None: not yet)


@dataclass
class TrainProgress:
    """Steps since the last post: (examples seen, minibatch loss) pairs, the status now, and the
    alignment angles measured meanwhile as (examples seen, {"W1": degrees, "W2": degrees})."""

    examples: list[int]
    losses: list[float]
    status: TrainStatus
    angles: list[tuple[int, dict[str, float]]] = field(default_factory=list)


@dataclass
class Evaluated:
    """Loss/error on train, valid and test, the misclassified test digits, and the status."""

    metrics: EvalMetrics
    misclassified: Misclassified | None
    status: TrainStatus
    epoch_end: bool = False


@dataclass
class ChallengeUpdate:
    """Where the challenge the run plays stands, after an evaluation or a broken rule.

    earlier_examples: examples trained on weights a reset replaced (with the status's
    ``examples_seen``, the examples the attempt has used); solved_now: this evaluation solved it;
    took: the settings changed from the start and the resets (``ChallengeTracker.took``); spent:
    nothing the run does from here can count (a rule broken, or the limits used up).
    """

    verdict: Verdict
    earlier_examples: int
    solved_now: bool
    took: dict[str, Any]
    spent: bool = False

    @classmethod
    def of(cls, play: ChallengePlay, solved_now: bool = False) -> ChallengeUpdate:
        """Where ``play`` stands now (on the thread that drives its run)."""
        t = play.tracker
        return cls(t.verdict, t.earlier_examples, solved_now, t.took(), play.spent)


@dataclass
class HParamsApplied:
    """The worker switched to new hyperparameters before the step after ``examples_seen``;
    ``changes`` maps each field that changed to its new value; ``pending`` names the
    architecture fields that differ from the live weights' (they apply on reset)."""

    examples_seen: int
    changes: dict[str, Any]
    hp: HyperParams
    pending: tuple[str, ...] = ()


@dataclass
class RunReset:
    """The run restarted: fresh weights (``r``) or a loaded checkpoint (``source`` says which)."""

    hp: HyperParams
    status: TrainStatus
    source: str = "reset"


@dataclass
class Diverged:
    """A step's loss exploded or was not finite: the update was refused, the last good weights
    restored, and training paused."""

    examples_seen: int
    status: TrainStatus


@dataclass
class GradCheckDone:
    """Gradient-check reports: the toy suite and the sampled check of the live model."""

    toy: list[CheckReport]
    live: CheckReport | None
    error: str | None = None


@dataclass
class CheckpointSaved:
    """The run was written to ``path``."""

    path: str


@dataclass
class WorkerFailed:
    """An unexpected exception in the training worker: training stopped, the worker still serves commands."""

    summary: str  # one line: "TypeError: ..."
    detail: str  # the traceback
    log_path: str | None  # where the full report was written (None: nowhere)


@dataclass
class Notice:
    """A one-line note for the user (load failed, run finished, worker error)."""

    text: str
    severity: str = "information"  # Textual notify severity: information, warning, error
    timeout: float | None = None  # seconds on screen (None: the app's default)


@dataclass
class WeightsSnapshot:
    """A copy of the live weights taken between two steps (``TrainingBridge.snapshot``).

    params: W1 (H, D), b1 (H,), W2 (K, H), b2 (K,); feedback: the (K, H) matrix a random-feedback
    or stale variant carries the delta back with, None for the others. Copies: the worker goes on
    training without touching them.
    """

    params: dict[str, Any]
    hp: HyperParams
    examples_seen: int
    feedback: Any = None
    tag: str = ""  # who asked (the reply goes to every listener; each keeps its own)


#: Every event the worker posts.
WorkerEvent = (
    TrainProgress
    | Evaluated
    | HParamsApplied
    | RunReset
    | Diverged
    | GradCheckDone
    | CheckpointSaved
    | WorkerFailed
    | Notice
    | WeightsSnapshot
    | ChallengeUpdate
)
