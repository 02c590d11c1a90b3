"""The figures a run keeps as it goes: running train loss and error, the best validation error
and the test error there, training time, and one ``EpochRecord`` per epoch (a fraction of one
when the run stops between epoch ends); ``RunOutcome`` is what a finished run reports.

The train error is the running one (as Keras reports it): the share of the rows the steps' own
forward passes classified wrong while the weights moved. It costs nothing, where a second pass
over 50,000 training images took a third of an epoch at H=800; it reads a little higher than the
error of the final weights, and with dropout or a perturbing variant it is that of the network
as trained. Leaves out when to evaluate (``model.run.core``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from model.target import TargetReport
from model.trainer import EvalMetrics, StepMetrics, Trainer

#: The figures a checkpoint carries (``RunState.meta``), so a resumed run shows them again.
META_KEYS = ("elapsed", "last_loss", "valid_error", "best_valid_error", "test_error_at_best")


@dataclass
class Running:
    """The steps' minibatch losses and correct rows since it was last taken."""

    losses: list[float] = field(default_factory=list)
    correct: int = 0
    rows: int = 0

    @property
    def steps(self) -> int:
        return len(self.losses)

    def add(self, m: StepMetrics) -> None:
        self.losses.append(m.loss)
        self.correct += m.correct
        self.rows += m.batch_size

    def take(self) -> tuple[float, float] | None:
        """(mean minibatch loss, error over the rows) since the last take (None if no step since),
        and start afresh."""
        figures = (float(np.mean(self.losses)), 1.0 - self.correct / self.rows) if self.rows else None
        self.losses, self.correct, self.rows = [], 0, 0
        return figures


@dataclass
class EpochRecord:
    """One line of the per-epoch log. ``epoch``: epochs completed, a fraction when the run
    stopped between two epoch ends (a target reached at an evaluation inside the epoch, a divergence)."""

    epoch: float
    step: int
    train_loss: float  # mean minibatch loss over the epoch (NaN: no step survived)
    errors: dict[str, float]  # error rate per evaluated set; "train": running over the epoch
    seconds: float  # training time of the epoch (evaluation excluded)
    lr: float

    @property
    def whole(self) -> bool:
        return float(self.epoch).is_integer()


@dataclass
class Best:
    """The lowest validation error so far (train error when there is no validation set), the
    test error at that evaluation, where it was, and (with ``keep``) a copy of the weights there."""

    keep: bool = False
    valid_error: float | None = None
    test_error: float | None = None
    epoch: float | None = None
    step: int | None = None
    params: dict[str, np.ndarray] = field(default_factory=dict)

    def update(self, metrics: EvalMetrics, epoch: float, params: dict[str, np.ndarray]) -> bool:
        """Take ``metrics`` if it beats the best so far; True if it did."""
        results = metrics.results
        name = "valid" if "valid" in results else "train"
        if name not in results:
            return False
        error = results[name][1]
        if self.valid_error is not None and not error < self.valid_error:
            return False
        self.valid_error = error
        self.test_error = results["test"][1] if "test" in results else None
        self.epoch, self.step = epoch, metrics.step
        if self.keep:
            self.params = {k: v.copy() for k, v in params.items()}
        return True


