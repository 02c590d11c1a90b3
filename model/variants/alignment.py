"""Alignment diagnostics: the angle between a variant's update and the true gradient.

``AlignmentProbe`` measures it per weight matrix on the same minibatch, in its own
buffers. Leaves out: when to probe (the trainer decides) and averaging (the study).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from model.buffers import Buffers
from model.mlp import MLP, Grads, backward
from model.variants.base import Array, Labels


def angle_degrees(a: Array, b: Array) -> float:
    """Angle between two arrays seen as vectors, in degrees; NaN if either is zero. Identical -> 0."""
    order: Literal["F", "C"] = "F" if a.flags.f_contiguous and b.flags.f_contiguous else "C"  # views, no copy
    a1, b1 = a.ravel(order=order), b.ravel(order=order)
    ab, aa, bb = float(np.dot(a1, b1)), float(np.dot(a1, a1)), float(np.dot(b1, b1))
    if aa == 0.0 or bb == 0.0 or not math.isfinite(ab * aa * bb):
        return math.nan
    cos = ab / math.sqrt(aa * bb)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


class AlignmentProbe:
    """Per-layer angle between a variant's update and the exact gradient on the same minibatch.

    The exact gradient goes into the probe's own buffers, so it never overwrites the
    variant's (or the model's) gradient arrays.
    """

    def __init__(self, layers: tuple[str, ...] = ("W1", "W2")) -> None:
        self.layers = layers
        self._ref = Buffers()

    def exact(self, model: MLP, X: Array, y: Labels, smoothing: float = 0.0) -> Grads:
        """The true gradient on (X (B, D), y (B,)) (of label-smoothed targets if ``smoothing``), in reused buffers."""
        h, _, probs = model.forward_for_backprop(X)
        dact = model.act.grad_from_output(h)
        return backward(X, y, probs, h, dact, model.W2, self._ref.like(model.params), smoothing=smoothing)

    def __call__(self, model: MLP, X: Array, y: Labels, grads: Grads, smoothing: float = 0.0) -> dict[str, float]:
        """{"W1": degrees, "W2": degrees} for ``grads`` computed on (X, y) with targets smoothed by ``smoothing``."""
        ref = self.exact(model, X, y, smoothing)
        return {name: angle_degrees(grads[name], ref[name]) for name in self.layers}
