"""The challenge commands and flags on tiny data: every refusal is one line and exit 2, the list,
``train --challenge`` (exit 1 when not solved, a ``challenge`` object in --json), and a replay that
judges a challenge run again and catches a record that claims a solve it did not make."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import wait_until
from test_bridge import Recorder

from model.challenges import CHALLENGES, Goal, get_challenge, read_progress
from model.challenges.play import ChallengePlay, challenge_policy
from model.challenges.replayed import replay_challenge
from model.data import MNIST
from model.run import Policy, Run
from model.runs import RunRecorder, list_run_dirs, read_run
from model.trainer import make_trainer
from tui.cli import main
from tui.session.bridge import TrainingBridge


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    progress, runs = tmp_path / "challenges.json", tmp_path / "runs"
    monkeypatch.setenv("MNIST_TUI_CHALLENGES", str(progress))
    monkeypatch.setenv("MNIST_TUI_RUNS", str(runs))
    return progress, runs


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--challenge", "nope"], "unknown challenge 'nope' (choose from too-hot, dead-units"),
        (["train", "--challenge", "no-backprop", "--variant", "exact"], "keeps variant at feedback-fixed"),
        (["train", "--challenge", "too-hot", "--epochs", "3"], "counts at most 1 epoch"),
        (["train", "--challenge", "stale", "--resume", "x.npz"], "--resume cannot be combined with --challenge"),
        (["train", "--challenge", "stale", "--preset", "fast"], "--preset cannot be combined with --challenge"),
        (["challenge", "nope"], "unknown challenge 'nope'"),
        (["challenge", "too-hot"], "the interactive trainer needs a terminal"),
        (["serve", "--root", "SERVE", "--challenge", "too-hot", "--epochs", "9"], "counts at most 1 epoch"),
    ],
)
def test_refusals_are_one_line(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_npz: Path
) -> None:
    argv = [str(tmp_path / "serve") if a == "SERVE" else a for a in argv]
    if argv[0] == "train":
        argv += ["--data", str(tiny_npz)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_the_list(places: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["challenges"]) == 0
    out = capsys.readouterr().out
    for c in CHALLENGES.values():
        assert f"  {c.name}" in out and c.story in out
    assert "0 of 8 solved" in out
    assert main(["challenges", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == list(CHALLENGES) and not any(r["solved"] for r in rows)
    assert rows[1]["goal"].startswith("validation error < 3.00% and dead units < 5%")


def test_train_with_a_challenge_says_not_solved(
    places: tuple[Path, Path], tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    progress, runs = places
    code = main(["train", "--challenge", "dead-units", "--data", str(tiny_npz), "--hidden", "16", "--epochs", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "challenge dead-units: not solved (best valid" in out
    assert "the goal is validation error < 3.00% and dead units < 5% within 5 epochs" in out
    assert read_progress(progress)[0]["dead-units"].attempts == 1
    (folder,) = list_run_dirs(runs)
    record = read_run(folder)
    assert record.meta["challenge"] == "dead-units"
    assert next(e for e in record.events if e["event"] == "challenge")["solved"] is False
    main(["train", "--challenge", "too-hot", "--data", str(tiny_npz), "--hidden", "16", "--json"])
    result = json.loads(capsys.readouterr().out)["challenge"]
    assert result["challenge"] == "too-hot" and result["solved"] is False and result["run"]


def test_a_solve_after_a_reset_replays_to_the_same_evaluation(
    tiny_mnist: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dead-units as tiny data allows (an easier goal): lr 0.5, then 0.05 and a reset, on the worker
    as the app does it; the replay finds the solve at the same evaluation, with the dead units re-counted."""
    eased = dataclasses.replace(get_challenge("dead-units"), goal=Goal(0.5, 0.5))
    monkeypatch.setitem(CHALLENGES, "dead-units", eased)
    hp = eased.start_hparams().validated(hidden=16, batch_size=32)
    trainer = make_trainer(hp, tiny_mnist)
    policy = challenge_policy(eased, Policy(mistakes=True))  # as the app opens it
    extra = {"challenge": "dead-units", "policy": policy.to_dict()}
    recorder = RunRecorder.start(tmp_path, trainer, source="app", extra=extra)
    run = Run(trainer, policy=policy, recorder=recorder)
    play = ChallengePlay(eased, tmp_path / "challenges.json").follow(run)
    updates: list[bool] = []
    play.on_update.append(lambda _, solved_now: updates.append(solved_now))
    bridge = TrainingBridge(run, Recorder())
    bridge.start()
    try:
        wait_until(lambda: trainer.state.step > 70, what="steps")
        bridge.set_field("lr", 0.05)
        bridge.reset()
        wait_until(lambda: play.tracker.verdict.is_solved, timeout=60, what="the solve")
        wait_until(lambda: bridge.paused and run.state == "solved", what="halted at the solve")
    finally:
        assert bridge.stop()
    assert updates.count(True) == 1  # the solve was news once
    (folder,) = list_run_dirs(tmp_path)
    judged = replay_challenge(read_run(folder), tiny_mnist)
    assert judged.result.identical and judged.agrees
    solved = judged.tracker.verdict.solved
    assert solved is not None and solved.segment == 1 and solved.dead_fraction is not None
    assert solved.total_examples > solved.examples  # the examples before the reset count too
    assert judged.recorded is not None and judged.recorded["valid_error"] == solved.valid_error
    # a record that claims another solve is caught
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    forged = [
        json.dumps(json.loads(line) | {"valid_error": 0.0001}) if '"event":"challenge"' in line else line
        for line in lines
    ]
    (folder / "metrics.jsonl").write_text("\n".join(forged) + "\n")
    assert not replay_challenge(read_run(folder), tiny_mnist).agrees
