"""``mnist-tui experiments``: run the backward-pass study with a progress display, write its files.

Shows one bar over all runs (done, running, left, ETA; the total grows round by round as the
sweeps extend themselves; runs reused from an interrupted study count as done at once), then
prints the main table and a terminal plot (validation error against learning rate per question,
plotext), and writes results.md, results.json, results_plot.txt and (with matplotlib) the
figures; ``--stored-only`` writes them from the runs stored so far, training nothing (an interim,
labelled partial report of a study still running). The study itself (grids, adaptive sweeps,
backends, store, analysis) is ``model.study``. A ``--scheduler`` that cannot be used, a bad store
entry and a bad ``--from-json`` each get one line.
"""

from __future__ import annotations

import argparse
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

    from model.study import Event, Grid, ResultStore, Study, SweepRow
    from tui.cli.common import Flags, Subcommands

NAME = "experiments"

MARKERS = "ESABCDFGHIJKLMNOPQRTUVWXYZ"  # E: exact backprop, S: the shallow control, in every panel
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Panels of the text plot: title and the variant-name prefixes it shows (beside the controls).
PANELS = (
    ("Q1 random feedback", ("feedback-",)),
    ("Q2 stale weights (k=10)", ("stale",)),
    ("Q3/Q4 random hidden states", ("random-h-",)),
    ("Q5 noise on h (sigma=0.5)", ("noise-",)),
    ("Q6 rounding", ("round-",)),
)


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="the backward-pass study: every variant over learning rates, activations and seeds, with controls",
        description=_description(),
    )
    _add_study_flags(p.add_argument_group("the study"))
    _add_backend_flags(p.add_argument_group("where it runs"))
    _add_output_flags(p.add_argument_group("what it writes"))
    return p


def _description() -> str:
    from model.study import GRIDS

    grid_help = "; ".join(
        f"{g.name}: {g.runs:,} runs of {g.short_epochs} and {g.long_epochs} epochs, about {g.cpu_hours:g} CPU hours"
        for g in GRIDS.values()
    )
    return (
        "Train exact backprop, the shallow control (W1 frozen) and every backward-pass variant over "
        "learning rates, activations and seeds, on a local Dask cluster (or --scheduler), and write "
        "results.md, results.json and figures. Each finished run is stored under OUT/runs as it "
        "completes; running the same command again reuses them, so an interrupted study goes on "
        "where it stopped. Rates are chosen on selection seeds and reported on fresh ones. "
        f"Grids ({grid_help}); {timed(GRIDS['default'])}."
    )


def _add_study_flags(g: Flags) -> None:
    """Which runs: the grid, narrowed or shortened, on which data."""
    from model.study import GRIDS

    g.add_argument("--grid", choices=tuple(GRIDS), default="default", help="which study (default: default)")
    g.add_argument("--variants", metavar="A,B", help="only these variants (and the controls)")
    g.add_argument("--seeds", type=positive("seeds"), help="selection seeds per rate, 0..S-1 (default: the grid's)")
    g.add_argument("--epochs", type=hparam_type("epochs"), help="the short budget, in epochs (default: the grid's)")
    add_data_flag(g)


def _add_backend_flags(g: Flags) -> None:
    """Where the runs train: how many workers, on which backend or Dask scheduler."""
    g.add_argument("--jobs", type=positive("jobs"), default=2, help="worker processes (default 2)")
    g.add_argument(
        "--backend",
        choices=("auto", "dask", "pool", "serial"),
        default="auto",
        help="auto: a local Dask cluster if dask is installed, else a process pool (default auto)",
    )
    g.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead"
    )


def _add_output_flags(g: Flags) -> None:
    """What it writes and shows: the output folder, figures, progress, run records, reports from stored runs."""
    g.add_argument(
        "--out",
        metavar="DIR",
        type=typed_path,
        default="experiments-out",
        help="output folder (default experiments-out)",
    )
    g.add_argument("--no-figures", action="store_true", help="skip the SVG/PNG figures (they need matplotlib)")
    g.add_argument("--quiet", action="store_true", help="no progress display or plot, just the table")
    g.add_argument(
        "--from-json",
        metavar="FILE",
        type=typed_path,
        help="only redraw results.md and the figures from a results.json",
    )
    g.add_argument(
        "--stored-only",
        action="store_true",
        help="train nothing: write the results from the runs stored in OUT/runs so far (an interim report of a "
        "study still running or interrupted; results.md says it is partial and how many runs are missing)",
    )
    add_runs_flag(
        g,
        "also write a run record (see: mnist-tui runs) for every run trained, in DIR; without it the study "
        "writes none, so the default grid does not leave thousands of folders in the runs folder",
    )


def timed(grid: Grid) -> str:
    """What is known of a grid's wall time on a 2-core machine (``Grid.minutes``; 0: never timed whole)."""
    if grid.minutes:
        return f"the {grid.name} grid took {grid.minutes:g} minutes on a 2-core machine shared with other work"
    return f"the {grid.name} grid has not yet been timed from start to end on a 2-core machine"


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
    """Validation error (%, log scale, selection seeds) against the learning rate, one panel per
    question (the first activation), a letter per variant; a rate where every seed failed is left out."""
    import plotext

    panels = []
    lrs = sorted({lr for r in rows for lr in r.by_lr})
    if not lrs:
        return ""
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
                (i + 1, 100 * c.valid.mean)
                for i, lr in enumerate(lrs)
                if (c := r.by_lr.get(lr)) is not None and not c.all_failed and c.valid.mean > 0
            ]
            if points:
                plt.plot([p[0] for p in points], [p[1] for p in points], marker=marker)
        plt.yscale("log")
        plt.xticks(list(range(1, len(lrs) + 1)), [f"{lr:g}" for lr in lrs])
        plt.xlim(0.8, len(lrs) + 0.2)
        plt.title(f"{title}, {grid.activations[0]}: validation error, selection seeds")
        plt.xlabel(f"learning rate (momentum {grid.momentum:g})")
        plt.ylabel("valid error %")
        text = plt.build()
        legend = "   ".join(f"{m} = {r.label}" for m, r in zip(MARKERS, members, strict=False))
        panels.append((text if color else _ANSI.sub("", text)).rstrip() + "\n" + legend + "\n")
    plotext.clear_figure()
    return "\n".join(panels)


