"""Pilot tests of the chart, digit and gradient-check panels mounted in a small test app."""
# The running app's optional parts (app.bridge, app.main) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import wait_for
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget

from model.analysis import Misclassified, confusion_matrix, misclassified
from model.config import HyperParams
from model.gradcheck import CheckReport, ParamCheck, toy_suite
from model.mlp import MLP
from tui.view.confusion import confusion_text, confusion_width
from tui.view.digit_render import ASCII_RAMP, render_ascii, render_halfblock
from tui.view.weights import build_weights_data
from tui.view.why import build_why_data
from tui.widgets.cells import CellLines
from tui.widgets.charts import ChartsPanel
from tui.widgets.digits import NO_EVALUATION, NO_MATCH, MisclassifiedPanel
from tui.widgets.gradcheck import HINT, GradCheckPanel
from tui.widgets.series_chart import SeriesChart
from tui.widgets.weights import WeightsView
from tui.widgets.why import WhyView

PANELS_CSS = Path(__file__).resolve().parents[1] / "assets" / "panels.tcss"
SIZE = (120, 40)


class PanelApp(App[None]):
    """Mounts the given panels with the panels' style sheet: one at full size, or the
    first on the left and the rest stacked on the right (as the app shows them)."""

    CSS_PATH = PANELS_CSS
    CSS = "#left, #right { width: 1fr; }"

    def __init__(self, *panels: Widget) -> None:
        super().__init__()
        self.panels = panels

    def compose(self) -> ComposeResult:
        if len(self.panels) == 1:
            yield self.panels[0]
            return
        with Horizontal():
            with Vertical(id="left"):
                yield self.panels[0]
            with Vertical(id="right"):
                yield from self.panels[1:]


def screen_text(app: App[Any], widget: Widget | None = None) -> str:
    """The plain text on screen (optionally only inside ``widget``'s region)."""
    strips = app.screen._compositor.render_strips()
    lines = [strip.text for strip in strips]
    if widget is None:
        return "\n".join(lines)
    r = widget.region
    return "\n".join(line[r.x : r.right] for line in lines[r.y : r.bottom])


def subset(res: Misclassified, keep: list[int]) -> Misclassified:
    """The same evaluation with only the rows ``keep`` still wrong."""
    k = np.array(keep, np.int64)
    rows = (res.images[k], res.true[k], res.pred[k], res.probs[k], res.indices[k])
    return Misclassified(*rows, confusion=res.confusion, total=res.total)


def make_result(n: int = 12, seed: int = 0) -> Misclassified:
    """A synthetic misclassified set with distinct images and known labels and confidences."""
    rng = np.random.default_rng(seed)
    true = np.array([i % 3 for i in range(n)], np.int64)  # classes 0, 1, 2
    pred = (true + 1 + (np.arange(n) % 2)) % 10  # never equal to true
    conf = np.linspace(0.35, 0.95, n)[rng.permutation(n)].astype(np.float32)
    probs = np.repeat(((1 - conf) / 9)[:, None], 10, axis=1).astype(np.float32)
    probs[np.arange(n), pred] = conf
    images = np.zeros((n, 784), np.float32)
    for i in range(n):  # a bright bar in text row i + 1 (pixel rows 2i+2, 2i+3): each image differs
        images[i].reshape(28, 28)[2 * i + 2 : 2 * i + 4, 4:24] = 1.0
    y_all = np.concatenate([true, np.arange(100) % 10])
    p_all = np.concatenate([pred, np.arange(100) % 10])
    return Misclassified(
        images=images,
        true=true,
        pred=pred.astype(np.int64),
        probs=probs,
        indices=np.arange(n, dtype=np.int64) * 7,
        confusion=confusion_matrix(y_all, p_all),
        total=n + 100,
    )


# ---- digit rendering ----------------------------------------------------------------------


def test_render_halfblock_and_ascii_shapes() -> None:
    img = np.zeros(784, np.float32)
    img.reshape(28, 28)[10:14, 5:9] = 1.0
    half = render_halfblock(img)
    lines = half.plain.split("\n")
    assert len(lines) == 14 and all(line == "▀" * 28 for line in lines)
    covered = np.zeros(len(half.plain), int)
    for span in half.spans:
        covered[span.start : span.end] += 1
    assert all(covered[i] == 1 for i, ch in enumerate(half.plain) if ch != "\n")
    assert len(half.spans) < 14 * 28 / 2  # runs of equal cells share a span
    art = render_ascii(img).plain.split("\n")
    assert len(art) == 14 and all(len(line) == 28 for line in art)
    assert art[5][5:9] == ASCII_RAMP[-1] * 4 and art[0] == " " * 28
    assert render_ascii(np.full(784, np.nan)).plain.strip() == ""


