"""The ``mnist-tui`` command: the app by default, and headless subcommands.

    mnist-tui [training flags]          open the interactive trainer
    mnist-tui train [training flags]    train headless, print per-epoch lines (or --json)
    mnist-tui gradcheck [--json]        finite-difference checks on the toy net
    mnist-tui fetch                     get and verify MNIST, print where it is
    mnist-tui evaluate CHECKPOINT       error rates of a saved model
    mnist-tui experiments               train every backward-pass variant, write results.md/json
    mnist-tui runs [show|export|rm ID]  the recorded runs (export --tensorboard DIR: for TensorBoard)
    mnist-tui compare ID ID ...         runs side by side: a table and a plot
    mnist-tui replay ID                 re-run a recorded run, check its final weights bit for bit
    mnist-tui exercise new|check        write your own backprop.py; check it step by step

Heavy imports (numpy, textual) happen after argument parsing, so ``--help`` is
instant and the BLAS thread count is set before numpy loads. Every user-facing
failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from tui.exitcodes import BROKEN_PIPE, INTERNAL, OK, USAGE, from_signal

DEFAULT_THREADS = 1
MAX_THREADS = 256


#: Positional arguments that take several values (``compare ID ID ...``); every flag takes one.
LIST_ARGUMENTS = frozenset({"ids"})


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


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


def add_rewind_flags(p: argparse.ArgumentParser) -> None:
    """``--from ID --at STEP``: start from a recorded run's state at a step (replayed to it)."""
    p.add_argument("--from", dest="from_run", metavar="ID", help="start from this recorded run's state (with --at)")
    p.add_argument("--at", type=_positive("at"), metavar="STEP", help="the step of --from to start at")