class _Display:
    """Rich progress: one bar over all runs; its status counts running runs and the latest result."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bar = progress.add_task("runs", total=0, status="")
        self.total = 0
        self.running = 0
        self.reused = 0
        self.diverged = 0

    def round(self, number: int, runs: int) -> None:
        """A new round of ``runs`` runs (the sweeps extend themselves, so the total grows)."""
        self.total += runs
        self.progress.update(self.bar, total=self.total, description=f"round {number}")

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
    if getattr(args, "stored_only", False):
        parts.append("--stored-only")
    return " ".join(shlex.quote(p) for p in parts)


def grid_for(args: argparse.Namespace) -> Grid:
    """The chosen grid with the command line's overrides (--seeds: selection seeds, --epochs:
    the short budget, --variants: only these variants and the controls)."""
    from model.study import GRIDS, only_variants

    grid = GRIDS[args.grid]
    names = {"seeds": "selection_seeds", "epochs": "short_epochs"}
    overrides = {names[k]: getattr(args, k) for k in names if getattr(args, k, None)}
    grid = replace(grid, **overrides) if overrides else grid
    if args.variants:
        grid = only_variants(grid, [v.strip() for v in args.variants.split(",") if v.strip()])
    return grid


def _records_folder(runs: str | None) -> str | None:
    """The absolute ``--runs`` folder, made and checked writable here (one line if not), or None:
    the study records runs only when asked, so the default grid does not leave 3,000 folders."""
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
    from model.study import ResultStore, data_key, run_grid
    from model.study.scheduler import SchedulerError

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    grid = grid_for(args)
    store = ResultStore(args.out, warn=lambda text: console.print(f"mnist-tui: {text}", highlight=False, markup=False))
    records = _records_folder(getattr(args, "runs", None))

    progress = _progress(console, args.quiet)
    t0 = time.perf_counter()
    in_process = args.jobs == 1 or args.backend == "serial"
    display = _Display(progress)
    try:
        with progress:
            study = run_grid(
                grid,
                jobs=args.jobs,
                data=data if in_process else args.data,
                store=store,
                backend=args.backend,
                scheduler=args.scheduler,
                tag=data_key(data),
                records=records,
                on_event=display,
                on_round=display.round,
                on_start=lambda: _banner(console, grid, store.folder, records),
                stored_only=getattr(args, "stored_only", False),
            )
    except SchedulerError as exc:
        warn(str(exc))  # one line: what to check
        return USAGE
    except KeyboardInterrupt:
        done = _stored(store)
        warn(f"interrupted; {done} finished runs are kept in {store.folder}")
        print("run the same command again to go on where it stopped", file=sys.stderr)
        return 130
    except (BrokenProcessPool, DataError, ValueError, OSError, RuntimeError) as exc:
        warn(f"the study stopped: {' '.join(str(exc).split()) or type(exc).__name__}")
        print(f"finished runs are kept in {store.folder}; run the same command again to go on", file=sys.stderr)
        return USAGE
    if study.meta.get("missing"):
        console.print(
            f"partial results: {study.meta['runs']:,} stored runs used; at least {study.meta['missing']:,} runs of "
            f"round {study.meta['rounds']} and any rounds after it are missing",
            highlight=False,
        )
    console.print(
        f"{study.meta['runs']} runs: {study.meta['reused']} reused, {study.meta['runs'] - study.meta['reused']} "
        f"trained in {(time.perf_counter() - t0) / 60:.1f} min",
        highlight=False,
    )
    return _write(study, grid, args, command_line(args))


def _banner(console: Any, grid: Grid, folder: Path, records: str | None) -> None:
    """What the study is about to do, said once its backend is ready."""
    if records:
        console.print(f"every run trained now also writes a run record in {records}", highlight=False)
    console.print(
        f"grid {grid.name} ({grid.note}): {len(grid.entries)} rate sweeps and the sections, about "
        f"{grid.runs:,} runs in rounds (the sweeps extend themselves); finished runs are kept in "
        f"{folder} and reused",
        highlight=False,
    )


def _stored(store: ResultStore) -> int:
    """Entries in the store (counted, not read: an interrupt should not wait on reading them)."""
    try:
        return sum(1 for p in store.folder.iterdir() if p.suffix == ".json")
    except OSError:
        return 0


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
    from model.study.tables import sweep_tables

    rows = sweep(study, grid)
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
    """Rewrite results.md, the plot and the figures in ``args.out`` from a saved results.json
    (read as hostile input: a regular file, size-capped, depth-checked, every field checked)."""
    from model.study import GRIDS, from_json
    from model.study.saved import MAX_RESULTS_BYTES, BadFile, read_json

    try:
        study, grid = from_json(read_json(args.from_json, MAX_RESULTS_BYTES))
    except (BadFile, ValueError) as exc:
        warn(f"cannot use {args.from_json}: {' '.join(str(exc).split())}")
        return USAGE
    if grid.name in GRIDS:  # the cost notes may have been measured since
        known = GRIDS[grid.name]
        grid = replace(grid, cpu_hours=known.cpu_hours, minutes=known.minutes, note=known.note)
    return _write(study, grid, args, study.meta.get("command", ""))
