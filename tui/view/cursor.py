"""The chart cursor's arithmetic: which x a canvas column shows, and the values there.

``CanvasAxes`` is the x geometry of one drawn figure as plotext 5.3.2 lays it out: the
canvas starts after the y tick labels and the frame's left edge, is ``width - labels - 2``
columns wide, and a value x lands in column ``floor(0.5 + (cols - 1)(x - lo)/(hi - lo))``
(plotext's ``get_matrix_data``, which draws ``vline`` too). ``value_at`` is the value of a
curve at x: its newest point at or before x; ``readout`` what the cursor line under the charts
says there. Nothing here draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tui.format import format_compact, format_count
from tui.view.series import RGB, Series


@dataclass(frozen=True)
class CanvasAxes:
    """Where a figure's canvas is and what x range it spans: ``start`` (first canvas column of
    the widget's content), ``cols`` (canvas columns), ``x_lo``..``x_hi`` (the x limits drawn)."""

    start: int
    cols: int
    x_lo: float
    x_hi: float

    @classmethod
    def of(cls, width: int, y_labels: Sequence[str], x_lim: tuple[float, float]) -> CanvasAxes:
        """The canvas of a plotext figure ``width`` columns wide with these y tick labels (both
        y axes framed, no labels on the right)."""
        label = max((len(t) for t in y_labels), default=0)
        return cls(label + 1, max(width - label - 2, 1), float(x_lim[0]), float(x_lim[1]))

    def column(self, x: float) -> int:
        """The canvas column (0 .. cols-1) plotext draws x in; x outside the range is clamped."""
        if self.x_hi <= self.x_lo or self.cols <= 1:
            return 0
        c = math.floor(round(0.5 + (self.cols - 1) * (x - self.x_lo) / (self.x_hi - self.x_lo), 8))
        return min(max(c, 0), self.cols - 1)

    def x_at(self, column: int) -> float:
        """The x that column ``column`` (clamped to the canvas) stands for: the one plotext draws exactly there."""
        c = min(max(column, 0), self.cols - 1)
        if self.cols <= 1:
            return self.x_lo
        return self.x_lo + c * (self.x_hi - self.x_lo) / (self.cols - 1)

    def moved(self, x: float, columns: int) -> float:
        """x moved by ``columns`` canvas columns (kept on the canvas)."""
        return self.x_at(self.column(x) + columns)

    def x_of_cell(self, cell: int) -> float | None:
        """The x at content column ``cell`` (a mouse click), or None outside the canvas."""
        column = cell - self.start
        if not 0 <= column < self.cols:
            return None
        return self.x_at(column)


def value_at(x: ArrayLike, y: ArrayLike, at: float) -> tuple[float, float] | None:
    """The newest point (x_i, y_i) with x_i <= ``at`` and y_i finite, or None.

    x: (N,) non-decreasing examples seen; y: (N,).
    """
    xs = np.asarray(x, np.float64)
    ys = np.asarray(y, np.float64)
    i = int(np.searchsorted(xs, at, side="right"))  # points [0, i) are at or before ``at``
    finite = np.flatnonzero(np.isfinite(ys[:i]))
    if not len(finite):
        return None
    j = int(finite[-1])
    return float(xs[j]), float(ys[j])


def readout(
    x: float,
    steps: tuple[ArrayLike, ArrayLike],
    live: Sequence[tuple[Series, str]],
    overlay: Sequence[tuple[str, Series, Series]],
) -> list[tuple[RGB | None, str]]:
    """What the cursor reads at ``x``: the live run's step and examples (``steps``: examples seen
    and the step count there), then (colour, "label value") for every ``live`` curve (with its
    unit) and every overlaid run (label, loss, validation error) with a point at or before ``x``."""
    step = value_at(steps[0], steps[1], x)
    head = f"step {int(step[1]):,} · {format_count(step[0])} examples" if step else f"{format_count(x)} examples"
    items: list[tuple[RGB | None, str]] = [(None, head)]
    for s, unit in live:
        if (p := value_at(s.x.values, s.y.values, x)) is not None:
            items.append((s.color, f"{s.label} {format_compact(p[1])}{unit}"))
    for label, loss, valid in overlay:
        parts = [
            f"{name} {format_compact(p[1])}{unit}"
            for name, s, unit in (("loss", loss, ""), ("valid", valid, "%"))
            if (p := value_at(s.x.values, s.y.values, x)) is not None
        ]
        if parts:
            items.append((loss.color, f"{label}: {', '.join(parts)}"))
    return items
