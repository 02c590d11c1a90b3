"""The speedrun rows: ``--preset speedrun`` against the clock, and against the same recipe in PyTorch.

Each seed (0, 1, 2) trains the preset as ``mnist-tui train`` does (the steps are
timed, the validation and test passes at each epoch's end are not; ``model.run.Run``) on one BLAS thread, then,
if PyTorch is installed, the same recipe in PyTorch on one thread (``TorchRun``), alternately.
A result is the test error at the epoch of lowest validation error, the training seconds up to
the end of the schedule, and the examples trained until that epoch (the load-free half of the
figure). The float32 GEMM rate is measured before each seed, at one thread, and the seconds
are also given scaled to 100 GFLOP/s, the rate the target is set for. Leaves out the table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from model.config import HyperParams
from model.data import MNIST
from model.presets import get_preset
from model.run import Run
from model.trainer import make_trainer
from tui.bench.measure import gemm_rate
from tui.bench.table import SKIP, Row, at_most
from tui.bench.torch_mlp import TorchRun, torch_run, torch_version

SEEDS = (0, 1, 2)
REFERENCE_RATE = 100e9  # FLOP/s: the one-thread GEMM rate the 2 s target is set for
TARGET_ERROR, TARGET_SECONDS = 0.02, 2.0


@dataclass
class Results:
    """One implementation's runs of the recipe, one entry per seed."""

    errors: list[float] = field(default_factory=list)  # test error at the best-validation epoch
    seconds: list[float] = field(default_factory=list)  # training time of the whole schedule
    examples: list[int] = field(default_factory=list)  # examples trained until the best-validation epoch

    def add(self, error: float, seconds: float, examples: int) -> None:
        self.errors.append(error)
        self.seconds.append(seconds)
        self.examples.append(examples)

    @property
    def error(self) -> float:
        return float(np.mean(self.errors))

    @property
    def time(self) -> float:
        return float(np.mean(self.seconds))

    def describe(self) -> str:
        each = ", ".join(f"{e:.2%}" for e in self.errors)
        return f"{self.error:.2%} ({each}), after {np.mean(self.examples):,.0f} examples"


def numpy_run(data: MNIST, hp: HyperParams) -> tuple[float, float, int]:
    """(test error at the best-validation epoch, training seconds, examples until that epoch)."""
    run = Run(make_trainer(hp, data))
    run.train()
    result = run.close()
    best_epoch = result.best_epoch or 0.0
    return result.test_error_at_best, result.seconds, round(best_epoch * len(data.train_y))


def torch_recipe_run(run: TorchRun, data: MNIST, epochs: int) -> tuple[float, float, int]:
    """``numpy_run`` for PyTorch: ``epochs`` epochs, each timed, then scored on valid and test."""
    seconds, best = 0.0, (math.inf, math.nan, 0)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        while run.examples_seen < epoch * run.n:
            run.step()
        seconds += time.perf_counter() - t0
        valid = run.error(data.valid_x, data.valid_y)
        if valid < best[0]:
            best = (valid, run.error(data.test_x, data.test_y), run.examples_seen)
    return best[1], seconds, best[2]


def speedrun_rows(data: MNIST, quick: bool, log: object = None) -> list[Row]:
    """Error, seconds and the PyTorch ratio of ``--preset speedrun`` (one epoch on synthetic data
    in ``quick`` mode, without PyTorch)."""
    say = log if callable(log) else (lambda message: None)
    hp = get_preset("speedrun").hparams()
    figures = (
        f"speedrun (--preset speedrun), 1 thread: test error, mean of {len(SEEDS)} seeds",
        "speedrun, 1 thread: training seconds at 100 GFLOP/s",
        "speedrun, 1 thread: mnist-tui / PyTorch time, same recipe",
    )
    seeds = SEEDS[:1] if quick else SEEDS
    if quick:
        hp = hp.validated(epochs=1)
    ours, theirs, rates = Results(), Results(), []
    with threadpool_limits(1):
        for seed in seeds:
            rates.append(gemm_rate())
            ours.add(*numpy_run(data, hp.validated(seed=seed)))
            say(f"  speedrun seed {seed}: {ours.errors[-1]:.2%} in {ours.seconds[-1]:.2f} s")
            run = None if quick else torch_run(data.train_x, data.train_y, hp.validated(seed=seed), 1)
            if run is not None:
                theirs.add(*torch_recipe_run(run, data, hp.epochs))
                say(f"  PyTorch seed {seed}: {theirs.errors[-1]:.2%} in {theirs.seconds[-1]:.2f} s")
    rate = max(rates)
    scaled = ours.time * rate / REFERENCE_RATE
    rows = [
        at_most(figures[0], ours.error, TARGET_ERROR, "< 2.00%", ours.describe(), quick),
        at_most(
            figures[1],
            scaled,
            TARGET_SECONDS,
            "≤ 2 s",
            f"{scaled:.2f} s ({ours.time:.2f} s measured at {rate / 1e9:.0f} GFLOP/s; mean of {len(seeds)})",
            quick,
        ),
    ]
    if not theirs.seconds:
        why = "not run in --quick" if quick else "PyTorch not installed"
        return [*rows, Row(figures[2], "≤ 1.00", why, status=SKIP)]
    ratio = ours.time / theirs.time
    text = f"{ratio:.2f}: {ours.time:.2f} vs {theirs.time:.2f} s; PyTorch {torch_version()}: {theirs.describe()}"
    return [*rows, at_most(figures[2], ratio, 1.0, "≤ 1.00", text)]
