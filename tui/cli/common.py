"""What every subcommand shares: the one-line parser, ``UserError``, the training flags (one per
``SPECS`` field), BLAS threads, data loading, the ``--from ID --at STEP`` rewind, and the settings a
``--challenge NAME`` starts from (the app's and ``train``'s).

Nothing heavy is imported at module level: ``mnist-tui --help`` stays instant and the BLAS thread
count is set before numpy loads. Leaves out each subcommand's own options (its module).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tui.exitcodes import USAGE

if TYPE_CHECKING:
    from model.challenges import Challenge
    from model.config import HyperParams
    from model.data import MNIST

    #: What ``add_parser(sub)`` of a subcommand module receives.
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
    #: Where flags are added: a subcommand's parser or one of its argument groups.
    Flags = argparse._ActionsContainer

DEFAULT_THREADS = 1
MAX_THREADS = 256
#: Positional arguments that take several values (``compare ID ID ...``); every flag takes one.
LIST_ARGUMENTS = frozenset({"ids"})
#: OSError numbers that mean a path the user gave is bad (one line, exit 2), not a bug.
PATH_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENAMETOOLONG", "ENOENT", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "EROFS", "ELOOP", "ENOSPC", "EDQUOT")
    if hasattr(errno, name)
)
RUNS_HELP = (
    "folder of run records (default: $MNIST_TUI_RUNS, then runs/ in the user data folder, "
    "e.g. ~/.local/share/mnist-tui/runs)"
)
CHALLENGE_HELP = "play a challenge (see: mnist-tui challenges): its starting settings, with any flags given on top"
TENSORBOARD_HELP = (
    "also write the run as TensorBoard events (scalars, changes, the hyperparameter table, first-layer "
    "weights as images) in DIR/<run id>; needs the tensorboard extra: pip install 'mnist-tui[tensorboard]'"
)


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def warn(text: str) -> None:
    """One ``mnist-tui: ...`` line on stderr (whatever ``text`` holds: control characters from a
    file's contents or a typed name are escaped, so it stays one line and the terminal obeys nothing)."""
    from model.printable import printable

    print(f"mnist-tui: {printable(text)}", file=sys.stderr)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (no usage dump), exit status 2; subparsers inherit it."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = super().parse_known_args(args, namespace)
        for dest, value in vars(parsed).items():
            # No flag takes a list: "--lr=--" makes argparse drop the "--" and store [] unchecked.
            if isinstance(value, list) and dest not in LIST_ARGUMENTS:
                self.error(f"argument --{dest.replace('_', '-')}: expected one value, got '--'")
        return parsed, extras


# ---- argument types ---------------------------------------------------------------------------


def hparam_type(name: str):  # type: ignore[no-untyped-def]
    """An argparse ``type=`` that parses and validates with the model's own rules (``SPECS``)."""

    def parse(text: str) -> Any:
        from model.config import parse_value

        try:
            return parse_value(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name.replace("_", "-")
    return parse


def typed_path(text: str) -> str:
    """An argparse ``type=`` for every path flag: the one rule for typed paths (``tui.sandbox.check_path``)."""
    from tui.sandbox import check_path

    try:
        return check_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


typed_path.__name__ = "path"


def positive(name: str):  # type: ignore[no-untyped-def]
    """An argparse ``type=`` for a whole number >= 1."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number (got {text!r})") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be at least 1 (got {value})")
        return value

    parse.__name__ = name
    return parse


# ---- flags shared by several subcommands --------------------------------------------------------


def add_data_flag(p: Flags) -> None:
    p.add_argument(
        "--data",
        metavar="PATH",
        type=typed_path,
        help="MNIST file or folder (default: $MNIST_TUI_DATA, then the cache)",
    )


def add_threads_flag(p: argparse.ArgumentParser) -> None:
    help_text = f"BLAS threads (default: $MNIST_TUI_THREADS or {DEFAULT_THREADS})"
    p.add_argument("--threads", type=int, default=None, help=help_text)


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by the app and ``train``: data, threads and every hyperparameter (one per ``SPECS`` field)."""
    from model.config import SPECS, HyperParams
    from model.presets import PRESETS

    d = HyperParams()
    add_data_flag(p)
    add_threads_flag(p)
    for name, spec in SPECS.items():  # one flag per hyperparameter, as the app's controls
        short_choices = 0 < len(spec.choices) <= 6
        listed = f": {', '.join(spec.choices)}" if len(spec.choices) > 6 else ""
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=hparam_type(name),
            metavar="{" + ",".join(spec.choices) + "}" if short_choices else ("NAME" if spec.choices else None),
            help=f"{spec.help}{listed} (default {getattr(d, name)})".replace("%", "%%"),
        )
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="start from named settings; explicit flags still win: "
        + "; ".join(f"{name}: {preset.help}".replace("%", "%%") for name, preset in PRESETS.items()),
    )
    # Left-out flags stay None, so hparams_from_args can layer: defaults < preset < explicit flags.
    p.set_defaults(**dict.fromkeys(d.to_dict(), None))


