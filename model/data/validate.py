"""Check and normalise MNIST arrays into one internal form: uint8 pixels and int64 labels.

``RawMNIST`` holds each split as images ``(N, 784)`` uint8 (0..255) and labels ``(N,)`` int64
(0..9). Float pixels are accepted when they are exact k/256 values in [0, 1) (the classic
mnist.pkl.gz) or k/255 values in [0, 1]; both map back to the original bytes. Leaves out file
reading (formats.py) and the float32 view handed to users (dataset.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

PIXELS = 784
SIDE = 28
SPLITS = ("train", "valid", "test")
#: The most examples a split of MNIST has (Keras' and LeCun's train set); more is refused unread.
MAX_EXAMPLES = 60_000
#: The most examples MNIST's test set (and the classic valid set) has.
MAX_TEST = 10_000


@dataclass(frozen=True)
class RawMNIST:
    """MNIST as stored: x arrays ``(N, 784)`` uint8, y arrays ``(N,)`` int64 in 0..9."""

    train_x: NDArray[np.uint8]
    train_y: NDArray[np.int64]
    valid_x: NDArray[np.uint8]
    valid_y: NDArray[np.int64]
    test_x: NDArray[np.uint8]
    test_y: NDArray[np.int64]

    def arrays(self) -> dict[str, np.ndarray]:
        """The six arrays by name (train_x, train_y, valid_x, ...), in a fixed order."""
        return {f"{s}_{k}": getattr(self, f"{s}_{k}") for s in SPLITS for k in ("x", "y")}

    def sizes(self) -> tuple[int, int, int]:
        """Number of examples in (train, valid, test)."""
        return (len(self.train_y), len(self.valid_y), len(self.test_y))


class Invalid(ValueError):
    """A validation failure; the caller adds which file and what to do."""


def images(x: object, name: str) -> NDArray[np.uint8]:
    """``x`` as C-contiguous uint8 ``(N, 784)``; accepts ``(N, 784)`` or ``(N, 28, 28)``."""
    if not isinstance(x, np.ndarray):
        raise Invalid(f"{name} is a {type(x).__name__}, expected a numpy array")
    if x.ndim == 3 and x.shape[1:] == (SIDE, SIDE):
        x = x.reshape(len(x), PIXELS)
    if x.ndim != 2 or x.shape[1] != PIXELS:
        raise Invalid(f"{name} has shape {x.shape}, expected (N, 784) or (N, 28, 28)")
    if len(x) == 0:
        raise Invalid(f"{name} is empty")
    if len(x) > MAX_EXAMPLES:
        raise Invalid(f"{name} declares {len(x):,} images, more than MNIST's {MAX_EXAMPLES:,}")
    return np.ascontiguousarray(_pixels_to_uint8(x, name))


def _pixels_to_uint8(x: np.ndarray, name: str) -> NDArray[np.uint8]:
    """Recover the 0..255 pixel bytes from integer or k/256 or k/255 float pixels."""
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind in "iu":
        ilo, ihi = int(x.min()), int(x.max())
        if ilo < 0 or ihi > 255:
            raise Invalid(f"{name} has integer pixels in {ilo}..{ihi}, expected 0..255")
        return x.astype(np.uint8)
    if x.dtype.kind != "f":
        raise Invalid(f"{name} has dtype {x.dtype}, expected float pixels or uint8")
    lo, hi = float(x.min()), float(x.max())
    if not (lo >= 0.0 and hi <= 1.0):  # also false for NaN
        raise Invalid(f"{name} has pixel values in [{lo:g}, {hi:g}], expected [0, 1)")
    scaled: NDArray[np.floating[Any]] = x * x.dtype.type(256)
    as_bytes: NDArray[np.uint8] = scaled.astype(np.uint8)
    if hi < 1.0 and np.array_equal(as_bytes, scaled):
        return as_bytes
    scaled = x.astype(np.float64) * 255.0
    as_bytes = np.rint(scaled).astype(np.uint8)
    if float(np.abs(scaled - as_bytes).max()) <= 1e-3:
        return as_bytes
    raise Invalid(f"{name} has pixel values that are not multiples of 1/256 (or 1/255)")


def labels(y: object, name: str, n: int) -> NDArray[np.int64]:
    """``y`` as int64 ``(n,)`` with every label in 0..9 (integral floats are accepted)."""
    if not isinstance(y, np.ndarray):
        raise Invalid(f"{name} is a {type(y).__name__}, expected a numpy array")
    if y.ndim != 1 or len(y) != n:
        raise Invalid(f"{name} has shape {y.shape}, expected ({n},) to match the images")
    if y.dtype.kind == "f":
        if not np.array_equal(y, np.round(y)):
            raise Invalid(f"{name} has non-integer labels")
    elif y.dtype.kind not in "iu":
        raise Invalid(f"{name} has dtype {y.dtype}, expected integer labels")
    lo, hi = y.min(), y.max()
    if not (lo >= 0 and hi <= 9):
        raise Invalid(f"{name} range over {lo}..{hi}, expected 0..9")
    return y.astype(np.int64)


def split_pair(x: object, y: object, name: str) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Validate one (images, labels) pair called ``name`` ("train", ...)."""
    xs = images(x, f"{name} images")
    return xs, labels(y, f"{name} labels", len(xs))


def from_train_test(train_x: object, train_y: object, test_x: object, test_y: object) -> RawMNIST:
    """Build the classic split from a 60k-style train set: valid = the last 1/6 (10,000 of 60,000)."""
    tx, ty = split_pair(train_x, train_y, "train")
    sx, sy = split_pair(test_x, test_y, "test")
    n_valid = len(tx) // 6
    if n_valid == 0:
        raise Invalid(f"the training set has {len(tx)} images, need at least 6 to split off valid")
    cut = len(tx) - n_valid
    return RawMNIST(tx[:cut], ty[:cut], tx[cut:], ty[cut:], sx, sy)


def check(raw: RawMNIST, expected_sizes: tuple[int, int, int] | None = None) -> RawMNIST:
    """Check dtypes/shapes/ranges of an assembled RawMNIST, and exact sizes if given."""
    for name, a in raw.arrays().items():
        if name.endswith("_x"):
            if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != PIXELS or len(a) == 0:
                raise Invalid(f"{name} has {a.dtype} shape {a.shape}, expected uint8 (N, 784)")
        else:
            n = len(getattr(raw, name[:-1] + "x"))
            if a.dtype != np.int64 or a.shape != (n,):
                raise Invalid(f"{name} has {a.dtype} shape {a.shape}, expected int64 ({n},)")
            if len(a) and not (a.min() >= 0 and a.max() <= 9):
                raise Invalid(f"{name} has labels outside 0..9")
    if expected_sizes is not None and raw.sizes() != expected_sizes:
        raise Invalid(f"splits have sizes {raw.sizes()}, expected {expected_sizes} (train, valid, test)")
    return raw
