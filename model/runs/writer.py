"""``RunRecorder``: write one run's folder as it trains (run.json, metrics.jsonl, final.npz).

Lines of ``metrics.jsonl`` are JSON objects with a ``"kind"``:

- ``"progress"``: step, examples, epoch, time (wall seconds since the run started), lr, loss (the
  minibatch's), smoothed (an exponential mean of minibatch losses, weight ``SMOOTHING`` per step),
  angles ({"W1": deg, "W2": deg} when measured), and train_error / valid_error / test_error
  (plus the losses) when the point is an evaluation. One every ``every`` steps and one per evaluation.
- ``"event"``: ``event`` names it (hparam, pause, resume, reset, load, diverged, evaluate,
  gradcheck, resume_from, end) with step, examples, time and its own fields; a hyperparameter
  change has field, old, new and applies from the step after ``step``.

Safety: lines are kept in memory and written whole with one ``os.write`` at least every
``FLUSH_SECONDS`` (and at every event), and fsynced at epoch ends, so a SIGKILL loses at most
the last second; a torn last line (a full disk) is skipped by the reader. Any write error warns
once through ``warn`` and turns the recorder off: training goes on. Thread-safe (one lock).

With ``tensorboard`` (a folder) the recorder also hands every line, the first layer's weights at
each evaluation and the final weights to a ``model.runs.tensorboard.TensorBoardSink`` writing
``<folder>/<run id>``; it fails on its own (one warning), the record and the run go on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.config import HyperParams
from model.trainer import EvalMetrics, StepMetrics, Trainer

if TYPE_CHECKING:
    from model.runs.tensorboard import TensorBoardSink

FORMAT = "mnist-tui-run/1"
FLUSH_SECONDS = 1.0
SMOOTHING = 0.02  # weight of each new minibatch loss in the smoothed loss
POINT_EVERY = 10  # steps between progress points (the trainer measures angles on these steps)
CHECKPOINT = "final.npz"


def data_tag(data: Any) -> str:
    """A short sha256 tag of the data: split sizes, every label and every 1,000th training image.

    data: train_x (N, D) float32, train_y (N,), valid_*, test_* (the arrays of ``load_mnist``).
    Cheap (a few ms), unlike hashing all 180 MB of pixels; two runs with the same tag saw the same data.
    """
    h = hashlib.sha256()
    for name in ("train", "valid", "test"):
        x, y = getattr(data, f"{name}_x", None), getattr(data, f"{name}_y", None)
        if x is None or y is None:
            continue
        h.update(f"{name}{x.shape}{x.dtype}".encode())
        h.update(np.ascontiguousarray(y).tobytes())
    h.update(np.ascontiguousarray(data.train_x[::1000]).tobytes())
    return h.hexdigest()[:16]


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable unique id: UTC time to the second and 4 random hex digits, e.g. 20261203-124501-3fa2."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _finite(x: float) -> float | None:
    """JSON has no NaN/inf: they become null."""
    return x if math.isfinite(x) else None


class RunRecorder:
    """Records one run into ``root/<id>/``; create with ``RunRecorder.start``.

    Call ``step`` after every trainer step (cheap: a progress line every ``every`` steps),
    ``evaluation`` after each evaluation, ``event`` for everything else, ``epoch_end`` to fsync
    and ``finish`` once at the end (writes the checkpoint). After a write error every call is a no-op.
    """

    def __init__(
        self,
        folder: Path | None,
        *,
        warn: Callable[[str], object] | None = None,
        every: int = POINT_EVERY,
        run_id: str = "",
    ) -> None:
        self.folder = folder
        self.run_id = folder.name if folder else run_id
        self.tensorboard: TensorBoardSink | None = None
        self._warn = warn
        self._every = max(1, every)
        self._clock = time.monotonic
        self._t0 = self._clock()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._last_flush = self._t0
        self._fd: int | None = None
        self._smoothed: float | None = None
        self._finished = False
        self._unsaid: list[str] = []
        self.checkpoint: Path | None = None  # the final checkpoint, once ``finish`` wrote it
        self.failed = folder is None
        if folder is not None:
            try:
                self._fd = os.open(folder / "metrics.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                self._fail(exc)

    @classmethod
    def start(
        cls,
        root: Path,
        trainer: Trainer,
        *,
        source: str,
        data: str = "",
        warn: Callable[[str], object] | None = None,
        extra: dict[str, Any] | None = None,
        every: int = POINT_EVERY,
        tensorboard: Path | None = None,
    ) -> RunRecorder:
        """Make ``root/<new id>/`` with its run.json and an empty metrics.jsonl for ``trainer``'s run.

        source: what started it ("train", "app", "experiments"); data: ``data_tag`` of the data;
        extra: more keys for run.json (e.g. the checkpoint a resumed run came from); tensorboard:
        also write TensorBoard events in ``tensorboard/<id>`` (needs tensorboardX). A folder that
        cannot be made warns once and returns a recorder that records nothing (but TensorBoard's).
        """
        folder = root / new_run_id()
        meta = run_meta(folder.name, trainer, source, data) | (extra or {})
        try:
            folder.mkdir(parents=True)
            from model.atomic import atomic_write

            text = (json.dumps(meta, indent=2) + "\n").encode()
            atomic_write(folder / "run.json", lambda f: f.write(text))
        except OSError as exc:
            rec = cls(None, warn=warn, every=every, run_id=folder.name)
            rec.failed = False
            rec._fail(exc, where=root)
        else:
            rec = cls(folder, warn=warn, every=every)
        if tensorboard is not None:
            rec._start_tensorboard(tensorboard, meta)
        return rec

    def _start_tensorboard(self, tensorboard: Path, meta: dict[str, Any]) -> None:
        """Hand everything recorded from now on to a TensorBoard sink in ``tensorboard/<run id>``."""
        from model.runs.tensorboard import MISSING, TensorBoardSink

        try:
            self.tensorboard = TensorBoardSink(tensorboard / self.run_id, meta, warn=self._say, clock=self._clock)
        except ImportError:
            self._say(MISSING)

    # ---- writing -------------------------------------------------------------------------
    def _fail(self, exc: OSError, where: Path | None = None) -> None:
        """Warn once and stop recording."""
        if self.failed:
            return
        self.failed = True
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self._pending.clear()
        place = where or self.folder
        self._say(f"cannot write the run record in {place} ({exc.strerror or exc}); training goes on without it")

    def _say(self, text: str) -> None:
        """Warn now, or keep the warning for ``set_warn`` when no callback is set yet."""
        if self._warn is not None:
            self._warn(text)
        else:
            self._unsaid.append(text)

    def set_warn(self, warn: Callable[[str], object]) -> None:
        """Where warnings go from now on; a warning given before (e.g. the folder could not be made) goes there now."""
        self._warn = warn
        said, self._unsaid = self._unsaid, []
        for text in said:
            warn(text)

    def _append(self, obj: dict[str, Any], flush: bool = False) -> None:
        if self.tensorboard is not None:
            self.tensorboard.line(obj, flush)
        with self._lock:
            if self.failed:
                return
            self._pending.append(json.dumps(obj, separators=(",", ":")))
            if flush or self._clock() - self._last_flush >= FLUSH_SECONDS:
                self._flush_locked()

    def _flush_locked(self) -> None:
        self._last_flush = self._clock()
        if not self._pending or self._fd is None:
            return
        data = ("\n".join(self._pending) + "\n").encode()
        self._pending.clear()
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            self._fail(exc)

    def flush(self, fsync: bool = False) -> None:
        """Write what is pending; with ``fsync`` also push it to the disk."""
        with self._lock:
            if self.failed:
                return
            self._flush_locked()
            if fsync and self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._fail(exc)

    def elapsed(self) -> float:
        return round(self._clock() - self._t0, 3)

    # ---- what a run reports --------------------------------------------------------------
    def step(self, m: StepMetrics) -> None:
        """After every trainer step: updates the smoothed loss; a progress point every ``every`` steps."""
        if self.failed and self.tensorboard is None:
            return
        if math.isfinite(m.loss) and not m.diverged:
            s = self._smoothed
            self._smoothed = m.loss if s is None else s + SMOOTHING * (m.loss - s)
        if (m.step - 1) % self._every == 0 or m.angles is not None:
            self._append(self._point(m.step, m.examples_seen, m.epoch, m.lr, m.loss, m.angles))

    def _point(
        self, step: int, examples: int, epoch: float, lr: float, loss: float | None, angles: dict[str, float] | None
    ) -> dict[str, Any]:
        point: dict[str, Any] = {
            "kind": "progress",
            "step": step,
            "examples": examples,
            "epoch": round(epoch, 6),
            "time": self.elapsed(),
            "lr": lr,
            "loss": None if loss is None else _finite(loss),
            "smoothed": self._smoothed,
        }
        if angles:
            point["angles"] = {k: _finite(v) for k, v in angles.items()}
        return point

    def evaluation(self, ev: EvalMetrics, trainer: Trainer, epoch_end: bool = False) -> None:
        """A progress point with the errors and losses of every evaluated set; fsync at epoch ends."""
        errors = {name: err for name, (_, err) in ev.results.items()}
        losses = {name: loss for name, (loss, _) in ev.results.items()}
        self.errors(trainer, errors, losses, epoch_end)

    def errors(
        self, trainer: Trainer, errors: dict[str, float], losses: dict[str, float] | None = None, epoch_end: bool = True
    ) -> None:
        """A progress point at the trainer's current step with error rates (and losses) per set,
        e.g. {"train": 0.05, "valid": 0.04, "test": 0.045}; fsync at epoch ends.
        TensorBoard also gets the first layer's weights as an image."""
        if self.failed and self.tensorboard is None:
            return
        s = trainer.state
        point = self._point(s.step, s.examples_seen, trainer.epoch_float, trainer.lr, None, None)
        for name, err in errors.items():
            point[f"{name}_error"] = _finite(err)
        for name, loss in (losses or {}).items():
            point[f"{name}_loss"] = _finite(loss)
        point["epoch_end"] = epoch_end
        self._append(point, flush=True)
        if self.tensorboard is not None:
            self.tensorboard.weights(trainer.model.W1, s.step)
        if epoch_end:
            self.flush(fsync=True)

    def event(self, name: str, step: int, examples: int, **fields: Any) -> None:
        """One event line (written at once): ``name`` with the step it happened after and its fields."""
        if self.failed and self.tensorboard is None:
            return
        fields = {k: _finite(v) if isinstance(v, float) else v for k, v in fields.items()}  # a diverged loss: null
        self._append(
            {"kind": "event", "event": name, "step": step, "examples": examples, "time": self.elapsed()} | fields,
            flush=True,
        )

    def hparams(self, old: HyperParams, new: HyperParams, step: int, examples: int) -> None:
        """One ``hparam`` event per changed field: old and new value, applying from step ``step + 1``."""
        o, n = old.to_dict(), new.to_dict()
        for field in n:
            if o.get(field) != n[field]:
                self.event("hparam", step, examples, field=field, old=o.get(field), new=n[field])

    def finish(self, trainer: Trainer, status: str, meta: dict[str, Any] | None = None) -> None:
        """The ``end`` event, the final checkpoint (atomic) and an fsync; once only. TensorBoard
        gets the final weights and the hyperparameter table, and is closed."""
        if self._finished:
            return
        self._finished = True
        checkpoint: str | None = None
        if not self.failed and self.folder is not None:
            from model.checkpoint import CheckpointError, save_checkpoint

            try:
                state = trainer.run_state({"run_id": self.run_id} | (meta or {}))
                self.checkpoint = save_checkpoint(self.folder / CHECKPOINT, state)
                checkpoint = CHECKPOINT
            except (CheckpointError, OSError) as exc:
                self._say(f"cannot write the run's checkpoint in {self.folder}: {exc}")
        s = trainer.state
        self.event("end", s.step, s.examples_seen, status=status, checkpoint=checkpoint)
        if self.tensorboard is not None:
            self.tensorboard.finish(trainer.model.W1)
        self.flush(fsync=True)
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
            self.failed = True  # nothing more after the end


def run_meta(run_id: str, trainer: Trainer, source: str, data: str) -> dict[str, Any]:
    """run.json: what the run started from (the settings the first step used, its counters)."""
    from model.machine import environment, package_version

    hp = trainer.hp
    return {
        "format": FORMAT,
        "id": run_id,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": source,
        "hparams": hp.to_dict(),
        "seed": hp.seed,
        "variant": hp.variant,
        "start_step": trainer.state.step,
        "start_examples": trainer.state.examples_seen,
        "train_size": len(trainer.order),
        "angle_every": trainer.angle_every,
        "source_size": len(trainer.source[0]),  # the rows hparams.train_size picks from (replay gives the same)
        "data": data,
        "version": package_version(),
        "machine": environment() | {"blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")},
        "point_every": POINT_EVERY,
    }
