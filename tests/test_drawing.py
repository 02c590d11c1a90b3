"""The drawing pad's path into the network: MNIST's size normalisation and centring."""

from __future__ import annotations

import numpy as np
import pytest

from model.drawing import BOX, SIDE, area_weights, centre_of_mass, resize, to_mnist


def stroke(canvas: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    canvas[rows, cols] = 1.0
    return canvas


@pytest.mark.parametrize(("n_in", "n_out"), [(28, 20), (7, 20), (20, 20), (3, 1)])
def test_area_weights_average_and_keep_the_total_per_output_pixel(n_in: int, n_out: int) -> None:
    w = area_weights(n_in, n_out)
    assert w.shape == (n_out, n_in) and (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    img = np.random.default_rng(0).random((n_in, n_in)).astype(np.float32)
    assert resize(img, n_out, n_out).mean() == pytest.approx(img.mean(), rel=1e-5)  # no ink made or lost


def test_a_small_digit_in_a_corner_is_scaled_to_the_20_pixel_box_and_centred() -> None:
    canvas = stroke(np.zeros((28, 28), np.float32), slice(2, 12), slice(3, 7))  # 10 tall, 4 wide, top left
    out = to_mnist(canvas).reshape(SIDE, SIDE)
    rows, cols = np.nonzero(out > 0.05)
    assert rows.max() - rows.min() + 1 == BOX  # the longer side fills the box
    assert cols.max() - cols.min() + 1 == pytest.approx(8, abs=1)  # aspect ratio kept (4/10 of 20)
    r, c = centre_of_mass(out)
    assert abs(r - 13.5) <= 0.5 and abs(c - 13.5) <= 0.5  # centred by its centre of mass
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0


def test_where_and_how_big_a_digit_is_drawn_does_not_matter() -> None:
    big = stroke(np.zeros((56, 56), np.float32), slice(4, 50), slice(20, 40))  # a larger canvas
    small = stroke(np.zeros((28, 28), np.float32), slice(15, 27), slice(0, 5))
    a, b = to_mnist(big), to_mnist(small)
    assert np.corrcoef(a, b)[0, 1] > 0.9


def test_an_empty_canvas_gives_zeros() -> None:
    assert not to_mnist(np.zeros((28, 28), np.float32)).any()
    assert not to_mnist(np.full((28, 28), 0.01, np.float32)).any()  # faint noise is not ink