# ---- misclassified panel ----------------------------------------------------------------


async def test_digits_empty_state_and_keys_do_nothing() -> None:
    panel = MisclassifiedPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.focus()
        await pilot.press("j", "t", "o", "a", "c")
        await pilot.pause()
        assert NO_EVALUATION in screen_text(pilot.app, panel)
        assert panel.browser.current is None and panel.browser.true_filter is None


async def test_digits_navigation_and_ascii_mode() -> None:
    panel = MisclassifiedPanel()
    res = make_result()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.show(res)
        panel.focus()
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert "1 / 12" in text and "▀" in text and "Misclassified" in text
        await pilot.press("a")
        text = screen_text(pilot.app, panel)
        assert "▀" not in text and ASCII_RAMP[-1] * 20 in text  # the bar drawn as '@'
        assert panel.ascii_mode
        await pilot.press("j", "j", "right")
        assert panel.browser.position == 3 and "4 / 12" in screen_text(pilot.app, panel)
        await pilot.press("k", "left")
        assert panel.browser.position == 1
        await pilot.press("end")
        assert panel.browser.position == 11
        await pilot.press("j")
        assert panel.browser.position == 11  # stays at the end
        await pilot.press("home", "k")
        assert panel.browser.position == 0
        cur = panel.browser.current
        assert cur is not None
        text = screen_text(pilot.app, panel)
        assert f"true {res.true[cur]}" in text and f"predicted {res.pred[cur]}" in text
        assert f"{res.probs[cur, res.pred[cur]]:.2f}" in text
        # The image on screen is this one: its bar sits in text row cur + 1 of the image.
        image_rows = [line for line in text.splitlines() if ASCII_RAMP[-1] * 20 in line]
        assert len(image_rows) == 1
        assert text.splitlines().index(image_rows[0]) == 1 + cur + 1  # border row, then the image


async def test_digits_filters_and_sort_orders() -> None:
    panel = MisclassifiedPanel()
    res = make_result()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.show(res)
        panel.focus()
        await pilot.press("t")
        assert panel.browser.true_filter == 0
        assert all(res.true[panel.browser.selection] == 0) and len(panel.browser.selection) == 4
        assert "true 0" in screen_text(pilot.app, panel) and "(of 12)" in screen_text(pilot.app, panel)
        await pilot.press("p")
        assert panel.browser.pred_filter == 0
        assert len(panel.browser.selection) == 0
        assert NO_MATCH in screen_text(pilot.app, panel)
        await pilot.press("p")  # pred 1: true 0 is predicted 1 for even positions
        assert panel.browser.pred_filter == 1 and len(panel.browser.selection) > 0
        assert all(res.pred[panel.browser.selection] == 1)
        for _ in range(9):  # 1 -> 2 ... -> 9 -> all
            await pilot.press("p")
        assert panel.browser.pred_filter is None
        for _ in range(10):
            await pilot.press("t")
        assert panel.browser.true_filter is None and len(panel.browser.selection) == 12
        conf = res.confidence
        await pilot.press("o")
        assert panel.browser.order == "confident"
        assert np.all(np.diff(conf[panel.browser.selection]) <= 0) and panel.browser.position == 0
        assert "most confident" in screen_text(pilot.app, panel)
        await pilot.press("o")
        assert panel.browser.order == "unsure" and np.all(np.diff(conf[panel.browser.selection]) >= 0)
        await pilot.press("o")
        assert panel.browser.order == "index" and list(panel.browser.selection) == list(range(12))


async def test_digits_keeps_the_image_when_new_results_arrive() -> None:
    panel = MisclassifiedPanel()
    res = make_result()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.show(res)
        panel.focus()
        await pilot.press("j", "j", "j", "j", "j")  # position 5, set row 35
        assert panel.browser.current_row == 35
        panel.show(subset(res, [0, 2, 5, 9]))  # the next evaluation gets fewer wrong; row 35 still wrong
        await pilot.pause()
        assert panel.browser.current_row == 35 and panel.browser.position == 2
        panel.show(subset(res, [0, 9]))  # row 35 now right: move on to the next wrong one
        assert panel.browser.current_row == 63
        panel.show(subset(res, []))
        await pilot.pause()
        assert panel.browser.current is None and NO_MATCH in screen_text(pilot.app, panel)


