"""The path prompts of the training screen's ``s`` (save) and ``l`` (load): what each offers and
what a typed path may be.

A save goes where ``model.checkpoint.checkpoint_target`` (the one rule) puts it, a load offers
the last checkpoint saved or the newest ``mnist-tui-*.npz`` here; served to a browser (``mnist-tui
serve``) both stay inside the session's folder. A path that cannot be used is the prompt's error
line. Leaves out the writing and reading (``model.checkpoint``, on the worker's thread).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tui.sandbox import confine
from tui.screens.prompt import PathPrompt


def save_prompt(root: Path | None) -> PathPrompt:
    """Where to save the run (``root``: the served session's folder, or None)."""
    hint = "written atomically (.npz); a folder: a new file in it"
    return PathPrompt("Save checkpoint", default_save_path(), hint, save_check(root))


def load_prompt(root: Path | None, last: str = "") -> PathPrompt:
    """Which checkpoint to continue: ``last`` saved, else the newest here."""
    default = last or newest_checkpoint()
    return PathPrompt("Load checkpoint", default, "replaces the current run", inside_check(root))


def inside_check(root: Path | None) -> Callable[[str], str] | None:
    """Served to a browser (``mnist-tui serve``, ``root`` the session's folder): paths stay inside it."""
    if root is None:
        return None
    return lambda text: str(confine(text, root))


def save_check(root: Path | None) -> Callable[[str], str]:
    """Where a save goes (``model.checkpoint.checkpoint_target``: the one rule), inside ``root``
    when served; a path that cannot be written is the prompt's error line."""
    from model.checkpoint import CheckpointError, checkpoint_target

    inside = inside_check(root)

    def check(text: str) -> str:
        try:
            return str(checkpoint_target(inside(text) if inside else text))
        except CheckpointError as exc:
            raise ValueError(str(exc)) from None

    return check


def default_save_path() -> str:
    """./mnist-tui-YYYYmmdd-HHMMSS.npz"""
    from model.checkpoint import default_name

    return f"./{default_name()}"


def newest_checkpoint(folder: Path = Path(".")) -> str:
    """The most recently written mnist-tui-*.npz in ``folder`` ("" if none)."""
    try:
        found = sorted(folder.glob("mnist-tui-*.npz"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return ""
    return f"./{found[-1].name}" if found else ""
