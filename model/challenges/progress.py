"""Progress kept between sessions: which challenges are solved, what it took, the best result.

One JSON file, ``challenges.json``: in the user data folder (e.g. ~/.local/share/mnist-tui), in a
served session's own folder (``mnist-tui serve``), or where ``$MNIST_TUI_CHALLENGES`` says. It is
read as hostile input: a regular file only, at most ``MAX_BYTES``, no NaN or Infinity, every field
type-checked; an entry that fails is dropped with a one-line note, never a traceback. Writes are
atomic, under an advisory lock (two apps solving at once both keep their solve); a file that
could not be read is kept beside the new one (``challenges.json.unreadable``), so nothing is lost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.challenges.catalog import CHALLENGES
from model.challenges.check import Verdict, took_text

FILE_NAME = "challenges.json"
PROGRESS_ENV = "MNIST_TUI_CHALLENGES"
FORMAT = "mnist-tui-challenges/1"
MAX_BYTES = 256 * 1024
MAX_TEXT = 200  # characters of any text field
MAX_CHANGES = 40  # settings in a solve's changes
APP_NAME = "mnist-tui"


@dataclass(frozen=True)
class Progress:
    """One challenge's record. The solve (``solved`` ... ``resets``) is the first one; ``best_*``
    is the lowest validation error any attempt reached within the limits; ``attempts`` counts the
    attempts that ended."""

    solved: bool = False
    solved_at: str = ""
    run: str = ""
    valid_error: float | None = None
    test_error: float | None = None
    took: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    resets: int = 0
    best_valid: float | None = None
    best_test: float | None = None
    attempts: int = 0


def progress_file(folder: str | os.PathLike[str] | None = None) -> Path:
    """Where progress is kept: ``folder/challenges.json`` (a served session's folder), then
    ``$MNIST_TUI_CHALLENGES`` (a file), then the user data folder's ``challenges.json``."""
    if folder is not None and str(folder).strip():
        return Path(os.fspath(folder)).expanduser() / FILE_NAME
    env = os.environ.get(PROGRESS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / FILE_NAME


# ---- reading ------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_progress(path: Path) -> tuple[dict[str, Progress], str]:
    """(challenge name -> Progress, a one-line note on what could not be read, or "").

    A missing file is no progress and no note. Never raises for what the file holds.
    """
    entries, note = _raw_entries(path)
    if note:
        return {}, note
    return _checked(path, entries)


def _checked(path: Path, entries: dict[str, Any]) -> tuple[dict[str, Progress], str]:
    """The entries of known challenges that pass every field check; a note names those that did not."""
    out: dict[str, Progress] = {}
    note = ""
    dropped: list[str] = []
    for name, entry in entries.items():
        if name not in CHALLENGES:
            continue  # a challenge this version does not have: kept on disk, not shown
        try:
            out[name] = _entry(entry)
        except (TypeError, ValueError) as exc:
            dropped.append(f"{name} ({exc})")
    if dropped:
        note = f"{path}: ignored unreadable progress for {', '.join(dropped)}"
    return out, note


def _raw_entries(path: Path) -> tuple[dict[str, Any], str]:
    """The file's ``challenges`` object as parsed JSON (not yet checked), and a note ("" : fine)."""
    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        return {}, ""
    except OSError as exc:
        return {}, f"{path}: cannot read challenge progress ({exc.strerror or exc})"
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:MAX_TEXT]
        return {}, f"{path}: challenge progress is unreadable ({reason})"
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("challenges"), dict):
        return {}, f"{path}: not a challenge progress file (expected format {FORMAT})"
    return doc["challenges"], ""


def _read_bounded(path: Path) -> bytes:
    """The file's bytes if it is a regular file of at most ``MAX_BYTES`` (OSError otherwise)."""
    from model.safe_read import open_regular

    with open_regular(path) as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_BYTES // 1024} KiB")
    return data


