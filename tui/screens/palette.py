"""A screen's entries in the command palette, from its ``PALETTE`` table.

A screen lists its entries as (title, help, action, argument or None); the ones its
``check_action`` allows now (neither hidden nor greyed out) become palette commands that run that
action, so the palette offers nothing the keys would refuse. Leaves out the app's own entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen

#: One entry of a screen's ``PALETTE``: (title, help, action, argument or None).
Entry = tuple[str, str, str, str | None]


def palette_commands(screen: Screen[Any]) -> Iterator[SystemCommand]:
    """``screen``'s palette entries that apply now (none if it has no ``PALETTE``)."""
    entries: tuple[Entry, ...] = getattr(screen, "PALETTE", ())
    for title, help_text, action, arg in entries:
        params = () if arg is None else (arg,)
        if screen.check_action(action, params):
            method = getattr(screen, f"action_{action}")
            yield SystemCommand(title, help_text, method if arg is None else partial(method, arg))
