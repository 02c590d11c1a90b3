"""The training set a run draws from: the first ``train_size`` rows, with ``label_noise`` of their
labels replaced by another class.

Both come from the hyperparameters and the seed, so a run (and its replay) sees the same images
and the same wrong labels every time. The validation and test sets are never touched: a run is
judged on clean labels. Leaves out the order of the examples (the trainer's) and augmentation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float32]
Labels = NDArray[np.int64]
CLASSES = 10


def training_rows(n_available: int, train_size: int) -> int:
    """How many rows a run trains on: ``train_size`` (0, or more than there are: all of them)."""
    return n_available if train_size <= 0 else min(train_size, n_available)


def training_set(
    X: Array, y: Labels, train_size: int, label_noise: float, rng: np.random.Generator, classes: int = CLASSES
) -> tuple[Array, Labels]:
    """(X[:n], labels of those rows with round(label_noise * n) of them flipped).

    X: (N, D) float32, y: (N,) int. The images are a view (no copy); the labels are a copy only
    when some are flipped. Each flipped row gets one of the other ``classes - 1`` labels, uniformly,
    so a flipped label is always wrong.
    """
    n = training_rows(len(X), train_size)
    Xn, yn = X[:n], y[:n]
    flips = round(label_noise * n)
    if flips == 0:
        return Xn, yn
    noisy = np.array(yn, np.int64)  # (n,)
    rows = rng.choice(n, size=flips, replace=False)  # (flips,)
    noisy[rows] = (noisy[rows] + rng.integers(1, classes, size=flips)) % classes
    return Xn, noisy
