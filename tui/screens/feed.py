"""``PanelFeed``: the training worker's events, routed to the main screen's panels.

``post`` is the worker's callback: from any thread, it hands the event to the UI thread without
blocking. Each event (``tui.session.events``) goes to the panels that show it: losses and angles to the
charts, evaluations to the charts, the status and (at most every ``DIGITS_SECONDS``) the digit
viewer, settings to the controls and markers, a reset or load to everything, notices as
notifications, where a challenge stands to its panel (with a notification at the solve, and when
nothing more can count). The weight snapshots go to the screens that watch them (``ScreenHost``). Leaves
out the keys (``tui.screens.main``) and the worker itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from textual.types import NoActiveAppError

from model.config import ARCHITECTURE_FIELDS
from model.variants import VARIANT_OPTIONS
from tui.format import format_value
from tui.session.events import (
    ChallengeUpdate,
    CheckpointSaved,
    Diverged,
    Evaluated,
    GradCheckDone,
    HParamsApplied,
    Notice,
    RunReset,
    TrainProgress,
    TrainStatus,
    WeightsSnapshot,
    WorkerEvent,
    WorkerFailed,
)
from tui.widgets.controls import label_for

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

    from model.analysis import Misclassified
    from tui.screens.host import ScreenHost
    from tui.widgets.challenge import ChallengePanel
    from tui.widgets.charts import ChartsPanel
    from tui.widgets.controls import ControlsPanel
    from tui.widgets.digits import MisclassifiedPanel
    from tui.widgets.gradcheck import GradCheckPanel
    from tui.widgets.status import StatusPanel

DIGITS_SECONDS = 0.5  # the digit viewer gets a new result at most this often


class Panels(Protocol):
    """The training screen as the feed sees it: its panels and what a screen can do."""

    last_checkpoint: str

    @property
    def status(self) -> StatusPanel: ...
    @property
    def charts(self) -> ChartsPanel: ...
    @property
    def controls(self) -> ControlsPanel: ...
    @property
    def digits(self) -> MisclassifiedPanel: ...
    @property
    def gradcheck(self) -> GradCheckPanel: ...
    @property
    def challenge_panel(self) -> ChallengePanel | None: ...
    @property
    def host(self) -> ScreenHost: ...
    @property
    def angles_always(self) -> bool: ...
    @property
    def is_attached(self) -> bool: ...
    @property
    def is_current(self) -> bool: ...
    @property
    def app(self) -> App[Any]: ...
    def notify(self, message: str, *, title: str = ..., severity: Any = ..., timeout: float | None = ...) -> None: ...
    def set_timer(self, delay: float, callback: Callable[[], object]) -> Timer: ...
    def call_later(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> bool: ...
    def call_after_refresh(self, callback: Callable[[], object]) -> bool: ...
    def refresh_bindings(self) -> None: ...


class PanelFeed:
    """Routes the worker's events to ``screen``'s panels (UI thread)."""

    def __init__(self, screen: Panels) -> None:
        self.screen = screen
        self.state = "loading"  # the run state the key bar was last built for
        self.digits_pending: Misclassified | None = None
        self._digits_shown = -1e9
        self._digits_timer: Timer | None = None
        self._routes: dict[type, Callable[[Any], None]] = {
            TrainProgress: self._progress,
            Evaluated: self._evaluated,
            HParamsApplied: self._hparams_applied,
            RunReset: self._run_reset,
            Diverged: self._diverged,
            WorkerFailed: self._worker_failed,
            GradCheckDone: self._gradcheck_done,
            CheckpointSaved: self._saved,
            Notice: self._notice,
            WeightsSnapshot: self._weights_snapshot,
            ChallengeUpdate: self._challenge,
        }

    def post(self, event: WorkerEvent) -> None:
        """The worker's callback (any thread): ``event`` is routed on the UI thread, the worker does
        not wait. Once the app has shut down (its screens gone before the worker stops) it is dropped."""
        with contextlib.suppress(NoActiveAppError):  # from the worker's thread, after the app let go of it
            self.screen.call_later(self._arrived, event)

    def _arrived(self, event: WorkerEvent) -> None:
        if self.screen.is_attached and self.screen.app.is_running:
            self.route(event)

    def route(self, event: WorkerEvent) -> None:
        self._routes[type(event)](event)

    def set_state(self, state: str) -> None:
        """A key changed the run state: show it now, relabel the key bar on the frame after.

        (The key bar rebuilds its keys and relayouts the screen; doing that first would
        hold back the status change by a layout pass.)
        """
        self.screen.status.set_state(state)
        if state != self.state:
            self.state = state
            self.screen.call_after_refresh(self.screen.refresh_bindings)

    def _show_status(self, status: TrainStatus) -> None:
        self.screen.status.update_status(status)
        panel = self.screen.challenge_panel
        if panel is not None:
            panel.show_status(status)
        if status.state != self.state:
            self.state = status.state
            self.screen.refresh_bindings()

    def _progress(self, message: TrainProgress) -> None:
        charts = self.screen.charts
        if message.examples:
            charts.append_losses(message.examples, message.losses, last_step=message.status.step)
        if message.angles:
            charts.append_angles(message.angles)
        self._show_status(message.status)

    def _evaluated(self, message: Evaluated) -> None:
        results = message.metrics.results
        errors: dict[str, float] = {name: results[name][1] for name in ("train", "valid") if name in results}
        with self.screen.app.batch_update():
            self.screen.charts.append_errors(message.metrics.examples_seen, errors)
            if message.misclassified is not None:
                self.show_digits(message.misclassified)
            self.screen.status.border_subtitle = ""
            self._show_status(message.status)

    def show_digits(self, result: Misclassified | None = None) -> None:
        """Hand the newest misclassified set to the viewer, at most every DIGITS_SECONDS.

        Tiny epochs can finish many times a second; the viewer redraws fully on each
        ``show``, so results in between are dropped (the latest always arrives).
        """
        screen = self.screen
        if result is not None:
            self.digits_pending = result
        if self.digits_pending is None or not screen.is_attached or not screen.is_current:
            return  # under another screen (the drawing pad) the redraw waits for the way back
        wait = self._digits_shown + DIGITS_SECONDS - time.monotonic()
        if wait > 0:
            if self._digits_timer is None:
                self._digits_timer = screen.set_timer(wait, self._digits_due)
            return
        self._digits_shown = time.monotonic()
        screen.digits.show(self.digits_pending)
        self.digits_pending = None

    def _digits_due(self) -> None:
        self._digits_timer = None
        self.show_digits()

    def _hparams_applied(self, message: HParamsApplied) -> None:
        screen = self.screen
        shown = [
            f"{label_for(k)} {format_value(v)}" for k, v in message.changes.items() if k not in ARCHITECTURE_FIELDS
        ]
        if shown:
            screen.charts.add_marker(message.examples_seen, ", ".join(shown))
        screen.controls.show_values(message.changes)
        screen.controls.show_pending(message.pending)
        if {"variant", *VARIANT_OPTIONS} & message.changes.keys():
            screen.gradcheck.mark_stale(f"checked before the switch to {message.hp.variant}")
        if message.hp.variant != "exact":
            screen.charts.show_angles()

    def _run_reset(self, message: RunReset) -> None:
        screen = self.screen
        with screen.app.batch_update():
            screen.charts.clear()
            screen.charts.show_angles(screen.angles_always or message.hp.variant != "exact")
            screen.gradcheck.mark_stale("new weights" if message.source == "reset" else message.source)
            if message.source == "reset":
                screen.controls.show_pending(())
            else:
                screen.controls.set_hparams(message.hp)
                screen.charts.add_marker(message.status.examples_seen, message.source)
                screen.notify(message.source)
            self._show_status(message.status)

    def _diverged(self, message: Diverged) -> None:
        self.screen.charts.mark_diverged(message.examples_seen)
        self._show_status(message.status)
        self.screen.notify(
            "Training diverged (the loss exploded): the last good weights are back; "
            "lower the learning rate and press space.",
            severity="warning",
            timeout=8,
        )

    def _worker_failed(self, message: WorkerFailed) -> None:
        from tui.screens.error import ErrorScreen

        self.set_state("stopped")
        hint = "Training stopped; the app still works: save (s), change settings, reset (r) or retry (space)."
        error = ErrorScreen("Training stopped", message.summary, message.detail, message.log_path, hint)
        self.screen.app.push_screen(error)

    def _gradcheck_done(self, message: GradCheckDone) -> None:
        if message.error:
            self.screen.notify(f"gradient check failed: {message.error}", severity="error")
        self.screen.gradcheck.show_reports(message.toy, message.live)
        self.screen.refresh_bindings()

    def _saved(self, message: CheckpointSaved) -> None:
        self.screen.last_checkpoint = message.path
        self.screen.notify(f"saved {message.path}")

    def _weights_snapshot(self, snapshot: WeightsSnapshot) -> None:
        self.screen.host.deliver(snapshot)

    def _challenge(self, message: ChallengeUpdate) -> None:
        from model.challenges.check import solved_text
        from tui.view.challenge import over_text

        panel = self.screen.challenge_panel
        if panel is None:
            return
        was_over = panel.has_class("-over")
        panel.show_update(message)
        challenge = panel.challenge
        if message.solved_now and message.verdict.solved is not None:
            self.screen.notify(
                f"Solved! {solved_text(challenge.goal, message.verdict.solved)}; space trains on",
                title=f"Challenge {challenge.title}",
                timeout=15,
            )
        elif panel.has_class("-over") and not was_over:
            self.screen.notify(f"Nothing more counts: {over_text(challenge, message)}", severity="warning")

    def _notice(self, message: Notice) -> None:
        self.screen.notify(message.text, severity=message.severity, timeout=message.timeout)
        self.screen.refresh_bindings()
