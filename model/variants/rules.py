"""The perturbing backward-pass variants, one class per question of the study.

Each overrides ``Variant.inputs`` only (see ``base.py`` for the four things the backward
pass is fed) and, when it carries arrays from step to step, ``state``/``load_state`` so
checkpoints resume it exactly. Leaves out: choosing a variant by name (``registry.py``).
"""

from __future__ import annotations

import math

import numpy as np

from model.mlp import MLP
from model.variants.base import Array, BackwardInputs, Variant


class RandomFeedback(Variant):
    """Q1: a random (K, H) matrix instead of W2 in delta_h = delta_out W2.

    Drawn like W2's initialisation, N(0, 1/H): once (``redraw=False``, feedback
    alignment) or afresh every step. ``draw`` can be replaced (tests use W2 itself).
    """

    def __init__(self, redraw: bool) -> None:
        self.name = "feedback-redrawn" if redraw else "feedback-fixed"
        super().__init__()
        self.redraw = redraw
        self.feedback: Array | None = None

    def state_names(self) -> tuple[str, ...]:
        return () if self.redraw else ("feedback",)

    def state(self) -> dict[str, Array]:
        return {} if self.redraw or self.feedback is None else {"feedback": self.feedback}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if "feedback" in arrays:
            self.feedback = self._expect(arrays, "feedback", shape, np.float32).copy()

    def draw(self, model: MLP, rng: np.random.Generator, out: Array) -> Array:
        """Fill ``out`` (K, H) with N(0, 1/H) numbers."""
        out[...] = rng.standard_normal(out.shape, dtype=np.float32)
        out *= 1.0 / math.sqrt(out.shape[1])
        return out

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2, fb = model.W2, self.feedback
        if fb is None or fb.shape != W2.shape or fb.dtype != W2.dtype:
            fb = self.feedback = self.draw(model, rng, np.empty_like(W2))
        elif self.redraw:
            fb = self.feedback = self.draw(model, rng, fb)
        return BackwardInputs(h, h, h, fb)


class StaleWeights(Variant):
    """Q2: the W2 of k steps ago carries the delta back (the forward pass uses the current weights).

    A ring of k+1 preallocated (K, H) slots is written in place each step; until k steps
    have passed the oldest copy (the first step's W2) is used. k = 0 is exact backprop.
    """

    name = "stale"

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.key = (self.name, k)
        self.ring: Array | None = None  # (k+1, K, H)
        self.t = 0  # calls so far

    def state_names(self) -> tuple[str, ...]:
        return ("ring", "t")

    def state(self) -> dict[str, Array]:
        return {} if self.ring is None else {"ring": self.ring, "t": np.array(self.t, np.int64)}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if not arrays:
            return
        if set(arrays) != {"ring", "t"}:
            raise ValueError(f"stale: needs both ring and t, the checkpoint has {sorted(arrays)}")
        ring = self._expect(arrays, "ring", (self.k + 1, *shape), np.float32)
        t = self._expect(arrays, "t", (), np.int64)
        if int(t) < 0:
            raise ValueError(f"stale: step counter t={int(t)} is negative")
        self.ring, self.t = ring.copy(), int(t)

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2 = model.W2
        if self.ring is None or self.ring.shape[1:] != W2.shape or self.ring.dtype != W2.dtype:
            self.ring = np.empty((self.k + 1, *W2.shape), W2.dtype)
            self.ring[...] = W2
            self.t = 0
        n = self.k + 1
        np.copyto(self.ring[self.t % n], W2)  # this step's W2
        stale = self.ring[(self.t + 1) % n]  # written k steps ago, (K, H)
        self.t += 1
        return BackwardInputs(h, h, h, stale)


