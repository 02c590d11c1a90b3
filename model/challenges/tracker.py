"""Follow one attempt at a challenge as a run trains: it is fed every evaluation, reset, load and
settings change (``ChallengePlay`` hands it a run's events); it keeps the ``Attempt`` and the
``Verdict``.

It measures what the goal needs beyond the evaluation itself (the fraction of dead hidden units,
on the validation set, as the weights screen counts them) and says what a solve took (the
settings changed from the start, the resets). It never steps the trainer and keeps no thread of
its own; ``model.challenges.play`` feeds it a run's events.
"""

from __future__ import annotations

from typing import Any

from model.challenges.catalog import Challenge
from model.challenges.check import Attempt, Evaluation, Verdict, check
from model.config import HyperParams
from model.inspect import unit_stats
from model.trainer import EvalMetrics, Trainer


def dead_fraction(trainer: Trainer) -> float | None:
    """The fraction of hidden units that fire (W1 x + b1 > 0) on none of the validation images
    (None without a validation set). One first-layer product over the set."""
    valid = trainer.eval_sets.get("valid")
    if valid is None:
        return None
    stats = unit_stats(trainer.model.params, trainer.hp.activation, valid[0])
    return stats.dead / max(len(stats.firing), 1)


def setting_changes(start: HyperParams, now: HyperParams) -> dict[str, Any]:
    """The settings of ``now`` that differ from ``start`` (the epoch count left out: it says how
    long the app trains, not how), in field order."""
    a, b = start.to_dict(), now.to_dict()
    return {k: v for k, v in b.items() if a.get(k) != v and k not in ("epochs", "target_error")}


class ChallengeTracker:
    """One attempt at ``challenge``. Not thread-safe: call it from the thread that trains."""

    def __init__(self, challenge: Challenge) -> None:
        self.challenge = challenge
        self.attempt = Attempt()
        self.segment = 0  # resets so far
        self.earlier_examples = 0  # examples trained on weights that a reset replaced
        self.verdict: Verdict = check(challenge, self.attempt)
        self.solved_settings: HyperParams | None = None  # the settings in force at the solve

    # ---- what the run reports ---------------------------------------------------------------
    def evaluated(self, trainer: Trainer, metrics: EvalMetrics) -> bool:
        """Add the evaluation ``metrics`` of ``trainer``'s current weights; True if it solved the
        challenge (the first evaluation to do so)."""
        results = metrics.results
        if "valid" not in results:
            return False
        dead = dead_fraction(trainer) if self.challenge.goal.dead_below is not None else None
        test = results["test"][1] if "test" in results else None
        return self.add(
            Evaluation(
                step=metrics.step,
                examples=metrics.examples_seen,
                epoch=round(trainer.epoch_float, 6),
                total_examples=self.earlier_examples + metrics.examples_seen,
                valid_error=results["valid"][1],
                test_error=test,
                dead_fraction=dead,
                segment=self.segment,
            ),
            trainer.hp,
        )

    def add(self, ev: Evaluation, hp: HyperParams | None = None) -> bool:
        """Add an evaluation already measured; True if it is the one that solved the challenge."""
        was = self.verdict.is_solved
        self.attempt.evaluations.append(ev)
        self.verdict = check(self.challenge, self.attempt)
        if self.verdict.is_solved and not was:
            self.solved_settings = hp
            return True
        return False

    def reset(self, examples_done: int) -> None:
        """Fresh weights after ``examples_done`` examples on the old ones (a rule broken if the
        challenge allows no reset)."""
        self.earlier_examples += examples_done
        self.segment += 1
        if not self.challenge.limits.reset:
            self.break_rule("the weights were reset (this challenge allows no reset)")

    def loaded(self) -> None:
        """A checkpoint replaced the weights: they were not trained in this attempt."""
        self.break_rule("a checkpoint was loaded (its weights were not trained in this attempt)")

    def changed(self, hp: HyperParams) -> None:
        """The settings are now ``hp``; changing a fixed one breaks the rules."""
        for name, value in self.challenge.fixed_values().items():
            if getattr(hp, name) != value:
                self.break_rule(f"{name.replace('_', ' ')} changed from {value} (it is fixed in this challenge)")
                return

    def break_rule(self, why: str) -> None:
        if self.attempt.broken:
            return
        self.attempt.broken = why
        self.attempt.broken_after = len(self.attempt.evaluations)
        self.verdict = check(self.challenge, self.attempt)

    # ---- what it took -------------------------------------------------------------------------
    def took(self) -> dict[str, Any]:
        """The settings changed from the start when it was solved and the resets before it."""
        start = self.challenge.start_hparams()
        now = self.solved_settings or start
        solved = self.verdict.solved
        return {"changes": setting_changes(start, now), "resets": solved.segment if solved else self.segment}

    def record(self) -> dict[str, Any]:
        """The fields of the run record's ``challenge`` event for the solve (or the broken rule)."""
        v = self.verdict
        out: dict[str, Any] = {"challenge": self.challenge.name, "solved": v.is_solved}
        if v.solved is not None:
            ev = v.solved
            out |= {
                "valid_error": ev.valid_error,
                "test_error": ev.test_error,
                "dead_fraction": ev.dead_fraction,
                "epoch": ev.epoch,
                "total_examples": ev.total_examples,
                "segment": ev.segment,
            } | self.took()
        if v.broken:
            out["broken"] = v.broken
        return out
