"""Pilot tests of the app: real key presses against a live training worker on tiny data."""
# The running app's optional parts (app.bridge, app.main) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import new_app, notices, wait_for
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from model.config import SPECS, HyperParams
from model.data import DataError
from model.run.events import Stepped
from tui.app import GC_THRESHOLDS, MnistApp
from tui.screens.help import HelpScreen
from tui.screens.loading import LoadingScreen
from tui.screens.main import MainScreen
from tui.screens.prompt import PathPrompt
from tui.session.bridge import GRADCHECK_THREAD_NAME, THREAD_NAME
from tui.widgets.controls import FieldInput, nudge
from tui.widgets.keybar import KeyBar

SIZE = (120, 40)
#: Small and fast; epochs high so the run never stops by itself during a test.
HP = HyperParams(hidden=16, batch_size=16, epochs=10_000, lr=0.05)


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """Every test here drives a training app."""


def our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in (THREAD_NAME, GRADCHECK_THREAD_NAME)]


def make_app(tiny: Any, running: bool = False, **kwargs: Any) -> MnistApp:
    """The app on ``tiny``; paused unless ``running`` (a tiny model's worker competes for the GIL)."""
    return new_app(kwargs.pop("hp", HP), data=tiny, start_paused=not running, **kwargs)


async def focus_field(pilot: Pilot[Any], name: str) -> FieldInput:
    """Focus field ``name`` the way a user would: tab into the panel, then down."""
    app: Any = pilot.app
    order = app.main.controls.shown_fields()

    def on(i: int) -> Callable[[], bool]:
        def focused() -> bool:
            field = app.screen.focused
            return isinstance(field, FieldInput) and field.field_name == order[i]

        return focused

    await pilot.press("tab")
    await wait_for(pilot, on(0), what=f"focus on {order[0]}")
    # one key at a time: focus moves on the next idle moment, and a busy worker can delay that
    for i in range(1, order.index(name) + 1):
        await pilot.press("down")
        await wait_for(pilot, on(i), what=f"focus on {order[i]}")
    assert isinstance(app.screen.focused, FieldInput)
    return app.screen.focused


async def pause_and_settle(pilot: Pilot[Any]) -> None:
    """Press space and wait until the worker has really stopped stepping."""
    app: Any = pilot.app
    await pilot.press("space")
    await wait_for(pilot, lambda: app.bridge.paused and app.main.status.status.state == "paused", what="pause")


# ---- controls ------------------------------------------------------------------------------------


async def test_lr_typed_mid_run_reaches_the_worker(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > 0, what="first step")
        steps: list[Any] = []
        app.bridge.run.listen(lambda e: steps.append(e.metrics) if isinstance(e, Stepped) else None)  # after each step
        field = await focus_field(pilot, "lr")
        await pilot.press(*"0.01", "enter")
        await wait_for(pilot, lambda: app.bridge.hp.lr == 0.01, what="lr committed")
        assert field.value == "0.01"
        await wait_for(pilot, lambda: any(m.lr == 0.01 for m in steps), what="a step with the new lr")
        assert app.bridge.trainer.hp.lr == 0.01
        assert not app.bridge.paused  # training was never interrupted


