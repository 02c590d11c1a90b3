"""``Watch``: what a run measures as it goes, for the run core (``model.run.core.Run``).

The training clock (a step and the driver's work between two steps while the run goes on;
evaluation, pauses and commands left out), evaluations (every set, with the steps' own running
train figures), the best validation error, the target error (the first evaluation below it),
the epoch lines and what a closed run came to. It reports through the run's ``emit`` and halts
it through ``halt``; the run decides when to step and what the commands do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from model.run import events as ev
from model.run.figures import RunFigures, RunOutcome
from model.runs.writer import RunRecorder
from model.target import TargetReport, below_target
from model.trainer import EvalMetrics, StepMetrics, Trainer


class Watch:
    """The figures of one run of ``trainer`` (``begin`` starts them afresh, or from a checkpoint's).

    ``mistakes``: evaluations also collect the misclassified test digits. ``emit``: the run's
    listeners; ``halt(state)``: the run halts (a target reached).
    """

    def __init__(
        self,
        trainer: Trainer,
        recorder: RunRecorder,
        emit: Callable[[ev.RunEvent], None],
        halt: Callable[[str], None],
        mistakes: bool = False,
    ) -> None:
        self.trainer, self.recorder, self.mistakes = trainer, recorder, mistakes
        self._emit, self._halt = emit, halt
        self._clock = time.perf_counter

    def begin(self, figures: RunFigures) -> None:
        """Count from ``figures`` on: at the start, after a reset or a load."""
        self.figures = figures
        self.target: TargetReport | None = None  # where the run got below its current target
        self._since = (figures.train_seconds, self.trainer.state.examples_seen)
        self._wall0 = self._clock()
        self._last_end: float | None = None  # end of the previous step while training runs on
        self.last_eval: EvalMetrics | None = None

    def timed_step(self) -> StepMetrics:
        """One trainer step, reported, and its time counted (with the driver's work since the
        previous step when the run went on in between)."""
        figures, t0 = self.figures, self._clock()
        gap = 0.0 if self._last_end is None else t0 - self._last_end
        m = self.trainer.step()
        if not m.diverged:
            figures.stepped(m)
        self.recorder.step(m)
        self._emit(ev.Stepped(m))
        took = gap + self._clock() - t0
        figures.train_seconds += took
        figures.epoch_seconds += took
        return m

    def clock_on(self, running: bool) -> None:
        """A step (and its evaluations) is over: while the run goes on, the time from here to the
        next step is the driver's work, and counts; otherwise it does not."""
        self._last_end = self._clock() if running else None

    def evaluate(self, epoch_end: bool) -> EvalMetrics:
        """Evaluate every set; the train figures are the steps' own (over the epoch at its end).
        A first evaluation below the target halts the run before the evaluation is reported."""
        trainer, figures = self.trainer, self.figures
        metrics, wrong = trainer.evaluate_with_mistakes(tuple(trainer.eval_sets), "test" if self.mistakes else None)
        running = figures.eval_rows.take()
        if epoch_end:
            running = figures.epoch_rows.take() or running
        if running is not None:
            metrics = replace(metrics, results={"train": running, **metrics.results})
        if "valid" in metrics.results:
            figures.valid_error = metrics.error("valid")
        best = figures.best.update(metrics, trainer.epoch_float, trainer.model.params)
        self.last_eval = metrics
        self.recorder.evaluation(metrics, trainer, epoch_end)
        self._check_target(metrics)
        self._emit(ev.Evaluated(metrics, epoch_end, wrong, best))
        return metrics

    def _check_target(self, metrics: EvalMetrics) -> None:
        """Halt at the first evaluation below the target (once per target value)."""
        target = self.trainer.hp.target_error
        if (self.target is not None and self.target.error == target) or not below_target(target, metrics):
            return
        seconds = self.figures.train_seconds - self._since[0]
        wall = self._clock() - self._wall0
        self.target = TargetReport.hit(target, metrics, self.trainer.epoch_float, seconds, wall)
        valid = self.target.valid_error
        self.recorder.event(
            "target", metrics.step, metrics.examples_seen, target=target, valid_error=valid, seconds=round(seconds, 3)
        )
        self._halt("target")
        self._emit(ev.TargetReached(self.target))

    def close_epoch(self, metrics: EvalMetrics) -> None:
        """The line of the epoch that ends (or is cut short) at ``metrics``, an evaluation at this step."""
        self._emit(ev.EpochEnded(self.figures.close_epoch(metrics, self.trainer)))

    def close(self, evaluate: bool) -> None:
        """Before the run ends: the line of an epoch cut short by an evaluation at this step (with
        ``evaluate``, one is made when there is none: the weights a divergence restored)."""
        trainer, figures, last = self.trainer, self.figures, self.last_eval
        if evaluate and (last is None or last.step != trainer.state.step):
            last = self.evaluate(epoch_end=False)
        if last is not None and last.step == trainer.state.step and figures.epoch_rows.steps:
            running = figures.epoch_rows.take()
            if running is not None:
                last = replace(last, results={**last.results, "train": running})
            self.close_epoch(last)

    def outcome(self, status: str) -> RunOutcome:
        return RunOutcome.of(self.figures, self.trainer, status, self._since, self.target)