def _rewind_to_checkpoint(args: argparse.Namespace) -> None:
    """--from ID --at STEP: replay the run to STEP, save that state next to its record, resume it."""
    if args.from_run is None and args.at is None:
        return
    if args.from_run is None or args.at is None:
        raise UserError("--from ID and --at STEP go together")
    if args.resume:
        raise UserError("--from/--at and --resume both say where to start: give one")
    from model.runs import RunsError, data_tag, find_run, read_run, runs_dir
    from model.runs.replay import rewind

    data = _load_data(args.data)
    try:
        record = read_run(find_run(runs_dir(getattr(args, "runs", None)), args.from_run))
        path, result = rewind(record, data, args.at, record.folder / f"rewind-{args.at}.npz", data_tag(data))
    except RunsError as exc:
        raise UserError(str(exc)) from None
    for caveat in result.caveats:
        print(f"mnist-tui: not reproducible: {caveat}", file=sys.stderr)
    print(f"mnist-tui: replayed {record.run_id} to step {args.at:,}; starting from {path}", file=sys.stderr)
    args.resume = str(path)


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by the app and ``train``: data, threads and every hyperparameter."""
    from model.config import SPECS, HyperParams

    d = HyperParams()
    p.add_argument("--data", metavar="PATH", help="MNIST file or folder (default: $MNIST_TUI_DATA, then the cache)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"BLAS threads (default: $MNIST_TUI_THREADS or {DEFAULT_THREADS})",
    )
    for name, spec in SPECS.items():  # one flag per hyperparameter, as the app's controls
        short_choices = 0 < len(spec.choices) <= 6
        listed = f": {', '.join(spec.choices)}" if len(spec.choices) > 6 else ""
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=_hparam(name),
            metavar="{" + ",".join(spec.choices) + "}" if short_choices else ("NAME" if spec.choices else None),
            help=f"{spec.help}{listed} (default {getattr(d, name)})".replace("%", "%%"),
        )
    from model.presets import PRESETS

    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="start from named settings; explicit flags still win: "
        + "; ".join(f"{name}: {preset.help}".replace("%", "%%") for name, preset in PRESETS.items()),
    )
    # Left-out flags stay None, so hparams_from_args can layer: defaults < preset < explicit flags.
    p.set_defaults(**dict.fromkeys(d.to_dict(), None))


RUNS_HELP = (
    "folder of run records (default: $MNIST_TUI_RUNS, then runs/ in the user data folder, "
    "e.g. ~/.local/share/mnist-tui/runs)"
)


def add_runs_flag(p: argparse.ArgumentParser, help: str = RUNS_HELP) -> None:
    """``--runs DIR``: where run records are written (and read by ``runs`` and ``compare``)."""
    p.add_argument("--runs", metavar="DIR", default=None, help=help)


TENSORBOARD_HELP = (
    "also write the run as TensorBoard events (scalars, changes, the hyperparameter table, first-layer "
    "weights as images) in DIR/<run id>; needs the tensorboard extra: pip install 'mnist-tui[tensorboard]'"
)


def add_tensorboard_flag(p: argparse.ArgumentParser, help: str = TENSORBOARD_HELP) -> None:
    """``--tensorboard DIR``: TensorBoard event files beside the run record (tensorboardX)."""
    p.add_argument("--tensorboard", metavar="DIR", default=None, help=help)


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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mnist-tui",
        description="Watch backprop learn: an interactive trainer for a one-hidden-layer MLP on MNIST.",
    )
    add_training_flags(parser)
    parser.add_argument("--resume", metavar="CHECKPOINT", help="continue a saved run")
    add_rewind_flags(parser)
    parser.add_argument(
        "--no-autosave",
        action="store_true",
        help="do not save the run when quitting (default: save it to autosave.npz in the user data folder, "
        "e.g. ~/.local/share/mnist-tui/)",
    )
    parser.add_argument(
        "--backprop",
        metavar="FILE",
        help="train with your own grads_batch from FILE (see: mnist-tui exercise); the gradient check checks "
        "it, c shows its check, u reloads it; FILE runs as your own Python code, as 'python FILE' would",
    )
    # set by `mnist-tui serve` for each browser session: the app's folder, to which paths are confined
    parser.add_argument("--sandbox", metavar="DIR", help=argparse.SUPPRESS)
    add_runs_flag(parser)
    add_tensorboard_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="train headless and report errors")
    add_training_flags(train)
    train.add_argument("--save", metavar="PATH", help="write a checkpoint (.npz) at the end")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a saved run")
    add_rewind_flags(train)
    train.add_argument(
        "--eval-every",
        type=_positive("eval-every"),
        metavar="STEPS",
        help="also evaluate valid and test every STEPS steps, not only at epoch ends "
        "(so --target-error stops, and times, closer to where the target was crossed)",
    )
    train.add_argument("--json", action="store_true", help="print one JSON object at the end instead of text")
    add_runs_flag(train)
    add_tensorboard_flag(train)

    gc = sub.add_parser("gradcheck", help="finite-difference check of backprop on the toy net (D=10, H=5, K=2)")
    gc.add_argument("--json", action="store_true", help="print the reports as JSON")

    fetch = sub.add_parser("fetch", help="download and verify MNIST, print where it is")
    fetch.add_argument("--data", metavar="PATH", help="use and cache this copy instead of downloading")

    ev = sub.add_parser("evaluate", help="error rates of a saved checkpoint")
    ev.add_argument("checkpoint", metavar="CHECKPOINT")
    ev.add_argument("--data", metavar="PATH", help="MNIST file or folder")
    ev.add_argument("--json", action="store_true", help="print JSON")

    from model.study import GRIDS

    grid_help = "; ".join(
        f"{g.name}: {g.runs:,} runs of {g.epochs} epoch{'s' * (g.epochs > 1)}, about {g.cpu_hours:g} CPU hours"
        for g in GRIDS.values()
    )
    ex = sub.add_parser(
        "experiments",
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
    ex.add_argument("--grid", choices=tuple(GRIDS), default="default", help="which study (default: default)")
    ex.add_argument("--jobs", type=_positive("jobs"), default=2, help="worker processes (default 2)")
    ex.add_argument("--out", metavar="DIR", default="experiments-out", help="output folder (default experiments-out)")
    ex.add_argument("--data", metavar="PATH", help="MNIST file or folder (default: $MNIST_TUI_DATA, then the cache)")
    ex.add_argument("--variants", metavar="A,B", help="only these variants (and the controls)")
    ex.add_argument("--seeds", type=_positive("seeds"), help="seeds per cell, 0..S-1 (default: the grid's)")
    ex.add_argument("--epochs", type=_hparam("epochs"), help="epochs per run (default: the grid's)")
    ex.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead"
    )
    ex.add_argument(
        "--backend",
        choices=("auto", "dask", "pool", "serial"),
        default="auto",
        help="auto: a local Dask cluster if dask is installed, else a process pool (default auto)",
    )
    ex.add_argument("--no-figures", action="store_true", help="skip the SVG/PNG figures (they need matplotlib)")
    ex.add_argument("--quiet", action="store_true", help="no progress display or plot, just the table")
    ex.add_argument("--from-json", metavar="FILE", help="only redraw results.md and the figures from a results.json")
    add_runs_flag(
        ex,
        "also write a run record (see: mnist-tui runs) for every run trained, in DIR; without it the study "
        "writes none, so the default grid does not leave 2,100 folders in the runs folder",
    )

    from tui.runs_cli import add_arguments as add_runs_commands

    add_runs_commands(sub, add_runs_flag)

    from tui.exercise_cli import add_parser as add_exercise

    add_exercise(sub)

    srv = sub.add_parser(
        "serve",
        help="serve the app to web browsers (textual-serve): one app per tab",
        description=(
            "Serve the interactive trainer to web browsers: each tab gets its own app process and its own "
            "folder under --root, the only place its save and load prompts can reach. Flags after the "
            "serve options go to every app (e.g. mnist-tui serve --port 8000 --hidden 100). What a browser "
            "cannot do: the terminal's own clipboard and window title; everything else, keys and mouse "
            "included, works as in a terminal."
        ),
    )
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    srv.add_argument("--port", type=_positive("port"), default=8000, help="port (default 8000)")
    srv.add_argument(
        "--max-sessions", type=_positive("max-sessions"), default=3, help="apps running at once (default 3)"
    )
    srv.add_argument("--root", metavar="DIR", help="session folders go here (default: the user data folder)")
    srv.add_argument("--public-url", metavar="URL", help="the address browsers use, behind a proxy")

    bench = sub.add_parser("bench", help="training speed vs this machine's GEMM rate, and every target: one table")
    bench.add_argument("--threads", type=int, default=None, help=f"BLAS threads (default {DEFAULT_THREADS})")
    from tui.bench.run import add_arguments as add_bench_flags

    add_bench_flags(bench)
    return parser


def _positive(name: str):  # type: ignore[no-untyped-def]
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
        print(f"mnist-tui: {source} {n} is more than the {cpus} CPUs here; using {cpus}", file=sys.stderr)
        n = cpus
    return set_blas_threads(n)


#: OSError numbers that mean a path the user gave is bad (one line, exit 2), not a bug.
PATH_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENAMETOOLONG", "ENOENT", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "EROFS", "ELOOP", "ENOSPC", "EDQUOT")
    if hasattr(errno, name)
)


def hparams_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The preset's (or the default) hyperparameters with every flag the user gave applied on top."""
    from model.presets import DEFAULT_PRESET, preset_hparams

    base = preset_hparams(getattr(args, "preset", None) or DEFAULT_PRESET)
    given = {k: v for k in base.to_dict() if (v := getattr(args, k, None)) is not None}
    return base.validated(**given)


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


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # what serve does not know is the apps' flags, checked in _cmd_serve
        args, app_flags = parser.parse_known_args(argv)
        args.app_flags = app_flags
    else:
        args = parser.parse_args(argv)  # SystemExit(2) after a one-line usage error, SystemExit(0) after --help
    try:
        choose_threads(getattr(args, "threads", None))
        command = args.command or "app"
        handler = {
            "app": _cmd_app,
            "train": _cmd_train,
            "gradcheck": _cmd_gradcheck,
            "fetch": _cmd_fetch,
            "evaluate": _cmd_evaluate,
            "experiments": _cmd_experiments,
            "serve": _cmd_serve,
            "bench": _cmd_bench,
            "runs": _cmd_runs,
            "compare": _cmd_compare,
            "replay": _cmd_replay,
            "exercise": _cmd_exercise,
        }[command]
        return handler(args)
    except UserError as exc:
        print(f"mnist-tui: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("mnist-tui: interrupted", file=sys.stderr)
        return from_signal(signal.SIGINT)
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.errno not in PATH_ERRNOS:
            return _unexpected(args, exc)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mnist-tui: {where}{exc.strerror or exc}", file=sys.stderr)
        return USAGE
    except MemoryError:
        print("mnist-tui: out of memory; try a smaller --hidden or --batch-size", file=sys.stderr)
        return INTERNAL
    except Exception as exc:
        return _unexpected(args, exc)


def _unexpected(args: argparse.Namespace, exc: BaseException) -> int:
    """A bug: one line here, the traceback in the log file."""
    from tui.errorlog import log_error, summary

    log = log_error(f"mnist-tui {args.command or 'app'}", exc)
    where = f" (full report: {log})" if log else ""
    print(f"mnist-tui: unexpected error: {summary(exc)}{where}", file=sys.stderr)
    return INTERNAL


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
    check_tensorboard(args.tensorboard)
    if args.backprop is not None and (args.resume or args.from_run or args.sandbox is not None):
        raise UserError("--backprop starts a fresh run in a terminal: leave out --resume and --from")
    _rewind_to_checkpoint(args)
    overrides: dict[str, object] = {}
    if args.resume:  # a bad checkpoint, or flags it cannot take, is one line here, before the screen opens
        from model.checkpoint import CheckpointError, load_checkpoint
        from tui.headless import given_flags
        from tui.session.checkpoints import resumed_hparams

        try:
            saved = load_checkpoint(args.resume).hp
            resumed = resumed_hparams(saved, given_flags(args), args.preset)
        except CheckpointError as exc:
            raise UserError(str(exc)) from None
        overrides = {k: v for k, v in resumed.to_dict().items() if getattr(saved, k) != v}
    if args.data and args.data.strip():  # a missing or unrecognised --data: one line, before the screen
        from model.data import DataError, check_source

        try:
            check_source(args.data)
        except DataError as exc:
            raise UserError(str(exc)) from None
    hp = hparams_from_args(args)
    student = None
    if args.backprop is not None:  # loaded and tried once before the screen opens: a bad file is one line
        from tui.exercise_cli import open_backprop

        try:
            student, hp = open_backprop(args.backprop, hp, args.activation)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    served = args.sandbox is not None  # the app talks to a browser through textual-serve, not a terminal
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):  # no keys can arrive
        if student is not None:
            student.close()
        raise UserError("the interactive trainer needs a terminal; for a run without one use: mnist-tui train")
    if args.runs and args.runs.strip():  # where the app's worker writes the run record
        from model.runs import RUNS_ENV

        os.environ[RUNS_ENV] = args.runs
    from tui.app import default_autosave_path, run_app

    autosave = None if args.no_autosave else str(default_autosave_path())
    if served:
        autosave = None if args.no_autosave else str(Path(args.sandbox) / "autosave.npz")
    return run_app(
        hp,
        data_path=args.data,
        resume=args.resume,
        autosave=autosave,
        overrides=overrides,
        sandbox=args.sandbox,
        tensorboard=args.tensorboard,
        student=student,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from tui.headless import train_headless

    check_tensorboard(args.tensorboard)
    _rewind_to_checkpoint(args)
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
    return OK if all(r.passed for r in reports) else INTERNAL  # a failing check means backprop has a bug


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
    return OK


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
    n_classes = 1 + int(max(data.train_y.max(), data.valid_y.max(), data.test_y.max()))
    if model.shape[2] != n_classes:
        raise UserError(f"checkpoint {args.checkpoint} has {model.shape[2]} classes, the data has {n_classes}")
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
    return OK


def _cmd_experiments(args: argparse.Namespace) -> int:
    from model.variants import VARIANT_NAMES
    from tui.experiments_cli import run_experiments

    unknown = sorted({v.strip() for v in (args.variants or "").split(",") if v.strip()} - set(VARIANT_NAMES))
    if unknown:
        raise UserError(f"unknown variant {', '.join(unknown)} (choose from {', '.join(VARIANT_NAMES)})")
    if args.from_json:
        from tui.experiments_cli import redraw

        return redraw(args)
    data = _load_data(args.data, quiet=args.quiet)  # fetches and checks once here, not in every worker
    return run_experiments(args, data)


def _cmd_serve(args: argparse.Namespace) -> int:
    import platformdirs

    from tui.sandbox import confine

    root = Path(args.root or Path(platformdirs.user_data_dir("mnist-tui", appauthor=False)) / "serve").resolve()
    flags = list(args.app_flags)
    try:
        app = build_parser().parse_args(flags)  # a bad flag is one line here, not in every session
    except SystemExit as exc:  # the parser has printed its one line
        return int(exc.code or 0)
    if app.command is not None or app.sandbox is not None or app.from_run is not None:
        raise UserError("serve: the flags after the serve options are the app's (no subcommand, --sandbox or --from)")
    if app.backprop is not None:  # a visitor must never be able to make the server run code
        raise UserError("serve: --backprop is refused: it runs a Python file, which a served app must not do")
    check_tensorboard(app.tensorboard)
    for flag in ("--data", "--resume"):  # the files every session reads must live in the server's folder
        value = getattr(app, flag[2:])
        if value:
            try:
                inside = confine(value, root)
            except ValueError as exc:
                raise UserError(f"serve {flag}: {exc} (relative to {root})") from None
            flags = [*_without_flag(flags, flag), f"{flag}={inside}"]
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"mnist-tui: warning: serving on {args.host}: anyone who can reach port {args.port} can train, save "
            f"and load checkpoints in a session folder under {root} and use this machine's CPU "
            f"({args.max_sessions} sessions at most)",
            file=sys.stderr,
        )
    try:
        from tui.serve import serve
    except ImportError:
        raise UserError("mnist-tui serve needs textual-serve: pip install 'mnist-tui[serve]'") from None
    serve(flags, root, args.host, args.port, args.max_sessions, args.public_url)
    return OK


