"""``mnist-tui challenge NAME``: the app in a challenge's starting state, with its Challenge panel
(the same as ``mnist-tui --challenge NAME``; ``train --challenge NAME`` plays it headless)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tui.cli.common import add_data_flag, add_runs_flag, add_threads_flag, find_challenge

if TYPE_CHECKING:
    from tui.cli.common import Subcommands

NAME = "challenge"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="open the app in a challenge's starting state, with its goal, hints and a live check",
        description=(
            "Open the interactive trainer in the broken starting state of challenge NAME (see mnist-tui "
            "challenges), with a Challenge panel: the story, the goal, how far the run is from it, hints "
            "(i reveals the next) and a notice when the app's own measurements meet the goal. Progress is "
            "kept in the user data folder."
        ),
    )
    p.add_argument("name", metavar="NAME", help="the challenge, e.g. too-hot")
    add_data_flag(p)
    add_threads_flag(p)
    add_runs_flag(p)
    p.add_argument("--no-autosave", action="store_true", help="do not save the run when quitting")
    return p


def run(args: argparse.Namespace) -> int:
    """Open the app as ``mnist-tui --challenge NAME`` would (the same checks, one line each)."""
    from tui.cli import build_parser
    from tui.cli.app import run as run_app

    find_challenge(args.name)
    argv = ["--challenge", args.name]
    for flag, value in (("--data", args.data), ("--runs", args.runs)):
        if value is not None:
            argv += [flag, value]
    app_args = build_parser().parse_args([*argv, *(["--no-autosave"] if args.no_autosave else [])])
    return run_app(app_args)
