"""The Challenge panel: the story, the goal, how far the run is from it, the hints revealed so
far, and the outcome. It draws the rows ``tui.view.challenge`` computes; ``i`` (a main-screen key)
reveals the next hint.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from tui.view.challenge import ChallengeState, panel_rows, panel_title

if TYPE_CHECKING:
    from model.challenges import Challenge
    from tui.session.events import ChallengeUpdate, TrainStatus

USAGE_SECONDS = 0.5  # the live "epoch 0.42 of 1" line redraws at most this often
LABEL_WIDTH = 6


class ChallengePanel(Widget):
    """One challenge's panel; ``show_update`` and ``show_status`` feed it, ``next_hint`` reveals."""

    DEFAULT_CSS = """
    ChallengePanel { height: auto; border: round $accent; padding: 0 1; }
    ChallengePanel.-solved { border: round $success; }
    ChallengePanel.-over { border: round $error; }
    """

    def __init__(self, challenge: Challenge, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = ChallengeState(challenge)
        self._drawn = 0.0
        self.border_title = panel_title(self.state)

    @property
    def challenge(self) -> Challenge:
        return self.state.challenge

    def render(self) -> RenderResult:
        table = Table.grid(padding=(0, 1))
        table.add_column(width=LABEL_WIDTH, style="dim")
        table.add_column(ratio=1)
        for label, text, style in panel_rows(self.state):
            table.add_row(label, Text(text, style=style))
        return Group(Text(self.challenge.story), table)

    def text(self) -> str:
        """The story and the rows as plain text (for tests and captures)."""
        rows = (f"{label:<{LABEL_WIDTH}} {text}".rstrip() for label, text, _ in panel_rows(self.state))
        return "\n".join([self.challenge.story, *rows])

    def show_update(self, update: ChallengeUpdate) -> None:
        self.state.update = update
        verdict = update.verdict
        self.set_class(verdict.is_solved, "-solved")
        self.set_class(not verdict.is_solved and (bool(verdict.broken) or update.spent), "-over")
        self.border_title = panel_title(self.state)
        self.refresh(layout=True)

    def show_status(self, status: TrainStatus) -> None:
        """The run's counters: the limits used so far (redrawn at most every USAGE_SECONDS)."""
        self.state.status = status
        now = time.monotonic()
        if now - self._drawn >= USAGE_SECONDS:
            self._drawn = now
            self.refresh()

    def next_hint(self) -> bool:
        """Reveal the next hint; False when every hint is shown already."""
        if self.state.hints >= len(self.challenge.hints):
            return False
        self.state.hints += 1
        self.refresh(layout=True)
        self.call_after_refresh(self.scroll_visible)
        return True