def _without_flag(flags: list[str], flag: str) -> list[str]:
    """``flags`` without ``flag VALUE`` / ``flag=VALUE``."""
    out: list[str] = []
    skip = False
    for f in flags:
        if skip:
            skip = False
        elif f == flag:
            skip = True
        elif not f.startswith(flag + "="):
            out.append(f)
    return out


def _runs_command(name: str, *params: Any) -> int:
    """Call ``tui.runs_cli.<name>``; a RunsError (bad id, unreadable record) is one line, exit 2."""
    import tui.runs_cli
    from model.runs import RunsError

    try:
        return int(getattr(tui.runs_cli, name)(*params))
    except RunsError as exc:
        raise UserError(str(exc)) from None


def _cmd_runs(args: argparse.Namespace) -> int:
    return _runs_command("run_runs", args)


def _cmd_replay(args: argparse.Namespace) -> int:
    return _runs_command("run_replay", args, _load_data(args.data))


def _cmd_compare(args: argparse.Namespace) -> int:
    return _runs_command("run_compare", args)


def _cmd_exercise(args: argparse.Namespace) -> int:
    from tui.exercise_cli import run

    return run(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from tui.bench.run import run_bench

    fmt = "markdown" if args.markdown else "json" if args.json else "text"
    return run_bench(args.quick, choose_threads(args.threads), args.data, args.best, fmt)


if __name__ == "__main__":
    raise SystemExit(main())
