"""Learning-rate schedules: the rate to use at a (fractional) epoch.

``constant`` keeps ``lr``; ``step`` multiplies by ``lr_decay`` after each whole
epoch; ``exp`` decays smoothly by ``lr_decay`` per epoch; ``cosine`` anneals to
zero over ``epochs``; ``linear`` falls in a straight line to zero over ``epochs``.
``warmup`` (epochs) scales any of them by a ramp from 0 to 1 at the start: with
``linear`` that is the one-cycle shape (up, then down to zero). No restarts.
"""

from __future__ import annotations

import math

from model.config import HyperParams


def lr_at(hp: HyperParams, epoch: float) -> float:
    """Learning rate after ``epoch`` epochs (0.5 = half way through the first)."""
    ramp = min(epoch / hp.warmup, 1.0) if hp.warmup > 0 else 1.0
    return ramp * _decayed(hp, epoch)


def _decayed(hp: HyperParams, epoch: float) -> float:
    if hp.schedule == "constant":
        return hp.lr
    if hp.schedule == "step":
        return float(hp.lr * hp.lr_decay ** math.floor(epoch))
    if hp.schedule == "exp":
        return float(hp.lr * hp.lr_decay**epoch)
    progress = min(epoch / hp.epochs, 1.0)
    if hp.schedule == "cosine":
        return hp.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if hp.schedule == "linear":
        return hp.lr * (1.0 - progress)
    raise ValueError(f"unknown schedule {hp.schedule!r}")
