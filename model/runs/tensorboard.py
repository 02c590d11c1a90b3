"""``TensorBoardSink``: a run as TensorBoard event files (the ``tensorboard`` extra: tensorboardX).

The sink is fed what the run record holds: ``line`` takes each line of metrics.jsonl (progress
points and events, the same dicts), ``weights`` the first layer at an evaluation, ``finish``
the final weights once at the end. ``RunRecorder`` feeds it while a run trains; ``export``
feeds it a finished record (metrics.jsonl and final.npz), so both give the same scalars.

What ``logdir`` (``DIR/<run id>``) gets:

- scalars: ``loss/minibatch``, ``loss/smoothed`` and ``lr`` at every progress point (every 10
  steps); ``angle/W1``, ``angle/W2`` when measured; ``error/{train,valid,test}``,
  ``loss/{train,valid,test}`` and ``epoch`` at evaluations; ``hparam/<field>`` for a numeric
  setting that changed (the old value at the step, the new one at the next step, where it applies);
- text: ``changes`` ("lr 0.05 → 0.01 at step 1200") and ``events`` (divergence, reset, load,
  gradient check, end);
- images: ``weights/W1``, the first 64 hidden units' 28x28 filters (``model.inspect.tile_grid``)
  at each evaluation and at the end;
- the hparams plugin's table: the settings the run started with (plus source and the number of
  changes) against ``final/*`` metrics (final and best valid error, test error at the best,
  smoothed loss), written at the end into the run's own folder (tensorboardX's ``add_hparams``
  would put them in a second, timestamped folder).

A reset or a load starts the step count again: what follows goes to ``logdir/part2``,
``part3``, ... (TensorBoard runs of their own), so the steps of every curve only go forward.

Writing: tensorboardX makes the protobufs and the CRCs; the TFRecord framing is written here,
on the caller's thread, with one ``os.write`` at least every ``FLUSH_SECONDS`` and at every event
and evaluation, fsynced at epoch ends and at the end. (``SummaryWriter`` is not used: its writer
thread dies on a write error, after which its bounded queue blocks the training thread for good,
and it fsyncs on every flush.) Any write error warns once and turns the sink off: training goes on.
Thread-safe (one lock). Import it only with tensorboardX installed (``require`` says so in one line).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.printable import printable
from model.runs.reader import RunRecord
from model.runs.store import RunsError

EXTRA = "pip install 'mnist-tui[tensorboard]'"
MISSING = f"--tensorboard needs tensorboardX (no TensorFlow): {EXTRA}"
FLUSH_SECONDS = 1.0
#: the evaluated sets' columns in a progress point, and the tags they become
EVAL_TAGS = {f"{s}_{what}": f"{what}/{s}" for s in ("train", "valid", "test") for what in ("error", "loss")}
QUIET_EVENTS = frozenset({"pause", "resume", "evaluate"})  # in the record, not worth a text entry
ARROW = "\N{RIGHTWARDS ARROW}"


class TensorBoardUnavailable(RunsError):
    """tensorboardX is not installed (one line naming the extra)."""


def require() -> None:
    """Raise ``TensorBoardUnavailable`` (one line) unless tensorboardX can be imported."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise TensorBoardUnavailable(MISSING) from None


def png(rgb: NDArray[np.uint8]) -> bytes:
    """An (H, W, 3) uint8 image as PNG bytes (zlib; no Pillow needed)."""
    h, w, _ = rgb.shape
    raw = np.zeros((h, 1 + 3 * w), np.uint8)  # filter byte 0 ("none") before every row
    raw[:, 1:] = np.ascontiguousarray(rgb, np.uint8).reshape(h, 3 * w)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _number(v: Any) -> float | None:
    """A finite float from a JSON value (bools count as 0/1); None for anything else."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float) and math.isfinite(v):
        return float(v)
    return None


def _started(meta: dict[str, Any]) -> float:
    """run.json's start time as Unix seconds (now if missing or unreadable)."""
    try:
        return dt.datetime.fromisoformat(str(meta["started"])).timestamp()
    except (KeyError, ValueError):
        return time.time()