def _entry(obj: Any) -> Progress:
    """A Progress from one JSON entry; TypeError/ValueError (a short reason) for any bad field."""
    if not isinstance(obj, dict):
        raise TypeError("not an object")
    p = Progress(
        solved=_bool(obj, "solved"),
        solved_at=_text(obj, "solved_at"),
        run=_text(obj, "run"),
        valid_error=_fraction(obj, "valid_error"),
        test_error=_fraction(obj, "test_error"),
        took=_text(obj, "took"),
        changes=_changes(obj.get("changes", {})),
        resets=_count(obj, "resets"),
        best_valid=_fraction(obj, "best_valid"),
        best_test=_fraction(obj, "best_test"),
        attempts=_count(obj, "attempts"),
    )
    return p


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"{key} is not true or false")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise TypeError(f"{key} is not a short text")
    return value


def _fraction(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} is not a fraction")
    return float(value)


def _count(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{key} is not a count")
    return value


def _changes(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > MAX_CHANGES:
        raise TypeError("changes is not a small object")
    for k, v in value.items():
        ok = isinstance(v, str | int | float | bool) and (not isinstance(v, float) or math.isfinite(v))
        if len(k) > MAX_TEXT or not ok or (isinstance(v, str) and len(v) > MAX_TEXT):
            raise TypeError("changes holds something other than settings")
    return dict(value)


# ---- writing ------------------------------------------------------------------------------------


def updated(old: Progress, verdict: Verdict, took: dict[str, Any], run: str, ended: bool) -> Progress:
    """``old`` after an attempt whose verdict is ``verdict`` (``took``: ``ChallengeTracker.took()``;
    ``ended``: the attempt is over, count it). A first solve is kept; the best result is the lower."""
    new = old
    if verdict.solved is not None and not old.solved:
        ev = verdict.solved
        new = dataclasses.replace(
            new,
            solved=True,
            solved_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            run=run[:MAX_TEXT],
            valid_error=ev.valid_error,
            test_error=ev.test_error,
            took=took_text(ev)[:MAX_TEXT],
            changes=dict(list(took.get("changes", {}).items())[:MAX_CHANGES]),
            resets=int(took.get("resets", 0)),
        )
    best = verdict.best
    if best is not None and (old.best_valid is None or best.valid_error < old.best_valid):
        new = dataclasses.replace(new, best_valid=best.valid_error, best_test=best.test_error)
    if ended:
        new = dataclasses.replace(new, attempts=new.attempts + 1)
    return new


def save_progress(path: Path, name: str, verdict: Verdict, took: dict[str, Any], run: str, ended: bool) -> str:
    """Merge an attempt at challenge ``name`` into the file at ``path``; "" or a one-line warning
    (the progress could not be written: training goes on)."""
    from model.atomic import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            raw, unreadable = _raw_entries(path)
            if unreadable and path.exists():  # keep it beside the new file, never overwrite it
                os.replace(path, path.with_name(path.name + ".unreadable"))
            known, _ = _checked(path, raw)
            # a newer version's challenges are carried over as they are; ours are rewritten checked
            entries = {k: v for k, v in raw.items() if k not in CHALLENGES and isinstance(v, dict)}
            entries |= {k: _as_json(v) for k, v in known.items()}
            entries[name] = _as_json(updated(known.get(name, Progress()), verdict, took, run, ended))
            text = json.dumps({"format": FORMAT, "challenges": entries}, indent=2, allow_nan=False) + "\n"
            atomic_write(path, lambda f: f.write(text.encode()))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot save challenge progress in {path} ({reason})"
    return ""


def _as_json(p: Progress) -> dict[str, Any]:
    return dataclasses.asdict(p)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An advisory lock on ``path``'s lock file for a read-modify-write (a no-op where flock is missing)."""
    try:
        import fcntl
    except ImportError:  # not on this platform: the last writer wins
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
