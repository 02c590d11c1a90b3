"""The challenge list (``c``): every challenge, solved or not, and the best result so far; enter
plays the highlighted one.

Beside the list, the highlighted challenge's story, goal, limits and result (the same words as
``mnist-tui challenges``). Playing one stops the run on the training screen (it is recorded and
finished as on quitting) and opens a new one in the challenge's starting state. The progress is
read from the app's progress file (the session's folder when served); an unreadable file is one
line under the list.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from model.challenges import CHALLENGES, Progress, progress_file, read_progress
from model.challenges.check import goal_text, limits_text
from tui.view.challenge import fixed_text, result_text
from tui.widgets.keybar import KeyBar

SOLVED_MARK = "✓"


class ChallengesScreen(Screen[str | None]):
    """The challenges as a list; ``playing``: the one the training screen plays (marked). It is
    dismissed with the name of the challenge to play (None: back, nothing started)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "close", "Back"),
        Binding("enter", "play", "Play", tooltip="start the highlighted challenge (a new run)"),
    ]

    def __init__(self, playing: str | None = None) -> None:
        super().__init__(id="challenges")
        self.playing = playing
        self.progress: dict[str, Progress] = {}
        self.note = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Challenges: real training problems, started broken. Enter plays one.", id="challenges-title")
        with Horizontal(id="challenges-body"):
            yield OptionList(id="challenges-list")
            yield Static("", id="challenges-detail")
        yield Static("", id="challenges-note")
        yield KeyBar()

    def on_mount(self) -> None:
        path = getattr(self.app, "progress_path", None)  # the app's: the session folder when served
        self.progress, self.note = read_progress(path if path is not None else progress_file())
        options = self.query_one("#challenges-list", OptionList)
        for name, c in CHALLENGES.items():
            p = self.progress.get(name)
            mark = SOLVED_MARK if p is not None and p.solved else " "
            playing = " ●" if name == self.playing else ""
            options.add_option(Option(f"{mark} {c.title}{playing}", id=name))
        names = list(CHALLENGES)
        options.highlighted = names.index(self.playing) if self.playing in names else 0
        options.focus()
        solved = sum(1 for p in self.progress.values() if p.solved)
        self.query_one("#challenges-note", Static).update(self.note or f"{solved} of {len(CHALLENGES)} solved")

    @property
    def highlighted(self) -> str | None:
        options = self.query_one("#challenges-list", OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(OptionList.OptionHighlighted, "#challenges-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id
        if name is not None:
            self.query_one("#challenges-detail", Static).update(self.detail(name))

    @on(OptionList.OptionSelected, "#challenges-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_play()

    def detail(self, name: str) -> str:
        """The challenge's story, goal, limits, fixed settings and result, as plain text."""
        c = CHALLENGES[name]
        lines = [c.title, "", c.story, "", f"Goal: {goal_text(c.goal)} {limits_text(c.limits)}".rstrip()]
        if c.limits.fixed:
            lines.append(f"Fixed: {fixed_text(c)}")
        lines += ["", f"So far: {result_text(self.progress.get(name))}", ""]
        lines.append("Enter starts it: a new run in its starting state (the current one is recorded and stopped).")
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_play(self) -> None:
        if self.highlighted is not None:
            self.dismiss(self.highlighted)
