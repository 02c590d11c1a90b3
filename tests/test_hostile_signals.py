"""``train`` keeps a signal ignored that it was started ignoring: SIGHUP under ``nohup``, SIGINT
for ``train &`` in a non-interactive shell. The run goes on; SIGTERM still stops it (exit 143)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.exitcodes import from_signal

pytestmark = pytest.mark.slow
TIMEOUT = 120


def lines_in(runs: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in runs.glob("*/metrics.jsonl"))


def wait_for_more_lines(runs: Path, than: int, proc: subprocess.Popen[bytes]) -> int:
    """Wait until the run record has more lines than ``than`` (the run is training); their count."""
    deadline = time.monotonic() + TIMEOUT
    while (n := lines_in(runs)) <= than:
        assert proc.poll() is None, f"train ended with {proc.returncode}"
        assert time.monotonic() < deadline, "no progress in the run record"
        time.sleep(0.05)
    return n


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT])
def test_a_signal_ignored_at_start_stays_ignored(tiny_npz: Path, tmp_path: Path, signum: int) -> None:
    runs = tmp_path / "runs"
    argv = [sys.executable, "-m", "tui.cli", "train", "--data", str(tiny_npz), "--runs", str(runs)]
    argv += ["--hidden", "16", "--batch-size", "16", "--epochs", "10000"]
    env = dict(os.environ, MNIST_TUI_THREADS="1")

    def ignore() -> None:  # what nohup does for SIGHUP, and a non-interactive shell's & for SIGINT
        signal.signal(signum, signal.SIG_IGN)

    proc = subprocess.Popen(argv, env=env, preexec_fn=ignore, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen = wait_for_more_lines(runs, 0, proc)
        proc.send_signal(signum)
        wait_for_more_lines(runs, seen + 2, proc)  # still training after the signal
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == from_signal(signal.SIGTERM), err.decode()
