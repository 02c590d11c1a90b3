"""What the weights screen draws: W1's rows as signed tiles, one unit's detail, diverging bars.

``WeightsData`` is everything the screen needs from one ``WeightsSnapshot`` (filters scaled
both ways, small tiles, unit statistics on the validation set); ``build_weights_data`` makes it
off the UI thread. The text builders are pure functions of it and of the screen's state (page,
selection, scale, tile size, ASCII), cheap enough to run on every key press.

Colours: red negative, blue positive, dark grey zero; tiles are half-block cells (two pixel
rows a cell) or, for plain-text captures, an ASCII ramp (``,~-=%`` negative, ``.:+*#`` positive).
Leaves out the Textual widgets and the statistics themselves (``model.inspect``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from model.inspect import UnitStats, downsample2, filter_tiles, unit_stats

F32 = NDArray[np.float32]
HALF_BLOCK = "▀"
#: Colour levels per sign (styles are cached per pair of levels).
LEVELS = 12
ZERO_RGB = (28, 28, 34)
POS_RGB = (80, 150, 255)
NEG_RGB = (255, 72, 56)
#: |value| ramps for the ASCII mode, weakest first (index 0: near zero).
POS_RAMP = " .:+*#"
NEG_RAMP = " ,~-=%"
NEG_STYLE = "red"
POS_STYLE = "blue"
LARGE, SMALL = 28, 14  # tile sides in pixels: 28x14 or 14x7 cells


@dataclass(frozen=True)
class WeightsData:
    """One snapshot made ready to draw.

    tiles: {(per_tile, side): (H, side*side) float32 in [-1, 1]}; W2: (K, H); feedback: (K, H)
    or None; stats: firing on the validation set (None when there is no validation set).
    """

    tiles: dict[tuple[bool, int], F32]
    W2: F32
    feedback: F32 | None
    stats: UnitStats | None
    activation: str
    examples_seen: int

    @property
    def hidden(self) -> int:
        return int(self.W2.shape[1])

    @property
    def dead(self) -> NDArray[np.bool_]:
        """(H,) True for units that never fire on the validation set."""
        if self.stats is None:
            return np.zeros(self.hidden, bool)
        return np.asarray(self.stats.firing == 0.0)


def build_weights_data(snapshot: Any, X_valid: NDArray[np.floating] | None) -> WeightsData:
    """From a ``WeightsSnapshot`` and the validation inputs (N, 784): one forward pass over them."""
    params = snapshot.params
    tiles: dict[tuple[bool, int], F32] = {}
    for per_tile in (True, False):
        big = filter_tiles(params["W1"], per_tile)
        tiles[per_tile, LARGE] = big
        tiles[per_tile, SMALL] = np.clip(downsample2(big) / _row_max(downsample2(big), per_tile), -1, 1)
    stats = unit_stats(params, snapshot.hp.activation, X_valid) if X_valid is not None and len(X_valid) else None
    feedback = None if snapshot.feedback is None else np.asarray(snapshot.feedback, np.float32)
    return WeightsData(
        tiles,
        np.asarray(params["W2"], np.float32),
        feedback,
        stats,
        snapshot.hp.activation,
        snapshot.examples_seen,
    )


def _row_max(tiles: F32, per_tile: bool) -> F32:
    """Largest |value| per row (or of all) after downsampling, so small tiles use the full range."""
    m = np.abs(tiles).max(axis=1, keepdims=True) if per_tile else np.full((1, 1), np.abs(tiles).max())
    return np.where(m > 0, m, 1.0).astype(np.float32)


# ---- signed pixels as text -----------------------------------------------------------------
def _rgb(level: int) -> tuple[int, int, int]:
    """Level -LEVELS..LEVELS -> colour between NEG_RGB, ZERO_RGB and POS_RGB."""
    a = abs(level) / LEVELS
    end = POS_RGB if level > 0 else NEG_RGB
    return tuple(round(z + (e - z) * a) for z, e in zip(ZERO_RGB, end, strict=True))  # type: ignore[return-value]


@lru_cache(maxsize=(2 * LEVELS + 1) ** 2)
def _pair_style(top: int, bottom: int) -> Style:
    return Style(color=Color.from_rgb(*_rgb(top)), bgcolor=Color.from_rgb(*_rgb(bottom)))


Line = list[Segment]  # one line of cells, drawn by ``tui.widgets.cells.CellLines``


def signed_lines(grid: NDArray[np.floating], ascii_mode: bool = False) -> list[Line]:
    """(R, C) values in [-1, 1] (NaN: a gap, left blank) -> R/2 lines of C cells as segments.

    Half blocks: top pixel as foreground, bottom as background, one segment per run of equal
    cells; ASCII: the pair's mean on ``POS_RAMP`` / ``NEG_RAMP``. R must be even. Segments,
    not a rich ``Text``: a page of tiles has thousands of colour runs, and splitting a Text's
    spans cost ~150 ms a page where building segments costs a few.
    """
    g = np.asarray(grid, np.float32)
    gap = np.isnan(g)
    v = np.clip(np.nan_to_num(g, nan=0.0), -1.0, 1.0)
    cols = g.shape[1]
    blank = gap[0::2] & gap[1::2]  # (rows, cols)
    if ascii_mode:
        mean = 0.5 * (v[0::2] + v[1::2])
        idx = np.minimum(np.rint(np.abs(mean) * (len(POS_RAMP) - 1)).astype(np.int32), len(POS_RAMP) - 1)
        chars = np.where(mean >= 0, np.array(list(POS_RAMP))[idx], np.array(list(NEG_RAMP))[idx])
        chars[blank] = " "
        return [[Segment("".join(r))] for r in chars]
    q = np.rint(v * LEVELS).astype(np.int32) + LEVELS  # 0..2L
    n = 2 * LEVELS + 1
    code = q[0::2] * n + q[1::2]  # (rows, cols): one code per cell (top, bottom)
    code[blank] = -1
    starts = np.ones(code.shape, bool)
    starts[:, 1:] = code[:, 1:] != code[:, :-1]
    r, c = np.nonzero(starts)
    ends = np.empty_like(c)
    ends[:-1] = np.where(r[1:] == r[:-1], c[1:], cols)
    ends[-1:] = cols
    codes = code[r, c]
    lines: list[Line] = [[] for _ in range(code.shape[0])]
    for row, s, e, k in zip(r.tolist(), c.tolist(), ends.tolist(), codes.tolist(), strict=True):
        if k < 0:
            lines[row].append(Segment(" " * (e - s)))
        else:
            lines[row].append(Segment(HALF_BLOCK * (e - s), _pair_style(k // n - LEVELS, k % n - LEVELS)))
    return lines


# ---- pages of tiles ------------------------------------------------------------------------
def tile_cell_size(side: int) -> tuple[int, int]:
    """(columns, lines) one tile takes with its gap and its label line."""
    return side + 1, side // 2 + 1


def page_shape(width: int, height: int, side: int) -> tuple[int, int]:
    """(tile columns, tile rows) that fit in width x height cells, at least 1 x 1."""
    w, h = tile_cell_size(side)
    return max((width + 1) // w, 1), max(height // h, 1)


def tile_blocks(tiles: NDArray[np.floating], cols: int, side: int, ascii_mode: bool = False) -> list[list[Line]]:
    """Tiles (n, side*side) in rows of ``cols``: for each row of tiles its side/2 pixel lines."""
    blocks = []
    for first in range(0, len(tiles), cols):
        chunk = np.asarray(tiles[first : first + cols], np.float32).reshape(-1, side, side)
        grid = np.full((side, len(chunk) * (side + 1) - 1), np.nan, np.float32)
        for i, tile in enumerate(chunk):
            grid[:, i * (side + 1) : i * (side + 1) + side] = tile
        blocks.append(signed_lines(grid, ascii_mode))
    return blocks


def tile_labels(
    labels: Sequence[str],
    cols: int,
    side: int,
    *,
    selected: int | None = None,
    dim: Sequence[bool] = (),
    ascii_mode: bool = False,
) -> list[Line]:
    """One label line per row of ``cols`` tiles (the ``selected`` label reversed, ``dim`` ones dimmed)."""
    bold, faint = Style(bold=True, reverse=True), Style(dim=True)
    lines: list[Line] = []
    for first in range(0, len(labels), cols):
        line: Line = []
        for k in range(first, min(first + cols, len(labels))):
            label = labels[k][:side]
            if k == selected:
                line.append(Segment((f">{label}<" if ascii_mode else label).center(side)[:side], bold))
            else:
                line.append(Segment(label.center(side)[:side], faint if k < len(dim) and dim[k] else None))
            line.append(Segment(" "))
        lines.append(line[:-1])
    return lines


def interleave(blocks: Sequence[list[Line]], labels: Sequence[Line]) -> list[Line]:
    """Each block of pixel lines followed by its label line."""
    return [line for block, label in zip(blocks, labels, strict=True) for line in (*block, label)]


def tile_rows_lines(
    tiles: NDArray[np.floating],
    labels: Sequence[str],
    cols: int,
    side: int,
    *,
    selected: int | None = None,
    dim: Sequence[bool] = (),
    ascii_mode: bool = False,
) -> list[Line]:
    """Tiles (n, side*side) in rows of ``cols``, each with its label below."""
    blocks = tile_blocks(tiles, cols, side, ascii_mode)
    return interleave(blocks, tile_labels(labels, cols, side, selected=selected, dim=dim, ascii_mode=ascii_mode))


def page_blocks(
    data: WeightsData, first: int, count: int, cols: int, side: int, per_tile: bool, ascii_mode: bool
) -> list[list[Line]]:
    """The pixel lines of units first..first+count-1 (they do not depend on the selection)."""
    return tile_blocks(data.tiles[per_tile, side][first : min(first + count, data.hidden)], cols, side, ascii_mode)


def page_labels(
    data: WeightsData, first: int, count: int, cols: int, side: int, selected: int, ascii_mode: bool
) -> list[Line]:
    """The label lines of a page: unit numbers, 'dead' ones dimmed, the ``selected`` unit reversed."""
    units = range(first, min(first + count, data.hidden))
    dead = data.dead
    labels = [f"{j} dead" if dead[j] else str(j) for j in units]
    local = selected - first if first <= selected < first + len(units) else None
    dim = [bool(dead[j]) for j in units]
    return tile_labels(labels, cols, side, selected=local, dim=dim, ascii_mode=ascii_mode)


def page_lines(
    data: WeightsData, first: int, count: int, cols: int, side: int, per_tile: bool, selected: int, ascii_mode: bool
) -> list[Line]:
    """Units first..first+count-1 as tiles; ``selected``: a unit number (highlighted if on the page)."""
    blocks = page_blocks(data, first, count, cols, side, per_tile, ascii_mode)
    return interleave(blocks, page_labels(data, first, count, cols, side, selected, ascii_mode))


def weights_title(data: WeightsData | None, per_tile: bool, compact: bool = False) -> str:
    """'W1 filters · 256 units · 3 dead · scale per tile' (``compact``: 'W1 · 256 units · 3 dead · per tile')."""
    if compact:
        scale = "per tile" if per_tile else "one scale"
    else:
        scale = "scale per tile" if per_tile else "one scale for all"
    if data is None:
        return f"W1 filters · waiting for the weights · {scale}"
    dead = "dead ?" if data.stats is None else f"{data.stats.dead} dead"
    return f"{'W1' if compact else 'W1 filters'} · {data.hidden} units · {dead} · {scale}"


def weights_subtitle(data: WeightsData, page: int, pages: int) -> str:
    """'page 1/6 · 120,000 examples seen'."""
    return f"page {page + 1}/{pages} · {data.examples_seen:,} examples seen"


# ---- one unit ---------------------------------------------------------------------------------
def diverging_bars(
    values: Sequence[float] | NDArray[np.floating[Any]], width: int, scale: float, label: str = ""
) -> list[Text]:
    """One line per value: a bar left (red, negative) or right (blue, positive) of a centre
    line, |v| / scale of half the width; ``label`` heads the column."""
    half = max((width - 1) // 2, 1)
    lines = [Text(label.center(2 * half + 1)[: 2 * half + 1], "bold")] if label else []
    for v in values:
        n = min(round(abs(v) / scale * half), half) if scale > 0 and np.isfinite(v) else 0
        left = ("█" * n).rjust(half) if v < 0 else " " * half
        right = ("█" * n).ljust(half) if v > 0 else " " * half
        lines.append(Text.assemble((left, NEG_STYLE), ("│", "dim"), (right, POS_STYLE)))
    return lines


def unit_header_text(data: WeightsData, unit: int) -> Text:
    """'unit 17  fires on 43.2%' and, dimmed, the validation set it was measured on."""
    out = Text(f"unit {unit}", "bold", no_wrap=True, overflow="crop")
    if data.stats is not None:
        fire = data.stats.firing[unit]
        out.append(f" · fires on {100 * fire:.1f}%" if fire > 0 else " · dead: never fires", "" if fire > 0 else "red")
        out.append(f"\nmean h {data.stats.mean_h[unit]:.3g} · {data.stats.n:,} validation digits", "dim")
    else:
        out.append("\nno validation set: no firing statistics", "dim")
    return out


def unit_filter_lines(data: WeightsData, unit: int, per_tile: bool, ascii_mode: bool) -> list[Line]:
    """The unit's W1 row as one large 28x28 tile (28 cells x 14 lines)."""
    return signed_lines(data.tiles[per_tile, LARGE][unit].reshape(LARGE, LARGE), ascii_mode)


