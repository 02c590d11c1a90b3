"""Finished runs on disk, one small JSON file per run, so a study killed at any moment (ctrl+c,
SIGKILL, a lost worker) continues where it stopped: each result is written atomically the
moment it arrives, and a run whose file exists is not trained again.

``<folder>/runs/<run id>.json`` holds one ``RunResult``; the run id hashes everything that decides
the run's numbers (``Task.run_id``). A file that does not parse (a disk that lied) is set aside as
``.bad`` and the run is trained again. Leaves out: which runs to make and how.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from model.atomic import atomic_write
from model.study.records import RunResult


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
    """The runs finished so far under ``folder``/runs."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder) / "runs"

    def load(self) -> dict[str, RunResult]:
        """Run id -> result for every readable file; unreadable ones are renamed ``*.bad``."""
        found: dict[str, RunResult] = {}
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.json")):
            try:
                found[path.stem] = RunResult.from_dict(json.loads(path.read_text()))
            except (OSError, ValueError, TypeError, KeyError):
                path.replace(path.with_suffix(".bad"))
        return found

    def put(self, run_id: str, result: RunResult) -> Path:
        """Write one result durably (temp file, fsync, rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(finite(result.to_dict())) + "\n"
        return atomic_write(self.folder / f"{run_id}.json", lambda f: f.write(text.encode()))