async def test_confusion_matrix_beside_when_wide_behind_when_narrow() -> None:
    panel = MisclassifiedPanel()
    res = make_result()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.show(res)
        panel.focus()
        await pilot.pause()
        assert panel.wide and panel.confusion_shown
        text = screen_text(pilot.app, panel)
        assert "t\\p" in text and "1 / 12" in text  # both at once
        # Row of true class 0: 10 right, 2 taken for a 1, 2 for a 2; 4/14 wrong.
        assert re.search(r" 0 +10 +2 +2 +(· +){7}28\.6%", text)
        await pilot.press("c")
        assert not panel.confusion_shown and "t\\p" not in screen_text(pilot.app, panel)
        await pilot.press("c")
        await pilot.resize_terminal(80, 30)
        await pilot.pause()
        assert not panel.wide and not panel.confusion_shown  # toggled twice: back to the default
        text = screen_text(pilot.app, panel)
        assert "t\\p" not in text and "1 / 12" in text
        await pilot.press("c")
        text = screen_text(pilot.app, panel)
        assert "t\\p" in text and "1 / 12" not in text  # the matrix instead of the digit
        await pilot.resize_terminal(40, 30)  # very narrow: one line of probabilities below the digit
        await pilot.pause()
        await pilot.press("c")
        text = screen_text(pilot.app, panel)
        assert panel.has_class("-stacked") and "1 / 12" in text
        cur = panel.browser.current
        assert cur is not None
        assert f"predicted {res.pred[cur]} {res.probs[cur, res.pred[cur]]:.2f}" in text


class ShortPanelApp(PanelApp):
    CSS = "MisclassifiedPanel { height: 16; width: 46; }"  # 14 x 42 inside: the digit and narrow bars


async def test_digits_in_a_small_fixed_box() -> None:
    panel = MisclassifiedPanel()
    async with ShortPanelApp(panel).run_test(size=(80, 24)) as pilot:
        panel.show(make_result())
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert panel.has_class("-short") and not panel.has_class("-stacked")
        assert "1/12 · true all · pred all · test order" in text.splitlines()[-1]  # status in the border
        assert "true 0 pred 1" in text and "1 ████▎ 0.84" in text  # a narrow bar column beside the digit


async def test_digits_with_a_real_evaluation(tiny_mnist: Any) -> None:
    model = MLP(784, 16, 10, "relu", np.random.default_rng(0))
    res = misclassified(model, tiny_mnist.test_x, tiny_mnist.test_y)
    panel = MisclassifiedPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.show(res)
        panel.focus()
        await pilot.press("a", "o", "end")
        text = screen_text(pilot.app, panel)
        assert f"{len(res)} / {len(res)}" in text and f"{len(res)}/{res.total} wrong" in text


def test_confusion_text_full_and_compact() -> None:
    cm = np.diag([980, 1135, 1000, 1010, 982, 892, 958, 1028, 974, 1009]).astype(np.int64)
    cm[2, 1] = 3  # a small error right before a four-digit diagonal count
    full = confusion_text(cm).plain.splitlines()
    assert len(full) == 12 and max(len(line) for line in full[:-1]) == confusion_width(cm) == 59
    assert full[3].split()[:4] == ["2", "·", "3", "1000"]  # the counts stay apart
    compact = confusion_text(cm, width=48).plain.splitlines()
    assert max(len(line) for line in compact) <= 48
    assert compact[3].split()[:4] == ["2", "·", "3", "■"] and "1000" not in compact[3]
    assert compact[3].endswith("0.3%") and "■ correct" in compact[-1]


