"""The challenge model: the catalog, the goal check (a pure function of what a run measured), the
tracker that follows a run, and the progress file read as hostile input."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import pytest

from model.challenges import (
    CHALLENGES,
    Attempt,
    ChallengeTracker,
    Evaluation,
    Goal,
    Verdict,
    check,
    get_challenge,
    progress_file,
    read_progress,
    save_progress,
)
from model.challenges.check import distance, goal_text, limits_text, solved_text
from model.challenges.play import ChallengePlay, challenge_policy
from model.challenges.progress import MAX_BYTES, Progress, updated
from model.config import SPECS, HyperParams
from model.data import MNIST
from model.run import Change, Recording, Reset, open_run
from model.runs import list_run_dirs, read_run
from model.trainer import StepMetrics, make_trainer


def ev(valid: float, epoch: float = 0.5, total: int = 25_000, dead: float | None = None, seg: int = 0) -> Evaluation:
    return Evaluation(
        step=int(epoch * 782),
        examples=int(epoch * 50_000),
        epoch=epoch,
        total_examples=total,
        valid_error=valid,
        test_error=valid + 0.002,
        dead_fraction=dead,
        segment=seg,
    )


# ---- the catalog ------------------------------------------------------------------------------


def test_eight_or_more_well_formed_challenges() -> None:
    assert len(CHALLENGES) >= 8
    for name, c in CHALLENGES.items():
        assert c.name == name and c.title and c.story and len(c.hints) >= 2
        assert c.hints[-1].startswith("Why: ")  # the last hint explains the mechanism
        c.start_hparams()  # valid settings, through the same table as every flag
        solution = c.solution_hparams()
        assert solution != c.start_hparams()
        for field in c.limits.fixed:
            assert field in SPECS and field not in c.solution  # a solution never changes a fixed setting
        assert c.limits.epochs is not None or c.limits.examples is not None  # every goal has a budget
        if c.limits.epochs is not None:  # the app stops at the limit: it says "finished" there
            assert c.start_hparams().epochs == c.limits.epochs
    with pytest.raises(ValueError, match="choose from too-hot"):
        get_challenge("too-cold-for-words")


# ---- the check --------------------------------------------------------------------------------


def test_solved_at_the_first_evaluation_that_meets_the_goal_within_the_limits() -> None:
    c = get_challenge("too-hot")  # < 5% within 1 epoch, no reset
    v = check(c, Attempt([ev(0.09, 0.2), ev(0.048, 0.6), ev(0.04, 0.8)]))
    assert v.is_solved and v.solved is not None and v.solved.valid_error == 0.048
    assert v.best is not None and v.best.valid_error == 0.04 and v.latest == ev(0.04, 0.8)
    assert not check(c, Attempt([ev(0.05, 0.6)])).is_solved  # strictly below
    assert not check(c, Attempt([ev(0.03, 1.2)])).is_solved  # past the epoch limit
    assert check(c, Attempt([ev(0.03, 1.0 + 1e-12)])).is_solved  # an epoch's end is within it
    assert not check(c, Attempt()).is_solved


def test_a_broken_rule_stops_later_evaluations_from_counting() -> None:
    c = get_challenge("too-hot")
    assert check(c, Attempt([ev(0.2), ev(0.03)], broken="reset", broken_after=1)).solved is None
    assert check(c, Attempt([ev(0.03), ev(0.2)], broken="reset", broken_after=1)).is_solved  # solved before


def test_dead_units_need_both_figures() -> None:
    c = get_challenge("dead-units")
    assert not check(c, Attempt([ev(0.02, 2.0, dead=0.3)])).is_solved
    assert not check(c, Attempt([ev(0.02, 2.0, dead=None)])).is_solved  # not measured: not met
    assert check(c, Attempt([ev(0.029, 2.0, dead=0.04)])).is_solved
    assert distance(c.goal, ev(0.035, dead=0.25)) == "valid 3.50%, 0.50 pp to go · dead 25.00%, 20.00 pp to go"


def test_the_examples_budget_counts_every_example() -> None:
    c = get_challenge("speedrun")
    assert c.limits.examples is not None
    assert check(c, Attempt([ev(0.019, 5.0, total=c.limits.examples)])).is_solved
    assert not check(c, Attempt([ev(0.019, 1.0, total=c.limits.examples + 1, seg=1)])).is_solved


def test_in_words() -> None:
    c = get_challenge("dead-units")
    assert goal_text(c.goal) == "validation error < 3.00% and dead units < 5%"
    assert limits_text(c.limits) == "within 5 epochs of the weights trained"
    assert limits_text(get_challenge("too-hot").limits) == "within 1 epoch, no reset"
    assert "400,000 training examples in all" in limits_text(get_challenge("speedrun").limits)
    text = solved_text(c.goal, ev(0.0291, 2.0, total=150_000, dead=0.02, seg=1))
    assert text.startswith("valid 2.91% < 3.00%, dead 2.0% < 5% (test 3.11%) at epoch 2.00")
    assert "150,000 in all" in text


# ---- the tracker --------------------------------------------------------------------------------


def test_the_tracker_follows_a_run(tiny_mnist: MNIST) -> None:
    c = get_challenge("dead-units")
    trainer = make_trainer(c.start_hparams().validated(hidden=16, lr=0.05), tiny_mnist)
    tracker = ChallengeTracker(c)
    for _ in range(40):
        trainer.step()
    first = tracker.evaluated(trainer, trainer.evaluate())
    (e,) = tracker.attempt.evaluations
    assert e.dead_fraction is not None and 0.0 <= e.dead_fraction <= 1.0  # the goal needs it: measured
    before = trainer.state.examples_seen
    assert e.total_examples == e.examples == before and e.segment == 0
    tracker.reset(before)
    trainer.reset()
    for _ in range(5):
        trainer.step()
    tracker.evaluated(trainer, trainer.evaluate())
    second = tracker.attempt.evaluations[-1]
    assert second.segment == 1 and second.examples == 5 * 64 and second.total_examples == before + 5 * 64
    assert not tracker.verdict.broken  # dead-units allows resets
    assert first is (tracker.verdict.solved is not None)


def test_a_play_follows_the_run_core_and_halts_it_at_the_solve(tiny_mnist: MNIST, tmp_path: Path) -> None:
    """A play hears the run's settings changes, resets and evaluations as events (dead-units, its
    goal eased to what tiny data reaches): the examples before a reset counted, the run halted in
    state "solved" at the solve, the record and the progress file written as the run closes."""
    eased = dataclasses.replace(get_challenge("dead-units"), goal=Goal(0.6, 1.0))
    hp = eased.start_hparams().validated(hidden=16, epochs=3)
    recording = Recording(tmp_path / "runs", "train", extra={"challenge": "dead-units"})
    run = open_run(tiny_mnist, hp, policy=challenge_policy(eased), recording=recording)
    play = ChallengePlay(eased, tmp_path / "challenges.json").follow(run)
    heard: list[bool] = []
    play.on_update.append(lambda _, solved_now: heard.append(solved_now))
    for _ in range(5):
        run.step()
    run.apply(Change({"lr": 0.05}))
    run.apply(Reset())
    assert play.tracker.earlier_examples == 5 * 64 and play.tracker.segment == 1 and not play.tracker.verdict.broken
    run.train()
    assert run.state == "solved" and play.tracker.verdict.is_solved and heard.count(True) == 1
    assert play.tracker.took() == {"changes": {"hidden": 16, "lr": 0.05}, "resets": 1}
    run.close()
    record = read_run(list_run_dirs(tmp_path / "runs")[0])
    (solve,) = [e for e in record.events if e["event"] == "challenge"]
    assert solve["solved"] is True and solve["segment"] == 1 and record.events[-1]["status"] == "solved"
    known, _ = read_progress(tmp_path / "challenges.json")
    assert known["dead-units"].solved and known["dead-units"].attempts == 1  # counted as the run closed


def test_the_tracker_breaks_on_a_reset_a_load_or_a_fixed_setting() -> None:
    hot = ChallengeTracker(get_challenge("too-hot"))
    hot.reset(1000)
    assert "no reset" in hot.verdict.broken
    loaded = ChallengeTracker(get_challenge("dead-units"))
    loaded.loaded()
    assert "checkpoint" in loaded.verdict.broken
    fixed = ChallengeTracker(get_challenge("no-backprop"))
    fixed.changed(fixed.challenge.start_hparams().validated(lr=0.1))
    assert not fixed.verdict.broken
    fixed.changed(fixed.challenge.start_hparams().validated(variant="exact"))
    assert fixed.verdict.broken.startswith("variant changed from feedback-fixed")


def test_a_solve_says_what_it_took() -> None:
    c = get_challenge("too-hot")
    tracker = ChallengeTracker(c)
    hp = c.start_hparams().validated(lr=0.05, epochs=3)
    assert not tracker.add(ev(0.2, 0.1), hp)
    assert tracker.add(ev(0.045, 0.7), hp)
    assert not tracker.add(ev(0.04, 0.9), hp)  # only the first solves
    assert tracker.took() == {"changes": {"lr": 0.05}, "resets": 0}  # the epoch count is not a change
    record = tracker.record()
    assert record["solved"] and record["challenge"] == "too-hot" and record["changes"] == {"lr": 0.05}


def test_evaluations_between_epochs_come_every_so_many_examples() -> None:
    def after(examples: int, batch: int = 64) -> StepMetrics:  # the step that ends at ``examples``
        return StepMetrics(examples // batch, examples / 50_000, examples, 0.1, 0.1, batch)

    policy = challenge_policy(get_challenge("too-hot"))  # every 10,000 examples
    assert policy.due(after(10_048)) and not policy.due(after(10_112))
    assert policy.due(after(10_000, batch=100))  # a step that ends on the multiple
    assert not challenge_policy(get_challenge("stale")).due(after(10_048))  # epoch ends only


# ---- progress ------------------------------------------------------------------------------------


def solved_verdict(valid: float = 0.045) -> Verdict:
    c = get_challenge("too-hot")
    return check(c, Attempt([ev(0.2, 0.1), ev(valid, 0.7)]))


def test_progress_round_trip_keeps_the_first_solve_and_the_best(tmp_path: Path) -> None:
    path = tmp_path / "challenges.json"
    assert read_progress(path) == ({}, "")
    took = {"changes": {"lr": 0.05}, "resets": 0}
    assert save_progress(path, "too-hot", solved_verdict(0.045), took, "run-a", ended=False) == ""
    assert save_progress(path, "too-hot", solved_verdict(0.03), took, "run-b", ended=True) == ""
    known, note = read_progress(path)
    p = known["too-hot"]
    assert note == "" and p.solved and p.run == "run-a" and p.valid_error == 0.045  # the first solve
    assert p.best_valid == 0.03 and p.attempts == 1 and p.changes == {"lr": 0.05}
    assert "epoch 0.70" in p.took


def test_progress_in_a_session_folder_or_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress_file(tmp_path / "session-1") == tmp_path / "session-1" / "challenges.json"
    monkeypatch.setenv("MNIST_TUI_CHALLENGES", str(tmp_path / "p.json"))
    assert progress_file() == tmp_path / "p.json"


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{", "unreadable"),
        (b'{"format": "mnist-tui-challenges/1", "challenges": {"too-hot": {"best_valid": NaN}}}', "unreadable"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format": "other"}', "not a challenge progress file"),
        (b"\xff\xfe", "unreadable"),
        (b" " * (MAX_BYTES + 1), "larger than"),
    ],
)
def test_hostile_progress_is_one_line_and_nothing_is_lost(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "challenges.json"
    path.write_bytes(content)
    known, note = read_progress(path)
    assert known == {} and needle in note and "\n" not in note
    assert save_progress(path, "stale", solved_verdict(), {}, "r", ended=True) == ""
    assert (tmp_path / "challenges.json.unreadable").read_bytes() == content  # kept beside the new file
    assert read_progress(path)[0]["stale"].attempts == 1


def test_bad_fields_drop_only_their_entry_and_unknown_challenges_survive(tmp_path: Path) -> None:
    path = tmp_path / "challenges.json"
    doc = {
        "format": "mnist-tui-challenges/1",
        "challenges": {
            "too-hot": {"solved": "yes"},
            "stale": {"solved": True, "best_valid": 0.03, "attempts": 2},
            "saturated": {"changes": {"lr": [1, 2]}},
            "dead-units": {"attempts": -1},
            "from-a-newer-version": {"solved": True},
        },
    }
    path.write_text(json.dumps(doc))
    known, note = read_progress(path)
    assert set(known) == {"stale"} and known["stale"].attempts == 2
    assert "too-hot" in note and "saturated" in note and "dead-units" in note
    save_progress(path, "stale", solved_verdict(), {}, "r", ended=True)
    after = json.loads(path.read_text())["challenges"]
    assert after["from-a-newer-version"] == {"solved": True} and after["stale"]["attempts"] == 3


def test_special_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "challenges.json"
    os.mkfifo(fifo)
    done = threading.Event()
    result: list[tuple[dict[str, Progress], str]] = []

    def read() -> None:
        result.append(read_progress(fifo))
        done.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert done.wait(5), "reading a FIFO hung"
    assert result[0][0] == {} and "not a regular file" in result[0][1]
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    assert "not a regular file" in read_progress(zero)[1]


def test_an_unwritable_place_is_one_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    warning = save_progress(blocker / "challenges.json", "stale", solved_verdict(), {}, "r", ended=True)
    assert warning.startswith("cannot save challenge progress") and "\n" not in warning


def test_updated_is_pure() -> None:
    old = Progress(best_valid=0.01)
    new = updated(old, solved_verdict(0.045), {"changes": {}, "resets": 0}, "run", ended=True)
    assert old.attempts == 0 and new.attempts == 1 and new.best_valid == 0.01 and new.solved


def test_defaults_settings_are_not_a_challenge() -> None:
    """Each start differs from the defaults in what makes it broken (and the defaults stay as they were)."""
    for c in CHALLENGES.values():
        assert c.start_hparams() != HyperParams()
