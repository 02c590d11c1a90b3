"""``mnist-tui experiments``: run the backward-pass study with a rich progress display.

Shows one overall bar (epochs done across all runs) and one bar per running run, prints
a line as each run ends, then the results table and the validation-error curves as a
terminal plot (plotext), and writes results.md, results.json and results_plot.txt.
The study itself (configs, workers, aggregation, files) is ``model.study``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import plotext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from model.data import DataError
from model.study import ConfigSummary, Event, Study, from_json, markdown_table, plot_groups, run_study, write_results
from tui.exitcodes import OK, USAGE

MARKERS = "EABCDFGHIJKLMNOP"  # E is exact backprop in every panel
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render_plot(rows: Sequence[ConfigSummary], width: int = 100, height: int = 18, color: bool = False) -> str:
    """Validation error (%, log scale) per epoch, one panel per question, a letter per variant."""
    panels = []
    for title, members in plot_groups(rows):
        plt = plotext
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("pro" if color else "clear")
        epochs = max(len(r.valid_curve) for r in members)
        for marker, r in zip(MARKERS, members, strict=False):
            xs = [e + 1 for e, v in enumerate(r.valid_curve) if v == v and v > 0]
            ys = [100 * v for v in r.valid_curve if v == v and v > 0]
            if xs:
                plt.plot(xs, ys, marker=marker)
        plt.yscale("log")
        plt.xticks(list(range(1, epochs + 1)))
        plt.xlim(0.8, epochs + 0.2)
        plt.title(title)
        plt.xlabel("epoch")
        plt.ylabel("valid error %")
        text = plt.build()
        legend = "   ".join(f"{m} = {r.label}" for m, r in zip(MARKERS, members, strict=False))
        panels.append((text if color else _ANSI.sub("", text)).rstrip() + "\n" + legend + "\n")
    plotext.clear_figure()
    return "\n".join(panels)


class _Display:
    """Rich progress: an overall bar plus one bar per running run; a line per finished run."""

    def __init__(self, progress: Progress, total_epochs: int) -> None:
        self.progress = progress
        self.overall = progress.add_task("all runs", total=total_epochs, status="")
        self.running: dict[int, TaskID] = {}

    def __call__(self, e: Event) -> None:
        p = self.progress
        if e.kind == "start":
            self.running[e.index] = p.add_task(f"{e.label} seed {e.seed}", total=e.epochs, status="")
        elif e.kind == "epoch":
            task = self.running.get(e.index)
            if task is not None:
                p.update(task, completed=e.epoch, status=f"valid {e.valid_error:.2%}")
            p.advance(self.overall)
        elif e.kind == "done" and e.result is not None:
            task = self.running.pop(e.index, None)
            if task is not None:
                p.remove_task(task)
            r = e.result
            angles = "  ".join(f"∠{k} {v:5.1f}°" for k, v in r.angles.items())
            flag = "  diverged" if r.diverged else ""
            p.console.print(
                f"{r.label:28s} seed {r.seed}  test {r.test_error:6.2%}  loss {r.train_loss:.4f}  "
                f"{angles}  {r.seconds:5.1f}s{flag}"
            )


def command_line(args: argparse.Namespace) -> str:
    """The ``mnist-tui experiments ...`` command that reproduces this study (for results.md)."""
    parts = ["mnist-tui", "experiments", "--epochs", str(args.epochs), "--seeds", str(args.seeds)]
    parts += ["--jobs", str(args.jobs), "--out", str(args.out)]
    if args.hidden != 256:
        parts += ["--hidden", str(args.hidden)]
    if args.variants:
        parts += ["--variants", args.variants]
    if args.angle_every != 10:
        parts += ["--angle-every", str(args.angle_every)]
    return " ".join(shlex.quote(p) for p in parts)


def run_experiments(args: argparse.Namespace, data: Any = None) -> int:
    """The subcommand: run, display, write files into ``args.out``; returns the exit status.

    ``data``: an MNIST-like object for every run, or None to let each worker load ``args.data``.
    """
    from model.config import HyperParams
    from model.study import default_configs

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    configs = default_configs()
    if args.variants:
        wanted = {v.strip() for v in args.variants.split(",") if v.strip()}
        configs = [c for c in configs if c.variant in wanted or c.variant == "exact"]
    base = HyperParams().validated(hidden=args.hidden)
    total = len(configs) * args.seeds * args.epochs
    console.print(
        f"{len(configs)} configurations x {args.seeds} seeds x {args.epochs} epochs on {args.jobs} worker(s)",
        highlight=False,
    )
    progress = Progress(
        TextColumn("{task.description:32s}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=args.quiet,
    )
    try:
        study = _run_with_progress(progress, configs, args, base, data, total)
    except (BrokenProcessPool, DataError) as exc:
        print(f"mnist-tui: the study stopped: {' '.join(str(exc).split()) or type(exc).__name__}", file=sys.stderr)
        return USAGE
    rows = study.rows()
    plot = render_plot(rows)
    paths = write_results(study, args.out, command=command_line(args), plot=plot)
    print(markdown_table(rows))
    if not args.quiet:
        print(render_plot(rows, color=sys.stdout.isatty()))
    print(f"wall time {study.meta['wall_seconds'] / 60:.1f} min; wrote {', '.join(map(str, paths))}")
    return OK


def _run_with_progress(
    progress: Progress, configs: list[Any], args: argparse.Namespace, base: Any, data: Any, total: int
) -> Study:
    with progress:
        return run_study(
            configs,
            seeds=args.seeds,
            epochs=args.epochs,
            jobs=args.jobs,
            data=data if data is not None else args.data,
            base=base,
            angle_every=args.angle_every,
            on_event=_Display(progress, total),
        )


def redraw(args: argparse.Namespace) -> int:
    """Rewrite results.md and results_plot.txt in ``args.out`` from a saved results.json (no training)."""
    try:
        study = from_json(json.loads(Path(args.from_json).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"mnist-tui: cannot read {args.from_json}: {exc}", file=sys.stderr)
        return USAGE
    rows = study.rows()
    paths = write_results(study, args.out, command=study.meta.get("command", ""), plot=render_plot(rows))
    print(markdown_table(rows))
    print(f"wrote {', '.join(map(str, paths))}")
    return OK
