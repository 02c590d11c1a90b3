"""The "why this prediction?" panel: one digit, its ten logits, and the units behind them.

``WhyView.show`` takes a ready ``tui.view.why.WhyData`` and the digit's pixels; it draws the
digit, the logits as bars, and for the predicted and the true class the hidden units that add
most to that class's logit (their W1 filters as small tiles, labelled with h_j x W2[k, j]).
It computes nothing itself.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui.view.digit_render import render_ascii, render_halfblock
from tui.view.weights import SMALL, page_shape
from tui.view.why import WhyData, logits_text, summary_text, units_lines, units_title
from tui.widgets.cells import CellLines

WAITING = "waiting for a snapshot of the weights…"


class WhyView(Widget):
    """A digit, its logits and the hidden units that push towards its predicted and true class."""

    DEFAULT_CSS = """
    WhyView { height: 1fr; }
    WhyView #why-body { height: 1fr; border: round $primary 50%; border-title-color: $text; padding: 0 1;
        scrollbar-size-vertical: 1; }
    WhyView #why-top { height: auto; }
    WhyView #why-digit { width: 28; height: 14; margin-right: 2; }
    WhyView #why-side { width: 1fr; height: auto; }
    WhyView #why-summary, WhyView #why-logits { height: auto; }
    WhyView #why-logits { margin-top: 1; max-width: 64; }
    WhyView .why-title { height: auto; margin-top: 1; }
    """

    def __init__(self, image: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image = image  # (784,) pixels of the digit
        self.data: WhyData | None = None
        self.ascii_mode = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="why-body", can_focus=False) as body:
            body.border_title = "Why this prediction?"
            with Horizontal(id="why-top"):
                yield Static(id="why-digit")
                with Vertical(id="why-side"):
                    yield Static(WAITING, id="why-summary")
                    yield Static(id="why-logits")
            yield Static(id="why-pred-title", classes="why-title")
            yield CellLines(id="why-pred")
            yield Static(id="why-true-title", classes="why-title")
            yield CellLines(id="why-true")

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._redraw)

    def show(self, data: WhyData) -> None:
        self.data = data
        self._redraw()

    def toggle_ascii(self) -> None:
        self.ascii_mode = not self.ascii_mode
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:  # also while the Mount handlers run: the first Resize, after them, draws
            return
        digit = render_ascii(self.image) if self.ascii_mode else render_halfblock(self.image)
        self.query_one("#why-digit", Static).update(digit)
        data = self.data
        if data is None:
            return
        body = self.query_one("#why-body")
        width = body.content_size.width
        e = data.explanation
        body.border_subtitle = "the model is right on it now" if e.pred == e.true else ""
        self.query_one("#why-summary", Static).update(summary_text(data))
        side = self.query_one("#why-side")
        self.query_one("#why-logits", Static).update(logits_text(data, min(side.content_size.width, 64)))
        cols, _ = page_shape(width, 1, SMALL)
        self.query_one("#why-pred-title", Static).update(units_title(data, "pred"))
        self.query_one("#why-pred", CellLines).set_lines(units_lines(data, "pred", cols, self.ascii_mode))
        same = e.pred == e.true
        for name in ("#why-true-title", "#why-true"):
            self.query_one(name).display = not same
        if not same:
            self.query_one("#why-true-title", Static).update(units_title(data, "true"))
            self.query_one("#why-true", CellLines).set_lines(units_lines(data, "true", cols, self.ascii_mode))
