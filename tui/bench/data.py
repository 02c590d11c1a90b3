"""Data for the benchmarks: the real MNIST (full run) or a small synthetic look-alike (``--quick``).

The synthetic set has MNIST's shapes and dtypes (784 float32 pixels in [0, 1), ten
classes): each class is a random sparse "stroke" prototype plus noise, so a small MLP
learns it in a few hundred steps. It keeps ``--quick`` independent of any download.
"""

from __future__ import annotations

import numpy as np

from model.data import MNIST, load_mnist


def synthetic_mnist(n_train: int = 4_000, n_eval: int = 1_000, seed: int = 0) -> MNIST:
    """MNIST-shaped random data: x (N, 784) float32 in [0, 1), y (N,) int64 in 0..9."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, 784)) < 0.2).astype(np.float32) * 0.9  # (10, 784) sparse strokes

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n)
        x = prototypes[y] * rng.random((n, 1), dtype=np.float32)  # per-example ink strength
        x += rng.random((n, 784), dtype=np.float32) * 0.3  # background noise
        np.clip(x, 0.0, 0.99609375, out=x)
        return x.astype(np.float32), y.astype(np.int64)

    (trx, try_), (vax, vay), (tex, tey) = split(n_train), split(n_eval), split(n_eval)
    return MNIST(trx, try_, vax, vay, tex, tey, source=f"synthetic (seed {seed})")


def bench_data(quick: bool, path: str | None = None) -> MNIST:
    """Synthetic data for ``quick`` runs, else MNIST from ``path`` / the cache (DataError if missing)."""
    return synthetic_mnist() if quick else load_mnist(path)