async def test_change_applies_at_the_very_next_step(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        await focus_field(pilot, "lr")
        await pilot.press(*"0.02", "enter", "escape")
        await wait_for(pilot, lambda: app.bridge.trainer.hp.lr == 0.02, what="hp handed over")
        steps: list[Any] = []
        app.bridge.run.listen(lambda e: steps.append(e.metrics) if isinstance(e, Stepped) else None)
        await pilot.press("n")
        await wait_for(pilot, lambda: len(steps) > 0, what="one step")
        assert steps[0].step == 1 and steps[0].lr == 0.02


@pytest.mark.parametrize(
    ("keys", "message"),
    [(tuple("abc"), "must be a number"), (("backspace", "-", "1"), "must be > 0")],
)
async def test_invalid_input_is_refused_inline(tiny_mnist: Any, keys: tuple[str, ...], message: str) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        field = await focus_field(pilot, "lr")
        await pilot.press(*keys, "enter")
        controls = app.main.controls
        await wait_for(pilot, lambda: message in controls.error_text("lr"), what="inline message")
        assert app.bridge.hp.lr == 0.05 and field.value == "0.05"
        error = app.main.query_one("#error-lr")
        assert error.display and error.region.height in (1, 2)  # wrapped beside the labels when long
        await pilot.pause(0.2)
        assert app.bridge.trainer.hp.lr == 0.05
        await pilot.press(*"0.03", "enter")  # a good value clears the message
        await wait_for(pilot, lambda: app.bridge.hp.lr == 0.03, what="good value")
        assert controls.error_text("lr") == ""


@pytest.mark.parametrize("sign", ["-", "+"])
async def test_a_leading_sign_is_typed_not_taken_for_a_nudge(tiny_mnist: Any, sign: str) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        field = await focus_field(pilot, "lr")
        await pilot.press(sign, "5")
        assert field.value == f"{sign}5"  # no keystroke lost, nothing applied yet
        assert app.bridge.hp.lr == 0.05
        await pilot.press("enter")
        controls = app.main.controls
        if sign == "-":
            await wait_for(pilot, lambda: "must be > 0" in controls.error_text("lr"), what="one-line error")
            assert app.bridge.hp.lr == 0.05 and field.value == "0.05"
        else:
            await wait_for(pilot, lambda: app.bridge.hp.lr == 5.0, what="+5 is 5")


async def test_a_nudge_drops_an_unfinished_edit_and_shows_its_keys(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        field = await focus_field(pilot, "lr")
        keys = str(app.main.query_one(KeyBar).render())
        assert "] Nudge up" in keys and "[ Nudge down" in keys
        await pilot.press("backspace", "7", "left_square_bracket")
        await wait_for(pilot, lambda: app.bridge.hp.lr == pytest.approx(0.0281), what="nudged from 0.05")
        assert field.value == "0.0281"


async def test_letters_typed_in_a_field_are_not_shortcuts(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        field = await focus_field(pilot, "schedule")
        await pilot.press(*"qsl ", "enter")
        await wait_for(pilot, lambda: "must be one of" in app.main.controls.error_text("schedule"))
        assert app.is_running and not isinstance(app.screen, PathPrompt) and app.bridge.trainer.state.step == 0
        assert field.value == "constant"


async def test_bracket_keys_nudge(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        controls = app.main.controls
        field = await focus_field(pilot, "lr")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: app.bridge.hp.lr == pytest.approx(0.0889) and field.value == "0.0889")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_for(pilot, lambda: app.bridge.hp.lr == pytest.approx(0.0281))
        await pilot.press("down", "right_square_bracket")  # batch size doubles / halves
        await wait_for(pilot, lambda: app.bridge.hp.batch_size == 32)
        await pilot.press("down", "right_square_bracket")  # momentum: half the gap to 1
        await wait_for(pilot, lambda: app.bridge.hp.momentum == pytest.approx(0.95))
        await pilot.press(*["down"] * (controls.shown_fields().index("activation") - 2), "right_square_bracket")
        await wait_for(pilot, lambda: app.bridge.hp.activation == SPECS["activation"].choices[1])
        await wait_for(pilot, lambda: app.bridge.trainer.hp.batch_size == 32, what="nudge handed over")


async def test_variant_options_show_only_while_the_variant_reads_them(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        controls, left = app.main.controls, app.main.query_one("#left")
        shown = controls.shown_fields()
        assert "sigma" not in shown and "stale_k" not in shown and "augment" in shown
        await pilot.pause()
        assert controls.region.bottom <= left.region.bottom  # every field of exact backprop fits at 120x40
        await focus_field(pilot, "variant")
        await pilot.press("down")  # skips the hidden options
        await wait_for(pilot, lambda: app.screen.focused.field_name == shown[shown.index("variant") + 1])
        await pilot.press("up")
        await wait_for(pilot, lambda: app.screen.focused.field_name == "variant")
        await pilot.press(*"noise-same", "enter")
        await wait_for(pilot, lambda: "sigma" in controls.shown_fields(), what="sigma shown")
        assert "stale_k" not in controls.shown_fields()
        await pilot.press("down")
        await wait_for(pilot, lambda: app.screen.focused.field_name == "sigma", what="down onto sigma")
        await pilot.press(*"0.2", "enter")
        await wait_for(pilot, lambda: app.bridge.trainer.hp.sigma == 0.2, what="sigma handed over")
        # (with a variant's option too the column scrolls by a line at 120x40)
        await pilot.press("up", *"stale", "enter")
        await wait_for(pilot, lambda: "stale_k" in controls.shown_fields(), what="stale k shown")
        assert "sigma" not in controls.shown_fields()


async def test_quick_arrow_keys_each_move_one_field(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        controls = app.main.controls
        shown = controls.shown_fields()
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, FieldInput), what="first field")
        first = app.screen.focused
        first.action_move(1)
        # at once, not on the next idle moment: a key typed meanwhile must start from the new field
        assert app.screen.focused is controls.field(shown[1])
        app.main.action_focus_panel("digits")
        assert app.screen.focused is app.main.digits
        controls.focus_first()
        assert app.screen.focused is first
        await pilot.press(*["down"] * shown.index("variant"))  # typed ahead, as a user would
        await wait_for(pilot, lambda: app.screen.focused.field_name == "variant", what="variant")
        await pilot.press("up", "up", "up")
        await wait_for(pilot, lambda: app.screen.focused.field_name == shown[shown.index("variant") - 3])


async def test_enter_then_escape_in_one_burst_still_sets_the_value(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        field = await focus_field(pilot, "lr")
        field.value = "0.02"
        await field.action_submit()  # Enter: posts Submitted ...
        field.action_leave()  # ... and Escape, already queued, reverts the field before it is handled
        await wait_for(pilot, lambda: app.bridge.trainer.hp.lr == 0.02, what="the submitted value")
        assert field.value == "0.02" and app.screen.focused is None


async def test_a_key_queued_at_a_field_that_lost_the_focus_goes_to_the_focused_one(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        lr = await focus_field(pilot, "lr")
        batch = app.main.controls.field("batch_size")
        app.screen.set_focus(batch)
        lr._forward_event(events.Key("3", "3"))  # the app handed it to lr just before the focus moved on
        await wait_for(pilot, lambda: batch.value == "3", what="the key in the focused field")
        assert lr.value == "0.05"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.bridge.trainer.hp.batch_size == 3, what="batch size handed over")


def test_nudge_rules_and_limits() -> None:
    assert nudge("weight_decay", 0.0, 1) == 1e-5 and nudge("weight_decay", 1e-5, -1) == 0.0
    assert nudge("hidden", 256, -1) == 128 and nudge("seed", 3, 1) == 4
    assert nudge("lr_decay", 0.9, -1) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="limit"):
        nudge("batch_size", 1, -1)
    with pytest.raises(ValueError, match="limit"):
        nudge("momentum", 0.0, -1)
    choices = SPECS["schedule"].choices
    assert nudge("schedule", choices[-1], 1) == choices[0]


async def test_architecture_field_waits_for_reset(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        await focus_field(pilot, "hidden")
        await pilot.press(*"8", "enter", "escape")
        pending = app.main.query_one("#pending-hidden")
        await wait_for(pilot, lambda: pending.display, what="pending note")
        assert "applies on r" in str(pending.render())
        await pilot.press("n")
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == 1)
        assert app.bridge.trainer.model.shape[1] == 16  # not before the reset
        await pilot.press("r")
        await wait_for(pilot, lambda: app.bridge.trainer.model.shape[1] == 8, what="reset with H=8")
        assert app.bridge.trainer.state.step == 0
        await wait_for(pilot, lambda: not pending.display, what="pending note cleared")
        await pilot.pause(0.2)
        assert app.bridge.trainer.state.step == 0  # still paused after the reset


# ---- training keys -------------------------------------------------------------------------------


async def test_escape_leaves_the_field_then_space_pauses_and_steps_stop(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        await focus_field(pilot, "momentum")
        field = app.screen.focused
        await pilot.press("space")  # typed into the field, not a shortcut
        await wait_for(pilot, lambda: field.value == " ")
        assert not app.bridge.paused
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.focused is None, what="blur")
        assert field.value == "0.9"  # the unfinished edit was dropped
        await pilot.press("space")
        await wait_for(pilot, lambda: app.bridge.paused and app.main.status.status.state == "paused")
        steps = app.bridge.trainer.state.step
        await pilot.pause(0.3)
        assert app.bridge.trainer.state.step == steps
        await pilot.press("space")
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > steps, what="steps resume")


async def test_n_takes_exactly_one_step_and_only_while_paused(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > 0)
        assert app.main.check_action("run", ("step",)) is None  # greyed out while running
        await pause_and_settle(pilot)
        assert app.main.check_action("run", ("step",)) is True
        steps = app.bridge.trainer.state.step
        await pilot.press("n")
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == steps + 1, what="one step")
        await pilot.pause(0.2)
        assert app.bridge.trainer.state.step == steps + 1
        await wait_for(pilot, lambda: app.main.status.status.step == steps + 1, what="status shows the step")


async def test_e_evaluates_and_fills_status_and_digits(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        assert app.main.status.status.valid_error is None
        await pilot.press("e")
        await wait_for(pilot, lambda: app.main.status.status.valid_error is not None, what="evaluation")
        status = app.main.status.status
        assert status.valid_error is not None and 0.0 <= status.valid_error <= 1.0
        assert status.best_valid_error == status.valid_error
        assert status.test_error_at_best is not None
        assert app.main.digits.browser.result is not None and app.main.digits.browser.result.total == 500
        assert app.bridge.trainer.state.step == 0  # evaluating does not train


async def test_s_then_l_round_trips_a_checkpoint(tiny_mnist: Any, tmp_path: Path) -> None:
    app = make_app(tiny_mnist)
    path = tmp_path / "run.npz"
    async with app.run_test(size=SIZE) as pilot:
        bridge = app.bridge
        for _ in range(3):
            await pilot.press("n")
        await wait_for(pilot, lambda: bridge.trainer.state.step == 3)
        saved_W1 = bridge.trainer.model.W1.copy()
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="save prompt")
        field = app.screen.query_one(Input)
        assert field.value.endswith(".npz")
        field.value = str(path)  # (typing a long path key by key only slows the test)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.last_checkpoint == str(path), what="save")
        assert path.exists()
        await pilot.press("r")  # change the state: fresh weights, step 0
        await wait_for(pilot, lambda: bridge.trainer.state.step == 0)
        assert not np.array_equal(bridge.trainer.model.W1, saved_W1)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="load prompt")
        assert app.screen.query_one(Input).value == str(path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bridge.trainer.state.step == 3, what="load")
        np.testing.assert_array_equal(bridge.trainer.model.W1, saved_W1)


