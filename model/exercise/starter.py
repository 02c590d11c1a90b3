"""``exercise new``: the starter file, ``backprop.py``, written into a folder.

The text ships inside the package (``starter_backprop.py``, read through ``importlib.resources``):
the contract with every shape, the equations and the order of the steps, each function raising
NotImplementedError with a hint. Leaves out checking what the student writes (``check``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from model.atomic import atomic_write

STARTER_NAME = "backprop.py"


class StarterError(Exception):
    """The starter cannot be written there (one line)."""


def starter_text() -> str:
    """The starter file's text."""
    return resources.files("model.exercise").joinpath("starter_backprop.py").read_text(encoding="utf-8")


def write_starter(folder: str | os.PathLike[str] = ".", force: bool = False) -> Path:
    """Write ``folder/backprop.py`` (creating ``folder``), atomically; returns its path.

    StarterError if the file exists (unless ``force``) or ``folder`` is not a folder.
    """
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise StarterError(f"{folder}: is not a folder")
    target = root / STARTER_NAME
    if target.exists() and not force:
        raise StarterError(f"{target} exists already; keeping it (pass --force to replace it)")
    if target.is_dir():
        raise StarterError(f"{target} is a folder")
    root.mkdir(parents=True, exist_ok=True)
    data = starter_text().encode("utf-8")
    atomic_write(target, lambda f: f.write(data))
    return target
