"""``mnist-tui experiments``: run the backward-pass study with a progress display, write its files.

Shows one bar over all runs (done, running, left, ETA; runs reused from an interrupted study
count as done at once), then prints the main table and a terminal plot (test error against
learning rate per question, plotext), and writes results.md, results.json, results_plot.txt and
(with matplotlib) the figures. The study itself (cells, backends, store, analysis) is ``model.study``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli.common import (
    UserError,
    add_data_flag,
    add_runs_flag,
    hparam_type,
    load_data,
    positive,
    typed_path,
    warn,
)
from tui.exitcodes import OK, USAGE

if TYPE_CHECKING:
    from rich.progress import Progress

    from model.study import Event, Grid, Study, SweepRow
    from tui.cli.common import Subcommands

NAME = "experiments"

MARKERS = "ESABCDFGHIJKLMNOP"  # E: exact backprop, S: the shallow control, in every panel
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Panels of the text plot: title and the variant-name prefixes it shows (beside the controls).
PANELS = (
    ("Q1 random feedback matrix", ("feedback-",)),
    ("Q2 stale W2 (k=10)", ("stale",)),
    ("Q3/Q4 random hidden states", ("random-h-",)),
    ("Q5 noise on h (sigma=0.5)", ("noise-",)),
    ("Q6 rounding h", ("round-",)),
)


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    from model.study import GRIDS

    grid_help = "; ".join(
        f"{g.name}: {g.runs:,} runs of {g.epochs} epoch{'s' * (g.epochs > 1)}, about {g.cpu_hours:g} CPU hours"
        for g in GRIDS.values()
    )
    p = sub.add_parser(
        NAME,
        help="the backward-pass study: every variant over learning rates, activations and seeds, with controls",
        description=(
            "Train exact backprop, the shallow control (W1 frozen) and every backward-pass variant over "
            "learning rates, activations and seeds, on a local Dask cluster (or --scheduler), and write "
            "results.md, results.json and figures. Each finished run is stored under OUT/runs as it "
            "completes; running the same command again reuses them, so an interrupted study goes on "
            f"where it stopped. Grids ({grid_help}); "
            "the default grid took 40 minutes on a 2-core machine."
        ),
    )
    p.add_argument("--grid", choices=tuple(GRIDS), default="default", help="which study (default: default)")
    p.add_argument("--jobs", type=positive("jobs"), default=2, help="worker processes (default 2)")
    p.add_argument(
        "--out",
        metavar="DIR",
        type=typed_path,
        default="experiments-out",
        help="output folder (default experiments-out)",
    )
    add_data_flag(p)
    p.add_argument("--variants", metavar="A,B", help="only these variants (and the controls)")
    p.add_argument("--seeds", type=positive("seeds"), help="seeds per cell, 0..S-1 (default: the grid's)")
    p.add_argument("--epochs", type=hparam_type("epochs"), help="epochs per run (default: the grid's)")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead"
    )
    p.add_argument(
        "--backend",
        choices=("auto", "dask", "pool", "serial"),
        default="auto",
        help="auto: a local Dask cluster if dask is installed, else a process pool (default auto)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the SVG/PNG figures (they need matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress display or plot, just the table")
    p.add_argument(
        "--from-json",
        metavar="FILE",
        type=typed_path,
        help="only redraw results.md and the figures from a results.json",
    )
    add_runs_flag(
        p,
        "also write a run record (see: mnist-tui runs) for every run trained, in DIR; without it the study "
        "writes none, so the default grid does not leave 2,100 folders in the runs folder",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Check the variants, then redraw from ``--from-json`` or run the study."""
    from model.variants import VARIANT_NAMES

    unknown = sorted({v.strip() for v in (args.variants or "").split(",") if v.strip()} - set(VARIANT_NAMES))
    if unknown:
        raise UserError(f"unknown variant {', '.join(unknown)} (choose from {', '.join(VARIANT_NAMES)})")
    if args.from_json:
        return redraw(args)
    data = load_data(args.data, quiet=args.quiet)  # fetches and checks once here, not in every worker
    return run_experiments(args, data)


