"""Every number and figure as text, in one place: the app's panels, chart axes and the command line.

Counts ("12.5k"), compact values ("0.05", "1e-4"), percentages, durations, epochs (whole or a
fraction), a field's value, a target reached, a gradient check's errors. Plain Python: no
Textual, no numpy. Leaves out layout (the widgets) and tables (the subcommands).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.target import TargetReport


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


def format_examples(n: int) -> str:
    """900, 12.5k, 1.2M: a count of examples at a glance."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k"
    return f"{n:,}"


def format_percent(value: float | None, missing: str = "--") -> str:
    """'2.35%', or ``missing`` for a figure not measured (None, NaN)."""
    return missing if value is None or not math.isfinite(value) else f"{value:.2%}"


def format_float(value: float | None, digits: int = 4) -> str:
    """A value to ``digits`` significant digits, or '--' when not known yet."""
    return "--" if value is None else f"{value:.{digits}g}"


def format_degrees(value: float) -> str:
    """'12.5°', or '--' when not finite."""
    return f"{value:.1f}°" if math.isfinite(value) else "--"


def format_duration(seconds: float) -> str:
    """H:MM:SS."""
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_error(value: float) -> str:
    """A relative error in at most 6 characters: 3.1e-9, 0.012, 2e-10 (one digit below 1e-9)."""
    if value == 0.0:
        return "0"
    mant, exp = f"{value:.1e}".split("e")
    if int(exp) <= -10:
        mant, exp = f"{value:.0e}".split("e")
    return f"{mant}e{int(exp)}" if int(exp) < -2 else f"{value:.2g}"


def format_limit(value: float) -> str:
    """A threshold as 1e-6 rather than 1.0e-6."""
    return format_error(value).replace(".0e", "e")


def format_ms(value: float) -> str:
    """'12 ms' below a second, else '1.3 s'."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def format_seconds(value: float | None) -> str:
    """'41.2s' under two minutes, else '3.5m'; '-' for None."""
    if value is None:
        return "-"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}m"


def format_setting(value: Any) -> str:
    """A setting's value in a label: floats compact (0.05, 1e-4), others as they are."""
    if isinstance(value, float):
        return format_compact(value)
    return str(value)


def format_epoch(epoch: float) -> str:
    """A whole epoch as '  3' (the log's column), a fraction of one as '1.54'."""
    return f"{int(epoch):3d}" if float(epoch).is_integer() else f"{epoch:.2f}"


def format_value(value: Any) -> str:
    """Text a hyperparameter field shows for ``value`` (floats with up to 6 significant digits)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_target(report: TargetReport, wall: bool = False) -> str:
    """'target reached: valid 1.95% < 2.00% after 41.2 s, 1.2M examples (step 9,375)', or
    'target 2.00% not reached'. ``wall``: also the wall time and the epoch (``train``'s line)."""
    if not report.reached or report.valid_error is None or report.examples is None or report.step is None:
        return f"target {report.error:.2%} not reached"
    took = f"{report.seconds or 0.0:.1f} s"
    if wall:
        took += f" training ({report.wall or 0.0:.1f} s wall)"
    where = f"step {report.step:,}" + (f", epoch {report.epoch or 0.0:.2f}" if wall else "")
    return (
        f"target reached: valid {report.valid_error:.2%} < {report.error:.2%} after {took}, "
        f"{format_examples(report.examples)} examples ({where})"
    )