def test_digit_bindings_avoid_app_keys() -> None:
    from tui.app import MnistApp
    from tui.screens.main import MainScreen

    bindings = [*MnistApp.BINDINGS, *MainScreen.BINDINGS]
    app_keys = {k for b in bindings for k in b.key.split(",")} | set("+-")
    assert set("nreslgqdhp1234") | {"space", "question_mark"} <= app_keys
    # p is the viewer's "predicted class" while it has focus and the drawing pad elsewhere (esc, then p);
    # o sorts there and opens the run list elsewhere; c shows the confusion matrix there and the challenge
    # list elsewhere; the chart cursor's keys act only while it is shown
    shadowed = {"p", "o", "c", "escape", "left", "right", "home", "end"}
    for b in MisclassifiedPanel.BINDINGS:
        keys = set(b.key.split(","))
        assert not keys & (app_keys - shadowed), b
        assert b.description
        assert b.show == (b.key == "escape" or (len(b.key) == 1 and b.key.isalpha() and b.key not in "jk"))


async def test_new_results_refresh_the_footer_keys_only_when_they_become_available() -> None:
    panel = MisclassifiedPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        calls: list[int] = []
        original = panel.refresh_bindings

        def counted() -> None:
            calls.append(1)
            original()

        panel.refresh_bindings = counted  # type: ignore[method-assign]
        assert panel.check_action("browse", ("step", 1)) is None
        panel.show(make_result())
        assert len(calls) == 1 and panel.check_action("browse", ("step", 1)) is True
        for seed in (1, 2, 3):  # later evaluations: the same keys apply, no footer relayout
            panel.show(make_result(seed=seed))
        panel.focus()
        await pilot.press("t", "j")
        assert len(calls) == 1


# ---- charts ---------------------------------------------------------------------------------


async def replot(pilot: Any, panel: ChartsPanel) -> None:
    """Draw now instead of waiting for the replot timer."""
    for chart in panel.charts.values():
        chart.replot()
    await pilot.pause()


async def test_charts_draw_losses_errors_and_markers() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert "no training steps yet" in text and "no evaluation yet" in text
        ex = np.arange(1, 2001) * 64
        panel.append_losses(ex.tolist(), (2.3 * np.exp(-ex / 40_000) + 0.05).tolist())
        for k in range(1, 6):
            panel.append_errors(k * 25_000, {"train": 0.1 / k, "valid": 0.12 / k})
        panel.add_marker(60_000, "lr 0.1→0.05")
        await replot(pilot, panel)
        text = screen_text(pilot.app, panel)
        assert "Loss" in text and "Error" in text
        assert "lr 0.1→0.05" in text and "100k" in text  # marker label and our own x ticks
        # Errors start at 25k, losses at 64: both charts still span the same x range.
        ticks = [
            next(line for line in screen_text(pilot.app, chart).splitlines() if "100k" in line)
            for chart in (panel.loss_chart, panel.error_chart)
        ]
        assert ticks[0].split() == ticks[1].split()
        assert "smoothed" in str(panel.loss_chart.border_subtitle)
        assert "valid 2.4%" in str(panel.error_chart.border_subtitle)  # 0.12 / 5 as a percentage
        panel.mark_diverged(120_000)
        await replot(pilot, panel)
        assert "diverged" in screen_text(pilot.app, panel)
        assert all(len(c.markers) == 2 for c in panel.charts.values())
        panel.clear()
        assert all(c.border_subtitle == "" for c in panel.charts.values())  # no stale legend
        await replot(pilot, panel)
        assert "no training steps yet" in screen_text(pilot.app, panel)


async def test_charts_survive_non_finite_values_and_resizes() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.append_losses([64, 128, 192, 256, 320], [2.0, float("nan"), float("inf"), 0.0, -1.0])
        panel.append_errors(320, {"train": float("nan"), "valid": float("inf")})
        await replot(pilot, panel)
        assert "no evaluation yet" in screen_text(pilot.app, panel)  # nothing finite to draw
        panel.append_losses([384, 448], [1.5, 1.2])
        panel.append_errors(448, {"train": 0.5, "valid": 0.6})
        await replot(pilot, panel)
        assert "●" in screen_text(pilot.app, panel.error_chart)  # a lone evaluation is still visible
        before = screen_text(pilot.app, panel.loss_chart)
        builds: list[int] = []
        rebuild = panel.loss_chart.rebuild

        def counted() -> Any:
            builds.append(1)
            return rebuild()

        panel.loss_chart.rebuild = counted  # type: ignore[method-assign]
        for size in ((80, 24), (60, 20), (120, 40)):  # each resize re-renders the log-scale plot
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert screen_text(pilot.app, panel.loss_chart) == before  # no double log on re-render
        assert len(builds) >= 3


