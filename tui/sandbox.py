"""Paths a visitor of ``mnist-tui serve`` may use: names inside the session's own folder only.

``confine(text, root)`` accepts a relative path without ``..`` whose real location (symlinks
resolved) stays inside ``root`` and returns it; anything else is a ValueError whose text is the
one line the prompt shows. Leaves out: serving (``tui.serve``) and the prompts themselves.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def confine(text: str, root: Path) -> Path:
    """``root / text`` resolved, if it stays inside ``root``; ValueError (one line) otherwise."""
    name = text.strip()
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