class RandomHidden(Variant):
    """Q3/Q4: random hidden states where act'(.) is evaluated (``where="act"``) or in dW2 (``"dW2"``).

    A random state is act(mu + sd * xi) with xi ~ N(0, 1) of shape (B, H) and mu, sd the
    per-unit mean and standard deviation of this minibatch's pre-activations z1: each unit
    keeps its own scale and (for ReLU) its firing rate, but the state is unrelated to the
    example. ``redraw=False`` keeps one xi for the whole run (a larger batch draws more rows).
    """

    def __init__(self, where: str, redraw: bool) -> None:
        if where not in ("act", "dW2"):
            raise ValueError(f"where must be 'act' or 'dW2' (got {where!r})")
        self.name = f"random-h-{'act' if where == 'act' else 'dw'}-{'redrawn' if redraw else 'fixed'}"
        super().__init__()
        self.where, self.redraw = where, redraw
        self.xi: Array | None = None  # (B_max, H) standard normals

    def state_names(self) -> tuple[str, ...]:
        return () if self.redraw else ("xi",)

    def state(self) -> dict[str, Array]:
        return {} if self.redraw or self.xi is None else {"xi": self.xi}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if "xi" in arrays:
            rows = arrays["xi"].shape[0] if arrays["xi"].ndim == 2 and len(arrays["xi"]) else 1
            self.xi = self._expect(arrays, "xi", (rows, shape[1]), np.float32).copy()

    def random_h(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> Array:
        """A random hidden state shaped like h (B, H), written into a reused buffer."""
        B, H = h.shape
        if self.xi is None or self.xi.shape[1] != H or self.xi.shape[0] < B or self.xi.dtype != h.dtype:
            self.xi = rng.standard_normal((B, H), dtype=np.float32).astype(h.dtype, copy=False)
        elif self.redraw:
            self.xi = rng.standard_normal(self.xi.shape, dtype=np.float32).astype(h.dtype, copy=False)
        out = self._buf.get("h_rand", (B, H), h.dtype)
        np.multiply(self.xi[:B], z1.std(axis=0), out=out)
        out += z1.mean(axis=0)
        return model.act.forward(out, out=out)

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        r = self.random_h(model, h, z1, rng)
        return BackwardInputs(h, r, h, model.W2) if self.where == "dW2" else BackwardInputs(h, h, r, model.W2)


NOISE_MODES = ("forward", "backward", "same", "independent")


class HiddenNoise(Variant):
    """Q5: h + N(0, sigma^2) in the forward pass, the backward pass (act' and dW2), or both.

    ``same`` feeds one noisy h everywhere (as if h were overwritten in place), ``independent``
    draws a second sample for the backward pass. sigma = 0 is exact backprop.
    """

    def __init__(self, mode: str, sigma: float) -> None:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)} (got {mode!r})")
        self.name = f"noise-{mode}"
        super().__init__()
        self.mode, self.sigma = mode, sigma
        self.key = (self.name, sigma)

    def _noisy(self, h: Array, rng: np.random.Generator, slot: str) -> Array:
        out = self._buf.get(slot, h.shape, h.dtype)
        if out.dtype == np.float32:
            rng.standard_normal(dtype=np.float32, out=out)
        else:
            out[...] = rng.standard_normal(h.shape)
        out *= self.sigma
        out += h  # h + eps, (B, H)
        return out

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2 = model.W2
        if self.mode == "forward":
            return BackwardInputs(self._noisy(h, rng, "n1"), h, h, W2)
        if self.mode == "backward":
            n = self._noisy(h, rng, "n1")
            return BackwardInputs(h, n, n, W2)
        if self.mode == "same":
            n = self._noisy(h, rng, "n1")
            return BackwardInputs(n, n, n, W2)
        n1, n2 = self._noisy(h, rng, "n1"), self._noisy(h, rng, "n2")
        return BackwardInputs(n1, n2, n2, W2)


ROUND_PLACES = ("forward", "act", "dW2")


class Rounding(Variant):
    """Q6: h rounded to the nearest integer in some of: the forward pass, act'(.), dW2."""

    def __init__(self, name: str, places: frozenset[str]) -> None:
        if not places <= set(ROUND_PLACES):
            raise ValueError(f"rounding places must be among {', '.join(ROUND_PLACES)}")
        self.name = name
        super().__init__()
        self.places = places

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        r = np.rint(h, out=self._buf.get("h_round", h.shape, h.dtype)) if self.places else h

        def pick(place: str) -> Array:
            return r if place in self.places else h

        return BackwardInputs(pick("forward"), pick("dW2"), pick("act"), model.W2)
