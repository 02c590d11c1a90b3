"""The app against hostile input: a run list beside records of every kind of damage (and special
files that would block a plain open), a 300-character name typed in the save prompt, an exit that
comes from outside the app (textual-serve's "quit" when a browser tab closes)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import new_app, wait_for
from record_samples import BAD_LINES, BAD_META, OTHER_ID, dumps, lines, replace_file, write_record
from textual import messages
from textual.widgets import Label

from model.checkpoint import load_checkpoint
from model.config import HyperParams
from tui.screens.prompt import PathPrompt
from tui.screens.runs import RunsScreen

SIZE = (120, 40)
HP = HyperParams(hidden=16, batch_size=16, epochs=10_000, lr=0.05)


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """Keys do not wait for an idle app (a training app never is)."""


def hostile_runs(root: Path) -> list[str]:
    """A runs folder with a good record and one record per damage (and special files); their ids."""
    write_record(root, OTHER_ID)
    ids = []
    for i, text in enumerate(BAD_META.values()):
        run_id = f"20261207-0000{i:02d}-aaaa"
        write_record(root, run_id, run_json=text())
        ids.append(run_id)
    for i, bad in enumerate(BAD_LINES.values()):
        run_id = f"20261207-0100{i:02d}-bbbb"
        rows = [dumps(r) for r in lines()] + [bad]
        write_record(root, run_id, metrics="".join(r + "\n" for r in rows))
        ids.append(run_id)
    specials = [(n, k) for n in ("run.json", "metrics.jsonl") for k in ("fifo", "dev-zero", "dir")]
    for i, (name, kind) in enumerate(specials):
        run_id = f"20261207-0200{i:02d}-cccc"
        replace_file(write_record(root, run_id) / name, kind)
        ids.append(run_id)
    return [OTHER_ID, *ids]


@pytest.mark.slow  # some 60 records read and listed beside the app: about 4 s of CPU
async def test_the_run_list_lists_every_record_whatever_it_holds(tmp_path: Path, tiny_mnist: Any) -> None:
    root = tmp_path / "runs"
    ids = hostile_runs(root)
    app = new_app(HP, data=tiny_mnist, start_training=False, runs=root)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.main is not None and app.main.bridge is not None, what="main screen")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="the run list")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(pilot, lambda: screen.loaded, timeout=60, what="every record read")
        assert sorted(e.run_id for e in screen.entries if e.run_id != screen.live_id) == sorted(ids)
        notes = {e.run_id: e.note for e in screen.entries}
        assert not notes[OTHER_ID]
        assert all(notes[i] for i in ids[1:]), [i for i in ids[1:] if not notes[i]]
        for _ in range(len(ids)):  # highlight each: its note shows under the table
            await pilot.press("down")
        await pilot.press("escape", "q")
    assert app.return_code == 0


@pytest.mark.slow  # a training app and four prompts: about 4 s of CPU
async def test_a_300_character_name_in_the_save_prompt_is_one_line(tmp_path: Path, tiny_mnist: Any) -> None:
    app = new_app(HP, data=tiny_mnist, runs=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 5, what="training")
        for name in ("x" * 300, f"{tmp_path}/{'é' * 200}.npz", "bad\x00name", "[/b]" + "y" * 300):
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="the save prompt")
            prompt = app.screen
            prompt.query_one("#prompt-input").value = name  # type: ignore[attr-defined]
            await pilot.press("enter")
            hint = prompt.query_one("#prompt-hint", Label)
            await wait_for(pilot, lambda: "esc cancels" in str(hint.render()), what="the refusal")  # noqa: B023
            assert app.screen is prompt and app.is_running
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, PathPrompt), what="the prompt closed")
        await pilot.press("q")
    auto = app.live_run.recorder.checkpoint if app.live_run is not None else None  # the autosave: the final checkpoint
    assert app.return_code == 0 and auto is not None and load_checkpoint(auto).counters.step > 5  # not skipped


async def test_an_exit_from_outside_stops_the_worker_before_the_screens_go(tmp_path: Path, tiny_mnist: Any) -> None:
    """textual-serve's "quit" (a closed tab) posts ExitApp: the run stops and is saved as with q,
    and an event the worker posts to a screen that is gone is dropped, not raised in its thread."""
    app = new_app(HP, data=tiny_mnist, runs=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 5, what="training")
        main, bridge = app.main, app.bridge
        app.post_message(messages.ExitApp())
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert bridge is not None and bridge._thread is not None and not bridge._thread.is_alive()
    auto = app.live_run.recorder.checkpoint if app.live_run is not None else None  # the autosave: the final checkpoint
    assert auto is not None and load_checkpoint(auto).counters.step > 5
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _post_late(main, errors))
    thread.start()
    thread.join()
    assert not errors


def _post_late(main: Any, errors: list[BaseException]) -> None:
    from tui.session.events import Notice

    try:
        main.feed.post(Notice("late", "warning"))
    except BaseException as exc:
        errors.append(exc)


def test_the_hostile_samples_cover_every_class() -> None:
    """The damages used above stay the same ones the CLI tests use (one list, two front ends)."""
    assert {"nested 200,000", "step Infinity", "event escape text"} <= set(BAD_LINES)
    assert {"hparams a list", "machine a string", "id escapes"} <= set(BAD_META)
    assert json.loads(BAD_META["hparams a list"]())["hparams"] == []
