"""Turn a drawn digit into an MNIST-like input, the way the MNIST images were made.

MNIST's digits were size-normalised to fit a 20x20 box, keeping their aspect ratio, with
anti-aliasing, then placed in a 28x28 image so that their centre of mass sits at the centre.
A digit drawn on a pad (any size, anywhere on the canvas) goes through the same steps before
the network sees it; without them, drawn digits are classified badly.

Leaves out the pad itself (strokes, brush, mouse): that belongs to the UI.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

SIDE = 28  # MNIST images are SIDE x SIDE
BOX = 20  # the digit's longer side after size normalisation
INK = 0.05  # a pixel above this counts as ink when finding the digit's bounding box


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
