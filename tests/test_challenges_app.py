"""Challenges in the app, with the real keys: the panel, the hints, the live check, the solve, a
broken rule, locked settings, the list that starts one, the record and the progress file.

The catalog's goals are calibrated on real MNIST (``tests/test_challenges_mnist.py``); here the
tiny synthetic set stands in, so the goal of the challenge played is eased to what tiny data
reaches in an epoch. Everything else (limits, hints, fixed settings, the check) is the catalog's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import new_app, wait_for
from textual.pilot import Pilot

from model.challenges import Goal, get_challenge, read_progress
from model.runs import list_run_dirs, read_run
from tui.app import MnistApp
from tui.screens.challenges import ChallengesScreen
from tui.widgets.challenge import ChallengePanel
from tui.widgets.controls import FieldInput

SIZE = (120, 40)
#: too-hot as tiny data allows: the same start (lr 5, one epoch, no reset), an easier goal.
TINY_TOO_HOT = dataclasses.replace(get_challenge("too-hot"), goal=Goal(0.6))


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """Every test here drives a training app."""


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(progress file, runs folder) of this test alone."""
    progress = tmp_path / "challenges.json"
    monkeypatch.setenv("MNIST_TUI_CHALLENGES", str(progress))
    return progress, tmp_path / "runs"


def challenge_app(tiny: Any, runs: Path, challenge: Any = TINY_TOO_HOT, **kwargs: Any) -> MnistApp:
    hp = challenge.start_hparams().validated(hidden=16)
    return new_app(hp, data=tiny, challenge=challenge, runs=runs, **kwargs)


def panel(app: MnistApp) -> ChallengePanel:
    assert app.main is not None and app.main.challenge_panel is not None
    return app.main.challenge_panel


async def wait_for_state(pilot: Pilot[Any], app: MnistApp, state: str) -> None:
    """Until the status panel shows the run state ``state``."""
    await wait_for(pilot, lambda: app.main is not None and app.main.status.status.state == state, what=state)


@pytest.mark.slow  # trains on the worker for a while
async def test_too_hot_from_story_to_solved(tiny_mnist: Any, places: tuple[Path, Path]) -> None:
    """Diverges at lr 5; a hint; the learning rate lowered with the keys; space; solved and kept."""
    progress, runs = places
    app = challenge_app(tiny_mnist, runs)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_state(pilot, app, "diverged")
        text = panel(app).text()
        assert text.startswith(TINY_TOO_HOT.story)
        assert "Goal   validation error < 60.00% within 1 epoch, no reset" in text
        assert "no evaluation yet" in text and "i: hint 1 of 3" in text
        await pilot.press("i")
        assert "Hint 1 The status says diverged" in panel(app).text()
        await pilot.press("h")  # the learning rate is the first field
        await wait_for(pilot, lambda: isinstance(app.screen.focused, FieldInput), what="a field")
        await pilot.press(*"0.05", "enter", "escape")
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.hp.lr == 0.05, what="lr applied")
        await pilot.press("space")
        await wait_for_state(pilot, app, "solved")
        await wait_for(pilot, lambda: "Solved" in panel(app).text(), what="the panel says so")
        text = panel(app).text()
        assert "It took: lr 0.05, hidden 16." in text and panel(app).has_class("-solved")  # (16: a test's size)
        assert "✓ solved" in str(panel(app).border_title)
        known, note = read_progress(progress)
        assert note == "" and known["too-hot"].solved and known["too-hot"].changes == {"hidden": 16, "lr": 0.05}
    (folder,) = list_run_dirs(runs)
    record = read_run(folder)
    assert record.meta["challenge"] == "too-hot"
    solve = [e for e in record.events if e["event"] == "challenge"]
    assert solve[0]["solved"] is True and solve[0]["changes"] == {"hidden": 16, "lr": 0.05}
    assert read_progress(progress)[0]["too-hot"].attempts == 1  # counted when the app quit