async def test_charts_many_points_are_downsampled_and_replotted_by_the_timer() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        rng = np.random.default_rng(0)
        for i in range(200):  # 100k steps in chunks, as the worker would post them
            ex = np.arange(i * 500, (i + 1) * 500) * 64 + 64
            panel.append_losses(ex, 2.0 * np.exp(-ex / 2e6) + 0.1 * rng.random(500))
        assert len(panel.loss_chart.series["raw"].x) == 100_000
        raw = panel.loss_chart.series["raw"]
        x, _ = raw.visible(110, log_y=True)
        assert len(x) <= 2 * 110 and x[-1] == 100_000 * 64
        assert "no training steps yet" in screen_text(pilot.app, panel.loss_chart)  # not drawn yet
        loss = panel.loss_chart  # the timer notices the new data (no replot() here)
        await wait_for(pilot, lambda: "no training steps yet" not in screen_text(pilot.app, loss), what="drawn")
        text = screen_text(pilot.app, loss)
        assert "6.4M" in text or "6M" in text


async def test_an_unchanged_chart_is_reused_and_new_data_is_drawn_off_the_event_loop() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.append_losses([64, 128, 192], [2.0, 1.5, 1.2])
        await replot(pilot, panel)
        loss = panel.loss_chart
        first = loss.render()
        assert loss.render() is first  # e.g. help closed: reused
        main = threading.get_ident()
        built_on: list[int] = []
        release = threading.Event()  # holds the build until the test has looked at the legend
        plot_onto = loss._plot_onto

        def held_plot_onto(plt: Any, snap: Any) -> Any:
            built_on.append(threading.get_ident())
            release.wait(5.0)
            return plot_onto(plt, snap)

        loss._plot_onto = held_plot_onto  # type: ignore[method-assign]
        panel.append_losses([256], [1.0])
        panel.append_errors(4096, {"train": 0.2, "valid": 0.25})  # widens the loss chart's x range too
        shown = screen_text(pilot.app, loss)
        assert loss.dirty and loss.render() is first  # new data waits for the timer ...
        await wait_for(pilot, lambda: bool(built_on), what="the figure built")  # ... which builds it on a thread
        assert main not in built_on
        assert "minibatch 1.2 " in str(loss.border_subtitle)  # the legend waits for the figure
        assert screen_text(pilot.app, loss) == shown  # and the old figure stays meanwhile
        release.set()
        await wait_for(pilot, lambda: screen_text(pilot.app, loss) != shown, what="the new figure shown")
        assert "minibatch 1 " in str(loss.border_subtitle)  # both changed in the same refresh
        assert loss.render() is not first
        assert "minibatch 1 " in str(loss.border_subtitle)  # figure and legend changed together
        built = len(built_on)
        loss.replot()  # an explicit redraw builds at once, on the event loop
        await pilot.pause()
        assert len(built_on) == built + 1 and built_on[-1] == main


async def test_charts_accept_another_chart_later() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.add_marker(1000, "batch 64→128")
        align = SeriesChart("Alignment", unit="°", id="align-chart")
        align.add_series("angle", "angle", (120, 220, 120), density=1.0)
        panel.add_chart("align", align)
        await pilot.pause()
        align.append("angle", [500, 1500, 2500], [80.0, 45.0, 30.0])
        panel.mark_diverged(3000)
        await replot(pilot, panel)
        assert [m.label for m in align.markers] == ["1 batch 64→128", "diverged"]
        assert panel.changes.entries == ["1 batch 64→128"]
        assert "Alignment" in screen_text(pilot.app) and "angle 30°" in str(align.border_subtitle)


