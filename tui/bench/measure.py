"""Timing primitives and FLOP counts for the benchmark rows.

Shared-machine rules: time each figure several times, alternate the things being
compared, keep the best (noise only ever adds time), and compare with a rate measured
in the same run. CPU time is recorded next to wall time so the report can say how much
of the machine this process actually got. Leaves out what to measure (``rows``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.threads import blas_env

D, K = 784, 10  # MNIST inputs and classes
IMPORT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the model and tui packages


def train_flops(n_examples: int, hidden: int, n_in: int = D) -> float:
    """FLOPs of forward + backward without dX: n (4 D H + 60 H); two (B, D) x (D, H) GEMMs dominate."""
    return float(n_examples) * (4 * n_in * hidden + 6 * K * hidden)


def eval_flops(n_examples: int, hidden: int, n_in: int = D) -> float:
    """FLOPs of a forward pass over n examples: n (2 D H + 2 H K)."""
    return float(n_examples) * (2 * n_in * hidden + 2 * hidden * K)


def gemm_rate(n: int = 1024, repeats: int = 8, clock: Callable[[], float] = time.perf_counter) -> float:
    """Best float32 GEMM rate in FLOP/s on (n, n) @ (n, n), at the current BLAS thread count.

    ``clock``: wall time by default; ``time.thread_time`` gives the rate while this thread is on
    a core (with one BLAS thread the product runs on the calling thread), which load does not lower.
    """
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    np.matmul(a, b, out=c)  # warm up: first call pays for thread start-up and page faults
    best = min(_timed(lambda: np.matmul(a, b, out=c), clock) for _ in range(repeats))
    return 2.0 * n**3 / best


def _timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    t0 = clock()
    fn()
    return clock() - t0


@dataclass
class Samples:
    """Wall times of repeated runs of one thing, plus the CPU time they used (best = the figure)."""

    wall: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def run(self, fn: Callable[[], object]) -> float:
        """Time one call of ``fn``; returns its wall time."""
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        self.cpu += time.process_time() - c0
        self.wall.append(wall)
        return wall

    @property
    def best(self) -> float:
        return min(self.wall)

    @property
    def cpu_share(self) -> float:
        """Process CPU time / wall time over all runs: 1.0 per BLAS thread means nobody else ran."""
        return self.cpu / max(sum(self.wall), 1e-12)


def run_examples(step: Callable[[], object], examples_seen: Callable[[], int], n_examples: int) -> None:
    """Call ``step`` until ``examples_seen()`` has grown by ``n_examples`` (one epoch for n = N_train)."""
    target = examples_seen() + n_examples
    while examples_seen() < target:
        step()


def child_env(threads: int) -> dict[str, str]:
    """Environment for a child Python: same BLAS thread cap, and these packages importable."""
    env = blas_env(threads) | {"MNIST_TUI_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(IMPORT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_child(args: list[str], threads: int, timeout: float = 300.0) -> tuple[float, str]:
    """Run ``args`` (``python`` means this interpreter); returns (wall seconds, stdout). One-line errors."""
    argv = [sys.executable, *args[1:]] if args[0] == "python" else args
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=child_env(threads), capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Exit|NoMatches)\b", line)]
        raise RuntimeError(f"{Path(argv[0]).name} exited with {done.returncode}: {(errors or lines)[-1]}")
    return wall, done.stdout
