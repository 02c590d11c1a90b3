"""``AppConfig``: what the app is started with, as values (the command line's flags, or a test's).

The app and its screens read their settings from here; nothing reaches them through the
environment. Leaves out how the settings are parsed (``tui.cli.app``) and the run itself
(``model.run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.config import HyperParams

if TYPE_CHECKING:
    from model.challenges.catalog import Challenge


@dataclass(frozen=True)
class AppConfig:
    """The app's settings.

    hp: the settings a fresh run starts from. data_path: MNIST's file or folder (None: the cache).
    resume: a checkpoint to continue, with ``overrides`` (flags given beside it, already checked
    by ``model.run.resumed_hparams``) on top. start_paused: begin paused. autosave: quitting
    after training keeps the run resumable: its record's final checkpoint, or (no record, or
    served) ``autosave-<run id>.npz`` in ``autosave_dir`` (None: the user data folder).
    sandbox: served to a browser; the save and load prompts stay inside this folder. runs: the
    folder of run records (None: $MNIST_TUI_RUNS or the user data folder). tensorboard: also
    write TensorBoard events in ``tensorboard/<run id>``. handle_signals: SIGTERM, SIGHUP and
    SIGINT quit like q (exit 128 + n). settle_gc: freeze the objects alive once training starts
    and raise the collector's thresholds (process-wide: only the real app). challenge: the
    challenge the run plays (``hp`` is then its starting settings): its panel shows, its record
    names it, its progress is kept in ``sandbox`` when served, else in the user data folder.
    """

    hp: HyperParams = field(default_factory=HyperParams)
    data_path: str | None = None
    resume: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    start_paused: bool = False
    autosave: bool = True
    autosave_dir: Path | None = None
    sandbox: Path | None = None
    runs: Path | None = None
    tensorboard: Path | None = None
    handle_signals: bool = False
    settle_gc: bool = False
    challenge: Challenge | None = None
