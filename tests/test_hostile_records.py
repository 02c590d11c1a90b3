"""Run records as hostile input: a run folder is a file a person receives, copies, edits or finds.

One test per class of failure, each over many damages: a bad line or field (every reader lists
the others and names the bad part), a special or huge file (refused at once, memory bounded),
text meant for the terminal (escaped), paths taken from a file (never used), writes over the
record itself or through a folder that links out of the runs folder (refused).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import headless_env
from record_samples import (
    BAD_LINES,
    BAD_META,
    GOOD_ID,
    OTHER_ID,
    dumps,
    lines,
    meta,
    replace_file,
    write_record,
)

from model.runs import RunsError, read_run, summarize
from tui.cli import main
from tui.exitcodes import OK, USAGE
from tui.view.runs import load_entries

TIMEOUT = 120
#: What a terminal must never receive from a file: C0 controls but tab/newline, DEL, C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Peak RSS a refused record may cost a child that imports the whole CLI.
SMALL_PEAK_MIB = 300


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    headless_env(tmp_path, tmp_path_factory.getbasetemp() / "runs-cache", monkeypatch)


def cli(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """The real command in a child (a hang fails the test through the timeout)."""
    env = dict(os.environ, MNIST_TUI_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_about(err: str, *names: str) -> None:
    """``err`` is one line, not a traceback or the catch-all, naming one of ``names``."""
    text = err.strip()
    assert len(text.splitlines()) == 1, err
    assert "unexpected" not in text and "Traceback" not in text, err
    assert any(n in text for n in names), err
    assert not CONTROL.search(text), repr(text)


def damaged_line_record(root: Path, bad: str) -> Path:
    """A good record whose hparam event line is replaced by ``bad``."""
    rows = [dumps(r) for r in lines()]
    index = next(i for i, r in enumerate(lines()) if r.get("event") == "hparam")
    rows[index] = bad
    return write_record(root, GOOD_ID, metrics="".join(r + "\n" for r in rows))


# ---- a bad line or field never breaks another run, and is named ---------------------------------


@pytest.mark.parametrize("name", list(BAD_LINES))
def test_a_bad_metrics_line_is_skipped_counted_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    runs = tmp_path / "runs"
    damaged_line_record(runs, BAD_LINES[name])
    write_record(runs, OTHER_ID)
    rec = read_run(runs / GOOD_ID)
    assert rec.skipped == 1 and "metrics.jsonl (line 2: " in rec.skipped_note()
    summarize(rec)
    code, out, err = run_main(capsys, "runs", "--runs", str(runs))
    assert code == OK and GOOD_ID in out and OTHER_ID in out and "2 runs" in out
    assert "skipped 1 unreadable line" in err and not CONTROL.search(out + err)
    for command in (["runs", "show", GOOD_ID], ["runs", "export", GOOD_ID], ["runs", "export", "--json", GOOD_ID]):
        code, out, err = run_main(capsys, *command, "--runs", str(runs))
        assert code == OK and "line 2" in out + err and not CONTROL.search(out + err), (command, err)
    code, out, err = run_main(capsys, "compare", "--runs", str(runs), GOOD_ID, OTHER_ID)
    assert code == OK and not CONTROL.search(out + err)
    entries = list(load_entries(runs))
    assert [e.run_id for e in entries] == [OTHER_ID, GOOD_ID] and "line 2" in entries[1].note


@pytest.mark.parametrize("name", list(BAD_META))
def test_a_bad_run_json_is_listed_as_unreadable_and_one_line_about_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    runs = tmp_path / "runs"
    write_record(runs, GOOD_ID, run_json=BAD_META[name]())
    write_record(runs, OTHER_ID)
    with pytest.raises(RunsError) as err:
        read_run(runs / GOOD_ID)
    one_line_about(str(err.value), "run.json")
    code, out, err_text = run_main(capsys, "runs", "--runs", str(runs))
    assert code == OK and OTHER_ID in out and GOOD_ID in out and "unreadable" in out
    assert not CONTROL.search(out + err_text)
    for command in (["runs", "show"], ["runs", "export"], ["runs", "export", "--json"], ["compare", OTHER_ID]):
        code, out, err_text = run_main(capsys, *command, GOOD_ID, "--runs", str(runs))
        assert code == USAGE and out == "", command
        one_line_about(err_text, "run.json")
    entries = list(load_entries(runs))
    assert [e.run_id for e in entries] == [OTHER_ID, GOOD_ID] and "run.json" in entries[1].note
    assert entries[1].cells[-1] == "unreadable"


def test_what_a_record_says_reaches_the_terminal_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Escape sequences in a folder name, an id or any text field are shown as text, never sent raw."""
    runs = tmp_path / "runs"
    evil = "\x1b[2J\x1b]0;pwned\x07"
    hp_text = dumps(
        {"kind": "event", "event": "gradcheck", "step": 2, "examples": 1, "time": 0.0}
        | {"passed": False, "checks": 3, "max_rel_error": 0.1, "error": evil}
    )
    write_record(runs, GOOD_ID, run_json=json.dumps(meta(machine=meta()["machine"] | {"cpu": evil}, version=evil)))
    folder = runs / GOOD_ID
    (folder / "metrics.jsonl").write_text("".join(dumps(r) + "\n" for r in lines()) + hp_text + "\n")
    named = write_record(runs, "20261206-061111-\x1b[31m")
    assert named.is_dir()
    for command in (["runs"], ["runs", "show", GOOD_ID], ["runs", "export", GOOD_ID], ["compare", GOOD_ID]):
        code, out, err = run_main(capsys, *command, "--runs", str(runs))
        assert code in (OK, USAGE) and not CONTROL.search(out + err), (command, repr(out + err))
    assert "\\x1b" in run_main(capsys, "runs", "show", GOOD_ID, "--runs", str(runs))[1]


