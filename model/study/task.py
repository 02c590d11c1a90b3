"""One run of the study: train a (cell, seed) through the run core, with diagnostics on the way.

The same code runs in this process, in a pool worker and on a Dask worker: the data and the
place progress events go are passed in. Every ``diag_every`` steps it records the alignment
angles, the angle between W2 and a random feedback matrix, the stale gap, the fraction of dead
units, the drift of W1 from its initial value and the error on 2,000 validation images; after
every epoch the validation, test and as-trained test errors and the mean training loss (so a
longer run can stand for a shorter one: ``RunResult.view``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.config import NON_TRAINING_FIELDS, HyperParams
from model.run import Policy, Recording, open_run
from model.run import events as ev
from model.run.figures import EpochRecord, RunOutcome
from model.study.plan import RunConfig
from model.study.records import DIAGNOSTICS, Event, RunResult
from model.trainer import StepMetrics, Trainer
from model.variants import angle_degrees

#: Bump when a run's numbers would change for the same cell and seed (the store keys on it).
RUN_FORMAT = 3
#: Fields every cell sets, kept in a run id whatever their value.
STUDY_FIELDS = frozenset(
    {"variant", "seed", "lr", "momentum", "activation", "hidden", "batch_size", "epochs", "schedule"}
)
PROBE_IMAGES = 2000  # validation images the diagnostics are measured on
DEAD_BELOW = 1e-3  # act'(z) under this on every probe image: a dead (or saturated) unit


@dataclass(frozen=True)
class Task:
    """One (cell, seed) to train; ``index`` orders the results."""

    index: int
    config: RunConfig
    seed: int
    epochs: int
    base: HyperParams
    diag_every: int = 100
    train_size: int | None = None
    data_key: str = "mnist"  # the store's key for the data (``model.study.run.data_key``)
    record_dir: str | None = None  # write a run record per run under this folder (not part of run_id)

    @property
    def hparams(self) -> HyperParams:
        return self.config.hparams(self.base, self.seed).validated(epochs=self.epochs)

    @property
    def run_id(self) -> str:
        """A stable name for this run's result (the store's file name): a hash of everything that
        decides its numbers."""
        # Fields at their default value are left out, so a hyperparameter added later (at a default
        # that keeps today's training) does not rename every stored run; bump RUN_FORMAT when a
        # default that shapes training changes.
        defaults = HyperParams().to_dict()
        hp = {k: v for k, v in self.hparams.to_dict().items() if k in STUDY_FIELDS or v != defaults[k]}
        for name in NON_TRAINING_FIELDS:  # the study trains its epochs whatever these say: ids stay as they were
            hp.pop(name, None)
        spec = {
            "format": RUN_FORMAT,
            "config": [self.config.key, [list(o) for o in self.config.options]],
            "seed": self.seed,
            "epochs": self.epochs,
            "hp": hp,
            "diag_every": self.diag_every,
            "train_size": self.train_size,
            "data": self.data_key,
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def load_data(data: Any) -> Any:
    """``data`` itself, or MNIST loaded from ``data`` (a path, or None for the hash-checked cache)."""
    if data is None or isinstance(data, str | os.PathLike):
        from model.data import load_mnist

        return load_mnist(data)
    return data


class _Diagnostics:
    """Collects ``DIAGNOSTICS`` every ``every`` steps of ``trainer`` (a listener of its run's steps)."""

    def __init__(self, trainer: Trainer, probe: tuple[np.ndarray, np.ndarray], every: int) -> None:
        self.trainer, self.every = trainer, every
        self.X, self.y = probe
        self.W1_0 = trainer.model.W1.copy()
        self.W1_0_norm = float(np.linalg.norm(self.W1_0))
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {name: [] for name in DIAGNOSTICS}

    def __call__(self, m: StepMetrics) -> None:
        if (m.step - 1) % self.every or m.diverged:  # the trainer probes angles on these steps
            return
        t, model, rule = self.trainer, self.trainer.model, self.trainer.variant
        angles = m.angles or {}
        row = {"angle_W1": angles.get("W1", math.nan), "angle_W2": angles.get("W2", math.nan)}
        feedback = getattr(rule, "feedback", None)
        row["feedback_angle"] = angle_degrees(model.W2, feedback) if feedback is not None else math.nan
        ring = getattr(rule, "ring", None)
        if ring is not None:
            stale = ring[(getattr(rule, "t", 0) + 1) % len(ring)]  # what the next backward pass uses
            row["stale_gap"] = float(np.linalg.norm(model.W2 - stale)) / max(float(np.linalg.norm(model.W2)), 1e-12)
        else:
            row["stale_gap"] = math.nan
        z1 = self.X @ model.W1.T
        z1 += model.b1
        h = model.act.forward(z1)
        active = model.act.grad_from_output(h) >= DEAD_BELOW  # (n, H)
        row["dead_fraction"] = float(1.0 - active.any(axis=0).mean())
        row["w1_drift"] = float(np.linalg.norm(model.W1 - self.W1_0) / max(self.W1_0_norm, 1e-12))
        logits = h @ model.W2.T
        logits += model.b2
        row["valid_error"] = float(np.mean(logits.argmax(axis=1) != self.y))
        self.steps.append(t.state.step)
        for name in DIAGNOSTICS:
            self.values[name].append(row[name])


def _recording(task: Task) -> Recording | None:
    """Where ``task``'s run record goes when the study was given a runs folder (warnings on stderr)."""
    if not task.record_dir:
        return None
    from pathlib import Path

    def warn(text: str) -> None:
        print(f"mnist-tui: run {task.config.key} seed {task.seed}: {text}", file=sys.stderr)

    study = {"key": task.config.key, "label": task.config.label, "seed": task.seed, "task": task.run_id}
    return Recording(Path(task.record_dir), "experiments", extra={"study": study}, warn=warn)


class _EpochEnds:
    """At each epoch's end: the step count and the as-trained test error (the variant's own
    forward pass, e.g. with its noise, from draws of its own so training's stay as they were);
    "epoch" events to ``emit``."""

    def __init__(self, task: Task, trainer: Trainer, data: Any, emit: Callable[[Event], Any] | None) -> None:
        self.task, self.trainer, self.data, self.emit = task, trainer, data, emit
        self.steps: list[int] = []
        self.as_trained: list[float] = []

    def __call__(self, record: EpochRecord) -> None:
        task, trainer, data = self.task, self.trainer, self.data
        epoch = math.ceil(record.epoch)  # a divergence ends the run inside its epoch
        self.steps.append(trainer.state.step)
        rng = np.random.default_rng([task.seed, epoch])
        logits = trainer.variant.forward_as_trained(trainer.model, data.test_x, rng)
        self.as_trained.append(math.nan if logits is None else float(np.mean(logits.argmax(axis=1) != data.test_y)))
        if self.emit is not None:
            valid = record.errors.get("valid", math.nan)
            self.emit(Event("epoch", task.config.key, task.seed, epoch, task.epochs, valid))


def run_task(task: Task, data: Any, emit: Callable[[Event], Any] | None = None) -> RunResult:
    """Train ``task`` on ``data`` (train_x/train_y/valid_x/valid_y/test_x/test_y arrays) for its
    epochs, evaluating at each epoch's end, ending on the best validation epoch's weights (the
    run core with ``keep_best``); a divergence ends the run there.

    ``emit`` receives "start" and one "epoch" event per epoch.
    """
    run = open_run(
        data,
        task.hparams,
        policy=Policy(keep_best=True),
        recording=_recording(task),
        train_size=task.train_size,
        angle_every=task.diag_every,
    )
    diag = _Diagnostics(run.trainer, (data.valid_x[:PROBE_IMAGES], data.valid_y[:PROBE_IMAGES]), task.diag_every)
    ends = _EpochEnds(task, run.trainer, data, emit)

    def listen(e: ev.RunEvent) -> None:
        if isinstance(e, ev.Stepped):
            diag(e.metrics)
        elif isinstance(e, ev.EpochEnded):
            ends(e.record)

    run.listen(listen)
    if emit is not None:
        emit(Event("start", task.config.key, task.seed, 0, task.epochs))
    run.train()
    return _result(task, run.close(), diag, ends)  # the model holds the best validation epoch's weights


def _result(task: Task, result: RunOutcome, diag: _Diagnostics, ends: _EpochEnds) -> RunResult:
    cfg, history = task.config, result.history
    best_epoch = math.ceil(result.best_epoch or 0)
    return RunResult(
        key=cfg.key,
        label=cfg.label,
        variant=cfg.variant,
        question=cfg.question,
        seed=task.seed,
        lr=cfg.lr,
        momentum=cfg.momentum,
        activation=cfg.activation,
        valid_error=result.best_valid_error,
        test_error=result.test_error_at_best,
        test_error_as_trained=ends.as_trained[best_epoch - 1] if best_epoch else math.nan,
        final_test_error=result.test_error,
        best_epoch=best_epoch,
        train_loss=result.train_loss,
        valid_curve=[r.errors.get("valid", math.nan) for r in history],
        test_curve=[r.errors.get("test", math.nan) for r in history],
        seconds=result.seconds,
        steps=result.steps,
        diverged=result.diverged,
        diag_steps=diag.steps,
        diagnostics=diag.values,
        epochs=task.epochs,
        as_trained_curve=ends.as_trained,
        train_loss_curve=[r.train_loss for r in history],
        epoch_steps=ends.steps,
        hidden=task.hparams.hidden,
    )
