"""``mnist-tui train``: train headless with a progress bar and one line per epoch (or one JSON object).

``--save`` is checked before training starts and written at the end, also after a divergence or
a signal (SIGINT, SIGTERM, SIGHUP stop between two steps). ``--resume`` continues a checkpoint
with the flags given applied over its settings; ``--from ID --at STEP`` resumes a recorded run's
state at a step. The exit statuses are ``tui.exitcodes``'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui import exitcodes
from tui.cli.common import (
    add_rewind_flags,
    add_runs_flag,
    add_tensorboard_flag,
    add_training_flags,
    check_rewind_flags,
    check_tensorboard,
    given_flags,
    hparams_from_args,
    load_data,
    positive,
    rewind_to_checkpoint,
    typed_path,
)

if TYPE_CHECKING:
    from model.config import HyperParams
    from model.fit import EpochRecord
    from model.target import TargetReport
    from model.trainer import EvalMetrics, StepMetrics, Trainer
    from tui.cli.common import Subcommands

#: Signals that stop a run between two steps (saved first with --save); SIGHUP is a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


NAME = "train"


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
    return p


def run(args: argparse.Namespace) -> int:
    check_tensorboard(args.tensorboard)
    check_rewind_flags(args)  # before the data loads
    data = load_data(args.data, quiet=args.json)
    rewind_to_checkpoint(args, data)
    return train_headless(args, hparams_from_args(args), data)


def train_headless(args: argparse.Namespace, hp: HyperParams, data: Any) -> int:
    """Train until ``hp.epochs`` epochs in all, print progress, optionally save; returns the exit status.

    Exit 0 when done, 2 for a bad ``--save``/``--resume``, 3 when training diverged (the last good
    weights are saved with ``--save``), 128 + n after SIGINT/SIGTERM/SIGHUP (saved first with ``--save``).
    A save that still fails at the end prints the results first, then one line, exit 2.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from model.checkpoint import CheckpointError
    from model.fit import fit
    from model.runs import start_recorder
    from model.trainer import make_trainer

    save = getattr(args, "save", None)
    if save is not None and not save.strip():
        return _fail("--save needs a file name (got an empty one)")
    problem = _save_target_problem(save, getattr(args, "data", None)) if save else None
    if problem:
        return _fail(problem)
    if getattr(args, "resume", None):
        try:
            trainer = _resumed_trainer(args, data)
        except CheckpointError as exc:
            return _fail(str(exc))
        hp = trainer.hp
        done = trainer.state.examples_seen // len(data.train_y)
        if done >= hp.epochs:
            return _fail(
                f"{args.resume} has already trained {done} epochs; --epochs is the total, pass more than {done}"
            )
    else:
        trainer = make_trainer(hp, data)
    recorder = start_recorder(
        trainer,
        data,
        "train",
        getattr(args, "runs", None),
        getattr(args, "resume", None),
        warn=lambda text: print(f"mnist-tui: {text}", file=sys.stderr),
        tensorboard=getattr(args, "tensorboard", None),
    )
    console = Console(stderr=True)
    quiet = args.json
    steps_per_epoch = -(-len(data.train_y) // hp.batch_size)
    first_epoch = trainer.state.examples_seen // len(data.train_y) + 1
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
    last_diverged: list[StepMetrics] = []
    with progress, _signals_as_flags() as caught:
        task = progress.add_task("train", total=steps_per_epoch, epoch=first_epoch, loss=float("nan"))

        def on_step(m: StepMetrics) -> None:
            if caught:
                raise _Stopped  # between steps: the trainer is consistent and can be saved
            recorder.step(m)
            if m.diverged:
                last_diverged.append(m)
                recorder.event("diverged", m.step, m.examples_seen, loss=m.loss, lr=m.lr, restored=True)
            if m.step % 20 == 0:
                progress.update(task, completed=m.step % steps_per_epoch or steps_per_epoch, loss=m.loss)

        def on_eval(ev: EvalMetrics) -> None:  # --eval-every, between epoch ends
            recorder.evaluation(ev, trainer)
            if not quiet:
                e = {name: err for name, (_, err) in ev.results.items()}
                progress.console.print(
                    f"  step {ev.step:7,}  epoch {trainer.epoch_float:6.2f}  "
                    f"valid {e['valid']:6.2%}  test {e['test']:6.2%}"
                )

        def on_target(t: TargetReport) -> None:
            assert t.step is not None and t.examples is not None
            seconds = round(t.seconds or 0.0, 3)
            recorder.event("target", t.step, t.examples, target=t.error, valid_error=t.valid_error, seconds=seconds)

        def on_epoch(r: EpochRecord) -> None:
            epoch_end = trainer.state.position >= len(trainer.order)  # (a target can stop mid-epoch)
            recorder.errors(trainer, r.errors, {"train": r.train_loss}, epoch_end)
            progress.update(task, completed=0, epoch=r.epoch + 1)
            if not quiet:
                e = r.errors
                loss = f"{r.train_loss:.4f}" if math.isfinite(r.train_loss) else "   n/a"  # no step survived
                progress.console.print(
                    f"epoch {r.epoch:3d}  loss {loss}  train {e['train']:6.2%}  "
                    f"valid {e['valid']:6.2%}  test {e['test']:6.2%}  lr {r.lr:.4g}  {r.seconds:5.1f}s"
                )

        try:
            # keep_best=False: the trainer ends holding its live (resumable) state, which --save writes.
            result = fit(
                trainer,
                hp.epochs,
                on_epoch=on_epoch,
                on_step=on_step,
                keep_best=False,
                target_error=hp.target_error,
                eval_every=getattr(args, "eval_every", None) or 0,
                on_eval=on_eval,
                on_target=on_target,
            )
        except _Stopped:
            signum = caught[0]
            what = {signal.SIGINT: "interrupted", signal.SIGHUP: "hung up"}.get(signal.Signals(signum), "terminated")
            recorder.finish(trainer, what)
            _, saved = _save(save, trainer, {"stopped": what})
            print(
                f"mnist-tui: {what} at step {trainer.state.step} (epoch {trainer.epoch_float:.2f}); {saved}",
                file=sys.stderr,
            )
            return exitcodes.from_signal(signum)
    target = result.target
    status = "diverged" if result.diverged else "target" if target is not None and target.reached else "finished"
    recorder.finish(trainer, status)
    save_failed = ""
    if save:
        ok, saved = _save(save, trainer, {"result": result.to_dict() | {"history": []}})
        if not ok:
            save_failed = saved  # still print the results below: the run is not thrown away
        elif not quiet:
            console.print(saved)
    if quiet:
        out = result.to_dict()
        out["history"] = [vars(h) for h in result.history]
        out["hparams"] = hp.to_dict()
        print(json.dumps(out))
    else:
        if target is not None:
            print(_target_line(target, result.epochs))
        print(
            f"test error {result.test_error_at_best:.2%} (best valid {result.best_valid_error:.2%} at epoch "
            f"{result.best_epoch}); {result.seconds:.1f}s training, {result.examples_per_second:,.0f} examples/s"
        )
    if save_failed:
        return _fail(save_failed)
    if result.diverged:
        m = last_diverged[-1]
        kept = f"the last good weights are in {save}" if save else "pass --save PATH to keep the last good weights"
        print(
            f"mnist-tui: training diverged at step {m.step} (loss {m.loss:.3g} at lr {m.lr:.3g}); "
            f"{kept}; lower --lr{f' and continue with --resume {save}' if save else ''}",
            file=sys.stderr,
        )
        return exitcodes.DIVERGED
    return exitcodes.OK


def _target_line(target: TargetReport, epochs: int) -> str:
    """'target reached: valid 1.95% < 2.00% after 41.2 s training (52.0 s wall), 1.2M examples (step 9,375,
    epoch 3.00)', or that it was not reached in so many epochs."""
    from model.target import fmt_examples

    if not target.reached:
        return f"target {target.error:.2%} not reached in {epochs} epoch{'s' * (epochs != 1)}"
    return (
        f"target reached: valid {target.valid_error or 0.0:.2%} < {target.error:.2%} after "
        f"{target.seconds or 0.0:.1f} s training ({target.wall or 0.0:.1f} s wall), "
        f"{fmt_examples(target.examples or 0)} examples (step {target.step or 0:,}, epoch {target.epoch or 0.0:.2f})"
    )


class _Stopped(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived; raised from the step callback, between two steps."""


@contextlib.contextmanager
def _signals_as_flags() -> Iterator[list[int]]:
    """While active, the ``STOP_SIGNALS`` are only recorded (in the yielded list), not raised. A
    signal this process was started ignoring stays ignored: SIGHUP under ``nohup``, SIGINT for
    ``train &`` in a non-interactive shell (the person asked for the run to outlive them)."""
    caught: list[int] = []

    def record(signum: int, frame: object) -> None:
        caught.append(signum)

    previous: dict[int, Any] = {}
    try:
        for s in STOP_SIGNALS:
            if signal.getsignal(s) is not signal.SIG_IGN:
                previous[s] = signal.signal(s, record)
    except ValueError:  # not the main thread: leave the handlers alone
        pass
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _resumed_trainer(args: argparse.Namespace, data: Any) -> Trainer:
    """A trainer continuing ``args.resume``; flags given on the command line override its settings."""
    from model.checkpoint import load_checkpoint
    from model.trainer import make_trainer
    from tui.session.checkpoints import resumed_hparams

    ckpt = load_checkpoint(args.resume)
    hp = resumed_hparams(ckpt.hp, given_flags(args), getattr(args, "preset", None))
    trainer = make_trainer(ckpt.hp, data)
    ckpt.apply_to(trainer)
    trainer.set_hparams(hp)
    return trainer


def _save_target_problem(save: str, data_path: str | None) -> str | None:
    """Why ``--save`` cannot work, checked before training starts (None if it looks fine)."""
    from model.checkpoint import checkpoint_path

    path = checkpoint_path(save)
    if Path(save).is_dir() or path.is_dir():
        return f"--save {save}: is a directory; give a file name such as {Path(save) / 'run.npz'}"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"--save {save}: {parent} is not a directory"
    if data_path and path.exists() and Path(data_path).exists() and path.samefile(data_path):
        return f"--save {save}: is the --data file; refusing to overwrite it"
    if path.exists() and not path.is_file():
        return f"--save {save}: is not a regular file"
    # Missing folders are made at save time; the nearest existing one must take a new file now.
    try:
        fd, probe = tempfile.mkstemp(prefix=".mnist-tui-probe.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"--save {save}: cannot write in {parent} ({exc.strerror or exc})"
    return None


def _save(save: str | None, trainer: Trainer, meta: dict[str, Any]) -> tuple[bool, str]:
    """Write the checkpoint if ``save`` is set; (written, what happened as a short phrase)."""
    from model.checkpoint import CheckpointError, save_checkpoint

    if not save:
        return False, "not saved (no --save)"
    try:
        return True, f"saved {save_checkpoint(save, trainer, meta=meta)}"
    except CheckpointError as exc:
        return False, str(exc)


def _fail(message: str) -> int:
    print(f"mnist-tui: {message}", file=sys.stderr)
    return exitcodes.USAGE
