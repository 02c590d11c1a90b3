"""Step 6: the student's ``grads_batch`` against the project's minibatch backprop, for speed.

Both run on the same float32 784-100-10 net and batch of 64 (the app's default shape),
alternately, and the fastest of many runs of each is compared: a ratio, so the machine's load
cancels out. Whether the code loops in Python is found by counting the lines of the student's
file that run for batches of 4 and 8 (and for 8 and 16 hidden units): a count that grows with
the batch is a loop over examples, and is named as the reason the step fails.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

import numpy as np

from model.exercise.reference import image_like
from model.exercise.report import Diagnosis, StepReport
from model.exercise.steps import frozen, guarded, readonly, report
from model.exercise.student import StudentCode
from model.exercise.training import checked_grads
from model.mlp import MLP

#: The step fails if the student's grads_batch is more than this many times slower than ours.
MAX_SLOWDOWN = 10.0
SPEED_SHAPE = (784, 100, 10)
SPEED_BATCH = 64
#: Timing budget: runs alternate until this many seconds or ``MAX_RUNS`` runs of each.
TIME_BUDGET = 1.5
MAX_RUNS = 50
MIN_RUNS = 5


@dataclass(frozen=True)
class LineCounts:
    """Lines of the student's file run by one grads_batch call: (batch 4, batch 8) at 8 hidden units,
    and at 16 hidden units with a batch of 4."""

    batch4: int
    batch8: int
    hidden16: int

    @property
    def per_example(self) -> float:
        return (self.batch8 - self.batch4) / 4

    @property
    def per_unit(self) -> float:
        return (self.hidden16 - self.batch4) / 8


def lines_run(code: StudentCode, B: int, H: int) -> int:
    """How many line events of the student's file one grads_batch call on (B, H) makes."""
    problem = image_like(code.activation, B, seed=7, shape=(20, H, 10))
    target = code.source.absolute
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == target else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        code.call("grads_batch", readonly(problem.params), frozen(problem.X), frozen(problem.y))
    finally:
        sys.settrace(previous)
    return count


def line_counts(code: StudentCode) -> LineCounts:
    return LineCounts(lines_run(code, 4, 8), lines_run(code, 8, 8), lines_run(code, 4, 16))


def step6(code: StudentCode, notify: Any = None) -> StepReport:
    """Time grads_batch against the project's backprop; look for Python loops."""

    def body(t0: float) -> StepReport:
        D, H, K = SPEED_SHAPE
        model = MLP(D, H, K, code.activation, np.random.default_rng(0))
        rng = np.random.default_rng(1)
        X = (rng.uniform(0, 1, (SPEED_BATCH, D)) * (rng.random((SPEED_BATCH, D)) < 0.2)).astype(np.float32)
        y = rng.integers(0, K, SPEED_BATCH)
        X.flags.writeable = y.flags.writeable = False
        params = readonly(model.params)
        out = {name: np.empty_like(value) for name, value in model.params.items()}

        def student() -> None:
            checked_grads(code.call("grads_batch", params, X, y), model.params, SPEED_BATCH, out)

        def ours() -> None:
            model.loss_and_grads(X, y, reuse_buffers=True)

        student()
        ours()  # warm both (allocations, caches) before timing
        best = {"student": np.inf, "ours": np.inf}
        start = time.perf_counter()
        runs = 0
        while runs < MIN_RUNS or (runs < MAX_RUNS and time.perf_counter() - start < TIME_BUDGET):
            for name, fn in (("student", student), ("ours", ours)):
                t = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t)
            runs += 1
        ratio = best["student"] / max(best["ours"], 1e-9)
        counts = line_counts(code)
        lines = [
            f"grads_batch on a float32 {D}-{H}-{K} {code.activation} net, a batch of {SPEED_BATCH}: yours "
            f"{best['student'] * 1e3:.2f} ms, the project's backprop {best['ours'] * 1e3:.2f} ms (fastest of "
            f"{runs} runs each): {ratio:.1f}x (limit {MAX_SLOWDOWN:g}x)",
            f"lines of your file run per call: {counts.batch4} for a batch of 4, {counts.batch8} for 8, "
            f"{counts.hidden16} with 16 hidden units instead of 8",
        ]
        diagnoses = []
        if counts.per_example >= 1:
            detail = (
                f"grads_batch runs about {counts.per_example:.0f} more lines of Python for every example in the "
                f"batch ({counts.batch4} for 4, {counts.batch8} for 8): a loop over examples"
            )
            diagnoses.append(Diagnosis("loop", ("grads_batch",), detail))
        if counts.per_unit >= 1:
            detail = f"grads_batch runs about {counts.per_unit:.0f} more lines for every hidden unit: a loop over units"
            diagnoses.append(Diagnosis("loop", ("grads_batch",), detail, "use matrix products over all hidden units"))
        status = "pass" if ratio <= MAX_SLOWDOWN and not diagnoses else "fail"
        figures = {"ratio": ratio, "student_ms": best["student"] * 1e3, "ours_ms": best["ours"] * 1e3}
        return report(6, t0, status=status, lines=tuple(lines), diagnoses=tuple(diagnoses), figures=figures)

    return guarded(6, body)
