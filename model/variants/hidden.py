"""Q3/Q4: random hidden states where act'(.) is evaluated, in dL/dW2, or in both.

Leaves out: the registry's names (``registry.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.mlp import MLP
from model.variants.base import Array, BackwardInputs, Variant

HIDDEN_PLACES = ("act", "dW2", "both")
HIDDEN_DRAWS = ("fixed", "redrawn", "example", "once")


class RandomHidden(Variant):
    """Q3/Q4: random hidden states where act'(.) is evaluated (``where="act"``), in dW2 (``"dW2"``)
    or in both (``"both"``).

    A random state is act(mu + sd * xi) with xi ~ N(0, 1) of shape (B, H) and mu, sd the
    per-unit mean and standard deviation of this minibatch's pre-activations z1: each unit
    keeps its own scale and (for ReLU) its firing rate, but the state is unrelated to the
    example. ``draw``: "fixed" keeps one xi per batch row for the whole run (tied to a row, not
    to an example, with this step's statistics: close to "redrawn"), "redrawn" draws xi every
    step, "example" gives each training example its own random h, drawn the first time the
    example is seen and kept (it needs the batch's row indices, which the trainer sets as
    ``rows``), "once" draws one random h (H,) at the first step, from that step's statistics,
    and uses it for every example at every step (a truly fixed vector).
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
        self.h_once: Array | None = None  # (1, H) the one random h ("once")

    def state_names(self) -> tuple[str, ...]:
        return {"fixed": ("xi",), "redrawn": (), "example": ("h_example", "seen"), "once": ("h_once",)}[self.draw]

    def state(self) -> dict[str, NDArray[Any]]:
        if self.draw == "fixed" and self.xi is not None:
            return {"xi": self.xi}
        if self.draw == "example" and self.h_example is not None and self.seen is not None:
            return {"h_example": self.h_example, "seen": self.seen}
        if self.draw == "once" and self.h_once is not None:
            return {"h_once": self.h_once}
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
        if "h_once" in arrays:
            self.h_once = self._expect(arrays, "h_once", (1, shape[1]), np.float32).copy()

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
        out = self._buf.get("h_rand", (B, H), h.dtype)
        if self.draw == "once":
            if self.h_once is None or self.h_once.shape[1] != H:
                xi = rng.standard_normal((1, H), dtype=np.float32)
                self.h_once = self._draw_states(model, z1, xi, xi)
            out[...] = self.h_once  # the same vector in every row, (B, H)
            return out
        if self.xi is None or self.xi.shape[1] != H or self.xi.shape[0] < B or self.xi.dtype != h.dtype:
            self.xi = rng.standard_normal((B, H), dtype=np.float32).astype(h.dtype, copy=False)
        elif self.redraw:
            self.xi = rng.standard_normal(self.xi.shape, dtype=np.float32).astype(h.dtype, copy=False)
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
