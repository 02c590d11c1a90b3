"""Turn a drawn digit into an MNIST-like input, the way the MNIST images were made.

MNIST's digits were size-normalised to fit a 20x20 box, keeping their aspect ratio, with
anti-aliasing, then placed in a 28x28 image so that their centre of mass sits at the centre.
A digit drawn on a pad (any size, anywhere on the canvas) goes through the same steps before
the network sees it; without them, drawn digits are classified badly.

The pad's brush (``paint_line``, ``paint``: a soft round stamp dragged along a segment, so a
fast mouse drag leaves no gaps) and the live model's verdict on a canvas (``class_probs``) live
here too, as pure numpy. Leaves out the mouse, keys and drawing on screen: those belong to the UI.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from model.activations import get_activation
from model.mlp import softmax

F32 = NDArray[np.float32]

SIDE = 28  # MNIST images are SIDE x SIDE
BOX = 20  # the digit's longer side after size normalisation
INK = 0.05  # a pixel above this counts as ink when finding the digit's bounding box
#: The brush: half the stroke width at half intensity (MNIST strokes are ~2-3 pixels wide
#: once the digit fills its 20-pixel box), and the width of its anti-aliased edge.
BRUSH_RADIUS = 1.4
BRUSH_SOFTNESS = 1.2
#: The eraser is wider by the soft edge: one stamp takes away all the ink one brush stamp left.
ERASER_RADIUS = BRUSH_RADIUS + BRUSH_SOFTNESS


def area_weights(n_in: int, n_out: int) -> F32:
    """(n_out, n_in) resampling matrix: each output pixel averages the input it covers, weighted
    by overlap (area averaging down, linear-edged blocks up); every row sums to 1."""
    edges_out = np.arange(n_out + 1) * (n_in / n_out)
    lo = np.maximum(edges_out[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges_out[1:, None], np.arange(1, n_in + 1)[None, :])
    w = np.clip(hi - lo, 0.0, None)
    weights: F32 = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
    return weights


def resize(img: F32, rows: int, cols: int) -> F32:
    """``img`` (h, w) resampled to (rows, cols) by area averaging."""
    out: F32 = area_weights(img.shape[0], rows) @ np.asarray(img, np.float32) @ area_weights(img.shape[1], cols).T
    return out


def centre_of_mass(img: F32) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre of ``img`` (h, w); its middle if empty."""
    total = float(img.sum())
    if total <= 0:
        return (img.shape[0] - 1) / 2, (img.shape[1] - 1) / 2
    r = float(np.arange(img.shape[0]) @ img.sum(axis=1)) / total
    c = float(np.arange(img.shape[1]) @ img.sum(axis=0)) / total
    return r, c


def to_mnist(canvas: F32) -> F32:
    """A drawn digit as the network's input.

    canvas: (h, w) ink in [0, 1] (any size; 28x28 for the app's pad). Returns (784,) float32 in
    [0, 1]: the ink's bounding box scaled so its longer side is 20 pixels (aspect ratio kept),
    placed in 28x28 with its centre of mass at the centre (as far as the frame allows). An empty
    canvas gives zeros.
    """
    canvas = np.clip(np.asarray(canvas, np.float32), 0.0, 1.0)
    ink_rows, ink_cols = np.nonzero(canvas > INK)
    out = np.zeros((SIDE, SIDE), np.float32)
    if ink_rows.size == 0:
        return out.ravel()
    digit = canvas[ink_rows.min() : ink_rows.max() + 1, ink_cols.min() : ink_cols.max() + 1]
    h, w = digit.shape
    scale = BOX / max(h, w)
    rows, cols = max(1, round(h * scale)), max(1, round(w * scale))
    small = resize(digit, rows, cols)
    cr, cc = centre_of_mass(small)
    top = int(np.clip(round((SIDE - 1) / 2 - cr), 0, SIDE - rows))
    left = int(np.clip(round((SIDE - 1) / 2 - cc), 0, SIDE - cols))
    out[top : top + rows, left : left + cols] = small
    return np.clip(out, 0.0, 1.0).ravel()


def paint_line(
    canvas: F32,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    radius: float | None = None,
    erase: bool = False,
    softness: float = BRUSH_SOFTNESS,
) -> None:
    """Drag a soft round brush from (x0, y0) to (x1, y1) over ``canvas`` (h, w) float32, in place.

    x is the column and y the row, in pixels (pixel centres at whole numbers, fractions allowed).
    A pixel at distance d from the segment gets ink clip((radius - d) / softness + 0.5, 0, 1):
    full inside, a ``softness``-pixel anti-aliased edge, half ink at ``radius``. Painting keeps
    the stronger of old and new ink (going over a stroke does not darken it further); erasing
    takes as much away. ``radius`` defaults to ``BRUSH_RADIUS``, or ``ERASER_RADIUS`` to erase.
    """
    if radius is None:
        radius = ERASER_RADIUS if erase else BRUSH_RADIUS
    h, w = canvas.shape
    rows = np.arange(h, dtype=np.float32)[:, None]  # (h, 1)
    cols = np.arange(w, dtype=np.float32)[None, :]  # (1, w)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 > 0:  # the nearest point of the segment to each pixel, as a fraction t along it
        t = np.clip(((cols - x0) * dx + (rows - y0) * dy) / length2, 0.0, 1.0)  # (h, w)
    else:
        t = np.zeros((h, w), np.float32)
    d = np.hypot(cols - (x0 + t * dx), rows - (y0 + t * dy))  # (h, w) distance to the segment
    ink = np.clip((radius - d) / softness + 0.5, 0.0, 1.0).astype(np.float32)
    if erase:
        np.minimum(canvas, 1.0 - ink, out=canvas)
    else:
        np.maximum(canvas, ink, out=canvas)


def paint(canvas: F32, x: float, y: float, radius: float | None = None, erase: bool = False) -> None:
    """One stamp of the brush at column ``x``, row ``y`` of ``canvas`` (h, w), in place (see ``paint_line``)."""
    paint_line(canvas, x, y, x, y, radius, erase)


def class_probs(params: dict[str, F32], canvas: F32, activation: str = "relu") -> F32 | None:
    """The network's ten class probabilities for a drawn digit, after ``to_mnist``.

    params: W1 (H, 784), b1 (H,), W2 (K, H), b2 (K,); canvas: (h, w) ink in [0, 1]. Returns (K,)
    float32 summing to 1, or None for a canvas without ink (nothing to classify).
    """
    x = to_mnist(canvas)  # (784,)
    if not x.any():
        return None
    act = get_activation(activation)
    h = act.forward(params["W1"] @ x + params["b1"])  # (H,)
    logits = params["W2"] @ h + params["b2"]  # (K,)
    probs: F32 = softmax(logits[None, :])[0].astype(np.float32)
    return probs
