"""The speedrun rows: ``--preset speedrun`` against the clock, and against the same recipe in PyTorch.

Each seed (0, 1, 2) trains the preset as ``mnist-tui train`` does (through ``model.run.Run``:
the steps are timed, the validation and test passes at each epoch's end are not) on one BLAS
thread, then, if PyTorch is installed, the same recipe in PyTorch on one thread (``TorchRun``),
alternately. A result is the test error at the epoch of lowest validation error, the training
time of the whole schedule, and the examples trained until that epoch (the load-free half of
the figure).

Time is taken twice: wall time, and the CPU time of the thread that runs the steps. With one
BLAS thread (and one PyTorch thread) every product runs on that thread, so its CPU time is the
time the steps spent on a core: other processes on a shared machine delay the wall clock but
add little to it. Each is scaled to 100 GFLOP/s by the float32 GEMM rate measured with the same
clock before and after each seed (the best of those), the rate the 2 s target is set for; the
CPU-time figure is the one scored. On an idle machine the two agree. Leaves out the table.
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
from model.trainer import StepMetrics, Trainer
from tui.bench.measure import gemm_rate
from tui.bench.table import SKIP, Row, at_most
from tui.bench.torch_mlp import TorchRun, torch_run, torch_version

SEEDS = (0, 1, 2)
REFERENCE_RATE = 100e9  # FLOP/s: the one-thread GEMM rate the 2 s target is set for
TARGET_ERROR, TARGET_SECONDS = 0.02, 2.0


@dataclass(frozen=True)
class Outcome:
    """One seed's run of the recipe."""

    error: float  # test error at the best-validation epoch
    wall: float  # training seconds of the whole schedule, wall clock
    cpu: float  # the same, CPU time of the stepping thread
    examples: int  # examples trained until the best-validation epoch


@dataclass
class Results:
    """One implementation's runs of the recipe, one entry per seed."""

    runs: list[Outcome] = field(default_factory=list)

    @property
    def error(self) -> float:
        return float(np.mean([r.error for r in self.runs]))

    @property
    def wall(self) -> float:
        return float(np.mean([r.wall for r in self.runs]))

    @property
    def cpu(self) -> float:
        return float(np.mean([r.cpu for r in self.runs]))

    def describe(self) -> str:
        each = ", ".join(f"{r.error:.2%}" for r in self.runs)
        return f"{self.error:.2%} ({each}), after {np.mean([r.examples for r in self.runs]):,.0f} examples"


class TimedTrainer(Trainer):
    """A trainer that adds up its steps' CPU time (this thread's) in ``cpu_seconds``."""

    cpu_seconds = 0.0

    def step(self) -> StepMetrics:
        t0 = time.thread_time()
        try:
            return super().step()
        finally:
            self.cpu_seconds += time.thread_time() - t0


def numpy_run(data: MNIST, hp: HyperParams) -> Outcome:
    """``hp`` trained as ``train`` trains it (evaluated at each epoch's end)."""
    eval_sets = {"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)}
    trainer = TimedTrainer((data.train_x, data.train_y), hp, eval_sets=eval_sets)
    run = Run(trainer)
    run.train()
    result = run.close()
    examples = round((result.best_epoch or 0.0) * len(data.train_y))
    return Outcome(result.test_error_at_best, result.seconds, trainer.cpu_seconds, examples)


def torch_recipe_run(run: TorchRun, data: MNIST, epochs: int) -> Outcome:
    """``numpy_run`` for PyTorch: ``epochs`` epochs, each timed, then scored on valid and test."""
    wall = cpu = 0.0
    best = (math.inf, math.nan, 0)
    for epoch in range(1, epochs + 1):
        t0, c0 = time.perf_counter(), time.thread_time()
        while run.examples_seen < epoch * run.n:
            run.step()
        wall, cpu = wall + time.perf_counter() - t0, cpu + time.thread_time() - c0
        valid = run.error(data.valid_x, data.valid_y)
        if valid < best[0]:
            best = (valid, run.error(data.test_x, data.test_y), run.examples_seen)
    return Outcome(best[1], wall, cpu, best[2])


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
        hp = hp.validated(epochs=1, warmup=0.1)
    ours, theirs = Results(), Results()
    wall_rates, cpu_rates = [], []

    def measure_rates() -> None:
        wall_rates.append(gemm_rate())
        cpu_rates.append(gemm_rate(clock=time.thread_time))

    with threadpool_limits(1):
        for seed in seeds:
            measure_rates()
            ours.runs.append(numpy_run(data, hp.validated(seed=seed)))
            mine = ours.runs[-1]
            say(f"  speedrun seed {seed}: {mine.error:.2%} in {mine.wall:.2f} s (CPU {mine.cpu:.2f} s)")
            run = None if quick else torch_run(data.train_x, data.train_y, hp.validated(seed=seed), 1)
            if run is not None:
                theirs.runs.append(torch_recipe_run(run, data, hp.epochs))
                say(f"  PyTorch seed {seed}: {theirs.runs[-1].error:.2%} in {theirs.runs[-1].wall:.2f} s")
        measure_rates()
    wall_rate, cpu_rate = max(wall_rates), max(cpu_rates)
    scaled, wall_scaled = ours.cpu * cpu_rate / REFERENCE_RATE, ours.wall * wall_rate / REFERENCE_RATE
    timing = (
        f"{scaled:.2f} s ({ours.cpu:.2f} s on a core at {cpu_rate / 1e9:.0f} GFLOP/s; wall {ours.wall:.2f} s "
        f"at {wall_rate / 1e9:.0f} GFLOP/s: {wall_scaled:.2f} s; mean of {len(seeds)})"
    )
    rows = [
        at_most(figures[0], ours.error, TARGET_ERROR, "< 2.00%", ours.describe(), quick),
        at_most(figures[1], scaled, TARGET_SECONDS, "≤ 2 s", timing, quick),
    ]
    if not theirs.runs:
        why = "not run in --quick" if quick else "PyTorch not installed"
        return [*rows, Row(figures[2], "≤ 1.00", why, status=SKIP)]
    ratio = ours.cpu / theirs.cpu
    text = (
        f"{ratio:.2f}: {ours.cpu:.2f} vs {theirs.cpu:.2f} s on a core (wall {ours.wall:.2f} vs {theirs.wall:.2f} s); "
        f"PyTorch {torch_version()}: {theirs.describe()}"
    )
    return [*rows, at_most(figures[2], ratio, 1.0, "≤ 1.00", text)]
