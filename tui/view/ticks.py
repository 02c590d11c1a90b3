"""Tick positions for chart axes: "nice" 1-2-5 steps, decades on a log axis, or given steps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


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


def stepped_ticks(lo: float, hi: float, target: int, steps: Sequence[float]) -> F64:
    """Multiples of the finest of ``steps`` that gives at most 1.5x ``target`` ticks inside [lo, hi]."""
    ticks = np.zeros(0)
    for step in sorted(steps):
        ticks = np.arange(math.ceil(lo / step - 1e-9) * step, hi + step * 1e-9, step)
        if len(ticks) <= 1.5 * target:
            break
    return ticks
