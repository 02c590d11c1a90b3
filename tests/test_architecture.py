"""The architecture page's tree (``docs/architecture.md``) matches the code: every package of
``model`` and ``tui`` has its line, and every folder or module the tree names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A tree line: its indent and the room it names ("run/", "app.py"; "*.py" stands for the rest).
LINE = re.compile(r"^(?P<indent> *)(?P<name>[\w*]+(?:/|\.py))\s")


def named_rooms() -> set[str]:
    """Paths the architecture page's tree names ("model/run/", "tui/app.py"), wildcards left out."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## The source tree\n", 1)[1]
    tree = section.split("```", 2)[1]
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
    missing = packages - named_rooms()
    assert not missing, f"docs/architecture.md's tree leaves out {sorted(missing)}"


def test_every_room_the_tree_names_exists() -> None:
    rooms = named_rooms()
    assert {"model/", "tui/", "model/run/", "tui/cli/"} <= rooms
    gone = sorted(r for r in rooms if not (ROOT / r).exists())
    assert not gone, f"docs/architecture.md's tree names {gone}, which the code no longer has"
