"""The training worker: one thread that steps the Trainer, and the app's handle on it.

UI -> worker: thread-safe methods of ``TrainingBridge``. Commands (step, reset,
evaluate, save, load, gradcheck) go through a ``queue.SimpleQueue``; the newest
``HyperParams`` is handed over under a lock; pause is an Event. The worker picks
all of them up between steps, so every step sees one consistent set of
hyperparameters and nothing else ever touches the weights while a step runs.

Worker -> UI: the messages of ``tui.messages`` through ``post`` (the app's
``post_message``, which is thread-safe and never blocks): one ``TrainProgress``
about every ``post_interval`` seconds with the losses (and the alignment angles the
trainer measures every ``angle_every`` steps) since the last one, never one per step.
A paused worker waits on an Event with a timeout and every loop checks the stop
flag, so ``stop()`` returns promptly. The sampled gradient check
runs on a copy of the weights in a short second thread so training does not stall.
Leaves out widgets and drawing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model.analysis import misclassified
from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams
from model.gradcheck import check_sampled, toy_suite
from model.mlp import MLP
from model.trainer import StepMetrics, Trainer
from tui.errorlog import detail, log_error, summary
from tui.messages import (
    CheckpointSaved,
    Diverged,
    Evaluated,
    GradCheckDone,
    HParamsApplied,
    Notice,
    RunReset,
    TrainProgress,
    TrainStatus,
    WorkerFailed,
)

POST_INTERVAL = 0.1  # s between progress messages while training
PAUSE_WAIT = 0.05  # s a paused worker sleeps before it looks for commands again
JOIN_TIMEOUT = 5.0
GRADCHECK_BATCH = 32  # training examples in the live gradient check's minibatch
GRADCHECK_SAMPLES = 200  # parameter entries compared in the live check
YIELD_SECONDS = 0.003  # the worker releases the GIL at least this often
RATE_WINDOW = 10  # progress posts averaged for examples/s
THREAD_NAME = "mnist-tui-trainer"
GRADCHECK_THREAD_NAME = "mnist-tui-gradcheck"


class TrainingBridge:
    """Runs ``trainer`` on a worker thread and reports to ``post``.

    ``start_paused``: begin paused (the first ``resume`` starts training).
    ``clock``: seconds for throughput and elapsed time (tests may fake it).
    """

    def __init__(
        self,
        trainer: Trainer,
        post: Callable[[Any], object],
        *,
        start_paused: bool = False,
        post_interval: float = POST_INTERVAL,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.trainer = trainer
        self._post = post
        self._interval = post_interval
        self._clock = clock
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._hp_lock = threading.Lock()
        self._pending_hp: HyperParams | None = None
        self._run = threading.Event()  # set while training should run
        if not start_paused:
            self._run.set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._halt: str | None = None  # "diverged" or "stopped" while paused for that reason
        self._thread: threading.Thread | None = None
        self._gradcheck_thread: threading.Thread | None = None
        self._gradcheck_rng = np.random.default_rng(trainer.hp.seed)
        # Worker-owned counters.
        self._examples: list[int] = []
        self._losses: list[float] = []
        self._angles: list[tuple[int, dict[str, float]]] = []  # (examples seen, degrees per W)
        self._last_angles: dict[str, float] | None = None
        self._train_seconds = 0.0
        self._eval_seconds = 0.0
        self._last_post = -1e9
        self._last_yield = 0.0
        self._rate_points: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)
        self._rate: float | None = None
        self._last_loss: float | None = None
        self._valid_error: float | None = None
        self._best_valid: float | None = None
        self._test_at_best: float | None = None
        #: The last step the worker took (tests read it).
        self.last_step: StepMetrics | None = None

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

    def pause(self) -> None:
        self._run.clear()
        self._wake.set()

    def resume(self) -> None:
        self._halt = None
        self._run.set()
        self._wake.set()

    def set_hparams(self, hp: HyperParams) -> None:
        """Hand over the newest hyperparameters; the worker applies them before its next step."""
        with self._hp_lock:
            self._pending_hp = hp
        self._wake.set()

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

    def _send(self, name: str, arg: Any = None) -> None:
        self._commands.put((name, arg))
        self._wake.set()

    # ---- worker thread ---------------------------------------------------------------------
    def _main(self) -> None:
        recent: deque[float] = deque(maxlen=3)
        while not self._stop.is_set():
            try:
                self._loop()
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

    def _loop(self) -> None:
        self._flush(force=True)
        was_running = self._run.is_set()
        while not self._stop.is_set():
            if self._pending_hp is not None:
                self._apply_pending_hp()
            if not self._commands.empty():
                self._drain_commands()
            running = self._run.is_set()
            if running != was_running:
                was_running = running
                self._flush(force=True)
            if running:
                t0, evaluating = self._clock(), self._eval_seconds
                self._train_step()
                self._flush()
                self._yield_gil()
                # wall time of the whole iteration (the worker's own overhead and GIL waits
                # included), evaluation excluded: what examples/s and elapsed report
                self._train_seconds += self._clock() - t0 - (self._eval_seconds - evaluating)
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

    def _apply_pending_hp(self) -> None:
        with self._hp_lock:
            hp, self._pending_hp = self._pending_hp, None
        old = self.trainer.hp
        if hp is None or hp == old:
            return
        changes = {k: v for k, v in hp.to_dict().items() if getattr(old, k) != v}
        self.trainer.update_hparams(**changes)
        if {"variant", "sigma", "stale_k"} & set(changes):
            self._last_angles = None  # they measured the old rule
        self._flush(force=True)  # losses so far belong to the old settings
        self._post(HParamsApplied(self.trainer.state.examples_seen, changes, self.trainer.hp))

    def _drain_commands(self) -> None:
        while True:
            try:
                name, arg = self._commands.get_nowait()
            except queue.Empty:
                return
            if self._pending_hp is not None:  # set before the command was sent
                self._apply_pending_hp()
            handler = getattr(self, f"_do_{name}")
            handler(arg)

    def _train_step(self) -> StepMetrics:
        trainer = self.trainer
        m = trainer.step()
        self.last_step = m
        if m.diverged:
            self._handle_divergence(m)
            return m
        self._examples.append(m.examples_seen)
        self._losses.append(m.loss)
        self._last_loss = m.loss
        if m.angles is not None:
            self._angles.append((m.examples_seen, m.angles))
            self._last_angles = m.angles
        if trainer.state.position >= len(trainer.order):  # this step finished an epoch
            done = trainer.state.epoch + 1
            self._flush(force=True)
            self._evaluate(epoch_end=True)
            if done == trainer.hp.epochs:
                self._halt = "stopped"
                self._run.clear()
                self._post(Notice(f"finished {done} epochs; press space to keep training"))
        return m

    def _handle_divergence(self, m: StepMetrics) -> None:
        """The loss exploded or was not finite: the trainer refused the update and restored its
        last good weights; pause and tell the user (lowering the rate clears ``diverged``)."""
        self._halt = "diverged"
        self._run.clear()
        self._flush(force=True)
        self._post(Diverged(m.examples_seen, self._snapshot()))

    def _flush(self, force: bool = False) -> None:
        """Post the losses gathered since the last post (at most every ``post_interval``)."""
        now = self._clock()
        if not force and now - self._last_post < self._interval:
            return
        self._last_post = now
        examples, losses, angles = self._examples, self._losses, self._angles
        self._examples, self._losses, self._angles = [], [], []
        self._rate_points.append((self._train_seconds, self.trainer.state.examples_seen))
        t0, e0 = self._rate_points[0]
        t1, e1 = self._rate_points[-1]
        if t1 - t0 > 0.05:
            self._rate = (e1 - e0) / (t1 - t0)
        self._post(TrainProgress(examples, losses, self._snapshot(), angles))

    def _state(self) -> str:
        if self._stop.is_set():
            return "stopped"
        if self._run.is_set():
            return "running"
        return self._halt or "paused"

    def _snapshot(self) -> TrainStatus:
        t = self.trainer
        return TrainStatus(
            state=self._state(),
            epoch=t.epoch_float,
            epochs=t.hp.epochs,
            step=t.state.step,
            examples_seen=t.state.examples_seen,
            examples_per_second=self._rate,
            elapsed=self._train_seconds,
            lr=t.lr,
            last_loss=self._last_loss,
            valid_error=self._valid_error,
            best_valid_error=self._best_valid,
            test_error_at_best=self._test_at_best,
            variant=t.hp.variant,
            angles=tuple(self._last_angles.items()) if self._last_angles else (),
        )

    def _clear_counters(self, meta: dict[str, Any] | None = None) -> None:
        meta = meta or {}
        self._examples, self._losses, self._angles = [], [], []
        self._last_angles = None
        self._rate_points.clear()
        self._rate = None
        self._train_seconds = float(meta.get("elapsed", 0.0))
        self._last_loss = meta.get("last_loss")
        self._valid_error = meta.get("valid_error")
        self._best_valid = meta.get("best_valid_error")
        self._test_at_best = meta.get("test_error_at_best")

    def _evaluate(self, epoch_end: bool) -> None:
        t0 = self._clock()
        trainer = self.trainer
        metrics = trainer.evaluate()
        wrong = None
        if "test" in trainer.eval_sets:
            wrong = misclassified(trainer.model, *trainer.eval_sets["test"])
        if "valid" in metrics.results:
            self._valid_error = metrics.error("valid")
            if self._best_valid is None or self._valid_error < self._best_valid:
                self._best_valid = self._valid_error
                self._test_at_best = metrics.error("test") if "test" in metrics.results else None
        self._eval_seconds += self._clock() - t0
        self._post(Evaluated(metrics, wrong, self._snapshot(), epoch_end))

    # ---- commands (worker thread) ------------------------------------------------------------
    def _do_step(self, _: Any) -> None:
        if not self._run.is_set():
            self._train_step()
            self._flush(force=True)

    def _do_reset(self, _: Any) -> None:
        self.trainer.reset()
        self._clear_counters()
        if self._halt is not None:
            self._halt = None
        self._post(RunReset(self.trainer.hp, self._snapshot(), "reset"))
        self._flush(force=True)

    def _do_evaluate(self, _: Any) -> None:
        self._flush(force=True)
        self._evaluate(epoch_end=False)

    def _meta(self) -> dict[str, Any]:
        """The status numbers a checkpoint carries so a resumed run can show them again."""
        return {
            "elapsed": self._train_seconds,
            "last_loss": self._last_loss,
            "valid_error": self._valid_error,
            "best_valid_error": self._best_valid,
            "test_error_at_best": self._test_at_best,
        }

    def save_stopped(self, path: str) -> Path:
        """Save from the calling thread once ``stop()`` has joined the worker (quitting).

        RuntimeError if the worker is still running; CheckpointError if the file cannot be written.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("training did not stop in time")
        return save_checkpoint(path, self.trainer, meta=self._meta())

    def _do_save(self, path: str) -> None:
        try:
            written = save_checkpoint(path, self.trainer, meta=self._meta())
        except CheckpointError as exc:
            self._post(Notice(str(exc), "error"))
            return
        self._post(CheckpointSaved(str(written)))

    def _do_load(self, path: str) -> None:
        trainer = self.trainer
        try:
            ckpt = apply_checkpoint(trainer, path)
        except CheckpointError as exc:
            self._post(Notice(str(exc), "error"))
            return
        self._clear_counters(_numbers(ckpt.meta))
        self._halt = None
        self._post(RunReset(trainer.hp, self._snapshot(), f"loaded {Path(path).name}"))
        self._flush(force=True)

    def _do_gradcheck(self, _: Any) -> None:
        if self.gradcheck_running:
            return
        X, y = self.trainer.train
        idx = self._gradcheck_rng.choice(len(X), size=min(GRADCHECK_BATCH, len(X)), replace=False)
        model = self.trainer.model.copy()
        thread = threading.Thread(
            target=self._gradcheck_main,
            args=(model, X[idx].copy(), y[idx].copy()),
            name=GRADCHECK_THREAD_NAME,
            daemon=True,
        )
        self._gradcheck_thread = thread
        thread.start()

    def _gradcheck_main(self, model: MLP, Xb: np.ndarray, yb: np.ndarray) -> None:
        """Toy suite, then a sampled check of a copy of the live weights (own thread)."""
        try:
            toy = toy_suite()
            live = None
            if not self._stop.is_set():
                H = model.shape[1]
                live = check_sampled(
                    model,
                    Xb,
                    yb,
                    n_samples=GRADCHECK_SAMPLES,
                    rng=np.random.default_rng(0),
                    label=f"live model (H={H}, batch {len(yb)})",
                )
            self._post(GradCheckDone(toy, live))
        except Exception as exc:
            self._post(GradCheckDone([], None, error=f"{type(exc).__name__}: {exc}"))


def apply_checkpoint(trainer: Trainer, path: str) -> Checkpoint:
    """Load ``path`` and continue its run in ``trainer``.

    Raises CheckpointError (one line) and leaves ``trainer`` untouched if the file is
    bad or was made for other data.
    """
    ckpt = load_checkpoint(path)
    n_in, n_data = ckpt.params["W1"].shape[1], trainer.train[0].shape[1]
    if n_in != n_data:
        raise CheckpointError(f"checkpoint {path}: expects {n_in} inputs, the data has {n_data}")
    ckpt.apply_to(trainer)
    return ckpt


def _numbers(meta: dict[str, Any]) -> dict[str, Any]:
    """The numeric entries of a checkpoint's meta that the status can show again."""
    keys = ("elapsed", "last_loss", "valid_error", "best_valid_error", "test_error_at_best")
    return {k: float(meta[k]) for k in keys if isinstance(meta.get(k), int | float)}
