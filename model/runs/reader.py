"""Read a run folder back: run.json and every line of metrics.jsonl that parses.

A line that does not parse (a torn last line after a full disk or a crash) is skipped and
counted in ``RunRecord.skipped``, so a reader can say so; nothing here raises on a bad line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.runs.store import RunsError


@dataclass
class RunRecord:
    """One run: ``meta`` (run.json), ``points`` (progress lines in order), ``events`` (event lines),
    ``lines`` (both, in the file's order: the same dicts)."""

    folder: Path
    meta: dict[str, Any]
    points: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0  # lines that did not parse
    torn_last: bool = False  # the last line was cut short (no newline, or did not parse)

    @property
    def run_id(self) -> str:
        return str(self.meta.get("id", self.folder.name))

    @property
    def evaluations(self) -> list[dict[str, Any]]:
        """Progress points that carry a validation error."""
        return [p for p in self.points if p.get("valid_error") is not None]

    @property
    def checkpoint(self) -> Path | None:
        path = self.folder / "final.npz"
        return path if path.is_file() else None

    def skipped_note(self) -> str:
        """'' or a one-line note on lines the reader skipped."""
        if not self.skipped:
            return ""
        last = " (the last line was cut short, e.g. by a crash)" if self.torn_last else ""
        return f"skipped {self.skipped} unreadable line{'s' * (self.skipped > 1)} of metrics.jsonl{last}"


def read_run(folder: Path) -> RunRecord:
    """The record in ``folder``; RunsError (one line) if run.json is missing or unreadable."""
    try:
        meta = json.loads((folder / "run.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise RunsError(f"{folder}: run.json is unreadable ({exc})") from None
    rec = RunRecord(folder, meta)
    try:
        raw = (folder / "metrics.jsonl").read_bytes()
    except FileNotFoundError:
        return rec
    except OSError as exc:
        raise RunsError(f"{folder}: metrics.jsonl is unreadable ({exc.strerror or exc})") from None
    lines = raw.split(b"\n")
    complete = lines[:-1]  # after the last newline: empty, or a torn line
    if lines[-1].strip():
        rec.skipped += 1
        rec.torn_last = True
    for i, line in enumerate(complete):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            rec.skipped += 1
            rec.torn_last = rec.torn_last or i == len(complete) - 1
            continue
        if not isinstance(obj, dict):
            rec.skipped += 1
            continue
        if obj.get("kind") == "progress":
            rec.points.append(obj)
            rec.lines.append(obj)
        elif obj.get("kind") == "event":
            rec.events.append(obj)
            rec.lines.append(obj)
    return rec