def add_runs_flag(p: Flags, help: str = RUNS_HELP) -> None:
    """``--runs DIR``: where run records are written (and read by ``runs``, ``compare``, ``replay``)."""
    p.add_argument("--runs", metavar="DIR", type=typed_path, default=None, help=help)


def add_tensorboard_flag(p: argparse.ArgumentParser) -> None:
    """``--tensorboard DIR``: TensorBoard event files beside the run record (tensorboardX)."""
    p.add_argument("--tensorboard", metavar="DIR", type=typed_path, default=None, help=TENSORBOARD_HELP)


def add_rewind_flags(p: argparse.ArgumentParser) -> None:
    """``--from ID --at STEP``: start from a recorded run's state at a step (replayed to it)."""
    p.add_argument("--from", dest="from_run", metavar="ID", help="start from this recorded run's state (with --at)")
    p.add_argument("--at", type=positive("at"), metavar="STEP", help="the step of --from to start at")


# ---- what the flags mean --------------------------------------------------------------------------


def hparams_from_args(args: argparse.Namespace) -> HyperParams:
    """The preset's (or the default) hyperparameters with every flag the user gave applied on top."""
    from model.presets import DEFAULT_PRESET, preset_hparams

    base = preset_hparams(getattr(args, "preset", None) or DEFAULT_PRESET)
    return base.validated(**given_flags(args))


def given_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The hyperparameter flags the user gave (left-out flags are None)."""
    from model.config import SPECS

    return {k: v for k in SPECS if (v := getattr(args, k, None)) is not None}


def check_tensorboard(folder: str | None) -> None:
    """UserError (one line) if ``--tensorboard`` was given but cannot work: an empty name, a path
    that is not a folder, or tensorboardX missing (the line names the extra)."""
    if folder is None:
        return
    if not folder.strip():
        raise UserError("--tensorboard needs a folder name (got an empty one)")
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"--tensorboard {folder}: is not a folder")
    from model.runs.tensorboard import TensorBoardUnavailable, require

    try:
        require()
    except TensorBoardUnavailable as exc:
        raise UserError(str(exc)) from None


def choose_threads(requested: int | None) -> int:
    """Cap BLAS threads (flag, then $MNIST_TUI_THREADS), at most this machine's CPUs, before numpy loads."""
    from model.threads import cpu_count, set_blas_threads

    if requested is not None:
        n, source = requested, "--threads"
    else:
        text, source = os.environ.get("MNIST_TUI_THREADS", "").strip() or str(DEFAULT_THREADS), "MNIST_TUI_THREADS"
        try:
            n = int(text)
        except ValueError:
            raise UserError(f"MNIST_TUI_THREADS must be a whole number (got {text!r})") from None
    if not 1 <= n <= MAX_THREADS:
        raise UserError(f"{source} must be between 1 and {MAX_THREADS} (got {n})")
    cpus = cpu_count()
    if n > cpus:  # more BLAS threads than CPUs only fight each other (an epoch took minutes)
        warn(f"{source} {n} is more than the {cpus} CPUs here; using {cpus}")
        n = cpus
    return set_blas_threads(n)


