"""A check of the student's backprop as rich text: one block per step, the verdict last.

Used by ``mnist-tui exercise check`` (printed) and by the app's check screen (shown). Each step
is a header line (number, title, PASS / FAIL / TODO / SKIP / TIME, seconds), the numbers it
compared, then for a failure each diagnosis (the mistake's name, the parameters, the evidence and
a hint) or the fallback: a heat map of the worst parameter's relative errors and the largest
mismatches. Leaves out running the check (``model.exercise``).
"""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.text import Text

from model.exercise import TITLES, CheckResult, StepReport
from model.exercise.steps import fmt

#: (label, style) per step status.
VERDICTS = {
    "pass": ("PASS", "bold green"),
    "fail": ("FAIL", "bold red"),
    "todo": ("TODO", "bold yellow"),
    "skipped": ("SKIP", "dim"),
    "timeout": ("TIME", "bold red"),
    "off": ("----", "dim"),
}
TITLE_WIDTH = 44
INDENT = "    "


def step_block(report: StepReport) -> Text:
    """One step: the header line, its numbers, and why it failed."""
    label, style = VERDICTS[report.status]
    text = Text()
    text.append(f"{report.number}  ", style="bold")
    text.append(f"{report.title:<{TITLE_WIDTH}} ")
    text.append(label, style=style)
    if report.seconds:
        text.append(f"  {report.seconds:.2f} s" if report.seconds < 10 else f"  {report.seconds:.0f} s", style="dim")
    for line in report.lines:
        text.append(f"\n{INDENT}{line}")
    if report.error:
        text.append(f"\n{INDENT}{report.error}", style="dim" if report.status == "skipped" else "red")
    for d in report.diagnoses:
        where = f" ({', '.join(d.params)})" if d.params else ""
        text.append(f"\n{INDENT}✗ ", style="bold red")
        text.append(f"{d.name}{where}", style="bold")
        text.append(f"\n{INDENT}  {d.detail}")
        text.append(f"\n{INDENT}  hint: ", style="bold cyan")
        text.append(d.advice, style="cyan")
    if report.heatmap is not None:
        hm = report.heatmap
        text.append(f"\n{INDENT}no common mistake explains it; which entries of d{hm.param} {hm.shape} disagree:")
        for line in hm.lines:
            text.append(f"\n{INDENT}  {line}", style="dim" if line.startswith("··") else "")
    if report.mismatches:
        text.append(f"\n{INDENT}largest mismatches:")
        for m in report.mismatches:
            where = f"{m.param}{list(m.index)}" if m.index else m.param
            case = f"  ({m.case})" if m.case else ""
            text.append(
                f"\n{INDENT}  {where:<12} yours {m.got:< 12.6g} expected {m.expected:< 12.6g} "
                f"relative error {fmt(m.rel_error)}{case}"
            )
    return text


def verdict(result: CheckResult, command: str = "") -> Text:
    """The last line: all passed (and ``command``, what to run next), the function to write next, or
    what failed. Without step 5 (the app's check) it says the training is that step."""
    n = len(result.requested)
    passed = [r.number for r in result.reports if r.passed]
    if result.passed:
        text = Text.assemble(("PASS ", "bold green"), f"all {n} steps" if n == 6 else steps_text(result.requested))
        if command:
            text.append(f". Watch it train: {command}")
        elif 5 not in result.requested:
            text.append("; step 5 is the training you are watching", style="dim")
        return text
    if result.todo:
        first = next(r.number for r in result.reports if r.status == "todo")
        later = ", ".join(str(s) for s in result.not_run)
        text = Text.assemble(("NEXT ", "bold yellow"), f"write {result.todo} (step {first})")
        if later:
            text.append(f"; step{'s' * (len(result.not_run) > 1)} {later} not run yet", style="dim")
        text.append(f"  ({len(passed)} of {n} pass)", style="dim")
        return text
    failed = [r for r in result.reports if r.status in ("fail", "timeout")]
    first_failed = failed[0].number if failed else None
    text = Text.assemble(("FAIL ", "bold red"), f"{len(passed)} of {n} steps pass")
    if first_failed is not None:
        text.append(f"; fix step {first_failed} first")
    return text


def ending(result: CheckResult, command: str = "") -> RenderableType:
    """What follows the steps' blocks: the steps not run yet, then the verdict."""
    parts: list[RenderableType] = [Text(f"{n}  {TITLES[n]:<{TITLE_WIDTH}} ----", style="dim") for n in result.not_run]
    return Group(*parts, Text(), verdict(result, command))


def steps_text(numbers: tuple[int, ...]) -> str:
    """'step 2', 'steps 1-4', 'steps 2, 3, 5'."""
    if len(numbers) == 1:
        return f"step {numbers[0]}"
    if list(numbers) == list(range(numbers[0], numbers[-1] + 1)):
        return f"steps {numbers[0]}-{numbers[-1]}"
    return "steps " + ", ".join(str(n) for n in numbers)


def check_text(result: CheckResult, command: str = "") -> RenderableType:
    """The whole check: every step's block, then the ending."""
    return Group(*(step_block(r) for r in result.reports), ending(result, command))


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN or infinity: None stands for them."""
    return value if math.isfinite(value) else None
