"""Stopping at a target validation error: parsing, the run core, ``train --target-error``, its record,
replay, ``compare``, the worker and the app (typing the target into the Controls)."""
# The running app's optional parts (app.bridge, app.main) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import bridge_for, headless_env, new_app, notices, wait_for, wait_until
from test_bridge import Recorder

from model.config import HyperParams, parse_value
from model.data import MNIST
from model.run import Policy, Run, RunOutcome
from model.run import events as ev
from model.run.replay import replay
from model.runs import list_run_dirs, read_run, summarize
from model.study.plan import RunConfig, options_of
from model.study.task import Task
from model.target import TargetReport
from model.trainer import EvalMetrics, Trainer, make_trainer
from tui.cli import main
from tui.format import format_examples, format_target
from tui.session.events import Evaluated, HParamsApplied, Notice

HP = HyperParams(hidden=16, batch_size=16, epochs=3, lr=0.05)


# ---- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"), [("0.02", 0.02), ("2%", 0.02), ("1.5 %", 0.015), ("0", 0.0), ("", 0.0), ("  ", 0.0)]
)
def test_a_target_is_a_fraction_or_a_percentage_and_empty_is_off(text: str, value: float) -> None:
    assert parse_value("target_error", text) == value


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2", "a fraction below 1: for 2 percent write 2%"),
        ("abc", "a fraction such as 0.02 or a percentage such as 2%"),
        ("2%%", "a fraction such as 0.02"),
        ("-0.1", "must be >= 0 and < 1"),
        ("100%", "must be >= 0 and < 1"),
        ("nan", "must be finite"),
    ],
)
def test_a_bad_target_is_one_line(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match="target_error") as info:
        parse_value("target_error", text)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_the_target_text_says_error_time_examples_and_step() -> None:
    ev = EvalMetrics(9_375, 1_200_000, {"valid": (0.1, 0.0195)}, 0.1)
    report = TargetReport.hit(0.02, ev, 24.0, 41.23, 50.0)
    assert format_target(report) == "target reached: valid 1.95% < 2.00% after 41.2 s, 1.2M examples (step 9,375)"
    assert format_target(TargetReport(0.02)) == "target 2.00% not reached"
    assert [format_examples(n) for n in (900, 12_500, 1_200_000)] == ["900", "12.5k", "1.2M"]


def test_the_target_field_nudges_by_half_a_point_down_to_off() -> None:
    from tui.widgets.controls import nudge

    assert nudge("target_error", 0.0, 1) == 0.005 and nudge("target_error", 0.02, 1) == 0.025
    assert nudge("target_error", 0.005, -1) == 0.0
    with pytest.raises(ValueError, match="at its limit"):
        nudge("target_error", 0.0, -1)


# ---- the study's run ids ---------------------------------------------------------------------


def test_the_study_run_ids_stay_put_when_a_setting_is_added_at_its_default() -> None:
    """Ids pinned under RUN_FORMAT 3: a field added since (target_error, the challenges' knobs) left at
    its default does not rename the store's finished runs; set to another value, it does."""
    base = HyperParams(hidden=100, batch_size=64)
    cell = RunConfig("exact", lr=0.05, momentum=0.9, activation="relu")
    task = Task(0, cell, seed=3, epochs=2, base=base)
    assert task.run_id == "4488c4872ad6ad3dcb38"
    assert Task(0, cell, seed=3, epochs=2, base=base.validated(target_error=0.1)).run_id == task.run_id
    assert Task(0, cell, seed=3, epochs=2, base=base.validated(label_noise=0.1)).run_id != task.run_id
    noisy = Task(0, RunConfig("noise-same", options_of({"sigma": 0.5})), 0, 5, HyperParams(), 100, 1000, "abc")
    assert noisy.run_id == "943ff0b145add9c38b5a"


# ---- the run core ----------------------------------------------------------------------------


def _valid_errors(tiny: MNIST, every: int, steps: int) -> list[tuple[int, float]]:
    """(step, valid error) of an evaluation every ``every`` steps, without a target."""
    trainer = make_trainer(HP, tiny)
    out = []
    while trainer.state.step < steps:
        trainer.step()
        if trainer.state.step % every == 0:
            out.append((trainer.state.step, trainer.evaluate(("valid",)).error("valid")))
    return out


def _to_target(trainer: Trainer, eval_every: int = 0, seen: list[int] | None = None) -> RunOutcome:
    """Train through the run core until it halts (a target, or its epochs done); its outcome."""
    run = Run(trainer, policy=Policy(eval_every=eval_every))
    if seen is not None:
        run.listen(lambda e: seen.append(e.metrics.step) if isinstance(e, ev.Evaluated) and not e.epoch_end else None)
    run.train()
    return run.close()


