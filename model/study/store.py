"""Finished runs on disk, one small JSON file per run, so a study killed at any moment (ctrl+c,
SIGKILL, a lost worker) continues where it stopped: each result is written atomically the
moment it arrives, and a run whose file exists is not trained again.

``<folder>/runs/<run id>.json`` holds one ``RunResult``; the run id hashes everything that decides
the run's numbers (``Task.run_id``). Every entry is read as hostile input (``saved.read_run``:
regular files only, size-capped, depth-checked, every field checked): one that cannot be used is
reported in one line naming it, set aside as ``<run id>.bad`` and its run is trained again.
Leaves out: which runs to make and how.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.atomic import atomic_write
from model.study.records import RunResult
from model.study.saved import BadFile, read_run

#: Store file names: a run id (``Task.run_id``: 20 hex digits) and ".json"; anything else is not ours.
ENTRY_NAME = re.compile(r"[0-9a-f]{20}\.json")
MAX_ENTRIES = 1_000_000


def finite(obj: Any, digits: int | None = None) -> Any:
    """Replace NaN/inf by None so the file is strict JSON; with ``digits``, also round every float
    to that many significant digits."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return obj if digits is None else float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: finite(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v, digits) for v in obj]
    return obj


class ResultStore:
    """The runs finished so far under ``folder``/runs. ``warn`` hears one line per entry set aside."""

    def __init__(self, folder: str | os.PathLike[str], warn: Callable[[str], Any] | None = None) -> None:
        self.folder = Path(folder) / "runs"
        self.warn = warn or (lambda text: None)

    def load(self) -> dict[str, RunResult]:
        """Run id -> result for every usable entry; the others are set aside (``set_aside``)."""
        found: dict[str, RunResult] = {}
        if not self.folder.is_dir():
            return found
        for n, path in enumerate(sorted(self.folder.iterdir())):
            if n >= MAX_ENTRIES:
                self.warn(f"{self.folder}: more than {MAX_ENTRIES:,} files; the rest were not read")
                break
            if not ENTRY_NAME.fullmatch(path.name):
                continue
            try:
                found[path.stem] = read_run(path)
            except BadFile as exc:
                self.set_aside(path.stem, str(exc))
        return found

    def set_aside(self, run_id: str, why: str) -> None:
        """Rename ``<run id>.json`` to ``.bad`` (its run is trained again) and say so in one line."""
        path = self.folder / f"{run_id}.json"
        try:
            path.replace(path.with_suffix(".bad"))
            self.warn(f"{why}; set aside as {path.with_suffix('.bad').name}, the run is trained again")
        except OSError as exc:
            self.warn(f"{why}; it could not be set aside ({exc.strerror or exc}), the run is trained again")

    def put(self, run_id: str, result: RunResult) -> Path:
        """Write one result durably (temp file, fsync, rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(finite(result.to_dict())) + "\n"
        return atomic_write(self.folder / f"{run_id}.json", lambda f: f.write(text.encode()))
