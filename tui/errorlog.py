"""Where unexpected errors are written in full: ``mnist-tui.log`` in the user log directory.

The app shows one line and the path; the traceback goes here through ``logging`` (a
``RotatingFileHandler``: past ``MAX_BYTES`` the file moves to ``mnist-tui.log.1`` and a new one
starts). Tries platformdirs' ``user_log_dir("mnist-tui")``, then the user cache directory; if
neither can be written the error is still shown, just not logged. Leaves out any UI.
"""

from __future__ import annotations

import logging
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

from model.data.cache import APP_NAME

LOG_NAME = f"{APP_NAME}.log"
MAX_BYTES = 1 << 20  # roll the file over past this size, keeping one old file

_log = logging.getLogger(f"{APP_NAME}.errors")
_log.propagate = False  # the file only: never the terminal the app has taken over
_log.setLevel(logging.ERROR)
_lock = threading.Lock()  # the handler is attached for one record at a time


class _FileHandler(RotatingFileHandler):
    """A RotatingFileHandler that notes a failed write instead of printing it to stderr."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed = True


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
    for folder in log_dirs():
        path = folder / LOG_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = _FileHandler(path, maxBytes=MAX_BYTES, backupCount=1, encoding="utf-8")
        except OSError:
            continue
        handler.setFormatter(logging.Formatter("---- %(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        with _lock:
            _log.addHandler(handler)
            try:
                _log.error("%s", where, exc_info=exc)
            finally:
                _log.removeHandler(handler)
                handler.close()
        if not handler.failed:
            return path
    return None
