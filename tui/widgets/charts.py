"""The training-curves panel: loss above error, and the angle chart beside the error chart.

``ChartsPanel`` shows the loss chart (raw and smoothed, log scale) above the error chart
and, once a backward-pass variant other than exact backprop has run, the angle between
the update and the true gradient beside the error chart; it fans markers out to every
chart, links their x ranges, and ``add_chart`` mounts a further chart later. Each chart
is a ``SeriesChart``; smoothing comes from ``tui.view.series``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget

from tui.view.series import RGB, RunningEMA, Values
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
        self.charts: dict[str, SeriesChart] = {}
        self._ema = RunningEMA(LOSS_EMA_ALPHA)
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

    def add_chart(self, key: str, chart: SeriesChart) -> SeriesChart:
        """Mount another chart below the others; markers reach it too. Returns ``chart``."""
        for m in self.loss_chart.markers:
            chart.add_marker(m.x, m.label, m.color, m.short)
        self._register(key, chart)
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

    def append_losses(self, examples: Values, losses: Values) -> None:
        """Per-step minibatch losses at the given examples-seen counts (equal lengths)."""
        self.loss_chart.append("raw", examples, losses)
        self.loss_chart.append("smooth", examples, self._ema.update(losses))

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
        """Forget all curves and markers (a new run); the angle chart keeps its place."""
        self._ema.reset()
        self.changes.clear()
        for chart in self.charts.values():
            chart.clear()