async def test_angle_chart_spans_0_to_90_degrees_and_sits_beside_the_error_chart() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not panel.angle_chart.display and panel.error_chart.region.width > 100  # hidden at first
        ex = list(range(640, 64_001, 640))
        panel.append_angles([(e, {"W1": 0.0, "W2": 0.0}) for e in ex])  # exact backprop: 0 degrees
        panel.append_losses(ex, [1.0] * len(ex))
        panel.show_angles()
        await replot(pilot, panel)
        chart = panel.angle_chart
        assert chart.region.width > 40 and chart.region.y == panel.error_chart.region.y
        text = screen_text(pilot.app, chart)
        ticks = [line.split("┤")[0].strip("│ ") for line in text.splitlines() if "┤" in line]
        assert ticks[0] == "90" and ticks[-1] == "0"  # the full 0-90 range, not a band around 0
        assert "∠W1 0°" in str(chart.border_subtitle) and "∠W2 0°" in str(chart.border_subtitle)
        panel.append_angles([(64_640, {"W1": 61.5, "W2": 0.0}), (65_280, {"W1": 120.0, "W2": float("nan")})])
        panel.add_marker(64_000, "variant feedback-fixed")
        await replot(pilot, panel)
        assert list(chart.series["W1"].y.values[-2:]) == [61.5, 120.0]
        assert "∠W1 120°" in str(chart.border_subtitle) and "∠W2 0°" in str(chart.border_subtitle)  # NaN skipped
        ticks = [line.split("┤")[0].strip("│ ") for line in screen_text(pilot.app, chart).splitlines() if "┤" in line]
        assert float(ticks[0]) >= 90 and ticks[-1] == "0" and [m.label for m in chart.markers]
        panel.clear()
        assert len(chart.series["W1"].x) == 0 and panel.angles_shown  # a new run keeps its place


@pytest.mark.parametrize(("width", "dashes"), [(80, True), (34, False)])
async def test_legend_drops_the_dashes_when_the_border_is_short(width: int, dashes: bool) -> None:
    chart = SeriesChart("Error %", unit="%")
    async with PanelApp(chart).run_test(size=(width, 12)) as pilot:
        for name, value in (("train", 0.798), ("valid", 2.37)):
            chart.append(name, [1, 2], [5.0, value])
        chart.replot()
        await pilot.pause()
        subtitle = screen_text(pilot.app).splitlines()[-1]
        assert "0.798%" in subtitle and "2.37%" in subtitle and "…" not in subtitle
        assert ("━ train" in subtitle) == dashes


# ---- gradient check panel ------------------------------------------------------------------


def failing_report() -> CheckReport:
    params = tuple(
        ParamCheck(n, (2, 2), 4, e, e) for n, e in zip(("W1", "b1", "W2", "b2"), (1e-9, 0.3, 1e-9, 1e-9), strict=True)
    )
    return CheckReport("live weights (300 sampled)", params, 1e-4, 2.5)


async def test_gradcheck_states() -> None:
    panel = GradCheckPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert HINT in screen_text(pilot.app, panel)
        panel.show_running()
        await pilot.pause()
        assert "checking backprop" in screen_text(pilot.app, panel)
        toy = toy_suite(("relu", "tanh"), batch=4)
        panel.show_reports(toy, None)
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert "PASS 4/4 checks" in text and "relu minibatch of 4" in text
        assert "limit" in text and "1e-6" in text and " ms" in text  # wide: limit and time columns
        panel.show_running()
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert "checking backprop" in text and "relu minibatch of 4" in text  # old results stay
        panel.show_reports(toy, failing_report())
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert "FAIL 1/5 checks over their limit: live weights" in text
        assert "0.3" in text and "1e-4" in text and "2.5 s" in text
        await pilot.resize_terminal(60, 30)
        await pilot.pause()
        text = screen_text(pilot.app, panel)
        assert "FAIL" in text and "1e-6 toy nets" in text and "limit" not in text.splitlines()[2]  # folded


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_all_panels_together(size: tuple[int, int]) -> None:
    charts, digits, check = ChartsPanel(), MisclassifiedPanel(), GradCheckPanel()
    async with PanelApp(charts, digits, check).run_test(size=size) as pilot:
        charts.append_losses([64, 128, 192], [2.3, 2.0, 1.8])
        charts.append_errors(192, {"train": 0.5, "valid": 0.55})
        digits.show(make_result())
        check.show_reports(toy_suite(("relu",), batch=2), None)
        digits.focus()
        await pilot.press("a")
        await replot(pilot, charts)
        text = screen_text(pilot.app)
        titles = ("Loss", "Error", "Misclassified") + (("Gradient check",) if size[1] >= 40 else ())
        for title in titles:
            assert title in text
        assert "1 / 12" in text and "@@@@" in text
        assert charts.loss_chart.size.height >= 6 and charts.error_chart.size.height >= 6


