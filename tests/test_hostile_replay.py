"""Replay and ``--from ID --at STEP`` on hostile records: every bad intervention is one line and exit
2, work is bounded by what the record shows was done, a replayed ``load`` reads only a regular file
of bounded size, the record's BLAS thread count is capped, and a rewind never writes through a
record folder that links out of the runs folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import headless_env
from record_samples import BAD_LINES, dumps, replace_file

from model.runs import list_run_dirs
from tui.cli import main
from tui.exitcodes import USAGE

TIMEOUT = 120


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    headless_env(tmp_path, tmp_path_factory.getbasetemp() / "runs-cache", monkeypatch)


@pytest.fixture(scope="module")
def recorded(tiny_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-epoch ``train`` record on the tiny data (64 steps)."""
    runs = tmp_path_factory.mktemp("recorded")
    args = ["train", "--data", str(tiny_npz), "--runs", str(runs), "--hidden", "16", "--epochs", "2"]
    assert main([*args, "--batch-size", "64"]) == 0
    (folder,) = list_run_dirs(runs)
    return folder


@pytest.fixture
def record(recorded: Path, tmp_path: Path) -> Path:
    """A fresh copy of the recorded run in ``tmp_path/runs``."""
    folder = tmp_path / "runs" / recorded.name
    shutil.copytree(recorded, folder)
    return folder


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MNIST_TUI_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=TIMEOUT, env=env
    )


def one_line(err: str, *names: str) -> None:
    text = err.strip()
    assert len(text.splitlines()) == 1 and "unexpected" not in text, err
    assert any(n in text for n in names), err


def insert_line(folder: Path, text: str) -> None:
    """Put ``text`` in metrics.jsonl after the first progress point (a mid-run intervention)."""
    rows = (folder / "metrics.jsonl").read_text().splitlines()
    rows.insert(1, text)
    (folder / "metrics.jsonl").write_text("\n".join(rows) + "\n")


INTERVENTIONS = [
    "event hparam lr -5",
    "event hparam lr 1e308",
    "event hparam unknown field",
    "event hparam no step",
    "event reset hidden 10^9",
    "event reset no hparams",
    "event at step 10^12",
    "step Infinity",
    "nested 200,000",
]


