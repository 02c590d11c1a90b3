"""A run between two steps, whole: the one shape a trainer hands out, a checkpoint holds and a
trainer continues from.

``Trainer.run_state`` builds a ``RunState`` from the live arrays, ``model.checkpoint`` writes one
and reads one back (validating every field once, on load), ``Trainer.resume`` continues one.
``meta`` carries what the run core adds (its clock and best-validation figures); ``path`` and
``sha256`` say which checkpoint file the state was read from, when it was. Leaves out the file format and the
checks (``model.checkpoint``) and the stepping (``model.trainer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.config import HyperParams
from model.mlp import MLP


@dataclass
class TrainState:
    """Progress counters of a run."""

    step: int = 0
    epoch: int = 0  # whole passes over the training order started before the current one
    position: int = 0  # index into the current epoch's permutation
    examples_seen: int = 0


@dataclass
class RunState:
    """Everything that decides the rest of a run.

    params and velocity: W1 (H, D), b1 (H,), W2 (K, H), b2 (K,) float32; order: (N,) int64, the
    current epoch's permutation of the training set; rng: the bit-generator states of the
    trainer's "order" and "rule" generators; variant_state: what the backward-pass variant carries
    between steps (e.g. a fixed feedback matrix (K, H), the ring of old W2s).
    """

    hp: HyperParams
    params: dict[str, NDArray[np.float32]]
    velocity: dict[str, NDArray[np.float32]]
    order: NDArray[np.int64]
    counters: TrainState
    rng: dict[str, Any]
    variant_state: dict[str, NDArray[Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # the checkpoint file it was read from, resolved ("" : not read from a file)
    sha256: str = ""  # of that file's bytes as they were read

    @property
    def shape(self) -> tuple[int, int, int]:
        """(D, H, K) of the network."""
        (H, D), K = self.params["W1"].shape, self.params["W2"].shape[0]
        return D, H, K

    def model(self) -> MLP:
        """An MLP holding these weights."""
        D, H, K = self.shape
        model = MLP(D, H, K, self.hp.activation)
        model.set_params(self.params)
        return model
