"""Pilot tests of the drawing pad: real keys, mouse strokes posted as the terminal would send them."""
# The running app's optional parts (app.bridge, app.main) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import new_app, wait_for
from textual import events
from textual.pilot import Pilot

from model.config import HyperParams
from model.drawing import to_mnist
from tui.app import MnistApp
from tui.screens.help import HelpScreen
from tui.screens.pad import MIN_SIZE, DrawPadScreen
from tui.screens.palette import palette_commands
from tui.screens.prompt import PathPrompt
from tui.view.digit_render import halfblock_rows, render_halfblock
from tui.view.pad import PadState, canvas_rows
from tui.widgets.pad import DrawCanvas

SIZE = (120, 40)
HP = HyperParams(hidden=16, batch_size=16, epochs=10_000, lr=0.05)


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """Every test here drives a training app."""


def make_app(tiny: Any, running: bool = False) -> MnistApp:
    return new_app(HP, data=tiny, start_paused=not running)


async def open_pad(pilot: Pilot[Any]) -> DrawPadScreen:
    """Press p on the training screen and wait for the pad and its first weights."""
    app: Any = pilot.app
    await wait_for(pilot, lambda: app.bridge is not None, what="the worker attached")
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, DrawPadScreen), what="the pad")
    pad = app.screen
    assert isinstance(pad, DrawPadScreen)
    await wait_for(pilot, lambda: pad.params is not None, what="the live weights")
    return pad


def mouse(kind: type[events.MouseEvent], canvas: DrawCanvas, px: float, py: int, button: int) -> events.MouseEvent:
    """A terminal mouse event over pixel column ``px``, row ``py`` of ``canvas`` (screen coordinates)."""
    x = canvas.region.x + canvas.gutter.left + round(2 * px)
    y = canvas.region.y + canvas.gutter.top + py
    return kind(None, x, y, 0, 0, button, False, False, False, screen_x=x, screen_y=y)


async def stroke(pilot: Pilot[Any], canvas: DrawCanvas, points: list[tuple[float, int]], button: int = 1) -> None:
    """Press at the first point, drag through the rest with ``button`` held, release."""
    post = pilot.app.post_message
    post(mouse(events.MouseDown, canvas, *points[0], button))
    for p in points[1:]:
        post(mouse(events.MouseMove, canvas, *p, button))
    await pilot.pause()
    post(mouse(events.MouseUp, canvas, *points[-1], button))
    await pilot.pause()


async def test_a_left_drag_paints_where_drawn_and_c_clears(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        pad = await open_pad(pilot)
        canvas, state = pad.canvas, pad.canvas.state
        assert state.empty and pad.bars.probs is None  # nothing drawn: no prediction, no crash
        shown = pad.bars.version
        app.post_message(mouse(events.MouseDown, canvas, 5, 14, 1))
        app.post_message(mouse(events.MouseMove, canvas, 12, 14, 1))  # a fast move: 7 pixels in one event
        await wait_for(pilot, lambda: app.mouse_captured is canvas and state.ink_at(12, 14) > 0.5, what="stroke")
        app.post_message(mouse(events.MouseMove, canvas, 20, 14, 1))
        await pilot.pause()
        app.post_message(mouse(events.MouseUp, canvas, 20, 14, 1))
        await wait_for(pilot, lambda: not state.stroking and app.mouse_captured is None, what="stroke ended")
        assert all(state.ink_at(x, 14) > 0.5 for x in range(5, 21))  # no gaps along the drag
        assert state.canvas[:10].sum() == 0 and state.canvas[19:].sum() == 0  # nothing far away
        assert state.canvas[:, :3].sum() == 0 and state.canvas[:, 23:].sum() == 0
        await wait_for(pilot, lambda: pad.bars.shown > shown and pad.bars.probs is not None, what="bars")
        assert len(pad.bars.probs or []) == 10 and sum(pad.bars.probs or []) == pytest.approx(1.0, abs=1e-4)
        assert "looks like a" in str(pad.bars.border_subtitle)
        await pilot.press("c")
        await wait_for(pilot, lambda: state.empty and pad.bars.probs is None, what="cleared")


async def test_right_drag_erases_and_a_move_without_button_ends_the_stroke(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        pad = await open_pad(pilot)
        canvas, state = pad.canvas, pad.canvas.state
        await stroke(pilot, canvas, [(4, 10), (22, 10)])
        assert state.ink_at(13, 10) == 1.0
        await stroke(pilot, canvas, [(10, 10), (16, 10)], button=3)  # right button: erase the middle
        assert state.ink_at(13, 10) == 0.0 and state.ink_at(5, 10) > 0.5 and state.ink_at(21, 10) > 0.5
        # The release happens outside the window and is lost: the next move (no button) ends it.
        app.post_message(mouse(events.MouseDown, canvas, 4, 20, 1))
        app.post_message(mouse(events.MouseMove, canvas, 8, 20, 1))
        await wait_for(pilot, lambda: state.ink_at(8, 20) > 0.5, what="the drag")  # (queued moves merge)
        app.post_message(mouse(events.MouseMove, canvas, 20, 24, 0))
        await wait_for(pilot, lambda: not state.stroking and app.mouse_captured is None, what="stroke ended")
        assert state.ink_at(8, 20) > 0.5 and state.ink_at(20, 24) == 0.0  # the buttonless move did not paint


async def test_arrows_and_space_paint_without_a_mouse_and_the_eraser_removes(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        pad = await open_pad(pilot)
        state = pad.canvas.state
        start = state.cursor
        await pilot.press("right", "right", "right", "up", "up", "space")
        x, y = start[0] + 3, start[1] - 2
        await wait_for(pilot, lambda: state.ink_at(x, y) == 1.0, what="a stamp at the cursor")
        assert state.cursor == (x, y) and "[]" in pad.canvas.text().plain  # the cursor is drawn
        assert state.canvas.sum() < 20  # one stamp, not a stroke
        await wait_for(pilot, lambda: pad.bars.probs is not None, what="bars")
        await pilot.press("x", "space")
        await wait_for(pilot, lambda: state.empty, what="erased at the cursor")
        await pilot.press("e")
        assert not state.eraser
        for _ in range(40):  # the cursor stays on the canvas
            await pilot.press("left")
        assert state.cursor[0] == 0


async def test_a_drawn_test_digit_gets_the_live_models_prediction(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)  # paused: the weights the pad has are the trainer's
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == 3, what="three steps")
        pad = await open_pad(pilot)
        await wait_for(pilot, lambda: pad.examples_seen == 3 * HP.batch_size, what="the weights after 3 steps")
        model = app.bridge.trainer.model
        for i in range(5):
            digit = tiny_mnist.test_x[i]
            before = pad.bars.version
            pad.canvas.state.load(digit)
            pad.canvas.changed()
            await wait_for(pilot, lambda: pad.bars.shown > before, what="bars redrawn")  # noqa: B023 (awaited here)
            seen = to_mnist(digit.reshape(28, 28))[None, :]  # (1, 784) the digit as the network sees it
            expected = model.forward(seen)[0]
            np.testing.assert_allclose(pad.bars.probs or [], expected, rtol=1e-5, atol=1e-6)
            assert pad.bars.top == int(model.predict(seen)[0])


async def test_the_pad_follows_the_live_model_while_training_goes_on(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist, running=True)
    async with app.run_test(size=SIZE) as pilot:
        pad = await open_pad(pilot)
        first = pad.examples_seen
        await wait_for(pilot, lambda: pad.examples_seen > first, what="a newer snapshot")
        assert not app.bridge.paused
        pad.canvas.state.stamp_cursor()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back on the training screen")
        assert not app.main.host.weight_listeners  # the pad unsubscribed
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, DrawPadScreen), what="the pad again")
        again = app.screen
        assert isinstance(again, DrawPadScreen) and again is not pad and not again.canvas.state.empty  # drawing kept


