"""Paths a person types: the one rule every flag and prompt applies, and a served visitor's confinement.

``check_path(text)`` refuses, with one ValueError line, a path the system would refuse in a way
that is not one line everywhere: a NUL byte, a name (a component) longer than ``NAME_MAX`` bytes
(a 300-character name crashed the app's save prompt), a path longer than ``PATH_MAX`` bytes.
``confine(text, root)`` (``mnist-tui serve``) also accepts only a relative path without ``..``
whose real location (symlinks resolved) stays inside ``root`` and returns it. Leaves out: serving
(``tui.serve``) and the prompts themselves.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

#: Linux's limits: bytes in one name of a path, and in a whole path.
NAME_MAX = 255
PATH_MAX = 4095


def _short(text: str) -> str:
    shown = text.encode("unicode_escape", "backslashreplace").decode("ascii") if not text.isprintable() else text
    return shown if len(shown) <= 40 else shown[:24] + "…" + shown[-12:]


def check_path(text: str) -> str:
    """``text`` if it can name a file; ValueError (one line) for a NUL byte, a name over
    ``NAME_MAX`` bytes or a path over ``PATH_MAX`` bytes. An empty text passes (its caller decides)."""
    if "\x00" in text:
        raise ValueError(f"{_short(text)}: a path cannot hold a NUL character")
    try:
        size = len(os.fsencode(text))
    except UnicodeEncodeError:
        raise ValueError(f"{_short(text)}: a path cannot hold this text (not encodable)") from None
    if size > PATH_MAX:
        raise ValueError(f"{_short(text)}: the path is {size:,} bytes, more than the {PATH_MAX:,} a path can be")
    for name in text.split("/"):
        size = len(os.fsencode(name))
        if size > NAME_MAX:
            raise ValueError(f"{_short(name)}: a name in a path can be at most {NAME_MAX} bytes (this one is {size:,})")
    return text


def confine(text: str, root: Path) -> Path:
    """``root / text`` resolved, if it stays inside ``root``; ValueError (one line) otherwise."""
    name = check_path(text.strip())
    if not name:
        raise ValueError("a file name is needed")
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("~") or "\\" in name:
        raise ValueError(f"{name}: absolute paths are not allowed here")
    if ".." in pure.parts:
        raise ValueError(f"{name}: '..' is not allowed here")
    base = root.resolve()
    path = (base / pure).resolve()  # follows every symlink that exists
    if path != base and base not in path.parents:
        raise ValueError(f"{name}: leads outside this session's folder")
    return path