@pytest.mark.slow  # trains on the worker for a while
async def test_a_reset_ends_an_attempt_that_allows_none(tiny_mnist: Any, places: tuple[Path, Path]) -> None:
    _, runs = places
    app = challenge_app(tiny_mnist, runs)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_state(pilot, app, "diverged")
        await pilot.press("r")
        await wait_for(pilot, lambda: "Over" in panel(app).text(), what="the attempt over")
        assert "the weights were reset (this challenge allows no reset)" in panel(app).text()
        assert panel(app).has_class("-over")
    (folder,) = list_run_dirs(runs)
    broken = [e for e in read_run(folder).events if e["event"] == "challenge"]
    assert "no reset" in broken[0]["broken"]


async def test_fixed_settings_are_locked_and_hints_run_out(tiny_mnist: Any, places: tuple[Path, Path]) -> None:
    _, runs = places
    app = challenge_app(tiny_mnist, runs, get_challenge("no-backprop"), start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="the worker")
        assert app.main is not None
        variant = app.main.controls.field("variant")
        assert variant.disabled and variant.value == "feedback-fixed"
        await pilot.press("h")
        for _ in range(len(app.main.controls.shown_fields()) + 2):  # every field the keys reach, and round
            await pilot.press("down")
            assert app.screen.focused is not variant
        await pilot.press("escape")
        for n in (1, 2, 3):
            await pilot.press("i")
            assert f"Hint {n} " in panel(app).text()
        assert "Why: " in panel(app).text()
        assert app.main.check_action("hint", ()) is None  # greyed out: every hint is shown
        await pilot.press("i")
        assert panel(app).state.hints == 3
        assert app.main.check_action("run", ("gradcheck",)) is False  # its panel's place is the challenge's


@pytest.mark.slow  # trains on the worker for a while
async def test_the_list_starts_a_challenge_on_a_new_run(tiny_mnist: Any, places: tuple[Path, Path]) -> None:
    progress, runs = places
    app = new_app(get_challenge("stale").start_hparams().validated(variant="exact"), data=tiny_mnist, runs=runs)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 0, what="training")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChallengesScreen), what="the list")
        screen = app.screen
        assert isinstance(screen, ChallengesScreen)
        await pilot.press("end")  # the last challenge
        name = screen.highlighted
        assert name == "stale"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main is not None and app.main.play is not None, what="the challenge")
        assert app.main is not None and app.main.play is not None and app.main.play.challenge.name == "stale"
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.hp.stale_k == 50, what="its start")
        assert app.bridge is not None and app.bridge.trainer.hp.variant == "stale"
        assert panel(app).challenge.name == "stale"
    first, second = (read_run(f) for f in list_run_dirs(runs))
    assert "challenge" not in first.meta and first.events[-1]["event"] == "end"  # the run before: finished
    assert second.meta["challenge"] == "stale"
    assert read_progress(progress)[0]["stale"].attempts == 1


async def test_the_list_marks_what_is_solved(tiny_mnist: Any, places: tuple[Path, Path]) -> None:
    progress, _ = places
    doc = {"format": "mnist-tui-challenges/1", "challenges": {"saturated": {"solved": True, "best_valid": 0.05}}}
    progress.write_text(json.dumps(doc))
    app = new_app(get_challenge("too-hot").start_hparams(), data=tiny_mnist, start_training=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChallengesScreen), what="the list")
        screen = app.screen
        assert isinstance(screen, ChallengesScreen)
        assert "1 of 8 solved" in str(screen.query_one("#challenges-note").render())
        await pilot.press("down", "down")
        assert screen.highlighted == "saturated"
        detail = screen.detail("saturated")
        assert "So far: solved" not in detail and "best valid 5.00%" in detail
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChallengesScreen), what="back")


@pytest.mark.slow  # trains on the worker for a while
async def test_served_progress_stays_in_the_session_folder(
    tiny_mnist: Any, places: tuple[Path, Path], tmp_path: Path
) -> None:
    progress, runs = places
    session = tmp_path / "session-1"
    session.mkdir()
    app = challenge_app(tiny_mnist, runs, sandbox=session)
    assert app.progress_path == session / "challenges.json"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_state(pilot, app, "diverged")
    assert read_progress(session / "challenges.json")[0]["too-hot"].attempts == 1
    assert not progress.exists()  # the user data folder's file is not touched
