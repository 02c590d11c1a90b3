"""Snapshots of a challenge on the training screen (its panel in the gradient check's place, its
fixed setting locked) and of the challenge list, with fixed values: nothing trains, no clock.

Regenerate after an intended change with ``pytest tests/test_snapshots_challenges.py --snapshot-update``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import new_app
from test_snapshots import STATUS, fill_panels
from textual.pilot import Pilot

from model.challenges import Attempt, Evaluation, check, get_challenge
from tui.app import MnistApp
from tui.session.events import ChallengeUpdate, TrainProgress

DEAD = get_challenge("dead-units")
#: Two evaluations of the dead-units challenge after a reset: close on the error, not on the dead units.
EVALUATIONS = [
    Evaluation(782, 50_000, 1.0, 50_000, 0.158, 0.172, 0.71, 0),
    Evaluation(1_564, 100_000, 2.0, 171_000, 0.0334, 0.0361, 0.12, 1),
]


async def fill_challenge(pilot: Pilot[Any], tiny: Any, hints: int) -> None:
    await fill_panels(pilot, tiny)
    app = pilot.app
    assert isinstance(app, MnistApp) and app.main is not None
    panel = app.main.challenge_panel
    assert panel is not None
    verdict = check(DEAD, Attempt(list(EVALUATIONS)))
    panel.show_update(ChallengeUpdate(verdict, 50_000, False, {"changes": {"lr": 0.05}, "resets": 1}))
    app.main.feed.route(TrainProgress([], [], replace(STATUS, epoch=2.42, examples_seen=121_000, state="running")))
    for _ in range(hints):
        await pilot.press("i")
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_a_challenge_on_the_training_screen(snap_compare: Any, tiny_mnist: Any, size: tuple[int, int]) -> None:
    app = new_app(DEAD.start_hparams(), data=tiny_mnist, start_training=False, challenge=DEAD)

    async def run_before(pilot: Pilot[Any]) -> None:
        await fill_challenge(pilot, tiny_mnist, hints=2)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_the_challenge_list(
    snap_compare: Any, tiny_mnist: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    progress = tmp_path / "challenges.json"
    entries = {
        "too-hot": {"solved": True, "valid_error": 0.0431, "test_error": 0.045, "best_valid": 0.0358, "attempts": 2},
        "dead-units": {"best_valid": 0.0334, "attempts": 1},
    }
    progress.write_text(json.dumps({"format": "mnist-tui-challenges/1", "challenges": entries}))
    monkeypatch.setenv("MNIST_TUI_CHALLENGES", str(progress))
    app = new_app(DEAD.start_hparams(), data=tiny_mnist, start_training=False)
    assert snap_compare(app, press=["c", "down"], terminal_size=(120, 40))