@dataclass
class RunFigures:
    """What the run has shown so far: clocks, the latest and best errors, the epoch log."""

    train_seconds: float = 0.0  # training time: steps and the driver's work between them, evaluation excluded
    last_loss: float | None = None  # the last finite minibatch loss
    valid_error: float | None = None  # at the latest evaluation
    last_angles: dict[str, float] | None = None  # degrees to the true gradient, latest probe
    best: Best = field(default_factory=Best)
    history: list[EpochRecord] = field(default_factory=list)
    epoch_seconds: float = 0.0  # training time since the epoch started
    epoch_rows: Running = field(default_factory=Running)  # steps since the epoch started
    eval_rows: Running = field(default_factory=Running)  # steps since the last evaluation

    def stepped(self, m: StepMetrics) -> None:
        """A step that was not refused."""
        if math.isfinite(m.loss):
            self.last_loss = m.loss
        if m.angles is not None:
            self.last_angles = m.angles
        self.epoch_rows.add(m)
        self.eval_rows.add(m)

    def close_epoch(self, metrics: EvalMetrics, trainer: Trainer) -> EpochRecord:
        """The line of the epoch that ends (or is cut short) at ``metrics``, an evaluation at this step."""
        errors = {name: err for name, (_, err) in metrics.results.items()}
        errors.setdefault("train", float("nan"))
        loss = metrics.results["train"][0] if "train" in metrics.results else float("nan")
        record = EpochRecord(trainer.epoch_float, trainer.state.step, loss, errors, self.epoch_seconds, trainer.lr)
        self.history.append(record)
        self.epoch_seconds = 0.0
        return record

    def meta(self) -> dict[str, Any]:
        """The figures a checkpoint carries (``restore`` reads them back)."""
        values = (self.train_seconds, self.last_loss, self.valid_error, self.best.valid_error, self.best.test_error)
        return dict(zip(META_KEYS, values, strict=True))

    @classmethod
    def restore(cls, meta: dict[str, Any], keep_best: bool = False) -> RunFigures:
        """The figures a checkpoint's ``meta`` carried (a resumed run goes on from them); a value
        that is not a finite number (a checkpoint is hostile input: true, 10**400, NaN) is left out."""
        numbers = {k: v for k, v in ((k, _finite_number(meta.get(k))) for k in META_KEYS) if v is not None}
        best = Best(keep_best, numbers.get("best_valid_error"), numbers.get("test_error_at_best"))
        return cls(numbers.get("elapsed", 0.0), numbers.get("last_loss"), numbers.get("valid_error"), best=best)


def _finite_number(value: Any) -> float | None:
    """``value`` as a float if it is a finite JSON number (not a bool, not past a float's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


@dataclass
class RunOutcome:
    """A closed run's summary; ``to_dict`` is what ``train --json`` prints (the id added)."""

    epochs: float  # epochs completed (a fraction when the run stopped between epoch ends)
    steps: int
    seconds: float  # training time, evaluation excluded
    examples_per_second: float
    train_loss: float
    train_error: float
    valid_error: float
    test_error: float
    best_epoch: float | None
    best_valid_error: float
    test_error_at_best: float
    status: str  # finished, target, diverged, interrupted, ...
    history: list[EpochRecord] = field(default_factory=list)
    target: TargetReport | None = None  # None: no target was set

    @classmethod
    def of(
        cls, figures: RunFigures, trainer: Trainer, status: str, since: tuple[float, int], target: TargetReport | None
    ) -> RunOutcome:
        """What a run came to: its figures and counters; ``since``: (training seconds, examples) when
        this run object began (a resumed run's earlier time is not in the rate)."""
        nan, final, best = float("nan"), figures.history[-1] if figures.history else None, figures.best
        seconds = figures.train_seconds - since[0]
        return cls(
            epochs=trainer.epoch_float,
            steps=trainer.state.step,
            seconds=seconds,
            examples_per_second=(trainer.state.examples_seen - since[1]) / max(seconds, 1e-9),
            train_loss=final.train_loss if final else nan,
            train_error=final.errors.get("train", nan) if final else nan,
            valid_error=final.errors.get("valid", nan) if final else nan,
            test_error=final.errors.get("test", nan) if final else nan,
            best_epoch=best.epoch,
            best_valid_error=nan if best.valid_error is None else best.valid_error,
            test_error_at_best=nan if best.test_error is None else best.test_error,
            status=status,
            history=list(figures.history),
            target=target or (TargetReport(trainer.hp.target_error) if trainer.hp.target_error else None),
        )

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["diverged"] = self.diverged
        return out
