"""The shallow control: the first layer frozen, so only the output layer learns.

The perturbing variants live one question per module: ``feedback`` (Q1), ``staleness`` (Q2),
``hidden`` (Q3/Q4), ``noise`` (Q5), ``rounding`` (Q6). Leaves out: choosing a variant by name
(``registry.py``).
"""

from __future__ import annotations

import numpy as np

from model.mlp import MLP, StepResult
from model.variants.base import Array, Labels, Variant


class FrozenFirstLayer(Variant):
    """Control: W1 and b1 stay at their initial values and only the output layer learns (the
    "shallow" floor: a random-feature network). The gradients of W2 and b2 are exact."""

    name = "shallow"

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        result = super().loss_and_grads(model, X, y, rng)
        result.grads["W1"].fill(0.0)
        result.grads["b1"].fill(0.0)
        return result
