"""Pilot tests of the screens that look inside the network (weights, why, math): real keys, live worker, tiny data."""
# The running app's optional parts (app.bridge, app.main) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import new_app, wait_for
from textual.widgets import Markdown

from model.config import HyperParams
from tui.screens import live
from tui.screens.host import ScreenHost
from tui.screens.math import MathScreen
from tui.screens.weights import WeightsScreen
from tui.screens.why import WhyScreen
from tui.view.weights import LARGE, SMALL
from tui.widgets.cells import CellLines
from tui.widgets.weights import WeightsView
from tui.widgets.why import WhyView

HP = HyperParams(hidden=40, batch_size=16, epochs=10_000, lr=0.05)


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """Every test here drives a training app."""


async def open_weights(pilot: Any) -> WeightsView:
    app = pilot.app
    await wait_for(pilot, lambda: app.bridge is not None, what="worker attached")
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(app.screen, WeightsScreen), what="weights screen")
    view: WeightsView = app.screen.query_one(WeightsView)
    await wait_for(pilot, lambda: view.data is not None, what="first snapshot drawn")
    return view


async def test_w_opens_the_filters_pages_selects_and_switches_scale(tiny_mnist: Any) -> None:
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_weights(pilot)
        assert view.hidden == 40 and view.data is not None
        assert view.data.stats is not None and view.data.stats.n == len(tiny_mnist.valid_x)
        box = app.screen.query_one("#w-grid-box")
        assert "40 units" in str(box.border_title) and "dead" in str(box.border_title)
        assert "scale per tile" in str(box.border_title)
        assert 1 < view.per_page < 40 and view.pages > 1  # 120 columns: a page of small tiles
        tiles = app.screen.query_one("#w-tiles", CellLines)
        assert tiles.plain.count("▀") >= 14 * 7 * view.per_page // 2  # half-block tiles drawn
        await pilot.press("right", "right", "down")
        assert view.selected == 2 + view.cols
        assert "Unit 2" not in str(app.screen.query_one("#w-detail").border_title)
        assert str(app.screen.query_one("#w-detail").border_title) == f"Unit {2 + view.cols}"
        await pilot.press("left")
        assert view.selected == 1 + view.cols
        await pilot.press("pagedown")
        assert view.page == 1 and view.selected == view.per_page + 1 + view.cols
        assert f"page 2/{view.pages}" in str(box.border_subtitle)
        await pilot.press("left_square_bracket")
        assert view.page == 0
        await pilot.press("right_square_bracket")
        assert view.page == 1
        await pilot.press("s")
        assert not view.per_tile and "one scale for all" in str(box.border_title)
        await pilot.press("t")
        assert view.side == LARGE
        await pilot.press("t", "a")
        assert view.side == SMALL and view.ascii_mode and "▀" not in tiles.plain
        bars = app.screen.query_one("#w-unit-bars").render()
        assert "W2 out" in str(bars) and "B back" not in str(bars)  # exact backprop: no feedback
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back to training")
        assert not app.main.host.weight_listeners  # unsubscribed on the way out


async def test_the_filters_follow_training_live(tiny_mnist: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.screens.live.SNAPSHOT_SECONDS", 0.2)
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_weights(pilot)
        first = view.data
        assert first is not None and first.examples_seen == 0
        await pilot.press("space")  # training keys are the main screen's: resume from there
        app.main.action_run("resume")
        await wait_for(pilot, lambda: view.data is not first and view.data.examples_seen > 0, what="new weights")
        assert not np.array_equal(view.data.W2, first.W2)


async def test_a_feedback_variant_shows_b_beside_w2(tiny_mnist: Any) -> None:
    app = new_app(HyperParams(hidden=20, batch_size=16, epochs=10_000, variant="feedback-fixed"), data=tiny_mnist,
                   start_paused=True)  # fmt: skip
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="worker attached")
        await pilot.press("n")  # the variant draws B at its first step
        await wait_for(pilot, lambda: app.bridge.trainer.state.step == 1, what="one step")
        view = await open_weights(pilot)
        assert view.data is not None and view.data.feedback is not None
        bars = str(app.screen.query_one("#w-unit-bars").render())
        assert "W2 out" in bars and "B back" in bars and "cos(W2, B)" in bars


