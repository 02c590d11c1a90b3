"""A line chart's layout: axis ranges, ticks with their labels, and where marker labels go.

``ChartData`` is what one figure is drawn from, copied on the UI thread; ``layout`` turns
it into a ``Frame`` of plain lists and numbers that a plotting backend draws as they are.
It may run off the UI thread: it reads only its arguments. ``legend`` is the markup of the
chart's border subtitle (each series' colour, label and latest value).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tui.format import format_compact, format_count
from tui.view.series import F64, RGB, Series
from tui.view.ticks import log_ticks, nice_ticks, stepped_ticks

MARKER_COLOR: RGB = (150, 150, 150)
CURSOR_COLOR: RGB = (235, 235, 235)
#: Columns a chart's y tick labels take; the canvas gets the rest.
TICK_COLUMNS = 8


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a label, and a shorter form (e.g. its number) for crowded charts."""

    x: float
    label: str
    color: RGB = MARKER_COLOR
    short: str = ""


@dataclass(frozen=True)
class Axis:
    """How a chart reads its data: log y, a y range always shown, tick spacings to pick from."""

    log_y: bool = False
    y_span: tuple[float, float] | None = None  # linear charts: widened by data outside it
    y_steps: tuple[float, ...] = ()  # instead of 1-2-5 steps


@dataclass
class ChartData:
    """A chart's drawing inputs at one moment."""

    inputs: tuple[object, ...]  # what the finished figure is valid for
    theme: str
    size: tuple[int, int]
    lines: list[tuple[Series, F64, F64]]  # (series, x, y as drawn), non-empty only
    markers: list[Marker]
    linked: list[tuple[float, float]]  # x extents of linked charts
    cursor: float | None = None  # x of the chart cursor's vertical line, if shown


@dataclass(frozen=True)
class Line:
    """One series as drawn: its points, and the newest point when it gets a dot."""

    color: RGB
    x: list[float]
    y: list[float]
    last: tuple[float, float] | None


@dataclass(frozen=True)
class Frame:
    """Everything a figure needs, in drawing order: lines, markers (label start and text, or
    None and ""), axes."""

    lines: list[Line]
    markers: list[tuple[Marker, float | None, str]]
    x_lim: tuple[float, float]
    y_lim: tuple[float, float]
    x_ticks: list[float]
    x_labels: list[str]
    y_ticks: list[float]
    y_labels: list[str]


def canvas_width(width: int) -> int:
    """Columns left for the canvas of a chart ``width`` wide, after the y ticks."""
    return max(width - TICK_COLUMNS, 10)


def x_extent(series: Iterable[Series]) -> tuple[float, float] | None:
    """(min, max) x over all stored points of ``series``, or None when all are empty."""
    extents = [e for s in series if (e := s.extent()) is not None]
    if not extents:
        return None
    return min(lo for lo, _ in extents), max(hi for _, hi in extents)


