"""``mnist-tui exercise new [DIR]`` and ``mnist-tui exercise check FILE``: the assignment, done by you.

``new`` writes the starter ``backprop.py``; ``check`` runs the six steps on it (``model.exercise``)
and prints each with its numbers and, when one fails, the diagnosis; a progress bar follows the
training step. Exit status: 0 every step passed, 1 a step failed (or a function is still to
write), 2 bad input (no such file, a syntax error, an import that fails, a bad flag).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tui import exitcodes
from tui.cli.common import UserError, add_data_flag

if TYPE_CHECKING:
    from model.config import HyperParams
    from tui.cli.common import Subcommands
    from tui.session.student import StudentSession

NAME = "exercise"
CHECK_FAILED = 1  # a step failed or a function is still to write


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    """Register ``exercise`` (with ``new`` and ``check``) on the subcommand action ``sub``."""
    ex = sub.add_parser(
        NAME,
        help="do the assignment yourself: write backprop.py, check it step by step, train it",
        description=(
            "Write backprop yourself and find out where it goes wrong. 'new' writes a starter backprop.py "
            "(the contract, the equations, the order of the steps); 'check' runs the assignment's six steps on "
            "it and names the mistake when one fails. Your file is run as your own Python code, as "
            "'python backprop.py' would run it. Then watch it train: mnist-tui --backprop backprop.py"
        ),
    )
    actions = ex.add_subparsers(dest="exercise_command", metavar="ACTION")
    new = actions.add_parser("new", help="write the starter DIR/backprop.py")
    new.add_argument("folder", nargs="?", default=".", metavar="DIR", help="where (default: this folder)")
    new.add_argument("--force", action="store_true", help="replace an existing backprop.py")
    check = actions.add_parser(
        "check",
        help="check FILE step by step: losses, gradients, minibatch, training on MNIST, speed",
        description=(
            "Steps: 1 loss_one against the reference; 2 grads_one against central differences of your loss_one "
            "on a 10-5-2 toy net; 3 loss_batch, and grads_batch against central differences of your loss_batch; "
            "4 grads_batch against grads_one averaged; 5 train on MNIST with your grads_batch (under 5%% test "
            "error); 6 your grads_batch's speed against the project's backprop. Exit status 0: every step "
            "passed; 1: a step failed or a function is still to write; 2: the file cannot be checked."
        ),
    )
    check.add_argument("file", metavar="FILE", help="your backprop.py")
    check.add_argument(
        "--steps", type=_steps, default=None, metavar="LIST", help="only these steps, e.g. 1-4 or 2,3 (default: all)"
    )
    check.add_argument(
        "--time-limit",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="stop a step that runs longer (default 60; training gets ten times it)",
    )
    add_data_flag(check)
    check.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return ex


def _steps(text: str) -> tuple[int, ...]:
    from model.exercise import ALL_STEPS

    chosen: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high or low)
            chosen += range(first, last + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"steps are numbers 1-6 like 1-4 or 2,3 (got {text!r})") from None
    if not chosen or any(n not in ALL_STEPS for n in chosen):
        raise argparse.ArgumentTypeError(f"steps are 1 to 6 (got {text!r})")
    return tuple(sorted(set(chosen)))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"time-limit must be a number of seconds (got {text!r})") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"time-limit must be between 0 and 86400 seconds (got {text!r})")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``exercise new`` or ``exercise check``; returns the exit status."""
    if args.exercise_command == "new":
        return _new(args)
    if args.exercise_command == "check":
        return _check(args)
    raise UserError("exercise: say new or check (see mnist-tui exercise --help)")


def _new(args: argparse.Namespace) -> int:
    from model.exercise import StarterError, write_starter

    try:
        path = write_starter(args.folder, force=args.force)
    except StarterError as exc:  # (an OSError goes to the command's one-line handler)
        raise UserError(str(exc)) from None
    print(f"wrote {path}: start with loss_one, then run: mnist-tui exercise check {path}")
    return exitcodes.OK


