"""The perturbing backward-pass variants, one class per question of the study.

Each overrides ``Variant.inputs`` only (see ``base.py`` for the four things the backward
pass is fed) and, when it carries arrays from step to step, ``state``/``load_state`` so
checkpoints resume it exactly. Leaves out: choosing a variant by name (``registry.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.mlp import MLP, StepResult
from model.variants.base import Array, BackwardInputs, Labels, Variant


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

    def state(self) -> dict[str, NDArray[Any]]:
        return {} if self.redraw or self.feedback is None else {"feedback": self.feedback}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
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

    def state(self) -> dict[str, NDArray[Any]]:
        return {} if self.ring is None else {"ring": self.ring, "t": np.array(self.t, np.int64)}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
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


HIDDEN_PLACES = ("act", "dW2", "both")
HIDDEN_DRAWS = ("fixed", "redrawn", "example")


class RandomHidden(Variant):
    """Q3/Q4: random hidden states where act'(.) is evaluated (``where="act"``), in dW2 (``"dW2"``)
    or in both (``"both"``).

    A random state is act(mu + sd * xi) with xi ~ N(0, 1) of shape (B, H) and mu, sd the
    per-unit mean and standard deviation of this minibatch's pre-activations z1: each unit
    keeps its own scale and (for ReLU) its firing rate, but the state is unrelated to the
    example. ``draw``: "fixed" keeps one xi per batch row for the whole run (tied to a row, not
    to an example, with this step's statistics), "redrawn" draws xi every step, "example"
    gives each training example its own random h, drawn the first time the example is seen
    and kept (it needs the batch's row indices, which the trainer sets as ``rows``).
    """

    def __init__(self, where: str, draw: str) -> None:
        if where not in HIDDEN_PLACES:
            raise ValueError(f"where must be one of {', '.join(HIDDEN_PLACES)} (got {where!r})")
        if draw not in HIDDEN_DRAWS:
            raise ValueError(f"draw must be one of {', '.join(HIDDEN_DRAWS)} (got {draw!r})")
        self.name = f"random-h-{ {'act': 'act', 'dW2': 'dw', 'both': 'both'}[where] }-{draw}"
        super().__init__()
        self.where, self.draw = where, draw
        self.redraw = draw == "redrawn"
        self.xi: Array | None = None  # (B_max, H) standard normals ("fixed", "redrawn")
        self.h_example: Array | None = None  # (N, H) one random h per training example ("example")
        self.seen: NDArray[np.bool_] | None = None  # (N,) which rows of h_example are drawn

    def state_names(self) -> tuple[str, ...]:
        return {"fixed": ("xi",), "redrawn": (), "example": ("h_example", "seen")}[self.draw]

    def state(self) -> dict[str, NDArray[Any]]:
        if self.draw == "fixed" and self.xi is not None:
            return {"xi": self.xi}
        if self.draw == "example" and self.h_example is not None and self.seen is not None:
            return {"h_example": self.h_example, "seen": self.seen}
        return {}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if "xi" in arrays:
            rows = arrays["xi"].shape[0] if arrays["xi"].ndim == 2 and len(arrays["xi"]) else 1
            self.xi = self._expect(arrays, "xi", (rows, shape[1]), np.float32).copy()
        if arrays and self.draw == "example":
            if set(arrays) != {"h_example", "seen"}:
                raise ValueError(f"{self.name}: needs both h_example and seen, the checkpoint has {sorted(arrays)}")
            n = arrays["seen"].shape[0] if arrays["seen"].ndim == 1 else 0
            self.h_example = self._expect(arrays, "h_example", (n, shape[1]), np.float32).copy()
            self.seen = self._expect(arrays, "seen", (n,), np.bool_).copy()

    def _draw_states(self, model: MLP, z1: Array, xi: Array, out: Array) -> Array:
        """act(mu + sd * xi) with this batch's per-unit statistics; xi, out: (n, H)."""
        np.multiply(xi, z1.std(axis=0), out=out)
        out += z1.mean(axis=0)
        return model.act.forward(out, out=out)

    def random_h(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> Array:
        """A random hidden state shaped like h (B, H), written into a reused buffer."""
        B, H = h.shape
        if self.draw == "example":
            return self._example_h(model, h, z1, rng)
        if self.xi is None or self.xi.shape[1] != H or self.xi.shape[0] < B or self.xi.dtype != h.dtype:
            self.xi = rng.standard_normal((B, H), dtype=np.float32).astype(h.dtype, copy=False)
        elif self.redraw:
            self.xi = rng.standard_normal(self.xi.shape, dtype=np.float32).astype(h.dtype, copy=False)
        out = self._buf.get("h_rand", (B, H), h.dtype)
        return self._draw_states(model, z1, self.xi[:B], out)

    def _example_h(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> Array:
        rows = self.rows
        if rows is None:
            raise ValueError(f"{self.name} needs the batch's row indices (train it with the Trainer)")
        B, H = h.shape
        n = max(self.n_rows, int(rows.max()) + 1)
        if self.h_example is None or self.seen is None or self.h_example.shape[1] != H:
            self.h_example, self.seen = np.zeros((n, H), np.float32), np.zeros(n, np.bool_)
        elif len(self.seen) < n:  # a larger training set: keep what was drawn
            self.h_example = np.concatenate([self.h_example, np.zeros((n - len(self.seen), H), np.float32)])
            self.seen = np.concatenate([self.seen, np.zeros(n - len(self.seen), np.bool_)])
        new = rows[~self.seen[rows]]
        if len(new):
            xi = rng.standard_normal((len(new), H), dtype=np.float32)
            self.h_example[new] = self._draw_states(model, z1, xi, xi)
            self.seen[new] = True
        return np.take(self.h_example, rows, axis=0, out=self._buf.get("h_rand", (B, H), np.float32))

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        r = self.random_h(model, h, z1, rng)
        if self.where == "dW2":
            return BackwardInputs(h, r, h, model.W2)
        if self.where == "act":
            return BackwardInputs(h, h, r, model.W2)
        return BackwardInputs(h, r, r, model.W2)


NOISE_MODES = ("forward", "backward", "same", "independent", "true")


class HiddenNoise(Variant):
    """Q5: h + N(0, sigma^2) in the forward pass, the backward pass (act' and dW2), or both.

    ``same`` feeds one noisy h everywhere (as if h were overwritten in place), ``independent``
    draws a second sample for the backward pass. ``true`` is the reference: the exact gradient
    of the noise-injected network, h + eps in the output and in dW2 and act'(.) from the clean
    pre-activation (d(h + eps)/dz1 = act'(z1)). sigma = 0 is exact backprop for every mode.
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
        if self.mode == "true":
            n = self._noisy(h, rng, "n1")
            return BackwardInputs(n, n, h, W2)
        n1, n2 = self._noisy(h, rng, "n1"), self._noisy(h, rng, "n2")
        return BackwardInputs(n1, n2, n2, W2)

    def forward_as_trained(self, model: MLP, X: Array, rng: np.random.Generator) -> Array | None:
        if self.mode == "backward":
            return None  # the forward pass is the clean network's
        _, h = _hidden(model, X)
        return _logits(model, self._noisy(h, rng, "eval"))


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

    def forward_as_trained(self, model: MLP, X: Array, rng: np.random.Generator) -> Array | None:
        if "forward" not in self.places:
            return None
        _, h = _hidden(model, X)
        return _logits(model, np.rint(h, out=h))


class FrozenFirstLayer(Variant):
    """Control: W1 and b1 stay at their initial values and only the output layer learns (the
    "shallow" floor: a random-feature network). The gradients of W2 and b2 are exact."""

    name = "shallow"

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        result = super().loss_and_grads(model, X, y, rng)
        result.grads["W1"].fill(0.0)
        result.grads["b1"].fill(0.0)
        return result


def _hidden(model: MLP, X: Array) -> tuple[Array, Array]:
    """Pre-activation and hidden state of ``X`` (n, D): z1, h (n, H), fresh arrays."""
    z1 = X @ model.W1.T
    z1 += model.b1
    return z1, model.act.forward(z1)


def _logits(model: MLP, h: Array) -> Array:
    """Output-layer logits (n, K) of hidden states h (n, H)."""
    logits = h @ model.W2.T
    logits += model.b2
    return logits
