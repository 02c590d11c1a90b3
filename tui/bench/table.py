"""The benchmark table: one ``Row`` per figure, rendered as aligned text or Markdown.

``margin`` is oriented so that >= 1 always passes: target / measured for "at most"
figures (times, memory), measured / target for "at least" figures (fractions of the
hardware bound). Info rows (no target) and skipped rows carry no margin.
"""

from __future__ import annotations

from dataclasses import dataclass

PASS, FAIL, INFO, SKIP, QUICK, ERROR = "PASS", "FAIL", "info", "skip", "quick", "error"


@dataclass(frozen=True)
class Row:
    """One figure: what, its target, the measured value as text, the margin and the verdict."""

    figure: str
    target: str
    measured: str
    margin: float | None = None
    status: str = INFO

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("figure", "target", "measured", "margin", "status")}


def at_most(figure: str, value: float, limit: float, target: str, measured: str, quick: bool = False) -> Row:
    """A row that passes when ``value <= limit`` (margin = limit / value)."""
    margin = limit / value if value > 0 else float("inf")
    return Row(figure, target, measured, margin, QUICK if quick else (PASS if margin >= 1.0 else FAIL))


def at_least(figure: str, value: float, limit: float, target: str, measured: str, quick: bool = False) -> Row:
    """A row that passes when ``value >= limit`` (margin = value / limit)."""
    margin = value / limit
    return Row(figure, target, measured, margin, QUICK if quick else (PASS if margin >= 1.0 else FAIL))


def render(rows: list[Row], markdown: bool = False) -> str:
    """The table as aligned plain text (default) or a Markdown table."""
    header = ("figure", "target", "measured", "margin", "result")
    cells = [header] + [
        (r.figure, r.target, r.measured, "" if r.margin is None else f"{r.margin:.2f}", r.status) for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        lines.insert(1, "|" + "|".join(["---"] * len(header)) + "|")
        return "\n".join(lines)
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