# ---- special and huge files: refused at once, memory bounded -----------------------------------


@pytest.mark.parametrize("target", ["run.json", "metrics.jsonl"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dir"])
def test_special_files_in_a_record_are_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, kind: str
) -> None:
    """A FIFO would block a plain open, /dev/zero stream forever: each is refused unread."""
    runs = tmp_path / "runs"
    write_record(runs, GOOD_ID)
    write_record(runs, OTHER_ID)
    replace_file(runs / GOOD_ID / target, kind)
    code, out, err = run_main(capsys, "runs", "--runs", str(runs))
    assert code == OK and OTHER_ID in out and "unreadable" in out, err
    for command in (["runs", "show"], ["runs", "export"], ["compare"]):
        code, out, err = run_main(capsys, *command, GOOD_ID, "--runs", str(runs))
        assert code == USAGE, (command, err)
        one_line_about(err, target)
    assert [e.run_id for e in load_entries(runs)] == [OTHER_ID, GOOD_ID]


@pytest.mark.slow
@pytest.mark.parametrize("command", [["runs"], ["runs", "show", GOOD_ID], ["replay", GOOD_ID]])
def test_a_fifo_in_a_record_never_blocks_the_command(tmp_path: Path, command: list[str]) -> None:
    runs = tmp_path / "runs"
    write_record(runs, GOOD_ID)
    replace_file(runs / GOOD_ID / "metrics.jsonl", "fifo")
    done = cli(*command, "--runs", str(runs))  # a hang fails through the timeout
    assert done.returncode == (OK if command == ["runs"] else USAGE), done.stderr
    assert "unexpected" not in done.stderr and "FIFO" in done.stderr, done.stderr


@pytest.mark.slow
def test_a_huge_metrics_line_costs_little_memory(tmp_path: Path) -> None:
    """A 300 MiB line (as good as 2 GiB: nothing of it is kept) is skipped, the rest is read."""
    runs = tmp_path / "runs"
    folder = write_record(runs, GOOD_ID)
    with (folder / "metrics.jsonl").open("ab") as f:
        f.write(b'{"kind":"progress","step":3,"pad":"')
        chunk = b"x" * (1 << 20)
        for _ in range(300):
            f.write(chunk)
        f.write(b'"}\n')
    code = (  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (a big test worker)
        "import sys\n"
        "from tui.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('peak', int(hwm) // 1024, file=sys.stderr)\n"
        "raise SystemExit(code)\n"
    )
    for command in (["runs"], ["runs", "show", GOOD_ID], ["runs", "export", GOOD_ID]):
        done = subprocess.run(
            [sys.executable, "-c", code, *command, "--runs", str(runs)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == OK, done.stderr
        peak = int(done.stderr.rsplit("peak", 1)[1])
        assert peak < SMALL_PEAK_MIB, (command, peak)
        assert "line" in done.stdout + done.stderr


# ---- paths never come from a file, writes never leave the folders named ------------------------


@pytest.mark.parametrize("name", ["id traversal", "id absolute"])
def test_export_tensorboard_writes_only_under_the_folder_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    pytest.importorskip("tensorboardX")
    runs = tmp_path / "runs"
    hostile = json.loads(BAD_META[name]())
    good = meta(GOOD_ID)
    write_record(runs, GOOD_ID, run_json=json.dumps(good | {"id": GOOD_ID}))
    # the id field of run.json is only a label: the folder name is what names the output
    folder = runs / GOOD_ID
    (folder / "run.json").write_text(json.dumps(good | {"id": hostile["id"]}))
    before = set(Path("/tmp").iterdir())
    code, _, err = run_main(
        capsys, "runs", "export", GOOD_ID, "--tensorboard", str(tmp_path / "tb"), "--runs", str(runs)
    )
    assert code == USAGE
    one_line_about(err, "run.json")
    assert set(Path("/tmp").iterdir()) == before and not (tmp_path / "outside").exists()
    (folder / "run.json").write_text(json.dumps(good))
    code, _, err = run_main(
        capsys, "runs", "export", GOOD_ID, "--tensorboard", str(tmp_path / "tb"), "--runs", str(runs)
    )
    assert code == OK and [p.name for p in (tmp_path / "tb").iterdir()] == [GOOD_ID], err


def test_a_tensorboard_export_failure_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tensorboardX")
    runs = tmp_path / "runs"
    write_record(runs, GOOD_ID)
    (tmp_path / "tb").write_text("a file, not a folder")
    code, _, err = run_main(
        capsys, "runs", "export", GOOD_ID, "--tensorboard", str(tmp_path / "tb"), "--runs", str(runs)
    )
    assert code == USAGE
    one_line_about(err, "tb")
    assert "training goes on" not in err


@pytest.mark.parametrize("member", ["run.json", "metrics.jsonl", "final.npz", "."])
def test_export_never_writes_over_its_own_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], member: str
) -> None:
    runs = tmp_path / "runs"
    folder = write_record(runs, GOOD_ID)
    (folder / "final.npz").write_bytes(b"weights")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    target = folder / member if member != "." else folder
    code, _, err = run_main(capsys, "runs", "export", GOOD_ID, "-o", str(target), "--runs", str(runs))
    assert code == USAGE
    one_line_about(err, member if member != "." else "folder")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    link = tmp_path / "link.csv"
    link.symlink_to(folder / "metrics.jsonl")
    code, _, err = run_main(capsys, "runs", "export", GOOD_ID, "-o", str(link), "--runs", str(runs))
    assert code == USAGE and {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_export_to_a_special_file_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    write_record(runs, GOOD_ID)
    os.mkfifo(tmp_path / "out.csv")
    for target in (tmp_path / "out.csv", Path("/dev/zero"), tmp_path):
        code, _, err = run_main(capsys, "runs", "export", GOOD_ID, "-o", str(target), "--runs", str(runs))
        assert code == USAGE
        one_line_about(err, str(target))


def test_rm_of_a_linked_record_removes_the_link_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    elsewhere = write_record(tmp_path / "elsewhere", GOOD_ID)
    runs.mkdir()
    (runs / GOOD_ID).symlink_to(elsewhere)
    code, out, err = run_main(capsys, "runs", "rm", GOOD_ID, "--runs", str(runs))
    assert "removed the link" in out
    assert code == OK and not (runs / GOOD_ID).exists() and (elsewhere / "run.json").is_file(), err


def test_the_schema_keeps_every_field_the_recorder_writes(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field the recorder gains must be added to the schema (which drops what it does not know):
    a fresh run, a resumed one (whose run.json names its start) and one that played a challenge."""
    monkeypatch.setenv("MNIST_TUI_CHALLENGES", str(tmp_path / "challenges.json"))
    runs, saved = tmp_path / "runs", tmp_path / "start.npz"
    data = ["--data", str(tiny_npz), "--runs", str(runs)]
    flags = ["--hidden", "8", "--epochs", "1", "--eval-every", "10", "--target-error", "0.9"]
    assert main(["train", *data, *flags, "--save", str(saved)]) == OK
    assert main(["train", *data, "--resume", str(saved), "--epochs", "2", "--lr", "0.2"]) == OK
    main(["train", *data, "--challenge", "too-hot", "--hidden", "16"])  # solved or not: its record is the point
    capsys.readouterr()

    def kind(folder: Path) -> str:
        written = json.loads((folder / "run.json").read_text())
        return next((k for k in ("start", "challenge") if k in written), "fresh")

    by_kind = {kind(p): p for p in runs.iterdir()}
    fresh, resumed, played = by_kind["fresh"], by_kind["start"], by_kind["challenge"]
    for folder in (fresh, resumed, played):
        rec = read_run(folder)
        written = json.loads((folder / "run.json").read_text())
        assert rec.complete and rec.meta == written, folder
        raw = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert [set(line) for line in rec.lines] == [set(line) for line in raw]
    assert {"target", "end"} <= {e["event"] for e in read_run(fresh).events}
    assert {"checkpoint", "sha256", "changes"} <= set(read_run(resumed).meta["start"])
    assert any(e["event"] == "challenge" for e in read_run(played).events)
