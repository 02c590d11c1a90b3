"""Snapshot test of the run list (o) on fixed, made-up records (no training, no clock).

Four records written here as files: two finished runs, one cut short by a crash (a torn last
line) and one whose run.json is unreadable; the live run and one picked run are marked.
Regenerate with ``--snapshot-update`` and look at the SVG.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import new_app, wait_for
from textual.pilot import Pilot

from model.config import HyperParams
from tui.screens.runs import RunsScreen

HP = HyperParams(hidden=64, batch_size=64, epochs=10)


def write_record(root: Path, run_id: str, hp: dict[str, Any], errors: list[float], torn: bool = False) -> None:
    """run.json and a metrics.jsonl with a progress point every 10 steps and one evaluation per error."""
    folder = root / run_id
    folder.mkdir(parents=True)
    started = f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}+00:00"
    meta = {"id": run_id, "started": started, "source": "app", "hparams": hp, "variant": hp["variant"]}
    (folder / "run.json").write_text(json.dumps(meta))
    lines, step = [], 0
    for epoch, err in enumerate(errors, start=1):
        for _ in range(5):
            step += 10
            point = {"kind": "progress", "step": step, "examples": step * hp["batch_size"], "time": step * 0.01}
            lines.append(point | {"loss": 1.0 / step, "smoothed": 1.0 / step})
        evaluation = {"kind": "progress", "step": step, "examples": step * hp["batch_size"], "time": step * 0.01}
        lines.append(evaluation | {"valid_error": err, "test_error": err + 0.002, "epoch": float(epoch)})
    if len(errors) > 1:
        change = {"kind": "event", "event": "hparam", "step": 50, "examples": 50 * hp["batch_size"], "time": 0.5}
        lines.append(change | {"field": "lr", "old": hp["lr"], "new": hp["lr"] / 2})
    if not torn:
        lines.append({"kind": "event", "event": "end", "step": step, "examples": step * hp["batch_size"], "time": 9.0})
        lines[-1]["status"] = "finished"
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    (folder / "metrics.jsonl").write_text(text + ('{"kind": "progress", "st' if torn else ""))


def test_run_list(snap_compare: Any, tiny_mnist: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the title shows the folder relative to here: the same on every machine
    root = tmp_path / "runs"
    base = HP.to_dict()
    write_record(root, "20261201-090000-a1b2", base | {"lr": 0.1}, [0.061, 0.042, 0.035])
    write_record(root, "20261201-100000-c3d4", base | {"variant": "feedback-fixed"}, [0.082, 0.066])
    write_record(root, "20261202-110000-e5f6", base, [0.071], torn=True)
    bad = root / "20261202-120000-dead"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    write_record(root, "20261203-080000-0a0b", base, [0.09])
    app = new_app(HP, data=tiny_mnist, start_training=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: app.main is not None and app.bridge is not None, what="the main screen")
        assert app.main is not None
        screen = RunsScreen(app.main.host, root, live_id="20261203-080000-0a0b")
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.is_mounted and screen.loaded, what="the runs listed")
        await pilot.press("down", "down", "down", "space", "up")  # pick c3d4, highlight the torn e5f6
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 24), run_before=run_before)
