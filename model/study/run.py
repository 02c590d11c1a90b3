"""``run_study``: every (cell, seed) of a plan, reusing the runs a store already holds.

Builds the tasks, hands the stored ones back at once (a "done" event with ``reused``), runs the
rest on a backend and stores each result the moment it arrives, then returns a ``Study``.
Backends: "serial" (this process), "pool" (spawned processes, one BLAS thread each), "dask"
(a local cluster on loopback, or ``scheduler``); "auto" is Dask when it is installed, else the
pool (and serial for one job). Leaves out: analysis (``analysis.py``) and files (``report.py``).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from model.config import HyperParams
from model.machine import environment
from model.study import dask_backend
from model.study.aggregate import Study
from model.study.plan import RunConfig
from model.study.pool import run_pool
from model.study.records import Event, RunResult
from model.study.store import ResultStore
from model.study.task import Task, load_data, run_task

BACKENDS = ("auto", "serial", "pool", "dask")


def data_tag(data: Any) -> str:
    """What the store keys the data by: a hash of the arrays' shapes and of a sample of their
    contents ("mnist" for None or a path, which only the workers load)."""
    if data is None or isinstance(data, str | os.PathLike):
        return "mnist"
    h = hashlib.sha256()
    for name in ("train_x", "train_y", "valid_x", "valid_y", "test_x", "test_y"):
        a = np.asarray(getattr(data, name))
        h.update(f"{name}{a.shape}{a.dtype}".encode())
        h.update(np.ascontiguousarray(a[:64]).tobytes())
    return "data-" + h.hexdigest()[:12]


def choose_backend(backend: str, jobs: int, scheduler: str | None) -> str:
    """The backend "auto" stands for here; ValueError for one that cannot run."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
    if scheduler is not None:
        if backend not in ("auto", "dask"):
            raise ValueError("--scheduler needs the dask backend")
        backend = "dask"
    if backend == "auto":
        backend = "dask" if dask_backend.available() and jobs > 1 else ("pool" if jobs > 1 else "serial")
    if backend == "dask" and not dask_backend.available():
        raise ValueError("the dask backend needs dask.distributed: pip install 'mnist-tui[study]'")
    return backend


def run_study(
    configs: Sequence[RunConfig],
    *,
    seeds: int = 5,
    epochs: int = 2,
    jobs: int = 2,
    data: Any = None,
    base: HyperParams | None = None,
    diag_every: int = 100,
    train_size: int | None = None,
    store: ResultStore | None = None,
    backend: str = "auto",
    scheduler: str | None = None,
    tag: str | None = None,
    records: str | None = None,
    on_event: Callable[[Event], Any] | None = None,
) -> Study:
    """Train every config with seeds 0..seeds-1 for ``epochs`` epochs and return the Study.

    ``data``: None (the cached MNIST), a path for ``load_mnist``, or an object with
    train_x/train_y/valid_x/valid_y/test_x/test_y arrays (small data for tests). Runs found in
    ``store`` are not trained again; each new result is stored as it arrives. ``records``: a
    folder where every run trained here also writes a run record (``model.runs``); None: none.
    """
    base = base if base is not None else HyperParams()
    backend = choose_backend(backend, jobs, scheduler)
    tag = tag or data_tag(data)
    tasks = [
        Task(i * seeds + s, cfg, s, epochs, base, diag_every, train_size, tag, records)
        for i, cfg in enumerate(configs)
        for s in range(seeds)
    ]
    emit_user = on_event or (lambda e: None)
    stored = store.load() if store is not None else {}
    results: dict[int, RunResult] = {}
    for t in tasks:
        if t.run_id in stored:
            results[t.index] = stored[t.run_id]
            emit_user(Event("done", t.config.key, t.seed, epochs, epochs, result=results[t.index], reused=True))
    todo = [t for t in tasks if t.index not in results]
    by_key = {(t.config.key, t.seed): t for t in todo}

    def emit(e: Event) -> None:
        if e.kind == "done" and e.result is not None and store is not None:
            store.put(by_key[(e.key, e.seed)].run_id, e.result)
        emit_user(e)

    t0 = time.perf_counter()
    if todo:
        if backend == "serial":
            loaded = load_data(data)
            for task in todo:
                result = run_task(task, loaded, emit)
                results[task.index] = result
                emit(Event("done", task.config.key, task.seed, epochs, epochs, result=result))
        elif backend == "pool":
            results.update(run_pool(todo, jobs, data, emit))
        else:
            results.update(dask_backend.run_dask(todo, jobs, data, emit, scheduler))
    meta = {
        "epochs": epochs,
        "seeds": seeds,
        "jobs": jobs,
        "backend": backend if scheduler is None else f"dask at {scheduler}",
        "diag_every": diag_every,
        "train_size": train_size,
        "runs": len(tasks),
        "reused": len(tasks) - len(todo),
        "hparams": {k: v for k, v in base.to_dict().items() if k not in ("variant", "seed", "lr", "momentum")},
        "wall_seconds": time.perf_counter() - t0,
        "environment": environment(),
    }
    return Study(list(configs), [results[t.index] for t in tasks], meta)
