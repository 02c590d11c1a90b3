"""Text output of the headless subcommands: ``train`` and ``gradcheck``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams
from model.fit import EpochRecord, fit
from model.gradcheck import CheckReport
from model.trainer import StepMetrics, Trainer

EXIT_DIVERGED = 3


def make_trainer(hp: HyperParams, data: Any) -> Trainer:
    """A trainer on the 50k training set with the validation and test sets to evaluate."""
    return Trainer(
        (data.train_x, data.train_y),
        hp,
        eval_sets={"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)},
    )


def train_headless(args: argparse.Namespace, hp: HyperParams, data: Any) -> int:
    """Train for ``hp.epochs`` epochs, print progress, optionally save; returns the exit status."""
    trainer = make_trainer(hp, data)
    if getattr(args, "resume", None):
        try:
            load_checkpoint(args.resume).apply_to(trainer)
        except CheckpointError as exc:
            print(f"mnist-tui: {exc}", file=sys.stderr)
            return 2
    console = Console(stderr=True)
    quiet = args.json
    steps_per_epoch = -(-len(data.train_y) // hp.batch_size)
    progress = Progress(
        TextColumn("epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet,
    )
    with progress:
        task = progress.add_task("train", total=steps_per_epoch, epoch=1, loss=float("nan"))

        def on_step(m: StepMetrics) -> None:
            if m.step % 20 == 0:
                progress.update(task, completed=m.step % steps_per_epoch or steps_per_epoch, loss=m.loss)

        def on_epoch(r: EpochRecord) -> None:
            progress.update(task, completed=0, epoch=r.epoch + 1)
            if not quiet:
                e = r.errors
                progress.console.print(
                    f"epoch {r.epoch:3d}  loss {r.train_loss:.4f}  train {e['train']:6.2%}  "
                    f"valid {e['valid']:6.2%}  test {e['test']:6.2%}  lr {r.lr:.4g}  {r.seconds:5.1f}s"
                )

        result = fit(trainer, hp.epochs, on_epoch=on_epoch, on_step=on_step)
    if args.save:
        try:
            path = save_checkpoint(args.save, trainer, meta={"result": result.to_dict() | {"history": []}})
        except CheckpointError as exc:
            print(f"mnist-tui: {exc}", file=sys.stderr)
            return 2
        if not quiet:
            console.print(f"saved {path}")
    if quiet:
        out = result.to_dict()
        out["history"] = [vars(h) for h in result.history]
        out["hparams"] = hp.to_dict()
        print(json.dumps(out))
    else:
        print(
            f"test error {result.test_error_at_best:.2%} (best valid {result.best_valid_error:.2%} at epoch "
            f"{result.best_epoch}); {result.seconds:.1f}s training, {result.examples_per_second:,.0f} examples/s"
        )
    if result.diverged:
        print("mnist-tui: training diverged (non-finite loss); lower --lr", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def print_gradcheck(reports: list[CheckReport]) -> None:
    """One line per check: verdict, max relative error per parameter, time."""
    for r in reports:
        per = "  ".join(f"{p.name} {p.max_rel_error:.1e}" for p in r.params)
        verdict = "PASS" if r.passed else "FAIL"
        print(f"{verdict}  {r.label:28s} {per}  (< {r.threshold:.0e}, {r.seconds * 1000:.0f} ms)")
    n_pass = sum(r.passed for r in reports)
    print(f"{n_pass}/{len(reports)} checks passed")
