"""Continue a saved run in a live trainer, refusing a file made for other data.

Leaves out the file format (``model.checkpoint``) and the worker that calls this.
"""

from __future__ import annotations

from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from model.trainer import Trainer


def apply_checkpoint(trainer: Trainer, path: str) -> Checkpoint:
    """Load ``path`` and continue its run in ``trainer``.

    Raises CheckpointError (one line) and leaves ``trainer`` untouched if the file is
    bad or was made for other data.
    """
    ckpt = load_checkpoint(path)
    n_in, n_data = ckpt.params["W1"].shape[1], trainer.train[0].shape[1]
    if n_in != n_data:
        raise CheckpointError(f"checkpoint {path}: expects {n_in} inputs, the data has {n_data}")
    ckpt.apply_to(trainer)
    return ckpt
