"""The ``mnist-tui`` command: the app by default, and headless subcommands.

    mnist-tui [training flags]          open the interactive trainer
    mnist-tui train [training flags]    train headless, print per-epoch lines (or --json)
    mnist-tui gradcheck [--json]        finite-difference checks on the toy net
    mnist-tui fetch                     get and verify MNIST, print where it is
    mnist-tui evaluate CHECKPOINT       error rates of a saved model

Heavy imports (numpy, textual) happen after argument parsing, so ``--help`` is
instant and the BLAS thread count is set before numpy loads. Every user-facing
failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_USAGE = 2
DEFAULT_THREADS = 1


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _hparam(name: str):  # type: ignore[no-untyped-def]
    """An argparse ``type=`` that parses and validates with the model's own rules."""

    def parse(text: str) -> Any:
        from model.config import parse_value

        try:
            return parse_value(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name.replace("_", "-")
    return parse


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by the app and ``train``: data, threads and every hyperparameter."""
    from model.config import SCHEDULES, HyperParams

    d = HyperParams()
    p.add_argument("--data", metavar="PATH", help="MNIST file or folder (default: $MNIST_TUI_DATA, then the cache)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"BLAS threads (default: $MNIST_TUI_THREADS or {DEFAULT_THREADS})",
    )
    p.add_argument("--epochs", type=_hparam("epochs"), default=d.epochs, help=f"epochs (default {d.epochs})")
    p.add_argument("--hidden", type=_hparam("hidden"), default=d.hidden, help=f"hidden units (default {d.hidden})")
    p.add_argument("--lr", type=_hparam("lr"), default=d.lr, help=f"learning rate (default {d.lr})")
    p.add_argument(
        "--batch-size",
        type=_hparam("batch_size"),
        default=d.batch_size,
        help=f"minibatch size (default {d.batch_size})",
    )
    p.add_argument(
        "--momentum",
        type=_hparam("momentum"),
        default=d.momentum,
        help=f"momentum in [0, 1) (default {d.momentum})",
    )
    p.add_argument(
        "--weight-decay",
        type=_hparam("weight_decay"),
        default=d.weight_decay,
        help=f"L2 weight decay (default {d.weight_decay})",
    )
    p.add_argument(
        "--schedule",
        type=_hparam("schedule"),
        default=d.schedule,
        metavar="{" + ",".join(SCHEDULES) + "}",
        help=f"learning-rate schedule (default {d.schedule})",
    )
    p.add_argument(
        "--lr-decay",
        type=_hparam("lr_decay"),
        default=d.lr_decay,
        help=f"decay per epoch for step/exp (default {d.lr_decay})",
    )
    p.add_argument(
        "--activation",
        type=_hparam("activation"),
        default=d.activation,
        metavar="{relu,tanh,sigmoid}",
        help=f"hidden activation (default {d.activation})",
    )
    p.add_argument("--seed", type=_hparam("seed"), default=d.seed, help=f"random seed (default {d.seed})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-tui",
        description="Watch backprop learn: an interactive trainer for a one-hidden-layer MLP on MNIST.",
    )
    add_training_flags(parser)
    parser.add_argument("--resume", metavar="CHECKPOINT", help="continue a saved run")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="train headless and report errors")
    add_training_flags(train)
    train.add_argument("--save", metavar="PATH", help="write a checkpoint (.npz) at the end")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a saved run")
    train.add_argument("--json", action="store_true", help="print one JSON object at the end instead of text")

    gc = sub.add_parser("gradcheck", help="finite-difference check of backprop on the toy net (D=10, H=5, K=2)")
    gc.add_argument("--json", action="store_true", help="print the reports as JSON")

    fetch = sub.add_parser("fetch", help="download and verify MNIST, print where it is")
    fetch.add_argument("--data", metavar="PATH", help="use and cache this copy instead of downloading")

    ev = sub.add_parser("evaluate", help="error rates of a saved checkpoint")
    ev.add_argument("checkpoint", metavar="CHECKPOINT")
    ev.add_argument("--data", metavar="PATH", help="MNIST file or folder")
    ev.add_argument("--json", action="store_true", help="print JSON")
    return parser


def set_blas_threads(requested: int | None) -> int:
    """Cap BLAS threads through the environment, before numpy is imported."""
    n = requested if requested is not None else int(os.environ.get("MNIST_TUI_THREADS", DEFAULT_THREADS))
    if n < 1:
        raise UserError(f"--threads must be at least 1 (got {n})")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if "numpy" in sys.modules:  # already loaded (tests): limit at run time instead
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    return n


def hparams_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from model.config import HyperParams

    fields = HyperParams().to_dict()
    return HyperParams().validated(**{k: getattr(args, k) for k in fields if hasattr(args, k)})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        set_blas_threads(getattr(args, "threads", None))
        command = args.command or "app"
        handler = {
            "app": _cmd_app,
            "train": _cmd_train,
            "gradcheck": _cmd_gradcheck,
            "fetch": _cmd_fetch,
            "evaluate": _cmd_evaluate,
        }[command]
        return handler(args)
    except UserError as exc:
        print(f"mnist-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mnist-tui: interrupted", file=sys.stderr)
        return 130


# ---- subcommands -------------------------------------------------------------------------


def _load_data(path: str | None, quiet: bool = False):  # type: ignore[no-untyped-def]
    from model.data import DataError, load_mnist
    from tui.progress import console_progress

    try:
        with console_progress(quiet) as progress:
            return load_mnist(path, progress=progress)
    except DataError as exc:
        raise UserError(str(exc)) from None


def _cmd_app(args: argparse.Namespace) -> int:
    from tui.app import run_app

    return run_app(hparams_from_args(args), data_path=args.data, resume=args.resume)


def _cmd_train(args: argparse.Namespace) -> int:
    from tui.headless import train_headless

    return train_headless(args, hparams_from_args(args), _load_data(args.data, quiet=args.json))


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from model.gradcheck import toy_suite

    reports = toy_suite()
    if args.json:
        print(
            json.dumps({"passed": all(r.passed for r in reports), "checks": [r.to_dict() for r in reports]}, indent=2)
        )
    else:
        from tui.headless import print_gradcheck

        print_gradcheck(reports)
    return 0 if all(r.passed for r in reports) else 1


def _cmd_fetch(args: argparse.Namespace) -> int:
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
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from model.checkpoint import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    data = _load_data(args.data, quiet=args.json)
    model = ckpt.model()
    if model.shape[0] != data.test_x.shape[1]:
        raise UserError(f"checkpoint expects {model.shape[0]} inputs, the data has {data.test_x.shape[1]}")
    results = {
        name: model.evaluate(X, y)
        for name, (X, y) in {
            "valid": (data.valid_x, data.valid_y),
            "test": (data.test_x, data.test_y),
        }.items()
    }
    if args.json:
        print(json.dumps({f"{n}_error": err for n, (_, err) in results.items()} | {"checkpoint": args.checkpoint}))
    else:
        for name, (loss, err) in results.items():
            print(f"{name:5s}  error {err:7.2%}  loss {loss:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
