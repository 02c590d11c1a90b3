"""The help screen: every key binding of the app, the controls and the panels.

``help_sections`` builds its content from the ``BINDINGS`` of every screen and panel, so it
cannot drift from the real keys. Escape, ``q`` or ``?`` close it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

#: Keys handled inside a controls field (they are not Bindings of one class).
FIELD_KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "next / previous field or panel"),
    ("up / down", "previous / next field"),
    ("type, enter", "set the value (a bad one is refused)"),
    ("] / [", "nudge the value up / down:"),
    ("", "lr, weight decay x/÷ 10^(1/4)"),
    ("", "momentum, lr decay: halve/double 1-v"),
    ("", "batch size, hidden units x2/÷2"),
    ("", "target error +/-0.005 (type 0.02 or 2%)"),
    ("", "other numbers +1/-1; choices cycle"),
    ("escape", "leave the field (shortcuts work again)"),
)


def key_label(key: str) -> str:
    """'question_mark' -> '?', 'space' -> 'space', 'ctrl+p' -> 'ctrl+p'."""
    names = {
        "question_mark": "?",
        "plus": "+",
        "minus": "-",
        "escape": "esc",
        "right_square_bracket": "]",
        "left_square_bracket": "[",
        "pagedown": "pgdn",
        "pageup": "pgup",
    }
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def binding_rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(key, description) for each Binding with a description (its tooltip, if it has one)."""
    rows = []
    for b in bindings:
        if isinstance(b, Binding) and b.description:
            rows.append((key_label(b.key), b.tooltip or b.description))
    return rows


#: One section of the help: its title and its (key, description) rows.
Section = tuple[str, list[tuple[str, str]]]

#: What differs when the app is served to a browser (the help's second section there).
BROWSER_ROWS = [
    ("s / l", "names inside this session's folder only (no absolute paths, no '..')"),
    ("ctrl+w ctrl+t", "kept by the browser, never reach the app (it binds none of them)"),
    ("clipboard", "the browser's own: copy and paste go through it, not the app"),
    ("quit", "q or closing the tab ends this session's app (its folder is kept)"),
]


def help_sections(app_bindings: Sequence[BindingType], *, student: bool = False, served: bool = False) -> list[Section]:
    """Every key, grouped by where it works: the training screen's with the app's ``app_bindings``,
    the controls fields', the panels' and every screen's over it. ``student`` (``--backprop FILE``)
    adds the keys of the student's check; ``served`` (in a browser) what differs there."""
    from tui.screens.challenges import ChallengesScreen
    from tui.screens.main import MainScreen
    from tui.screens.math import MathScreen
    from tui.screens.pad import DrawPadScreen
    from tui.screens.runs import RunsScreen
    from tui.screens.weights import WeightsScreen
    from tui.screens.why import WhyScreen
    from tui.widgets.charts import ChartsPanel
    from tui.widgets.digits import MisclassifiedPanel
    from tui.widgets.gradcheck import GradCheckPanel

    cursor_keys = ("cursor('move'", "cursor('end'", "cursor('hide'")  # listed as CURSOR_ROWS, pairs in one row
    left_out = cursor_keys if student else (*cursor_keys, "student(")
    training = [b for b in MainScreen.BINDINGS if isinstance(b, Binding) and not b.action.startswith(left_out)]
    panel_keys = [b for b in training if b.action.startswith("show_panel")]
    ordered = [b for b in training if b not in panel_keys] + list(app_bindings) + panel_keys
    app_rows = _merge_keys(binding_rows(ordered))
    app_rows += [("ctrl+p", "command palette (every action)"), ("ctrl+q", "quit")]
    sections = [("Training (outside a field)", app_rows), ("Controls fields", list(FIELD_KEYS))]
    sections.append(("Chart cursor (v)", list(MainScreen.CURSOR_ROWS)))
    for title, cls in (
        ("Misclassified digits (when focused)", MisclassifiedPanel),
        ("Charts (when focused)", ChartsPanel),
        ("Gradient check (when focused)", GradCheckPanel),
        ("Weights screen (w)", WeightsScreen),
        ("Why this prediction (y in the digit viewer)", WhyScreen),
        ("Math screen (m)", MathScreen),
        ("Run list (o)", RunsScreen),
        ("Challenge list (c)", ChallengesScreen),
    ):
        rows = binding_rows(getattr(cls, "BINDINGS", []))
        if rows:
            sections.append((title, rows))
    pad_keys = [b for b in DrawPadScreen.BINDINGS if isinstance(b, Binding) and not b.action.startswith("move")]
    pad_rows = DrawPadScreen.MOUSE_ROWS + _merge_keys(binding_rows(pad_keys))  # arrows: one row
    sections.append(("Drawing pad (p)", pad_rows))
    if student:  # --backprop FILE: the check's own screen
        from tui.screens.exercise import ExerciseScreen

        sections.append(("Your backprop's check (b)", binding_rows(ExerciseScreen.BINDINGS)))
    if served:  # by mnist-tui serve: on top of the right column
        sections.insert(1, ("In a browser", BROWSER_ROWS))
    return sections


def _merge_keys(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join rows that share a key ("space": "Pause / Resume")."""
    merged: dict[str, list[str]] = {}
    for key, description in rows:
        merged.setdefault(key, []).append(description)
    return [(key, " / ".join(descriptions)) for key, descriptions in merged.items()]


class RenderedOnce:
    """A Rich renderable whose lines are made once per width and kept.

    The help's key tables are the same every time it opens, and Rich lays out tables slowly:
    Textual renders a column once to measure its height and again to draw it, some tens of
    milliseconds on the event loop the first time help opens while training runs.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self._lines: dict[int, list[list[Segment]]] = {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self._lines.get(options.max_width)
        if lines is None:
            whole = options.update(height=None)  # every line: the caller crops
            lines = console.render_lines(self.renderable, whole, pad=False, new_lines=True)
            self._lines[options.max_width] = lines
        for line in lines:
            yield from line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)


class HelpScreen(ModalScreen[None]):
    """A modal list of all keys, grouped by where they work."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close help"),
        Binding("q", "close", "Close help", show=False),
        Binding("question_mark", "close", "Close help", show=False),
    ]

    def __init__(self, sections: Sequence[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        half = min(1, len(self.sections))  # the app keys left, fields and panels right
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc closes"
            with Horizontal(id="help-columns"):
                yield Static(self._column(self.sections[:half]), id="help-left", classes="help-column")
                yield Static(self._column(self.sections[half:]), id="help-right", classes="help-column")

    @staticmethod
    def _column(sections: Sequence[tuple[str, list[tuple[str, str]]]]) -> RenderedOnce:
        parts: list[Text | Table] = []
        for title, rows in sections:
            if parts:
                parts.append(Text(""))
            parts.append(Text(title, style="bold underline"))
            table = Table.grid(padding=(0, 2), expand=True)
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column(ratio=1)
            for key, description in rows:
                table.add_row(key, description)
            parts.append(table)
        return RenderedOnce(Group(*parts))

    def action_close(self) -> None:
        self.dismiss(None)
