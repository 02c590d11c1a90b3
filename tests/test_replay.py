"""Replay: a recorded run re-run headless reaches the recorded final weights bit for bit, with
interventions mid-run, and a record that was tampered with is caught at the step it departs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bridge_for, wait_until
from test_bridge import Recorder

from model.config import HyperParams
from model.data import MNIST
from model.run.replay import replay
from model.runs import RunRecorder, list_run_dirs, read_run
from model.trainer import make_trainer
from tui.session.events import HParamsApplied, RunReset

HP = HyperParams(hidden=16, batch_size=32, epochs=10_000, lr=0.05)
#: The speedrun's pieces: a one-cycle schedule (linear with warm-up) and label smoothing.
RECIPE = {"schedule": "linear", "epochs": 12, "warmup": 1.5, "label_smoothing": 0.1}


def _session(
    tiny: MNIST, root: Path, variant: str, change: tuple[str, object] = ("stale_k", 3), **settings: object
) -> Path:
    """An app-like session on the worker: train, change lr, change ``change`` (a variant's option by
    default), reset, train on; the record's folder. ``settings``: the run's start beside ``HP``."""
    trainer = make_trainer(HP.validated(variant=variant, **settings), tiny)
    posted = Recorder()
    bridge = bridge_for(trainer, posted, recorder=RunRecorder.start(root, trainer, source="app"))
    bridge.start()
    try:
        wait_until(lambda: trainer.state.step > 40, what="steps")
        bridge.set_field("lr", 0.02)
        wait_until(lambda: len(posted.of(HParamsApplied)) == 1, what="lr applied")
        wait_until(lambda: trainer.state.step > 90, what="more steps")
        bridge.set_field(*change)
        wait_until(lambda: len(posted.of(HParamsApplied)) == 2, what=f"{change[0]} applied")
        wait_until(lambda: trainer.state.step > 140, what="more steps")
        bridge.reset()
        wait_until(lambda: posted.of(RunReset), what="reset")
        wait_until(lambda: trainer.state.step > 60, what="steps after the reset")
        bridge.pause()
    finally:
        assert bridge.stop()
    (folder,) = list_run_dirs(root)
    return folder


@pytest.mark.parametrize("variant", ["exact", "stale"])
def test_a_session_with_interventions_replays_bit_for_bit(tiny_mnist: MNIST, tmp_path: Path, variant: str) -> None:
    folder = _session(tiny_mnist, tmp_path, variant)
    result = replay(read_run(folder), tiny_mnist)
    assert result.interventions >= 3  # lr, stale k, the reset
    assert result.recorded_hash is not None and result.replayed_hash == result.recorded_hash
    assert result.identical and result.departed_at is None and not result.caveats


def test_the_speedrun_recipe_replays_bit_for_bit(tiny_mnist: MNIST, tmp_path: Path) -> None:
    """Warm-up, the linear schedule and label smoothing are recorded with the run and replayed,
    a change of the smoothing mid-run included (the fused W1 update on the way)."""
    folder = _session(tiny_mnist, tmp_path, "exact", ("label_smoothing", 0.05), **RECIPE)
    recorded = read_run(folder)
    assert {k: recorded.meta["hparams"][k] for k in RECIPE} == RECIPE
    result = replay(recorded, tiny_mnist)
    assert result.interventions >= 3  # lr, the smoothing, the reset
    assert result.recorded_hash is not None and result.replayed_hash == result.recorded_hash
    assert result.identical and result.departed_at is None and not result.caveats


def test_a_record_that_departs_is_caught_at_its_step(tiny_mnist: MNIST, tmp_path: Path) -> None:
    folder = _session(tiny_mnist, tmp_path, "exact")
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    for i, line in enumerate(lines):  # the run as recorded went to lr 0.02; say it went to 0.03
        obj = json.loads(line)
        if obj.get("event") == "hparam" and obj["field"] == "lr":
            obj["new"] = 0.03
            lines[i] = json.dumps(obj)
            changed_after = obj["step"]
            break
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    result = replay(read_run(folder), tiny_mnist)
    assert not result.identical
    # the step after the change still has the old weights (the new lr moves them from then on), and
    # points come every 10 steps: the first recorded loss that can differ is within 11 steps
    assert result.departed_at is not None and changed_after + 1 < result.departed_at <= changed_after + 11
    assert result.departed_after.startswith("lr 0.05 -> 0.03")


def test_the_replay_command_prints_both_hashes(
    tiny_mnist: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tui.cli

    folder = _session(tiny_mnist, tmp_path, "stale")
    monkeypatch.setattr(tui.cli.replay, "load_data", lambda path, quiet=False: tiny_mnist)
    assert tui.cli.main(["replay", folder.name[:15], "--runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    recorded = next(line for line in out.splitlines() if line.startswith("recorded final weights sha256"))
    replayed = next(line for line in out.splitlines() if line.startswith("replayed final weights sha256"))
    assert recorded.split()[-1] == replayed.split()[-1] and "bit for bit" in out
    assert tui.cli.main(["replay", "nope", "--runs", str(tmp_path)]) == 2


def test_from_at_starts_a_new_run_from_a_recorded_runs_state(
    tiny_mnist: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tui.cli
    from model.checkpoint import load_checkpoint
    from model.run.replay import params_hash

    monkeypatch.setattr(tui.cli.train, "load_data", lambda path, quiet=False: tiny_mnist)
    flags = ["--hidden", "16", "--batch-size", "32", "--runs", str(tmp_path)]
    assert tui.cli.main(["train", "--epochs", "2", *flags]) == 0
    (first,) = list_run_dirs(tmp_path)
    assert tui.cli.main(["train", "--from", first.name, "--at", "50", "--lr", "0.01", "--epochs", "2", *flags]) == 0
    assert "replayed" in capsys.readouterr().err
    rewound = load_checkpoint(first / "rewind-50.npz")
    straight = make_trainer(HyperParams(hidden=16, batch_size=32, epochs=2), tiny_mnist)
    for _ in range(50):
        straight.step()
    assert rewound.counters.step == 50 and params_hash(rewound.params) == params_hash(straight.model.params)
    second = next(f for f in list_run_dirs(tmp_path) if f != first)
    meta = read_run(second).meta
    assert meta["start_step"] == 50 and meta["hparams"]["lr"] == 0.01
    assert tui.cli.main(["train", "--from", first.name, *flags]) == 2  # --at is missing
    assert "--from ID and --at STEP go together" in capsys.readouterr().err
