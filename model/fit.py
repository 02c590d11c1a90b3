"""Train for a number of epochs with per-epoch evaluation and best-validation selection.

The headless ``mnist-tui train`` and the experiments study both run through
``fit``. It keeps a copy of the weights at the best validation error and reports
the test error there. Progress goes to optional callbacks; nothing is printed.

With a target (``target_error``) it stops at the first evaluation whose validation error is
below it and reports what that took (``model.target.TargetReport``); ``eval_every`` adds
evaluations every that many steps between the epoch ends, so the stop (and the time to target)
is not rounded up to a whole epoch.

The train error of an epoch is the running one (as Keras reports it): the share of the
epoch's training rows that its steps' own forward passes classified wrong, while the
weights moved. It costs nothing, where a second pass over the 50,000 training images took
a third of an epoch's time at H=800; it reads a little higher than the error of the final
weights, and with dropout or a perturbing variant it is that of the network as trained.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from model.best import BestSoFar
from model.target import TargetReport, below_target
from model.trainer import EvalMetrics, StepMetrics, Trainer


@dataclass
class EpochRecord:
    """One line of the per-epoch log."""

    epoch: int
    train_loss: float  # mean minibatch loss over the epoch
    errors: dict[str, float]  # error rate per evaluated set; "train": running over the epoch
    seconds: float  # training time of the epoch (evaluation excluded)
    lr: float


@dataclass
class FitResult:
    """Summary of a run; ``to_dict`` is what ``train --json`` prints."""

    epochs: int
    steps: int
    seconds: float  # training time, evaluation excluded
    examples_per_second: float
    train_loss: float
    train_error: float
    valid_error: float
    test_error: float
    best_epoch: int
    best_valid_error: float
    test_error_at_best: float
    history: list[EpochRecord] = field(default_factory=list)
    diverged: bool = False
    target: TargetReport | None = None  # None: no target was set

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit(
    trainer: Trainer,
    epochs: int,
    on_epoch: Callable[[EpochRecord], Any] | None = None,
    on_step: Callable[[StepMetrics], Any] | None = None,
    keep_best: bool = True,
    *,
    target_error: float = 0.0,
    eval_every: int = 0,
    on_eval: Callable[[EvalMetrics], Any] | None = None,
    on_target: Callable[[TargetReport], Any] | None = None,
    eval_after: Callable[[StepMetrics], bool] | None = None,
    stop_at: Callable[[EvalMetrics], bool] | None = None,
) -> FitResult:
    """Train until the trainer has completed ``epochs`` epochs in all, evaluating train/valid/test
    after each. A resumed trainer (``trainer.state.examples_seen > 0``) first finishes its current
    epoch; ValueError if it has already done ``epochs``. Stops early, after evaluating, when a step
    reports ``diverged`` (the trainer has then restored its last good weights).

    ``eval_every``: also evaluate the eval sets after every that many steps (0: only at epoch
    ends); ``on_eval`` gets each of those evaluations (the epoch ends, and an evaluation that
    stops the run between them, go to ``on_epoch``).
    ``eval_after(m)``: also evaluate after a step for which it is true; ``stop_at(ev)``: stop after
    an evaluation for which it is true (a challenge's goal met or its budget spent; the trainer
    holds the weights ``ev`` measured, and a mid-epoch stop ends the epoch there as a target does).
    ``target_error`` (> 0): stop at the first evaluation whose validation error is below it
    (``on_target`` hears of it after that evaluation's ``on_eval`` / ``on_epoch``); the last
    ``EpochRecord`` then covers the epoch up to there. With ``keep_best`` the trainer's model
    ends holding the weights of the epoch with the lowest validation error (the usual early-stopping
    choice).
    """
    n_train = len(trainer.train[0])
    seen0 = trainer.state.examples_seen
    done = seen0 // n_train  # whole epochs already trained (a resumed run)
    if done >= epochs:
        raise ValueError(f"the run has already trained {done} of {epochs} epochs")
    history: list[EpochRecord] = []
    train_seconds = 0.0
    wall0 = time.perf_counter()
    best = BestSoFar(keep_params=keep_best)
    best_epoch = 0
    last_eval: EvalMetrics | None = None
    diverged = False
    report = TargetReport(target_error) if target_error > 0 else None
    stopped: EvalMetrics | None = None  # the evaluation stop_at ended the run at
    for epoch in range(done + 1, epochs + 1):
        losses: list[float] = []
        correct = rows = 0
        t0 = time.perf_counter()
        eval_seconds = 0.0  # of the evaluations between this epoch's steps
        stop_eval: EvalMetrics | None = None  # a mid-epoch evaluation below the target
        end = epoch * n_train  # examples_seen is a multiple of n_train at every epoch's end
        while trainer.state.examples_seen < end:
            m = trainer.step()
            if on_step is not None:
                on_step(m)
            if m.diverged:
                diverged = True
                break
            losses.append(m.loss)
            correct += m.correct
            rows += m.batch_size
            due = (eval_every and m.step % eval_every == 0) or (eval_after is not None and eval_after(m))
            if due and trainer.state.examples_seen < end:
                ev = trainer.evaluate(tuple(trainer.eval_sets))
                eval_seconds += ev.seconds
                if report is not None and below_target(target_error, ev):
                    seconds = train_seconds + time.perf_counter() - t0 - eval_seconds
                    report = TargetReport.hit(target_error, ev, trainer.epoch_float, seconds, _since(wall0))
                    stop_eval = ev  # it ends the epoch early: it goes to on_epoch, not on_eval
                    break
                if stop_at is not None and stop_at(ev):
                    stop_eval = stopped = ev
                    break
                if on_eval is not None:
                    on_eval(ev)
        train_seconds += time.perf_counter() - t0 - eval_seconds
        last_eval = stop_eval or trainer.evaluate(tuple(trainer.eval_sets))
        train_loss = float(np.mean(losses)) if losses else float("nan")
        running = (train_loss, 1.0 - correct / rows if rows else float("nan"))
        last_eval = replace(last_eval, results={"train": running, **last_eval.results})
        errors = {name: err for name, (_, err) in last_eval.results.items()}
        epoch_seconds = time.perf_counter() - t0 - eval_seconds - (0.0 if stop_eval else last_eval.seconds)
        record = EpochRecord(epoch, train_loss, errors, epoch_seconds, trainer.lr)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if best.update(last_eval, trainer.model.params):
            best_epoch = epoch
        if report is not None and stop_eval is None and not report.reached and below_target(target_error, last_eval):
            report = TargetReport.hit(target_error, last_eval, trainer.epoch_float, train_seconds, _since(wall0))
        if report is not None and report.reached:
            if on_target is not None:
                on_target(report)
            break
        if stop_at is not None and stop_eval is None and stop_at(last_eval):
            break
        if diverged or stopped is not None:
            break
    assert best.valid_error is not None and last_eval is not None
    if keep_best and best_epoch != history[-1].epoch:
        trainer.model.set_params(best.params)
    final = history[-1]
    steps = trainer.state.step
    return FitResult(
        epochs=len(history),
        steps=steps,
        seconds=train_seconds,
        examples_per_second=(trainer.state.examples_seen - seen0) / max(train_seconds, 1e-9),
        train_loss=final.train_loss,
        train_error=final.errors["train"],
        valid_error=final.errors.get("valid", float("nan")),
        test_error=final.errors.get("test", float("nan")),
        best_epoch=best_epoch,
        best_valid_error=best.valid_error,
        test_error_at_best=float("nan") if best.test_error is None else best.test_error,
        history=history,
        diverged=diverged,
        target=report,
    )


def _since(t0: float) -> float:
    return time.perf_counter() - t0
