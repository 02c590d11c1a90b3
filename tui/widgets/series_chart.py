"""A generic line chart of named series against examples seen, drawn with plotext.

``SeriesChart`` keeps its series as raw growing arrays (``tui.view.series``), vertical
markers, optional log-y and its own x ticks ("10k", "1.2M"). It redraws at most every
``REPLOT_SECONDS`` (only when new data arrived), downsamples each series to a couple of
points per terminal column, and draws every figure afresh from the raw arrays (plotext
5.3.2 breaks when a figure with legends or log scale is rendered twice). New data is drawn
on a short-lived thread, so plotext's slow build never holds back a key; Textual's repeated
renders (help closed, focus moved) reuse the last figure. Ranges, ticks and marker label
places come from ``tui.view.chart``; this module only hands them to plotext.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.message import Message
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from tui.errorlog import log_error
from tui.view.chart import (
    CURSOR_COLOR,
    MARKER_COLOR,
    Axis,
    ChartData,
    Marker,
    canvas_width,
    layout,
    legend,
    x_extent,
)
from tui.view.cursor import CanvasAxes
from tui.view.series import RGB, Series, Values

EXTRA_COLORS: tuple[RGB, ...] = ((120, 220, 120), (230, 100, 200), (200, 200, 90))


class SeriesChart(PlotextPlot):
    """A line chart of named series against examples seen.

    ``append`` stores points and marks the chart dirty; a timer replots at most
    every ``REPLOT_SECONDS``. Non-finite points (and, with ``log_y``, points <= 0)
    are skipped when drawing. ``y_span`` (linear charts): a y range always shown, widened
    by data outside it; ``y_steps``: tick spacings to pick from instead of 1-2-5 steps.
    ``set_overlay`` adds other runs' lines and markers under the live ones (kept by ``clear``);
    ``set_cursor`` draws a vertical cursor line, and ``axes`` says where the last figure put x.
    """

    class Clicked(Message):
        """The canvas was clicked at the column standing for ``x`` (examples seen)."""

        def __init__(self, chart: SeriesChart, x: float) -> None:
            super().__init__()
            self.chart = chart
            self.x = x

    DEFAULT_CSS = """
    SeriesChart {
        min-height: 6;
        min-width: 24;
    }
    """
    #: Once a second: each new figure repaints the whole chart on the UI thread, and at batch 16
    #: the panel's charts redrawn twice a second held the GIL about a fifth of the time, which the
    #: training worker waits for (py-spy --gil in a pty: UI thread 18-22% -> 8-9% at once a second).
    REPLOT_SECONDS = 1.0
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
        self.axis = Axis(log_y, y_span, tuple(y_steps))
        self.unit = unit
        self.empty_text = empty_text
        self.series: dict[str, Series] = {}
        self.markers: list[Marker] = []
        self.overlay: list[Series] = []  # other runs' lines, drawn under the live ones
        self.overlay_markers: list[Marker] = []
        self.cursor: float | None = None  # x of the cursor line, when shown
        self.readout = ""  # replaces the legend in the border subtitle while not empty
        self.axes: CanvasAxes | None = None  # the x geometry of the figure shown
        self.dirty = False
        self.generation = 0  # bumped when a redraw is asked for now (replot, clear)
        self._drawn: tuple[object, RenderResult] | None = None  # (inputs, figure) of the last build
        self._building = False  # a background build is running
        self._background_plot = Plot()  # the background builds' own figure
        self.linked: list[SeriesChart] = []  # other charts whose x range this one spans too
        self.last_render_seconds = 0.0
        self._last_render_end = 0.0

    # ---- data --------------------------------------------------------------------------
    def add_series(self, name: str, label: str, color: RGB, density: float = 2.0, mark_last: bool = False) -> Series:
        """Register a series (drawn in registration order, later ones on top)."""
        series = Series(name, label, color, density, mark_last)
        self.series[name] = series
        return series

    def append(self, name: str, x: Values, y: Values) -> None:
        """Append points (scalars or equal-length sequences) to series ``name`` (created with a
        default colour if new)."""
        series = self.series.get(name)
        if series is None:
            color = EXTRA_COLORS[len(self.series) % len(EXTRA_COLORS)]
            series = self.add_series(name, name, color)
        series.extend(x, y, self.MAX_STORED)
        self.dirty = True
        for other in self.linked:  # linked charts span each other's x range (the panel links all)
            other.dirty = True

    def add_marker(self, x: float, label: str, color: RGB = MARKER_COLOR, short: str = "") -> None:
        """A vertical line at ``x`` labelled ``label`` (``short`` where the full label does not fit)."""
        self.markers.append(Marker(float(x), label, color, short))
        self.dirty = True

    def x_extent(self) -> tuple[float, float] | None:
        """(min, max) x over all stored points (overlay included), or None when empty."""
        return x_extent([*self.series.values(), *self.overlay])

    def set_overlay(self, lines: Sequence[Series], markers: Sequence[Marker] = ()) -> None:
        """Other runs' lines and markers, drawn under the live run's; ``clear`` keeps them."""
        self.overlay = list(lines)
        self.overlay_markers = list(markers)
        for other in self.linked:
            other.dirty = True
        self.replot()

    def set_cursor(self, x: float | None, readout: str = "") -> None:
        """Show the cursor line at ``x`` with ``readout`` (markup) as the subtitle; None hides it."""
        self.cursor = x
        self.readout = readout if x is not None else ""
        self.replot()

    def clear(self) -> None:
        """Drop every point and marker (series stay registered)."""
        for series in self.series.values():
            series.clear()
        self.markers.clear()
        self.dirty = True
        self.generation += 1
        self.border_subtitle = self.readout
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

    def replot(self) -> None:
        """Redraw on the next frame whatever the throttle says; updates the legend too."""
        self.dirty = False
        self.generation += 1
        self.border_subtitle = self.subtitle()
        self.refresh()

    def subtitle(self) -> str:
        """The cursor's readout while it is shown, else the legend."""
        return self.readout or legend([*self.series.values(), *self.overlay], self.unit, self.size.width)

    def rebuild(self) -> bool:
        """Rebuild the plotext figure from the raw arrays; False when nothing is drawable."""
        snap = self._snapshot()
        self.axes = self._plot_onto(self.plt, snap)
        return self.axes is not None

    def _snapshot(self) -> ChartData:
        """Everything a figure is drawn from, copied (on the UI thread, where data is appended)."""
        width = canvas_width(self.size.width)
        lines = [(s, *s.visible(width, self.axis.log_y)) for s in [*self.overlay, *self.series.values()]]
        return ChartData(
            inputs=self._inputs(),
            theme=self._get_plotext_theme_name(self.app.theme),
            size=(self.size.width, self.size.height),
            lines=[(s, x, y) for s, x, y in lines if len(x)],
            markers=[*self.overlay_markers, *self.markers],
            linked=[lo_hi for o in self.linked if (lo_hi := o.x_extent()) is not None],
            cursor=self.cursor,
        )

    def _plot_onto(self, plt: Plot, snap: ChartData) -> CanvasAxes | None:
        """Draw ``snap`` on the figure ``plt``; returns where its canvas is, None when nothing is
        drawable. Reads only ``snap`` and fixed settings, so it may run off the UI thread on a
        figure of its own."""
        plt.clear_figure()
        plt.theme(snap.theme)  # before text(): labels take its canvas colour
        frame = layout(snap, self.axis)
        if frame is None:
            return None
        for line in frame.lines:
            plt.plot(line.x, line.y, color=line.color, marker="hd")
            if line.last is not None:
                plt.scatter([line.last[0]], [line.last[1]], color=line.color, marker="●")
        for m, start, text in frame.markers:  # vertical lines; labels at the top where they fit
            plt.vline(m.x, m.color)
            if start is not None:
                plt.text(text, start, frame.y_lim[1], color=m.color, alignment="left")
        if snap.cursor is not None:  # on top of everything, kept inside the x range
            plt.vline(min(max(snap.cursor, frame.x_lim[0]), frame.x_lim[1]), CURSOR_COLOR)
        plt.xlim(*frame.x_lim)
        if snap.size[1] >= 16:
            plt.xlabel("examples seen")
        plt.ylim(*frame.y_lim)
        plt.xticks(frame.x_ticks, frame.x_labels)
        plt.yticks(frame.y_ticks, frame.y_labels)
        return CanvasAxes.of(snap.size[0], frame.y_labels, frame.x_lim)

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
        snap, legend = self._snapshot(), self.subtitle()
        self._building = True

        def build() -> None:
            result: RenderResult | None = None
            axes: CanvasAxes | None = None
            t0 = time.perf_counter()
            try:
                plot = self._background_plot
                axes = self._plot_onto(plot, snap)
                if axes is not None:
                    plot.plotsize(*snap.size)
                    plot._set_size(*snap.size)  # as PlotextPlot.render does
                    result = Text.from_ansi(plot.build())
            except Exception as exc:  # logged; the chart keeps its last figure
                log_error("drawing a chart", exc)
            with contextlib.suppress(RuntimeError):  # the app is closing
                self.app.call_from_thread(self._built, snap.inputs, legend, result, axes, time.perf_counter() - t0)

        # A Textual thread worker: the app cancels and joins it on exit, like its other workers.
        self.run_worker(build, thread=True, name="chart-build", group="chart-build", exit_on_error=False)

    def _built(
        self,
        inputs: tuple[object, ...],
        legend: str,
        result: RenderResult | None,
        axes: CanvasAxes | None,
        seconds: float,
    ) -> None:
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
            self.axes = axes
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        """A click on the canvas: ``Clicked`` with the x of that column (the figure's own mapping)."""
        offset = event.get_content_offset(self)
        if offset is None or self.axes is None:
            return
        x = self.axes.x_of_cell(offset.x)
        if x is not None:
            event.stop()
            self.post_message(self.Clicked(self, x))
