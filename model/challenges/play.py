"""One attempt at a challenge, played in a run of the run core (``model.run.Run``).

``ChallengePlay`` is a listener of the run (``follow``): it hands the tracker every evaluation,
reset, load and settings change the run reports, halts the run in state "solved" at the
evaluation that meets the goal, and writes what it finds where it belongs: a ``challenge`` event
in the run record when the goal is met or a rule is broken (and one at the end if it never was
met), and the progress file when it is solved and when the attempt ends. Problems writing
progress are one warning; the run goes on. The app's worker, ``train`` and ``replay`` (which
judges a recorded attempt again, unrecorded) all play a challenge this way. A run plays one at
the cadence ``policy`` gives it (``Policy.eval_examples``), so a replay evaluates where it did.

Leaves out threads (it runs on the thread that drives the run) and words (``check``'s and the
front ends').
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.challenges.catalog import Challenge
from model.challenges.check import EPOCH_SLACK
from model.challenges.progress import save_progress
from model.challenges.tracker import ChallengeTracker
from model.run import Policy, Run
from model.run import events as ev


def challenge_policy(challenge: Challenge, policy: Policy | None = None) -> Policy:
    """``policy`` (default: the run core's) with the challenge's evaluations between epoch ends."""
    from dataclasses import replace

    return replace(policy or Policy(), eval_examples=challenge.eval_every)


class ChallengePlay:
    """``challenge`` played in a run (``follow``), progress kept in the file ``progress`` (None:
    not kept), warnings through ``warn``. ``halt``: stop the run at the solve (state "solved";
    a replay goes on to the recorded end). ``on_update(play, solved_now)`` hears of every change
    in where the attempt stands (after an evaluation, a reset or load, a settings change)."""

    def __init__(
        self,
        challenge: Challenge,
        progress: Path | None = None,
        warn: Callable[[str], object] | None = None,
        *,
        halt: bool = True,
    ) -> None:
        self.challenge = challenge
        self.tracker = ChallengeTracker(challenge)
        self.progress = progress
        self.halt = halt
        self._warn = warn
        self.on_update: list[Callable[[ChallengePlay, bool], object]] = []
        self.run: Run | None = None
        self._examples = 0  # trained on the current weights (what a reset replaces)
        self._said_broken = False
        self._finished = False

    def follow(self, run: Run) -> ChallengePlay:
        """Play in ``run`` from its next event on (before its first step)."""
        self.run = run
        self._examples = run.trainer.state.examples_seen
        run.listen(self)
        return self

    def set_warn(self, warn: Callable[[str], object]) -> None:
        """Where warnings (progress that could not be written) go from now on."""
        self._warn = warn

    @property
    def run_id(self) -> str:
        return self.run.recorder.run_id if self.run is not None else ""

    # ---- the run's events ---------------------------------------------------------------------
    def __call__(self, e: ev.RunEvent) -> None:
        run = self.run
        if run is None:
            return
        if isinstance(e, ev.Stepped):
            self._examples = e.metrics.examples_seen
            return
        if isinstance(e, ev.Closing):
            self.finish()
            return
        solved = False
        if isinstance(e, ev.Evaluated):
            solved = self.tracker.evaluated(run.trainer, e.metrics)
            if solved:
                self._note(**self.tracker.record())
                self._save(ended=False)
                if self.halt:
                    run.set_state("solved")
        elif isinstance(e, ev.Changed):
            self.tracker.changed(e.desired)
        elif isinstance(e, ev.Restarted) and e.source == "reset":
            self.tracker.reset(self._examples)
        elif isinstance(e, ev.Restarted):
            self.tracker.loaded()
        else:
            return
        if isinstance(e, ev.Restarted):
            self._examples = run.trainer.state.examples_seen
        self._said_if_broken()
        for listener in list(self.on_update):
            listener(self, solved)

    # ---- where it stands ----------------------------------------------------------------------
    @property
    def spent(self) -> bool:
        """True once nothing the run does from here on can count: a rule was broken, the examples
        budget is used up, or the weights being trained are past the epoch limit (a reset would
        give new epochs, but not new examples)."""
        limits = self.challenge.limits
        if self.tracker.verdict.broken:
            return True
        if self.run is None:
            return False
        trainer = self.run.trainer
        if (
            limits.examples is not None
            and self.tracker.earlier_examples + trainer.state.examples_seen >= limits.examples
        ):
            return True
        return limits.epochs is not None and trainer.epoch_float >= limits.epochs - EPOCH_SLACK

    @property
    def over(self) -> bool:
        """Solved, or nothing more can count: a headless attempt stops here."""
        return self.tracker.verdict.is_solved or self.spent

    def finish(self) -> None:
        """The attempt is over (the run closes): its unsolved outcome goes into the record, and it
        counts in the progress file (once)."""
        if self._finished:
            return
        self._finished = True
        verdict = self.tracker.verdict
        if not verdict.is_solved:
            best = verdict.best
            fields: dict[str, Any] = {"challenge": self.challenge.name, "solved": False}
            if best is not None:
                fields |= {"best_valid": best.valid_error, "best_test": best.test_error}
            self._note(**fields)
        self._save(ended=True)

    # ---- writing ------------------------------------------------------------------------------
    def _said_if_broken(self) -> None:
        """Record a broken rule once."""
        broken = self.tracker.verdict.broken
        if broken and not self._said_broken:
            self._said_broken = True
            self._note(challenge=self.challenge.name, solved=self.tracker.verdict.is_solved, broken=broken)

    def _note(self, **fields: Any) -> None:
        if self.run is not None:
            self.run.note("challenge", **fields)

    def _save(self, ended: bool) -> None:
        if self.progress is None:
            return
        t = self.tracker
        warning = save_progress(self.progress, self.challenge.name, t.verdict, t.took(), self.run_id, ended)
        if warning and self._warn is not None:
            self._warn(warning)
