"""``Run``: one training run's life, driven by commands, reporting events.

A run owns a ``Trainer`` and everything around its steps: the settings asked for (``desired``)
beside the ones the trainer uses (``trainer.hp``, the applied copy: architecture fields wait for
a reset), evaluation at every epoch end (and every ``Policy.eval_every`` steps), the best
validation error and the test error there, the target error, divergence (the trainer refuses the
step and restores its last good weights; the run halts), epoch accounting (a run that has done
its epochs is *finished*, also one resumed from a finished checkpoint), the training clock, the
run record (every command that changes the numbers is recorded with the step it followed) and
saving. The app's worker, ``train``, every study run and ``replay`` all drive this one object,
so a replay is the same code fed the recorded commands.

States: running, paused, and the halts finished, target and diverged. Stepping is ``step()``;
everything else is a command (``model.run.commands``) given to ``apply``. Events
(``model.run.events``) go to every listener, on the driving thread, between two steps.
Leaves out threads (the app's ``tui.session.bridge``), printing and how a run is started
(``model.run.start``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import ARCHITECTURE_FIELDS, SPECS, HyperParams
from model.run import commands as cmd
from model.run import events as ev
from model.run.figures import Best, EpochRecord, RunFigures, RunOutcome
from model.runs.writer import RunRecorder
from model.target import TargetReport, below_target
from model.trainer import EvalMetrics, StepMetrics, Trainer

HALTS = frozenset({"finished", "target", "diverged"})
MAX_EPOCHS = int(SPECS["epochs"].high or 0)


@dataclass(frozen=True)
class Policy:
    """How a run is watched: ``eval_every`` steps between evaluations besides the epoch ends (0:
    epoch ends only); ``keep_best``: closing leaves the weights of the best validation
    evaluation (the study's early stopping); ``mistakes``: evaluations also collect the
    misclassified test digits (the app's viewer). Recorded in run.json; a replay uses the same."""

    eval_every: int = 0
    keep_best: bool = False
    mistakes: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        return cls(int(d.get("eval_every") or 0), bool(d.get("keep_best")), bool(d.get("mistakes")))


class Run:
    """One run of ``trainer``: ``apply`` commands, ``step``, ``close`` once at the end.

    ``recorder``: where the run is recorded (None: nowhere). ``figures``: the figures to go on
    from (a resumed run's). ``paused``: start paused rather than running.
    """

    def __init__(
        self,
        trainer: Trainer,
        *,
        policy: Policy | None = None,
        recorder: RunRecorder | None = None,
        figures: RunFigures | None = None,
        paused: bool = False,
    ) -> None:
        self.trainer = trainer
        self.policy = policy or Policy()
        self.recorder = recorder if recorder is not None else RunRecorder(None)
        self.desired: HyperParams = trainer.hp  # what was asked for; trainer.hp is what is applied
        self.state = "paused" if paused else "running"
        self._clock = time.perf_counter
        self._listeners: list[Callable[[ev.RunEvent], object]] = []
        self._handlers: dict[type, Callable[[Any], object]] = {
            cmd.Change: lambda c: self._change(c.changes),
            cmd.Reset: lambda c: self._reset(),
            cmd.Load: lambda c: self._load(c.path),
            cmd.Save: lambda c: self._save(c.path),
            cmd.Evaluate: lambda c: self._user_evaluate(),
            cmd.Step: lambda c: self.step(),
            cmd.Pause: lambda c: self._pause(),
            cmd.Resume: lambda c: self._resume(),
        }
        self._begin(figures or RunFigures(best=Best(self.policy.keep_best)))
        if self.finished:  # resumed from a run that has done its epochs: it opens finished, N / N
            self.state = "finished"

    def _begin(self, figures: RunFigures) -> None:
        """Start counting afresh: at construction, after a reset or a load."""
        self.figures = figures
        self.target: TargetReport | None = None  # where the run got below its current target
        self.budget = self.trainer.hp.epochs  # what a Resume past the end adds
        self._seconds0 = figures.train_seconds
        self._examples0 = self.trainer.state.examples_seen
        self._wall0 = self._clock()
        self._last_end: float | None = None  # end of the previous step while training runs on
        self._last_eval: EvalMetrics | None = None

    # ---- what the run is --------------------------------------------------------------------
    def listen(self, listener: Callable[[ev.RunEvent], object]) -> None:
        """Hand every event to ``listener`` from now on (called on the driving thread)."""
        self._listeners.append(listener)

    def _emit(self, event: ev.RunEvent) -> None:
        for listener in self._listeners:
            listener(event)

    @property
    def pending(self) -> tuple[str, ...]:
        """Architecture fields (in ``SPECS`` order) asked for but not yet applied: they need a reset."""
        applied = self.trainer.hp
        return tuple(n for n in SPECS if n in ARCHITECTURE_FIELDS and getattr(self.desired, n) != getattr(applied, n))

    @property
    def epochs_done(self) -> int:
        """Whole epochs trained."""
        return self.trainer.state.examples_seen // len(self.trainer.order)

    @property
    def finished(self) -> bool:
        """The configured epochs are done."""
        return self.epochs_done >= self.trainer.hp.epochs

    def meta(self) -> dict[str, Any]:
        """The figures a checkpoint of this run carries."""
        return self.figures.meta()

    # ---- commands ---------------------------------------------------------------------------
    def apply(self, command: cmd.Command) -> None:
        """Carry out ``command`` between two steps (see ``model.run.commands`` for what each does)."""
        self._last_end = None  # the time until the next step is not training
        self._handlers[type(command)](command)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._emit(ev.StateChanged(state))

    def _pause(self) -> None:
        if self.state == "running":
            self._note("pause")
            self._set_state("paused")

    def _resume(self) -> None:
        if self.state == "running":
            return
        if self.finished:  # past the configured epochs: as many again, and say so
            done = self.epochs_done
            total = min(done + self.budget, MAX_EPOCHS)
            self._change({"epochs": total}, extended=total - done)
        self._note("resume")
        self._set_state("running")

    def _change(self, changes: dict[str, Any], extended: int = 0) -> None:
        desired = self.desired.validated(**changes)  # ValueError (one line) leaves everything as it was
        training = {k: getattr(desired, k) for k in SPECS if k not in ARCHITECTURE_FIELDS}
        applied = self.trainer.hp.validated(**training)
        old, s = self.desired, self.trainer.state
        diff = {k: v for k, v in desired.to_dict().items() if getattr(old, k) != v}
        self.desired = desired
        if applied != self.trainer.hp:
            self.trainer.set_hparams(applied)
        self.recorder.hparams(old, desired, s.step, s.examples_seen)  # applies from the step after s.step
        if {"variant", "sigma", "stale_k"} & diff.keys():
            self.figures.last_angles = None  # they measured the old rule
        if "target_error" in diff:
            self.target = None  # a new target: what the old one took is no longer the news
            if self.state == "target":  # halted at the old target: train on towards the new one
                self._set_state("running")
        if diff:
            self._emit(ev.Changed(s.step, s.examples_seen, diff, desired, self.pending, extended))

    def _reset(self) -> None:
        after = self.trainer.state.step  # a replay resets after this many steps
        self.trainer.reset(self.desired)
        self._note("reset", after_step=after, hparams=self.desired.to_dict())
        self._restarted(ev.Restarted("reset"), RunFigures(best=Best(self.policy.keep_best)))

    def _load(self, path: str) -> None:
        after = self.trainer.state.step  # a replay loads after this many steps
        state = load_checkpoint(path)  # CheckpointError: nothing has changed
        try:
            self.trainer.resume(state)
        except ValueError as exc:  # made for other data or outputs
            raise CheckpointError(f"checkpoint {path} {exc}") from None
        self.desired = self.trainer.hp
        where = Path(path).resolve()
        self._note("load", after_step=after, path=str(where), sha256=state.sha256, hparams=self.desired.to_dict())
        self._restarted(ev.Restarted("load", where, state.meta), RunFigures.restore(state.meta, self.policy.keep_best))

    def _restarted(self, event: ev.Restarted, figures: RunFigures) -> None:
        self._begin(figures)
        self._emit(event)
        if self.state != "running":
            self._set_state("paused")
        if self.finished:
            self._set_state("finished")

    def _save(self, path: str) -> None:
        self._emit(ev.Saved(save_checkpoint(path, self.trainer.run_state(self.meta()))))

    def _user_evaluate(self) -> None:
        self._note("evaluate")
        self._evaluate(epoch_end=False)

    def evaluate(self) -> EvalMetrics:
        """Evaluate every set now, unrecorded as a command (a driver's own look, e.g. after a reset)."""
        return self._evaluate(epoch_end=False)

    def _note(self, event: str, **fields: Any) -> None:
        s = self.trainer.state
        self.recorder.event(event, s.step, s.examples_seen, **fields)

    def note(self, event: str, **fields: Any) -> None:
        """Record ``event`` (something that changes no number, e.g. a gradient check) at the current step."""
        self._note(event, **fields)

    # ---- stepping ---------------------------------------------------------------------------
    def train(self, stop: Callable[[], bool] | None = None) -> None:
        """Step while the run is running (until it halts or is paused), and ``stop()`` is not true."""
        while self.state == "running" and not (stop is not None and stop()):
            self.step()

    def step(self) -> StepMetrics:
        """One minibatch step; at an epoch's end (and every ``eval_every`` steps) an evaluation.

        Training time counts the step and the driver's own work since the previous step while
        the run goes on; evaluation, pauses and commands are left out.
        """
        figures = self.figures
        t0 = self._clock()
        if self._last_end is not None:
            figures.train_seconds += t0 - self._last_end
            figures.epoch_seconds += t0 - self._last_end
        m = self.trainer.step()
        if not m.diverged:
            figures.stepped(m)
        self.recorder.step(m)
        self._emit(ev.Stepped(m))
        took = self._clock() - t0
        figures.train_seconds += took
        figures.epoch_seconds += took
        trainer = self.trainer
        if m.diverged:
            self._note("diverged", loss=m.loss, lr=m.lr, restored=True)
            self._set_state("diverged")
            self._emit(ev.Diverged(m))
        if trainer.state.position >= len(trainer.order):  # this step finished an epoch
            self._end_epoch()
        elif self.policy.eval_every and m.step % self.policy.eval_every == 0:
            self._evaluate(epoch_end=False)
        self._last_end = self._clock() if self.state == "running" else None
        return m

    def _end_epoch(self) -> None:
        metrics = self._evaluate(epoch_end=True)
        self._close_epoch(metrics)
        if self.finished and self.state not in ("target", "diverged"):
            self._set_state("finished")
            self._emit(ev.Finished(self.epochs_done, self.budget))

    def _evaluate(self, epoch_end: bool) -> EvalMetrics:
        """Evaluate every set; the train figures are the steps' own (over the epoch at its end)."""
        trainer, figures = self.trainer, self.figures
        names = tuple(trainer.eval_sets)
        metrics, wrong = trainer.evaluate_with_mistakes(names, "test" if self.policy.mistakes else None)
        running = figures.eval_rows.take()
        if epoch_end:
            running = figures.epoch_rows.take() or running
        if running is not None:
            metrics = replace(metrics, results={"train": running, **metrics.results})
        if "valid" in metrics.results:
            figures.valid_error = metrics.error("valid")
        best = figures.best.update(metrics, trainer.epoch_float, trainer.model.params)
        self._last_eval = metrics
        self.recorder.evaluation(metrics, trainer, epoch_end)
        self._check_target(metrics)  # first: the evaluation's listeners see the run as it now is
        self._emit(ev.Evaluated(metrics, epoch_end, wrong, best))
        return metrics

    def _check_target(self, metrics: EvalMetrics) -> None:
        """Halt at the first evaluation below the target (once per target value)."""
        target = self.trainer.hp.target_error
        if (self.target is not None and self.target.error == target) or not below_target(target, metrics):
            return
        seconds = self.figures.train_seconds - self._seconds0
        wall = self._clock() - self._wall0
        self.target = TargetReport.hit(target, metrics, self.trainer.epoch_float, seconds, wall)
        self.recorder.event(
            "target", metrics.step, metrics.examples_seen, target=target, valid_error=self.target.valid_error,
            seconds=round(seconds, 3),
        )  # fmt: skip
        self._set_state("target")
        self._emit(ev.TargetReached(self.target))

    def _close_epoch(self, metrics: EvalMetrics) -> None:
        """The epoch's line, from ``metrics`` (an evaluation at this step)."""
        trainer, figures = self.trainer, self.figures
        errors = {name: err for name, (_, err) in metrics.results.items()}
        errors.setdefault("train", float("nan"))
        loss = metrics.results["train"][0] if "train" in metrics.results else float("nan")
        record = EpochRecord(trainer.epoch_float, trainer.state.step, loss, errors, figures.epoch_seconds, trainer.lr)
        figures.history.append(record)
        figures.epoch_seconds = 0.0
        self._emit(ev.EpochEnded(record))

    # ---- the end ----------------------------------------------------------------------------
    def close(self, status: str | None = None) -> RunOutcome:
        """End the run: the line of an epoch cut short by an evaluation at this step (a target;
        after a divergence the restored weights are evaluated for it), the best weights back with
        ``keep_best``, the record finished (its final checkpoint written). ``status`` (default:
        the state) is what the record says."""
        trainer, figures = self.trainer, self.figures
        status = status or (self.state if self.state in HALTS else "stopped")
        last = self._last_eval
        if self.state == "diverged" and (last is None or last.step != trainer.state.step):
            last = self._evaluate(epoch_end=False)  # the restored weights, for the epoch's line
        if last is not None and last.step == trainer.state.step and figures.epoch_rows.steps:
            running = figures.epoch_rows.take()
            if running is not None:
                last = replace(last, results={**last.results, "train": running})
            self._close_epoch(last)
        if self.policy.keep_best and figures.best.params:
            trainer.model.set_params(figures.best.params)
        meta = self.meta() | ({"weights": "best validation evaluation"} if self.policy.keep_best else {})
        self.recorder.finish(trainer, status, meta)
        return self._outcome(status)

    def _outcome(self, status: str) -> RunOutcome:
        figures, nan = self.figures, float("nan")
        final = figures.history[-1] if figures.history else None
        seconds = figures.train_seconds - self._seconds0
        examples = self.trainer.state.examples_seen - self._examples0
        best = figures.best
        return RunOutcome(
            epochs=self.trainer.epoch_float,
            steps=self.trainer.state.step,
            seconds=seconds,
            examples_per_second=examples / max(seconds, 1e-9),
            train_loss=final.train_loss if final else nan,
            train_error=final.errors.get("train", nan) if final else nan,
            valid_error=final.errors.get("valid", nan) if final else nan,
            test_error=final.errors.get("test", nan) if final else nan,
            best_epoch=best.epoch,
            best_valid_error=nan if best.valid_error is None else best.valid_error,
            test_error_at_best=nan if best.test_error is None else best.test_error,
            status=status,
            history=list(figures.history),
            target=self.target
            or (TargetReport(self.trainer.hp.target_error) if self.trainer.hp.target_error else None),
        )
