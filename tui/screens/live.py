"""Screens that look at the live weights: they ask the worker for snapshots while shown.

``LiveScreen`` watches its host's weight snapshots on mount (and stops on unmount), asks the
host (``TrainingHost.request_weights``) for a copy of the weights every
``SNAPSHOT_SECONDS`` and hands each one tagged for it to ``snapshot_arrived`` (held back
while keys are coming, so a redraw of the new weights never delays a key). Work heavier
than a key press (a pass over the validation set) runs in a thread through ``compute`` and
comes back as a ``Computed`` message, so the UI thread only draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header

from tui.errorlog import summary
from tui.session.events import WeightsSnapshot
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from tui.screens.host import TrainingHost

#: Seconds between snapshots while a live screen is shown (a copy of the weights, and for
#: the weights screen one forward pass over the validation set on a helper thread).
SNAPSHOT_SECONDS = 1.5
#: A new snapshot is drawn only once no key has come for this long: redrawing a whole page
#: of tiles while keys arrive doubled their latency (p50 47 -> 140 ms, measured in a pty).
QUIET_SECONDS = 0.4


class LiveScreen(Screen[None]):
    """A full screen fed with snapshots of the live weights while it is open."""

    TAG: ClassVar[str] = "live"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back")]

    class Computed(Message):
        """A result of ``compute`` (or the one-line reason it failed)."""

        def __init__(self, result: Any, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, host: TrainingHost, *, live: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.host = host
        self.live = live
        self.snapshot: WeightsSnapshot | None = None
        self.snapshots = 0  # received so far
        self._last_key = -1e9
        self._held: Callable[[], None] | None = None  # a redraw waiting for the keys to pause

    def compose_frame(self) -> ComposeResult:
        yield Header()
        yield KeyBar()

    def on_mount(self) -> None:
        self.host.watch_weights(self._received)
        self.request_snapshot()
        if self.live:
            self.set_interval(SNAPSHOT_SECONDS, self.request_snapshot)

    def on_unmount(self) -> None:
        self.host.unwatch_weights(self._received)

    def request_snapshot(self) -> None:
        """Ask the worker for a copy of the weights (it answers between two steps)."""
        self.host.request_weights(self.TAG)

    def validation(self) -> tuple[Any, Any] | None:
        """The validation set (X (N, 784), y (N,)) the trainer evaluates on, if there is one."""
        return self.host.data_set("valid")

    def on_key(self, event: events.Key) -> None:
        self._last_key = time.monotonic()

    def when_quiet(self, draw: Callable[[], None]) -> None:
        """Run ``draw`` now, or once no key has come for ``QUIET_SECONDS`` (a newer one replaces it)."""
        wait = self._last_key + QUIET_SECONDS - time.monotonic()
        if wait <= 0:
            self._held = None
            draw()
            return
        pending = self._held is not None
        self._held = draw
        if not pending:
            self.set_timer(wait, self._quiet_check)

    def _quiet_check(self) -> None:
        draw, self._held = self._held, None
        if draw is not None and self.is_attached:
            self.when_quiet(draw)

    def _received(self, snapshot: WeightsSnapshot) -> None:
        if snapshot.tag == self.TAG and self.is_attached:
            self.snapshot = snapshot
            self.snapshots += 1
            self.when_quiet(partial(self.snapshot_arrived, snapshot))

    def snapshot_arrived(self, snapshot: WeightsSnapshot) -> None:
        """A new copy of the weights (UI thread)."""

    @work(thread=True, exclusive=True, exit_on_error=False, group="live-compute")
    def compute(self, function: Callable[[], Any]) -> None:
        """Run ``function`` on a helper thread; its result comes back as ``Computed``."""
        try:
            result = function()
        except Exception as exc:  # shown as one line; the screen keeps its last result
            self.post_message(self.Computed(None, summary(exc)))
            return
        self.post_message(self.Computed(result))

    def on_live_screen_computed(self, message: Computed) -> None:
        if message.error:
            self.notify(message.error, severity="error")
        else:
            self.when_quiet(partial(self.computed, message.result))

    def computed(self, result: Any) -> None:
        """The result of ``compute`` (UI thread)."""

    def action_close(self) -> None:
        self.dismiss(None)
