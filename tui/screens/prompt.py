"""A one-line path prompt (save / load a checkpoint): Enter accepts, Escape cancels.

Every path typed here goes through the one rule for typed paths (``tui.sandbox.check_path``), so a
300-character name is a line under the field, not a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui.sandbox import check_path


class PathPrompt(ModalScreen[str | None]):
    """Ask for a file path; dismisses with the text (stripped, or as ``check`` rewrote it) or None.

    The path rule (``check_path``) and then ``check`` may refuse a path with a ValueError: its text
    replaces the hint and the prompt stays.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, default: str, hint: str = "", check: Callable[[str], str] | None = None) -> None:
        super().__init__(classes="prompt")
        self.title_text = title
        self.default = default
        self.hint = hint
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "enter: ok  esc: cancel"
            yield Input(self.default, id="prompt-input")
            yield Label(self.hint, id="prompt-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()  # selects all: typing replaces the default

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.query_one("#prompt-hint", Label).update("a path is needed (esc cancels)")
            return
        try:
            text = check_path(text)
            if self.check is not None:
                text = self.check(text)
        except ValueError as exc:
            self.query_one("#prompt-hint", Label).update(Content(f"{exc} (esc cancels)"))  # plain text, no markup
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
