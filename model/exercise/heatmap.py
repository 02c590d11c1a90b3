"""A small text heat map of one parameter's relative errors, for a terminal.

Each entry becomes two characters (a square-ish cell) on a ramp from "agrees" to "off by 10% or
more", with row and column numbers, so a student sees *which* rows or columns disagree (a
whole row: one hidden unit; a whole column: one input). Plain text, no colour: the caller may
colour it. Leaves out which parameter to show (``diagnose``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from model.exercise.report import HeatMap

#: (upper bound of the relative error, cell): the first bound an entry is below picks its cell.
LEVELS = ((1e-3, "░░"), (1e-2, "▒▒"), (1e-1, "▓▓"), (np.inf, "██"))
AGREES = "··"
#: Largest grid drawn cell by cell; bigger parameters are shown by their worst rows and columns.
MAX_ROWS, MAX_COLS = 16, 24


def _cell(rel: float, tolerance: float) -> str:
    if not np.isfinite(rel):
        return "!!"
    if rel <= tolerance:
        return AGREES
    return next(cell for bound, cell in LEVELS if rel < bound)


def _column_numbers(cols: NDArray[np.intp], indent: int) -> list[str]:
    """Column numbers over two-character cells, their digits stacked when they have several."""
    width = len(str(int(cols.max())))
    texts = [f"{int(c):>{width}}" for c in cols]
    return [" " * indent + "".join(f"{t[i]} " for t in texts) for i in range(width)]


def heat_map(name: str, rel: NDArray[np.float64], tolerance: float) -> HeatMap:
    """The heat map of ``rel`` (the relative error of each entry of parameter ``name``: (n,) or (r, c));
    entries within ``tolerance`` show as agreeing. Larger arrays keep their worst rows and columns."""
    grid = np.atleast_2d(np.asarray(rel, np.float64))
    rows, cols = np.arange(grid.shape[0]), np.arange(grid.shape[1])
    worst = np.where(np.isfinite(grid), grid, np.inf)
    if len(rows) > MAX_ROWS:
        rows = np.sort(np.argsort(-worst.max(axis=1), kind="stable")[:MAX_ROWS])
    if len(cols) > MAX_COLS:
        cols = np.sort(np.argsort(-worst.max(axis=0), kind="stable")[:MAX_COLS])
    label_w = len(str(int(rows[-1])))
    header = _column_numbers(cols, label_w + 1)
    lines = list(header) if grid.shape[0] > 1 else []
    for r in rows:
        cells = "".join(_cell(float(grid[r, c]), tolerance) for c in cols)
        lines.append(f"{int(r):>{label_w}} {cells}" if grid.shape[0] > 1 else " " * (label_w + 1) + cells)
    if grid.shape[0] == 1:  # a vector: its entry numbers under it
        lines += header
    legend = f"{AGREES} within tolerance  " + "  ".join(
        f"{cell} < {bound:g}" if np.isfinite(bound) else f"{cell} ≥ {LEVELS[-2][0]:g}" for bound, cell in LEVELS
    )
    if len(rows) < grid.shape[0] or len(cols) < grid.shape[1]:
        legend += f"  (the worst {len(rows)} rows and {len(cols)} columns of {grid.shape[0]} by {grid.shape[1]})"
    lines.append(legend)
    return HeatMap(name, tuple(int(n) for n in np.shape(rel)), tuple(lines))
