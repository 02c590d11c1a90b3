"""The weights panel: W1's rows as tiles, a page at a time, and the selected unit in detail.

``WeightsView.show`` takes a ready ``tui.view.weights.WeightsData``; the view keeps the
selection, the page (the one holding the selection), the scale (per tile or one for all),
the tile size and the ASCII mode, and draws through the ``tui.view.weights`` builders. The
detail column shows the selected unit's filter large, how often it fires on the validation
set, and its outgoing weights W2[:, j] (with the feedback B[:, j] of a variant that has
one) as bars. It computes no statistics itself.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui.view.weights import (
    LARGE,
    SMALL,
    Line,
    WeightsData,
    interleave,
    page_blocks,
    page_labels,
    page_shape,
    unit_bars_text,
    unit_filter_lines,
    unit_header_text,
    weights_subtitle,
    weights_title,
)
from tui.widgets.cells import CellLines

WAITING = "waiting for the first snapshot of the weights…"


class WeightsView(Widget):
    """Tiles of W1's rows (paged) beside the selected unit's detail."""

    DEFAULT_CSS = """
    WeightsView { height: 1fr; }
    WeightsView #w-body { height: 1fr; }
    WeightsView #w-grid-box { width: 1fr; height: 1fr; border: round $primary 50%; border-title-color: $text;
        border-subtitle-color: $text-muted; padding: 0 1; }
    WeightsView #w-detail { width: 44; height: 1fr; border: round $primary 50%; border-title-color: $text;
        padding: 0 1; scrollbar-size-vertical: 1; }
    WeightsView.-narrow #w-detail { width: 32; padding: 0 0 0 1; }
    WeightsView #w-unit-header, WeightsView #w-unit-bars { height: auto; }
    WeightsView #w-unit-filter { margin: 1 0 0 0; }
    WeightsView #w-message { color: $text-muted; height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: WeightsData | None = None
        self.selected = 0
        self.per_tile = True
        self.side = SMALL
        self.ascii_mode = False
        self.per_page = 1
        self.cols = 1
        self._blocks_key: tuple[object, ...] = ()
        self._blocks: list[list[Line]] = []  # pixel lines of the page on screen (reused while only the selection moves)
        self._filter_key: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        with Horizontal(id="w-body"):
            with Vertical(id="w-grid-box"):
                yield Static(WAITING, id="w-message")
                yield CellLines(id="w-tiles")
            with VerticalScroll(id="w-detail", can_focus=False):
                yield Static(id="w-unit-header")
                yield CellLines(id="w-unit-filter")
                yield Static(id="w-unit-bars")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < 110, "-narrow")
        self.call_after_refresh(self._redraw)  # the boxes have their new sizes after the layout

    # ---- state ------------------------------------------------------------------------------
    @property
    def hidden(self) -> int:
        return self.data.hidden if self.data is not None else 0

    @property
    def page(self) -> int:
        return self.selected // max(self.per_page, 1)

    @property
    def pages(self) -> int:
        return max(-(-self.hidden // max(self.per_page, 1)), 1)

    def show(self, data: WeightsData) -> None:
        """New weights (same selection, clamped if the layer shrank)."""
        self.data = data
        self.selected = min(self.selected, max(data.hidden - 1, 0))
        self._redraw()

    def move(self, delta: int) -> None:
        """Move the selection by ``delta`` units (kept inside the layer)."""
        if self.hidden:
            self.selected = min(max(self.selected + delta, 0), self.hidden - 1)
            self._redraw()

    def move_rows(self, rows: int) -> None:
        self.move(rows * self.cols)

    def turn_page(self, delta: int) -> None:
        """The same place on the next (``delta`` 1) or previous (-1) page."""
        if self.hidden:
            page = min(max(self.page + delta, 0), self.pages - 1)
            self.selected = min(page * self.per_page + self.selected % self.per_page, self.hidden - 1)
            self._redraw()

    def toggle_scale(self) -> None:
        self.per_tile = not self.per_tile
        self._redraw()

    def toggle_size(self) -> None:
        self.side = LARGE if self.side == SMALL else SMALL
        self._redraw()

    def toggle_ascii(self) -> None:
        self.ascii_mode = not self.ascii_mode
        self._redraw()

    # ---- drawing ------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if not self.is_mounted:  # also while the Mount handlers run: the first Resize, after them, draws
            return
        box = self.query_one("#w-grid-box")
        size = box.content_size
        self.cols, rows = page_shape(size.width, size.height - (1 if self.data is None else 0), self.side)
        self.per_page = self.cols * rows
        _set_title(box, weights_title(self.data, self.per_tile, compact=self.has_class("-narrow")))
        tiles = self.query_one("#w-tiles", CellLines)
        message = self.query_one("#w-message", Static)
        detail = self.query_one("#w-detail")
        data = self.data
        message.display = data is None
        if data is None:
            tiles.set_lines([])
            return
        _set_title(box, weights_subtitle(data, self.page, self.pages), subtitle=True)
        first = self.page * self.per_page
        key = (id(data), first, self.per_page, self.cols, self.side, self.per_tile, self.ascii_mode)
        if key != self._blocks_key:
            self._blocks_key = key
            self._blocks = page_blocks(data, first, self.per_page, self.cols, self.side, self.per_tile, self.ascii_mode)
        labels = page_labels(data, first, self.per_page, self.cols, self.side, self.selected, self.ascii_mode)
        tiles.set_lines(interleave(self._blocks, labels))
        _set_title(detail, f"Unit {self.selected}")
        _update(self.query_one("#w-unit-header", Static), unit_header_text(data, self.selected))
        filter_key = (id(data), self.selected, self.per_tile, self.ascii_mode)
        if filter_key != self._filter_key:
            self._filter_key = filter_key
            self.query_one("#w-unit-filter", CellLines).set_lines(
                unit_filter_lines(data, self.selected, self.per_tile, self.ascii_mode)
            )
        _update(self.query_one("#w-unit-bars", Static), unit_bars_text(data, self.selected, detail.content_size.width))


def _set_title(widget: Widget, title: str, subtitle: bool = False) -> None:
    """Set a border (sub)title only when it changes (each set repaints the whole box)."""
    if subtitle:
        if widget.border_subtitle != title:
            widget.border_subtitle = title
    elif widget.border_title != title:
        widget.border_title = title


def _update(static: Static, text: Text) -> None:
    """Update ``static``; relayout only when its number of lines changes (a layout repaints the screen)."""
    lines = text.plain.count("\n") + 1
    static.update(text, layout=lines != getattr(static, "_shown_lines", None))
    static._shown_lines = lines  # type: ignore[attr-defined]
