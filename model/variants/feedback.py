"""Q1: random feedback. A (K, H) matrix B instead of W2 carries the output delta back,
delta_h = delta_out B: fixed once (feedback alignment, Lillicrap et al. 2016), redrawn every
step, or sign-concordant (B = sign(W2) |R| with R fixed, Liao, Leibo & Poggio 2016).

Every B is drawn like W2's initialisation times ``scale``: N(0, scale^2 / H). Leaves out:
the registry's names (``registry.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.mlp import MLP
from model.variants.base import Array, BackwardInputs, Variant


class RandomFeedback(Variant):
    """A random B instead of W2: once (``redraw=False``) or afresh every step.

    ``draw`` can be replaced (tests use W2 itself).
    """

    def __init__(self, redraw: bool, scale: float = 1.0) -> None:
        self.name = "feedback-redrawn" if redraw else "feedback-fixed"
        super().__init__()
        self.redraw, self.scale = redraw, scale
        self.feedback: Array | None = None

    def state_names(self) -> tuple[str, ...]:
        return () if self.redraw else ("feedback",)

    def state(self) -> dict[str, NDArray[Any]]:
        return {} if self.redraw or self.feedback is None else {"feedback": self.feedback}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if "feedback" in arrays:
            self.feedback = self._expect(arrays, "feedback", shape, np.float32).copy()

    def draw(self, model: MLP, rng: np.random.Generator, out: Array) -> Array:
        """Fill ``out`` (K, H) with N(0, scale^2 / H) numbers."""
        out[...] = rng.standard_normal(out.shape, dtype=np.float32)
        out *= self.scale / math.sqrt(out.shape[1])
        return out

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2, fb = model.W2, self.feedback
        if fb is None or fb.shape != W2.shape or fb.dtype != W2.dtype:
            fb = self.feedback = self.draw(model, rng, np.empty_like(W2))
        elif self.redraw:
            fb = self.feedback = self.draw(model, rng, fb)
        return BackwardInputs(h, h, h, fb)


class SignFeedback(RandomFeedback):
    """Sign-concordant feedback: B = sign(W2) |R|, R (K, H) drawn once like ``RandomFeedback``'s.

    The signs follow W2 at every step, the magnitudes never do (they carry no information
    about W2). ``magnitude`` holds |R|; ``feedback`` this step's B.
    """

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__(False, scale)
        self.name = "feedback-sign"
        self.key = (self.name,)
        self.magnitude: Array | None = None  # (K, H) |R|

    def state_names(self) -> tuple[str, ...]:
        return ("magnitude",)

    def state(self) -> dict[str, NDArray[Any]]:
        return {} if self.magnitude is None else {"magnitude": self.magnitude}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
        Variant.load_state(self, arrays, shape)
        if "magnitude" in arrays:
            self.magnitude = self._expect(arrays, "magnitude", shape, np.float32).copy()
            if (self.magnitude < 0).any():
                raise ValueError("feedback-sign: magnitude has negative entries")

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2, mag = model.W2, self.magnitude
        if mag is None or mag.shape != W2.shape or mag.dtype != W2.dtype:
            mag = self.magnitude = np.abs(self.draw(model, rng, np.empty_like(W2)))
        fb = self._buf.get("feedback", W2.shape, W2.dtype)
        np.sign(W2, out=fb)
        fb *= mag  # sign(W2) |R|, (K, H)
        self.feedback = fb
        return BackwardInputs(h, h, h, fb)
