"""Where run folders live and how an id (or a unique prefix of one) finds its folder."""

from __future__ import annotations

import os
from pathlib import Path

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


def list_run_dirs(root: Path) -> list[Path]:
    """Run folders under ``root`` (those holding a run.json), oldest first (by id, which starts with
    the time to the second, then by when run.json was written)."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "run.json").is_file()]
    return sorted(found, key=lambda p: (p.name[:15], (p / "run.json").stat().st_mtime_ns, p.name))


def short_id(run_id: str) -> str:
    """The id's random tail as the app's labels show it (``20261203-124501-3fa2`` -> ``3fa2``)."""
    return run_id.rsplit("-", 1)[-1] if "-" in run_id else run_id


def find_run(root: Path, ident: str) -> Path:
    """The folder of run ``ident``: an exact id, a prefix, or the short form (its last four hex
    digits, as the app and ``train`` show it), naming one run only (RunsError otherwise)."""
    ident = ident.strip()
    if not ident or "/" in ident or ident in (".", ".."):
        raise RunsError(f"not a run id: {ident!r} (see: mnist-tui runs)")
    runs = list_run_dirs(root)
    exact = [p for p in runs if p.name == ident]
    if exact:
        return exact[0]
    matches = [p for p in runs if p.name.startswith(ident) or short_id(p.name) == ident]
    if not matches:
        raise RunsError(f"no run {ident!r} in {root} (see: mnist-tui runs)")
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:4]) + (" ..." if len(matches) > 4 else "")
        raise RunsError(f"run id {ident!r} is ambiguous: {len(matches)} runs match ({names})")
    return matches[0]
