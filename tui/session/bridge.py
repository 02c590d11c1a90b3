"""The app's handle on the training worker: thread-safe calls on the UI thread.

The run core (``model.run``) owns the run's life; the worker (``tui.session.worker``) drives it on
its own thread. This handle only crosses threads: each call puts a command on the worker's queue
(the run core's, or the worker's own: a gradient check, a copy of the weights) and wakes it; a
pause is also an Event, so the UI knows at once. Leaves out Textual, widgets and drawing: it runs
without an app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.checkpoint import save_checkpoint
from model.config import HyperParams
from model.run import Change, Evaluate, Load, Pause, Reset, Resume, Run, Save, Step
from model.trainer import Trainer
from tui.session.checks import run_gradcheck
from tui.session.events import WorkerEvent
from tui.session.worker import (
    GRADCHECK_THREAD_NAME,
    POST_INTERVAL,
    GradCheck,
    GradCheckCommand,
    SnapshotCommand,
    Worker,
)

JOIN_TIMEOUT = 5.0
THREAD_NAME = "mnist-tui-trainer"

__all__ = ["GRADCHECK_THREAD_NAME", "THREAD_NAME", "GradCheck", "TrainingBridge"]


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
        self._worker = Worker(run, post, gradcheck, post_interval)
        self._thread: threading.Thread | None = None

    @property
    def trainer(self) -> Trainer:
        return self.run.trainer

    # ---- lifecycle (UI thread) -------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            raise RuntimeError("bridge already started")
        self._thread = threading.Thread(target=self._worker.main, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Stop training and join the threads (the run is closed: its record finished); True if none is left."""
        self._worker.stopping.set()
        self._worker.wake.set()
        for thread in (self._thread, self._worker.gradcheck_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        """True while the worker (or a gradient check) is running."""
        return any(t is not None and t.is_alive() for t in (self._thread, self._worker.gradcheck_thread))

    # ---- control (UI thread) -------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._worker.running.is_set()

    @property
    def gradcheck_running(self) -> bool:
        thread = self._worker.gradcheck_thread
        return thread is not None and thread.is_alive()

    @property
    def hp(self) -> HyperParams:
        """The settings as asked for (architecture fields included before a reset applies them)."""
        return self.run.desired

    def pause(self) -> None:
        self._worker.running.clear()
        self._worker.send(Pause())

    def resume(self) -> None:
        """Train on (past a finished run's epochs the run adds as many again, and says so)."""
        self._worker.running.set()
        self._worker.send(Resume())

    def set_field(self, name: str, value: Any) -> None:
        """Set hyperparameter ``name`` to ``value``; the worker applies it before its next step."""
        self._worker.send(Change({name: value}))

    def step_once(self) -> None:
        """One minibatch step (only while paused)."""
        self._worker.send(Step())

    def reset(self) -> None:
        """Fresh weights with the settings asked for (architecture included)."""
        self._worker.send(Reset())

    def evaluate(self) -> None:
        self._worker.send(Evaluate())

    def save(self, path: str) -> None:
        self._worker.send(Save(path))

    def load(self, path: str) -> None:
        self._worker.send(Load(path))

    def gradcheck(self) -> None:
        self._worker.send(GradCheckCommand())

    def snapshot(self, tag: str = "") -> None:
        """Ask for a ``WeightsSnapshot`` (posted between two steps, also while paused)."""
        self._worker.send(SnapshotCommand(tag))

    def save_stopped(self, path: str) -> Path:
        """Save from the calling thread once ``stop()`` has joined the worker (quitting).

        RuntimeError if the worker is still running; CheckpointError if the file cannot be written.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("training did not stop in time")
        return save_checkpoint(path, self.run.snapshot())
