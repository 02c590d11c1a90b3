"""Process faults: special files, closed pipes, no terminal, too many threads, piped stderr.

Each case runs the real command in a subprocess with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.checkpoint import CheckpointError, load_checkpoint
from tui.exitcodes import BROKEN_PIPE, USAGE

TIMEOUT = 60


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MNIST_TUI_THREADS="1")
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=TIMEOUT, env=env, **kwargs
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fifo", "dir", "dev-zero"])
def test_special_files_are_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "ck.npz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "not a regular file" in str(err.value)
    done = _run(["evaluate", str(path)])
    assert done.returncode == USAGE and "not a regular file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_closed_stdout_exits_quietly() -> None:
    cmd = f"{sys.executable} -m tui.cli gradcheck | true; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == BROKEN_PIPE, done.stderr
    assert done.stderr == ""


@pytest.mark.slow
def test_app_without_a_terminal_is_refused() -> None:
    done = _run([], stdin=subprocess.DEVNULL)
    assert done.returncode == USAGE and "mnist-tui train" in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_empty_save_name_is_refused() -> None:
    done = _run(["train", "--save", "", "--epochs", "1"])
    assert done.returncode == USAGE and "--save needs a file name" in done.stderr


@pytest.mark.slow
def test_too_many_threads_are_capped_with_a_warning() -> None:
    env = dict(os.environ, MNIST_TUI_THREADS="256")
    argv = [sys.executable, "-m", "tui.cli", "gradcheck"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert done.returncode == 0
    assert "more than the" in done.stderr and "CPUs here" in done.stderr


@pytest.mark.slow
def test_long_path_component_is_bad_input(tmp_path: Path) -> None:
    done = _run(["train", "--save", str(tmp_path / ("x" * 300)), "--epochs", "1"])
    assert done.returncode == USAGE and "at most 255 bytes" in done.stderr and "unexpected" not in done.stderr


@pytest.mark.slow
def test_first_stderr_line_is_the_message_when_piped(tmp_path: Path) -> None:
    ck = tmp_path / "nope.npz"
    done = _run(["train", "--resume", str(ck), "--epochs", "1"])  # loads data (a progress bar), then fails
    assert done.returncode == USAGE
    assert done.stderr.splitlines()[0].startswith("mnist-tui:"), repr(done.stderr[:80])
