"""Learning-rate schedules: the rate to use at a (fractional) epoch.

``constant`` keeps ``lr``; ``step`` multiplies by ``lr_decay`` after each whole
epoch; ``exp`` decays smoothly by ``lr_decay`` per epoch; ``cosine`` anneals to
zero over ``epochs``. No warm-up or restarts.
"""

from __future__ import annotations

import math

from model.config import HyperParams


def lr_at(hp: HyperParams, epoch: float) -> float:
    """Learning rate after ``epoch`` epochs (0.5 = half way through the first)."""
    if hp.schedule == "constant":
        return hp.lr
    if hp.schedule == "step":
        return float(hp.lr * hp.lr_decay ** math.floor(epoch))
    if hp.schedule == "exp":
        return float(hp.lr * hp.lr_decay**epoch)
    if hp.schedule == "cosine":
        progress = min(epoch / hp.epochs, 1.0)
        return hp.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {hp.schedule!r}")
