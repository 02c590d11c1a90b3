"""The digit viewer's state: which misclassified images match the filters, in which order,
and which one is on screen.

``select`` filters and sorts a ``model.analysis.Misclassified``; ``relocate`` decides where
the viewer stands after a new list of mistakes arrives. ``MistakeBrowser`` holds the filters,
order and position and answers what the panel shows (``shown``, ``status_line``). Drawing is
left to ``tui.widgets.digits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from model.analysis import Misclassified

I64 = NDArray[np.int64]

SortOrder = Literal["index", "confident", "unsure"]
#: Sort orders in the order the viewer cycles through them.
SORT_ORDERS: tuple[SortOrder, ...] = ("index", "confident", "unsure")
ORDER_LABELS: dict[SortOrder, str] = {
    "index": "test order",
    "confident": "most confident",
    "unsure": "least confident",
}


def select(
    result: Misclassified,
    true_class: int | None = None,
    pred_class: int | None = None,
    order: SortOrder = "index",
) -> I64:
    """Positions into ``result`` matching the filters, in the requested order.

    order: "index" (set order), "confident" (highest probability of the wrong class
    first) or "unsure" (lowest first). Ties keep set order (stable sort).
    """
    keep = np.ones(len(result), bool)
    if true_class is not None:
        keep &= result.true == true_class
    if pred_class is not None:
        keep &= result.pred == pred_class
    pos = np.flatnonzero(keep).astype(np.int64)
    if order == "index" or len(pos) == 0:
        return pos
    conf = result.confidence[pos]
    key = -conf if order == "confident" else conf
    return pos[np.argsort(key, kind="stable")]


def relocate(selected_rows: I64, old_row: int | None, old_position: int, order: SortOrder) -> int:
    """Where the viewer should stand in a new selection, given what it showed before.

    selected_rows: (M,) set row numbers (``result.indices[selection]``) in display order.
    Stays on the same image if it is still there; in set order moves to the next
    image after it; otherwise keeps the old position, clipped to the new length.
    """
    n = len(selected_rows)
    if n == 0:
        return 0
    if old_row is not None:
        hits = np.flatnonzero(selected_rows == old_row)
        if len(hits):
            return int(hits[0])
        if order == "index":
            return min(int(np.searchsorted(selected_rows, old_row)), n - 1)
    return min(max(old_position, 0), n - 1)


def cycle_class(current: int | None) -> int | None:
    """all -> 0 -> 1 ... -> 9 -> all."""
    if current is None:
        return 0
    return None if current >= 9 else current + 1


@dataclass(frozen=True)
class Shown:
    """The image on screen: its pixels (784,), labels, the model's (10,) probabilities, set row."""

    image: NDArray[np.float32]
    true: int
    pred: int
    probs: tuple[float, ...]
    row: int


class MistakeBrowser:
    """Filters (true and predicted class, None for all), sort order and position in a
    misclassified set; ``selection`` holds positions into ``result`` in display order."""

    def __init__(self) -> None:
        self.result: Misclassified | None = None
        self.true_filter: int | None = None
        self.pred_filter: int | None = None
        self.order: SortOrder = "index"
        self.selection: I64 = np.zeros(0, np.int64)
        self.position = 0

    def __len__(self) -> int:
        """Images matching the filters."""
        return len(self.selection)

    @property
    def current(self) -> int | None:
        """Position into ``result`` of the image on screen, or None."""
        if self.result is None or len(self.selection) == 0:
            return None
        return int(self.selection[self.position])

    @property
    def current_row(self) -> int | None:
        """Row number in the evaluated set of the image on screen, or None."""
        cur = self.current
        return None if cur is None or self.result is None else int(self.result.indices[cur])

    def show(self, result: Misclassified) -> None:
        """Take a new evaluation's misclassified set, staying on the same image if it is still wrong."""
        old_row = self.current_row
        self.result = result
        self.reselect(old_row)

    def reselect(self, old_row: int | None) -> None:
        """Apply the filters and order again, standing on ``old_row`` or its best neighbour."""
        if self.result is None:
            return
        self.selection = select(self.result, self.true_filter, self.pred_filter, self.order)
        rows = self.result.indices[self.selection]
        self.position = relocate(rows, old_row, self.position, self.order)

    def step(self, delta: int) -> bool:
        """Move ``delta`` images, stopping at either end; False when nothing matches."""
        if not len(self.selection):
            return False
        self.position = min(max(self.position + delta, 0), len(self.selection) - 1)
        return True

    def jump(self, where: str) -> bool:
        """Go to the "first" or "last" image; False when nothing matches."""
        if not len(self.selection):
            return False
        self.position = 0 if where == "first" else len(self.selection) - 1
        return True

    def cycle_true(self) -> None:
        self.true_filter = cycle_class(self.true_filter)
        self.reselect(self.current_row)

    def cycle_pred(self) -> None:
        self.pred_filter = cycle_class(self.pred_filter)
        self.reselect(self.current_row)

    def cycle_order(self) -> None:
        """The next sort order, from its first image."""
        self.order = SORT_ORDERS[(SORT_ORDERS.index(self.order) + 1) % len(SORT_ORDERS)]
        self.position = 0
        self.reselect(None)

    def shown(self) -> Shown | None:
        """The image on screen and what is printed beside it, or None."""
        result, cur = self.result, self.current
        if result is None or cur is None:
            return None
        probs = tuple(float(p) for p in result.probs[cur])
        return Shown(result.images[cur], int(result.true[cur]), int(result.pred[cur]), probs, int(result.indices[cur]))

    def status_line(self, compact: bool = False) -> str:
        """'i / N' with the filters and order, e.g. '3 / 41 (of 312) · true 4 · pred all · ...'.

        ``compact`` (for the border): '3/41 · true 4 · pred all · ...'.
        """
        if self.result is None:
            return ""
        n = len(self.selection)
        i = self.position + 1 if n else 0
        of = f" (of {len(self.result)})" if n != len(self.result) else ""
        t = "all" if self.true_filter is None else str(self.true_filter)
        p = "all" if self.pred_filter is None else str(self.pred_filter)
        where = f"{i}/{n}" if compact else f"{i} / {n}{of}"
        return f"{where} · true {t} · pred {p} · {ORDER_LABELS[self.order]}"
