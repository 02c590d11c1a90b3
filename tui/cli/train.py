"""``mnist-tui train``: train headless, with a progress bar and one line per epoch (or one JSON object).

It drives the run core (``model.run``) until the run halts: its epochs done, the target reached,
a divergence, or a signal (SIGINT, SIGTERM, SIGHUP stop between two steps). ``--save`` is checked
before training starts and written at the end, whatever ended the run. ``--resume`` continues a
checkpoint with the flags given applied over its settings; ``--from ID --at STEP`` resumes a
recorded run's state at a step. The run's id is printed (and is in ``--json``); every command
takes its short form. ``--challenge NAME`` plays a challenge headless: its starting settings with
the flags on top, stopped at the solve or once nothing more can count, solved or not said (exit 0
or 1). Exit statuses: ``tui.exitcodes``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui import exitcodes
from tui.cli.common import (
    CHALLENGE_HELP,
    UserError,
    add_rewind_flags,
    add_runs_flag,
    add_tensorboard_flag,
    add_training_flags,
    challenge_hparams,
    check_rewind_flags,
    check_tensorboard,
    find_challenge,
    given_flags,
    hparams_from_args,
    load_data,
    positive,
    rewind_to_checkpoint,
    typed_path,
    warn,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from model.challenges import Challenge
    from model.challenges.play import ChallengePlay
    from model.config import HyperParams
    from model.run import Run, RunOutcome
    from model.run.events import RunEvent
    from model.state import RunState
    from model.trainer import StepMetrics
    from tui.cli.common import Subcommands

NAME = "train"
#: Signals that stop a run between two steps (saved first with --save); SIGHUP is a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SIGNAL_STATUS = {signal.SIGINT: "interrupted", signal.SIGHUP: "hung up", signal.SIGTERM: "terminated"}
Trained = tuple["RunOutcome", int | None, "StepMetrics | None"]  # what it came to, the signal, a diverged step


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="train headless and report errors")
    add_training_flags(p)
    p.add_argument("--save", metavar="PATH", type=typed_path, help="write a checkpoint (.npz) at the end")
    p.add_argument("--resume", metavar="CHECKPOINT", type=typed_path, help="continue a saved run")
    add_rewind_flags(p)
    p.add_argument(
        "--eval-every",
        type=positive("eval-every"),
        metavar="STEPS",
        help="also evaluate valid and test every STEPS steps, not only at epoch ends "
        "(so --target-error stops, and times, closer to where the target was crossed)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object at the end instead of text")
    add_runs_flag(p)
    add_tensorboard_flag(p)
    p.add_argument("--challenge", metavar="NAME", help=f"{CHALLENGE_HELP}; says solved or not (exit 0 solved, 1 not)")
    return p


def run(args: argparse.Namespace) -> int:
    """Check everything that can fail before training, train, report; the exit status."""
    check_tensorboard(args.tensorboard)
    check_rewind_flags(args)  # before the data loads
    challenge = find_challenge(args.challenge) if args.challenge else None
    start = challenge_hparams(challenge, args) if challenge else None  # refused flags: before the data loads
    save = _save_target(args.save, args.data) if args.save is not None else None
    data = load_data(args.data, quiet=args.json)
    rewind_to_checkpoint(args, data)
    run_ = _open(args, data, start, challenge)
    play = _play(challenge, run_) if challenge is not None else None
    trained = _train(run_, quiet=args.json, done=(lambda: play.over) if play is not None else None)
    return _report(args, run_, trained, save, play)


def _save_target(save: str, data_path: str | None) -> Path:
    """Where ``--save`` writes, refused in one line before training when it cannot (the one
    rule of ``model.checkpoint.checkpoint_target``, and never the ``--data`` file)."""
    from model.checkpoint import CheckpointError, checkpoint_target

    if not save.strip():
        raise UserError("--save needs a file name (got an empty one)")
    try:
        path = checkpoint_target(save, probe=True)
    except CheckpointError as exc:
        raise UserError(f"--save {save}: {exc}") from None
    if data_path and path.exists() and Path(data_path).exists() and path.samefile(data_path):
        raise UserError(f"--save {save}: is the --data file; refusing to overwrite it")
    return path


def _open(args: argparse.Namespace, data: Any, start: HyperParams | None, challenge: Challenge | None) -> Run:
    """The run: fresh from the flags (over ``start``: a challenge's settings), or resuming
    ``--resume`` with the flags given on top; recorded (with the challenge it plays)."""
    from model.checkpoint import CheckpointError, load_checkpoint
    from model.run import Policy, Recording, open_run, resumed_hparams
    from model.runs import runs_dir

    state: RunState | None = None
    hp, changes = start or hparams_from_args(args), None
    policy = Policy(eval_every=args.eval_every or 0)
    extra = {}
    if challenge is not None:
        from model.challenges.play import challenge_policy

        policy, extra = challenge_policy(challenge, policy), {"challenge": challenge.name}
    try:
        if args.resume:
            state = load_checkpoint(args.resume)
            hp = resumed_hparams(state.hp, given_flags(args), args.preset)
            changes = {k: v for k, v in hp.to_dict().items() if getattr(state.hp, k) != v}
            done = state.counters.examples_seen // len(data.train_y)
            if done >= hp.epochs:
                raise UserError(
                    f"{args.resume} has already trained {done} epochs; --epochs is the total, pass more than {done}"
                )
        tb = Path(args.tensorboard).expanduser() if args.tensorboard else None
        recording = Recording(runs_dir(args.runs), "train", tb, extra=extra, warn=warn)
        return open_run(data, hp, resume=state, changes=changes, policy=policy, recording=recording)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None


class _Console:
    """What ``train`` shows while it runs: a progress bar on a terminal, one line per epoch (and
    per ``--eval-every`` evaluation); the step that diverged, for the last line."""

    def __init__(self, run: Run, progress: Progress, quiet: bool) -> None:
        trainer = run.trainer
        self.progress, self.quiet = progress, quiet
        self.rows = len(trainer.order)
        self.steps_per_epoch = -(-len(trainer.order) // trainer.hp.batch_size)
        self.task = progress.add_task("train", total=self.steps_per_epoch, epoch=run.epochs_done + 1, loss=float("nan"))
        self.diverged: StepMetrics | None = None

    def __call__(self, e: RunEvent) -> None:
        from model.run import events as ev
        from tui.format import format_epoch, format_percent

        if isinstance(e, ev.Stepped) and e.metrics.step % 20 == 0:
            m = e.metrics
            self.progress.update(
                self.task, completed=m.step % self.steps_per_epoch or self.steps_per_epoch, loss=m.loss
            )
        elif isinstance(e, ev.Diverged):
            self.diverged = e.metrics
        elif isinstance(e, ev.Evaluated) and not e.epoch_end and not self.quiet:
            ev_ = e.metrics
            self.progress.console.print(
                f"  step {ev_.step:7,}  epoch {ev_.examples_seen / self.rows:6.2f}  "
                f"valid {format_percent(ev_.error('valid'))}  test {format_percent(ev_.error('test'))}",
                soft_wrap=True,
            )
        elif isinstance(e, ev.EpochEnded):
            r = e.record
            self.progress.update(self.task, completed=0, epoch=int(r.epoch) + 1)
            if not self.quiet:
                loss = f"{r.train_loss:.4f}" if r.train_loss == r.train_loss else "   n/a"  # NaN: no step survived
                err = {k: format_percent(v, "  n/a") for k, v in r.errors.items()}
                self.progress.console.print(
                    f"epoch {format_epoch(r.epoch)}  loss {loss}  train {err['train']:>6}  valid {err['valid']:>6}  "
                    f"test {err['test']:>6}  lr {r.lr:.4g}  {r.seconds:5.1f}s",
                    soft_wrap=True,
                )


def _play(challenge: Challenge, run: Run) -> ChallengePlay:
    """``challenge`` played in ``run``, its progress kept in the user data folder."""
    from model.challenges import progress_file
    from model.challenges.play import ChallengePlay

    return ChallengePlay(challenge, progress_file(), warn).follow(run)


def _train(run: Run, quiet: bool, done: Callable[[], bool] | None = None) -> Trained:
    """Step until the run halts, ``done()`` says so (a challenge over) or a signal comes; (what it
    came to, the signal, a diverged step)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,  # off a terminal a bar is noise (and rich adds a blank line)
    )
    with progress, _signals_as_flags() as caught:
        shown = _Console(run, progress, quiet)
        run.listen(shown)
        run.train(stop=lambda: bool(caught) or (done is not None and done()))
    signum = caught[0] if caught else None
    outcome = run.close(SIGNAL_STATUS.get(signal.Signals(signum), "stopped") if signum is not None else None)
    return outcome, signum, shown.diverged


