"""Q6: reduced precision. ``Rounding`` rounds the hidden state h to multiples of 2^-b (b = 0:
integers) in some of: the forward pass, act'(.), dW2; ``GradientRounding`` rounds every
gradient to multiples of 2^-b. Rounding is to the nearest multiple or stochastic (up with
probability equal to the remainder, so unbiased: Gupta et al. 2015; Courbariaux et al. 2015
train with low-precision arithmetic).

Rounding the forward pass while the backward pass differentiates as if there were no rounding
(its derivative is 0 almost everywhere) is a straight-through estimator (Bengio, Léonard &
Courville 2013): ``round-forward-dw`` is the usual one (dW2 with the rounded h the output layer
saw, act'(.) at the real h); ``round-forward`` also takes dW2 from the unrounded h.
Leaves out: the registry's names (``registry.py``).
"""

from __future__ import annotations

import numpy as np

from model.mlp import MLP, StepResult
from model.variants.base import Array, BackwardInputs, Labels, Variant, clean_hidden, readout

ROUND_PLACES = ("forward", "act", "dW2")
ROUND_MODES = ("nearest", "stochastic")


def round_to(x: Array, bits: int, mode: str, rng: np.random.Generator, out: Array) -> Array:
    """x rounded to multiples of 2^-bits (nearest, or stochastically: floor(x 2^b + u) 2^-b with
    u ~ U[0, 1)), into ``out`` (same shape as x)."""
    scale = float(2**bits)
    np.multiply(x, scale, out=out)
    if mode == "stochastic":
        u = rng.random(out.shape, dtype=np.float32) if out.dtype == np.float32 else rng.random(out.shape)
        out += u
        np.floor(out, out=out)
    else:
        np.rint(out, out=out)
    out *= 1.0 / scale
    return out


class Rounding(Variant):
    """h rounded to multiples of 2^-bits in ``places`` (a subset of ``ROUND_PLACES``)."""

    def __init__(self, name: str, places: frozenset[str], bits: int = 0, mode: str = "nearest") -> None:
        if not places <= set(ROUND_PLACES):
            raise ValueError(f"rounding places must be among {', '.join(ROUND_PLACES)}")
        if mode not in ROUND_MODES:
            raise ValueError(f"rounding mode must be one of {', '.join(ROUND_MODES)} (got {mode!r})")
        self.name = name
        super().__init__()
        self.places, self.bits, self.mode = places, bits, mode
        self.key = (name, bits, mode)

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        r = round_to(h, self.bits, self.mode, rng, self._buf.get("h_round", h.shape, h.dtype)) if self.places else h

        def pick(place: str) -> Array:
            return r if place in self.places else h

        return BackwardInputs(pick("forward"), pick("dW2"), pick("act"), model.W2)

    def forward_as_trained(self, model: MLP, X: Array, rng: np.random.Generator) -> Array | None:
        if "forward" not in self.places:
            return None
        h = clean_hidden(model, X)
        return readout(model, round_to(h, self.bits, self.mode, rng, h))


class GradientRounding(Variant):
    """The exact gradient, every array rounded to multiples of 2^-bits (``round-grad``)."""

    name = "round-grad"

    def __init__(self, bits: int, mode: str = "nearest") -> None:
        if mode not in ROUND_MODES:
            raise ValueError(f"rounding mode must be one of {', '.join(ROUND_MODES)} (got {mode!r})")
        super().__init__()
        self.bits, self.mode = bits, mode
        self.key = (self.name, bits, mode)

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        result = super().loss_and_grads(model, X, y, rng)
        for g in result.grads.values():
            round_to(g, self.bits, self.mode, rng, g)
        return result
