"""Q2: stale weights, in the two senses the word has.

``StaleWeights`` (``stale``): only the feedback path is stale, delta_h = delta_out W2(t - k);
the forward pass and dW2 use the current weights. ``StaleGradient`` (``stale-gradient``): the
whole gradient is computed at the weights of k steps ago and applied to the current ones, as
a worker of asynchronous SGD does (Dean et al. 2012; Mitliagkas et al. 2016 relate the delay
to an implicit momentum). k = 0 is exact backprop for both. Until k steps have passed, the
oldest copy (the initial weights) is used. Leaves out: the registry (``registry.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.mlp import MLP, PARAM_NAMES, StepResult
from model.variants.base import Array, BackwardInputs, Labels, Variant

#: The old weights a stale-gradient rule may keep (k + 1 copies of every parameter).
MAX_RING_BYTES = 1 << 30


class StaleWeights(Variant):
    """The W2 of k steps ago carries the delta back (the forward pass uses the current weights).

    A ring of k+1 preallocated (K, H) slots is written in place each step.
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
        self.ring, self.t = ring.copy(), _counter(self, arrays)

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


class StaleGradient(Variant):
    """The exact gradient at the weights of k steps ago, on this step's minibatch.

    Rings of k+1 copies of W1 (H, D), b1 (H,), W2 (K, H), b2 (K,) are written in place each
    step; a shadow network whose parameters are views of the oldest slot computes the loss and
    the gradient (the loss reported is that of the stale weights, as the worker saw it).
    """

    name = "stale-gradient"

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.key = (self.name, k)
        self.rings: dict[str, Array] = {}  # name -> (k+1, *shape)
        self.t = 0
        self._shadow: MLP | None = None

    def state_names(self) -> tuple[str, ...]:
        return (*(f"ring_{n}" for n in PARAM_NAMES), "t")

    def state(self) -> dict[str, NDArray[Any]]:
        if not self.rings:
            return {}
        return {**{f"ring_{n}": a for n, a in self.rings.items()}, "t": np.array(self.t, np.int64)}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if not arrays:
            return
        if set(arrays) != set(self.state_names()):
            raise ValueError(
                f"stale-gradient: needs {', '.join(self.state_names())}, the checkpoint has {sorted(arrays)}"
            )
        K, H = shape
        n = self.k + 1
        D = arrays["ring_W1"].shape[-1] if arrays["ring_W1"].ndim == 3 else 0
        shapes = {"W1": (n, H, D), "b1": (n, H), "W2": (n, K, H), "b2": (n, K)}
        self.rings = {p: self._expect(arrays, f"ring_{p}", s, np.float32).copy() for p, s in shapes.items()}
        self.t, self._shadow = _counter(self, arrays), None

    def _allocate(self, model: MLP) -> None:
        n = self.k + 1
        size = n * sum(p.nbytes for p in model.params.values())
        if size > MAX_RING_BYTES:
            raise ValueError(
                f"stale-gradient with k={self.k} would keep {size / 2**30:.1f} GiB of old weights "
                f"(limit {MAX_RING_BYTES / 2**30:.0f} GiB): lower stale_k or the hidden units"
            )
        self.rings = {name: np.empty((n, *p.shape), p.dtype) for name, p in model.params.items()}
        for name, p in model.params.items():
            self.rings[name][...] = p
        self.t, self._shadow = 0, None

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        params = model.params
        if not self.rings or any(self.rings[n].shape[1:] != p.shape for n, p in params.items()):
            self._allocate(model)
        n = self.k + 1
        for name, p in params.items():
            np.copyto(self.rings[name][self.t % n], p)  # this step's weights
        old = (self.t + 1) % n  # the slot written k steps ago
        self.t += 1
        if self._shadow is None or self._shadow.act is not model.act:
            self._shadow = model.copy()
        for name in PARAM_NAMES:
            setattr(self._shadow, name, self.rings[name][old])
        return super().loss_and_grads(self._shadow, X, y, rng)


def _counter(rule: Variant, arrays: dict[str, NDArray[Any]]) -> int:
    t = rule._expect(arrays, "t", (), np.int64)
    if int(t) < 0:
        raise ValueError(f"{rule.name}: step counter t={int(t)} is negative")
    return int(t)
