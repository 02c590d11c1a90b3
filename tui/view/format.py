"""Compact numbers for chart axes and legends: counts ("12.5k", "1.2M") and values ("0.05", "1e-4").

The text a hyperparameter field shows is a different job (``tui.widgets.controls.format_value``).
"""

from __future__ import annotations

import math


def format_count(value: float) -> str:
    """Compact count for axis ticks: 0, 950, 10k, 12.5k, 1.2M."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{sign}{v / scale:.3g}{suffix}"
    return f"{sign}{v:.0f}"


def format_compact(value: float) -> str:
    """Compact axis/legend number: 2.3, 0.05, 0.001, 1e-4."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 0.001:
        return f"{value:.3g}"
    mant, exp = f"{value:.0e}".split("e")
    return f"{mant}e{int(exp)}"