async def test_y_in_the_digit_viewer_explains_the_digit(tiny_mnist: Any) -> None:
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="worker attached")
        await pilot.press("e")
        await wait_for(pilot, lambda: app.main.digits.browser.result is not None, what="misclassified digits")
        await pilot.press("d", "j")
        shown = app.main.digits.browser.shown()
        assert shown is not None
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, WhyScreen), what="why screen")
        view = app.screen.query_one(WhyView)
        await wait_for(pilot, lambda: view.data is not None, what="explained")
        e = view.data.explanation
        assert e.true == shown.true and e.pred == shown.pred  # paused: the weights it was evaluated with
        np.testing.assert_allclose(e.probs, shown.probs, atol=1e-5)
        assert len(e.top_pred) == len(e.top_true) == 8
        pred_tiles = app.screen.query_one("#why-pred", CellLines)
        assert pred_tiles.plain.count("▀") == 8 * 14 * 7
        assert f"{e.top_pred[0]} {e.contrib[e.pred, e.top_pred[0]]:+.2f}" in pred_tiles.plain
        logits = str(app.screen.query_one("#why-logits").render())
        assert "logits" in logits and f"{e.logits[e.pred]:+6.2f}" in logits
        assert f"test #{shown.row}" in str(app.screen.query_one("#why-summary").render())
        await pilot.press("a")
        assert "▀" not in pred_tiles.plain
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back to training")
        assert app.screen.focused is app.main.digits  # back where the user was


@pytest.mark.slow  # the derivation rendered beside a live run: about 2.3 s of CPU
async def test_m_opens_the_derivation_beside_the_live_numbers(tiny_mnist: Any) -> None:
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="worker attached")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MathScreen), what="math screen")
        screen = app.screen
        assert isinstance(screen, MathScreen)
        host = screen.host
        assert isinstance(host, ScreenHost)
        # Textual runs each class's on_mount along the MRO: the live screen's must run once, not twice
        assert host.weight_listeners.count(screen._received) == 1
        await wait_for(pilot, lambda: screen.data is not None, what="live numbers")
        markdown = screen.query_one(Markdown)
        await wait_for(pilot, lambda: markdown.children, what="markdown rendered")
        assert "Backpropagation" in markdown.source and "Minibatch form" in markdown.source
        numbers = str(screen.query_one("#math-numbers").render())
        assert "dW1 = Delta1^T X" in numbers and "(40, 784)" in numbers and "(16, 784)" in numbers
        data = screen.data
        assert data.shape == (784, 40, 10, 16)
        assert f"(40, 784)  {data.batch.norms['W1']:.3g}" in numbers
        assert "p - t for training digit" in numbers  # no digit selected yet
        np.testing.assert_allclose(data.example.delta[0].sum(), 0.0, atol=1e-6)
        before = data.batch.norms["W1"]
        await pilot.press("b")  # another minibatch: other norms
        # a periodic snapshot of the old batch can arrive first: wait for the new batch's norms
        await wait_for(pilot, lambda: screen.data.batch.norms["W1"] != before, what="the new batch's norms")
        await pilot.press("down", "pagedown")  # the derivation has the focus and scrolls
        await wait_for(pilot, lambda: screen.query_one("#math-doc").scroll_y > 0, what="scrolled")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back to training")
        assert screen._received not in host.weight_listeners  # closed: it no longer listens


async def test_moving_the_selection_repaints_only_the_labels_that_changed(tiny_mnist: Any) -> None:
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_weights(pilot)
        tiles = app.screen.query_one("#w-tiles", CellLines)
        # first painted: until then any new lines relayout (a loaded box can press before that)
        await wait_for(pilot, lambda: bool(tiles._strips), what="the tiles painted")
        before = list(tiles.lines)
        repainted: list[Any] = []
        original = tiles.refresh

        def spy(*regions: Any, **kwargs: Any) -> Any:
            repainted.append((regions, kwargs))
            return original(*regions, **kwargs)

        tiles.refresh = spy  # type: ignore[method-assign]
        await pilot.press("down")  # first row's label loses the cursor, second row's gains it
        assert view.selected == view.cols
        rows = sorted(r.y for regions, _ in repainted for r in regions)
        label = 14 // 2  # the label line under the first row of tiles
        assert rows == [label, 2 * label + 1] and all(not kw.get("layout") for _, kw in repainted)
        label_rows = len(before) // (label + 1)
        same = sum(a is b for a, b in zip(before, tiles.lines, strict=True))
        assert same == len(before) - label_rows  # the pixel lines are the very same objects: no rebuild


async def test_new_weights_wait_until_the_keys_pause(tiny_mnist: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The screen's clock stands still until the test moves it: a slow machine cannot let the
    # quiet time pass between the key and the redraws.
    # No periodic snapshot either: a new one would rightly replace the held redraw.
    now = [1_000.0]
    monkeypatch.setattr(live, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(live, "SNAPSHOT_SECONDS", 3600.0)
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_weights(pilot)
        screen = app.screen
        assert isinstance(screen, WeightsScreen)
        drawn: list[str] = []
        await pilot.press("right")
        screen.when_quiet(lambda: drawn.append("first"))
        screen.when_quiet(lambda: drawn.append("second"))  # a newer redraw replaces the held one
        await pilot.pause(2 * live.QUIET_SECONDS)  # the screen's timer checks again, and holds on
        assert drawn == []
        now[0] += 2 * live.QUIET_SECONDS
        await wait_for(pilot, lambda: drawn, what="the held redraw")
        assert drawn == ["second"]
        screen.when_quiet(lambda: drawn.append("now"))  # no key for a while: at once
        assert drawn == ["second", "now"]
