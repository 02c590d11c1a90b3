"""Error paths of the ``mnist-tui`` command: every mistake is one line on stderr and exit status 2.

Bad flags and values, bad environment variables, bad data files and folders, bad checkpoints
and bad ``--save`` targets. No traceback, nothing on stdout, and no file written or overwritten.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.checkpoint import save_checkpoint
from model.config import HyperParams
from model.data import MNIST
from model.trainer import Trainer
from tui.cli import main
from tui.exitcodes import USAGE


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, tiny_mnist: MNIST) -> dict[str, Path]:
    """A good tiny data file and a zoo of bad ones."""
    d = tmp_path_factory.mktemp("files")
    m = tiny_mnist
    x = (np.concatenate([m.train_x[:600], m.valid_x[:120]]) * 256).astype(np.uint8).reshape(-1, 28, 28)
    y = np.concatenate([m.train_y[:600], m.valid_y[:120]])
    good = d / "mnist.npz"
    np.savez(good, x_train=x, y_train=y, x_test=(m.test_x * 256).astype(np.uint8).reshape(-1, 28, 28), y_test=m.test_y)
    raw = good.read_bytes()
    out = {"good": good}
    (d / "empty").mkdir()
    out["empty-dir"] = d / "empty"
    out["missing"] = d / "nope.pkl.gz"
    for name, content in {
        "zero.npz": b"",
        "truncated.npz": raw[: len(raw) // 3],
        "text.txt": b"just some text\n",
        "bad.gz": gzip.compress(raw)[:-100],
        "evil.pkl": pickle.dumps(Evil()),
    }.items():
        (d / name).write_bytes(content)
        out[name] = d / name
    np.savez(d / "shapes.npz", x_train=np.zeros((10, 5), np.uint8), y_train=np.zeros(10), x_test=x, y_test=y)
    out["shapes.npz"] = d / "shapes.npz"
    trainer = Trainer((m.train_x, m.train_y), HyperParams(hidden=8))
    out["checkpoint"] = save_checkpoint(d / "run.npz", trainer.run_state())
    return out


class Evil:
    """Unpickling this would create a file named PWNED in the working directory."""

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, ("touch PWNED",))


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path_factory.getbasetemp() / "cli-cache"))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.delenv("MNIST_TUI_THREADS", raising=False)


def exit_status(argv: list[str]) -> int:
    """What ``mnist-tui ARGV`` exits with: main's return value, or argparse's SystemExit code."""
    try:
        return main(argv)
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code


def run_fails(argv: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> str:
    """``mnist-tui ARGV`` exits 2 with exactly one stderr line containing ``needle`` and no stdout."""
    code = exit_status(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == USAGE, (argv, err)
    assert len(lines) == 1 and lines[0].startswith("mnist-tui"), err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["train", "--lr", "abc"], "lr must be a number"),
        (["train", "--lr", "nan"], "lr must be finite"),
        (["train", "--lr=-inf"], "lr must be finite"),
        (["train", "--lr", "-1"], "lr must be > 0"),
        (["train", "--lr", "0"], "lr must be > 0"),
        (["train", "--lr"], "expected one argument"),
        (["train", "--batch-size", "1.5"], "batch_size must be a whole number"),
        (["train", "--batch-size", "0"], "batch_size must be >= 1"),
        (["train", "--hidden", "1e9"], "hidden must be"),
        (["train", "--momentum", "1"], "momentum must be"),
        (["train", "--epochs", "  "], "epochs: empty value"),
        (["train", "--schedule", "weekly"], "schedule must be one of"),
        (["train", "--activation", "gelu"], "activation must be one of"),
        (["train", "--seed", "-1"], "seed must be"),
        (["train", "--threads", "0"], "--threads must be between 1 and"),
        (["train", "--threads", "many"], "invalid int value"),
        (["train", "--preset", "huge"], "invalid choice"),
        (["evaluate"], "the following arguments are required: CHECKPOINT"),
    ],
)
def test_bad_flags(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_fails(argv, capsys, needle)


@pytest.mark.parametrize(("value", "needle"), [("abc", "whole number"), ("0", "between 1 and"), ("-3", "between")])
def test_bad_threads_environment(
    value: str, needle: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_TUI_THREADS", value)
    assert needle in run_fails(["gradcheck"], capsys, "MNIST_TUI_THREADS must be")


def test_help_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["train", "--help"]) == 0
    assert "--resume" in capsys.readouterr().out


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert exit_status(["--version"]) == 0
    assert capsys.readouterr().out == f"mnist-tui {pyproject['project']['version']}\n"


@pytest.mark.parametrize("kind", ["missing", "junk"])
def test_app_refuses_bad_data_before_taking_the_screen(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mnist.pkl.gz"
    if kind == "junk":
        path.write_bytes(b"this is not MNIST at all")
    assert exit_status(["--data", str(path)]) == USAGE
    err = capsys.readouterr().err
    assert str(path) in err and len(err.strip().splitlines()) == 1 and "terminal" not in err


def test_experiments_help_says_what_it_does_and_how_long(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["experiments", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    from model.study import DEFAULT

    assert "write results.md, results.json and figures" in out
    from tui.cli.experiments import timed

    assert f"{timed(DEFAULT)}." in out
    said = {timed(replace(DEFAULT, minutes=m)) for m in (0.0, 75.0)}
    assert said == {
        "the default grid has not yet been timed from start to end on a 2-core machine",
        "the default grid took 75 minutes on a 2-core machine shared with other work",
    }  # never "took 0 minutes"


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("missing", "does not exist"),
        ("empty-dir", "directory without MNIST data"),
        ("zero.npz", "is empty"),
        ("truncated.npz", "not a readable npz"),
        ("text.txt", "not a recognised MNIST file"),
        ("bad.gz", "gzip"),
        ("evil.pkl", "refusing to load it"),
        ("shapes.npz", "expected (N, 784)"),
    ],
)
def test_bad_data_for_every_command(
    files: dict[str, Path], name: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(files[name])
    before = files[name].read_bytes() if files[name].is_file() else None
    ck = tmp_path / "out.npz"
    for argv in (
        ["train", "--data", path, "--save", str(ck)],
        ["train", "--data", path, "--resume", str(files["checkpoint"])],
        ["fetch", "--data", path],
        ["evaluate", str(files["checkpoint"]), "--data", path],
    ):
        run_fails(argv, capsys, needle)
    assert not ck.exists()
    assert not (tmp_path / "PWNED").exists()
    if before is not None:
        assert files[name].read_bytes() == before


def test_bad_data_from_the_environment(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_TUI_DATA", str(files["zero.npz"]))
    run_fails(["train", "--epochs", "1"], capsys, "MNIST_TUI_DATA")


def test_evaluate_bad_paths(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    good = str(files["good"])
    run_fails(["evaluate", str(files["missing"]), "--data", good], capsys, "no such file")
    run_fails(["evaluate", str(files["empty-dir"]), "--data", good], capsys, "is a directory")
    run_fails(["evaluate", good, "--data", good], capsys, "missing arrays")  # data, not a checkpoint
    run_fails(["evaluate", str(files["evil.pkl"]), "--data", good], capsys, "not a readable .npz checkpoint")


def test_app_refuses_a_bad_checkpoint_before_opening(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run_fails(["--resume", str(files["evil.pkl"])], capsys, "not a readable .npz checkpoint")
    run_fails(["--resume", str(files["missing"])], capsys, "no such file")


def test_bad_save_targets_fail_before_training(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = files["good"]
    before = good.read_bytes()
    base = ["train", "--data", str(good), "--epochs", "1", "--hidden", "8"]
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x")
    run_fails([*base, "--save", str(tmp_path / "plain" / "run.npz")], capsys, "is a file, not a folder")
    run_fails([*base, "--save", str(good)], capsys, "refusing to overwrite")
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "plain"]  # nothing written anywhere
    assert exit_status([*base, "--save", str(tmp_path / "folder")]) == 0  # a folder: a new file in it, as in the app
    (saved,) = (tmp_path / "folder").iterdir()
    assert saved.name.startswith("mnist-tui-") and saved.suffix == ".npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "plain"]  # never a folder.npz beside it


def test_resume_with_preset_is_refused(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ck = tmp_path / "run.npz"
    assert main(["train", "--data", str(files["good"]), "--epochs", "1", "--hidden", "8", "--save", str(ck)]) == 0
    capsys.readouterr()
    run_fails(["train", "--data", str(files["good"]), "--resume", str(ck), "--preset", "fast"], capsys, "--preset")


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--preset", "best"], "--preset cannot be combined with --resume"),
        (["--hidden", "300", "--lr", "0.01"], "keeps its architecture and seed: --hidden 300 (checkpoint: 8)"),
    ],
)
def test_the_app_and_train_refuse_the_same_flags_beside_resume(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], needle: str
) -> None:
    ck = tmp_path / "run.npz"
    assert main(["train", "--data", str(files["good"]), "--epochs", "1", "--hidden", "8", "--save", str(ck)]) == 0
    capsys.readouterr()
    in_train = run_fails(["train", "--data", str(files["good"]), "--resume", str(ck), *flags], capsys, needle)
    in_app = run_fails(["--data", str(files["good"]), "--resume", str(ck), *flags], capsys, needle)
    assert in_app == in_train  # one rule, one message, before the app takes the screen


def test_checkpoint_for_other_inputs(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = Trainer((np.zeros((30, 100), np.float32), np.arange(30) % 10), HyperParams(hidden=4))
    ck = save_checkpoint(tmp_path / "small.npz", t.run_state())
    run_fails(["evaluate", str(ck), "--data", str(files["good"])], capsys, "expects 100 inputs")
    run_fails(["train", "--resume", str(ck), "--data", str(files["good"])], capsys, "training examples")


def test_an_unexpected_error_is_one_line_and_logged(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.cli.train
    import tui.errorlog

    def broken(*args: object) -> int:
        raise KeyError("a bug somewhere")

    monkeypatch.setattr(tui.errorlog, "log_dirs", lambda: [tmp_path / "logs"])
    monkeypatch.setattr(tui.cli.train, "run", broken)
    assert exit_status(["train", "--data", str(files["good"])]) == 1
    err = capsys.readouterr().err.strip()
    log = tmp_path / "logs" / "mnist-tui.log"
    assert err == f"mnist-tui: unexpected error: KeyError: 'a bug somewhere' (full report: {log})"
    assert "Traceback" in log.read_text() and "a bug somewhere" in log.read_text()


def test_the_error_log_rolls_over_and_falls_back_to_the_next_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.errorlog

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the log folder belongs")
    monkeypatch.setattr(tui.errorlog, "log_dirs", lambda: [blocked, tmp_path / "logs"])
    monkeypatch.setattr(tui.errorlog, "MAX_BYTES", 200)
    for n in range(3):
        path = tui.errorlog.log_error(f"call {n}", ValueError("x" * 150))
    assert path == tmp_path / "logs" / "mnist-tui.log"
    assert "call 2" in path.read_text() and "call 1" in path.with_name("mnist-tui.log.1").read_text()
    assert capsys.readouterr() == ("", "")  # nothing reaches the terminal


def test_every_subcommand_is_a_module_registered_in_one_list(capsys: pytest.CaptureFixture[str]) -> None:
    """Adding a subcommand is a module with NAME, add_parser and run, and one line in COMMANDS."""
    from tui.cli import COMMANDS, build_parser

    names = [command.NAME for command in COMMANDS]
    assert len(set(names)) == len(names)
    assert all(callable(command.add_parser) and callable(command.run) for command in COMMANDS)
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(f"    {name} " in listed for name in names)
