"""Training-batch augmentation: small random translations of the 28x28 digits, vectorised.

Each image in the batch moves by its own (dy, dx), drawn uniformly from
{-s, ..., s}^2, with zeros shifted in at the edges (MNIST's background). One gather
moves the whole batch: no Python loop over examples. Only the training batches are
shifted; evaluation sees the original images. Leaves out rotations and elastic
distortions.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

Array = NDArray[np.float32]
SIDE = 28  # MNIST images are SIDE x SIDE, flattened row by row


def random_shift(X: Array, max_shift: int, rng: np.random.Generator, out: Array | None = None) -> Array:
    """Shift every row of X, seen as a 28x28 image, by a random (dy, dx) in [-max_shift, max_shift].

    X: (B, 784) float32 -> (B, 784), written into ``out`` if given (may be X itself).
    Pixels that move in from outside the image are 0.
    """
    B, s = X.shape[0], max_shift
    if X.shape[1] != SIDE * SIDE:
        raise ValueError(f"random_shift needs {SIDE}x{SIDE} images, got {X.shape[1]} pixels per row")
    out = np.empty_like(X) if out is None else out
    if s <= 0:
        np.copyto(out, X)
        return out
    padded = np.zeros((B, SIDE + 2 * s, SIDE + 2 * s), X.dtype)  # (B, 28 + 2s, 28 + 2s)
    padded[:, s : s + SIDE, s : s + SIDE] = X.reshape(B, SIDE, SIDE)
    dy, dx = rng.integers(-s, s + 1, size=(2, B))  # per-image shift, (B,) each
    windows = sliding_window_view(padded, (SIDE, SIDE), axis=(1, 2))  # (B, 2s+1, 2s+1, 28, 28), a view
    out.reshape(B, SIDE, SIDE)[...] = windows[np.arange(B), s - dy, s - dx]  # image i's window, (B, 28, 28)
    return out
