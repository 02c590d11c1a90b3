"""What the study reports: one run's result and the progress events on the way.

Leaves out: how runs are made (``task.py``, ``pool.py``) and the aggregates (``aggregate.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The weight matrices whose alignment angle the study reports.
LAYERS = ("W1", "W2")


@dataclass
class RunResult:
    """One (config, seed) run. Errors are fractions; angles in degrees (NaN if never probed)."""

    label: str
    variant: str
    question: str
    seed: int
    test_error: float  # at the epoch with the lowest validation error
    final_test_error: float
    best_epoch: int
    train_loss: float  # mean minibatch loss over the last epoch
    valid_curve: list[float]  # validation error after each epoch
    test_curve: list[float]
    angles: dict[str, float]  # mean over the run's probes, per layer
    angles_by_epoch: dict[str, list[float]]
    seconds: float  # training time (evaluation excluded)
    steps: int
    diverged: bool


@dataclass(frozen=True)
class Event:
    """Progress of one run: ``kind`` is "start", "epoch" or "done" ("ended" stays internal)."""

    kind: str
    index: int
    label: str
    seed: int
    epoch: int = 0
    epochs: int = 0
    valid_error: float = math.nan
    result: RunResult | None = None


def nanmean(values: Sequence[float]) -> float:
    """Mean of the finite values; NaN if there are none."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan
