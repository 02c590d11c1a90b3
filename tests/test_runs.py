"""Run records: what ``train`` writes, how a killed or unwritable run behaves, and reading back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import headless_env

from model.data import MNIST
from model.runs import RunRecorder, find_run, list_run_dirs, read_run, summarize
from model.runs.store import RunsError
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROGRESS_FIELDS = {"kind", "step", "examples", "epoch", "time", "lr", "loss", "smoothed"}
META_FIELDS = {"id", "started", "hparams", "seed", "data", "version", "machine", "source", "variant"}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    headless_env(tmp_path, tmp_path_factory.getbasetemp() / "runs-cache", monkeypatch)


def train(tiny_npz: Path, runs: Path, *flags: str) -> int:
    return main(["train", "--data", str(tiny_npz), "--runs", str(runs), "--hidden", "16", "--epochs", "2", *flags])


def test_train_writes_a_record_every_line_parses(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert train(tiny_npz, runs, "--lr", "0.05", "--seed", "3") == 0
    (folder,) = list_run_dirs(runs)
    meta = json.loads((folder / "run.json").read_text())
    assert set(meta) >= META_FIELDS
    assert meta["seed"] == 3 and meta["hparams"]["lr"] == 0.05 and meta["source"] == "train"
    assert {"cpu", "blas", "numpy"} <= set(meta["machine"])
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    objs = [json.loads(line) for line in lines]  # every line parses
    points = [o for o in objs if o["kind"] == "progress"]
    assert all(set(p) >= PROGRESS_FIELDS for p in points)
    evals = [p for p in points if "valid_error" in p]
    assert len(evals) == 2 and all({"train_error", "test_error"} <= set(p) for p in evals)
    steps = [p["step"] for p in points]
    assert steps == sorted(steps)
    assert any("angles" in p for p in points)
    assert objs[-1]["event"] == "end" and objs[-1]["status"] == "finished"
    assert (folder / "final.npz").is_file()
    rec = read_run(folder)
    assert rec.skipped == 0
    s = summarize(rec)
    assert s.best_valid is not None and s.test_at_best is not None and s.status == "finished"


def test_records_do_not_change_the_numbers(tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same run with and without a writable record folder gives the same JSON."""
    assert train(tiny_npz, tmp_path / "a", "--json") == 0
    first = json.loads(capsys.readouterr().out)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert train(tiny_npz, ro / "runs", "--json") == 0
        second = capsys.readouterr()
    finally:
        ro.chmod(0o700)
    out = json.loads(second.out)
    for key in ("valid_error", "test_error", "train_loss", "steps"):
        assert out[key] == first[key]
    if os.geteuid() != 0:  # root writes anywhere: no warning to see
        warnings = [line for line in second.err.splitlines() if "run record" in line]
        assert len(warnings) == 1 and "training goes on" in warnings[0]


def test_a_write_error_warns_once_and_stops_recording(tmp_path: Path, tiny_mnist: MNIST) -> None:
    from model.trainer import make_trainer

    trainer = make_trainer(__import__("model").HyperParams(hidden=8, batch_size=100), tiny_mnist)
    said: list[str] = []
    rec = RunRecorder.start(tmp_path, trainer, source="test", warn=said.append)
    assert rec.folder is not None
    os.close(rec._fd)  # type: ignore[arg-type]  # the next write fails, as on a full disk
    rec._fd = os.open(os.devnull, os.O_RDONLY)
    for _ in range(30):
        rec.step(trainer.step())
    rec.flush()
    rec.event("pause", 1, 1)
    rec.finish(trainer, "finished")
    assert len(said) == 1 and "training goes on" in said[0]


def test_a_torn_last_line_is_skipped_and_said(tmp_path: Path) -> None:
    folder = tmp_path / "20260101-000000-abcd"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"id": folder.name}))
    good = json.dumps({"kind": "progress", "step": 1, "examples": 10, "time": 0.1, "valid_error": 0.5})
    (folder / "metrics.jsonl").write_text(good + "\n" + good[:17])
    rec = read_run(folder)
    assert len(rec.points) == 1 and rec.skipped == 1 and rec.torn_last
    assert "cut short" in rec.skipped_note()


KILLED = """
import sys
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigkill_mid_epoch_leaves_a_readable_record(tiny_npz: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = os.environ | {"PYTHONPATH": str(ROOT), "MNIST_TUI_THREADS": "1"}
    argv = ["train", "--data", str(tiny_npz), "--runs", str(runs), "--hidden", "64", "--epochs", "200",
            "--batch-size", "1"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", KILLED, *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until at least a second of steps is on disk
            metrics = list(runs.glob("*/metrics.jsonl"))
            if metrics and metrics[0].stat().st_size > 2000:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    (folder,) = list_run_dirs(runs)
    rec = read_run(folder)  # does not raise
    assert rec.points and rec.skipped <= 1 and (rec.skipped == 0 or rec.torn_last)
    s = summarize(rec)
    assert s.status == "unfinished" and s.steps > 0


def test_find_run_by_prefix(tmp_path: Path) -> None:
    for name in ("20260101-000000-aaaa", "20260101-000000-aaab", "20260102-000000-bbbb"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text("{}")
    assert find_run(tmp_path, "20260102").name == "20260102-000000-bbbb"
    with pytest.raises(RunsError, match="ambiguous"):
        find_run(tmp_path, "20260101")
    with pytest.raises(RunsError, match="no run"):
        find_run(tmp_path, "2027")


# ---- runs list / show / export / rm, compare ------------------------------------------------


@pytest.fixture
def two_runs(tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:
    runs = tmp_path / "runs"
    for lr in ("0.05", "0.2"):
        assert train(tiny_npz, runs, "--lr", lr) == 0
    capsys.readouterr()
    return runs, [p.name for p in list_run_dirs(runs)]


def test_runs_list_and_show(two_runs: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    runs, ids = two_runs
    assert main(["runs", "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert all(i in out for i in ids) and "lr=0.05" in out and "lr=0.2" in out and "2 runs in" in out
    assert main(["runs", "show", ids[1], "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "evaluations:" in out and "end" in out and "lr=0.2" in out


def test_export_csv_has_one_row_per_progress_point(
    two_runs: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import csv

    from tui.cli.runs import CSV_COLUMNS

    runs, ids = two_runs
    assert main(["runs", "--runs", str(runs), "export", ids[0], "--csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    rec = read_run(runs / ids[0])
    assert len(rows) == len(rec.points) and tuple(rows[0]) == CSV_COLUMNS
    assert sum(bool(r["valid_error"]) for r in rows) == 2
    out = tmp_path / "run.json"
    assert main(["runs", "--runs", str(runs), "export", ids[0], "--json", "-o", str(out)]) == 0
    whole = json.loads(out.read_text())
    assert whole["run"]["id"] == ids[0] and len(whole["points"]) == len(rec.points)


def test_rm_and_bad_ids(two_runs: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    runs, ids = two_runs
    assert main(["runs", "--runs", str(runs), "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run 'nope'" in err
    assert main(["runs", "--runs", str(runs), "rm", ids[0]]) == 0
    assert f"removed run {ids[0]}" in capsys.readouterr().out
    assert [p.name for p in list_run_dirs(runs)] == ids[1:]
    assert main(["runs", "--runs", str(runs), "rm", ids[0]]) == 2


def test_compare_two_runs(two_runs: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    runs, ids = two_runs
    assert main(["compare", *ids, "--runs", str(runs), "--width", "80", "--height", "15"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("id") and "to 5% valid" in lines[0] and "to 2% valid" in lines[0]
    assert sum(i in out for i in ids) == 2
    assert "valid error %" in out and "smoothed loss" in out
    assert main(["compare", ids[0], "zzz", "--runs", str(runs)]) == 2


def test_experiments_records_runs_only_with_runs_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip
    import pickle

    from test_experiments import tiny_data

    d, data = tiny_data(300), tmp_path / "tiny.pkl.gz"
    with gzip.open(data, "wb") as f:
        pickle.dump(((d.train_x, d.train_y), (d.valid_x, d.valid_y), (d.test_x, d.test_y)), f)
    argv = ["experiments", "--grid", "quick", "--data", str(data), "--jobs", "1", "--seeds", "1"]
    argv += ["--variants", "feedback-fixed", "--quiet", "--no-figures"]
    default_runs = Path(os.environ["MNIST_TUI_RUNS"])
    before = len(list_run_dirs(default_runs))
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert len(list_run_dirs(default_runs)) == before  # no --runs: no records anywhere
    assert main([*argv, "--out", str(tmp_path / "b"), "--runs", str(tmp_path / "records")]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / x / "results.json").read_text())["runs"] for x in "ab")
    assert [r["valid_error"] for r in a] == [r["valid_error"] for r in b]  # the same numbers
    folders = list_run_dirs(tmp_path / "records")
    assert len(folders) == len(b)
    rec = read_run(folders[0])
    assert rec.meta["source"] == "experiments" and rec.evaluations and rec.skipped == 0


def test_a_resumed_train_run_says_where_it_came_from(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, ckpt = tmp_path / "runs", tmp_path / "run.npz"
    assert train(tiny_npz, runs, "--epochs", "1", "--save", str(ckpt)) == 0
    assert main(["train", "--data", str(tiny_npz), "--runs", str(runs), "--resume", str(ckpt), "--epochs", "2"]) == 0
    first, second = (read_run(f) for f in list_run_dirs(runs))
    assert second.meta["resumed_from"] == str(ckpt.resolve())
    assert second.meta["start_step"] == summarize(first).steps > 0
    assert second.points[0]["step"] > second.meta["start_step"]
    assert main(["runs", "--runs", str(runs), "show", second.run_id]) == 0
    assert f"resumed    from {ckpt.resolve()}" in capsys.readouterr().out
