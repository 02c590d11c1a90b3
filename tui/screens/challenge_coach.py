"""``ChallengeCoach``: the challenges on the training screen.

When the run plays a challenge (``mnist-tui --challenge NAME``, or one picked from the list), its
panel takes the gradient check's place (tab 3 on small screens), the settings it fixes are locked
in the controls, ``i`` reveals its next hint, and where it stands comes from the worker's thread
as events for the screen's feed. ``c`` opens the list of every challenge; the one picked starts a
run of its own (the app's ``start_challenge``). Leaves out the panel's drawing
(``tui.widgets.challenge``) and the judging (``model.challenges``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tui.session.events import ChallengeUpdate, Notice, WorkerEvent

if TYPE_CHECKING:
    from textual.app import App

    from model.challenges.play import ChallengePlay
    from tui.widgets.challenge import ChallengePanel
    from tui.widgets.controls import ControlsPanel
    from tui.widgets.panel_tabs import PanelTabs


class Screen(Protocol):
    """The training screen as the challenge coach sees it."""

    @property
    def app(self) -> App[Any]: ...
    @property
    def controls(self) -> ControlsPanel: ...
    @property
    def panel_tabs(self) -> PanelTabs: ...
    @property
    def challenge_panel(self) -> ChallengePanel | None: ...
    def add_class(self, *class_names: str, update: bool = ...) -> Any: ...
    def refresh_bindings(self) -> None: ...


class ChallengeCoach:
    """``screen``'s challenge keys; ``play``: the challenge the run plays (None: it plays none),
    whose progress goes to ``post`` (the feed's, callable from the worker's thread)."""

    def __init__(self, screen: Screen, play: ChallengePlay | None, post: Callable[[WorkerEvent], None]) -> None:
        self.screen = screen
        self.play = play
        if play is not None:  # where it stands, from the worker thread
            play.on_update.append(lambda p, solved: post(ChallengeUpdate.of(p, solved)))
            play.set_warn(lambda text: post(Notice(text, "warning")))

    def show(self) -> None:
        """The challenge's panel in the gradient check's place, its fixed settings locked."""
        screen, play, panel = self.screen, self.play, self.screen.challenge_panel
        if play is None or panel is None:
            return
        challenge = play.challenge
        screen.add_class("-challenge")
        screen.panel_tabs.relabel("gradcheck", "3 Goal")  # "3 Challenge" ran 2 columns past the strip at 80
        screen.controls.lock_fields(challenge.fixed_values(), f"fixed by the challenge {challenge.name}")
        screen.panel_tabs.show_panel("gradcheck")  # on small screens the challenge's tab comes first
        panel.show_update(ChallengeUpdate.of(play))

    def can_hint(self) -> bool | None:
        """``i``: hidden without a challenge, greyed out once every hint is shown."""
        panel = self.screen.challenge_panel
        if panel is None:
            return False
        return True if panel.state.hints < len(panel.challenge.hints) else None

    def hint(self) -> None:
        """Reveal the next hint (on small screens the challenge's panel comes to the front)."""
        screen, panel = self.screen, self.screen.challenge_panel
        if panel is not None and panel.next_hint():
            if screen.panel_tabs.compact:
                screen.panel_tabs.show_panel("gradcheck")
            screen.refresh_bindings()

    def pick(self) -> None:
        """The challenge list; the one picked starts (the app opens a new run for it)."""
        from model.challenges import get_challenge
        from tui.screens.challenges import ChallengesScreen

        app = self.screen.app

        def play(name: str | None) -> None:
            start = getattr(app, "start_challenge", None)
            if name is not None and start is not None:
                start(get_challenge(name))

        playing = self.play.challenge.name if self.play is not None else None
        app.push_screen(ChallengesScreen(playing), play)
