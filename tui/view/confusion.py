"""The confusion matrix as text: rows true, columns predicted, per-class error on the right.

A pure function of the (k, k) counts; the digit viewer (``tui.widgets.digits``) shows it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from rich.text import Text

from model.analysis import per_class_error


def _cell_width(values: NDArray[np.int64]) -> int:
    """Columns for a count cell: the widest number plus one space, at least 3."""
    return max(len(str(int(values.max(initial=0)))) + 1, 3)


def confusion_width(confusion: NDArray[np.int64]) -> int:
    """Columns the full matrix needs: row label, k count cells, error column."""
    return 3 + int(confusion.shape[0]) * _cell_width(confusion) + 6


def confusion_text(
    confusion: NDArray[np.int64], highlight: tuple[int, int] | None = None, width: int | None = None
) -> Text:
    """The (k, k) matrix as text: rows true, columns predicted, per-class error on the right.

    When the full matrix is wider than ``width``, the diagonal (correct) counts become a
    green mark, so the cells only need room for the errors.
    """
    k = confusion.shape[0]
    err = per_class_error(confusion)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    compact = width is not None and confusion_width(confusion) > width
    cw = _cell_width(off) if compact else _cell_width(confusion)
    worst = max(int(off.max(initial=0)), 1)
    text = Text(no_wrap=True, overflow="crop")
    text.append("t\\p", style="dim")
    for j in range(k):
        text.append(f"{j:>{cw}}", style="bold")
    text.append("   err\n", style="dim")
    for i in range(k):
        text.append(f"{i:>3}", style="bold")
        for j in range(k):
            n = int(confusion[i, j])
            cell = f"{'■' if compact and i == j else n if n else '·':>{cw}}"
            if i == j:
                style = "bold green"
            elif n == 0:
                style = "dim"
            elif n >= max(worst // 2, 2):
                style = "bold red"
            elif n >= max(worst // 5, 1):
                style = "yellow"
            else:
                style = ""
            if highlight == (i, j):
                style = f"{style} reverse".strip()
            text.append(cell, style=style)
        e = err[i]
        text.append("    -\n" if np.isnan(e) else f"{100 * e:5.1f}%\n", style="dim" if e < 0.05 else "")
    legend = "rows: true · columns: predicted" + (" · ■ correct" if compact else "")
    text.append(legend, style="dim")
    return text
