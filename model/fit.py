"""Train for a number of epochs with per-epoch evaluation and best-validation selection.

The headless ``mnist-tui train`` and the experiments study both run through
``fit``. It keeps a copy of the weights at the best validation error and reports
the test error there. Progress goes to optional callbacks; nothing is printed.

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit(
    trainer: Trainer,
    epochs: int,
    on_epoch: Callable[[EpochRecord], Any] | None = None,
    on_step: Callable[[StepMetrics], Any] | None = None,
    keep_best: bool = True,
) -> FitResult:
    """Train until the trainer has completed ``epochs`` epochs in all, evaluating train/valid/test
    after each. A resumed trainer (``trainer.state.examples_seen > 0``) first finishes its current
    epoch; ValueError if it has already done ``epochs``. Stops early, after evaluating, when a step
    reports ``diverged`` (the trainer has then restored its last good weights).

    With ``keep_best`` the trainer's model ends holding the weights of the epoch with
    the lowest validation error (the usual early-stopping choice).
    """
    n_train = len(trainer.train[0])
    seen0 = trainer.state.examples_seen
    done = seen0 // n_train  # whole epochs already trained (a resumed run)
    if done >= epochs:
        raise ValueError(f"the run has already trained {done} of {epochs} epochs")
    history: list[EpochRecord] = []
    train_seconds = 0.0
    best = BestSoFar(keep_params=keep_best)
    best_epoch = 0
    last_eval: EvalMetrics | None = None
    diverged = False
    for epoch in range(done + 1, epochs + 1):
        losses: list[float] = []
        correct = rows = 0
        t0 = time.perf_counter()
        target = epoch * n_train  # examples_seen is a multiple of n_train at every epoch's end
        while trainer.state.examples_seen < target:
            m = trainer.step()
            if on_step is not None:
                on_step(m)
            if m.diverged:
                diverged = True
                break
            losses.append(m.loss)
            correct += m.correct
            rows += m.batch_size
        train_seconds += time.perf_counter() - t0
        last_eval = trainer.evaluate(tuple(trainer.eval_sets))
        train_loss = float(np.mean(losses)) if losses else float("nan")
        running = (train_loss, 1.0 - correct / rows if rows else float("nan"))
        last_eval = replace(last_eval, results={"train": running, **last_eval.results})
        errors = {name: err for name, (_, err) in last_eval.results.items()}
        record = EpochRecord(
            epoch,
            train_loss,
            errors,
            time.perf_counter() - t0 - last_eval.seconds,
            trainer.lr,
        )
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if best.update(last_eval, trainer.model.params):
            best_epoch = epoch
        if diverged:
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
    )
