"""One run of the study: train a (config, seed) with ``model.fit.fit`` and summarise it.

The same code runs in this process (``jobs == 1``) and in worker processes (``pool.py``):
the data and the place progress events go are passed in, nothing is kept between runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.config import HyperParams
from model.fit import EpochRecord, fit
from model.study.plan import RunConfig
from model.study.records import LAYERS, Event, RunResult, nanmean
from model.trainer import StepMetrics, Trainer


@dataclass(frozen=True)
class Task:
    """One (config, seed) to train; ``index`` orders the results."""

    index: int
    config: RunConfig
    seed: int
    epochs: int
    base: HyperParams
    angle_every: int


def load_data(data: Any) -> Any:
    """``data`` itself, or MNIST loaded from ``data`` (a path, or None for the cached copy)."""
    if data is None or isinstance(data, str | os.PathLike):
        from model.data import load_mnist

        return load_mnist(data)
    return data


def run_task(task: Task, data: Any, emit: Callable[[Event], Any] | None = None) -> RunResult:
    """Train ``task`` on ``data`` (train_x/train_y/valid_x/valid_y/test_x/test_y arrays).

    ``emit`` receives "start", one "epoch" per epoch and a final "ended" event.
    """
    cfg = task.config
    hp = cfg.hparams(task.base, task.seed)
    trainer = Trainer(
        (data.train_x, data.train_y),
        hp,
        eval_sets={"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)},
        angle_every=task.angle_every,
    )
    probes: list[list[dict[str, float]]] = [[]]

    def on_step(m: StepMetrics) -> None:
        if m.angles is not None:
            probes[-1].append(m.angles)

    def on_epoch(r: EpochRecord) -> None:
        probes.append([])
        if emit is not None:
            emit(
                Event("epoch", task.index, cfg.label, task.seed, r.epoch, task.epochs, r.errors.get("valid", math.nan))
            )

    if emit is not None:
        emit(Event("start", task.index, cfg.label, task.seed, 0, task.epochs))
    result = fit(trainer, task.epochs, on_epoch=on_epoch, on_step=on_step)
    if emit is not None:
        emit(Event("ended", task.index, cfg.label, task.seed, task.epochs, task.epochs))
    epochs_probes = [p for p in probes if p] or [[]]
    all_probes = [a for p in epochs_probes for a in p]
    return RunResult(
        label=cfg.label,
        variant=cfg.variant,
        question=cfg.question,
        seed=task.seed,
        test_error=result.test_error_at_best,
        final_test_error=result.test_error,
        best_epoch=result.best_epoch,
        train_loss=result.train_loss,
        valid_curve=[h.errors.get("valid", math.nan) for h in result.history],
        test_curve=[h.errors.get("test", math.nan) for h in result.history],
        angles={k: nanmean([a[k] for a in all_probes]) for k in LAYERS},
        angles_by_epoch={k: [nanmean([a[k] for a in p]) for p in epochs_probes] for k in LAYERS},
        seconds=result.seconds,
        steps=result.steps,
        diverged=result.diverged,
    )
