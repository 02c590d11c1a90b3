"""The drawing pad's state and what it shows: canvas, cursor and eraser, as data and rich Text.

``PadState`` owns the 28x28 canvas and turns strokes (pixel coordinates from the mouse or the
keyboard cursor) into brush strokes through ``model.drawing``. ``canvas_rows`` draws it two
cells per pixel (square pixels) with shade characters, as segments for a line-by-line widget,
so a plain-text capture shows the ink too; ``bars_text`` draws the ten class probabilities.
Leaves out Textual: the widgets turn mouse and key events into these calls and show the results."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import groupby

import numpy as np
from numpy.typing import NDArray
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from model.drawing import BRUSH_SOFTNESS, ERASER_RADIUS, SIDE, class_probs, paint, paint_line, to_mnist

F32 = NDArray[np.float32]
#: Terminal cells per pixel across (one row per pixel down): square pixels in most fonts.
CELL_W = 2
#: Ink levels from none to full; readable in a plain-text capture as well as in colour.
SHADES = " ░▒▓█"
CURSOR = "[]"
EIGHTHS = " ▏▎▍▌▋▊▉█"
TOP_STYLE = "bold green"
#: Rows a stroke can touch beyond its end points (the eraser's reach, rounded up).
REACH = int(ERASER_RADIUS + BRUSH_SOFTNESS) + 1
ALL_ROWS = range(SIDE)


class PadState:
    """The canvas (28, 28) float32 in [0, 1], the keyboard cursor (column, row) and the eraser.

    ``version`` counts changes of the canvas, so a view can tell whether it is up to date;
    ``take_dirty`` says which rows changed since it was last asked (a view redraws only those).
    """

    def __init__(self) -> None:
        self.canvas: F32 = np.zeros((SIDE, SIDE), np.float32)
        self.cursor = (SIDE // 2, SIDE // 2)
        self.eraser = False
        self.version = 0
        self._last: tuple[float, float] | None = None  # the stroke's previous point, None between strokes
        self._erasing = False
        self._dirty: range | None = None

    def _touch(self, *ys: float) -> None:
        """Rows near ``ys`` (all rows if none given) changed."""
        if ys:
            lo, hi = max(int(min(ys)) - REACH, 0), min(int(max(ys)) + REACH + 1, SIDE)
        else:
            lo, hi = 0, SIDE
        if self._dirty is not None:
            lo, hi = min(lo, self._dirty.start), max(hi, self._dirty.stop)
        self._dirty = range(lo, hi)
        self.version += 1

    def take_dirty(self) -> range:
        """The rows changed since the last call (empty if none)."""
        dirty, self._dirty = self._dirty, None
        return dirty if dirty is not None else range(0)

    @staticmethod
    def pixel_at(col: int, row: int) -> tuple[float, float]:
        """Pixel coordinates (x, y) of the canvas cell (col, row): two cells per pixel, so the
        left and right cell give half-pixel positions across."""
        x = (col + 0.5) / CELL_W - 0.5
        return min(max(x, -1.0), SIDE), min(max(float(row), -1.0), SIDE)

    @property
    def stroking(self) -> bool:
        """True between ``begin`` and ``end``."""
        return self._last is not None

    @property
    def erasing(self) -> bool:
        """True if the current (or last) stroke erases."""
        return self._erasing

    def begin(self, x: float, y: float, erase: bool = False) -> None:
        """Start a stroke at pixel (x, y); it erases if ``erase`` or the eraser is on."""
        self._erasing = erase or self.eraser
        self._last = (x, y)
        paint(self.canvas, x, y, erase=self._erasing)
        self._touch(y)

    def drag(self, x: float, y: float) -> None:
        """Continue the stroke to (x, y): a brush line from the previous point (no gaps)."""
        if self._last is None:
            self.begin(x, y)
            return
        x0, y0 = self._last
        paint_line(self.canvas, x0, y0, x, y, erase=self._erasing)
        self._last = (x, y)
        self._touch(y0, y)

    def end(self) -> None:
        """End the stroke (the next ``drag`` starts a new one)."""
        self._last = None

    def move_cursor(self, dx: int, dy: int) -> None:
        """Move the keyboard cursor by (dx, dy) pixels, staying on the canvas."""
        x, y = self.cursor
        self.cursor = (min(max(x + dx, 0), SIDE - 1), min(max(y + dy, 0), SIDE - 1))

    def stamp_cursor(self) -> None:
        """One brush stamp at the cursor (erasing if the eraser is on)."""
        paint(self.canvas, *self.cursor, erase=self.eraser)
        self._touch(self.cursor[1])

    def clear(self) -> None:
        self.canvas[:] = 0.0
        self._last = None
        self._touch()

    def load(self, image: NDArray[np.floating]) -> None:
        """Replace the canvas with ``image``: (784,) or (28, 28) in [0, 1] (a test digit, say)."""
        self.canvas[:] = np.clip(np.asarray(image, np.float32).reshape(SIDE, SIDE), 0.0, 1.0)
        self._touch()

    def ink_at(self, x: int, y: int) -> float:
        """Ink of pixel column ``x``, row ``y``."""
        return float(self.canvas[y, x])

    @property
    def empty(self) -> bool:
        return not self.canvas.any()

    def network_input(self) -> F32:
        """(784,) what the network sees: the canvas after ``to_mnist``."""
        return to_mnist(self.canvas)

    def probs(self, params: dict[str, F32], activation: str) -> list[float] | None:
        """The ten class probabilities of the canvas under ``params``; None if it has no ink."""
        p = class_probs(params, self.canvas, activation)
        return None if p is None else [float(v) for v in p]


@lru_cache(maxsize=len(SHADES) * 2)
def _style(level: int, cursor: bool) -> Style:
    gray = round(255 * (0.35 + 0.65 * level / (len(SHADES) - 1))) if level else 0
    if cursor:
        return Style(color="black", bgcolor="yellow", bold=True)
    return Style(color=Color.from_rgb(gray, gray, gray))


def canvas_rows(canvas: F32, cursor: tuple[int, int] | None = None, which: range = ALL_ROWS) -> list[list[Segment]]:
    """Rows ``which`` of ``canvas`` (28, 28) as segments, 56 cells each: every pixel two shade
    characters; the cursor pixel (column, row), if given, a highlighted "[]"."""
    levels = np.rint(np.clip(canvas[which.start : which.stop], 0.0, 1.0) * (len(SHADES) - 1)).astype(np.int32)
    rows: list[list[Segment]] = []
    for y, row in zip(which, levels.tolist(), strict=True):
        cells = [(-1 if cursor == (x, y) else level) for x, level in enumerate(row)]  # -1: the cursor
        segments = []
        for level, run in groupby(cells):  # runs of equal pixels share one segment
            n = len(list(run))
            if level < 0:
                segments.append(Segment(CURSOR, _style(0, True)))
            else:
                segments.append(Segment(SHADES[level] * (CELL_W * n), _style(level, False)))
        rows.append(segments)
    return rows


def canvas_text(canvas: F32, cursor: tuple[int, int] | None = None) -> Text:
    """``canvas_rows`` as one Text of 28 lines (for captures and tests)."""
    text = Text(no_wrap=True, overflow="crop")
    for y, segments in enumerate(canvas_rows(canvas, cursor)):
        if y:
            text.append("\n")
        for segment in segments:
            text.append(segment.text, segment.style)
    return text


def _bar(fraction: float, width: int) -> str:
    """A bar of ``width`` cells filled to ``fraction`` (eighth-cell resolution)."""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[rest] if rest else "")).ljust(width)


def top_class(probs: Sequence[float]) -> int:
    """The most likely class."""
    return max(range(len(probs)), key=lambda c: probs[c])


def bars_text(probs: Sequence[float] | None, width: int, empty_note: str = "draw a digit") -> Text:
    """Ten lines "c bar 0.87" filling ``width`` cells, the top class highlighted; ``empty_note``
    on every bar's line when there is nothing to show."""
    bar_width = max(width - 7, 3)  # "7 " + bar + " 0.83"
    text = Text(no_wrap=True, overflow="crop")
    top = top_class(probs) if probs is not None else -1
    for c in range(10):
        if c:
            text.append("\n")
        style = TOP_STYLE if c == top else ""
        text.append(f"{c} ", style=style or "bold")
        if probs is None:
            text.append(empty_note if c == 0 else "", style="dim")
            continue
        text.append(_bar(probs[c], bar_width), style=style or "dim")
        text.append(f" {probs[c]:.2f}"[:5], style=style)
    return text