async def test_too_small_for_the_pad_says_what_it_needs(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        pad = await open_pad(pilot)
        assert not pad.too_small
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: pad.too_small, what="notice")
        notice = pad.query_one("#pad-too-small")
        assert notice.display and f"need {MIN_SIZE[0]}x{MIN_SIZE[1]}" in str(notice.render())
        assert not pad.query_one("#pad-body").display
        await pilot.resize_terminal(*MIN_SIZE)
        await wait_for(pilot, lambda: not pad.too_small, what="the pad back")
        canvas = pad.canvas
        assert canvas.content_region.width == 56 and canvas.content_region.height == 28  # square pixels


async def test_help_and_palette_list_the_pad(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="the worker attached")
        assert app.main is not None
        titles = [c.title for c in palette_commands(app.main)]
        assert "Draw a digit" in titles
        await pilot.press("?")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert isinstance(app.screen, HelpScreen)
        rows = dict(app.screen.sections)
        assert "drawing pad" in dict(rows["Training (outside a field)"])["p"]
        pad_keys = dict(rows["Drawing pad (p)"])
        assert {"left drag", "right drag", "c", "x, e", "space", "esc"} <= pad_keys.keys()
        await pilot.press("escape")
        pad = await open_pad(pilot)
        assert "Clear the pad" in [c.title for c in app.get_system_commands(pad)]


async def test_the_hidden_training_screen_does_not_repaint_the_pad(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        await open_pad(pilot)
        assert app._background_screens == []  # the pad is opaque: nothing under it is drawn
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back on the training screen")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="the save prompt")
        assert app._background_screens == [app.main]  # a translucent prompt: the panels show under it


def test_line_renderers_match_the_text_ones() -> None:
    rng = np.random.default_rng(0)
    image = rng.random(784).astype(np.float32)
    text = render_halfblock(image)
    rows = halfblock_rows(image)
    assert ["".join(s.text for s in row) for row in rows] == text.plain.splitlines()
    assert [(len(s.text), s.style) for row in rows for s in row] == [(sp.end - sp.start, sp.style) for sp in text.spans]
    rows = canvas_rows(image.reshape(28, 28), cursor=(3, 5))
    assert all(sum(len(s.text) for s in row) == 56 for row in rows)
    assert "".join(s.text for s in rows[5])[6:8] == "[]"


def test_a_stroke_marks_only_the_rows_it_inked_for_redrawing() -> None:
    state = PadState()
    state.begin(4, 10)
    state.drag(20, 12)
    dirty = state.take_dirty()
    inked = np.nonzero(state.canvas.any(axis=1))[0]
    assert dirty.start <= inked.min() and inked.max() < dirty.stop and len(dirty) < 14
    assert state.take_dirty() == range(0)  # taken
    state.clear()
    assert state.take_dirty() == range(28)


async def test_digits_evaluated_under_the_pad_are_shown_on_the_way_back(tiny_mnist: Any) -> None:
    app = make_app(tiny_mnist)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main
        await wait_for(pilot, lambda: app.bridge is not None, what="the worker attached")
        app.bridge.evaluate()
        await wait_for(pilot, lambda: main.digits.browser.result is not None, what="the first digits")
        first = main.digits.browser.result
        await open_pad(pilot)
        app.bridge.evaluate()
        await wait_for(pilot, lambda: main.feed.digits_pending is not None, what="new digits while the pad is open")
        assert main.digits.browser.result is first  # not redrawn under the pad
        await pilot.press("escape")
        await wait_for(pilot, lambda: main.digits.browser.result is not first, what="the new digits shown on return")