def event_text(e: dict[str, Any]) -> str | None:
    """The text entry of an event line (None for those not worth one: pause, resume, evaluate)."""
    name, step = str(e.get("event", "?")), e.get("step", 0)
    if name == "hparam":
        return f"{e.get('field')} {e.get('old')} {ARROW} {e.get('new')} at step {step}"
    if name in QUIET_EVENTS:
        return None
    if name == "diverged":
        return f"diverged at step {step} (loss {e.get('loss')} at lr {e.get('lr')}); the last good weights came back"
    if name in ("reset", "load"):
        what = "reset: new weights" if name == "reset" else f"loaded {e.get('path')}"
        return f"{what} after step {e.get('after_step', step)}"
    if name == "gradcheck":
        verdict = "passed" if e.get("passed") else "FAILED"
        return f"gradient check {verdict} at step {step} (max relative error {e.get('max_rel_error')})"
    if name == "end":
        return f"{e.get('status')} at step {step} ({e.get('examples', 0):,} examples, {e.get('time', 0):.1f}s)"
    skip = {"kind", "event", "step", "examples", "time"}
    return f"{name} at step {step} " + " ".join(f"{k}={v}" for k, v in e.items() if k not in skip)


class TensorBoardSink:
    """Writes one run's event files under ``logdir``; ``meta`` is its run.json.

    ``warn`` gets one line if writing fails (then every call is a no-op), ending with
    ``on_failure`` (what happens next). ``clock`` paces the flushes.
    """

    def __init__(
        self,
        logdir: Path,
        meta: dict[str, Any],
        *,
        warn: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_failure: str = "training goes on",
    ) -> None:
        from tensorboardX.proto import event_pb2, summary_pb2
        from tensorboardX.record_writer import masked_crc32c

        self._event_cls, self._summary_cls, self._crc = event_pb2.Event, summary_pb2.Summary, masked_crc32c
        self.logdir = logdir
        self.meta = meta
        self._warn = warn or (lambda text: None)
        self._on_failure = on_failure
        self._clock = clock
        self._lock = threading.Lock()
        self._t0 = _started(meta)
        self._wall = self._t0
        self._pending: list[bytes] = []
        self._last_flush = clock()
        self._fd: int | None = None
        self.failed = False
        self.finished = False
        self.parts = 0  # folders written: logdir, then logdir/part2, ...
        self._files = 0  # event files opened (their names count them, so they sort in order)
        self._image_step: int | None = None  # the step of the last image in the current folder
        self._changes = 0
        self._evals: list[dict[str, Any]] = []  # (final and best figures)
        self._smoothed: float | None = None
        self._step = int(meta.get("start_step", 0) or 0)
        self._open(logdir)

    # ---- writing -------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        """The folder written now: ``logdir``, or ``logdir/partN`` after a reset or a load."""
        return self.logdir if self.parts <= 1 else self.logdir / f"part{self.parts}"

    def _open(self, folder: Path) -> None:
        self._close_fd()
        self.parts += 1
        self._files += 1
        self._image_step = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"events.out.tfevents.{int(self._wall):010d}.{socket.gethostname()}.{os.getpid()}.{self._files:03d}"
            self._fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            self._fail(exc, folder)
            return
        self._write(self._event_cls(wall_time=self._wall, file_version="brain.Event:2"))

    def _close_fd(self) -> None:
        self._flush_locked(fsync=True)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _fail(self, exc: OSError, where: Path | None = None) -> None:
        if self.failed:
            return
        self.failed = True
        self._pending.clear()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        then = f"; {self._on_failure}" if self._on_failure else ""
        self._warn(f"cannot write TensorBoard events in {where or self.folder} ({exc.strerror or exc}){then}")

    def _write(self, event: Any) -> None:
        """Frame one Event as a TFRecord: length, its CRC, the payload, its CRC (little-endian)."""
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._pending.append(header + struct.pack("<I", self._crc(header)) + data + struct.pack("<I", self._crc(data)))

    def _flush_locked(self, fsync: bool = False) -> None:
        self._last_flush = self._clock()
        if self.failed or self._fd is None:
            return
        data, self._pending = b"".join(self._pending), []
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self._fail(exc)

    def flush(self, fsync: bool = False) -> None:
        """Write what is pending; with ``fsync`` also push it to the disk."""
        with self._lock:
            self._flush_locked(fsync)

    def _summary(self, step: int, values: list[Any]) -> None:
        if values:
            self._write(self._event_cls(wall_time=self._wall, step=step, summary=self._summary_cls(value=values)))

    def _scalars(self, step: int, scalars: dict[str, Any]) -> None:
        value = self._summary_cls.Value
        self._summary(step, [value(tag=t, simple_value=x) for t, v in scalars.items() if (x := _number(v)) is not None])

    def _text(self, tag: str, step: int, text: str) -> None:
        from tensorboardX.summary import text as text_summary

        self._summary(step, list(text_summary(tag, text).value))

    # ---- what the run reports ------------------------------------------------------------
    def line(self, obj: dict[str, Any], flush: bool = False) -> None:
        """One line of metrics.jsonl (a progress point or an event); ``flush``: write it now."""
        with self._lock:
            if self.failed or self.finished:
                return
            self._wall = self._t0 + float(obj.get("time") or 0.0)
            step = int(obj.get("step", 0) or 0)
            self._step = step
            if obj.get("kind") == "progress":
                self._point(step, obj)
                flush = flush or "valid_error" in obj
            elif obj.get("kind") == "event":
                self._event(step, obj)
                flush = True
            if flush or self._clock() - self._last_flush >= FLUSH_SECONDS:
                self._flush_locked(fsync=bool(obj.get("epoch_end")) or obj.get("event") == "end")

    def _point(self, step: int, p: dict[str, Any]) -> None:
        if p.get("smoothed") is not None:
            self._smoothed = p["smoothed"]
        scalars: dict[str, Any] = {
            "loss/minibatch": p.get("loss"),
            "loss/smoothed": p.get("smoothed"),
            "lr": p.get("lr"),
        }
        for name, angle in (p.get("angles") or {}).items():
            scalars[f"angle/{name}"] = angle
        if any(k in p for k in EVAL_TAGS):
            scalars |= {tag: p.get(k) for k, tag in EVAL_TAGS.items()} | {"epoch": p.get("epoch")}
            if p.get("valid_error") is not None:
                self._evals.append(p)
        self._scalars(step, scalars)

    def _event(self, step: int, e: dict[str, Any]) -> None:
        name = e.get("event")
        text = event_text(e)
        if name == "hparam":
            self._changes += 1
            field = str(e.get("field"))
            old, new = _number(e.get("old")), _number(e.get("new"))
            if old is not None:
                self._scalars(step, {f"hparam/{field}": old})
            if new is not None:
                self._scalars(step + 1, {f"hparam/{field}": new})  # it applies from the next step
            if text:
                self._text("changes", step, text)
            return
        if text:  # a reset or load is noted in the folder it ends, at the step it came after
            self._text("events", int(e.get("after_step", step) or 0), text)
        if name in ("reset", "load"):  # the steps start again (or jump): a new TensorBoard run
            self._open(self.logdir / f"part{self.parts + 1}")

    def weights(self, W1: NDArray[np.floating], step: int | None = None) -> None:
        """The first layer's filters as the ``weights/W1`` image at ``step`` (default: the last line's)."""
        with self._lock:
            if self.failed or self.finished:
                return
            self._image(W1, self._step if step is None else step)
            self._flush_locked()

    def _image(self, W1: NDArray[np.floating], step: int) -> None:
        from model.inspect import tile_grid

        grid = tile_grid(W1)
        h, w, c = grid.shape
        image = self._summary_cls.Image(height=h, width=w, colorspace=c, encoded_image_string=png(grid))
        self._summary(step, [self._summary_cls.Value(tag="weights/W1", image=image)])
        self._image_step = step

    def figures(self) -> dict[str, float]:
        """The ``final/*`` metrics of the hparams table, from the evaluations seen so far."""
        out: dict[str, Any] = {"final/smoothed_loss": self._smoothed}
        if self._evals:
            last = self._evals[-1]
            best = min(self._evals, key=lambda p: p["valid_error"])  # the first of equal ones, as `runs show`
            out |= {"final/valid_error": last.get("valid_error"), "final/test_error": last.get("test_error")}
            out |= {"final/best_valid_error": best["valid_error"], "final/test_at_best": best.get("test_error")}
        return {k: x for k, v in out.items() if (x := _number(v)) is not None}

    def hparams(self) -> dict[str, Any]:
        """The hparams table's row: the settings the run started with, its source and how many changes."""
        hp = {k: v for k, v in dict(self.meta.get("hparams") or {}).items() if isinstance(v, str | int | float | bool)}
        return hp | {"source": str(self.meta.get("source", "")), "changes": self._changes}

    def finish(self, W1: NDArray[np.floating] | None = None) -> None:
        """Once, at the end: the final weights' image (unless one was written at this step), the
        hparams table with ``figures``, then fsync and close."""
        with self._lock:
            if self.failed or self.finished:
                return
            self.finished = True
            step = self._step
            if W1 is not None and self._image_step != step:
                self._image(W1, step)
            if self.parts > 1:  # the table belongs to the run's own folder: a new file there
                self.parts = 0  # (TensorBoard reads a folder's files as one run)
                self._open(self.logdir)
            if not self.failed:
                from tensorboardX.summary import hparams as hparams_summary

                figures = self.figures()
                for summary in hparams_summary(self.hparams(), figures):
                    self._write(self._event_cls(wall_time=self._wall, step=step, summary=summary))
                self._scalars(step, figures)
            self._close_fd()