def panel_rows(rows: Sequence[SweepRow], prefixes: tuple[str, ...], activation: str) -> list[SweepRow]:
    """The controls, then the rows whose variant starts with one of ``prefixes``."""
    mine = [r for r in rows if r.activation == activation]
    controls = [r for r in mine if r.variant in ("exact", "shallow")]
    return controls + [r for r in mine if r.variant.startswith(prefixes)]


def render_plot(rows: Sequence[SweepRow], grid: Grid, width: int = 100, height: int = 18, color: bool = False) -> str:
    """Test error (%, log scale) against the learning rate, one panel per question (ReLU), a letter
    per variant; a diverged cell (every seed) is left out."""
    import plotext

    panels = []
    lrs = list(grid.lrs)
    for title, prefixes in PANELS:
        members = panel_rows(rows, prefixes, grid.activations[0])
        if len(members) <= 2:
            continue
        plt = plotext
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("pro" if color else "clear")
        for marker, r in zip(MARKERS, members, strict=False):
            points = [
                (i + 1, 100 * c.test.mean)
                for i, lr in enumerate(lrs)
                if (c := r.by_lr.get(lr)) is not None and c.diverged < c.seeds and c.test.mean > 0
            ]
            if points:
                plt.plot([p[0] for p in points], [p[1] for p in points], marker=marker)
        plt.yscale("log")
        plt.xticks(list(range(1, len(lrs) + 1)), [f"{lr:g}" for lr in lrs])
        plt.xlim(0.8, len(lrs) + 0.2)
        plt.title(f"{title}, {grid.activations[0]}")
        plt.xlabel(f"learning rate (momentum {grid.momentum:g})")
        plt.ylabel("test error %")
        text = plt.build()
        legend = "   ".join(f"{m} = {r.label}" for m, r in zip(MARKERS, members, strict=False))
        panels.append((text if color else _ANSI.sub("", text)).rstrip() + "\n" + legend + "\n")
    plotext.clear_figure()
    return "\n".join(panels)


class _Display:
    """Rich progress: one bar over all runs; its status counts running runs and the latest result."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.bar = progress.add_task("runs", total=total, status="")
        self.running = 0
        self.reused = 0
        self.diverged = 0

    def __call__(self, e: Event) -> None:
        p = self.progress
        if e.kind == "start":
            self.running += 1
        elif e.kind == "done" and e.result is not None:
            r = e.result
            if e.reused:
                self.reused += 1
            else:
                self.running = max(0, self.running - 1)
            self.diverged += r.diverged
            flag = " diverged" if r.diverged else ""
            p.advance(self.bar)
            p.update(
                self.bar,
                status=f"{self.running} running, {self.reused} reused, {self.diverged} diverged · "
                f"last: {r.key} seed {r.seed} test {r.test_error:.2%}{flag}",
            )


def command_line(args: argparse.Namespace) -> str:
    """The ``mnist-tui experiments ...`` command that reproduces this study (for results.md)."""
    parts = ["mnist-tui", "experiments", "--grid", args.grid, "--jobs", str(args.jobs), "--out", str(args.out)]
    for flag in ("variants", "seeds", "epochs", "scheduler"):
        value = getattr(args, flag, None)
        if value:
            parts += [f"--{flag}", str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def grid_for(args: argparse.Namespace) -> Grid:
    """The chosen grid with the command line's overrides."""
    from model.study import GRIDS

    grid = GRIDS[args.grid]
    overrides = {k: getattr(args, k) for k in ("seeds", "epochs") if getattr(args, k, None)}
    return replace(grid, **overrides) if overrides else grid


def _records_folder(runs: str | None) -> str | None:
    """The absolute ``--runs`` folder, made and checked writable here (one line if not), or None:
    the study records runs only when asked, so the default grid does not leave 2,100 folders."""
    if not runs or not runs.strip():
        return None
    folder = Path(runs).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".mnist-tui-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--runs {runs}: cannot write there ({exc.strerror or exc})") from None
    return str(folder)


