"""The ``mnist-tui`` command: the app by default, and one module per subcommand.

    mnist-tui [training flags]          open the interactive trainer (``app``)
    mnist-tui train [training flags]    train headless, print per-epoch lines (or --json)
    mnist-tui challenges                the challenges: story, goal, solved or not, best result
    mnist-tui challenge NAME            the app in a challenge's starting state (train --challenge: headless)
    mnist-tui gradcheck [--json]        finite-difference checks on the toy net
    mnist-tui fetch                     get and verify MNIST, print where it is
    mnist-tui evaluate CHECKPOINT       error rates of a saved model
    mnist-tui experiments               train every backward-pass variant, write results.md/json
    mnist-tui runs [show|export|rm ID]  the recorded runs (export --tensorboard DIR: for TensorBoard)
    mnist-tui compare ID ID ...         runs side by side: a table and a plot
    mnist-tui replay ID                 re-run a recorded run, check its final weights bit for bit
    mnist-tui serve                     the app in web browsers
    mnist-tui bench                     the performance table
    mnist-tui exercise new|check        write your own backprop.py; check it step by step

A subcommand is a module with ``NAME``, ``add_parser(sub)`` and ``run(args) -> int``; adding one
is a line in ``COMMANDS``. Shared flags, ``UserError`` and data loading are ``tui.cli.common``.
Heavy imports (numpy, textual) happen after argument parsing, so ``--help`` is instant and the
BLAS thread count is set before numpy loads. Every user-facing failure is one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from tui.cli import (
    app,
    bench,
    challenge,
    challenges,
    compare,
    evaluate,
    exercise,
    experiments,
    fetch,
    gradcheck,
    replay,
    runs,
    serve,
    train,
)
from tui.cli.common import PATH_ERRNOS, OneLineParser, UserError, choose_threads, warn
from tui.exitcodes import BROKEN_PIPE, INTERNAL, USAGE, from_signal

#: The subcommands, in the order ``--help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    train,
    challenges,
    challenge,
    gradcheck,
    fetch,
    evaluate,
    experiments,
    runs,
    compare,
    replay,
    serve,
    bench,
    exercise,
)
#: Subcommands whose unknown flags are passed on (``serve`` hands them to every app it starts).
PASS_THROUGH = frozenset({serve.NAME})

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]


class VersionAction(argparse.Action):
    """``--version``: print this installation's version and exit 0 (looked up only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from model.machine import package_version  # numpy, which the thread cap must precede: only here

        print(f"{parser.prog} {package_version()}")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """The app's flags at the top, and one subparser per module of ``COMMANDS``."""
    parser = OneLineParser(
        prog="mnist-tui",
        description="Watch backprop learn: an interactive trainer for a one-hidden-layer MLP on MNIST.",
    )
    parser.add_argument("--version", action=VersionAction, help="print the installed version and exit")
    app.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; a closed stdout (``mnist-tui gradcheck | head -1``) ends quietly.

    On a broken pipe the status is 141 (128 + SIGPIPE), what a shell reports for ``yes`` in
    ``yes | head -1``; stdout is pointed at /dev/null so the final flush cannot fail again.
    """
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE


def _parse(argv: list[str]) -> argparse.Namespace:
    """SystemExit(2) after a one-line usage error, SystemExit(0) after --help."""
    parser = build_parser()
    if argv[:1] and argv[0] in PASS_THROUGH:
        args, extra = parser.parse_known_args(argv)
        args.app_flags = extra
        return args
    return parser.parse_args(argv)


def _handler(name: str | None) -> ModuleType:
    by_name = {command.NAME: command for command in COMMANDS}
    return by_name[name] if name else app


def _main(argv: Sequence[str] | None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        choose_threads(getattr(args, "threads", None))
        return int(_handler(args.command).run(args))
    except UserError as exc:
        warn(str(exc))
        return USAGE
    except KeyboardInterrupt:
        warn("interrupted")
        return from_signal(signal.SIGINT)
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.errno not in PATH_ERRNOS:
            return _unexpected(args, exc)
        where = f"{exc.filename}: " if exc.filename else ""
        warn(f"{where}{exc.strerror or exc}")
        return USAGE
    except MemoryError:
        warn("out of memory; try a smaller --hidden or --batch-size")
        return INTERNAL
    except Exception as exc:
        return _unexpected(args, exc)


def _unexpected(args: argparse.Namespace, exc: BaseException) -> int:
    """A bug: one line here, the traceback in the log file."""
    from tui.errorlog import log_error, summary

    log = log_error(f"mnist-tui {args.command or 'app'}", exc)
    where = f" (full report: {log})" if log else ""
    warn(f"unexpected error: {summary(exc)}{where}")
    return INTERNAL
