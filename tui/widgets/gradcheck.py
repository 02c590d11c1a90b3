"""The gradient-check panel: backprop against finite differences, as a table.

It shows reports made elsewhere (``model.gradcheck``): one row per check with the
maximum relative error of each parameter, the limit, a PASS/FAIL verdict and the
time taken, then an overall verdict. When the panel is narrow the limit and time
columns fold into a summary line. It runs nothing itself.
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from model.gradcheck import CheckReport
from model.mlp import PARAM_NAMES

HINT = "press g to check backprop against finite differences"
RUNNING = "checking backprop against finite differences…"
ERR_W, LIMIT_W, VERDICT_W, TIME_W = 6, 5, 4, 6  # column widths
#: The narrowest a check's label is cut to.
LABEL_MIN = 8


def fmt_error(value: float) -> str:
    """At most 6 characters: 3.1e-9, 0.012, 2e-10 (one digit below 1e-9)."""
    if value == 0.0:
        return "0"
    mant, exp = f"{value:.1e}".split("e")
    if int(exp) <= -10:
        mant, exp = f"{value:.0e}".split("e")
    return f"{mant}e{int(exp)}" if int(exp) < -2 else f"{value:.2g}"


def fmt_seconds(value: float) -> str:
    """'12 ms' below a second, else '1.3 s'."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def fmt_limit(value: float) -> str:
    """1e-6 rather than 1.0e-6."""
    return fmt_error(value).replace(".0e", "e")


def _cut(label: str, width: int) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def report_table(
    reports: list[CheckReport], width: int = 80, section_before: int | None = None, dim: bool = False
) -> Table:
    """One row per report: label, max relative error per parameter, [limit], verdict, [time].

    width: columns available; the limit and time columns are dropped when they do not fit
    and labels are shortened. ``section_before``: index of the row that starts a new section.
    """
    label_w = max(len(r.label) for r in reports)
    errors_w = len(PARAM_NAMES) * (ERR_W + 1) + VERDICT_W + 1
    full = width >= label_w + errors_w + LIMIT_W + TIME_W + 2
    label_w = max(LABEL_MIN, min(label_w, width - errors_w - ((LIMIT_W + TIME_W + 2) if full else 0)))
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 0),  # the box's blank column divider is the one-space gap
        pad_edge=False,
        show_edge=False,
        style="dim" if dim else "",
    )
    table.add_column("check", no_wrap=True, width=label_w)
    for name in PARAM_NAMES:
        table.add_column(name, justify="right", no_wrap=True, width=ERR_W)
    if full:
        table.add_column("limit", justify="right", no_wrap=True, style="dim", width=LIMIT_W)
    table.add_column("", no_wrap=True, width=VERDICT_W)
    if full:
        table.add_column("time", justify="right", no_wrap=True, style="dim", width=TIME_W)
    for i, r in enumerate(reports):
        if i == section_before:
            table.add_section()
        errors = {p.name: p.max_rel_error for p in r.params}
        cells = [
            Text(fmt_error(errors[n]), style="" if errors[n] < r.threshold else "bold red")
            if n in errors
            else Text("-", style="dim")
            for n in PARAM_NAMES
        ]
        verdict = Text("PASS", style="bold green") if r.passed else Text("FAIL", style="bold red")
        row: list[str | Text] = [_cut(r.label, label_w), *cells]
        row += [fmt_limit(r.threshold), verdict, fmt_seconds(r.seconds)] if full else [verdict]
        table.add_row(*row)
    return table


def verdict_line(reports: list[CheckReport]) -> Text:
    """'PASS 7/7 checks: ...' or 'FAIL 2/7 checks over their limit: <labels>'."""
    failed = [r for r in reports if not r.passed]
    n = len(reports)
    if not failed:
        return Text.assemble(("PASS ", "bold green"), f"{n}/{n} checks: backprop agrees with finite differences")
    names = ", ".join(r.label for r in failed)
    return Text.assemble(("FAIL ", "bold red"), f"{len(failed)}/{n} checks over their limit: {names}")


def summary_line(reports: list[CheckReport], has_live: bool) -> Text:
    """The limits in use and the total time: 'max relative error · limit 1e-6 toy, 1e-4 live · 40 ms'."""
    toy = reports[:-1] if has_live else reports
    limits = sorted({r.threshold for r in toy})
    parts = [" ".join(fmt_limit(t) for t in limits) + (" toy nets" if has_live and toy else "")] if toy else []
    if has_live:
        parts.append(f"{fmt_limit(reports[-1].threshold)} live weights")
    total = fmt_seconds(sum(r.seconds for r in reports))
    return Text(f"max relative error · limit {', '.join(parts)} · {total} in all", style="dim")


class GradCheckPanel(Widget):
    """Results of the finite-difference checks of the backward pass."""

    DEFAULT_CSS = """
    GradCheckPanel {
        height: auto;
        min-height: 3;
        min-width: 30;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Gradient check"
        self.state = "idle"  # idle | running | done | stale
        self.reports: list[CheckReport] = []
        self.has_live = False

    def show_running(self) -> None:
        """A check started; earlier results stay visible, dimmed, until new ones arrive."""
        self.state = "running"
        self.border_subtitle = "running…"
        self.refresh(layout=True)

    def show_reports(self, toy: list[CheckReport], live: CheckReport | None) -> None:
        """Toy-network checks (every entry) and an optional sampled check of the live weights."""
        self.reports = [*toy, *([live] if live is not None else [])]
        self.has_live = live is not None
        self.state = "done"
        self.border_subtitle = ""
        self.refresh(layout=True)

    def mark_stale(self, reason: str) -> None:
        """The shown results are about weights or a rule that are gone: dim them and say why."""
        if self.reports and self.state != "running":
            self.state = "stale"
            self.border_subtitle = f"stale: {reason}; g checks again"
            self.refresh()

    def render(self) -> RenderResult:
        if not self.reports:
            running = self.state == "running"
            return Text(RUNNING if running else HINT, style="" if running else "dim")
        running = self.state == "running"
        section = len(self.reports) - 1 if self.has_live and len(self.reports) > 1 else None
        table = report_table(self.reports, self.size.width, section, dim=self.state in ("running", "stale"))
        head = Text(RUNNING) if running else verdict_line(self.reports)
        return Group(head, table, summary_line(self.reports, self.has_live))