class _Bar:
    """The check's progress: a line for the running step, a bar for training. It shares the report's
    console, so each step's block prints above it and it disappears when the check ends."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("step {task.fields[number]}: {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self.task: Any = None

    def started(self, number: int, title: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(title, total=None, number=number, note="")

    def progress_report(self, number: int, payload: Any) -> None:
        if self.task is None or not isinstance(payload, dict):
            return
        if "steps" in payload:
            note = f"epoch {payload['epoch']:.2f}  loss {payload['loss']:.3f}"
            self.progress.update(self.task, total=payload["steps"], completed=payload["step"], note=note)
        elif "note" in payload:
            self.progress.update(self.task, note=str(payload["note"]))

    def finished(self, report: Any) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None


def _check(args: argparse.Namespace) -> int:
    from model.exercise import ALL_STEPS, CheckOptions, Listener, LoadError, Sandbox, read_source, run_check
    from model.exercise.check import TIME_LIMIT
    from tui.view.exercise import ending, step_block

    try:
        source = read_source(args.file)
    except LoadError as exc:
        raise UserError(str(exc)) from None
    limit = args.time_limit or TIME_LIMIT
    options = CheckOptions(steps=args.steps or ALL_STEPS, time_limit=limit, train_time_limit=10 * limit, data=args.data)
    out = Console(highlight=False, soft_wrap=True)  # long lines wrap in the terminal, not at 80 columns
    bar = _Bar(out, enabled=out.is_terminal and not args.json)

    class Printer(Listener):
        def started(self, number: int, title: str) -> None:
            bar.started(number, title)

        def progress(self, number: int, payload: Any) -> None:
            bar.progress_report(number, payload)

        def finished(self, report: Any) -> None:
            bar.finished(report)
            if not args.json:
                out.print(step_block(report))

    sandbox = Sandbox(source)
    try:
        activation = sandbox.start(options.time_limit)  # a file that cannot be loaded: one line, exit 2
        if not args.json:
            out.print(f"checking {source.path} (ACTIVATION = {activation!r})", style="bold")
        with bar.progress:
            result = run_check(source, options, Printer(), sandbox=sandbox)
    except LoadError as exc:
        raise UserError(str(exc)) from None
    finally:
        sandbox.close()
    if args.json:
        print(json.dumps(_as_json(result), indent=2))
    else:
        out.print(ending(result, f"mnist-tui --backprop {source.path}"))
    return exitcodes.OK if result.passed else CHECK_FAILED


def open_backprop(path: str, hp: HyperParams, activation_flag: str | None) -> tuple[StudentSession, HyperParams]:
    """``mnist-tui --backprop FILE``: the ``StudentSession`` that trains the app with FILE's grads_batch
    (loaded and tried on batches of the app's sizes) and ``hp`` with FILE's ACTIVATION.
    UserError (one line) if FILE cannot train or its ACTIVATION contradicts ``--activation``."""
    from model.exercise import LoadError, NotWritten, StudentError
    from tui.session.student import StudentSession, output_path

    output: Path | None
    try:
        output = output_path()
        output.write_text("")  # this session's prints only
    except OSError:
        output = None
    try:
        student = StudentSession.open(
            path, hp.hidden, hp.batch_size, None if output is None else str(output), hp.train_size
        )
    except NotWritten as exc:
        raise UserError(
            f"{path}: {exc.function} is not written yet, and training needs grads_batch "
            f"(mnist-tui exercise check {path} says what to write next)"
        ) from None
    except (LoadError, StudentError) as exc:
        text = str(exc)
        raise UserError(text if text.startswith(path) else f"{path}: {text}") from None
    if activation_flag is not None and activation_flag != student.activation:
        student.close()
        raise UserError(
            f"--activation {activation_flag}, but {path} says ACTIVATION = {student.activation!r}: "
            "leave out the flag (the file decides)"
        )
    return student, hp.validated(activation=student.activation)


def _as_json(result: Any) -> dict[str, Any]:
    from tui.view.exercise import finite_or_none

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return finite_or_none(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    steps = []
    for report in result.reports:
        entry = clean(dataclasses.asdict(report))
        for d, diagnosis in zip(entry["diagnoses"], report.diagnoses, strict=True):
            d |= {"name": diagnosis.name, "hint": diagnosis.advice}
        steps.append(entry)
    return {
        "file": result.path,
        "activation": result.activation,
        "passed": result.passed,
        "next": result.todo or None,
        "not_run": list(result.not_run),
        "steps": steps,
    }
