"""Kill a process with SIGKILL while it writes checkpoints, and check what is left on disk.

A forked child saves checkpoints to one path in a loop; save ``i`` sets every weight and
momentum entry to ``i`` and records ``i`` in the meta. The parent kills the child at a random
moment. Afterwards the checkpoint must load and be one complete save (every array equal to the
meta's ``i``), never a mix or a torn file. A temp file left beside it means the kill landed
mid-write. Used by ``tests/test_checkpoint.py``; run it directly for a longer campaign:

    .venv/bin/python tests/kill_writer.py 1000
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams
from model.trainer import Trainer


@dataclass
class KillReport:
    """Counts over a kill campaign."""

    trials: int = 0
    mid_write: int = 0  # kills that left a temp file, i.e. landed between open and rename
    torn: int = 0  # checkpoints that failed to load or mixed two saves
    saves_seen: list[int] = field(default_factory=list)  # the ``i`` found after each kill


def make_trainer(hidden: int = 256) -> Trainer:
    """A trainer whose checkpoint is ~1.6 MB (W1 and its momentum, H x 784 float32)."""
    X = np.zeros((16, 784), np.float32)
    y = np.arange(16) % 10
    return Trainer((X, y), HyperParams(hidden=hidden, batch_size=8))


Saver = Callable[[Path, Trainer, dict[str, int]], object]


def atomic_save(path: Path, trainer: Trainer, meta: dict[str, int]) -> object:
    """The real thing: ``model.checkpoint.save_checkpoint``."""
    return save_checkpoint(path, trainer.run_state(meta))


def naive_save(path: Path, trainer: Trainer, meta: dict[str, int]) -> object:
    """A control that rewrites the file in place, as ``np.savez(path, ...)`` would."""
    staged = path.with_name(".staged.npz")
    data = save_checkpoint(staged, trainer.run_state(meta)).read_bytes()
    with open(path, "wb") as f:  # truncates the old checkpoint, then writes the new one
        for start in range(0, len(data), 1 << 16):
            f.write(data[start : start + (1 << 16)])
            f.flush()
            os.fsync(f.fileno())
    return path


def _writer(path: Path, trainer: Trainer, ready_fd: int, save: Saver) -> None:
    """The child: save forever, each save holding a different constant; say "ready" after the first."""
    i = 0
    while True:
        for name in trainer.model.params:
            trainer.model.params[name][...] = i
            trainer.velocity[name][...] = i
        save(path, trainer, {"i": i})
        if i == 0:
            os.write(ready_fd, b"r")
            os.close(ready_fd)
        i += 1


def check(path: Path) -> int:
    """The save number held by ``path``; CheckpointError/AssertionError if it is torn or mixed."""
    ckpt = load_checkpoint(path)
    i = ckpt.meta["i"]
    for arrays in (ckpt.params, ckpt.velocity):
        for name, value in arrays.items():
            assert (value == i).all(), f"{name} mixes saves (meta says {i})"
    return int(i)


def campaign(
    folder: Path, trials: int, max_delay: float = 0.03, seed: int = 0, save: Saver = atomic_save, hidden: int = 128
) -> KillReport:
    """Fork a writer ``trials`` times, SIGKILL it after a random delay, and check the file each time."""
    rng = random.Random(seed)
    trainer = make_trainer(hidden)
    report = KillReport()
    path = folder / "run.npz"
    for _ in range(trials):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            try:
                _writer(path, trainer, write_fd, save)
            finally:
                os._exit(1)
        os.close(write_fd)
        os.read(read_fd, 1)  # the first save is on disk
        os.close(read_fd)
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        report.trials += 1
        leftovers = list(folder.glob(".run.npz.*.tmp"))
        report.mid_write += bool(leftovers)
        for tmp in leftovers:
            tmp.unlink()
        try:
            report.saves_seen.append(check(path))
        except (CheckpointError, AssertionError, KeyError):
            report.torn += 1
    return report


if __name__ == "__main__":
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = campaign(Path(tmp), n)
        print(
            f"{r.trials} kills, {r.mid_write} mid-write, {r.torn} torn; saves reached per trial: "
            f"median {int(np.median(r.saves_seen))}, max {max(r.saves_seen)}; {time.perf_counter() - t0:.1f}s"
        )
