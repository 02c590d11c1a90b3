"""Draw a 28x28 grayscale digit as terminal text.

``render_halfblock`` packs two pixel rows into one cell with "▀" (top pixel as the
foreground colour, bottom pixel as the background): 28 columns x 14 rows, the
right aspect, in colour. ``render_ascii`` maps the mean of each vertical pixel
pair to a character ramp, for plain-text captures and tests. Both are pure
functions of the pixels (values in [0, 1]); styling beyond gray levels is left
to the widgets.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby

import numpy as np
from numpy.typing import NDArray
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text

SIDE = 28
#: Gray levels the half-block renderer quantises to (styles are cached per pair).
LEVELS = 32
#: Dark to bright; a space for background pixels.
ASCII_RAMP = " .:-=+*#%@"
HALF_BLOCK = "▀"


def _grid(image_784: NDArray[np.floating]) -> NDArray[np.float32]:
    """(784,) or (28, 28) pixels -> (28, 28) float32 clipped to [0, 1]; NaN counts as 0."""
    img = np.asarray(image_784, np.float32).reshape(SIDE, SIDE)
    return np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0)


@lru_cache(maxsize=LEVELS * LEVELS)
def _pair_style(top: int, bottom: int) -> Style:
    """Foreground = top pixel's gray, background = bottom pixel's gray."""
    scale = 255 / (LEVELS - 1)
    t, b = round(top * scale), round(bottom * scale)
    return Style(color=Color.from_rgb(t, t, t), bgcolor=Color.from_rgb(b, b, b))


def render_halfblock(image_784: NDArray[np.floating]) -> Text:
    """A (784,) image as 14 lines of 28 "▀" cells; consecutive equal cells share one span."""
    q = np.rint(_grid(image_784) * (LEVELS - 1)).astype(np.int32)  # (28, 28) levels
    key = q[0::2] * LEVELS + q[1::2]  # (14, 28): one code per cell (top, bottom)
    row_len = SIDE + 1  # 28 cells and a newline
    # A run starts where the code differs from the cell to its left (and at each row start).
    starts = np.ones(key.shape, bool)
    starts[:, 1:] = key[:, 1:] != key[:, :-1]
    rows, cols = np.nonzero(starts)
    ends = np.empty_like(cols)
    ends[:-1] = np.where(rows[1:] == rows[:-1], cols[1:], SIDE)
    ends[-1:] = SIDE
    codes = key[rows, cols]
    offset = rows * row_len
    spans = [
        Span(int(o + c), int(o + e), _pair_style(int(k) // LEVELS, int(k) % LEVELS))
        for o, c, e, k in zip(offset, cols, ends, codes, strict=True)
    ]
    plain = "\n".join([HALF_BLOCK * SIDE] * (SIDE // 2))
    return Text(plain, spans=spans, no_wrap=True, overflow="crop")


def halfblock_rows(image_784: NDArray[np.floating]) -> list[list[Segment]]:
    """``render_halfblock`` as 14 rows of segments (28 cells each), for a widget that draws line
    by line without converting text."""
    q = np.rint(_grid(image_784) * (LEVELS - 1)).astype(np.int32)  # (28, 28) levels
    rows: list[list[Segment]] = []
    for top, bottom in zip(q[0::2].tolist(), q[1::2].tolist(), strict=True):  # one cell row: two pixel rows
        segments = []
        for (t, b), run in groupby(zip(top, bottom, strict=True)):
            segments.append(Segment(HALF_BLOCK * len(list(run)), _pair_style(t, b)))
        rows.append(segments)
    return rows


_RAMP = np.array(list(ASCII_RAMP))


def render_ascii(image_784: NDArray[np.floating]) -> Text:
    """A (784,) image as 14 lines of 28 ramp characters (mean of each vertical pixel pair)."""
    g = _grid(image_784)
    cell = 0.5 * (g[0::2] + g[1::2])  # (14, 28)
    idx = np.minimum((cell * len(ASCII_RAMP)).astype(np.int32), len(ASCII_RAMP) - 1)
    chars = _RAMP[idx]
    return Text("\n".join("".join(row) for row in chars), no_wrap=True, overflow="crop")