def _report(
    args: argparse.Namespace,
    run: Run,
    trained: tuple[RunOutcome, int | None, StepMetrics | None],
    save: Path | None,
    play: ChallengePlay | None = None,
) -> int:
    """Save, print the results (text or JSON), the challenge's verdict and the run's id; the exit
    status (a challenge's divergence is one way of not solving it: ``run`` then says which)."""
    outcome, signum, diverged = trained
    run_id = run.recorder.run_id
    saved_ok, saved = _save(run, save, outcome)
    if signum is not None:
        what = SIGNAL_STATUS.get(signal.Signals(signum), "stopped")
        warn(f"{what} at step {outcome.steps} (epoch {outcome.epochs:.2f}); {saved}; run {run_id}")
        return exitcodes.from_signal(signum)
    if args.json:
        out = outcome.to_dict() | {"run_id": run_id, "hparams": run.trainer.hp.to_dict()}
        if play is not None:
            out["challenge"] = play.tracker.record() | {"run": run_id}
        print(json.dumps(out))
    else:
        _print_results(outcome, run_id, saved if saved_ok and save is not None else "")
        if play is not None:
            from tui.view.challenge import result_lines

            print(*result_lines(play.challenge, play.tracker, run_id), sep="\n")
    if not saved_ok:
        warn(saved)  # the results are printed first: the run is not thrown away
        return exitcodes.USAGE
    if diverged is not None and outcome.diverged and (play is None or not play.tracker.verdict.is_solved):
        kept = f"the last good weights are in {save}" if save else "pass --save PATH to keep the last good weights"
        warn(
            f"training diverged at step {diverged.step} (loss {diverged.loss:.3g} at lr {diverged.lr:.3g}); "
            f"{kept}; lower --lr{f' and continue with --resume {save}' if save else ''}"
        )
        return exitcodes.DIVERGED if play is None else exitcodes.NOT_SOLVED
    return exitcodes.NOT_SOLVED if play is not None and not play.tracker.verdict.is_solved else exitcodes.OK


