"""``mnist-tui fetch``: get and verify MNIST (or check the copy ``--data`` names), print where it is."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tui.cli.common import UserError, typed_path
from tui.exitcodes import OK

if TYPE_CHECKING:
    from tui.cli.common import Subcommands

NAME = "fetch"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="download and verify MNIST, print where it is")
    p.add_argument("--data", metavar="PATH", type=typed_path, help="use and cache this copy instead of downloading")
    return p


def run(args: argparse.Namespace) -> int:
    from model.data import DataError, fetch_mnist, load_mnist
    from tui.progress import console_progress

    try:
        with console_progress(False) as progress:
            if args.data:
                data = load_mnist(args.data, progress=progress)
                print(f"MNIST ok: {data.source}")
            else:
                print(fetch_mnist(progress=progress))
    except DataError as exc:
        raise UserError(str(exc)) from None
    return OK
