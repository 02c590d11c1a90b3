"""The training thread's side of the app's worker: it drives a ``model.run.Run`` and reports.

``Worker.main`` is the thread's body: between two steps it carries out the commands the UI queued
(the run core's, and its own: a gradient check, a copy of the weights), steps while the run runs,
and turns the run's events into the plain events of ``tui.session.events`` through ``post`` (a
callback that must not block): one ``TrainProgress`` about every ``post_interval`` seconds with
the losses (and alignment angles) since the last one, never one per step. A paused worker waits
on an Event with a timeout and every loop checks the stop flag, so a stop is prompt. Leaves out
the UI thread's handle (``tui.session.bridge.TrainingBridge``), Textual and drawing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.checkpoint import CheckpointError
from model.mlp import MLP
from model.run import Command, Load, Pause, Reset, Resume, Run, Step
from model.run import events as ev
from model.trainer import RuleError
from tui.errorlog import detail, log_error, summary
from tui.format import format_target
from tui.session.checks import GRADCHECK_BATCH
from tui.session.events import (
    CheckpointSaved,
    Diverged,
    Evaluated,
    GradCheckDone,
    HParamsApplied,
    Notice,
    RunReset,
    TrainProgress,
    TrainStatus,
    WeightsSnapshot,
    WorkerEvent,
    WorkerFailed,
)
from tui.session.stats import Throughput, status_of

POST_INTERVAL = 0.1  # s between progress messages while training
PAUSE_WAIT = 0.05  # s a paused worker sleeps before it looks for commands again
YIELD_SECONDS = 0.003  # the worker releases the GIL at least this often
RULE_ERROR_SECONDS = 30.0  # a gradient rule's own error (e.g. the student's backprop raised) stays this long
GRADCHECK_THREAD_NAME = "mnist-tui-gradcheck"

#: What ``g`` runs: (a copy of the model, X, y, the stop flag) -> the reports.
GradCheck = Callable[[MLP, np.ndarray, np.ndarray, threading.Event], GradCheckDone]


@dataclass(frozen=True)
class GradCheckCommand:
    """Run the gradient check on a copy of the live weights (on a thread of its own)."""


@dataclass(frozen=True)
class SnapshotCommand:
    """Post a copy of the live weights, tagged for whoever asked."""

    tag: str


Queued = Command | GradCheckCommand | SnapshotCommand


class Worker:
    """Drives ``run`` between the UI's commands and reports to ``post`` (``main`` on its own thread)."""

    def __init__(
        self, run: Run, post: Callable[[WorkerEvent], object], gradcheck: GradCheck, post_interval: float
    ) -> None:
        self.run = run
        self._post = post
        self._run_gradcheck = gradcheck
        self._interval = post_interval
        self.commands: queue.SimpleQueue[Queued] = queue.SimpleQueue()
        self.running = threading.Event()  # set while the run should step (the UI sees a pause at once)
        if run.state == "running":
            self.running.set()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._failed = False  # the last step raised: training stopped until the user resumes
        self.gradcheck_thread: threading.Thread | None = None
        self._gradcheck_rng = np.random.default_rng(run.trainer.hp.seed)
        self.stats = Throughput()
        self._last_post = -1e9
        self._last_yield = 0.0
        run.listen(self._on_run_event)

    def send(self, command: Queued) -> None:
        """Queue ``command`` for the next pause between two steps (any thread)."""
        self.commands.put(command)
        self.wake.set()

    def main(self) -> None:
        """The thread's body: until stopped, commands and steps; then the run is closed (its record finished)."""
        self.run.recorder.set_warn(lambda text: self._post(Notice(text, "warning")))
        if self.run.state == "finished":  # resumed from a run that had done its epochs
            self._finished_notice(self.run.epochs_done, self.run.budget)
        recent: deque[float] = deque(maxlen=3)
        while not self.stopping.is_set():
            try:
                self._loop()
            except RuleError as exc:  # the gradient rule's own code failed (one line): pause on it
                self.running.clear()
                self.run.apply(Pause())
                if self.stopping.is_set() or exc.quiet:  # quitting: the rule was stopped on purpose
                    break
                self.run.note("rule_error", error=str(exc))
                self._post(Notice(str(exc), "error", timeout=RULE_ERROR_SECONDS))
            except Exception as exc:  # stop training, keep serving commands (save, load, reset)
                self._failed = True
                self.running.clear()
                log = log_error("training worker", exc)
                self._post(WorkerFailed(summary(exc), detail(exc), str(log) if log else None))
                recent.append(time.monotonic())
                if len(recent) == recent.maxlen and recent[-1] - recent[0] < 1.0:
                    self._post(Notice("the training worker keeps failing and has stopped", "error"))
                    break  # failing without any command in between: give up rather than spin
        self._flush(force=True)
        self.run.close()

    def _loop(self) -> None:
        self._flush(force=True)
        while not self.stopping.is_set():
            if not self.commands.empty():
                self._drain_commands()
            if self.running.is_set() and self.run.state == "running" and not self._failed:
                self.run.step()
                self._flush()
                self._yield_gil()
            else:
                self.wake.wait(PAUSE_WAIT)
                self.wake.clear()

    def _yield_gil(self) -> None:
        """Let the UI thread run every ``YIELD_SECONDS``: small models keep the worker in Python
        code (holding the GIL) nearly all the time, which would starve the event loop."""
        now = time.perf_counter()
        if now - self._last_yield >= YIELD_SECONDS:
            self._last_yield = now
            time.sleep(0)

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            self._do(command)

    def _do(self, command: Queued) -> None:
        """Carry out one command; what the user can fix (a bad file, a bad value) is a notice."""
        if isinstance(command, GradCheckCommand):
            self._start_gradcheck()
        elif isinstance(command, SnapshotCommand):
            self._post_snapshot(command.tag)
        elif isinstance(command, Step) and self.run.state == "running" and self.running.is_set():
            return  # one step is for a paused run
        else:
            if isinstance(command, Resume):
                self._failed = False  # a retry
            try:
                self.run.apply(command)
            except (CheckpointError, ValueError) as exc:
                self._post(Notice(str(exc), "error"))
                return
            if isinstance(command, Reset | Load):
                self.run.evaluate()  # the digits and errors of the old weights are gone
            self._flush(force=isinstance(command, Step))

    # ---- the run's events, as the app's ----------------------------------------------------
    def _on_run_event(self, e: ev.RunEvent) -> None:
        """Turn the run's event into what the app shows (worker thread)."""
        if isinstance(e, ev.Stepped):
            self.stats.add(e.metrics)
        elif isinstance(e, ev.StateChanged):
            (self.running.set if e.state == "running" else self.running.clear)()
            self._flush(force=True)
        elif isinstance(e, ev.Changed):
            self._changed(e)
        elif isinstance(e, ev.Restarted):
            self._restarted(e)
        else:
            self._reported(e)

    def _reported(self, e: ev.RunEvent) -> None:
        if isinstance(e, ev.Evaluated):
            self._flush(force=True)  # the losses before the evaluation go out first
            self._post(Evaluated(e.metrics, e.mistakes, self.status(), e.epoch_end))
        elif isinstance(e, ev.Diverged):
            self._post(Diverged(e.metrics.examples_seen, self.status()))
        elif isinstance(e, ev.Finished):
            self._finished_notice(e.epochs, e.more)
        elif isinstance(e, ev.TargetReached):
            self._post(Notice(f"{format_target(e.report)}; space trains on", timeout=10))
        elif isinstance(e, ev.Saved):
            self._post(CheckpointSaved(str(e.path)))

    def _changed(self, e: ev.Changed) -> None:
        self._flush(force=True)  # losses so far belong to the old settings
        if e.extended:
            self._post(Notice(f"training {e.extended} more epoch{'s' * (e.extended != 1)}, to {e.desired.epochs}"))
        self._post(HParamsApplied(e.examples, e.changes, e.desired, e.pending))

    def _restarted(self, e: ev.Restarted) -> None:
        self.stats.clear()
        source = "reset" if e.source == "reset" else f"loaded {e.path.name if e.path else 'a checkpoint'}"
        self._post(RunReset(self.run.desired, self.status(), source))
        self._flush(force=True)

    def _finished_notice(self, epochs: int, more: int) -> None:
        self._post(
            Notice(f"finished {epochs} epoch{'s' * (epochs != 1)}; space trains {more} more (to {epochs + more})")
        )

    def _flush(self, force: bool = False) -> None:
        """Post the losses gathered since the last post (at most every ``post_interval``)."""
        now = time.perf_counter()
        if not force and now - self._last_post < self._interval:
            return
        self._last_post = now
        examples, losses, angles = self.stats.take(self.run)
        self._post(TrainProgress(examples, losses, self.status(), angles))

    def status(self) -> TrainStatus:
        state = "stopped" if self.stopping.is_set() or self._failed else self.run.state
        return status_of(self.run, state, self.stats.rate)

    # ---- looking at the weights (worker thread) --------------------------------------------
    def _post_snapshot(self, tag: str) -> None:
        trainer = self.run.trainer
        rule = trainer.variant
        feedback = getattr(rule, "feedback", None)
        if feedback is None and getattr(rule, "ring", None) is not None:
            ring = rule.ring  # type: ignore[attr-defined]  # stale: the W2 the next backward pass will use
            feedback = ring[(rule.t + 1) % len(ring)]  # type: ignore[attr-defined]
        self._post(
            WeightsSnapshot(
                {k: v.copy() for k, v in trainer.model.params.items()},
                trainer.hp,
                trainer.state.examples_seen,
                None if feedback is None else np.array(feedback, copy=True),
                tag,
            )
        )

    def _start_gradcheck(self) -> None:
        if self.gradcheck_thread is not None and self.gradcheck_thread.is_alive():
            return
        X, y = self.run.trainer.train
        idx = self._gradcheck_rng.choice(len(X), size=min(GRADCHECK_BATCH, len(X)), replace=False)
        thread = threading.Thread(
            target=self._gradcheck_main,
            args=(self.run.trainer.model.copy(), X[idx].copy(), y[idx].copy()),
            name=GRADCHECK_THREAD_NAME,
            daemon=True,
        )
        self.gradcheck_thread = thread
        thread.start()

    def _gradcheck_main(self, model: MLP, X: np.ndarray, y: np.ndarray) -> None:
        done = self._run_gradcheck(model, X, y, self.stopping)
        reports = [*done.toy, *([done.live] if done.live is not None else [])]
        worst = max((p.max_rel_error for r in reports for p in r.params), default=None)
        passed = bool(reports) and all(r.passed for r in reports) and done.error is None
        self.run.note("gradcheck", passed=passed, checks=len(reports), max_rel_error=worst, error=done.error)
        self._post(done)