def layout(data: ChartData, axis: Axis) -> Frame | None:
    """The frame for ``data``; None when nothing is drawable."""
    width, height = canvas_width(data.size[0]), data.size[1]
    lines = data.lines
    if not lines:
        return None
    xs = np.concatenate([x for _, x, _ in lines] + [np.array([m.x for m in data.markers])])
    ys = np.concatenate([y for _, _, y in lines])
    x_lo, x_hi = float(xs.min()), float(xs.max())
    for lo, hi in data.linked:  # charts stacked together share one x range
        x_lo, x_hi = min(x_lo, lo), max(x_hi, hi)
    if x_hi <= x_lo:
        x_hi = x_lo + 1.0
    y_lo, y_hi = float(ys.min()), float(ys.max())
    if axis.y_span is not None and not axis.log_y:
        y_lo, y_hi = min(y_lo, axis.y_span[0]), max(y_hi, axis.y_span[1])
    pad = 0.05 * (y_hi - y_lo) if y_hi > y_lo else 0.5 if axis.log_y else max(abs(y_hi) * 0.1, 0.5)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    drawn = [
        Line(s.color, x.tolist(), y.tolist(), (float(x[-1]), float(y[-1])) if s.mark_last else None)
        for s, x, y in lines
    ]
    xt = nice_ticks(x_lo, x_hi, max(2, width // 12))
    rows = max(1, height - (4 if height >= 16 else 3))  # the plot's own rows (frame and x ticks off)
    if axis.log_y:
        y_ticks = apart(np.log10(log_ticks(10**y_lo, 10**y_hi)).tolist(), y_lo, y_hi, rows)
        y_labels = [format_compact(10**t) for t in y_ticks]
    else:
        target = max(2, height // 4)
        steps = axis.y_steps
        yt = stepped_ticks(y_lo, y_hi, target, steps) if steps else nice_ticks(y_lo, y_hi, target)
        y_ticks = apart(yt.tolist(), y_lo, y_hi, rows)
        y_labels = [format_compact(v) for v in y_ticks]
    return Frame(
        lines=drawn,
        markers=marker_labels(data.markers, x_lo, x_hi, width),
        x_lim=(x_lo, x_hi),
        y_lim=(y_lo, y_hi),
        x_ticks=xt.tolist(),
        x_labels=[format_count(v) for v in xt],
        y_ticks=y_ticks,
        y_labels=y_labels,
    )


def apart(ticks: Sequence[float], lo: float, hi: float, rows: int) -> list[float]:
    """``ticks`` (ascending) thinned so that kept ones are at least two of ``rows`` apart on an
    axis from ``lo`` to ``hi``: two labels on one row would be resolved by plotext in hash order,
    which differs between runs."""
    kept: list[float] = []
    per_row = (hi - lo) / rows if rows else math.inf
    for t in ticks:
        if not kept or t - kept[-1] >= 2 * per_row:
            kept.append(t)
    return kept


def marker_labels(
    markers: Sequence[Marker], x_lo: float, x_hi: float, width: int
) -> list[tuple[Marker, float | None, str]]:
    """Markers in x order, each with where its label starts and the label's text: the full label
    where it fits, else its short form, else nothing (None, ""). A label sits right of its own
    line, or left of it where the right has no room; never with another marker's line between
    a label and its own line, nor over another label, so no label can be read as another
    marker's."""
    per_col = (x_hi - x_lo) / width
    ordered = sorted(markers, key=lambda m: m.x)
    lines = [m.x for m in ordered]
    free_from = -math.inf
    placed: list[tuple[Marker, float | None, str]] = []
    for m in ordered:
        spot: tuple[float, str] | None = None
        for text in dict.fromkeys(t for t in (m.label, m.short) if t):  # full label first, no repeats
            span = per_col * (len(text) + 1)
            right, left = m.x + per_col, m.x - span
            if right + span - per_col <= x_hi and right >= free_from and not _lines_in(lines, m.x, m.x + span, m.x):
                spot = (right, text)
            elif left >= max(free_from, x_lo) and not _lines_in(lines, left, m.x, m.x):
                spot = (left, text)
            if spot is not None:
                break
        if spot is None:
            placed.append((m, None, ""))
            continue
        placed.append((m, spot[0], spot[1]))
        free_from = max(free_from, spot[0] + per_col * (len(spot[1]) + 1))
    return placed


def _lines_in(lines: Sequence[float], lo: float, hi: float, own: float) -> bool:
    """True if a marker line other than the one at ``own`` lies within [lo, hi]."""
    return any(lo <= x <= hi and x != own for x in lines)


def hex_color(color: RGB) -> str:
    """``color`` as Rich markup's ``#rrggbb``."""
    return "#{:02x}{:02x}{:02x}".format(*color)


def legend(series: Sequence[Series], unit: str, width: int) -> str:
    """Border-subtitle markup: a coloured dash, label and latest value per series with a finite
    one. When that is wider than ``width`` (the border; 0: unknown) allows, the label itself is
    coloured instead of a dash."""
    items = [(s, f"{s.label} {format_compact(v)}{unit}") for s in series if (v := s.last_finite()) is not None]
    need = sum(len(text) + 4 for _, text in items) - 2  # "━ " before each, "  " between
    if width == 0 or need <= width - 4:  # a dash and a space each side
        return "  ".join(f"[{hex_color(s.color)}]━[/] {text}" for s, text in items)
    return "  ".join(f"[{hex_color(s.color)}]{s.label}[/]{text[len(s.label) :]}" for s, text in items)
