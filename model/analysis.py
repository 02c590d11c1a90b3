"""Statistics and reshaping behind the app's panels, in plain numpy.

Misclassified test images with their probabilities and the set's confusion matrix;
filtering and sorting of those images for the digit viewer; growing buffers,
downsampling and exponential smoothing for long training curves; "nice" tick
positions for chart axes. Everything returns arrays ready to draw. Drawing itself
(colours, text, widgets) is left to ``tui``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from model.mlp import MLP

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

SortOrder = Literal["index", "confident", "unsure"]
#: Sort orders in the order the viewer cycles through them.
SORT_ORDERS: tuple[SortOrder, ...] = ("index", "confident", "unsure")


# ---- misclassified examples and the confusion matrix -----------------------------


@dataclass(frozen=True)
class Misclassified:
    """The wrongly classified rows of an evaluated set, and that set's confusion matrix.

    images: (N, 784) float32, true/pred: (N,) int64, probs: (N, 10) float32,
    indices: (N,) int64 row numbers in the evaluated set (ascending),
    confusion: (10, 10) int64 over the WHOLE set (rows true, columns predicted),
    total: size of the evaluated set.
    """

    images: F32
    true: I64
    pred: I64
    probs: F32
    indices: I64
    confusion: I64
    total: int

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def error_rate(self) -> float:
        """Fraction of the whole set that is misclassified."""
        return len(self.indices) / self.total if self.total else 0.0

    @property
    def confidence(self) -> F32:
        """(N,) probability the model gave its (wrong) predicted class."""
        return self.probs[np.arange(len(self.pred)), self.pred]


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, k: int = 10) -> I64:
    """Counts of (true, predicted) pairs; y_true, y_pred: (N,) ints in [0, k) -> (k, k) int64."""
    t = np.asarray(y_true, np.int64)
    p = np.asarray(y_pred, np.int64)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def per_class_error(confusion: I64) -> F64:
    """Error rate per true class from a (k, k) confusion matrix -> (k,); NaN for an absent class."""
    totals = confusion.sum(axis=1).astype(np.float64)
    wrong = totals - np.diag(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, wrong / totals, np.nan)


def misclassified(model: MLP, X: NDArray[np.floating], y: ArrayLike, batch: int = 10_000) -> Misclassified:
    """Run the model over a whole set and keep what it gets wrong; X: (N, D), y: (N,) int."""
    y = np.asarray(y, np.int64)
    _, _, pred, probs = model.scores(X, y, batch)
    return mistakes(X, y, pred.astype(np.int64, copy=False), probs)


def mistakes(X: NDArray[np.floating], y: I64, pred: I64, probs: NDArray[np.floating]) -> Misclassified:
    """The wrong rows of a set already run through the model.

    X: (N, D), y, pred: (N,) int64, probs: (N, K) the model's probabilities.
    """
    wrong = np.flatnonzero(pred != y).astype(np.int64)
    return Misclassified(
        images=np.asarray(X[wrong], np.float32),
        true=y[wrong],
        pred=pred[wrong],
        probs=np.asarray(probs[wrong], np.float32),
        indices=wrong,
        confusion=confusion_matrix(y, pred, probs.shape[1]),
        total=len(y),
    )


def select(
    result: Misclassified,
    true_class: int | None = None,
    pred_class: int | None = None,
    order: SortOrder = "index",
) -> I64:
    """Positions into ``result`` matching the filters, in the requested order.

    order: "index" (set order), "confident" (highest probability of the wrong class
    first) or "unsure" (lowest first). Ties keep set order (stable sort).
    """
    keep = np.ones(len(result), bool)
    if true_class is not None:
        keep &= result.true == true_class
    if pred_class is not None:
        keep &= result.pred == pred_class
    pos = np.flatnonzero(keep).astype(np.int64)
    if order == "index" or len(pos) == 0:
        return pos
    conf = result.confidence[pos]
    key = -conf if order == "confident" else conf
    return pos[np.argsort(key, kind="stable")]


def relocate(selected_rows: I64, old_row: int | None, old_position: int, order: SortOrder) -> int:
    """Where the viewer should stand in a new selection, given what it showed before.

    selected_rows: (M,) set row numbers (``result.indices[selection]``) in display order.
    Stays on the same image if it is still there; in set order moves to the next
    image after it; otherwise keeps the old position, clipped to the new length.
    """
    n = len(selected_rows)
    if n == 0:
        return 0
    if old_row is not None:
        hits = np.flatnonzero(selected_rows == old_row)
        if len(hits):
            return int(hits[0])
        if order == "index":
            return min(int(np.searchsorted(selected_rows, old_row)), n - 1)
    return min(max(old_position, 0), n - 1)


# ---- long curves: buffers, downsampling, smoothing -------------------------------


class GrowingArray:
    """A 1-D float64 array with amortised O(1) appends (capacity doubles)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(max(capacity, 1), np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, values: ArrayLike) -> None:
        """Append values: scalar or (M,)."""
        v = np.asarray(values, np.float64).ravel()
        need = self._n + len(v)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = v
        self._n = need

    def clear(self) -> None:
        self._n = 0

    @property
    def values(self) -> F64:
        """(n,) view of the stored values (valid until the next append)."""
        return self._data[: self._n]


