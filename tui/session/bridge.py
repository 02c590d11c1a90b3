"""The training worker: a thread that drives a ``model.run.Run``, and the app's handle on it.

The run core owns the run's life (settings, evaluation, best validation, target, divergence,
epochs, recording, saving); this module only crosses threads. UI -> worker: thread-safe methods
that put the core's commands (``model.run.commands``) on a ``queue.SimpleQueue``, plus two of
its own (a gradient check, a copy of the weights). The worker applies them between steps, so
nothing else touches the weights while a step runs. Pause is also an Event, so the UI knows at
once; the worker clears it when the run halts.

Worker -> UI: the run's events become the plain events of ``tui.session.events`` through ``post``
(a callback that must not block): one ``TrainProgress`` about every ``post_interval`` seconds
with the losses (and alignment angles) since the last one, never one per step. A paused worker
waits on an Event with a timeout and every loop checks the stop flag, so ``stop()`` returns
promptly. Leaves out Textual, widgets and drawing: it runs without an app.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.checkpoint import CheckpointError, save_checkpoint
from model.config import HyperParams
from model.mlp import MLP
from model.run import Change, Command, Evaluate, Load, Pause, Reset, Resume, Run, Save, Step
from model.run import events as ev
from model.trainer import RuleError, Trainer
from tui.errorlog import detail, log_error, summary
from tui.format import format_target
from tui.session.checks import GRADCHECK_BATCH, run_gradcheck
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
JOIN_TIMEOUT = 5.0
YIELD_SECONDS = 0.003  # the worker releases the GIL at least this often
RULE_ERROR_SECONDS = 30.0  # a gradient rule's own error (e.g. the student's backprop raised) stays this long
THREAD_NAME = "mnist-tui-trainer"
GRADCHECK_THREAD_NAME = "mnist-tui-gradcheck"


@dataclass(frozen=True)
class _GradCheck:
    """Run the gradient check on a copy of the live weights (on a thread of its own)."""


@dataclass(frozen=True)
class _Snapshot:
    """Post a copy of the live weights, tagged for whoever asked."""

    tag: str


#: What ``g`` runs: (a copy of the model, X, y, the stop flag) -> the reports.
GradCheck = Callable[[MLP, np.ndarray, np.ndarray, threading.Event], GradCheckDone]


class TrainingBridge:
    """Drives ``run`` on a worker thread and reports to ``post``; ``start`` starts the thread.

    ``gradcheck``: what ``g`` runs (default: the project's own backprop, ``run_gradcheck``; with
    ``--backprop`` the student's). A ``RuleError`` from the run's gradient rule (a student's backprop
    that raised or hung) pauses training with its one line as a ``Notice``.
    """

    def __init__(
        self,
        run: Run,
        post: Callable[[WorkerEvent], object],
        *,
        post_interval: float = POST_INTERVAL,
        gradcheck: GradCheck = run_gradcheck,
    ) -> None:
        self.run = run
        self._run_gradcheck = gradcheck
        self._post = post
        self._interval = post_interval
        self._commands: queue.SimpleQueue[Command | _GradCheck | _Snapshot] = queue.SimpleQueue()
        self._running = threading.Event()  # set while the run should step (the UI sees a pause at once)
        if run.state == "running":
            self._running.set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failed = False  # the last step raised: training stopped until the user resumes
        self._thread: threading.Thread | None = None
        self._gradcheck_thread: threading.Thread | None = None
        self._gradcheck_rng = np.random.default_rng(run.trainer.hp.seed)
        self.stats = Throughput()  # worker thread only
        self._last_post = -1e9
        self._last_yield = 0.0
        run.listen(self._on_run_event)

    @property
    def trainer(self) -> Trainer:
        return self.run.trainer

    # ---- lifecycle (UI thread) -------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            raise RuntimeError("bridge already started")
        self._thread = threading.Thread(target=self._main, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Stop training and join the threads (the run is closed: its record finished); True if none is left."""
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._gradcheck_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        """True while the worker (or a gradient check) is running."""
        return any(t is not None and t.is_alive() for t in (self._thread, self._gradcheck_thread))

    # ---- control (UI thread) -------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def gradcheck_running(self) -> bool:
        return self._gradcheck_thread is not None and self._gradcheck_thread.is_alive()

    @property
    def hp(self) -> HyperParams:
        """The settings as asked for (architecture fields included before a reset applies them)."""
        return self.run.desired

    def pause(self) -> None:
        self._running.clear()
        self._send(Pause())

    def resume(self) -> None:
        """Train on (past a finished run's epochs the run adds as many again, and says so)."""
        self._running.set()
        self._send(Resume())

    def set_field(self, name: str, value: Any) -> None:
        """Set hyperparameter ``name`` to ``value``; the worker applies it before its next step."""
        self._send(Change({name: value}))

    def step_once(self) -> None:
        """One minibatch step (only while paused)."""
        self._send(Step())

    def reset(self) -> None:
        """Fresh weights with the settings asked for (architecture included)."""
        self._send(Reset())

    def evaluate(self) -> None:
        self._send(Evaluate())

    def save(self, path: str) -> None:
        self._send(Save(path))

    def load(self, path: str) -> None:
        self._send(Load(path))

    def gradcheck(self) -> None:
        self._send(_GradCheck())

    def snapshot(self, tag: str = "") -> None:
        """Ask for a ``WeightsSnapshot`` (posted between two steps, also while paused)."""
        self._send(_Snapshot(tag))

    def _send(self, command: Command | _GradCheck | _Snapshot) -> None:
        self._commands.put(command)
        self._wake.set()

    def save_stopped(self, path: str) -> Path:
        """Save from the calling thread once ``stop()`` has joined the worker (quitting).

        RuntimeError if the worker is still running; CheckpointError if the file cannot be written.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("training did not stop in time")
        return save_checkpoint(path, self.run.snapshot())

    # ---- worker thread ---------------------------------------------------------------------
    def _main(self) -> None:
        self.run.recorder.set_warn(lambda text: self._post(Notice(text, "warning")))
        if self.run.state == "finished":  # resumed from a run that had done its epochs
            self._finished_notice(self.run.epochs_done, self.run.budget)
        recent: deque[float] = deque(maxlen=3)
        while not self._stop.is_set():
            try:
                self._loop()
            except RuleError as exc:  # the gradient rule's own code failed (one line): pause on it
                self._running.clear()
                self.run.apply(Pause())
                if self._stop.is_set() or exc.quiet:  # quitting: the rule was stopped on purpose
                    break
                self.run.note("rule_error", error=str(exc))
                self._post(Notice(str(exc), "error", timeout=RULE_ERROR_SECONDS))
            except Exception as exc:  # stop training, keep serving commands (save, load, reset)
                self._failed = True
                self._running.clear()
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
        while not self._stop.is_set():
            if not self._commands.empty():
                self._drain_commands()
            if self._running.is_set() and self.run.state == "running" and not self._failed:
                self.run.step()
                self._flush()
                self._yield_gil()
            else:
                self._wake.wait(PAUSE_WAIT)
                self._wake.clear()

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
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            self._do(command)

    def _do(self, command: Command | _GradCheck | _Snapshot) -> None:
        """Carry out one command; what the user can fix (a bad file, a bad value) is a notice."""
        if isinstance(command, _GradCheck):
            self._start_gradcheck()
        elif isinstance(command, _Snapshot):
            self._post_snapshot(command.tag)
        elif isinstance(command, Step) and self.run.state == "running" and self._running.is_set():
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
            (self._running.set if e.state == "running" else self._running.clear)()
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
            self._post(Evaluated(e.metrics, e.mistakes, self._status(), e.epoch_end))
        elif isinstance(e, ev.Diverged):
            self._post(Diverged(e.metrics.examples_seen, self._status()))
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
        self._post(RunReset(self.run.desired, self._status(), source))
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
        self._post(TrainProgress(examples, losses, self._status(), angles))

    def _status(self) -> TrainStatus:
        state = "stopped" if self._stop.is_set() or self._failed else self.run.state
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
        if self.gradcheck_running:
            return
        X, y = self.run.trainer.train
        idx = self._gradcheck_rng.choice(len(X), size=min(GRADCHECK_BATCH, len(X)), replace=False)
        thread = threading.Thread(
            target=self._gradcheck_main,
            args=(self.run.trainer.model.copy(), X[idx].copy(), y[idx].copy()),
            name=GRADCHECK_THREAD_NAME,
            daemon=True,
        )
        self._gradcheck_thread = thread
        thread.start()

    def _gradcheck_main(self, model: MLP, X: np.ndarray, y: np.ndarray) -> None:
        done = self._run_gradcheck(model, X, y, self._stop)
        reports = [*done.toy, *([done.live] if done.live is not None else [])]
        worst = max((p.max_rel_error for r in reports for p in r.params), default=None)
        passed = bool(reports) and all(r.passed for r in reports) and done.error is None
        self.run.note("gradcheck", passed=passed, checks=len(reports), max_rel_error=worst, error=done.error)
        self._post(done)
