"""The training-curves panel: loss above error, and the angle chart beside the error chart.

``ChartsPanel`` shows the loss chart (raw and smoothed, log scale) above the error chart
and, once a backward-pass variant other than exact backprop has run, the angle between
the update and the true gradient beside the error chart; it fans markers out to every
chart, links their x ranges, and ``add_chart`` mounts a further chart later. Each chart
is a ``SeriesChart``; smoothing comes from ``tui.view.series``.

``set_overlay`` draws recorded runs (``tui.view.runs``) under the live curves, dimmer, with
their hyperparameter changes; a reset keeps them. The cursor (``show_cursor``, ``move_cursor``)
is a vertical line at one x on every chart, and ``CursorLine`` under the charts reads the
step and every curve's value there (``tui.view.cursor``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget

from tui.view.chart import Marker, hex_color
from tui.view.cursor import CanvasAxes, readout
from tui.view.runs import RunCurves
from tui.view.series import RGB, GrowingArray, RunningEMA, Series, Values
from tui.widgets.series_chart import EXTRA_COLORS, SeriesChart

LOSS_RAW: RGB = (88, 110, 150)
LOSS_SMOOTH: RGB = (255, 190, 60)
ERROR_COLORS: dict[str, RGB] = {"train": (90, 170, 255), "valid": (255, 140, 60), "test": (170, 120, 255)}
DIVERGED_COLOR: RGB = (240, 70, 70)
ANGLE_COLORS: dict[str, RGB] = {"W1": (120, 220, 120), "W2": (230, 100, 200)}
#: Smoothing factor of the loss EMA (about a 50-step window).
LOSS_EMA_ALPHA = 0.02
#: The angle chart always spans 0-90 degrees (wider if an angle goes past 90).
ANGLE_SPAN = (0.0, 90.0)
#: Tick spacings for degrees, finest first.
DEGREE_STEPS = (15.0, 30.0, 45.0, 90.0)
#: Colours of overlaid runs, one per run in both charts: other hues than the live curves', dimmer.
OVERLAY_COLORS: tuple[RGB, ...] = ((70, 150, 165), (170, 90, 155), (110, 155, 80), (150, 130, 90), (105, 115, 185))
#: Columns the cursor jumps with shift+arrows (or page up/down).
CURSOR_PAGE = 10


def dim(color: RGB, factor: float = 0.7) -> RGB:
    """``color`` darker by ``factor`` (markers of overlaid runs)."""
    r, g, b = (round(c * factor) for c in color)
    return (r, g, b)


@dataclass(frozen=True)
class OverlayRun:
    """A recorded run shown on the charts: its id, its legend label ("3fa2 lr 0.1") and curves."""

    run_id: str
    label: str
    curves: RunCurves


class CursorLine(Widget):
    """Under the charts while the cursor is shown: the step and every curve's value at the cursor."""

    DEFAULT_CSS = """
    CursorLine {
        height: auto;
        max-height: 3;
        display: none;
    }
    CursorLine.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[tuple[RGB | None, str]] = []

    def show(self, items: Sequence[tuple[RGB | None, str]]) -> None:
        """(colour or None, text) items, shown joined by " · "; an empty list hides the line."""
        self.items = list(items)
        self.set_class(bool(self.items), "-shown")
        self.refresh(layout=True)

    @property
    def text(self) -> str:
        return " · ".join(text for _, text in self.items)

    def render(self) -> Text:
        out = Text()
        for i, (color, text) in enumerate(self.items):
            if i:
                out.append(" · ", style="dim")
            if color is not None:
                out.append("━ ", style=hex_color(color))
            out.append(text)
        return out


class ChangesLine(Widget):
    """One line under the charts: the numbered hyperparameter changes, newest last ("1 lr 0.1 ·
    2 variant stale"), the oldest dropped first when they do not fit. Each chart marker carries
    its number, so a marker too crowded for its full label is still identified here."""

    DEFAULT_CSS = """
    ChangesLine {
        height: 1;
        color: $text-muted;
        display: none;
    }
    ChangesLine.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[str] = []

    def add(self, entry: str) -> None:
        self.entries.append(entry)
        self.add_class("-shown")
        self.refresh()

    def clear(self) -> None:
        self.entries.clear()
        self.remove_class("-shown")

    def render(self) -> Text:
        shown, width = list(self.entries), self.size.width - len("changes: ")
        while len(shown) > 1 and len(" · ".join(["…", *shown])) > width:
            shown.pop(0)
        head = ["…"] if len(shown) < len(self.entries) else []
        return Text("changes: " + " · ".join([*head, *shown]), no_wrap=True, overflow="ellipsis")


class ChartsPanel(Widget):
    """The training curves: loss (raw and smoothed, log scale) above train/valid error in %.

    The angle chart (degrees between each weight update and the true gradient) sits beside
    the error chart once ``show_angles`` is called (the app does when a backward-pass
    variant other than exact backprop runs); until then the error chart has the full width.
    """

    DEFAULT_CSS = """
    ChartsPanel {
        layout: vertical;
        height: 1fr;
        min-height: 12;
        min-width: 30;
    }
    ChartsPanel > SeriesChart, ChartsPanel > #charts-lower {
        height: 1fr;
    }
    ChartsPanel #charts-lower > SeriesChart {
        width: 1fr;
        height: 1fr;
    }
    ChartsPanel #angle-chart {
        display: none;
    }
    ChartsPanel.-with-angles #angle-chart {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.loss_chart = SeriesChart("Loss", log_y=True, empty_text="no training steps yet", id="loss-chart")
        self.loss_chart.add_series("raw", "minibatch", LOSS_RAW, density=2.0)
        self.loss_chart.add_series("smooth", "smoothed", LOSS_SMOOTH, density=1.0)
        self.error_chart = SeriesChart("Error %", unit="%", empty_text="no evaluation yet", id="error-chart")
        for name, color in ERROR_COLORS.items():
            if name != "test":
                self.error_chart.add_series(name, name, color, density=1.0, mark_last=True)
        self.angle_chart = SeriesChart(
            "Angle to true gradient",
            unit="°",
            empty_text="no angles yet",
            y_span=ANGLE_SPAN,
            y_steps=DEGREE_STEPS,
            id="angle-chart",
        )
        for name, color in ANGLE_COLORS.items():
            self.angle_chart.add_series(name, f"∠{name}", color, density=1.0)
        self.changes = ChangesLine(id="chart-changes")
        self.cursor_line = CursorLine(id="chart-cursor")
        self.charts: dict[str, SeriesChart] = {}
        self._ema = RunningEMA(LOSS_EMA_ALPHA)
        self.overlay: list[OverlayRun] = []
        self._overlay_series: list[tuple[OverlayRun, Series, Series]] = []  # (run, loss, valid)
        self.cursor_x: float | None = None  # the cursor's x (examples seen) while shown
        self.cursor_follows = False  # at the right end: it moves on with the live run's newest point
        self._step_x, self._step = GrowingArray(), GrowingArray()  # the live run's step at each loss point
        self._added: list[SeriesChart] = []  # charts given to add_chart, below the others
        self._register("loss", self.loss_chart)
        self._register("error", self.error_chart)
        self._register("angles", self.angle_chart)

    def _register(self, key: str, chart: SeriesChart) -> None:
        """Track ``chart`` and link x ranges, so all charts show the same span of training."""
        self.charts[key] = chart
        for c in self.charts.values():
            c.linked = [o for o in self.charts.values() if o is not c]

    def compose(self) -> ComposeResult:
        yield self.loss_chart
        with Horizontal(id="charts-lower"):
            yield self.error_chart
            yield self.angle_chart
        yield self.changes
        yield self.cursor_line
        yield from self._added  # given before the panel was composed

    def on_mount(self) -> None:
        # A chart given after compose but before the end of mounting could not be mounted then
        # (is_mounted turns true only after the Mount handlers): mount it once the panel is.
        self.call_later(self._mount_added)

    def _mount_added(self) -> None:
        waiting = [chart for chart in self._added if chart.parent is None]
        if waiting:
            self.mount_all(waiting)

    def add_chart(self, key: str, chart: SeriesChart) -> SeriesChart:
        """Mount another chart below the others; markers reach it too. Returns ``chart``."""
        for m in self.loss_chart.markers:
            chart.add_marker(m.x, m.label, m.color, m.short)
        self._register(key, chart)
        self._added.append(chart)
        if self.is_mounted:
            self.mount(chart)
        return chart

    @property
    def angles_shown(self) -> bool:
        """True when the angle chart has its place beside the error chart."""
        return self.has_class("-with-angles")

    def show_angles(self, show: bool = True) -> None:
        """Give the angle chart its place beside the error chart (or take it away)."""
        if show != self.angles_shown:
            self.set_class(show, "-with-angles")
            if show:
                self.angle_chart.replot()

    def append_losses(self, examples: Values, losses: Values, last_step: int | None = None) -> None:
        """Per-step minibatch losses at the given examples-seen counts (equal lengths); ``last_step``:
        the step count after the last of them (one step each), which the cursor reads."""
        self.loss_chart.append("raw", examples, losses)
        self.loss_chart.append("smooth", examples, self._ema.update(losses))
        if last_step is not None:
            before = len(self._step_x)
            self._step_x.extend(examples)
            n = len(self._step_x) - before
            self._step.extend(range(last_step - n + 1, last_step + 1))
        raw = self.loss_chart.series["raw"].x.values
        if self.cursor_follows and self.cursor_x is not None and len(raw):
            newest = float(raw[-1])
            if newest > self.cursor_x:  # an overlaid run may reach further: then the cursor stays there
                self.set_cursor(newest, follow=True)

    def append_errors(self, examples: int, errors: dict[str, float]) -> None:
        """Error fractions per set (keys "train", "valid", ...) after an evaluation."""
        for name, frac in errors.items():
            if name not in self.error_chart.series:
                color = ERROR_COLORS.get(name, EXTRA_COLORS[0])
                self.error_chart.add_series(name, name, color, density=1.0, mark_last=True)
            self.error_chart.append(name, [examples], [100.0 * frac])

    def append_angles(self, points: Sequence[tuple[int, Mapping[str, float]]]) -> None:
        """Angles in degrees per weight matrix, e.g. [(6400, {"W1": 58.2, "W2": 0.0}), ...]."""
        layers: dict[str, tuple[list[int], list[float]]] = {}
        for examples, angles in points:
            for name, degrees in angles.items():
                xs, ys = layers.setdefault(name, ([], []))
                xs.append(examples)
                ys.append(degrees)
        for name, (xs, ys) in layers.items():
            if name not in self.angle_chart.series:
                color = EXTRA_COLORS[len(self.angle_chart.series) % len(EXTRA_COLORS)]
                self.angle_chart.add_series(name, f"∠{name}", color, density=1.0)
            self.angle_chart.append(name, xs, ys)

    def add_marker(self, examples: int, label: str) -> None:
        """A hyperparameter changed at ``examples``: a vertical line on every chart, labelled with
        the change's number and text (its number alone where crowded), listed under the charts."""
        number = str(len(self.changes.entries) + 1)
        entry = f"{number} {label}"
        for chart in self.charts.values():
            chart.add_marker(examples, entry, short=number)
        self.changes.add(entry)

    def mark_diverged(self, examples: int) -> None:
        """Training diverged at ``examples``: a red line on every chart."""
        for chart in self.charts.values():
            chart.add_marker(examples, "diverged", DIVERGED_COLOR)

    def clear(self) -> None:
        """Forget the live run's curves and markers (a new run); the angle chart keeps its place,
        overlaid runs and the cursor stay."""
        self._ema.reset()
        self.changes.clear()
        self._step_x.clear()
        self._step.clear()
        for chart in self.charts.values():
            chart.clear()
        self._show_readout()

    # ---- overlaid runs --------------------------------------------------------------------------
    def set_overlay(self, runs: Sequence[OverlayRun]) -> None:
        """Draw ``runs`` (recorded) under the live curves: smoothed loss, validation error and their
        hyperparameter changes, one dimmer colour per run; an empty list removes them."""
        self.overlay = list(runs)
        self._overlay_series = []
        markers: list[Marker] = []
        for i, run in enumerate(self.overlay):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            loss = Series(f"run:{run.run_id}:loss", run.label, color, density=1.0)
            loss.extend(run.curves.loss_x, run.curves.loss_y, SeriesChart.MAX_STORED)
            valid = Series(f"run:{run.run_id}:valid", run.label, color, density=1.0, mark_last=True)
            valid.extend(run.curves.valid_x, run.curves.valid_y, SeriesChart.MAX_STORED)
            self._overlay_series.append((run, loss, valid))
            short = run.label.split(" ", 1)[0]
            markers += [Marker(x, f"{short} {text}", dim(color), short) for x, text in run.curves.changes]
        self.loss_chart.set_overlay([loss for _, loss, _ in self._overlay_series], markers)
        self.error_chart.set_overlay([valid for _, _, valid in self._overlay_series], markers)
        for key, chart in self.charts.items():  # the other charts: the runs' changes only
            if key not in ("loss", "error"):
                chart.set_overlay([], markers)
        self._show_readout()

    # ---- the cursor -------------------------------------------------------------------------------
    @property
    def cursor_axes(self) -> CanvasAxes | None:
        """The x geometry the cursor moves in: the loss chart's last figure (else the error chart's)."""
        return self.loss_chart.axes or self.error_chart.axes

    def show_cursor(self) -> bool:
        """Show the cursor at the right end of the charts; False when nothing is drawn yet."""
        axes = self.cursor_axes
        if axes is None:
            return False
        self.set_cursor(axes.x_at(axes.cols - 1), follow=True)
        return True

    def move_cursor(self, columns: int) -> None:
        """Move the cursor by ``columns`` canvas columns of the loss chart (kept on the canvas)."""
        axes = self.cursor_axes
        if self.cursor_x is not None and axes is not None:
            x = axes.moved(self.cursor_x, columns)
            self.set_cursor(x, follow=axes.column(x) == axes.cols - 1)

    def cursor_to_end(self, end: int) -> None:
        """The cursor to the first (``end`` < 0) or last column."""
        axes = self.cursor_axes
        if self.cursor_x is not None and axes is not None:
            self.set_cursor(axes.x_at(0 if end < 0 else axes.cols - 1), follow=end > 0)

    def set_cursor(self, x: float | None, follow: bool = False) -> None:
        """The cursor line at ``x`` (examples seen) on every chart, read out under them; None hides it.
        ``follow``: the cursor stands at the right end and moves on as the live run trains."""
        self.cursor_x, self.cursor_follows = x, follow and x is not None
        with self.app.batch_update():
            for chart in self.charts.values():
                chart.set_cursor(x)
            self._show_readout()

    def _show_readout(self) -> None:
        """The cursor line's text: the step and every curve's value at the cursor (nothing while hidden)."""
        if self.cursor_x is None:
            self.cursor_line.show([])
            return
        live = [
            (s, unit) for chart, unit in ((self.loss_chart, ""), (self.error_chart, "%")) for s in chart.series.values()
        ]
        overlay = [(run.label, loss, valid) for run, loss, valid in self._overlay_series]
        self.cursor_line.show(readout(self.cursor_x, (self._step_x.values, self._step.values), live, overlay))

    def on_series_chart_clicked(self, message: SeriesChart.Clicked) -> None:
        """A click on a chart puts the cursor at that column (and shows it)."""
        message.stop()
        self.set_cursor(message.x)
        self.screen.refresh_bindings()