def unit_bars_text(data: WeightsData, unit: int, width: int) -> Text:
    """Outgoing weights W2[:, unit] to the ten classes as bars, and beside them the feedback
    B[:, unit] the variant carries the error back with (when it has one)."""
    w2 = data.W2[:, unit]
    columns = [("W2 out", w2)]
    if data.feedback is not None:
        columns.append(("B back", data.feedback[:, unit]))
    value_w = 7  # " -0.123"
    bar_w = max((width - 2 - len(columns) * (value_w + 1)) // len(columns), 3)
    bars = [diverging_bars(v, bar_w, float(np.abs(v).max())) for _, v in columns]
    out = Text("  ", no_wrap=True, overflow="crop")
    for label, _ in columns:
        out.append(label.center(bar_w)[: bar_w + value_w + 1].ljust(bar_w + value_w + 1), "bold")
    for k in range(len(w2)):
        out.append(f"\n{k} ", "bold")
        for (_, v), col in zip(columns, bars, strict=True):
            out.append_text(col[k])
            out.append(f"{v[k]:+.3f}"[:6].rjust(value_w) + " ")
    if data.feedback is not None:
        out.append(f"\ncos(W2, B) for this unit {_cosine(w2, data.feedback[:, unit]):+.2f}", "dim")
    return out


def _cosine(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else 0.0