def export(record: RunRecord, tensorboard: Path, warn: Callable[[str], object] | None = None) -> Path:
    """Write ``record`` (a ``RunRecord``) as TensorBoard events in ``tensorboard/<folder name>`` (the
    record's own folder name, never its run.json's id): every line of its metrics.jsonl, then its
    final.npz weights as the last image; returns that folder. ``warn`` gets what is left out.

    RunsError (one line) if that folder already holds event files or is a link, or if writing fails.
    """
    name = record.folder.name
    if name in ("", ".", "..") or "/" in name:  # a directory entry never is; a Path built by hand could be
        raise RunsError(f"{printable(name)!r} is not a run folder's name")
    folder = tensorboard / name
    if folder.is_symlink():
        raise RunsError(f"{printable(str(folder))} is a link; remove it or choose another folder")
    if folder.is_dir() and any(folder.rglob("*tfevents*")):
        raise RunsError(
            f"{printable(str(folder))} already holds TensorBoard events; remove it or choose another folder"
        )
    failures: list[str] = []
    sink = TensorBoardSink(folder, record.meta, warn=failures.append, on_failure="")
    for obj in record.lines:
        sink.line(obj)
    W1 = None
    if record.checkpoint is not None:
        from model.checkpoint import CheckpointError, load_checkpoint

        try:
            W1 = load_checkpoint(record.checkpoint).params["W1"]
        except CheckpointError as exc:
            if warn is not None:
                warn(f"no final weights image: {exc}")
    sink.finish(W1)
    if sink.failed:
        raise RunsError(failures[0] if failures else f"cannot write TensorBoard events in {folder}")
    return folder
