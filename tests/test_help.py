"""The help screen's content, checked against the key bindings themselves.

Every class of the app that declares ``BINDINGS`` is found by walking ``tui``; each described
binding must be listed in the help (its key and its tooltip or description, in one section per
class), and every row of the help must be a binding or one of the rows written by hand (field
keys, the chart cursor, the mouse on the pad). So a new key needs no new picture: the layout
snapshot (``test_snapshots.py::test_help_screen``) draws fixed sections.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import new_app, wait_for
from textual.binding import Binding
from textual.dom import DOMNode

import tui
from model.config import HyperParams
from tui.app import MnistApp
from tui.screens.help import BROWSER_ROWS, FIELD_KEYS, HelpScreen, help_sections, key_label
from tui.screens.main import MainScreen
from tui.screens.pad import DrawPadScreen
from tui.widgets.controls import FieldInput

Sections = list[tuple[str, list[tuple[str, str]]]]

#: Classes whose keys the help does not list, and why.
NOT_IN_HELP = {
    "HelpScreen": "the help's own closing keys, named on its border (esc closes)",
    "PathPrompt": "a prompt shows its own keys while it is open",
    "ErrorScreen": "an error box shows its own keys while it is open",
    "LiveScreen": "a base class: each live screen lists its own esc",
}
#: Bindings the help lists as one hand-written row or section: (class, action prefix) -> where.
GROUPED = {
    ("MainScreen", "cursor('move'"): "Chart cursor (v)",
    ("MainScreen", "cursor('end'"): "Chart cursor (v)",
    ("MainScreen", "cursor('hide'"): "Chart cursor (v)",
    ("DrawPadScreen", "move"): "Drawing pad (p)",
}
#: Rows written by hand rather than made from a binding.
HAND_ROWS = {*FIELD_KEYS, *MainScreen.CURSOR_ROWS, *DrawPadScreen.MOUSE_ROWS, *BROWSER_ROWS}
HAND_ROWS |= {("ctrl+p", "command palette (every action)"), ("ctrl+q", "quit")}


def classes_with_bindings() -> dict[str, type[DOMNode]]:
    """Every screen, widget and app class in ``tui`` that declares its own ``BINDINGS``."""
    for module in pkgutil.walk_packages(tui.__path__, "tui."):
        if module.name.startswith(("tui.screens.", "tui.widgets.", "tui.app")):
            importlib.import_module(module.name)
    found: dict[str, type[DOMNode]] = {}
    todo: list[type[DOMNode]] = [DOMNode]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("tui.") and "BINDINGS" in cls.__dict__:
            found[cls.__name__] = cls
    return found


def described(cls: type[DOMNode]) -> list[Binding]:
    return [b for b in cls.__dict__["BINDINGS"] if isinstance(b, Binding) and b.description]


def listed(binding: Binding, rows: list[tuple[str, str]]) -> bool:
    """A row with the binding's keys whose text holds its tooltip or description (rows that share
    a key are merged: "Pause / Resume")."""
    text = binding.tooltip or binding.description
    return any(key == key_label(binding.key) and text in description for key, description in rows)


@pytest.fixture(scope="module")
def sections() -> Sections:
    return help_sections(MnistApp.BINDINGS)


def student_sections() -> Sections:
    """The help with ``--backprop FILE``."""
    return help_sections(MnistApp.BINDINGS, student=True)


def student_key(name: str, binding: Binding) -> bool:
    """A key of ``--backprop`` (checking and reloading the student's code), listed only then."""
    return (name == "MainScreen" and binding.action.startswith("student(")) or name == "ExerciseScreen"


def test_the_walk_finds_the_apps_key_tables() -> None:
    found = classes_with_bindings()
    assert {"MnistApp", "MainScreen", "DrawPadScreen", "FieldInput", "HelpScreen"} <= set(found)


@pytest.mark.parametrize("with_student", [False, True], ids=["plain", "backprop-file"])
def test_every_binding_is_listed_in_one_section(sections: Sections, with_student: bool) -> None:
    if with_student:
        sections = student_sections()
    titles = dict(sections)
    for name, cls in classes_with_bindings().items():
        if name in NOT_IN_HELP or cls is FieldInput:
            continue
        own = [b for b in described(cls) if not any(c == name and b.action.startswith(a) for c, a in GROUPED)]
        if not with_student:
            absent = [b for b in own if student_key(name, b)]
            assert not [b.key for b in absent if any(listed(b, rows) for _, rows in sections)], "--backprop keys"
            own = [b for b in own if b not in absent]
        homes = [title for title, rows in sections if all(listed(b, rows) for b in own)]
        missing = [b.key for b in own if not any(listed(b, rows) for _, rows in sections)]
        assert homes, f"{name}: keys missing from the help: {missing or 'no section holds them all'}"
    for (name, _), title in GROUPED.items():
        assert titles.get(title), f"{name}: its {title!r} rows are missing"


def test_the_fields_keys_are_listed(sections: Sections) -> None:
    """A field's keys are described by hand (typing is not a binding), but each key is there."""
    rows = dict(sections)["Controls fields"]
    keys = {k for key, _ in rows for k in re.split(r" / |, ", key)} | {"esc" if k == "escape" else k for k, _ in rows}
    for binding in described(FieldInput):
        assert key_label(binding.key) in keys, f"field key {binding.key!r} missing from the help"


def test_every_row_of_the_help_is_a_key(sections: Sections) -> None:
    bindings = [b for cls in classes_with_bindings().values() for b in described(cls)]
    for title, rows in sections + student_sections():
        for key, description in rows:
            texts = {b.tooltip or b.description for b in bindings if key_label(b.key) == key}
            merged = description in texts or all(part in texts for part in description.split(" / "))
            assert (key, description) in HAND_ROWS or merged, f"{title}: {key!r} {description!r} is no binding's"


def test_the_browser_rows_come_first_when_served(sections: Sections) -> None:
    served = help_sections(MnistApp.BINDINGS, served=True)
    assert served[1] == ("In a browser", BROWSER_ROWS)
    assert [s for s in served if s[0] != "In a browser"] == sections


async def test_the_app_s_help_is_the_one_for_how_it_runs(tiny_mnist: Any, tmp_path: Path) -> None:
    """The app hands the help how it runs: served to a browser, its ? lists what differs there."""
    app = new_app(HyperParams(), tiny_mnist, start_training=False, sandbox=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        shown = app.screen
        assert isinstance(shown, HelpScreen)
        assert list(shown.sections) == help_sections(MnistApp.BINDINGS, served=True)
