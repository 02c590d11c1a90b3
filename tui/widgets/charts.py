"""Training curves: loss and error against examples seen, drawn with plotext.

``SeriesChart`` is a generic line chart: named series kept as raw growing arrays,
vertical markers, optional log-y, its own x ticks ("10k", "1.2M"). It redraws at
most every ``REPLOT_SECONDS`` (only when new data arrived), downsamples each series
to a couple of points per terminal column, and draws every figure afresh from the raw
arrays (plotext 5.3.2 breaks when a figure with legends or log scale is rendered
twice). New data is drawn on a short-lived thread, so plotext's slow build never holds
back a key; Textual's repeated renders (help closed, focus moved) reuse the last figure.
``ChartsPanel`` shows the loss chart above the error chart
and, once a backward-pass variant other than exact backprop has run, the angle
between the update and the true gradient beside the error chart; it fans markers
out to every chart, and ``add_chart`` mounts a further chart later.
Statistics (smoothing, downsampling, 1-2-5 ticks) come from ``model.analysis``.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from model.analysis import GrowingArray, RunningEMA, downsample, log_ticks, nice_ticks
from tui.errorlog import log_error

RGB = tuple[int, int, int]

LOSS_RAW: RGB = (88, 110, 150)
LOSS_SMOOTH: RGB = (255, 190, 60)
ERROR_COLORS: dict[str, RGB] = {"train": (90, 170, 255), "valid": (255, 140, 60), "test": (170, 120, 255)}
EXTRA_COLORS: tuple[RGB, ...] = ((120, 220, 120), (230, 100, 200), (200, 200, 90))
MARKER_COLOR: RGB = (150, 150, 150)
DIVERGED_COLOR: RGB = (240, 70, 70)
ANGLE_COLORS: dict[str, RGB] = {"W1": (120, 220, 120), "W2": (230, 100, 200)}
#: Smoothing factor of the loss EMA (about a 50-step window).
LOSS_EMA_ALPHA = 0.02
#: The angle chart always spans 0-90 degrees (wider if an angle goes past 90).
ANGLE_SPAN = (0.0, 90.0)
#: Tick spacings for degrees, finest first.
DEGREE_STEPS = (15.0, 30.0, 45.0, 90.0)


def format_count(value: float) -> str:
    """Compact count for axis ticks: 0, 950, 10k, 12.5k, 1.2M."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{sign}{v / scale:.3g}{suffix}"
    return f"{sign}{v:.0f}"


def format_value(value: float) -> str:
    """Compact axis/legend number: 2.3, 0.05, 0.001, 1e-4."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 0.001:
        return f"{value:.3g}"
    mant, exp = f"{value:.0e}".split("e")
    return f"{mant}e{int(exp)}"


def stepped_ticks(lo: float, hi: float, target: int, steps: Sequence[float]) -> np.ndarray:
    """Multiples of the finest of ``steps`` that gives at most 1.5x ``target`` ticks inside [lo, hi]."""
    ticks = np.zeros(0)
    for step in sorted(steps):
        ticks = np.arange(math.ceil(lo / step - 1e-9) * step, hi + step * 1e-9, step)
        if len(ticks) <= 1.5 * target:
            break
    return ticks


def _hex(color: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


@dataclass
class Series:
    """One named line: raw points, colour, and how densely to draw it."""

    name: str
    label: str
    color: RGB
    density: float = 2.0  # points kept per terminal column when downsampling
    mark_last: bool = False  # a dot on the newest point (sparse series such as evaluations)
    x: GrowingArray = field(default_factory=GrowingArray)
    y: GrowingArray = field(default_factory=GrowingArray)

    def last_finite(self) -> float | None:
        y = self.y.values
        finite = np.flatnonzero(np.isfinite(y))
        return float(y[finite[-1]]) if len(finite) else None


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a short label."""

    x: float
    label: str
    color: RGB = MARKER_COLOR