def downsample(x: ArrayLike, y: ArrayLike, max_points: int = 400) -> tuple[F64, F64]:
    """At most ``max_points`` of the points (x, y), keeping the curve's shape.

    x, y: (N,). The interior is cut into equal buckets and each bucket keeps its
    lowest and highest point (in x order), so spikes and the noise band survive;
    the first and last points are always kept. Returns float64 copies.
    """
    xs = np.asarray(x, np.float64)
    ys = np.asarray(y, np.float64)
    n = len(xs)
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    if n <= max_points:
        return xs.copy(), ys.copy()
    interior = ys[1 : n - 1]
    m = len(interior)
    buckets = (max_points - 2) // 2
    size = -(-m // buckets)  # ceil
    rows = -(-m // size)
    padded = np.pad(interior, (0, rows * size - m), mode="edge").reshape(rows, size)
    base = np.arange(rows) * size
    lo = np.minimum(base + padded.argmin(axis=1), m - 1)
    hi = np.minimum(base + padded.argmax(axis=1), m - 1)
    keep = np.unique(np.concatenate(([0], lo + 1, hi + 1, [n - 1])))
    return xs[keep], ys[keep]


class RunningEMA:
    """Exponential moving average s <- (1 - alpha) s + alpha x, fed in chunks.

    ``update`` costs O(new points) and is vectorised inside each run of finite
    values. The first finite value seeds the average (no bias toward 0). A
    non-finite input leaves the average unchanged and yields NaN at that point.
    """

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = float(alpha)
        self.value: float | None = None
        decay = 1.0 - self.alpha
        # Longest chunk whose closed form stays accurate: decay**-L <= 1e8.
        self._chunk = 4096 if decay == 0.0 else max(1, min(4096, int(8 * math.log(10) / -math.log(decay))))

    def reset(self) -> None:
        self.value = None

    def update(self, values: ArrayLike) -> F64:
        """Feed (M,) values; returns the (M,) smoothed values after each one."""
        v = np.asarray(values, np.float64).ravel()
        out = np.full(len(v), np.nan)
        finite = np.isfinite(v)
        if finite.all():
            self._run(v, out)
            return out
        # Split at non-finite entries; each finite run is smoothed in one go.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.view(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            self._run(v[start:stop], out[start:stop])
        return out

    def _run(self, v: F64, out: F64) -> None:
        """Smooth an all-finite run ``v`` into ``out`` (same length)."""
        if len(v) == 0:
            return
        start = 0
        if self.value is None:
            self.value = float(v[0])
            out[0] = self.value
            start = 1
        a, decay = self.alpha, 1.0 - self.alpha
        for i in range(start, len(v), self._chunk):
            chunk = v[i : i + self._chunk]
            L = len(chunk)
            if decay == 0.0:
                out[i : i + L] = chunk
                self.value = float(chunk[-1])
                continue
            # s_t = d^(t+1) s0 + a * sum_{j<=t} d^(t-j) x_j = d^(t+1) (s0 + a * sum_j x_j / d^(j+1))
            w = decay ** np.arange(1, L + 1)  # (L,)
            s = w * (self.value + a * np.cumsum(chunk / w))
            out[i : i + L] = s
            self.value = float(s[-1])


def ema(values: ArrayLike, alpha: float) -> F64:
    """Exponential moving average of (N,) values -> (N,); see ``RunningEMA``."""
    return RunningEMA(alpha).update(values)


# ---- axes -------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, target: int = 5) -> F64:
    """About ``target`` (at most 1.5x) round tick positions (1, 2, 5 x 10^k steps) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0)
    if hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    # The finest 1-2-5 step that gives at most ~1.5x the target count.
    step = next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if (hi - lo) / (m * mag) <= 1.5 * target)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return ticks[(ticks >= lo - step * 1e-9) & (ticks <= hi + step * 1e-9)]


def log_ticks(lo: float, hi: float) -> F64:
    """Tick values (not logs) for a log axis spanning [lo, hi] > 0: decades, or 1-2-5 within one."""
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0)
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1.0,) if math.log10(hi / lo) > 2.2 else (1.0, 2.0, 5.0)
    vals = np.array([m * 10.0**k for k in range(k0, k1 + 1) for m in mults])
    inside = vals[(vals >= lo * (1 - 1e-9)) & (vals <= hi * (1 + 1e-9))]
    return inside if len(inside) >= 2 else np.array([lo, hi])
