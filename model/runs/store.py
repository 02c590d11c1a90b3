"""Where run folders live, how an id (or a unique prefix of one) finds its folder, and which
folders may be written into (never one that links out of the runs folder)."""

from __future__ import annotations

import os
from pathlib import Path

from model.printable import printable

RUNS_ENV = "MNIST_TUI_RUNS"
APP_NAME = "mnist-tui"


class RunsError(Exception):
    """A run id or runs folder the user gave is not usable (one line)."""


def runs_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The runs folder: ``explicit`` (``--runs``), then ``$MNIST_TUI_RUNS``, then
    ``user_data_dir("mnist-tui")/runs`` (e.g. ~/.local/share/mnist-tui/runs)."""
    if explicit is not None and str(explicit).strip():
        return Path(os.fspath(explicit)).expanduser()
    env = os.environ.get(RUNS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME)) / "runs"


def _mtime(path: Path) -> int:
    try:
        return path.lstat().st_mtime_ns
    except OSError:
        return 0


def list_run_dirs(root: Path) -> list[Path]:
    """Run folders under ``root`` (those with something named run.json: a record whose run.json is
    a FIFO or a dangling link is listed, and read as unreadable), oldest first (by id, which starts
    with the time to the second, then by when run.json was written). OSError if ``root`` is a file
    or cannot be listed; [] if it does not exist."""
    if not root.exists():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and os.path.lexists(p / "run.json")]
    return sorted(found, key=lambda p: (p.name[:15], _mtime(p / "run.json"), p.name))


def short_id(run_id: str) -> str:
    """The id's random tail as the app's labels show it (``20261203-124501-3fa2`` -> ``3fa2``)."""
    return run_id.rsplit("-", 1)[-1] if "-" in run_id else run_id


def find_run(root: Path, ident: str) -> Path:
    """The folder of run ``ident``: an exact id, a prefix, or the short form (its last four hex
    digits, as the app and ``train`` show it), naming one run only (RunsError otherwise)."""
    ident = ident.strip()
    if not ident or "/" in ident or ident in (".", ".."):
        raise RunsError(f"not a run id: {printable(repr(ident))} (see: mnist-tui runs)")
    try:
        runs = list_run_dirs(root)
    except OSError as exc:
        raise RunsError(f"{printable(str(root))}: {exc.strerror or exc}") from None
    exact = [p for p in runs if p.name == ident]
    if exact:
        return exact[0]
    matches = [p for p in runs if p.name.startswith(ident) or short_id(p.name) == ident]
    if not matches:
        raise RunsError(f"no run {printable(repr(ident))} in {printable(str(root))} (see: mnist-tui runs)")
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:4]) + (" ..." if len(matches) > 4 else "")
        raise RunsError(f"run id {printable(repr(ident))} is ambiguous: {len(matches)} runs match ({printable(names)})")
    return matches[0]


def writable_folder(folder: Path) -> Path:
    """``folder`` if a file may be written into it: a real folder inside its runs folder, not a
    link (a record copied in as a symlink would have its target written). RunsError otherwise."""
    inside = folder.parent.resolve()
    if folder.is_symlink() or folder.resolve().parent != inside:
        raise RunsError(
            f"{printable(str(folder))} links out of the runs folder; refusing to write into it "
            "(copy the record in instead of linking it)"
        )
    return folder
