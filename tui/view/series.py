"""Chart series as data: growing storage, smoothing and downsampling of long training curves.

``Series`` keeps one named line's raw points in ``GrowingArray`` buffers, thins them when
they pass a bound and hands out the finite points worth drawing for a given width.
``RunningEMA`` smooths a curve fed in chunks. Colours and drawing are left to the widgets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
RGB = tuple[int, int, int]
#: What series accept as points: a number or a sequence (list, array) of them.
Values = ArrayLike


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


@dataclass
class Series:
    """One named line: raw points, colour, and how densely to draw it."""

    name: str
    label: str
    color: RGB
    density: float = 2.0  # points kept per terminal column when downsampling
    mark_last: bool = False  # a dot on the newest point (sparse series such as evaluations)
    x: GrowingArray = field(default_factory=GrowingArray)
    y: GrowingArray = field(default_factory=GrowingArray)

    def extend(self, x: ArrayLike, y: ArrayLike, max_stored: int) -> None:
        """Append points (scalars or (M,) each); past ``max_stored`` points the series is
        thinned to half by min/max buckets, so memory and redraw time stay bounded."""
        xs = np.asarray(x, np.float64).ravel()
        ys = np.asarray(y, np.float64).ravel()
        if len(xs) != len(ys):
            raise ValueError(f"x and y differ in length: {len(xs)} != {len(ys)}")
        self.x.extend(xs)
        self.y.extend(ys)
        if len(self.x) > max_stored:
            kept_x, kept_y = downsample(self.x.values, self.y.values, max_stored // 2)
            self.clear()
            self.x.extend(kept_x)
            self.y.extend(kept_y)

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()

    def last_finite(self) -> float | None:
        """The newest finite y value, or None."""
        y = self.y.values
        finite = np.flatnonzero(np.isfinite(y))
        return float(y[finite[-1]]) if len(finite) else None

    def extent(self) -> tuple[float, float] | None:
        """(min, max) x of the stored points, or None when empty."""
        if not len(self.x):
            return None
        return float(self.x.values.min()), float(self.x.values.max())

    def visible(self, width: int, log_y: bool = False) -> tuple[F64, F64]:
        """Finite (x, y-as-drawn) points, downsampled for ``width`` columns.

        With ``log_y`` points <= 0 are dropped and y is returned as log10(y).
        """
        x, y = self.x.values, self.y.values
        ok = np.isfinite(y) & np.isfinite(x)
        if log_y:
            ok &= y > 0
        if not ok.all():
            x, y = x[ok], y[ok]
        if log_y:
            y = np.log10(y)
        return downsample(x, y, max(4, int(self.density * width)))
