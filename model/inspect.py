"""Looking inside a trained one-hidden-layer net: its filters, its units, one prediction, one step.

Everything takes a plain parameter dict (W1 (H, D), b1 (H,), W2 (K, H), b2 (K,)), such as the
copies in a weights snapshot, and an activation name, so it works on any copy of the live
weights without touching the trainer:

- ``filter_tiles`` / ``downsample2``: W1's rows scaled to [-1, 1] for drawing (one scale per
  row or one for all) and shrunk 2x2; ``tile_grid``: the first units' filters as one RGB image.
- ``unit_stats``: how often each hidden unit fires on a set (z1 > 0) and how many never do.
- ``explain``: logits of one example as sums of activation x weight over the hidden units,
  and the units that push most towards the predicted and the true class.
- ``minibatch_gradients``: the exact gradient on a small batch, its norms, and p - t per row.

Leaves out drawing and colours (``tui.view``) and the training variants' own backward passes
(these are the exact gradients of the cross-entropy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from model.activations import get_activation
from model.mlp import PARAM_NAMES, Grads, backward, log_softmax

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Params = dict[str, NDArray[np.floating]]
SIDE = 28


#: Tiles are scaled by this quantile of |w| (a few extreme weights would otherwise leave the
#: rest of the filter near zero), but never by less than ``FLOOR`` x the largest |w|.
QUANTILE = 0.99
FLOOR = 0.25


def filter_tiles(W1: NDArray[np.floating], per_tile: bool = True) -> F32:
    """W1 (H, D) -> (H, D) float32 in [-1, 1] for drawing.

    Each row is divided by its own scale (``per_tile``) or every row by one scale for the whole
    matrix; the scale is the ``QUANTILE`` of |w| (at least ``FLOOR`` x max |w|), and values
    beyond it are clipped. An all-zero row stays 0.
    """
    A = np.abs(np.asarray(W1, np.float32))
    if not A.size:
        return np.zeros(A.shape, np.float32)
    if per_tile:
        scale = np.maximum(np.quantile(A, QUANTILE, axis=1), FLOOR * A.max(axis=1))[:, None]  # (H, 1)
    else:
        scale = np.full((1, 1), max(float(np.quantile(A, QUANTILE)), FLOOR * float(A.max())), np.float32)
    scale = np.where(scale > 0, scale, 1.0)
    return np.clip(np.asarray(W1, np.float32) / scale, -1.0, 1.0).astype(np.float32)


def downsample2(tiles: NDArray[np.floating]) -> F32:
    """(N, 784) 28x28 images -> (N, 196) 14x14: the mean of each 2x2 block."""
    t = np.asarray(tiles, np.float32).reshape(-1, SIDE // 2, 2, SIDE // 2, 2)
    small: F32 = t.mean(axis=(2, 4)).reshape(-1, (SIDE // 2) ** 2)
    return small


#: ``tile_grid``'s colours, as the app's weights panel: negative red, zero near black, positive blue.
NEG_RGB = (255, 72, 56)
ZERO_RGB = (28, 28, 34)
POS_RGB = (80, 150, 255)
GAP_RGB = (128, 128, 128)
GRID_UNITS = 64


def tile_grid(W1: NDArray[np.floating], units: int = GRID_UNITS, zoom: int = 2) -> NDArray[np.uint8]:
    """The first ``units`` rows of W1 (H, 784) as 28x28 tiles in one (rows, cols, 3) uint8 RGB image.

    Tiles are scaled per unit by ``filter_tiles`` and coloured on a diverging map (``NEG_RGB`` at -1,
    ``ZERO_RGB`` at 0, ``POS_RGB`` at +1), laid out ceil(sqrt(n)) to a row with a 1-pixel grey gap,
    then every pixel repeated ``zoom`` x ``zoom``: for 64 units and zoom 2, 466 x 466 pixels.
    """
    n = min(int(units), W1.shape[0])
    if n < 1:
        return np.zeros((zoom, zoom, 3), np.uint8)
    v = filter_tiles(W1[:n]).reshape(n, SIDE, SIDE)
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    zero, pos, neg = (np.asarray(c, np.float32) for c in (ZERO_RGB, POS_RGB, NEG_RGB))
    a = np.abs(v)[..., None]
    rgb = zero + a * np.where(v[..., None] >= 0, pos - zero, neg - zero)  # (n, 28, 28, 3)
    step = SIDE + 1
    img = np.empty((rows * step + 1, cols * step + 1, 3), np.uint8)
    img[:] = GAP_RGB
    for i in range(n):
        r, c = divmod(i, cols)
        img[1 + r * step : 1 + r * step + SIDE, 1 + c * step : 1 + c * step + SIDE] = np.rint(rgb[i])
    if zoom > 1:
        img = img.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return img


@dataclass(frozen=True)
class UnitStats:
    """Hidden-unit activity on a set of N examples.

    firing: (H,) fraction of examples with z1 = W1 x + b1 > 0 (for relu: h > 0);
    mean_h: (H,) mean activation; dead: units that fire on none of the N examples.
    """

    firing: F64
    mean_h: F64
    n: int

    @property
    def dead(self) -> int:
        return int(np.count_nonzero(self.firing == 0.0))


def unit_stats(params: Params, activation: str, X: NDArray[np.floating], batch: int = 2_500) -> UnitStats:
    """Firing fraction and mean activation of every hidden unit over X (N, D), ``batch`` rows at a time."""
    act = get_activation(activation)
    W1, b1 = params["W1"], params["b1"]
    H = W1.shape[0]
    fires = np.zeros(H, np.int64)
    total_h = np.zeros(H, np.float64)
    for i in range(0, len(X), batch):
        z1 = X[i : i + batch] @ W1.T  # (b, H)
        z1 += b1
        fires += np.count_nonzero(z1 > 0, axis=0)
        total_h += act.forward(z1, out=z1).sum(axis=0, dtype=np.float64)
    n = max(len(X), 1)
    return UnitStats(fires / n, total_h / n, len(X))


@dataclass(frozen=True)
class Explanation:
    """Why one example got its label: logit_k = sum_j h_j W2[k, j] + b2[k].

    logits, probs: (K,); h: (H,) hidden activations; contrib: (K, H) h_j * W2[k, j];
    top_pred / top_true: (n,) hidden units with the largest contribution to the predicted /
    the true class, largest first.
    """

    logits: F64
    probs: F64
    h: F64
    contrib: F64
    pred: int
    true: int
    top_pred: I64
    top_true: I64


def explain(params: Params, activation: str, x: NDArray[np.floating], true_label: int, top: int = 8) -> Explanation:
    """The hidden units behind one prediction; x: (D,) pixels, true_label in 0..K-1."""
    act = get_activation(activation)
    W1, b1, W2, b2 = (np.asarray(params[k], np.float64) for k in PARAM_NAMES)
    z1 = W1 @ np.asarray(x, np.float64).ravel() + b1  # (H,)
    h = np.asarray(act.forward(z1), np.float64)  # (H,)
    contrib = h[None, :] * W2  # (K, H): unit j's share of logit k
    logits = contrib.sum(axis=1) + b2  # (K,)
    probs = np.exp(log_softmax(logits[None, :])[0])  # (K,)
    pred = int(np.argmax(logits))
    n = min(top, h.size)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :n]  # (K, n)
    return Explanation(logits, probs, h, contrib, pred, int(true_label), order[pred], order[int(true_label)])


@dataclass(frozen=True)
class BatchGradients:
    """The exact gradient of the mean cross-entropy on a minibatch.

    loss: mean over the B rows; delta: (B, K) p - t per row (before the 1/B of the mean);
    grads: W1 (H, D), b1 (H,), W2 (K, H), b2 (K,); norms: Frobenius norm of each.
    """

    loss: float
    delta: F64
    grads: Grads
    norms: dict[str, float]


def minibatch_gradients(
    params: Params, activation: str, X: NDArray[np.floating], y: NDArray[np.integer]
) -> BatchGradients:
    """Forward and exact backward pass on X (B, D), y (B,) int, without touching ``params``."""
    act = get_activation(activation)
    W1, b1, W2, b2 = (np.asarray(params[k], np.float32) for k in PARAM_NAMES)
    Xf = np.asarray(X, np.float32)
    h = act.forward(Xf @ W1.T + b1)  # (B, H)
    log_probs = log_softmax(h @ W2.T + b2)  # (B, K)
    probs = np.exp(log_probs)  # (B, K)
    B = len(y)
    loss = float(-log_probs[np.arange(B), y].mean()) if B else 0.0
    delta = probs.astype(np.float64)  # p - t, (B, K)
    delta[np.arange(B), y] -= 1.0
    grads = backward(Xf, np.asarray(y), probs, h, act.grad_from_output(h), W2)
    norms = {name: float(np.linalg.norm(grads[name])) for name in PARAM_NAMES}
    return BatchGradients(loss, delta, grads, norms)
