"""``mnist-tui compare ID ID ...``: runs side by side, a table of figures and a terminal plot.

The table: steps, time, final and best validation error, test error at the best, time and
examples to 5% and 2% validation error and to a run's own target. The plot: smoothed loss and
validation error against epochs, one line per run.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from tui.cli.common import UserError, add_runs_flag
from tui.cli.runs import ID_HELP, table

if TYPE_CHECKING:
    from model.runs import RunRecord, RunSummary
    from tui.cli.common import Subcommands

NAME = "compare"
PLOT_MARKERS = ("braille", "x", "o", "+", "*", "#")
EVAL_MARKERS = ("●", "x", "o", "+", "*", "#")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="runs side by side: final and best errors, time and examples to 5%% and 2%% and to a run's own "
        "--target-error, and a plot",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help=ID_HELP)
    p.add_argument("--no-plot", action="store_true", help="only the table")
    p.add_argument("--width", type=int, default=100, help="plot width in characters (default 100)")
    p.add_argument("--height", type=int, default=20, help="plot height in lines (default 20)")
    add_runs_flag(p)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``compare`` subcommand; a RunsError (bad id, unreadable record) is one line, exit 2."""
    from model.runs import RunsError, find_run, read_run, runs_dir, summarize

    out = out or sys.stdout
    root = runs_dir(args.runs)
    try:
        recs = [read_run(find_run(root, ident)) for ident in args.ids]
    except RunsError as exc:
        raise UserError(str(exc)) from None
    compare_table([summarize(r) for r in recs], out)
    for rec in recs:
        if rec.skipped:
            out.write(f"note: run {rec.run_id}: {rec.skipped_note()}\n")
    if not args.no_plot:
        out.write("\n" + compare_plot(recs, args.width, args.height, color=out.isatty()) + "\n")
    return 0


def compare_table(summaries: list[RunSummary], out: TextIO) -> None:
    """Final and best figures, and time / examples to each target validation error."""
    from tui.format import format_percent, format_seconds
    from tui.view.runs import key_settings

    targets = sorted({t for s in summaries for t in s.to_target}, reverse=True)
    head = ["id", "variant", "settings", "steps", "time", "final valid", "final test", "best valid", "test@best"]
    head += [f"to {t:.0%} valid" for t in targets]
    own = any(s.own_target is not None for s in summaries)
    if own:
        head.append("to own target (training time)")
    rows = [head]
    for s in summaries:
        row = [
            s.run_id,
            s.variant,
            key_settings(s),
            f"{s.steps:,}",
            format_seconds(s.duration),
            format_percent(s.final_valid, "-"),
        ]
        row += [
            format_percent(s.final_test, "-"),
            format_percent(s.best_valid, "-"),
            format_percent(s.test_at_best, "-"),
        ]
        for t in targets:
            hit = s.to_target.get(t)
            row.append("not reached" if hit is None else f"{format_seconds(hit[0])} / {hit[1]:,} ex")
        if own:
            row.append(_own_target(s))
        rows.append(row)
    table(rows, out)


def _own_target(s: RunSummary) -> str:
    """'< 2.00%: 41.2s / 1,200,000 ex (step 9,375)', '< 2.00%: not reached', or '-' for a run with no target."""
    from tui.format import format_percent, format_seconds

    if s.own_target is None:
        return "-"
    if s.to_own_target is None:
        return f"< {format_percent(s.own_target, '-')}: not reached"
    took, examples, step = s.to_own_target
    return f"< {format_percent(s.own_target, '-')}: {format_seconds(took)} / {examples:,} ex (step {step:,})"


def compare_plot(recs: list[RunRecord], width: int = 100, height: int = 20, color: bool = False) -> str:
    """Two terminal plots side by side: smoothed minibatch loss and validation error (%), both
    against epochs, one line per run (labelled with the run id)."""
    from plotext._figure import _figure_class  # a figure of its own: the module's global one keeps
    # the series of a subplot that was not the active one at clear_figure, and the next plot's legend breaks

    fig = _figure_class()
    fig.plot_size(max(width, 40), max(height, 10))
    if not color:
        fig.theme("clear")
    fig.subplots(1, 2)
    panels: tuple[tuple[str, Callable[[dict[str, Any]], bool], str, float], ...] = (
        ("smoothed loss", lambda p: p.get("loss") is not None and p.get("smoothed") is not None, "smoothed", 1.0),
        ("valid error %", lambda p: p.get("valid_error") is not None, "valid_error", 100.0),
    )
    last_epoch = max((float(p.get("epoch", 0.0)) for r in recs for p in r.points), default=1.0)
    for col, (title, keep, key, scale) in enumerate(panels, start=1):
        plot = fig.subplot(1, col)
        plot.title(title)
        plot.xlabel("epoch")
        plot.xlim(0.0, max(last_epoch, 1e-3))
        for i, rec in enumerate(recs):
            pts = [p for p in rec.points if keep(p)]
            if len(pts) > 400:  # a few hundred points draw fast and look the same
                pts = pts[:: math.ceil(len(pts) / 400)]
            if not pts:
                continue
            x = [float(p.get("epoch", 0.0)) for p in pts]
            y = [float(p[key]) * scale for p in pts]
            if col == 1:  # without colour the markers tell runs apart
                plot.plot(x, y, label=rec.run_id, marker=PLOT_MARKERS[i % len(PLOT_MARKERS)])
            else:  # evaluations are a few points (one per epoch): show each
                plot.plot(x, y, label=rec.run_id, marker=EVAL_MARKERS[i % len(EVAL_MARKERS)])
    text = str(fig.build())
    return text if color else ANSI.sub("", text)
