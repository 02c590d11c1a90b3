"""``mnist-tui bench``: the performance table, every speed figure against its target and this
machine's GEMM rate. The measuring is ``tui.bench``; this module holds its options."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tui.cli.common import DEFAULT_THREADS, add_data_flag, choose_threads

if TYPE_CHECKING:
    from tui.cli.common import Subcommands

NAME = "bench"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="training speed vs this machine's GEMM rate, and every target: one table")
    p.add_argument("--threads", type=int, default=None, help=f"BLAS threads (default {DEFAULT_THREADS})")
    p.add_argument("--quick", action="store_true", help="seconds-long smoke run on synthetic data (no pass/fail)")
    p.add_argument("--best", action="store_true", help="also train --preset best and report its test error (minutes)")
    add_data_flag(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    out.add_argument("--json", action="store_true", help="print the rows and the run's context as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from tui.bench import run_bench

    fmt = "markdown" if args.markdown else "json" if args.json else "text"
    return run_bench(args.quick, choose_threads(args.threads), args.data, args.best, fmt)
