"""Continue a saved run in a live trainer, refusing a file made for other data, and the one
rule for flags given beside ``--resume`` (the app and ``train`` share it).

Leaves out the file format (``model.checkpoint``) and the worker that calls this.
"""

from __future__ import annotations

from typing import Any

from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from model.config import ARCHITECTURE_FIELDS, HyperParams
from model.trainer import Trainer


def resumed_hparams(saved: HyperParams, given: dict[str, Any], preset: str | None = None) -> HyperParams:
    """The settings a resumed run continues with: the checkpoint's, with the flags ``given``
    on the command line applied on top.

    CheckpointError (one line) for a ``preset`` (a bundle of settings, which would silently
    replace the checkpoint's) or for hidden units, activation or seed that differ from the
    checkpoint's (the weights were built with those).
    """
    if preset:
        raise CheckpointError("--preset cannot be combined with --resume: the checkpoint has its settings")
    clash = [
        f"--{k.replace('_', '-')} {given[k]} (checkpoint: {getattr(saved, k)})"
        for k in sorted(ARCHITECTURE_FIELDS & given.keys())
        if given[k] != getattr(saved, k)
    ]
    if clash:
        raise CheckpointError(f"a resumed run keeps its architecture and seed: {', '.join(clash)}")
    return saved.validated(**{k: v for k, v in given.items() if k not in ARCHITECTURE_FIELDS})


def apply_checkpoint(trainer: Trainer, path: str) -> Checkpoint:
    """Load ``path`` and continue its run in ``trainer``.

    Raises CheckpointError (one line) and leaves ``trainer`` untouched if the file is
    bad or was made for other data.
    """
    ckpt = load_checkpoint(path)
    ckpt.apply_to(trainer)  # refuses other data or outputs (Trainer.load_state_dict checks them)
    return ckpt