def test_a_run_stops_at_the_first_evaluation_below_the_target(tiny_mnist: MNIST) -> None:
    errors = _valid_errors(tiny_mnist, 10, 120)
    target = 0.2
    first = next(step for step, err in errors if err < target)
    assert first < 120 and first % 125  # mid-epoch (2,000 rows / 16 = 125 steps an epoch)
    trainer = make_trainer(HP.validated(target_error=target), tiny_mnist)
    seen: list[int] = []
    result = _to_target(trainer, eval_every=10, seen=seen)
    t = result.target
    assert t is not None and t.reached and t.step == first and trainer.state.step == first  # nothing trained after
    assert t.valid_error is not None and t.valid_error < target and t.examples == first * 16
    assert t.seconds is not None and t.wall is not None and 0 < t.seconds <= t.wall
    assert t.epoch == pytest.approx(first / 125)
    assert seen == list(range(10, first + 1, 10))
    # the stop between two epoch ends is a fraction of an epoch, everywhere
    assert result.epochs == pytest.approx(first / 125, abs=1e-4) and result.best_epoch == result.epochs
    assert result.history[-1].epoch == result.epochs and result.history[-1].errors["valid"] == t.valid_error


def test_without_eval_every_the_target_is_checked_at_epoch_ends(tiny_mnist: MNIST) -> None:
    result = _to_target(make_trainer(HP.validated(target_error=0.5), tiny_mnist))
    assert result.target is not None and result.target.reached and result.target.step == 125
    unreached = _to_target(make_trainer(HP.validated(epochs=1, target_error=0.001), tiny_mnist))
    assert unreached.target == TargetReport(0.001)  # not reached: no figures
    assert _to_target(make_trainer(HP.validated(epochs=1), tiny_mnist)).target is None  # no target, no report


# ---- train --target-error ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    headless_env(tmp_path, tmp_path_factory.getbasetemp() / "target-cache", monkeypatch)


