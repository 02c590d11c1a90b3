"""The training worker: one thread that steps the Trainer, and the app's handle on it.

UI -> worker: thread-safe methods of ``TrainingBridge``. Commands (step, reset,
evaluate, save, load, gradcheck) go through a ``queue.SimpleQueue``; a hyperparameter
change (one field, already validated where it was typed) updates ``hp`` under a lock;
pause is an Event. The worker picks all of them up between steps, so every step sees
one consistent set of hyperparameters and nothing else touches the weights while a step runs.

Worker -> UI: the plain events of ``tui.session.events`` through ``post`` (a callback that
must not block): one ``TrainProgress`` about every ``post_interval`` seconds with the
losses (and the alignment angles the trainer measures) since the last one, never one per
step. A paused worker waits on an Event with a timeout and every loop checks the stop flag,
so ``stop()`` returns promptly. Leaves out Textual, widgets and drawing: it runs without an app.

A target validation error (``hp.target_error``) pauses the run at the first evaluation below it
(state "target", a ``Notice`` and a ``target`` event in the record); the status keeps saying
so. Resuming trains on without stopping at that target again; changing the target while paused
there trains on towards the new one.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model.checkpoint import CheckpointError, save_checkpoint
from model.config import SPECS, HyperParams
from model.mlp import MLP
from model.runs import RunRecorder
from model.target import TargetReport, below_target
from model.trainer import EvalMetrics, RuleError, StepMetrics, Trainer
from model.variants import VARIANT_OPTIONS
from tui.errorlog import detail, log_error, summary
from tui.session.checkpoints import apply_checkpoint
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
from tui.session.stats import RunStats

POST_INTERVAL = 0.1  # s between progress messages while training
PAUSE_WAIT = 0.05  # s a paused worker sleeps before it looks for commands again
JOIN_TIMEOUT = 5.0
YIELD_SECONDS = 0.003  # the worker releases the GIL at least this often
RULE_ERROR_SECONDS = 30.0  # a gradient rule's own error (e.g. the student's backprop raised) stays this long
THREAD_NAME = "mnist-tui-trainer"
GRADCHECK_THREAD_NAME = "mnist-tui-gradcheck"


class TrainingBridge:
    """Runs ``trainer`` on a worker thread and reports to ``post``.

    ``start_paused``: begin paused (the first ``resume`` starts training).
    ``clock``: seconds for throughput and elapsed time (tests may fake it).
    ``meta``: the figures a resumed checkpoint carried (clock, best validation error).
    ``recorder``: writes the run record (steps, evaluations, every change with its step) on the
    worker thread; its warnings become ``Notice``s; it is finished (checkpoint) when the worker ends.
    ``gradcheck``: what ``g`` runs, (model copy, X, y, stop) -> GradCheckDone (default: the
    project's own backprop, ``run_gradcheck``). A ``RuleError`` from the trainer's gradient rule
    (a student's backprop that raised or hung) pauses training with its one line as a ``Notice``.
    """

    def __init__(
        self,
        trainer: Trainer,
        post: Callable[[WorkerEvent], object],
        *,
        start_paused: bool = False,
        post_interval: float = POST_INTERVAL,
        clock: Callable[[], float] = time.perf_counter,
        meta: dict[str, Any] | None = None,
        recorder: RunRecorder | None = None,
        gradcheck: Callable[[MLP, np.ndarray, np.ndarray, threading.Event], GradCheckDone] = run_gradcheck,
    ) -> None:
        self.trainer = trainer
        self._run_gradcheck = gradcheck
        self.recorder = recorder
        self._post = post
        self._interval = post_interval
        self._clock = clock
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._hp_lock = threading.Lock()
        self._hp = trainer.hp  # what the user asked for; the worker hands it to the trainer
        self._hp_changed = False
        self._run = threading.Event()  # set while training should run
        if not start_paused:
            self._run.set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._halt: str | None = None  # "diverged", "finished", "target" or "stopped" while paused for that reason
        self._target: TargetReport | None = None  # where the run got below its target (None: not yet)
        self._clock_start = clock()  # of this run (reset and load start another): the target's wall time
        self._epoch_budget = trainer.hp.epochs  # what continuing after "finished" adds
        self._extended = 0  # epochs the last resume added (announced by the worker)
        self._thread: threading.Thread | None = None
        self._gradcheck_thread: threading.Thread | None = None
        self._gradcheck_rng = np.random.default_rng(trainer.hp.seed)
        self.stats = RunStats()  # worker thread only
        self.stats.clear(meta)
        self._last_post = -1e9
        self._last_yield = 0.0

    # ---- lifecycle (UI thread) -------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            raise RuntimeError("bridge already started")
        self._thread = threading.Thread(target=self._main, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Stop training and join the threads; True if none is left running."""
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
        return not self._run.is_set()

    @property
    def gradcheck_running(self) -> bool:
        return self._gradcheck_thread is not None and self._gradcheck_thread.is_alive()

    @property
    def hp(self) -> HyperParams:
        """The hyperparameters as the user set them (the next step uses them)."""
        return self._hp

    def pause(self) -> None:
        self._run.clear()
        self._wake.set()

    def resume(self) -> None:
        """Train on. After the run finished its epochs, this first extends the budget by as many
        epochs again (an ``HParamsApplied`` and a ``Notice`` say so)."""
        done = self.trainer.state.examples_seen // len(self.trainer.order)  # whole epochs trained
        if self._halt == "finished" and self._hp.epochs <= done:  # (a larger epochs field just goes on)
            with self._hp_lock:
                self._hp = dataclasses.replace(
                    self._hp, epochs=min(done + self._epoch_budget, int(SPECS["epochs"].high or 0))
                )
                self._hp_changed = True
                self._extended = self._hp.epochs - done
        self._halt = None
        self._run.set()
        self._wake.set()

    def set_field(self, name: str, value: Any) -> HyperParams:
        """Set hyperparameter ``name`` to ``value`` (validated where it was typed: ``parse_value``
        or ``nudge``); the worker applies it before its next step. Returns the new ``hp``."""
        with self._hp_lock:
            self._hp = dataclasses.replace(self._hp, **{name: value})
            self._hp_changed = True
        self._wake.set()
        return self._hp

    def step_once(self) -> None:
        """One minibatch step (only while paused)."""
        self._send("step")

    def reset(self) -> None:
        """Fresh weights with the current hyperparameters (architecture included)."""
        self._send("reset")

    def evaluate(self) -> None:
        self._send("evaluate")

    def save(self, path: str) -> None:
        self._send("save", path)

    def load(self, path: str) -> None:
        self._send("load", path)

    def gradcheck(self) -> None:
        self._send("gradcheck")

    def snapshot(self, tag: str = "") -> None:
        """Ask for a ``WeightsSnapshot`` (posted between two steps, also while paused)."""
        self._send("snapshot", tag)

    def _send(self, name: str, arg: Any = None) -> None:
        self._commands.put((name, arg))
        self._wake.set()

    # ---- worker thread ---------------------------------------------------------------------
    def _main(self) -> None:
        if self.recorder is not None:
            self.recorder.set_warn(lambda text: self._post(Notice(text, "warning")))
        recent: deque[float] = deque(maxlen=3)
        while not self._stop.is_set():
            try:
                self._loop()
            except RuleError as exc:  # the gradient rule's own code failed (one line): pause on it
                self._run.clear()
                if self._stop.is_set() or exc.quiet:  # quitting: the rule was stopped on purpose
                    break
                self._record("rule_error", error=str(exc))
                self._post(Notice(str(exc), "error", timeout=RULE_ERROR_SECONDS))
            except Exception as exc:  # stop training, keep serving commands (save, load, reset)
                self._halt = "stopped"
                self._run.clear()
                log = log_error("training worker", exc)
                self._post(WorkerFailed(summary(exc), detail(exc), str(log) if log else None))
                recent.append(time.monotonic())
                if len(recent) == recent.maxlen and recent[-1] - recent[0] < 1.0:
                    self._post(Notice("the training worker keeps failing and has stopped", "error"))
                    break  # failing without any command in between: give up rather than spin
        self._flush(force=True)
        if self.recorder is not None:
            self.recorder.finish(self.trainer, self._halt or "stopped", self.stats.meta())

    def _loop(self) -> None:
        self._flush(force=True)
        was_running = self._run.is_set()
        while not self._stop.is_set():
            if self._hp_changed:
                self._apply_hp()
            if not self._commands.empty():
                self._drain_commands()
            running = self._run.is_set()
            if running != was_running:
                was_running = running
                self._flush(force=True)
                self._record("resume" if running else "pause")
            if running:
                t0, evaluating = self._clock(), self.stats.eval_seconds
                self._train_step()
                self._flush()
                self._yield_gil()
                # wall time of the whole iteration (the worker's own overhead and GIL waits
                # included), evaluation excluded: what examples/s and elapsed report
                self.stats.train_seconds += self._clock() - t0 - (self.stats.eval_seconds - evaluating)
            else:
                self._wake.wait(PAUSE_WAIT)
                self._wake.clear()

    def _yield_gil(self) -> None:
        """Let the UI thread run every ``YIELD_SECONDS``: small models keep the worker in Python
        code (holding the GIL) nearly all the time, which would starve the event loop."""
        now = self._clock()
        if now - self._last_yield >= YIELD_SECONDS:
            self._last_yield = now
            time.sleep(0)

    def _apply_hp(self) -> None:
        with self._hp_lock:
            hp, self._hp_changed = self._hp, False
        old = self.trainer.hp
        if hp == old:
            return
        changes = {k: v for k, v in hp.to_dict().items() if getattr(old, k) != v}
        self.trainer.set_hparams(hp)
        if {"variant", *VARIANT_OPTIONS} & set(changes):
            self.stats.last_angles = None  # they measured the old rule
        self._flush(force=True)  # losses so far belong to the old settings
        if "target_error" in changes:
            self._target = None  # a new target: what the old one took is no longer the news
            if self._halt == "target":  # paused at the old target: train on towards the new one
                self._halt = None
                self._run.set()
        if self._extended:
            more, self._extended = self._extended, 0
            self._post(Notice(f"training {more} more epochs, to {hp.epochs}"))
        if self.recorder is not None:  # applies from the step after trainer.state.step
            self.recorder.hparams(old, hp, self.trainer.state.step, self.trainer.state.examples_seen)
        pending = tuple(self.trainer.pending_architecture)
        self._post(HParamsApplied(self.trainer.state.examples_seen, changes, hp, pending))

    def _drain_commands(self) -> None:
        while True:
            try:
                name, arg = self._commands.get_nowait()
            except queue.Empty:
                return
            if self._hp_changed:  # set before the command was sent
                self._apply_hp()
            getattr(self, f"_do_{name}")(arg)

    def _train_step(self) -> StepMetrics:
        trainer = self.trainer
        m = trainer.step()
        if self.recorder is not None:
            self.recorder.step(m)
        if m.diverged:
            self._record("diverged", loss=m.loss, lr=m.lr, restored=True)
            self._handle_divergence(m)
            return m
        self.stats.record_step(m)
        if trainer.state.position >= len(trainer.order):  # this step finished an epoch
            done = trainer.state.epoch + 1
            self._flush(force=True)
            self._evaluate(epoch_end=True)
            if done >= trainer.hp.epochs:
                self._halt = "finished"
                self._run.clear()
                more = self._epoch_budget
                self._post(Notice(f"finished {done} epochs; space trains {more} more (to {done + more})"))
        return m

    def _handle_divergence(self, m: StepMetrics) -> None:
        """The loss exploded or was not finite: the trainer refused the update and restored its
        last good weights; pause and tell the user (lowering the rate clears ``diverged``)."""
        self._halt = "diverged"
        self._run.clear()
        self._flush(force=True)
        self._post(Diverged(m.examples_seen, self._status()))

    def _flush(self, force: bool = False) -> None:
        """Post the losses gathered since the last post (at most every ``post_interval``)."""
        now = self._clock()
        if not force and now - self._last_post < self._interval:
            return
        self._last_post = now
        examples, losses, angles = self.stats.take_batch(self.trainer.state.examples_seen)
        self._post(TrainProgress(examples, losses, self._status(), angles))

    def _state(self) -> str:
        if self._stop.is_set():
            return "stopped"
        if self._run.is_set():
            return "running"
        return self._halt or "paused"

    def _status(self) -> TrainStatus:
        status = self.stats.status(self.trainer, self._state())
        if self._target is not None:
            status = dataclasses.replace(status, target_reached=self._target.text())
        return status

    def _evaluate(self, epoch_end: bool) -> None:
        t0 = self._clock()
        metrics, wrong = self.trainer.evaluate_with_mistakes(tuple(self.trainer.eval_sets))
        running = self.stats.running_train()
        if running is not None:  # the steps' own forward passes: no second pass over the training set
            metrics = dataclasses.replace(metrics, results={"train": running, **metrics.results})
        self.stats.record_eval(metrics)
        self.stats.eval_seconds += self._clock() - t0
        if self.recorder is not None:
            self.recorder.evaluation(metrics, self.trainer, epoch_end)
        reached = self._check_target(metrics)
        self._post(Evaluated(metrics, wrong, self._status(), epoch_end))
        if reached:
            self._post(Notice(f"{reached}; space trains on", timeout=10))

    def _check_target(self, metrics: EvalMetrics) -> str:
        """Pause if ``metrics`` is the first evaluation below the target; the notice text ("" : not)."""
        target = self.trainer.hp.target_error
        if self._target is not None and self._target.error == target:
            return ""  # reached already: resuming trains on past it
        if not below_target(target, metrics):
            return ""
        wall = self._clock() - self._clock_start
        self._target = TargetReport.hit(target, metrics, self.trainer.epoch_float, self.stats.train_seconds, wall)
        self._halt = "target"
        self._run.clear()
        self._record(
            "target", target=target, valid_error=self._target.valid_error, seconds=round(self.stats.train_seconds, 3)
        )
        return self._target.text()

    # ---- commands (worker thread) ------------------------------------------------------------
    def _do_step(self, _: Any) -> None:
        if not self._run.is_set():
            self._train_step()
            self._flush(force=True)

    def _do_reset(self, _: Any) -> None:
        after = self.trainer.state.step  # replay resets after this many steps
        self.trainer.reset()
        self._record("reset", after_step=after, hparams=self.trainer.hp.to_dict())
        self.stats.clear()
        self._halt, self._target, self._clock_start = None, None, self._clock()
        self._post(RunReset(self.trainer.hp, self._status(), "reset"))
        self._flush(force=True)
        self._evaluate(epoch_end=False)  # the digits and errors of the old weights are gone

    def _do_evaluate(self, _: Any) -> None:
        self._record("evaluate")
        self._flush(force=True)
        self._evaluate(epoch_end=False)

    def _do_snapshot(self, tag: str) -> None:
        trainer = self.trainer
        feedback = getattr(trainer.rule, "feedback", None)
        rule: Any = trainer.rule  # the rule's own arrays: each variant has its own
        if feedback is None and getattr(rule, "ring", None) is not None:
            ring = rule.ring  # stale: the W2 the next backward pass will use
            feedback = ring[(rule.t + 1) % len(ring)]
        self._post(
            WeightsSnapshot(
                {k: v.copy() for k, v in trainer.model.params.items()},
                trainer.hp,
                trainer.state.examples_seen,
                None if feedback is None else np.array(feedback, copy=True),
                tag,
            )
        )

    def save_stopped(self, path: str) -> Path:
        """Save from the calling thread once ``stop()`` has joined the worker (quitting).

        RuntimeError if the worker is still running; CheckpointError if the file cannot be written.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("training did not stop in time")
        return save_checkpoint(path, self.trainer, meta=self.stats.meta())

    def _do_save(self, path: str) -> None:
        try:
            written = save_checkpoint(path, self.trainer, meta=self.stats.meta())
        except CheckpointError as exc:
            self._post(Notice(str(exc), "error"))
            return
        self._post(CheckpointSaved(str(written)))

    def _do_load(self, path: str) -> None:
        trainer = self.trainer
        after = trainer.state.step  # replay loads after this many steps
        try:
            ckpt = apply_checkpoint(trainer, path)
        except CheckpointError as exc:
            self._post(Notice(str(exc), "error"))
            return
        self._record(
            "load", after_step=after, path=str(Path(path).resolve()), sha256=_sha256(path), hparams=trainer.hp.to_dict()
        )
        with self._hp_lock:  # the loaded run's settings replace what the fields asked for
            self._hp, self._hp_changed = trainer.hp, False
        self.stats.clear(ckpt.meta)
        self._halt, self._target, self._clock_start = None, None, self._clock()
        self._post(RunReset(trainer.hp, self._status(), f"loaded {Path(path).name}"))
        self._flush(force=True)
        self._evaluate(epoch_end=False)

    def _do_gradcheck(self, _: Any) -> None:
        if self.gradcheck_running:
            return
        X, y = self.trainer.train
        idx = self._gradcheck_rng.choice(len(X), size=min(GRADCHECK_BATCH, len(X)), replace=False)
        thread = threading.Thread(
            target=self._gradcheck_main,
            args=(self.trainer.model.copy(), X[idx].copy(), y[idx].copy()),
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
        self._record("gradcheck", passed=passed, checks=len(reports), max_rel_error=worst, error=done.error)
        self._post(done)

    def _record(self, event: str, **fields: Any) -> None:
        """One event line in the run record (the recorder is thread-safe: the gradient check calls this too)."""
        if self.recorder is not None:
            s = self.trainer.state
            self.recorder.event(event, s.step, s.examples_seen, **fields)


def _sha256(path: str) -> str | None:
    """The file's sha256 (so a replay can tell whether it loads the same checkpoint); None if unreadable."""
    import hashlib

    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None