@pytest.mark.parametrize("name", INTERVENTIONS)
def test_a_bad_intervention_is_one_line_and_exit_2(
    record: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    insert_line(record, BAD_LINES[name])
    runs = str(record.parent)
    for command in (["replay", record.name], ["train", "--from", record.name, "--at", "5", "--epochs", "1"]):
        code = main([*command, "--data", str(tiny_npz), "--runs", runs])
        err = capsys.readouterr().err
        assert code == USAGE, (command, err)
        one_line(err, "metrics.jsonl")


def test_a_load_of_a_special_or_huge_file_is_refused(
    record: Path, tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hp = json.loads((record / "run.json").read_text())["hparams"]
    for kind in ("fifo", "dev-zero", "passwd", "huge"):
        target = tmp_path / f"load-{kind}"
        if kind == "passwd":
            target = Path("/etc/passwd")
        elif kind == "huge":
            with target.open("wb") as f:
                f.truncate(3 << 30)  # sparse: 3 GiB of zeros that cost no disk
        else:
            target.touch()
            replace_file(target, kind)
        folder = tmp_path / kind / record.name
        shutil.copytree(record, folder)
        load = {"kind": "event", "event": "load", "step": 5, "examples": 320, "time": 0.1, "after_step": 5}
        insert_line(folder, dumps(load | {"path": str(target), "sha256": "0" * 64, "hparams": hp}))
        code = main(["replay", record.name, "--data", str(tiny_npz), "--runs", str(folder.parent)])
        out, err = capsys.readouterr()
        # the load never happened in the run as recorded: the replay says it cannot load the file
        assert code in (0, 1), err
        assert f"the run loaded {target}, which cannot be loaded now" in out, out + err


@pytest.mark.parametrize("at", ["100000000", "1000"])
def test_at_beyond_the_record_is_refused_at_once(
    record: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    code = main(["train", "--from", record.name, "--at", at, "--data", str(tiny_npz), "--runs", str(record.parent)])
    assert code == USAGE
    one_line(capsys.readouterr().err, "step")


def test_at_on_an_empty_record_is_refused_at_once(
    record: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (record / "metrics.jsonl").write_text("")
    args = ["--data", str(tiny_npz), "--runs", str(record.parent)]
    code = main(["train", "--from", record.name, "--at", "100000000", *args])
    assert code == USAGE
    one_line(capsys.readouterr().err, "step")


@pytest.mark.slow
def test_the_records_thread_count_is_capped(record: Path, tiny_npz: Path) -> None:
    meta = json.loads((record / "run.json").read_text())
    meta["machine"]["blas_threads"] = "64"
    (record / "run.json").write_text(json.dumps(meta))
    done = cli("replay", record.name, "--data", str(tiny_npz), "--runs", str(record.parent))
    threads = len(os.sched_getaffinity(0))
    assert f", {threads} BLAS thread" in done.stdout and "the run used 64 BLAS threads" in done.stdout, done.stdout
    assert done.returncode in (0, 1) and "unexpected" not in done.stderr, done.stderr


def test_a_rewind_never_writes_through_a_linked_record_folder(
    record: Path, tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    record.rename(elsewhere)
    record.symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())
    args = ["--data", str(tiny_npz), "--runs", str(record.parent)]
    code = main(["train", "--from", record.name, "--at", "5", "--epochs", "1", *args])
    assert code == USAGE and sorted(p.name for p in elsewhere.iterdir()) == before
    one_line(capsys.readouterr().err, "links out of the runs folder")


@pytest.fixture(scope="module")
def resumed(tiny_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``train --resume`` record: run.json names its start (checkpoint, sha256, changes)."""
    root = tmp_path_factory.mktemp("resumed")
    first = ["train", "--data", str(tiny_npz), "--hidden", "16", "--epochs", "1", "--batch-size", "64"]
    assert main([*first, "--runs", str(root / "first"), "--save", str(root / "start.npz")]) == 0
    again = ["train", "--data", str(tiny_npz), "--resume", str(root / "start.npz"), "--epochs", "2", "--lr", "0.2"]
    assert main([*again, "--runs", str(root / "runs")]) == 0
    (folder,) = list_run_dirs(root / "runs")
    assert json.loads((folder / "run.json").read_text())["start"]["changes"] == {"epochs": 2, "lr": 0.2}
    return folder


#: What a person may find in a resumed record's start, and what each command must say about it.
HOSTILE_STARTS: dict[str, tuple[Any, str]] = {
    "a FIFO": ("fifo", "not a regular file"),
    "a link to /dev/zero": ("dev-zero", "not a regular file"),
    "a folder": ("dir", "not a regular file"),
    "3 GiB": ("huge", "cannot be read now"),
    "not a checkpoint": ("/etc/passwd", "cannot be read now"),
    "changes lr -5": ({"lr": -5}, "run.json is unreadable"),
    "changes a list": ([1], "run.json is unreadable"),
    "changes of the architecture": ({"hidden": 99}, "cannot start as recorded"),
    "sha256 not hex": ("sha256", "run.json is unreadable"),
    "checkpoint a number": (7, "run.json is unreadable"),
}


@pytest.mark.parametrize("name", list(HOSTILE_STARTS))
def test_a_hostile_start_is_one_line_and_exit_2(
    resumed: Path, tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """run.json's start names a file to read and settings to apply: each damage is refused in one
    line by replay and by a rewind, before a step is taken and with nothing written."""
    folder = tmp_path / "runs" / resumed.name
    shutil.copytree(resumed, folder)
    meta = json.loads((folder / "run.json").read_text())
    value, needle = HOSTILE_STARTS[name]
    start = meta["start"]
    if value in ("fifo", "dev-zero", "dir"):
        start["checkpoint"] = str(tmp_path / "start.npz")
        replace_file(tmp_path / "start.npz", value)
    elif value == "huge":
        start["checkpoint"] = str(tmp_path / "start.npz")
        with (tmp_path / "start.npz").open("wb") as f:
            f.truncate(3 << 30)  # sparse: 3 GiB of zeros that cost no disk
    elif value == "sha256":
        start["sha256"] = "../not-a-digest"
    elif isinstance(value, str | int):
        start["checkpoint"] = value
    else:
        start["changes"] = value
    (folder / "run.json").write_text(json.dumps(meta))
    before = sorted(p.name for p in folder.iterdir())
    args = ["--data", str(tiny_npz), "--runs", str(folder.parent)]
    for command in (["replay", folder.name], ["train", "--from", folder.name, "--at", "5", "--epochs", "1"]):
        code = main([*command, *args])
        out, err = capsys.readouterr()
        assert code == USAGE, (command, out, err)
        one_line(err, needle)
    assert sorted(p.name for p in folder.iterdir()) == before  # no rewind file, nothing else


def test_a_rewind_that_cannot_be_saved_is_one_line(
    record: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something in the rewind file's place (a FIFO, say) is one line, exit 2, not an unexpected error."""
    replace_file(record / "rewind-5.npz", "fifo")
    args = ["--data", str(tiny_npz), "--runs", str(record.parent)]
    code = main(["train", "--from", record.name, "--at", "5", "--epochs", "1", *args])
    assert code == USAGE
    one_line(capsys.readouterr().err, "rewind-5.npz")


def test_an_hparam_event_without_its_old_value_is_replayed(
    record: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``old`` is only said, never used: a record without it replays (found by the replay fuzzer:
    a KeyError here once)."""
    change = {"kind": "event", "event": "hparam", "step": 2, "examples": 128, "time": 0.1, "field": "lr", "new": 0.2}
    insert_line(record, dumps(change))
    code = main(["replay", record.name, "--data", str(tiny_npz), "--runs", str(record.parent)])
    out, err = capsys.readouterr()
    assert code == 1 and err == "", err  # the run never made that change: the replay departs after it
    assert "departs at step" in out and "lr None -> 0.2 after step 2" in out, out


def test_a_departing_record_from_another_release_says_so(
    record: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record made by another version that departs names both versions (a release may sum in
    another order); the record made by this one replays identical without that line."""
    args = [record.name, "--data", str(tiny_npz), "--runs", str(record.parent)]
    assert main(["replay", *args]) == 0
    assert "recorded by mnist-tui" not in capsys.readouterr().out
    meta = json.loads((record / "run.json").read_text())
    meta["version"] = "0.0.9"
    (record / "run.json").write_text(json.dumps(meta))
    change = {"kind": "event", "event": "hparam", "step": 2, "examples": 128, "time": 0.1, "field": "lr", "new": 0.2}
    insert_line(record, dumps(change))
    assert main(["replay", *args]) == 1
    out = capsys.readouterr().out
    assert "departs at step" in out and "recorded by mnist-tui 0.0.9 and replayed by" in out, out
