"""The drawing pad's path into the network: MNIST's size normalisation and centring."""

from __future__ import annotations

import numpy as np
import pytest

from model.drawing import (
    BOX,
    BRUSH_RADIUS,
    SIDE,
    area_weights,
    centre_of_mass,
    class_probs,
    paint,
    paint_line,
    resize,
    to_mnist,
)
from model.mlp import MLP


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


# ---- the brush ---------------------------------------------------------------------------------


def blank() -> np.ndarray:
    return np.zeros((SIDE, SIDE), np.float32)


def test_a_stamp_is_full_in_the_middle_soft_at_the_edge_and_nothing_beyond() -> None:
    canvas = blank()
    paint(canvas, 10, 14)  # column 10, row 14
    assert canvas[14, 10] == 1.0
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    d = np.hypot(cols - 10, rows - 14)
    assert (canvas[d > BRUSH_RADIUS + 1.0] == 0).all()  # nothing far away
    edge = canvas[(d > 1.0) & (d < BRUSH_RADIUS + 1.0)]
    assert ((edge > 0) & (edge < 1)).any()  # anti-aliased: partial ink at the rim
    assert canvas.dtype == np.float32 and canvas.min() >= 0 and canvas.max() <= 1


def test_the_stroke_is_about_mnist_wide() -> None:
    canvas = blank()
    paint_line(canvas, 4, 14, 24, 14)  # a horizontal line
    half = np.count_nonzero(canvas[:, 14] >= 0.5)  # width at half intensity, across the stroke
    assert 2 <= half <= 3


def test_a_fast_drag_leaves_no_gap() -> None:
    canvas = blank()
    paint_line(canvas, 2, 3, 25, 24)  # one mouse move across the whole pad
    for t in np.linspace(0, 1, 50):  # every point of the segment is inked
        x, y = 2 + 23 * t, 3 + 21 * t
        assert canvas[round(y), round(x)] > 0.5
    assert canvas[24, 2] == 0 and canvas[3, 25] == 0  # and the far corners are not


def test_painting_over_a_stroke_does_not_darken_it_and_erasing_removes_it() -> None:
    canvas = blank()
    paint_line(canvas, 5, 5, 20, 5)
    once = canvas.copy()
    paint_line(canvas, 5, 5, 20, 5)
    np.testing.assert_array_equal(canvas, once)
    paint_line(canvas, 5, 5, 20, 5, erase=True)  # the eraser is wide enough to take a whole stroke
    assert not canvas.any()
    paint(canvas, 9, 9)
    paint(canvas, 9.4, 9, erase=True)  # also a stamp that is a little off
    assert not canvas.any()


# ---- the live model's verdict ----------------------------------------------------------------


def test_class_probs_match_the_model_on_the_preprocessed_digit() -> None:
    model = MLP(784, 32, rng=np.random.default_rng(0))
    canvas = blank()
    paint_line(canvas, 8, 4, 20, 22)
    probs = class_probs(model.params, canvas, model.act.name)
    assert probs is not None and probs.shape == (10,) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, model.forward(to_mnist(canvas)[None, :])[0], rtol=1e-5, atol=1e-7)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_an_empty_canvas_gives_no_prediction() -> None:
    model = MLP(784, 8, rng=np.random.default_rng(0))
    assert class_probs(model.params, blank()) is None
    assert class_probs(model.params, np.full((SIDE, SIDE), 0.01, np.float32)) is None
