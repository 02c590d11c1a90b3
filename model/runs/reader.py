"""Read a run folder back as hostile input: run.json and every line of metrics.jsonl that checks out.

Both files are opened only if they are regular files (never blocking on a FIFO), run.json up to
``MAX_RUN_JSON`` bytes and metrics.jsonl up to ``MAX_METRICS`` bytes in lines of at most
``MAX_LINE`` (a longer line is skipped without being held). JSON goes through ``model.safe_json``
(nesting bounded, numbers finite) and every field through ``model.runs.schema``.

A run.json that cannot be read makes the whole record unreadable: ``RunsError``, one line naming
the file. A line of metrics.jsonl that does not check out is skipped and counted, with its number
and why (``skipped_note``); so is a line whose step jumps past the record's own progress (points
come every ``point_every`` steps, so a record can only claim the steps its lines cover: a replay or
a rewind of it is bounded by the record's size). Nothing here raises anything but ``RunsError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.printable import printable
from model.runs.schema import BadRecord, check_line, check_meta
from model.runs.store import RunsError
from model.safe_json import BadJSON, loads
from model.safe_read import TooBig, open_regular, read_capped, read_lines, size_text

#: run.json of ours is about 1 KiB.
MAX_RUN_JSON = 1 << 20
#: metrics.jsonl of ours grows by about 170 bytes every 10 steps: 32 MiB is some 2 million steps
#: (2,500 epochs at batch size 64). Beyond it the rest is not read (and the note says so).
MAX_METRICS = 32 << 20
#: A line of ours is under 1 KiB.
MAX_LINE = 64 << 10
#: Reasons kept for the note on skipped lines.
MAX_REASONS = 3
DEFAULT_POINT_EVERY = 10


@dataclass
class RunRecord:
    """One run, every field checked: ``meta`` (run.json), ``points`` (progress lines in order),
    ``events`` (event lines), ``lines`` (both, in the file's order: the same dicts).

    ``reach``: the furthest step the record's progress shows; ``steps_run``: the steps it shows
    were trained in all (over resets and loads), which a replay must not exceed."""

    folder: Path
    meta: dict[str, Any]
    points: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0  # lines that did not check out
    torn_last: bool = False  # the last line was cut short (no newline, or did not parse)
    reasons: list[str] = field(default_factory=list)  # the first few skipped lines: "line 12: why"
    unread: int = 0  # bytes of metrics.jsonl beyond MAX_METRICS, not read
    reach: int = 0
    steps_run: int = 0

    @property
    def run_id(self) -> str:
        """The folder's name (what every command takes), safe to print."""
        return printable(self.folder.name)

    @property
    def point_every(self) -> int:
        return int(self.meta.get("point_every", DEFAULT_POINT_EVERY))

    @property
    def evaluations(self) -> list[dict[str, Any]]:
        """Progress points that carry a validation error."""
        return [p for p in self.points if p.get("valid_error") is not None]

    @property
    def checkpoint(self) -> Path | None:
        path = self.folder / "final.npz"
        return path if path.is_file() else None

    @property
    def complete(self) -> bool:
        """Every line was read and checked out (a replay needs all of them)."""
        return not self.skipped and not self.unread

    def skipped_note(self) -> str:
        """'' or a one-line note on what the reader skipped: how many lines, which and why."""
        parts = []
        if self.skipped:
            s = "s" * (self.skipped > 1)
            why = "; ".join(self.reasons)
            more = self.skipped - len(self.reasons)
            why += f"; and {more} more" if more > 0 else ""
            parts.append(f"skipped {self.skipped} unreadable line{s} of metrics.jsonl ({why})")
        if self.unread:
            parts.append(
                f"read only the first {size_text(MAX_METRICS)} of metrics.jsonl ({size_text(self.unread)} more)"
            )
        return "; ".join(parts)

    def _skip(self, number: int, why: str) -> None:
        self.skipped += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(f"line {number}: {why}")


def _shown(path: Path) -> str:
    return printable(str(path))


def read_meta(folder: Path) -> dict[str, Any]:
    """run.json of ``folder``, checked; RunsError (one line naming the file) otherwise."""
    try:
        return check_meta(loads(read_capped(folder / "run.json", MAX_RUN_JSON, "it")))
    except OSError as exc:
        raise RunsError(f"{_shown(folder)}: run.json is unreadable: {exc.strerror or exc}") from None
    except (TooBig, BadJSON, BadRecord) as exc:
        raise RunsError(f"{_shown(folder)}: run.json is unreadable: {exc}") from None


def read_run(folder: Path) -> RunRecord:
    """The record in ``folder``; RunsError (one line naming the file) if run.json is missing or
    unreadable, or metrics.jsonl is there but not a regular file."""
    rec = RunRecord(folder, read_meta(folder))
    path = folder / "metrics.jsonl"
    try:
        f = open_regular(path)
    except FileNotFoundError:
        _Progress(rec).close()
        return rec
    except OSError as exc:
        raise RunsError(f"{_shown(folder)}: metrics.jsonl is unreadable: {exc.strerror or exc}") from None
    with f:
        try:
            rec.unread = max(0, os.fstat(f.fileno()).st_size - MAX_METRICS)
            _read_lines(rec, f)
        except OSError as exc:
            raise RunsError(f"{_shown(folder)}: metrics.jsonl is unreadable: {exc.strerror or exc}") from None
    return rec


def _read_lines(rec: RunRecord, f: Any) -> None:
    progress = _Progress(rec)
    for line in read_lines(f, MAX_LINE, MAX_METRICS):
        if not line.complete and not rec.unread:  # a crash or a full disk cut the last line short
            if line.data is None or line.data.strip():
                rec._skip(line.number, "cut short, e.g. by a crash")
                rec.torn_last = True
            continue
        if line.data is None:
            rec._skip(line.number, f"longer than {size_text(MAX_LINE)}")
            continue
        if not line.data.strip():
            continue
        try:
            obj = check_line(loads(line.data))
        except (BadJSON, BadRecord) as exc:
            rec._skip(line.number, str(exc))
            continue
        why = progress.admit(obj)
        if why:
            rec._skip(line.number, why)
            continue
        (rec.points if obj["kind"] == "progress" else rec.events).append(obj)
        rec.lines.append(obj)
    progress.close()


class _Progress:
    """Steps a record can claim: a progress point comes every ``point_every`` steps, so a line may
    be at most that far past the highest point before it (times one more for each line skipped
    since, which may have been a point). A reset starts the count at 0; a load at its own step."""

    def __init__(self, rec: RunRecord) -> None:
        self.rec = rec
        self.every = rec.point_every
        self.start = self.high = int(rec.meta.get("start_step", 0))
        self.slack = 1
        self.done = 0  # steps of the segments before this one (a reset or a load ends one)
        self.skipped = rec.skipped

    def admit(self, obj: dict[str, Any]) -> str:
        """'' if ``obj``'s steps are within reach (and take them in), else why not."""
        if self.rec.skipped > self.skipped:  # lines skipped since the last good one
            self.slack += self.rec.skipped - self.skipped
            self.skipped = self.rec.skipped
        limit = self.high + self.every * self.slack
        moves = obj.get("event") in ("reset", "load")  # its step is where the count goes on from
        claimed = obj.get("after_step", obj["step"]) if moves else obj["step"]
        if claimed > limit:
            return f"step {claimed:,} is past the record's progress (step {self.high:,})"
        self.slack = 1
        if moves:
            self.done += max(self.high, claimed) - self.start
            self.rec.reach = max(self.rec.reach, self.high, claimed)
            self.start = self.high = obj["step"]  # 0 after a reset, the loaded step after a load
        else:
            self.high = max(self.high, claimed)
        return ""

    def close(self) -> None:
        self.rec.reach = max(self.rec.reach, self.high)
        self.rec.steps_run = self.done + self.high - self.start
