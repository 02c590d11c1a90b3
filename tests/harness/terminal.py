"""The real ``mnist-tui`` in a pseudo-terminal, for the tests that need a real terminal.

The terminal itself is ``tui.bench.terminal.AppTerminal`` (one copy: ``mnist-tui bench`` times
keys with it). What only tests need lives here: the command, an environment whose data and
state folders are the test's own, and ``app_in_terminal``, which never leaves a process behind.
Tests using it are ``slow`` (they start a process).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from tui.bench.terminal import AppTerminal

#: ``mnist-tui`` as this interpreter runs it (the checkout, or the installed package).
MNIST_TUI = [sys.executable, "-m", "tui.cli"]


def app_env(home: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with the app's data and state folders and its runs
    folder under ``home`` (so the autosave is in ``home/data/mnist-tui/runs``) and a 256-colour
    terminal."""
    env = dict(os.environ if environ is None else environ)
    data = home / "data"
    return env | {
        "XDG_DATA_HOME": str(data),
        "XDG_STATE_HOME": str(home / "state"),
        "MNIST_TUI_RUNS": str(data / "mnist-tui" / "runs"),
        "TERM": "xterm-256color",
    }


def autosave(home: Path) -> Path:
    """The autosave of the app started with ``app_env(home)``: its run record's final checkpoint
    (the newest run's; a path that does not exist when there is none)."""
    runs = home / "data" / "mnist-tui" / "runs"
    found = sorted(runs.glob("*/final.npz"))
    return found[-1] if found else runs / "none" / "final.npz"


@contextlib.contextmanager
def app_in_terminal(
    argv: list[str], env: dict[str, str], cols: int = 120, rows: int = 40, cwd: Path | None = None
) -> Iterator[AppTerminal]:
    """``argv`` in a ``cols`` x ``rows`` terminal; on leaving, quits it with ctrl+q if the test has
    not ended it (killed if that does not work), so a failed test leaves no process behind."""
    term = AppTerminal(argv, env, cols=cols, rows=rows, cwd=None if cwd is None else str(cwd))
    try:
        yield term
    finally:
        term.close()


def running(screen: str) -> bool:
    """The status line says the worker is training and has taken a step."""
    return "running" in screen and "step 0 " not in screen