@pytest.mark.parametrize("kind", ["garbage", "fifo"])
async def test_loading_a_bad_file_keeps_the_run(tiny_mnist: Any, tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.npz"
    if kind == "fifo":  # a plain open() would block the worker until a writer appears
        os.mkfifo(bad)
    else:
        bad.write_bytes(b"not a checkpoint")
    app = make_app(tiny_mnist)
    said = notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == 2)
        W1 = app.bridge.trainer.model.W1.copy()
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="load prompt")
        app.screen.query_one(Input).value = str(bad)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("bad.npz" in n.message for n in said), what="notice")
        note = next(n for n in said if "bad.npz" in n.message)
        assert note.severity == "error" and "\n" not in note.message
        assert app.bridge.trainer.state.step == 2
        np.testing.assert_array_equal(app.bridge.trainer.model.W1, W1)
        await pilot.press("n")  # the worker is free: it still steps
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == 3, what="a step after the refusal")


async def test_g_runs_the_gradient_check_without_stopping_training(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        panel = app.main.gradcheck
        await wait_for(pilot, lambda: panel.state == "done", what="gradient check")
        assert len(panel.reports) == 7 and all(r.passed for r in panel.reports)
        assert panel.has_live and "live" in panel.reports[-1].label
        assert not app.bridge.paused


class NaNRule:
    """A gradient rule whose loss is not finite, as in a run that blew up."""

    def loss_and_grads(self, model: Any, X: Any, y: Any, rng: Any) -> Any:
        _, _, grads = model.loss_and_grads(X, y)
        return float("nan"), 0, grads


async def test_diverging_run_pauses_and_says_so(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    said = notices(app)
    async with app.run_test(size=SIZE) as pilot:
        app.bridge.trainer.use_rule(NaNRule())  # safe: the worker is paused
        W1 = app.bridge.trainer.model.W1.copy()
        await pilot.press("space")
        await wait_for(pilot, lambda: app.main.status.status.state == "diverged", what="divergence")
        assert app.bridge.paused and app.bridge.trainer.state.step == 1
        np.testing.assert_array_equal(app.bridge.trainer.model.W1, W1)  # the update was skipped
        await wait_for(pilot, lambda: any("lower the learning rate" in n.message for n in said), what="the notice")
        assert app.main.check_action("run", ("resume",)) is True and app.main.check_action("run", ("pause",)) is False


async def test_question_mark_opens_help_listing_every_binding(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("?")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert isinstance(app.screen, HelpScreen)
        keys = {key for _, rows in app.screen.sections for key, _ in rows}
        for binding in [*MnistApp.BINDINGS, *MainScreen.BINDINGS]:
            assert binding.description  # every binding is described
        assert {"space", "n", "r", "e", "s", "l", "g", "d", "h", "4", "?", "q", "] / [", "escape", "esc"} <= keys
        rows = dict(app.screen.sections)
        digits = dict(rows["Misclassified digits (when focused)"])
        assert digits["esc"] == "Leave" and "digit viewer" in dict(rows["Training (outside a field)"])["d"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
        first = app.get_screen("help")
        await pilot.press("?")  # opens again: the same screen, kept rather than rebuilt
        await wait_for(pilot, lambda: app.screen is first, what="help again")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed by ?")


async def test_key_bar_follows_focus_keeps_help_and_quit_and_clicks(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(KeyBar)
        await wait_for(pilot, lambda: bar.items, what="keys on the bar")
        shown = {i.action for i in bar.fit(bar.size.width - 2)}
        assert {"help", "quit", "command_palette"} <= shown  # kept at 80 columns
        assert {i.action for i in bar.items} - shown  # while others had to go
        line = bar.render().plain
        assert "? Help" in line and "q Quit" in line and line.rstrip().endswith("^p palette")
        assert len(line) <= bar.size.width
        await pilot.press("h")  # a field takes focus: the bar shows the field's keys
        await wait_for(pilot, lambda: "Leave field" in bar.render().plain, what="field keys")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Leave field" not in bar.render().plain, what="app keys again")
        help_span = next(start for start, _, item in bar._spans if item.action == "help")
        await pilot.click(KeyBar, offset=(help_span, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help by click")


async def test_controls_title_marks_editing(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        controls = app.main.controls
        assert controls.border_title == "Controls"
        await pilot.press("h")
        await wait_for(pilot, lambda: "editing" in str(controls.border_title), what="editing title")
        await pilot.press("down")  # focus moves between fields: still editing
        await pilot.pause(0.05)
        assert "editing" in str(controls.border_title)
        await pilot.press("escape")
        await wait_for(pilot, lambda: controls.border_title == "Controls", what="plain title")


async def test_the_real_app_settles_the_garbage_collector_once_training_starts(tiny_mnist: Any) -> None:
    import gc

    thresholds = gc.get_threshold()
    app = make_app(tiny_mnist, settle_gc=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: gc.get_freeze_count() > 0, what="objects frozen")
            assert gc.get_threshold() == GC_THRESHOLDS
            # Most objects are now out of the collector's scans (frozen objects may still be freed
            # by reference counting, so their count is not fixed).
            assert len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()  # process-wide: later tests get the collector back as it was
        gc.set_threshold(*thresholds)


async def test_every_action_is_in_the_command_palette(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE):
        listed = [c.title for c in app.get_system_commands(app.screen)]
        assert len(listed) == len(set(listed)), listed  # one entry per name (ours replace Textual's "Keys")
        titles = set(listed)
        assert {"Resume training", "Step once", "Reset weights", "Evaluate now", "Save checkpoint"} <= titles
        assert {"Load checkpoint", "Gradient check", "Keys", "Quit"} <= titles
        assert {"Browse misclassified digits", "Edit hyperparameters", "Show angle chart"} <= titles
        assert "Pause training" not in titles  # does not apply while paused


async def test_q_quits_and_leaves_no_thread(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > 0)
        await pilot.press("g")  # a gradient check in flight must not keep the app alive
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0
    assert not our_threads()  # joined, not left behind a timed-out join


# ---- start-up ------------------------------------------------------------------------------------


async def test_loader_progress_then_main_screen(tiny_mnist: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    seen: list[str] = []

    def fake_load(path: str | None, progress: Callable[[str, float | None], None] | None = None) -> Any:
        assert progress is not None
        progress("Reading test file", 0.5)
        gate.wait(5)
        return tiny_mnist

    monkeypatch.setattr("model.data.load_mnist", fake_load)
    app = new_app(HP, data_path="somewhere")
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LoadingScreen)

        def shows_progress() -> bool:
            text = str(app.screen.query_one("#loading-text").render())
            seen.append(text)
            return "Reading test file" in text

        await wait_for(pilot, shows_progress, what="progress text")
        assert app.main is None and "r" not in app.screen.active_bindings  # nothing to reset while loading
        gate.set()
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 0, what="training")
        assert app.screen is app.main


async def test_data_failure_shows_reason_and_exits_with_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: str | None, progress: Any = None) -> Any:
        raise DataError("/nowhere/mnist.pkl.gz: does not exist; pass --data PATH to a good copy")

    monkeypatch.setattr("model.data.load_mnist", broken)
    app = new_app(HP, data_path="/nowhere/mnist.pkl.gz")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.failed, what="failure")
        assert "does not exist" in str(app.screen.query_one("#loading-text").render())
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 2


async def test_resume_continues_a_saved_run(tiny_mnist: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.checkpoint import save_checkpoint
    from model.trainer import make_trainer

    trainer = make_trainer(HP.validated(hidden=12), tiny_mnist)
    for _ in range(5):
        trainer.step()
    save_checkpoint(tmp_path / "r.npz", trainer.run_state())
    monkeypatch.setattr("model.data.load_mnist", lambda path, progress=None: tiny_mnist)
    app = new_app(HP, data_path="x", resume=str(tmp_path / "r.npz"), start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="main screen")
        assert app.bridge.trainer.state.step == 5 and app.bridge.trainer.model.shape[1] == 12
        assert app.main.controls.field("hidden").value == "12"


# ---- focus keys and the angle chart --------------------------------------------------------------


async def test_d_focuses_the_digits_then_j_k_browse_and_escape_leaves(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        digits = app.main.digits
        await pilot.press("e")
        await wait_for(
            pilot, lambda: digits.browser.result is not None and len(digits.browser.selection) > 2, what="digits"
        )
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.focused is digits, what="digits focused")
        rows = [digits.browser.current_row]
        for key in ("j", "j", "k"):
            await pilot.press(key)
            await pilot.pause()
            rows.append(digits.browser.current_row)
        assert digits.browser.position == 1 and rows[1] != rows[0] and rows[3] == rows[1]
        await pilot.press("t")  # filter keys act on the focused panel
        await wait_for(pilot, lambda: digits.browser.true_filter == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.focused is None, what="escape leaves the panel")
        await pilot.press("t")
        await pilot.pause(0.1)
        assert digits.browser.true_filter == 0  # unfocused: t is no longer the panel's
        await pilot.press("n")  # app keys work again
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == 1, what="a step")
        await pilot.press("d", "o")  # typed ahead: o already reaches the viewer
        await wait_for(pilot, lambda: digits.browser.order == "confident", what="sort order changed")
        assert app.screen.focused is digits


async def test_d_on_a_small_screen_switches_to_the_digits_tab(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=(80, 24)) as pilot:
        main = app.main
        assert main.panel_tabs.compact
        assert main.charts.region.height > 0 and main.digits.region.height == 0  # charts tab at start
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.focused is main.digits, what="digits focused")
        await wait_for(pilot, lambda: main.digits.region.height > 0 and main.charts.region.height == 0)
        await pilot.press("1")  # back to the charts: the hidden viewer gives the keys back
        await wait_for(pilot, lambda: main.charts.region.height > 0, what="charts tab")
        assert app.screen.focused is None


async def test_a_click_on_a_tab_shows_its_panel_on_a_small_screen(tiny_mnist: Any) -> None:
    """The tab strip itself (a click, not a key) picks the panel; "4 Angles" brings the angle chart."""
    app = make_app(tiny_mnist)
    async with app.run_test(size=(80, 24)) as pilot:
        main = app.main
        await wait_for(pilot, lambda: main.charts.region.height > 0, what="the charts tab")
        await pilot.click("#tab-digits")
        await wait_for(pilot, lambda: main.digits.region.height > 0, what="the digits tab")
        assert main.charts.region.height == 0 and main.panel_tabs.active == "tab-digits"
        await pilot.click("#tab-angles")
        await wait_for(pilot, lambda: main.charts.angle_chart.region.height > 0, what="the angle chart")
        assert main.digits.region.height == 0 and main.charts.angles_shown


async def test_h_focuses_the_controls(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, FieldInput), what="a field focused")
        assert app.screen.focused.field_name == next(iter(SPECS))
        await pilot.press(*"0.02", "enter", "escape")
        await wait_for(pilot, lambda: app.bridge.trainer.hp.lr == 0.02, what="lr handed over")
        assert app.screen.focused is None


@pytest.mark.slow  # trains until the angles move: about 2.5 s of CPU
async def test_switching_variant_mid_run_brings_angles_to_the_chart(tiny_mnist: Any) -> None:
    # lr 0.02: at 0.05 feedback alignment on the noisy synthetic set really diverges for some
    # switch points (7 of 19 headless), and the step the switch lands on depends on timing
    app = make_app(tiny_mnist, running=True, hp=HP.validated(lr=0.02))
    async with app.run_test(size=SIZE) as pilot:
        charts, status = app.main.charts, app.main.status
        w1 = charts.angle_chart.series["W1"]
        await wait_for(pilot, lambda: len(w1.x) >= 2, what="angles of exact backprop")
        assert not charts.angles_shown and not charts.angle_chart.display  # hidden for exact backprop
        assert np.all(charts.angle_chart.series["W2"].y.values == 0.0) and np.all(w1.y.values == 0.0)
        await wait_for(pilot, lambda: "∠W1 [b]0.0°" in status.title_markup(), what="status shows 0°")
        field = await focus_field(pilot, "variant")
        await pilot.press(*"feedback-fixed", "enter", "escape")
        await wait_for(pilot, lambda: app.bridge.trainer.hp.variant == "feedback-fixed", what="variant handed over")
        assert field.value == "feedback-fixed" and not app.bridge.paused
        await wait_for(pilot, lambda: np.nanmax(w1.y.values) > 10.0, what="a large angle for W1")
        assert charts.angles_shown and charts.angle_chart.display
        assert any("feedback-fixed" in m.label for m in charts.angle_chart.markers)
        switched = next(m.x for m in charts.angle_chart.markers if "feedback-fixed" in m.label)
        after = w1.y.values[w1.x.values > switched]
        assert np.all(w1.y.values[w1.x.values <= switched] == 0.0) and np.nanmean(after) > 10.0
        await wait_for(pilot, lambda: "feedback-fixed" in str(status.border_title), what="status names the variant")
        await wait_for(pilot, lambda: "∠W1 [b]0.0°" not in status.title_markup(), what="status angle")


async def test_4_shows_the_angle_chart_on_its_own_tab(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=(80, 24)) as pilot:
        charts = app.main.charts
        await pilot.press("4")
        await wait_for(pilot, lambda: charts.angle_chart.region.height > 10, what="angle tab")
        assert charts.loss_chart.region.height == 0 and charts.error_chart.region.height == 0
        await pilot.press("1")
        await wait_for(pilot, lambda: charts.loss_chart.region.height > 0, what="charts tab")
        assert charts.angle_chart.region.height == 0  # the charts tab keeps loss and error only
        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: not app.main.panel_tabs.compact, what="wide layout")
        await wait_for(pilot, lambda: charts.angle_chart.region.width > 20, what="angle chart beside the error chart")
        assert charts.error_chart.region.y == charts.angle_chart.region.y


@pytest.mark.parametrize("where", ["field", "save prompt", "help"])
async def test_ctrl_c_quits_from_anywhere_with_the_autosave(tiny_mnist: Any, tmp_path: Path, where: str) -> None:
    app = new_app(HP, data=tiny_mnist, runs=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 5, what="training")
        if where == "field":
            await focus_field(pilot, "lr")
            await pilot.press("1")  # mid-edit: the field would copy with ctrl+c
        elif where == "save prompt":
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="save prompt")
        else:
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running, what="quit")
    auto = app.live_run.recorder.checkpoint  # the autosave: the run's record keeps its final checkpoint
    assert app.return_code == 0 and auto is not None and auto.exists() and str(auto) in app.autosave_note