def test_chart_storage_stays_bounded() -> None:
    chart = SeriesChart("Loss", log_y=True)
    chart.MAX_STORED = 1_000
    chart.add_series("raw", "raw", (1, 2, 3))
    y = np.ones(5_000)
    y[1234] = 50.0
    for i in range(0, 5_000, 100):
        chart.append("raw", np.arange(i, i + 100), y[i : i + 100])
    series = chart.series["raw"]
    assert len(series.x) <= 1_000
    assert series.x.values[-1] == 4_999 and series.y.values.max() == 50.0  # latest point and spike kept


async def test_every_change_is_numbered_on_its_marker_and_listed_under_the_charts() -> None:
    panel = ChartsPanel()
    async with PanelApp(panel).run_test(size=SIZE) as pilot:
        panel.append_losses([64 * i for i in range(1, 400)], [1.0 / i for i in range(1, 400)])
        for i, label in enumerate(["lr 0.1", "variant stale", "variant feedback-fixed", "momentum 0.5"]):
            panel.add_marker(20_000 + 400 * i, label)  # crowded: most labels cannot fit whole
        await replot(pilot, panel)
        assert panel.changes.entries[-1] == "4 momentum 0.5"
        listed = screen_text(pilot.app, panel.changes)
        assert "changes:" in listed and "4 momentum 0.5" in listed
        chart = screen_text(pilot.app, panel.loss_chart)
        assert "4 momentum 0.5" in chart or " 4" in chart
        assert "variant stale" not in chart.replace("2 variant stale", "")  # never a label without its number
        panel.clear()
        await pilot.pause()
        assert panel.changes.entries == [] and not panel.changes.display


# ---- updates that arrive while a panel is being mounted ------------------------------------
# Textual sets is_mounted only after the Mount handlers have run, so an update that comes
# between compose and the end of mounting meets a panel that is not "mounted" yet. Each test
# delivers its update from a subclass's Mount handler (which runs before the panel's own, if any).


async def test_a_chart_added_before_or_while_the_panel_mounts_is_shown() -> None:
    early = SeriesChart("Early", id="early-chart")
    during = SeriesChart("During", id="during-chart")

    class AddsWhileMounting(ChartsPanel):
        def on_mount(self) -> None:
            self.add_chart("during", during)

    panel = AddsWhileMounting()
    panel.add_chart("early", early)
    async with PanelApp(panel).run_test(size=(120, 50)) as pilot:
        await wait_for(pilot, lambda: early.is_mounted and during.is_mounted, what="both charts mounted")
        assert list(panel.children)[-2:] == [early, during]  # below the others, in order
        await wait_for(pilot, lambda: during.region.height > 0, what="laid out")
        text = screen_text(pilot.app)
        assert "Early" in text and "During" in text


def snapshot(hidden: int = 16) -> SimpleNamespace:
    """What the weights and why views read from a worker's ``WeightsSnapshot``."""
    model = MLP(784, hidden, 10, "relu", np.random.default_rng(0))
    return SimpleNamespace(params=model.params, hp=HyperParams(hidden=hidden), examples_seen=0, feedback=None)


async def test_panels_draw_what_arrived_while_they_were_mounting() -> None:
    """The digit, weights and why panels skip drawing until mounted and draw again on their first
    Resize (which comes after mounting): what arrived during mounting is drawn then, not lost."""
    result, image = make_result(), np.linspace(0, 1, 784, dtype=np.float32)

    class Digits(MisclassifiedPanel):
        def on_mount(self) -> None:
            self.show(result)

    class Weights(WeightsView):
        def on_mount(self) -> None:
            self.show(build_weights_data(snapshot(), image[None, :]))

    class Why(WhyView):
        def on_mount(self) -> None:
            self.show(build_why_data(snapshot(), image, 3))

    digits, weights, why = Digits(), Weights(), Why(image)
    async with PanelApp(digits, weights, why).run_test(size=(200, 60)) as pilot:
        await wait_for(pilot, lambda: digits.browser.shown() is not None, what="a digit in the viewer")
        await wait_for(pilot, lambda: "wrong" in str(digits.border_subtitle), what="the digits drawn")
        await wait_for(pilot, lambda: NO_EVALUATION not in screen_text(pilot.app, digits), what="no empty state")
        tiles = weights.query_one("#w-tiles", CellLines)
        await wait_for(pilot, lambda: "▀" in tiles.plain, what="the weights drawn")
        pred = why.query_one("#why-pred", CellLines)
        await wait_for(pilot, lambda: "▀" in pred.plain, what="the why units drawn")
