"""The app's worker writes the run record: every hyperparameter change with old, new and step."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bridge_for, new_app, wait_until
from test_bridge import Recorder

from model.config import HyperParams
from model.data import MNIST
from model.runs import RunRecorder, list_run_dirs, read_run, summarize
from model.trainer import make_trainer
from tui.session.events import Evaluated, HParamsApplied, Notice, RunReset, TrainProgress

HP = HyperParams(hidden=16, batch_size=32, epochs=10_000, lr=0.05)


def test_worker_records_changes_with_old_new_and_step(tiny_mnist: MNIST, tmp_path: Path) -> None:
    trainer = make_trainer(HP, tiny_mnist)
    recorder = RunRecorder.start(tmp_path, trainer, source="app")
    posted = Recorder()
    bridge = bridge_for(trainer, posted, paused=False, recorder=recorder)
    bridge.start()
    try:
        wait_until(lambda: trainer.state.step > 30, what="steps")
        bridge.set_field("lr", 0.02)
        wait_until(lambda: posted.of(HParamsApplied), what="lr applied")
        applied_at = posted.of(HParamsApplied)[0].examples_seen
        wait_until(lambda: trainer.state.step > 80, what="more steps")
        bridge.pause()
        wait_until(lambda: posted.of(TrainProgress)[-1].status.state == "paused", what="paused")
        bridge.evaluate()
        wait_until(lambda: posted.of(Evaluated), what="evaluated")
        bridge.reset()
        wait_until(lambda: posted.of(RunReset), what="reset")
        bridge.resume()
        wait_until(lambda: 0 < trainer.state.step < 80, what="steps after reset")
    finally:
        assert bridge.stop()
    (folder,) = list_run_dirs(tmp_path)
    rec = read_run(folder)
    assert rec.skipped == 0 and rec.checkpoint is not None
    kinds = [e["event"] for e in rec.events]
    for name in ("hparam", "pause", "evaluate", "reset", "resume", "end"):
        assert name in kinds, name
    (change,) = [e for e in rec.events if e["event"] == "hparam"]
    assert (change["field"], change["old"], change["new"]) == ("lr", 0.05, 0.02)
    assert change["examples"] == applied_at and change["step"] > 30
    after = [p for p in rec.points if change["step"] < p["step"] and p["examples"] > applied_at]
    assert after and after[0]["lr"] == 0.02  # the points after the change ran at the new rate
    assert rec.evaluations  # the evaluation asked for while paused
    assert summarize(rec).interventions == 2  # the change and the reset
    assert not posted.of(Notice) or all(n.severity != "warning" for n in posted.of(Notice))


def test_an_unwritable_record_is_one_notice(tiny_mnist: MNIST, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    trainer = make_trainer(HP, tiny_mnist)
    recorder = RunRecorder.start(blocker / "runs", trainer, source="app")  # cannot be made: warns later
    posted = Recorder()
    bridge = bridge_for(trainer, posted, recorder=recorder)
    bridge.start()
    try:
        wait_until(lambda: trainer.state.step > 30, what="training goes on")
    finally:
        assert bridge.stop()
    warnings = [n for n in posted.of(Notice) if n.severity == "warning"]
    assert len(warnings) == 1 and "training goes on" in warnings[0].text


async def test_the_app_records_its_run(
    tiny_mnist: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_pilot: None
) -> None:
    """The real app hands its worker a recorder: quitting leaves a finished record with the pause."""
    from conftest import wait_for

    monkeypatch.setenv("MNIST_TUI_RUNS", str(tmp_path))
    app = new_app(HP, data=tiny_mnist, start_paused=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 20)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.paused)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    (folder,) = list_run_dirs(tmp_path)
    rec = read_run(folder)
    assert rec.meta["source"] == "app" and rec.points and rec.checkpoint is not None
    assert "pause" in [e["event"] for e in rec.events] and rec.events[-1]["event"] == "end"
