"""The architecture tree matches the code: every package of ``model`` and ``tui`` has its line, and
every folder or module the tree names exists. The tree is checked wherever it is written: the
README's "Architecture" section and the docs site's architecture page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A tree line: its indent and the room it names ("run/", "app.py"; "*.py" stands for the rest).
LINE = re.compile(r"^(?P<indent> *)(?P<name>[\w*]+(?:/|\.py))\s")


#: Where the tree is written: (file, the heading of the section whose first code block it is).
PLACES = (("README.md", "## Architecture"), ("docs/architecture.md", "## The source tree"))


def trees() -> dict[str, str]:
    """The tree's text in every place that has it, by file."""
    found = {}
    for name, heading in PLACES:
        path = ROOT / name
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if f"\n{heading}\n" in text:
            found[name] = text.split(f"\n{heading}\n", 1)[1].split("```", 2)[1]
    assert found, "no architecture tree found"
    return found


def named_rooms(tree: str) -> set[str]:
    """Paths the tree names ("model/run/", "tui/app.py"), wildcards left out."""
    rooms, top = set(), ""
    for line in tree.splitlines():
        m = LINE.match(line)
        if m is None:
            continue
        name = m["name"]
        if not m["indent"]:
            top = name
            rooms.add(name)
        elif "*" not in name:
            rooms.add(top + name)
    return rooms


def test_every_package_has_its_line_in_the_tree() -> None:
    packages = {
        f"{top}/{p.name}/" for top in ("model", "tui") for p in (ROOT / top).iterdir() if (p / "__init__.py").is_file()
    }
    assert packages, "no packages found"
    for place, tree in trees().items():
        missing = packages - named_rooms(tree)
        assert not missing, f"{place}: the architecture tree leaves out {sorted(missing)}"


def test_every_room_the_tree_names_exists() -> None:
    for place, tree in trees().items():
        rooms = named_rooms(tree)
        assert {"model/", "tui/", "model/run/", "tui/cli/"} <= rooms, place
        gone = sorted(r for r in rooms if not (ROOT / r).exists())
        assert not gone, f"{place}: the architecture tree names {gone}, which the code no longer has"