class SeriesChart(PlotextPlot):
    """A line chart of named series against examples seen.

    ``append`` stores points and marks the chart dirty; a timer replots at most
    every ``REPLOT_SECONDS``. Non-finite points (and, with ``log_y``, points <= 0)
    are skipped when drawing. ``y_span`` (linear charts): a y range always shown, widened
    by data outside it; ``y_steps``: tick spacings to pick from instead of 1-2-5 steps.
    """

    DEFAULT_CSS = """
    SeriesChart {
        min-height: 6;
        min-width: 24;
    }
    """
    REPLOT_SECONDS = 0.5
    #: Points kept per series; past it the series is thinned to half by min/max buckets,
    #: so memory and redraw time stay bounded over hours (the screen shows far fewer).
    MAX_STORED = 200_000

    def __init__(
        self,
        title: str,
        *,
        log_y: bool = False,
        unit: str = "",
        empty_text: str = "no data yet",
        y_span: tuple[float, float] | None = None,
        y_steps: Sequence[float] = (),
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self.log_y = log_y
        self.y_span = y_span
        self.y_steps = tuple(y_steps)
        self.unit = unit
        self.empty_text = empty_text
        self.series: dict[str, Series] = {}
        self.markers: list[Marker] = []
        self.dirty = False
        self.generation = 0  # bumped when a redraw is asked for now (replot, clear)
        self._drawn: tuple[object, RenderResult] | None = None  # (inputs, figure) of the last build
        self._building = False  # a background build is running
        self._background_plot = Plot()  # the background builds' own figure
        self.renders = 0  # count of full rebuilds (tests, benchmarks)
        self.linked: list[SeriesChart] = []  # other charts whose x range this one spans too
        self.last_render_seconds = 0.0
        self._last_render_end = 0.0

    # ---- data --------------------------------------------------------------------------
    def add_series(self, name: str, label: str, color: RGB, density: float = 2.0, mark_last: bool = False) -> Series:
        """Register a series (drawn in registration order, later ones on top)."""
        series = Series(name, label, color, density, mark_last)
        self.series[name] = series
        return series

    def append(self, name: str, x: Sequence[float] | float, y: Sequence[float] | float) -> None:
        """Append points to series ``name`` (created with a default colour if new)."""
        series = self.series.get(name)
        if series is None:
            color = EXTRA_COLORS[len(self.series) % len(EXTRA_COLORS)]
            series = self.add_series(name, name, color)
        xs = np.asarray(x, np.float64).ravel()
        ys = np.asarray(y, np.float64).ravel()
        if len(xs) != len(ys):
            raise ValueError(f"x and y differ in length: {len(xs)} != {len(ys)}")
        series.x.extend(xs)
        series.y.extend(ys)
        if len(series.x) > self.MAX_STORED:
            kept_x, kept_y = downsample(series.x.values, series.y.values, self.MAX_STORED // 2)
            series.x.clear()
            series.y.clear()
            series.x.extend(kept_x)
            series.y.extend(kept_y)
        self.dirty = True
        for other in self.linked:  # linked charts span each other's x range (the panel links all)
            other.dirty = True

    def add_marker(self, x: float, label: str, color: RGB = MARKER_COLOR) -> None:
        """A vertical line at ``x`` labelled ``label``."""
        self.markers.append(Marker(float(x), label, color))
        self.dirty = True

    def x_extent(self) -> tuple[float, float] | None:
        """(min, max) x over all stored points, or None when empty."""
        xs = [s.x.values for s in self.series.values() if len(s.x)]
        if not xs:
            return None
        return min(float(x.min()) for x in xs), max(float(x.max()) for x in xs)

    def clear(self) -> None:
        """Drop every point and marker (series stay registered)."""
        for series in self.series.values():
            series.x.clear()
            series.y.clear()
        self.markers.clear()
        self.dirty = True
        self.generation += 1
        self.border_subtitle = ""
        self.refresh()

    # ---- drawing -------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.set_interval(self.REPLOT_SECONDS, self._replot_tick)

    def _replot_tick(self) -> None:
        """Timer: new data is drawn on a background thread (see ``_build_in_background``)."""
        if self.dirty and not self._building and self.size.width and self._replot_due():
            self.dirty = False
            self._build_in_background()

    def _replot_due(self) -> bool:
        """A slow redraw (a wide chart on a loaded machine) pushes the next one back so
        drawing stays under about a fifth of the time."""
        return time.perf_counter() >= self._last_render_end + 4 * self.last_render_seconds

    def replot_if_dirty(self) -> None:
        """Schedule a redraw, built on the next frame, if data changed since the last one."""
        if self.dirty and self._replot_due():
            self.replot()

    def replot(self) -> None:
        """Redraw on the next frame whatever the throttle says; updates the legend too."""
        self.dirty = False
        self.generation += 1
        self.border_subtitle = self.legend()
        self.refresh()

    def legend(self) -> str:
        """Border-subtitle markup: a coloured dash, label and latest value per series.

        When that is wider than the border has room for, the label itself is coloured instead.
        """
        items = [
            (s, f"{s.label} {format_value(v)}{self.unit}")
            for s in self.series.values()
            if (v := s.last_finite()) is not None
        ]
        width = sum(len(text) + 4 for _, text in items) - 2  # "━ " before each, "  " between
        if self.size.width == 0 or width <= self.size.width - 4:  # a dash and a space each side
            return "  ".join(f"[{_hex(s.color)}]━[/] {text}" for s, text in items)
        return "  ".join(f"[{_hex(s.color)}]{s.label}[/]{text[len(s.label) :]}" for s, text in items)

    def _visible(self, series: Series, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Finite (x, y-as-drawn) points of a series, downsampled for ``width`` columns."""
        x, y = series.x.values, series.y.values
        ok = np.isfinite(y) & np.isfinite(x)
        if self.log_y:
            ok &= y > 0
        if not ok.all():
            x, y = x[ok], y[ok]
        if self.log_y:
            y = np.log10(y)
        return downsample(x, y, max(4, int(series.density * width)))

    def rebuild(self) -> bool:
        """Rebuild the plotext figure from the raw arrays; False when nothing is drawable."""
        return self._plot_onto(self.plt, self._snapshot())

    def _snapshot(self) -> _Snapshot:
        """Everything a figure is drawn from, copied (on the UI thread, where data is appended)."""
        width = max(self.size.width - 8, 10)  # columns left for the canvas after the y ticks
        lines = [(s, *self._visible(s, width)) for s in self.series.values()]
        return _Snapshot(
            inputs=self._inputs(),
            theme=self._get_plotext_theme_name(self.app.theme),
            size=(self.size.width, self.size.height),
            lines=[(s, x, y) for s, x, y in lines if len(x)],
            markers=list(self.markers),
            linked=[lo_hi for o in self.linked if (lo_hi := o.x_extent()) is not None],
        )

    def _plot_onto(self, plt: Plot, snap: _Snapshot) -> bool:
        """Draw ``snap`` on the figure ``plt``; False when nothing is drawable. Reads only ``snap``
        and fixed settings, so it may run off the UI thread on a figure of its own."""
        plt.clear_figure()
        plt.theme(snap.theme)  # before text(): labels take its canvas colour
        width, height = max(snap.size[0] - 8, 10), snap.size[1]
        lines = snap.lines
        if not lines:
            return False
        xs = np.concatenate([x for _, x, _ in lines] + [np.array([m.x for m in snap.markers])])
        ys = np.concatenate([y for _, _, y in lines])
        x_lo, x_hi = float(xs.min()), float(xs.max())
        for lo, hi in snap.linked:  # charts stacked together share one x range
            x_lo, x_hi = min(x_lo, lo), max(x_hi, hi)
        if x_hi <= x_lo:
            x_hi = x_lo + 1.0
        y_lo, y_hi = float(ys.min()), float(ys.max())
        if self.y_span is not None and not self.log_y:
            y_lo, y_hi = min(y_lo, self.y_span[0]), max(y_hi, self.y_span[1])
        pad = 0.05 * (y_hi - y_lo) if y_hi > y_lo else 0.5 if self.log_y else max(abs(y_hi) * 0.1, 0.5)
        y_lo, y_hi = y_lo - pad, y_hi + pad
        for s, x, y in lines:
            plt.plot(x.tolist(), y.tolist(), color=s.color, marker="hd")
            if s.mark_last:
                plt.scatter([float(x[-1])], [float(y[-1])], color=s.color, marker="●")
        _draw_markers(plt, snap.markers, x_lo, x_hi, y_hi, width)
        plt.xlim(x_lo, x_hi)
        if height >= 16:
            plt.xlabel("examples seen")
        plt.ylim(y_lo, y_hi)
        xt = nice_ticks(x_lo, x_hi, max(2, width // 12))
        plt.xticks(xt.tolist(), [format_count(v) for v in xt])
        if self.log_y:
            vals = log_ticks(10**y_lo, 10**y_hi)
            plt.yticks(np.log10(vals).tolist(), [format_value(v) for v in vals])
        else:
            target = max(2, height // 4)
            steps = self.y_steps
            yt = stepped_ticks(y_lo, y_hi, target, steps) if steps else nice_ticks(y_lo, y_hi, target)
            plt.yticks(yt.tolist(), [format_value(v) for v in yt])
        return True

    def _inputs(self) -> tuple[object, ...]:
        """When the last figure must not be shown again: after ``replot``/``clear``, a resize or
        a theme change. (New data only sets ``dirty``; the timer draws it in the background.)"""
        return (self.generation, self.size, self.app.theme)

    def render(self) -> RenderResult:
        """The last figure if still valid (Textual renders again after help closes or focus moves;
        rebuilding then would hold back the key), else one built now."""
        inputs = self._inputs()
        if self._drawn is not None and self._drawn[0] == inputs:
            return self._drawn[1]
        t0 = time.perf_counter()
        self.renders += 1
        empty = Text(self.empty_text, style="dim", justify="center")
        result: RenderResult = super().render() if self.rebuild() else empty
        self._drawn = (inputs, result)
        self._last_render_end = time.perf_counter()
        self.last_render_seconds = self._last_render_end - t0
        return result

    def _build_in_background(self) -> None:
        """Build the figure for the current data on a thread of its own, then show it.

        plotext's build is pure Python and takes ~10-20 ms a chart; on the event loop that
        would hold back any key pressed meanwhile, on a thread it only shares the GIL.
        """
        snap, legend = self._snapshot(), self.legend()
        self._building = True

        def build() -> None:
            result: RenderResult | None = None
            t0 = time.perf_counter()
            try:
                plot = self._background_plot
                if self._plot_onto(plot, snap):
                    plot.plotsize(*snap.size)
                    plot._set_size(*snap.size)  # as PlotextPlot.render does
                    result = Text.from_ansi(plot.build())
            except Exception as exc:  # logged; the chart keeps its last figure
                log_error("drawing a chart", exc)
            with contextlib.suppress(RuntimeError):  # the app is closing
                self.app.call_from_thread(self._built, snap.inputs, legend, result, time.perf_counter() - t0)

        threading.Thread(target=build, name="mnist-tui-chart", daemon=True).start()

    def _built(self, inputs: tuple[object, ...], legend: str, result: RenderResult | None, seconds: float) -> None:
        """Back on the UI thread: show the figure and its legend unless a replot, resize or theme
        change came meanwhile (render has then drawn a newer one already). Both change in one
        refresh: set apart, each would repaint the whole chart. ``seconds`` the build took feeds
        the redraw throttle as a build on the event loop does."""
        self._building = False
        self._last_render_end, self.last_render_seconds = time.perf_counter(), seconds
        if inputs != self._inputs():
            return
        self.border_subtitle = legend  # also when nothing is drawable: empties it after a clear
        if result is not None:
            self._drawn = (inputs, result)
            self.renders += 1
            self.refresh()


def _draw_markers(plt: Plot, markers: Sequence[Marker], x_lo: float, x_hi: float, y_top: float, width: int) -> None:
    """Vertical lines; labels at the top, skipping any that would overlap the previous one."""
    per_col = (x_hi - x_lo) / width
    free_from = -math.inf
    for m in sorted(markers, key=lambda m: m.x):
        plt.vline(m.x, m.color)
        start = m.x + per_col  # label sits just right of its line ...
        if m.x + per_col * (len(m.label) + 1) > x_hi:  # ... or left of it near the right edge
            start = m.x - per_col * (len(m.label) + 1)
        if start < free_from or start < x_lo:
            continue
        plt.text(m.label, start, y_top, color=m.color, alignment="left")
        free_from = start + per_col * (len(m.label) + 1)


@dataclass
class _Snapshot:
    """A chart's drawing inputs at one moment (see ``SeriesChart._snapshot``)."""

    inputs: tuple[object, ...]  # what the finished figure is valid for
    theme: str
    size: tuple[int, int]
    lines: list[tuple[Series, np.ndarray, np.ndarray]]  # (series, x, y as drawn), non-empty only
    markers: list[Marker]
    linked: list[tuple[float, float]]  # x extents of linked charts


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

    def add_chart(self, key: str, chart: SeriesChart) -> SeriesChart:
        """Mount another chart below the others; markers reach it too. Returns ``chart``."""
        for m in self.loss_chart.markers:
            chart.add_marker(m.x, m.label, m.color)
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

    def append_losses(self, examples: Sequence[int], losses: Sequence[float]) -> None:
        """Per-step minibatch losses at the given examples-seen counts (equal lengths)."""
        losses_arr = np.asarray(losses, np.float64)
        self.loss_chart.append("raw", examples, losses_arr)
        self.loss_chart.append("smooth", examples, self._ema.update(losses_arr))

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
        """A hyperparameter changed at ``examples``: a labelled vertical line on every chart."""
        for chart in self.charts.values():
            chart.add_marker(examples, label)

    def mark_diverged(self, examples: int) -> None:
        """Training diverged at ``examples``: a red line on every chart."""
        for chart in self.charts.values():
            chart.add_marker(examples, "diverged", DIVERGED_COLOR)

    def clear(self) -> None:
        """Forget all curves and markers (a new run); the angle chart keeps its place."""
        self._ema.reset()
        for chart in self.charts.values():
            chart.clear()
