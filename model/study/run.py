"""``run_study``: every (config, seed) of the plan, in this process or in worker processes.

Builds the tasks, runs them (``task.run_task`` here for ``jobs == 1``, ``pool.run_pool``
otherwise), reports progress through ``on_event`` and returns a ``Study`` with the results
and how they were made. Leaves out: aggregation (``aggregate.py``) and files (``report.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from model.config import HyperParams
from model.study.aggregate import Study
from model.study.environment import environment
from model.study.plan import RunConfig, default_configs
from model.study.pool import run_pool
from model.study.records import Event, RunResult
from model.study.task import Task, load_data, run_task


def run_study(
    configs: Sequence[RunConfig] | None = None,
    *,
    seeds: int = 3,
    epochs: int = 3,
    jobs: int = 2,
    data: Any = None,
    base: HyperParams | None = None,
    angle_every: int = 10,
    on_event: Callable[[Event], Any] | None = None,
) -> Study:
    """Train every config with seeds 0..seeds-1 for ``epochs`` epochs; ``jobs`` worker processes.

    ``data``: None (the cached MNIST), a path for ``load_mnist``, or an object with
    train_x/train_y/valid_x/valid_y/test_x/test_y arrays (small data for tests). With
    ``jobs == 1`` the runs happen in this process (no spawn cost); otherwise in spawned
    workers that each cap BLAS at one thread and load the data once.
    """
    configs = list(configs) if configs is not None else default_configs()
    base = base if base is not None else HyperParams()
    tasks = [
        Task(i * seeds + s, cfg, s, epochs, base, angle_every) for i, cfg in enumerate(configs) for s in range(seeds)
    ]
    user_emit = on_event or (lambda e: None)

    def emit(e: Event) -> None:
        if e.kind != "ended":  # internal: marks the last event of a run
            user_emit(e)

    t0 = time.perf_counter()
    results: dict[int, RunResult] = {}
    if jobs <= 1:
        loaded = load_data(data)
        for task in tasks:
            results[task.index] = run_task(task, loaded, emit)
            emit(Event("done", task.index, task.config.label, task.seed, epochs, epochs, result=results[task.index]))
    else:
        results = run_pool(tasks, jobs, data, emit)
    meta = {
        "epochs": epochs,
        "seeds": seeds,
        "jobs": jobs,
        "angle_every": angle_every,
        "hparams": {k: v for k, v in base.to_dict().items() if k not in ("variant", "seed", "epochs")},
        "wall_seconds": time.perf_counter() - t0,
        "environment": environment(),
    }
    return Study(configs, [results[t.index] for t in tasks], meta)
