"""``mnist-tui evaluate CHECKPOINT``: validation and test error of a saved checkpoint."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from tui.cli.common import UserError, add_data_flag, load_data, typed_path
from tui.exitcodes import OK

if TYPE_CHECKING:
    from tui.cli.common import Subcommands

NAME = "evaluate"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="error rates of a saved checkpoint")
    p.add_argument("checkpoint", metavar="CHECKPOINT", type=typed_path)
    add_data_flag(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from model.checkpoint import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    data = load_data(args.data, quiet=args.json)
    model = ckpt.model()
    if model.shape[0] != data.test_x.shape[1]:
        raise UserError(f"checkpoint expects {model.shape[0]} inputs, the data has {data.test_x.shape[1]}")
    n_classes = 1 + int(max(data.train_y.max(), data.valid_y.max(), data.test_y.max()))
    if model.shape[2] != n_classes:
        raise UserError(f"checkpoint {args.checkpoint} has {model.shape[2]} classes, the data has {n_classes}")
    sets = {"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)}
    results = {name: model.evaluate(X, y) for name, (X, y) in sets.items()}
    if args.json:
        print(json.dumps({f"{n}_error": err for n, (_, err) in results.items()} | {"checkpoint": args.checkpoint}))
    else:
        for name, (loss, err) in results.items():
            print(f"{name:5s}  error {err:7.2%}  loss {loss:.4f}")
    return OK
