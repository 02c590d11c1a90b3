"""``mnist-tui [flags]``: the interactive trainer, and the flags it takes (the top-level ones).

Everything that can be refused is refused here, in one line before the screen is taken: a bad
checkpoint or flags it cannot take, a missing ``--data``, no terminal. The app itself is
``tui.app``; it gets its settings as arguments, never through the environment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui.cli.common import (
    CHALLENGE_HELP,
    UserError,
    add_rewind_flags,
    add_runs_flag,
    add_tensorboard_flag,
    add_training_flags,
    challenge_hparams,
    check_tensorboard,
    find_challenge,
    given_flags,
    hparams_from_args,
    rewind_to_checkpoint,
    typed_path,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The app's flags: every training flag, ``--resume``, the rewind, autosave, runs and TensorBoard."""
    add_training_flags(p)
    p.add_argument("--resume", metavar="CHECKPOINT", type=typed_path, help="continue a saved run")
    add_rewind_flags(p)
    p.add_argument(
        "--no-autosave",
        action="store_true",
        help="write no autosave when quitting (by default the run's record keeps its final checkpoint, named "
        "when the app ends; without a record, autosave-<run id>.npz goes to the user data folder)",
    )
    p.add_argument(
        "--backprop",
        metavar="FILE",
        help="train with your own grads_batch from FILE (see: mnist-tui exercise); the gradient check checks "
        "it, b shows its check, u reloads it; FILE runs as your own Python code, as 'python FILE' would",
    )
    # set by `mnist-tui serve` for each browser session: the app's folder, to which paths are confined
    p.add_argument("--sandbox", metavar="DIR", help=argparse.SUPPRESS)
    add_runs_flag(p)
    add_tensorboard_flag(p)
    p.add_argument("--challenge", metavar="NAME", help=CHALLENGE_HELP)


def run(args: argparse.Namespace) -> int:
    """Open the app (after every check that can fail in one line); its exit status."""
    check_tensorboard(args.tensorboard)
    challenge = find_challenge(args.challenge) if args.challenge else None
    start = challenge_hparams(challenge, args) if challenge else None  # refuses --resume, --from, --preset
    if challenge is not None and args.backprop is not None:
        raise UserError("--challenge and --backprop: play one at a time")
    if args.backprop is not None and (args.resume or args.from_run or args.sandbox is not None):
        raise UserError("--backprop starts a fresh run in a terminal: leave out --resume and --from")
    rewind_to_checkpoint(args)
    overrides = _resume_overrides(args)
    if args.data and args.data.strip():  # a missing or unrecognised --data: one line, before the screen
        from model.data import DataError, check_source

        try:
            check_source(args.data)
        except DataError as exc:
            raise UserError(str(exc)) from None
    hp = start or hparams_from_args(args)
    student = None
    if args.backprop is not None:  # loaded and tried before the screen opens: a bad file is one line
        from tui.cli.exercise import open_backprop

        student, hp = open_backprop(args.backprop, hp, args.activation)
    served = args.sandbox is not None  # the app talks to a browser through textual-serve, not a terminal
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):  # no keys can arrive
        if student is not None:
            student.close()
        raise UserError("the interactive trainer needs a terminal; for a run without one use: mnist-tui train")
    from tui.app import run_app
    from tui.session.config import AppConfig

    return run_app(
        AppConfig(
            hp=hp,
            data_path=args.data,
            resume=args.resume,
            overrides=overrides,
            autosave=not args.no_autosave,
            sandbox=Path(args.sandbox) if served else None,
            runs=Path(args.runs).expanduser() if args.runs and args.runs.strip() else None,
            tensorboard=Path(args.tensorboard).expanduser() if args.tensorboard else None,
            challenge=challenge,
        ),
        student,
    )


def _resume_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The flags given beside ``--resume`` that change the checkpoint's settings; a bad checkpoint,
    or flags it cannot take, is one line here, before the screen opens."""
    if not args.resume:
        return {}
    from model.checkpoint import CheckpointError, load_checkpoint
    from model.run import resumed_hparams

    try:
        saved = load_checkpoint(args.resume).hp
        resumed = resumed_hparams(saved, given_flags(args), args.preset)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    return {k: v for k, v in resumed.to_dict().items() if getattr(saved, k) != v}
