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
from tui.format import format_error, format_limit, format_ms

HINT = "press g to check backprop against finite differences"
RUNNING = "checking backprop against finite differences…"
ERR_W, LIMIT_W, VERDICT_W, TIME_W = 6, 5, 4, 6  # column widths
#: The narrowest a check's label is cut to.
LABEL_MIN = 8


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
            Text(format_error(errors[n]), style="" if errors[n] < r.threshold else "bold red")
            if n in errors
            else Text("-", style="dim")
            for n in PARAM_NAMES
        ]
        verdict = Text("PASS", style="bold green") if r.passed else Text("FAIL", style="bold red")
        row: list[str | Text] = [_cut(r.label, label_w), *cells]
        row += [format_limit(r.threshold), verdict, format_ms(r.seconds)] if full else [verdict]
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
    parts = [" ".join(format_limit(t) for t in limits) + (" toy nets" if has_live and toy else "")] if toy else []
    if has_live:
        parts.append(f"{format_limit(reports[-1].threshold)} live weights")
    total = format_ms(sum(r.seconds for r in reports))
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
