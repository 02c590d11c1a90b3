"""Random shifts of training images: each image moves by its own offset; zeros come in at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from model.augment import random_shift
from model.config import HyperParams
from model.trainer import Trainer


class FixedShifts:
    """Stands in for a Generator: returns the given (dy, dx) for every image."""

    def __init__(self, dy: list[int], dx: list[int]) -> None:
        self.shifts = np.array([dy, dx])

    def integers(self, low: int, high: int, size: tuple[int, int]) -> np.ndarray:
        assert size == self.shifts.shape and low <= self.shifts.min() and self.shifts.max() < high
        return self.shifts


def test_each_image_moves_by_its_own_offset() -> None:
    X = np.zeros((3, 784), np.float32)
    X[:, 14 * 28 + 14] = 1.0  # one lit pixel at (14, 14)
    out = random_shift(X, 2, FixedShifts([1, -2, 0], [0, 2, -1]))  # type: ignore[arg-type]
    lit = [tuple(np.argwhere(img.reshape(28, 28))[0]) for img in out]
    assert lit == [(15, 14), (12, 16), (14, 13)]
    assert out.sum() == 3.0 and X[:, 14 * 28 + 14].all()  # X untouched


def test_pixels_pushed_out_are_lost_and_zeros_come_in() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((2, 784), dtype=np.float32)
    out = random_shift(X, 2, FixedShifts([2, 0], [0, -2]))  # type: ignore[arg-type]
    img0, src0 = out[0].reshape(28, 28), X[0].reshape(28, 28)
    np.testing.assert_array_equal(img0[:2], 0.0)  # moved down by 2: top rows are new
    np.testing.assert_array_equal(img0[2:], src0[:-2])
    img1, src1 = out[1].reshape(28, 28), X[1].reshape(28, 28)
    np.testing.assert_array_equal(img1[:, -2:], 0.0)  # moved left by 2
    np.testing.assert_array_equal(img1[:, :-2], src1[:, 2:])


def test_in_place_and_zero_shift() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((16, 784), dtype=np.float32)
    np.testing.assert_array_equal(random_shift(X, 0, rng), X)
    expected = random_shift(X, 1, np.random.default_rng(7))
    same = X.copy()
    assert random_shift(same, 1, np.random.default_rng(7), out=same) is same
    np.testing.assert_array_equal(same, expected)
    assert not np.array_equal(expected, X)  # 16 images, 9 offsets: some moved


def test_offsets_cover_the_range_evenly() -> None:
    X = np.zeros((4000, 784), np.float32)
    X[:, 14 * 28 + 14] = 1.0
    out = random_shift(X, 2, np.random.default_rng(3))
    rows, cols = np.divmod(out.argmax(axis=1), 28)
    offsets = (rows - 14) * 5 + (cols - 14)
    counts = np.bincount(offsets + 12, minlength=25)
    assert counts.min() > 4000 / 25 * 0.7  # every one of the 25 offsets in [-2, 2]^2 shows up


def test_wrong_image_size_is_refused() -> None:
    with pytest.raises(ValueError, match="28x28"):
        random_shift(np.zeros((2, 10), np.float32), 1, np.random.default_rng(0))


def test_trainer_shifts_only_the_training_batches() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    X0 = X.copy()
    plain = Trainer((X, y), HyperParams(hidden=8, batch_size=16))
    shifted = Trainer((X, y), HyperParams(hidden=8, batch_size=16, augment=2))
    xb_plain, yb_plain = (a.copy() for a in plain._next_batch())
    xb_shift, yb_shift = shifted._next_batch()
    np.testing.assert_array_equal(yb_plain, yb_shift)  # same order, same labels
    assert not np.array_equal(xb_plain, xb_shift)
    assert (xb_shift.sum(axis=1) <= xb_plain.sum(axis=1) + 1e-3).all()  # ink only moves or falls off the edge
    np.testing.assert_array_equal(X, X0)  # the training set itself is never shifted
