"""The start-up screen: MNIST loading progress, or the one-line reason it failed.

The loading itself runs in the app's thread worker; this screen only shows the
``DataProgress`` it is handed. On failure it shows the reason and the app exits
(status 2) after a key press or a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Center, Middle, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar

if TYPE_CHECKING:
    from model.run import Run


# ---- the app's loader thread -> the app --------------------------------------------------


@dataclass
class DataProgress(Message):
    """The MNIST loader moved on: a message and a fraction in [0, 1] (None: unknown)."""

    text: str
    fraction: float | None


@dataclass
class DataReady(Message):
    """MNIST is loaded and the run opened on it (``note`` says e.g. what was resumed)."""

    run: Run
    note: str = ""


@dataclass
class DataFailed(Message):
    """Loading MNIST (or the checkpoint to resume) failed; ``reason`` is one line."""

    reason: str


class LoadingScreen(Screen[None]):
    """Header, a centred progress box, Footer."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._progress: tuple[str, float | None] | None = None
        self._error: tuple[str, str] | None = None
        self._composed = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Middle(), Center(), Vertical(id="loading-box") as box:
            box.border_title = "Loading MNIST"
            yield Label("starting", id="loading-text")
            yield ProgressBar(total=None, show_eta=False, id="loading-bar")
            yield Label("", id="loading-error")
        yield Footer()

    def on_mount(self) -> None:
        self._composed = True
        if self._progress is not None:
            self.set_progress(*self._progress)
        if self._error is not None:
            self.show_error(*self._error)

    def set_progress(self, text: str, fraction: float | None) -> None:
        """Show ``text`` and ``fraction`` in [0, 1] (None: unknown, an animated bar)."""
        self._progress = (text, fraction)
        if not self._composed:  # the loader can report before the first frame
            return
        self.query_one("#loading-text", Label).update(text)
        bar = self.query_one("#loading-bar", ProgressBar)
        if fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=1.0, progress=fraction)

    def show_error(self, reason: str, exit_hint: str) -> None:
        """Show the one-line ``reason`` and how the app will exit."""
        self._error = (reason, exit_hint)
        if not self._composed:
            return
        self.query_one("#loading-box").border_title = "Cannot start"
        self.query_one("#loading-box").add_class("-failed")
        self.query_one("#loading-bar", ProgressBar).display = False
        self.query_one("#loading-text", Label).update(reason)
        self.query_one("#loading-error", Label).update(exit_hint)
