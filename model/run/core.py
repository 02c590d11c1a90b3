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

States: running, paused, and the halts finished, target, diverged and solved (a listener
playing a challenge sets it: ``set_state``). Stepping is ``step()``; everything else is a
command (``model.run.commands``: each says what it does) given to ``apply``. Events
(``model.run.events``) go to every listener, on the driving thread, between two steps (and
``Closing`` as the run ends). The measuring (clock, evaluations, best, target, epoch lines) is ``Watch``'s
(``model.run.watch``). Leaves out threads (the app's ``tui.session.bridge``), printing and how
a run is started (``model.run.start``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from model.config import ARCHITECTURE_FIELDS, SPECS, HyperParams
from model.run import events as ev
from model.run.figures import Best, RunFigures, RunOutcome
from model.run.watch import Watch
from model.runs.writer import RunRecorder
from model.state import RunState
from model.target import TargetReport
from model.trainer import EvalMetrics, StepMetrics, Trainer

#: States a run stops stepping in by itself ("solved": a listener playing a challenge halted it).
HALTS = frozenset({"finished", "target", "diverged", "solved"})


@dataclass(frozen=True)
class Policy:
    """How a run is watched: ``eval_every`` steps between evaluations besides the epoch ends (0:
    epoch ends only); ``eval_examples``: also evaluate after a step that crosses a multiple of
    this many examples on the weights being trained (0: never; a challenge's cadence, which a
    change of batch size keeps); ``keep_best``: closing leaves the weights of the best validation
    evaluation (the study's early stopping); ``mistakes``: evaluations also collect the
    misclassified test digits (the app's viewer). Recorded in run.json; a replay uses the same."""

    eval_every: int = 0
    keep_best: bool = False
    mistakes: bool = False
    eval_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        every = d.get("eval_examples")
        examples = every if isinstance(every, int) and not isinstance(every, bool) and every > 0 else 0
        return cls(int(d.get("eval_every") or 0), bool(d.get("keep_best")), bool(d.get("mistakes")), examples)

    def due(self, m: StepMetrics) -> bool:
        """True if the step ``m`` calls for an evaluation besides an epoch's end."""
        if self.eval_every and m.step % self.eval_every == 0:
            return True
        every = self.eval_examples
        return every > 0 and m.examples_seen // every > (m.examples_seen - m.batch_size) // every


class Command(Protocol):
    """What a run can be told: one of ``model.run.commands``, which says what it does to a run."""

    def apply(self, run: Run) -> None: ...


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
        self._listeners: list[Callable[[ev.RunEvent], object]] = []
        self.watch = Watch(trainer, self.recorder, self.emit, self.set_state, self.policy.mistakes)
        self._begin(figures or RunFigures(best=Best(self.policy.keep_best)))
        if self.finished:  # resumed from a run that has done its epochs: it opens finished, N / N
            self.state = "finished"

    def _begin(self, figures: RunFigures) -> None:
        """Start counting afresh: at construction, after a reset or a load."""
        self.watch.begin(figures)
        self.budget = self.trainer.hp.epochs  # what a Resume past the end adds

    @property
    def figures(self) -> RunFigures:
        """What the run has shown so far (clock, latest and best errors, epoch lines)."""
        return self.watch.figures

    @property
    def target(self) -> TargetReport | None:
        """Where the run got below its current target error (None: not yet, or no target)."""
        return self.watch.target

    # ---- what the run is --------------------------------------------------------------------
    def listen(self, listener: Callable[[ev.RunEvent], object]) -> None:
        """Hand every event to ``listener`` from now on (called on the driving thread)."""
        self._listeners.append(listener)

    def emit(self, event: ev.RunEvent) -> None:
        """Hand ``event`` to every listener, in order."""
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

    # ---- commands ---------------------------------------------------------------------------
    def apply(self, command: Command) -> None:
        """Carry out ``command`` between two steps (see ``model.run.commands`` for what each does)."""
        self.watch.clock_on(False)  # the time until the next step is not training
        command.apply(self)

    def set_state(self, state: str) -> None:
        """The run is now in ``state`` (its listeners hear of a change)."""
        if state != self.state:
            self.state = state
            self.emit(ev.StateChanged(state))

    def restart(self, event: ev.Restarted, figures: RunFigures) -> None:
        """New weights or a loaded run (``event`` says which): count afresh from ``figures``; a
        halted run is paused now, or finished when the loaded run has done its epochs."""
        self._begin(figures)
        self.emit(event)
        if self.state != "running":
            self.set_state("paused")
        if self.finished:
            self.set_state("finished")

    def snapshot(self, **meta: Any) -> RunState:
        """The run as a checkpoint holds it (its figures, and ``meta``); live arrays: write before the next step."""
        return self.trainer.run_state(self.figures.meta() | meta)

    def evaluate(self, recorded: bool = False) -> EvalMetrics:
        """Evaluate every set now; ``recorded``: as the ``Evaluate`` command, a line in the record
        (not: a driver's own look, e.g. after a reset)."""
        if recorded:
            self.note("evaluate")
        return self.watch.evaluate(epoch_end=False)

    def note(self, event: str, **fields: Any) -> None:
        """Record ``event`` with its fields at the current step (a command, or what changes no number:
        a gradient check, which code trains)."""
        s = self.trainer.state
        self.recorder.event(event, s.step, s.examples_seen, **fields)

    # ---- stepping ---------------------------------------------------------------------------
    def train(self, stop: Callable[[], bool] | None = None) -> None:
        """Step while the run is running (until it halts or is paused), and ``stop()`` is not true."""
        while self.state == "running" and not (stop is not None and stop()):
            self.step()

    def step(self) -> StepMetrics:
        """One minibatch step; at an epoch's end (and every ``eval_every`` steps) an evaluation."""
        watch, trainer = self.watch, self.trainer
        m = watch.timed_step()
        if m.diverged:
            self.note("diverged", loss=m.loss, lr=m.lr, restored=True)
            self.set_state("diverged")
            self.emit(ev.Diverged(m))
        if trainer.state.position >= len(trainer.order):  # this step finished an epoch
            watch.close_epoch(watch.evaluate(epoch_end=True))
            if self.finished and self.state in ("running", "paused"):  # not over another halt
                self.set_state("finished")
                self.emit(ev.Finished(self.epochs_done, self.budget))
        elif self.policy.due(m):
            watch.evaluate(epoch_end=False)
        watch.clock_on(self.state == "running")
        return m

    # ---- the end ----------------------------------------------------------------------------
    def close(self, status: str | None = None) -> RunOutcome:
        """End the run: the line of an epoch cut short by an evaluation at this step (a target;
        after a divergence the restored weights are evaluated for it), the best weights back with
        ``keep_best``, the record finished (its final checkpoint written). ``status`` (default:
        the state) is what the record says."""
        status = status or (self.state if self.state in HALTS else "stopped")
        self.watch.close(evaluate=self.state == "diverged")
        self.emit(ev.Closing(status))
        best = self.figures.best
        if self.policy.keep_best and best.params:
            self.trainer.model.set_params(best.params)
        meta = self.figures.meta() | ({"weights": "best validation evaluation"} if self.policy.keep_best else {})
        self.recorder.finish(self.trainer, status, meta)
        return self.watch.outcome(status)
