"""One run core behind every command, checked through the real commands.

``replay`` prints *identical* for every kind of run (train, resumed, rewound, the app with
changes, the study) and refuses a start that changed; the app keeps one autosave per run and
names it; a finished checkpoint opens finished; a stop between evaluations is a fraction of an
epoch everywhere; run ids are printed and their short form works in every command; the study's
pool workers end when it is killed.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import headless_env, wait_until
from harness.terminal import MNIST_TUI, app_env, app_in_terminal, running

from model.runs import list_run_dirs, read_run, short_id
from tui.bench.terminal import AppTerminal
from tui.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    headless_env(tmp_path, tmp_path_factory.getbasetemp() / "run-commands-cache", monkeypatch)
    monkeypatch.setenv("MNIST_TUI_RUNS", str(tmp_path / "runs"))


def train(tiny_npz: Path, *flags: str) -> int:
    return main(["train", "--data", str(tiny_npz), "--hidden", "16", *flags])


def newest_run(tmp_path: Path) -> str:
    return list_run_dirs(tmp_path / "runs")[-1].name


def replay(tiny_npz: Path, ident: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["replay", ident, "--data", str(tiny_npz)])
    out, err = capsys.readouterr()
    return code, out, err


# ---- replay: every kind of run -----------------------------------------------------------------


def test_a_resumed_run_replays_identical_and_a_changed_start_is_said_up_front(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tiny_npz, "--epochs", "1", "--save", "c1.npz") == 0
    assert train(tiny_npz, "--resume", "c1.npz", "--epochs", "2", "--lr", "0.02") == 0
    resumed = newest_run(tmp_path)
    start = read_run(tmp_path / "runs" / resumed).meta["start"]
    assert start["checkpoint"] == str((tmp_path / "c1.npz").resolve()) and len(start["sha256"]) == 64
    assert start["changes"] == {"lr": 0.02, "epochs": 2}
    code, out, _ = replay(tiny_npz, resumed, capsys)
    assert code == 0 and "identical" in out, out
    assert train(tiny_npz, "--epochs", "1", "--seed", "7", "--save", "c1.npz") == 0  # another run overwrites it
    code, out, err = replay(tiny_npz, resumed, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, (out, err)
    assert "c1.npz, which has changed since" in lines[0] and "cannot start where the run did" in lines[0]


def test_a_rewound_run_and_a_run_rewound_from_replay_identically(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tiny_npz, "--epochs", "2", "--batch-size", "32") == 0
    first = newest_run(tmp_path)
    assert train(tiny_npz, "--from", short_id(first), "--at", "50", "--lr", "0.01", "--epochs", "2") == 0
    rewound = newest_run(tmp_path)
    assert rewound != first and read_run(tmp_path / "runs" / rewound).meta["start_step"] == 50
    for ident in (first, rewound):
        code, out, _ = replay(tiny_npz, short_id(ident), capsys)
        assert code == 0 and "identical" in out, out


def test_a_study_run_replays_identical(tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiments", "--grid", "quick", "--data", str(tiny_npz), "--jobs", "1", "--out", str(tmp_path / "out")]
    argv += ["--variants", "stale", "--seeds", "1", "--quiet", "--no-figures", "--runs", str(tmp_path / "runs")]
    assert main(argv) == 0
    folders = list_run_dirs(tmp_path / "runs")
    stale = next(f for f in folders if read_run(f).meta["study"]["key"].startswith("stale"))
    assert read_run(stale).meta["policy"]["keep_best"]  # the study ends on its best validation weights
    code, out, _ = replay(tiny_npz, stale.name, capsys)
    assert code == 0 and "identical" in out, out


# ---- the app: one autosave per run, a finished checkpoint opens finished --------------------------


def _app(argv: list[str], tmp_path: Path) -> contextlib.AbstractContextManager[AppTerminal]:
    """The app in a pseudo-terminal in ``tmp_path``, its runs in ``tmp_path / "runs"``."""
    pytest.importorskip("pyte")
    env = app_env(tmp_path) | {"MNIST_TUI_RUNS": str(tmp_path / "runs")}
    return app_in_terminal([*MNIST_TUI, *argv], env, cwd=tmp_path)


def _quit_message(term: AppTerminal) -> str:
    """What the app printed on its way out (a long line wraps: the screen's lines joined)."""
    assert term.close() == 0
    return "".join(line.rstrip() for line in term.text().splitlines())


def ever_shown(term: AppTerminal, predicate: Callable[[str], bool], timeout: float) -> bool:
    """Whether the screen satisfied ``predicate`` after any chunk of output so far or arriving within
    ``timeout`` s: a transient frame (a toast) counts even if a later frame covered it before the
    test looked (``wait_for`` checks only the newest screen, which a loaded machine reaches late)."""
    import pyte

    screen = pyte.Screen(*term.size)
    stream = pyte.Stream(screen)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    fed, deadline = 0, time.monotonic() + timeout
    while True:
        for _, data in term.chunks[fed:]:
            stream.feed(decoder.decode(data))
            fed += 1
            if predicate("\n".join(screen.display)):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # the terminal's reader thread collects more output meanwhile


@pytest.mark.slow  # the app in a pseudo-terminal, twice
def test_every_app_session_names_an_autosave_of_its_own_that_stays(tiny_npz: Path, tmp_path: Path) -> None:
    saved = []
    for _ in range(2):
        with _app(
            ["--data", str(tiny_npz), "--hidden", "16", "--batch-size", "16", "--epochs", "10000"], tmp_path
        ) as term:
            assert term.wait_for(running, 120.0) is not None, term.text()
            said = _quit_message(term)
        found = re.search(r"saved the run to (\S+?\.npz); continue it with: mnist-tui --resume", said)
        assert found is not None
        saved.append(Path(found.group(1)))
    assert saved[0] != saved[1] and all(p.is_file() for p in saved)  # the second did not overwrite the first
    assert all(p.parent.parent == tmp_path / "runs" for p in saved)  # each next to its run's record


@pytest.mark.slow  # the app in a pseudo-terminal
def test_a_finished_checkpoint_opens_finished_and_space_trains_toward_a_stated_total(
    tiny_npz: Path, tmp_path: Path
) -> None:
    assert train(tiny_npz, "--epochs", "1", "--save", "e1.npz") == 0
    with _app(["--data", str(tiny_npz), "--resume", "e1.npz"], tmp_path) as term:
        assert term.wait_for(lambda s: "finished" in s and "epoch 1.00 / 1 " in s, 120.0) is not None, term.text()
        # the notice is a toast that expires: look for it in every frame, not only the newest
        said = ever_shown(term, lambda s: "finished 1 epoch;" in s and "space trains 1 more (to 2)" in s, 60.0)
        assert said, term.text()
        term.write(" ")
        assert term.wait_for(lambda s: "epoch 2.00 / 2 " in s and "finished" in s, 120.0) is not None, term.text()


# ---- a stop between evaluations is a fraction of an epoch --------------------------------------


def test_a_stop_between_epoch_ends_reports_its_fractional_epoch_everywhere(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--epochs", "2", "--batch-size", "16", "--target-error", "30%", "--eval-every", "10"]
    assert train(tiny_npz, *flags) == 0
    out, err = capsys.readouterr()
    reached = re.search(r"target reached: .*\(step (\d+), epoch (\d\.\d\d)\)", out)
    assert reached is not None, out
    step, epoch = int(reached.group(1)), reached.group(2)
    assert 0 < float(epoch) < 1 and f"epoch {epoch}" in err  # mid-epoch: the last epoch line is a fraction
    assert f"at epoch {epoch})" in out and "at epoch 2)" not in out and "epoch   2" not in err
    assert train(tiny_npz, *flags, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epochs"] == pytest.approx(float(epoch), abs=0.005) and result["epochs"] == result["best_epoch"]
    assert result["history"][-1]["epoch"] == result["epochs"] and result["target"]["step"] == step


# ---- run ids -----------------------------------------------------------------------------------


def test_train_prints_its_run_id_and_every_command_takes_the_short_form(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tiny_npz, "--epochs", "1") == 0
    out = capsys.readouterr().out
    run_id = newest_run(tmp_path)
    short = short_id(run_id)
    assert f"run {run_id} (short: {short};" in out
    assert train(tiny_npz, "--epochs", "1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == newest_run(tmp_path)
    assert main(["runs", "show", short]) == 0 and f"run {run_id}" in capsys.readouterr().out
    assert main(["compare", short, short_id(newest_run(tmp_path)), "--no-plot"]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["runs", "export", short, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["id"] == run_id
    code, out, _ = replay(tiny_npz, short, capsys)
    assert code == 0 and f"replaying {run_id}" in out


# ---- the study's process pool ------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("PPid:"))
            except (OSError, StopIteration):
                continue
            if int(ppid.split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    """Ended (or a zombie nobody reaps: it computes nothing and holds no memory)."""
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State"))
    except (OSError, StopIteration):
        return True
    return "Z" in state.split()[1]


@pytest.mark.slow  # a study in a process of its own, with its pool
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_study_pool_workers_end_when_the_study_is_killed(tiny_npz: Path, tmp_path: Path) -> None:
    argv = [*MNIST_TUI, "experiments", "--grid", "quick", "--data", str(tiny_npz), "--backend", "pool", "--jobs", "2"]
    argv += ["--epochs", "1000", "--out", str(tmp_path / "out"), "--quiet", "--no-figures"]
    study = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    workers: list[int] = []
    try:
        wait_until(lambda: len(_children(study.pid)) >= 2, timeout=60, what="the pool's workers")
        time.sleep(1.0)  # the workers are training (a run of 1,000 epochs takes minutes)
        workers = _children(study.pid)
        study.send_signal(signal.SIGKILL)
        study.wait(10)
        wait_until(lambda: all(_gone(pid) for pid in workers), timeout=30, what="the workers ending")
    finally:
        study.kill()
        for pid in workers:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