def run_experiments(args: argparse.Namespace, data: Any) -> int:
    """The subcommand: run (reusing stored runs), display, write files into ``args.out``.

    ``data``: the loaded MNIST (in-process runs use it; workers load their own cached copy).
    """
    from rich.console import Console

    from model.data import DataError
    from model.study import ResultStore, data_tag, only_variants, run_study

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    grid = grid_for(args)
    configs = grid.configs()
    if args.variants:
        configs = only_variants(grid, [v.strip() for v in args.variants.split(",") if v.strip()])
    store = ResultStore(args.out)
    total = len(configs) * grid.seeds
    records = _records_folder(getattr(args, "runs", None))
    if records:
        console.print(f"every run trained now also writes a run record in {records}", highlight=False)
    console.print(
        f"grid {grid.name}: {len(configs)} cells x {grid.seeds} seeds = {total} runs of {grid.epochs} "
        f"epoch{'s' * (grid.epochs != 1)} "
        f"({grid.note}); finished runs are kept in {store.folder} and reused",
        highlight=False,
    )
    progress = _progress(console, args.quiet)
    t0 = time.perf_counter()
    in_process = args.jobs == 1 or args.backend == "serial"
    try:
        with progress:
            study = run_study(
                configs,
                seeds=grid.seeds,
                epochs=grid.epochs,
                jobs=args.jobs,
                data=data if in_process else args.data,
                base=grid.base(),
                train_size=grid.train_size,
                store=store,
                backend=args.backend,
                scheduler=args.scheduler,
                tag=data_tag(data),
                records=records,
                on_event=_Display(progress, total),
            )
    except KeyboardInterrupt:
        done = len(store.load())
        warn(f"interrupted; {done} finished runs are kept in {store.folder}")
        print("run the same command again to go on where it stopped", file=sys.stderr)
        return 130
    except (BrokenProcessPool, DataError, ValueError, OSError) as exc:
        warn(f"the study stopped: {' '.join(str(exc).split()) or type(exc).__name__}")
        print(f"finished runs are kept in {store.folder}; run the same command again to go on", file=sys.stderr)
        return USAGE
    console.print(
        f"{study.meta['runs']} runs: {study.meta['reused']} reused, {study.meta['runs'] - study.meta['reused']} "
        f"trained in {(time.perf_counter() - t0) / 60:.1f} min",
        highlight=False,
    )
    return _write(study, grid, args, command_line(args))


def _progress(console: Any, quiet: bool) -> Progress:
    """One bar over all runs: done of total, time left, and a status the display fills in."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=True,
        disable=quiet,
    )


def _write(study: Study, grid: Grid, args: argparse.Namespace, command: str) -> int:
    from model.study import sweep, write_results
    from model.study.report import sweep_tables

    rows = sweep(study.cells(), grid)
    plot = render_plot(rows, grid)
    figures: list[str] = []
    if not args.no_figures:
        figures = _figures(study, grid, Path(args.out))
    paths = write_results(study, grid, args.out, command=command, figures=figures, plot=plot)
    print("\n".join(sweep_tables([r for r in rows if r.activation == grid.activations[0]], grid)))
    if not args.quiet:
        print(render_plot(rows, grid, color=sys.stdout.isatty()))
    print(f"wrote {', '.join(map(str, [*paths, *figures]))}")
    return OK


def _figures(study: Study, grid: Grid, out: Path) -> list[str]:
    try:
        from tui.study_figures import write_figures
    except ImportError:
        warn("figures skipped (pip install 'mnist-tui[study]' for matplotlib)")
        return []
    return [str(p) for p in write_figures(study, grid, out)]


def redraw(args: argparse.Namespace) -> int:
    """Rewrite results.md, the plot and the figures in ``args.out`` from a saved results.json."""
    from model.study import GRIDS, from_json, grid_from_meta

    try:
        saved = json.loads(Path(args.from_json).read_text())
        study = from_json(saved)
        grid = grid_from_meta(study.meta)
        if grid.name in GRIDS:  # the cost notes may have been measured since
            grid = replace(grid, cpu_hours=GRIDS[grid.name].cpu_hours, note=GRIDS[grid.name].note)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warn(f"cannot read {args.from_json}: {exc}")
        return USAGE
    return _write(study, grid, args, study.meta.get("command", ""))