async def test_reset_refreshes_the_digits_and_marks_the_gradient_check_stale(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main
        await pilot.press("g")
        await wait_for(pilot, lambda: main.gradcheck.state == "done", timeout=60, what="gradient check")
        await pilot.press("e")
        await wait_for(pilot, lambda: main.digits.browser.result is not None, what="digits")
        before = main.digits.browser.result
        await pilot.press("r")
        await wait_for(pilot, lambda: main.gradcheck.state == "stale", what="stale mark")
        assert "stale: new weights" in str(main.gradcheck.border_subtitle)
        await wait_for(pilot, lambda: main.digits.browser.result is not before, what="digits of the new weights")
        await pilot.press("g")
        await wait_for(pilot, lambda: main.gradcheck.state == "done", timeout=60, what="checked again")
        assert main.gradcheck.border_subtitle == ""


async def test_below_the_smallest_layout_a_notice_replaces_the_panels(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        notice = app.main.query_one("#too-small")
        await pilot.resize_terminal(60, 20)
        await wait_for(pilot, lambda: app.main.has_class("-too-small"), what="notice")
        assert notice.display and "need 80x20" in str(notice.render())
        assert not app.main.query_one("#body").display
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: not app.main.has_class("-too-small"), what="panels back")
        assert app.main.query_one("#body").display and not notice.display


async def test_a_long_field_error_wraps_whole_and_clears_when_the_field_is_left(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=(80, 24)) as pilot:
        await focus_field(pilot, "batch_size")
        await pilot.press(*"0", "enter")
        controls = app.main.controls
        message = "batch_size must be >= 1 and <= 50000 (got 0)"
        await wait_for(pilot, lambda: controls.error_text("batch_size") == message, what="error")
        label = app.main.query_one("#error-batch_size")
        await pilot.pause()
        assert label.region.height >= 2  # wrapped, not cut
        shown = "".join(line.text.strip() for line in label.render_lines(label.region.reset_offset))
        assert shown.replace(" ", "") == message.replace(" ", "")
        await pilot.press("escape")
        await wait_for(pilot, lambda: controls.error_text("batch_size") == "", what="cleared on leaving")


async def test_the_longest_variant_name_shows_whole_at_80_columns(tiny_mnist: Any) -> None:
    app = new_app(HP.validated(variant="round-forward-backward"), data=tiny_mnist, start_training=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.main.controls.field("variant")
        assert field.region.width >= len("round-forward-backward")
        assert "round-forward-backward" in str(field.render_line(0).text)


async def test_saving_to_a_folder_writes_inside_it(tiny_mnist: Any, tmp_path: Path) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > 0, what="training")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="save prompt")
        app.screen.query_one("#prompt-input", Input).value = str(tmp_path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.last_checkpoint != "", what="saved")
        saved = Path(app.main.last_checkpoint)
        assert saved.parent == tmp_path and saved.name.startswith("mnist-tui-") and saved.suffix == ".npz"
        assert not tmp_path.with_name(tmp_path.name + ".npz").exists()


async def test_the_focused_digit_viewer_shows_its_keys_first_and_that_it_has_focus(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.focused is app.main.digits, what="viewer focused")
        await pilot.pause()
        keys = str(app.main.query_one(KeyBar).render())
        assert keys.lstrip().startswith("esc Leave t True class p Predicted o Sort c Confusion"), keys
        assert "browsing" in str(app.main.digits.border_title)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.focused is None, what="left")
        assert "browsing" not in str(app.main.digits.border_title)