def _print_results(outcome: RunOutcome, run_id: str, saved: str) -> None:
    from model.runs import short_id
    from tui.format import format_epoch, format_target

    if saved:
        print(saved, file=sys.stderr)
    target, epochs = outcome.target, outcome.epochs
    if target is not None and target.reached:
        print(format_target(target, wall=True))
    elif target is not None:
        print(f"target {target.error:.2%} not reached in {format_epoch(epochs).strip()} epoch{'s' * (epochs != 1)}")
    best = "-" if outcome.best_epoch is None else format_epoch(outcome.best_epoch).strip()
    print(
        f"test error {outcome.test_error_at_best:.2%} (best valid {outcome.best_valid_error:.2%} at epoch {best}); "
        f"{outcome.seconds:.1f}s training, {outcome.examples_per_second:,.0f} examples/s"
    )
    print(f"run {run_id} (short: {short_id(run_id)}; mnist-tui runs show {short_id(run_id)})")


def _save(run: Run, save: Path | None, outcome: RunOutcome) -> tuple[bool, str]:
    """Write ``--save`` if given; (it worked, what happened as a short phrase)."""
    from model.checkpoint import CheckpointError, save_checkpoint

    if save is None:
        return True, "not saved (no --save)"
    try:
        return True, f"saved {save_checkpoint(save, run.snapshot(run_id=run.recorder.run_id, status=outcome.status))}"
    except CheckpointError as exc:
        return False, str(exc)


@contextlib.contextmanager
def _signals_as_flags() -> Iterator[list[int]]:
    """While active, the ``STOP_SIGNALS`` are only recorded (in the yielded list), not raised. A
    signal this process was started ignoring stays ignored: SIGHUP under ``nohup``, SIGINT for
    ``train &`` in a non-interactive shell (the person asked for the run to outlive them)."""
    caught: list[int] = []

    def record(signum: int, frame: object) -> None:
        caught.append(signum)

    previous: dict[signal.Signals, Any] = {}
    try:
        for s in STOP_SIGNALS:
            if signal.getsignal(s) is not signal.SIG_IGN:
                previous[s] = signal.signal(s, record)
    except ValueError:  # not the main thread: leave the handlers alone
        pass
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
