"""One attempt at a challenge inside a run, as the app's worker and ``train`` both play it.

``ChallengePlay`` wraps the tracker and writes what it finds where it belongs: a ``challenge``
event in the run record when the goal is met or a rule is broken (and one at the end if it never
was met), and the progress file when it is solved and when the attempt ends. Problems writing
progress are one warning; the run goes on. Call it from the thread that trains.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.challenges.catalog import Challenge
from model.challenges.check import EPOCH_SLACK
from model.challenges.progress import save_progress
from model.challenges.tracker import ChallengeTracker
from model.config import HyperParams
from model.runs import RunRecorder
from model.trainer import EvalMetrics, StepMetrics, Trainer


class ChallengePlay:
    """``challenge`` played in the run ``recorder`` records (None: unrecorded), progress kept in
    the file ``progress`` (None: not kept), warnings through ``warn``."""

    def __init__(
        self,
        challenge: Challenge,
        recorder: RunRecorder | None = None,
        progress: Path | None = None,
        warn: Callable[[str], object] | None = None,
    ) -> None:
        self.challenge = challenge
        self.tracker = ChallengeTracker(challenge)
        self.recorder = recorder
        self.progress = progress
        self._warn = warn
        self._said_broken = False
        self._finished = False

    def set_warn(self, warn: Callable[[str], object]) -> None:
        """Where warnings (progress that could not be written) go from now on."""
        self._warn = warn

    @property
    def run_id(self) -> str:
        return self.recorder.run_id if self.recorder is not None else ""

    # ---- what the run reports ---------------------------------------------------------------
    def evaluated(self, trainer: Trainer, metrics: EvalMetrics) -> bool:
        """The run evaluated its current weights: True if that solved the challenge (recorded and
        kept in the progress file at once)."""
        solved = self.tracker.evaluated(trainer, metrics)
        if solved:
            self._event(trainer, **self.tracker.record())
            self._save(ended=False)
        return solved

    def due(self, m: StepMetrics) -> bool:
        """True if the challenge wants an evaluation after step ``m`` (between epoch ends)."""
        return self.tracker.due(m.examples_seen - m.batch_size, m.examples_seen)

    def reset(self, trainer: Trainer) -> None:
        """Call before ``trainer.reset()``: the weights it trained so far are replaced."""
        self.tracker.reset(trainer.state.examples_seen)
        self._said(trainer)

    def loaded(self, trainer: Trainer) -> None:
        self.tracker.loaded()
        self._said(trainer)

    def changed(self, trainer: Trainer, hp: HyperParams) -> None:
        self.tracker.changed(hp)
        self._said(trainer)

    def spent(self, trainer: Trainer) -> bool:
        """True once nothing the run does from here on can count: a rule was broken, or the weights
        being trained are past the epoch limit and the examples budget is used up, as far as
        ``trainer`` has gone (a reset would give new epochs, but not new examples)."""
        limits = self.challenge.limits
        if self.tracker.verdict.broken:
            return True
        if (
            limits.examples is not None
            and self.tracker.earlier_examples + trainer.state.examples_seen >= limits.examples
        ):
            return True
        return limits.epochs is not None and trainer.epoch_float >= limits.epochs - EPOCH_SLACK

    def finish(self, trainer: Trainer) -> None:
        """The attempt is over: its unsolved outcome goes into the record, and it counts in the
        progress file (once)."""
        if self._finished:
            return
        self._finished = True
        verdict = self.tracker.verdict
        if not verdict.is_solved:
            best = verdict.best
            fields: dict[str, Any] = {"challenge": self.challenge.name, "solved": False}
            if best is not None:
                fields |= {"best_valid": best.valid_error, "best_test": best.test_error}
            self._event(trainer, **fields)
        self._save(ended=True)

    # ---- writing -----------------------------------------------------------------------------
    def _said(self, trainer: Trainer) -> None:
        """Record a broken rule once."""
        broken = self.tracker.verdict.broken
        if broken and not self._said_broken:
            self._said_broken = True
            self._event(trainer, challenge=self.challenge.name, solved=self.tracker.verdict.is_solved, broken=broken)

    def _event(self, trainer: Trainer, **fields: Any) -> None:
        if self.recorder is not None:
            self.recorder.event("challenge", trainer.state.step, trainer.state.examples_seen, **fields)

    def _save(self, ended: bool) -> None:
        if self.progress is None:
            return
        t = self.tracker
        warning = save_progress(self.progress, self.challenge.name, t.verdict, t.took(), self.run_id, ended)
        if warning and self._warn is not None:
            self._warn(warning)