def load_data(path: str | None, quiet: bool = False) -> MNIST:
    """MNIST from ``path`` (or the cache), with a progress bar on a terminal; UserError if it cannot be had."""
    from model.data import DataError, load_mnist
    from tui.progress import console_progress

    try:
        with console_progress(quiet) as progress:
            return load_mnist(path, progress=progress)
    except DataError as exc:
        raise UserError(str(exc)) from None


def check_rewind_flags(args: argparse.Namespace) -> bool:
    """True if ``--from ID --at STEP`` were given; UserError (one line) for half of them, or with ``--resume``."""
    if args.from_run is None and args.at is None:
        return False
    if args.from_run is None or args.at is None:
        raise UserError("--from ID and --at STEP go together")
    if args.resume:
        raise UserError("--from/--at and --resume both say where to start: give one")
    return True


def rewind_to_checkpoint(args: argparse.Namespace, data: MNIST | None = None) -> None:
    """--from ID --at STEP: replay the run to STEP, save that state next to its record, and make
    ``args.resume`` point at it (the app and ``train`` then resume it as any checkpoint)."""
    if not check_rewind_flags(args):
        return
    from model.checkpoint import CheckpointError
    from model.run.replay import rewind
    from model.runs import RunsError, data_tag, find_run, read_run, runs_dir
    from model.runs.store import writable_folder

    data = data if data is not None else load_data(args.data)
    try:
        record = read_run(find_run(runs_dir(getattr(args, "runs", None)), args.from_run))
        folder = writable_folder(record.folder)  # the rewound state is saved beside the record
        path, result = rewind(record, data, args.at, folder / f"rewind-{args.at}.npz", data_tag(data))
    except (RunsError, CheckpointError) as exc:  # a rewind file that cannot be written, too
        raise UserError(str(exc)) from None
    for caveat in result.caveats:
        warn(f"not reproducible: {caveat}")
    warn(f"replayed {record.run_id} to step {args.at:,}; starting from {path}")
    args.resume = str(path)


# ---- challenges ----------------------------------------------------------------------------------


def find_challenge(name: str) -> Challenge:
    """The challenge named ``name``; UserError (one line, listing the names) if there is none."""
    from model.challenges import get_challenge

    try:
        return get_challenge(name.strip())
    except ValueError as exc:
        raise UserError(str(exc)) from None


def challenge_hparams(challenge: Challenge, args: argparse.Namespace) -> HyperParams:
    """The challenge's starting settings with the flags in ``args`` on top; UserError (one line) for
    a flag that changes a setting it keeps fixed, more epochs than it counts, or a flag that would
    not start from fresh weights (``--resume``, ``--from``, ``--preset``)."""
    for flag, dest in (("--resume", "resume"), ("--from", "from_run"), ("--preset", "preset")):
        if getattr(args, dest, None):
            raise UserError(f"{flag} cannot be combined with --challenge: a challenge starts from its own settings")
    given = given_flags(args)
    for name, value in challenge.fixed_values().items():
        if name in given and given[name] != value:
            flag = f"--{name.replace('_', '-')}"
            raise UserError(f"{flag} {given[name]}: challenge {challenge.name} keeps {name} at {value}")
    hp = challenge.start_hparams().validated(**given)
    limit = challenge.limits.epochs
    if limit is not None and hp.epochs > limit:
        epochs = f"{limit:g} epoch{'s' * (limit != 1)}"
        raise UserError(f"--epochs {hp.epochs}: challenge {challenge.name} counts at most {epochs}")
    return hp
