"""What the study reports: one run's result and the progress events on the way.

Leaves out: how runs are made (``task.py``, the backends) and the aggregates (``aggregate.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

#: The weight matrices whose alignment angle the study reports.
LAYERS = ("W1", "W2")
#: Diagnostics recorded over a run (NaN where a diagnostic does not apply to the variant).
DIAGNOSTICS = (
    "angle_W1",  # degrees between the variant's update of W1 and the true gradient
    "angle_W2",
    "feedback_angle",  # degrees between W2 and the feedback matrix B (random feedback)
    "stale_gap",  # ||W2(t) - W2(t-k)|| / ||W2(t)|| (stale weights)
    "dead_fraction",  # units with act' < 1e-3 on every probe image (dead ReLU, saturated sigmoid/tanh)
    "w1_drift",  # ||W1(t) - W1(0)|| / ||W1(0)||
    "valid_error",  # on the first 2,000 validation images
)


@dataclass
class RunResult:
    """One (cell, seed) run. Errors are fractions; angles in degrees (NaN if never measured)."""

    key: str  # RunConfig.key
    label: str
    variant: str
    question: str
    seed: int
    lr: float
    momentum: float
    activation: str
    valid_error: float  # lowest validation error over the epochs
    test_error: float  # clean network, at the epoch with the lowest validation error
    test_error_as_trained: float  # same weights, perturbed forward pass (NaN: the forward pass is clean)
    final_test_error: float
    best_epoch: int
    train_loss: float  # mean minibatch loss over the last epoch
    valid_curve: list[float]  # validation error after each epoch
    test_curve: list[float]
    seconds: float  # training time (evaluation excluded)
    steps: int
    diverged: bool
    diag_steps: list[int] = field(default_factory=list)  # steps at which the diagnostics were taken
    diagnostics: dict[str, list[float]] = field(default_factory=dict)  # name -> one value per diag step

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> RunResult:
        """Inverse of ``to_dict`` (JSON null back to NaN)."""
        names = {f.name for f in fields(cls)}
        d = {k: _nan(v) for k, v in saved.items() if k in names}
        return cls(**d)


def _nan(v: Any) -> Any:
    if v is None:
        return math.nan
    if isinstance(v, list):
        return [_nan(x) for x in v]
    if isinstance(v, dict):
        return {k: _nan(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class Event:
    """Progress: ``kind`` is "start" (a run began), "epoch" (within a run) or "done" (with ``result``)."""

    kind: str
    key: str
    seed: int
    epoch: int = 0
    epochs: int = 0
    valid_error: float = math.nan
    result: RunResult | None = None
    reused: bool = False  # "done" for a run found in the store, not trained again


def nanmean(values: Sequence[float]) -> float:
    """Mean of the finite values; NaN if there are none."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan
