"""The status panel: run state and counters from a ``TrainStatus`` snapshot.

A strip of "label value" items that flows onto as many lines as the width needs
(two at 120 columns, three at 80), btop style; the border title names the
backward-pass variant and the latest angles between its update and the true
gradient (so the strip keeps its height when they appear). The panel only draws what it
is given (numbers as text come from ``tui.format``); the worker computes it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.widget import Widget

from tui.format import format_degrees, format_duration, format_float, format_percent, format_target
from tui.session.events import TrainStatus

if TYPE_CHECKING:
    from textual.timer import Timer

STATE_STYLES = {
    "loading": "bold cyan",
    "running": "bold green",
    "paused": "bold yellow",
    "diverged": "bold red",
    "finished": "bold blue",
    "target": "bold green",
    "solved": "bold green",
    "stopped": "bold magenta",
}
REFRESH_SECONDS = 0.25  # counters redraw at most this often (state changes at once)
DIVERGED_HINT = "diverged: lower the learning rate, then press space"
GAP = "   "


class StatusPanel(Widget):
    """Run state, epoch and step, throughput, time, learning rate, loss and errors."""

    DEFAULT_CSS = """
    StatusPanel { height: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.status = TrainStatus()
        self._shown: TrainStatus | None = None  # what the screen shows while a redraw waits
        self._last_draw = -1e9
        self._timer: Timer | None = None
        self.border_title = "Status"

    def update_status(self, status: TrainStatus) -> None:
        """Show ``status``: at once if the run state changed, else at most every REFRESH_SECONDS.

        (Each redraw costs the UI thread a frame; counters moving 4 times a second read
        just as well as 10, and the training thread gets the time.)
        """
        if status == self.status:
            return
        urgent = status.state != self.status.state
        if self._shown is None:
            self._shown = self.status
        self.status = status
        wait = self._last_draw + REFRESH_SECONDS - time.monotonic()
        if urgent or wait <= 0:
            self._draw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._draw)

    def _draw(self) -> None:
        """Refresh now (a relayout only if the number of lines changes)."""
        self._timer = None
        self._last_draw = time.monotonic()
        title = self.title_markup()
        if title != self.border_title:
            self.border_title = title
        shown, self._shown = self._shown, None
        width = self.content_size.width
        if shown is None or not width:
            self.refresh()
            return
        self.refresh(layout=len(self._lines(width, shown)) != len(self._lines(width)))

    def set_state(self, state: str) -> None:
        """Show a new run state at once (before the worker confirms it)."""
        self.update_status(replace(self.status, state=state))

    # ---- drawing ----------------------------------------------------------------------------
    def title_markup(self, status: TrainStatus | None = None) -> str:
        """'Status · variant exact · ∠W1 0.0° ∠W2 0.0°' (angles once measured), as markup."""
        s = status if status is not None else self.status
        parts = [f"Status · variant [b]{s.variant}[/b]"]
        if s.angles:
            parts.append(" ".join(f"∠{name} [b]{format_degrees(deg)}[/b]" for name, deg in s.angles))
        return " · ".join(parts)

    def items(self, status: TrainStatus | None = None) -> list[Text]:
        """One styled "label value" item per counter, in reading order."""
        s = status if status is not None else self.status
        rate = "--" if s.state != "running" or s.examples_per_second is None else f"{s.examples_per_second:,.0f}"
        epoch = f"{s.epoch:.2f}" + (f" / {s.epochs}" if s.epochs else "")
        pairs = [
            ("epoch", epoch),
            ("step", f"{s.step:,}"),
            ("examples", f"{s.examples_seen:,}"),
            ("examples/s", rate),
            ("elapsed", format_duration(s.elapsed)),
            ("lr", format_float(s.lr)),
            ("train loss", format_float(s.last_loss)),
            ("valid error", format_percent(s.valid_error)),
            ("best valid", format_percent(s.best_valid_error)),
            ("test @ best", format_percent(s.test_error_at_best)),
        ]
        out = [Text(f"● {s.state}", style=STATE_STYLES.get(s.state, "bold"))]
        out += [Text.assemble((f"{label} ", "dim"), (value, "bold")) for label, value in pairs]
        if s.target_error and s.target is None:
            out.append(Text.assemble(("target ", "dim"), (format_percent(s.target_error), "bold")))
        if s.state == "diverged":
            out.append(Text(DIVERGED_HINT, style="bold red"))
        if s.target is not None:  # stays until the run resets or the target changes: the time to target
            hint = "; space trains on" if s.state == "target" else ""
            out.append(Text(format_target(s.target) + hint, style="bold green"))
        return out

    def _lines(self, width: int, status: TrainStatus | None = None) -> list[Text]:
        """Flow the items onto lines of at most ``width`` cells."""
        lines: list[Text] = []
        line = Text()
        for item in self.items(status):
            if line.cell_len and line.cell_len + len(GAP) + item.cell_len > width:
                lines.append(line)
                line = Text()
            if line.cell_len:
                line.append(GAP)
            line.append_text(item)
        lines.append(line)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(max(width, 1)))

    def render(self) -> RenderResult:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(self._lines(max(self.content_size.width, 1))):
            if i:
                text.append("\n")
            text.append_text(line)
        return text
