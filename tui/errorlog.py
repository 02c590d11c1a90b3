"""Where unexpected errors are written in full: ``mnist-tui.log`` in the user log directory.

The app shows one line and the path; the traceback goes here. Tries platformdirs'
``user_log_dir("mnist-tui")``, then the user cache directory; if neither can be written the
error is still shown, just not logged. Leaves out any UI.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import platformdirs

APP_NAME = "mnist-tui"
LOG_NAME = "mnist-tui.log"
MAX_BYTES = 1 << 20  # start the file afresh past this size


def log_dirs() -> list[Path]:
    """Candidate folders for the log, in order of preference."""
    return [
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    ]


def summary(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (one line)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def detail(exc: BaseException) -> str:
    """The full traceback of ``exc`` as text."""
    return "".join(traceback.format_exception(exc)).rstrip()


def log_error(where: str, exc: BaseException) -> Path | None:
    """Append a timestamped report of ``exc`` (raised in ``where``); the log's path, or None."""
    entry = f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} {where}\n{detail(exc)}\n"
    for folder in log_dirs():
        path = folder / LOG_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            mode = "w" if path.exists() and path.stat().st_size > MAX_BYTES else "a"
            with open(path, mode, encoding="utf-8") as f:
                f.write(entry)
        except OSError:
            continue
        return path
    return None
