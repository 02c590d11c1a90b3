"""Q5: noise on the hidden state, additive (h + sigma eps) or multiplicative (h (1 + sigma eps),
Gaussian dropout: Srivastava et al. 2014, section 10), eps ~ N(0, 1) per unit and example.

Each mode says which of the four backward-pass inputs (``base.py``) see a noisy h, and
whether act'(.) is taken at the noisy h or at the clean pre-activation z1:

    mode                 output layer   dW2     act'(.)
    forward              noisy          clean   clean
    backward             clean          noisy   noisy
    backward-clean       clean          noisy   clean z1
    same                 noisy          noisy   noisy (one sample everywhere, as if h were overwritten)
    independent          noisy          noisy'  noisy' (a second sample for the backward pass)
    independent-clean    noisy          noisy'  clean z1
    true                 noisy          noisy   clean z1: the exact gradient of the noise-injected net

``true`` is ``same`` with act'(.) at the clean z1; with multiplicative noise it also carries
the factor (1 + sigma eps) of d(h m)/dz1 = act'(z1) m. sigma = 0 is exact backprop for every
mode and both kinds. Leaves out: the registry's names (``registry.py``).
"""

from __future__ import annotations

import numpy as np

from model.mlp import MLP
from model.variants.base import Array, BackwardInputs, Variant, clean_hidden, readout

NOISE_MODES = ("forward", "backward", "backward-clean", "same", "independent", "independent-clean", "true")
NOISE_KINDS = ("additive", "multiplicative")


class HiddenNoise(Variant):
    """Noise on h in the places ``mode`` names (see the module docstring's table)."""

    def __init__(self, mode: str, sigma: float, kind: str = "additive") -> None:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)} (got {mode!r})")
        if kind not in NOISE_KINDS:
            raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)} (got {kind!r})")
        self.name = f"noise-{mode}"
        super().__init__()
        self.mode, self.sigma, self.kind = mode, sigma, kind
        self.key = (self.name, sigma, kind)

    def _factor(self, shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator, slot: str) -> Array:
        """sigma eps (additive) or 1 + sigma eps (multiplicative), (B, H) in a reused buffer."""
        out = self._buf.get(slot, shape, dtype)
        if out.dtype == np.float32:
            rng.standard_normal(dtype=np.float32, out=out)
        else:
            out[...] = rng.standard_normal(shape)
        out *= self.sigma
        if self.kind == "multiplicative":
            out += 1.0
        return out

    def _noisy(self, h: Array, rng: np.random.Generator, slot: str) -> tuple[Array, Array]:
        """(noisy h, the factor it was made with); both (B, H)."""
        f = self._factor(h.shape, h.dtype, rng, slot)
        out = self._buf.get(slot + "_h", h.shape, h.dtype)
        if self.kind == "multiplicative":
            return np.multiply(h, f, out=out), f  # h (1 + sigma eps)
        return np.add(h, f, out=out), f  # h + sigma eps

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2, mode = model.W2, self.mode
        if mode in ("independent", "independent-clean"):
            n1, _ = self._noisy(h, rng, "n1")
            n2, _ = self._noisy(h, rng, "n2")
            return BackwardInputs(n1, n2, h if mode == "independent-clean" else n2, W2)
        n, f = self._noisy(h, rng, "n1")
        if mode == "forward":
            return BackwardInputs(n, h, h, W2)
        if mode == "backward":
            return BackwardInputs(h, n, n, W2)
        if mode == "backward-clean":
            return BackwardInputs(h, n, h, W2)
        if mode == "same":
            return BackwardInputs(n, n, n, W2)
        return BackwardInputs(n, n, h, W2, f if self.kind == "multiplicative" else None)  # true

    def forward_as_trained(self, model: MLP, X: Array, rng: np.random.Generator) -> Array | None:
        if self.mode in ("backward", "backward-clean"):
            return None  # the forward pass is the clean network's
        h = clean_hidden(model, X)
        return readout(model, self._noisy(h, rng, "eval")[0])
