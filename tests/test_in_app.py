"""The real app in a real pseudo-terminal: the screen it draws, how it quits, and a closed window.

Every wait is on what the screen shows, with a generous timeout; the app trains for 10,000 epochs
of batch 16 (many minutes) so that "running" is a state that lasts, not a frame a slow machine
can miss.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from harness.terminal import MNIST_TUI, app_env, app_in_terminal, autosave, running

pytest.importorskip("pyte")
pytestmark = pytest.mark.slow  # each test starts the app in a pseudo-terminal

LONG_RUN = ["--hidden", "16", "--batch-size", "16", "--epochs", "10000"]


def test_terminal_sees_the_screen_and_the_exit_status(tiny_npz: Path, tmp_path: Path) -> None:
    argv = [*MNIST_TUI, "--data", str(tiny_npz), *LONG_RUN]
    with app_in_terminal(argv, app_env(tmp_path), cols=100, rows=32) as term:
        # "running" can come before the rest of the first frame: wait for the key bar too
        assert term.wait_for(lambda s: running(s) and "? Help" in s.splitlines()[-1], 120.0) is not None, term.text()
        screen = term.text().splitlines()
        assert len(screen) == 32 and all(len(line) == 100 for line in screen)
        assert "Controls" in term.text() and "? Help" in screen[-1]
        term.text()  # all output so far parsed: the next match comes from the key
        written = term.write("?")
        shown = term.wait_for(lambda s: "Controls fields" in s, 60.0)
        assert shown is not None and shown > written, term.text()
        assert term.close() == 0
    assert autosave(tmp_path).exists()


# The hang this guards against struck one close in three while the app was drawing, and every
# time while it drew nothing (paused): a terminal that is gone must end the app either way.
@pytest.mark.parametrize(("keys", "state"), [("", "running"), (" ", "paused"), ("?", "Controls fields")])
def test_closing_the_terminal_saves_the_run_and_ends_the_process(
    tiny_npz: Path, tmp_path: Path, keys: str, state: str
) -> None:
    with app_in_terminal([*MNIST_TUI, "--data", str(tiny_npz), *LONG_RUN], app_env(tmp_path)) as term:
        assert term.wait_for(running, 120.0) is not None, term.text()
        if keys:
            term.write(keys)
        assert term.wait_for(lambda s: state in s, 60.0) is not None or state in term.text(), term.text()
        assert term.hang_up() == 128 + signal.SIGHUP  # not left hanging on a terminal that is gone
    assert autosave(tmp_path).exists()
