"""What a run can be told, as typed commands: each says what it does to a run (``apply``).

``Run.apply`` takes any of them between two steps. The ones that change what the run computes
(``Change``, ``Reset``, ``Load``) are recorded with the step they followed, and a replay feeds
them back in the same places. The others steer (``Pause``, ``Resume``, ``Step``) or look
(``Evaluate``, ``Save``) and change no number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import ARCHITECTURE_FIELDS, SPECS
from model.run import events as ev
from model.run.figures import Best, RunFigures
from model.variants import VARIANT_OPTIONS

if TYPE_CHECKING:
    from model.run.core import Run

MAX_EPOCHS = int(SPECS["epochs"].high or 0)
#: Settings a variant's rule is built from: the angles measured before a change of them are stale.
RULE_FIELDS = frozenset({"variant", *VARIANT_OPTIONS})


@dataclass(frozen=True)
class Change:
    """Set hyperparameters (validated; ValueError otherwise, and nothing changes). Training
    settings apply from the next step; architecture and training-set fields wait for ``Reset``.
    ``extended``: the epochs a ``Resume`` past the end adds this way (said in the event)."""

    changes: dict[str, Any] = field(default_factory=dict)
    extended: int = 0

    def apply(self, run: Run) -> None:
        desired = run.desired.validated(**self.changes)
        training = {k: getattr(desired, k) for k in SPECS if k not in ARCHITECTURE_FIELDS}
        applied = run.trainer.hp.validated(**training)
        old, s = run.desired, run.trainer.state
        diff = {k: v for k, v in desired.to_dict().items() if getattr(old, k) != v}
        run.desired = desired
        if applied != run.trainer.hp:
            run.trainer.set_hparams(applied)
        run.recorder.hparams(old, desired, s.step, s.examples_seen)  # applies from the step after s.step
        if RULE_FIELDS & diff.keys():
            run.figures.last_angles = None  # they measured the old rule
        if "target_error" in diff:
            run.watch.target = None  # a new target: what the old one took is no longer the news
            if run.state == "target":  # halted at the old target: train on towards the new one
                run.set_state("running")
        if diff:
            run.emit(ev.Changed(s.step, s.examples_seen, diff, desired, run.pending, self.extended))


@dataclass(frozen=True)
class Reset:
    """New weights from the settings asked for, architecture included; the run starts again."""

    def apply(self, run: Run) -> None:
        after = run.trainer.state.step  # a replay resets after this many steps
        run.trainer.reset(run.desired)
        run.note("reset", after_step=after, hparams=run.desired.to_dict())
        run.restart(ev.Restarted("reset"), RunFigures(best=Best(run.policy.keep_best)))


@dataclass(frozen=True)
class Load:
    """Continue the run saved in the checkpoint at ``path`` (CheckpointError: nothing changes)."""

    path: str

    def apply(self, run: Run) -> None:
        after = run.trainer.state.step  # a replay loads after this many steps
        state = load_checkpoint(self.path)
        try:
            run.trainer.resume(state)
        except ValueError as exc:  # made for other data or outputs
            raise CheckpointError(f"checkpoint {self.path} {exc}") from None
        run.desired = run.trainer.hp
        where = Path(self.path).resolve()
        run.note("load", after_step=after, path=str(where), sha256=state.sha256, hparams=run.desired.to_dict())
        run.restart(ev.Restarted("load", where, state.meta), RunFigures.restore(state.meta, run.policy.keep_best))


@dataclass(frozen=True)
class Save:
    """Write the run to a checkpoint at ``path`` (CheckpointError when it cannot)."""

    path: str

    def apply(self, run: Run) -> None:
        run.emit(ev.Saved(save_checkpoint(self.path, run.snapshot())))


@dataclass(frozen=True)
class Evaluate:
    """Evaluate every set now (a line in the record says it was asked for)."""

    def apply(self, run: Run) -> None:
        run.evaluate(recorded=True)


@dataclass(frozen=True)
class Step:
    """One minibatch step, whatever the state (the app's ``n`` while paused)."""

    def apply(self, run: Run) -> None:
        run.step()


@dataclass(frozen=True)
class Pause:
    """Stop stepping until ``Resume``."""

    def apply(self, run: Run) -> None:
        if run.state == "running":
            run.note("pause")
            run.set_state("paused")


@dataclass(frozen=True)
class Resume:
    """Train on: after a pause, past a reached target, after a divergence (a new try), or past the
    configured epochs (which first grows them by as many again, and says so)."""

    def apply(self, run: Run) -> None:
        if run.state == "running":
            return
        if run.finished:  # past the configured epochs: as many again, and say so
            done = run.epochs_done
            total = min(done + run.budget, MAX_EPOCHS)
            Change({"epochs": total}, extended=total - done).apply(run)
        run.note("resume")
        run.set_state("running")


Command = Change | Reset | Load | Save | Evaluate | Step | Pause | Resume
