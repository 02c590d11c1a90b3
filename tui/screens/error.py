"""A modal that reports an unexpected error: one line, where the full report is, the traceback folded."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Collapsible, Label, Static


class ErrorScreen(ModalScreen[None]):
    """``summary`` (one line), ``log_path`` (or None) and ``detail`` (the traceback) in a Collapsible."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    #error-box {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; padding: 0 1; background: $surface;
    }
    #error-summary { text-style: bold; }
    #error-hint, #error-log { color: $text-muted; }
    #error-detail { height: auto; max-height: 20; }
    """

    def __init__(self, title: str, summary: str, detail: str, log_path: str | None, hint: str = "") -> None:
        super().__init__()
        self.title_text, self.summary, self.detail, self.log_path, self.hint = title, summary, detail, log_path, hint

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "esc: close"
            yield Label(self.summary, id="error-summary", markup=False)
            where = f"full report: {self.log_path}" if self.log_path else "(no log file could be written)"
            yield Label(where, id="error-log", markup=False)
            with (
                Collapsible(title="Details", collapsed=True, id="error-collapsible"),
                VerticalScroll(id="error-detail"),
            ):
                yield Static(self.detail, markup=False)
            if self.hint:
                yield Label(self.hint, id="error-hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