def train(tiny_npz: Path, runs: Path, *flags: str) -> int:
    base = ["train", "--data", str(tiny_npz), "--runs", str(runs), "--hidden", "16", "--batch-size", "16"]
    return main([*base, "--epochs", "3", *flags])


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_train_stops_at_the_first_recorded_evaluation_below_the_target(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert train(tiny_npz, runs, "--target-error", "25%", "--eval-every", "10", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    target = out["target"]
    assert set(target) == {"error", "reached", "seconds", "wall", "examples", "step", "epoch", "valid_error"}
    assert target["error"] == 0.25 and target["reached"] and out["hparams"]["target_error"] == 0.25
    (folder,) = list_run_dirs(runs)
    lines = _lines(folder)
    evals = [p for p in lines if p["kind"] == "progress" and p.get("valid_error") is not None]
    first = next(p for p in evals if p["valid_error"] < 0.25)
    assert all(p["valid_error"] >= 0.25 for p in evals[: evals.index(first)])
    assert target["step"] == first["step"] and target["valid_error"] == first["valid_error"]
    assert target["examples"] == first["examples"]
    assert max(p["step"] for p in lines if p["kind"] == "progress") == first["step"]  # no step after it
    events = [e for e in lines if e["kind"] == "event"]
    assert [e["event"] for e in events] == ["target", "end"]
    assert events[0]["step"] == first["step"] and events[0]["target"] == 0.25
    assert events[0]["valid_error"] == first["valid_error"] and events[0]["seconds"] == round(target["seconds"], 3)
    assert events[1]["status"] == "target" and events[1]["step"] == first["step"]
    # the record replays bit for bit: it stops where the record ended
    result = replay(read_run(folder), _tiny(tiny_npz))
    assert result.identical and result.steps == first["step"] and not result.caveats


def _tiny(tiny_npz: Path) -> MNIST:
    from model.data import load_mnist

    return load_mnist(str(tiny_npz))


def test_train_says_when_and_where_it_reached_the_target(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = -(-len(_tiny(tiny_npz).train_y) // 16)  # one epoch
    assert train(tiny_npz, tmp_path / "runs", "--target-error", "0.5") == 0
    lines = capsys.readouterr().out.splitlines()
    reached = next(line for line in lines if line.startswith("target reached: valid "))
    assert "< 50.00% after " in reached and "s training (" in reached and f"(step {steps}, epoch 1.00)" in reached
    assert train(tiny_npz, tmp_path / "runs", "--target-error", "0.1%", "--epochs", "1") == 0
    assert "target 0.10% not reached in 1 epoch" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--target-error", "2"], "--target-error: target_error is a fraction below 1: for 2 percent write 2%"),
        (["--target-error", "two"], "argument --target-error: target_error must be a fraction such as 0.02"),
        (["--eval-every", "0"], "argument --eval-every: eval-every must be at least 1"),
    ],
)
def test_bad_target_flags_are_one_line(
    tiny_npz: Path, tmp_path: Path, flags: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        train(tiny_npz, tmp_path / "runs", *flags)
    err = capsys.readouterr().err
    assert info.value.code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_runs_show_and_compare_report_the_time_to_the_runs_own_target(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert train(tiny_npz, runs, "--target-error", "0.5", "--json") == 0
    assert train(tiny_npz, runs, "--epochs", "1", "--json") == 0
    assert train(tiny_npz, runs, "--target-error", "0.001", "--epochs", "1", "--json") == 0
    capsys.readouterr()
    hit, plain, missed = (read_run(f) for f in list_run_dirs(runs))
    n = len(_tiny(tiny_npz).train_y)  # one epoch: the first evaluation
    s = summarize(hit)
    assert s.own_target == 0.5 and s.to_own_target is not None and s.to_own_target[1:] == (n, -(-n // 16))
    assert summarize(plain).own_target is None and summarize(missed).to_own_target is None
    assert main(["runs", "--runs", str(runs), "show", hit.run_id]) == 0
    shown = capsys.readouterr().out
    assert "target     valid " in shown and "< 50.00% after " in shown and f"training, {n:,} examples" in shown
    assert main(["compare", "--runs", str(runs), "--no-plot", hit.run_id, plain.run_id, missed.run_id]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "to own target (training time)" in table[0]
    assert "< 50.00%: " in table[1] and f"/ {n:,} ex (step {-(-n // 16)})" in table[1]
    assert table[2].rstrip().endswith("-") and table[3].rstrip().endswith("< 0.10%: not reached")


# ---- the worker ------------------------------------------------------------------------------


def test_the_worker_pauses_at_the_target_and_resuming_trains_on(tiny_mnist: MNIST) -> None:
    posted = Recorder()
    trainer = make_trainer(HP.validated(epochs=10_000, target_error=0.5), tiny_mnist)
    bridge = bridge_for(trainer, posted)
    bridge.start()
    try:
        wait_until(lambda: bridge.paused, what="the pause at the target")
        (notice,) = [n for n in posted.of(Notice) if n.text.startswith("target reached")]
        assert "< 50.00% after " in notice.text and "(step 125)" in notice.text and notice.text.endswith("trains on")
        assert trainer.state.step == 125  # the first epoch end: the first evaluation
        status = posted.of(Evaluated)[-1].status
        assert status.state == "target" and format_target(status.target).startswith("target reached: valid ")
        bridge.resume()
        wait_until(lambda: trainer.state.step > 300, what="training past the target")  # not stopped again
        bridge.pause()
        bridge.set_field("target_error", 0.02)  # a new target clears the old one
        wait_until(lambda: posted.of(HParamsApplied), what="the new target")
        assert posted.of(Evaluated)[-1].status.target is not None  # (until the next status says otherwise)
    finally:
        assert bridge.stop()


def test_changing_the_target_while_paused_at_it_trains_on(tiny_mnist: MNIST) -> None:
    posted = Recorder()
    trainer = make_trainer(HP.validated(epochs=10_000, target_error=0.5), tiny_mnist)
    bridge = bridge_for(trainer, posted)
    bridge.start()
    try:
        wait_until(lambda: bridge.paused, what="the pause at the target")
        bridge.set_field("target_error", 0.001)
        wait_until(lambda: not bridge.paused and trainer.state.step > 130, what="training on")
    finally:
        assert bridge.stop()


# ---- the app ---------------------------------------------------------------------------------


async def test_a_target_typed_into_the_controls_pauses_training_with_a_notice(
    tiny_mnist: MNIST, fast_pilot: None
) -> None:
    from test_app import SIZE, focus_field

    app = new_app(HP.validated(epochs=10_000), data=tiny_mnist, start_paused=True)
    said = notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="the worker")
        field = await focus_field(pilot, "target_error")
        await pilot.press(*"50%", "enter", "escape")
        await wait_for(pilot, lambda: app.bridge.hp.target_error == 0.5, what="the target set")
        assert field.value == "0.5"
        await pilot.press("space")
        await wait_for(pilot, lambda: app.main.status.status.state == "target", what="the pause at the target")
        assert app.bridge.paused and app.bridge.trainer.state.step == 125

        def notice() -> bool:
            return any(n.message.startswith("target reached: valid ") for n in said)

        await wait_for(pilot, notice, what="the notice")
        note = next(n.message for n in said if n.message.startswith("target reached"))
        assert "< 50.00% after " in note and "(step 125); space trains on" in note
        status = app.main.status
        line = " ".join(str(item) for item in status.items())
        assert "● target" in line and "target reached: valid " in line and "space trains on" in line
        await pilot.press("space")  # resume: trains on past the target
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > 140, what="training on")
        assert app.main.status.status.target is not None  # still says what the target took
