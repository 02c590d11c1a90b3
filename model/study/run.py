"""Running the study: ``run_grid`` makes a grid's runs in rounds, ``run_tasks`` one round.

Each round asks ``adaptive.next_jobs`` what the runs so far call for, hands the stored ones back
at once (a "done" event with ``reused``), runs the rest on a backend and stores each result the
moment it arrives; it stops when nothing more is needed. Backends: "serial" (this process),
"pool" (spawned processes, one BLAS thread each), "dask" (a local cluster on loopback, or
``scheduler``); "auto" is Dask when it is installed, else the pool (and serial for one job).
Leaves out: analysis (``analysis.py``) and files (``report.py``).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from model.machine import environment
from model.study import dask_backend
from model.study.adaptive import Job, Runs, next_jobs
from model.study.aggregate import Study
from model.study.plan import Grid
from model.study.pool import run_pool
from model.study.records import Event, RunResult
from model.study.saved import config_matches
from model.study.store import ResultStore
from model.study.task import Task, load_data, run_task

BACKENDS = ("auto", "serial", "pool", "dask")
MAX_ROUNDS = 30  # a sweep adds a ladder step a round; the ladder has 9 rates


def data_key(data: Any) -> str:
    """What the study's store keys the data by: a hash of the arrays' shapes and of a sample of their
    contents ("mnist" for None or a path, which only the workers load). Not a run record's data
    tag (``model.runs.data_tag``, which hashes what a run actually saw)."""
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


def run_tasks(
    tasks: Sequence[Task],
    *,
    jobs: int,
    data: Any,
    store: ResultStore | None,
    backend: str,
    scheduler: str | None = None,
    stored: dict[str, RunResult] | None = None,
    on_event: Callable[[Event], Any] | None = None,
    session: dask_backend.DaskSession | None = None,
) -> list[RunResult]:
    """Every task's result, in order: the ones ``stored`` holds at once, the rest trained on
    ``backend`` (already chosen: not "auto") and put in ``store`` as each arrives. ``session``:
    an open Dask session to use (else the dask backend opens one for these tasks)."""
    emit_user = on_event or (lambda e: None)
    stored = stored or {}
    results: dict[int, RunResult] = {}
    for t in tasks:
        found = stored.get(t.run_id)
        if found is not None and not config_matches(found, t.config, t.seed, t.epochs):
            del stored[t.run_id]  # another run's content under this run's name
            if store is not None:
                store.set_aside(
                    t.run_id, f"{store.folder / t.run_id}.json holds {found.key!r} seed {found.seed}, not this run"
                )
        if t.run_id in stored:
            results[t.index] = stored[t.run_id]
            emit_user(Event("done", t.config.key, t.seed, t.epochs, t.epochs, result=results[t.index], reused=True))
    todo = [t for t in tasks if t.index not in results]
    by_key = {(t.config.key, t.seed, t.epochs): t for t in todo}

    def emit(e: Event) -> None:
        if e.kind == "done" and e.result is not None and store is not None:
            store.put(by_key[(e.key, e.seed, e.epochs)].run_id, e.result)
        emit_user(e)

    if todo:
        if backend == "serial":
            loaded = load_data(data)
            for task in todo:
                result = run_task(task, loaded, emit)
                results[task.index] = result
                emit(Event("done", task.config.key, task.seed, task.epochs, task.epochs, result=result))
        elif backend == "pool":
            results.update(run_pool(todo, jobs, data, emit))
        elif session is not None:
            results.update(session.run(todo, data, emit))
        else:
            results.update(dask_backend.run_dask(todo, jobs, data, emit, scheduler))
    return [results[t.index] for t in tasks]


def run_grid(
    grid: Grid,
    *,
    jobs: int = 2,
    data: Any = None,
    store: ResultStore | None = None,
    backend: str = "auto",
    scheduler: str | None = None,
    tag: str | None = None,
    records: str | None = None,
    diag_every: int = 100,
    on_event: Callable[[Event], Any] | None = None,
    on_round: Callable[[int, int], Any] | None = None,
    on_start: Callable[[], Any] | None = None,
    stored_only: bool = False,
) -> Study:
    """Make every run ``grid`` calls for, round by round, and return the Study.

    ``data``: None (the cached MNIST), a path for ``load_mnist``, or an object with
    train_x/train_y/valid_x/valid_y/test_x/test_y arrays (small data for tests). Runs found in
    ``store`` are not trained again; each new result is stored as it arrives. ``records``: a
    folder where every run trained here also writes a run record (``model.runs``).
    ``on_start()`` hears that the backend is ready (a scheduler passed its checks), ``on_round(round,
    runs)`` of each round before it starts. ``stored_only``: train nothing; take the rounds as far as
    the stored runs go (an interim report of a study still running or interrupted) and count in
    ``meta["missing"]`` the runs of the first round the store cannot complete (0: the study is whole).
    """
    backend = "serial" if stored_only else choose_backend(backend, jobs, scheduler)
    session = dask_backend.DaskSession(jobs, scheduler) if backend == "dask" else None
    if session is not None and scheduler is not None:
        session.open()  # a scheduler is checked before anything else is said or done
    t0 = time.perf_counter()
    try:
        if on_start is not None:
            on_start()
        base, tag = grid.base(), tag or data_key(data)

        def make_task(index: int, job: Job) -> Task:
            return Task(index, job.config, job.seed, job.epochs, base, diag_every, grid.train_size, tag, records)

        run_round = partial(
            run_tasks, jobs=jobs, data=data, store=store, backend=backend, scheduler=scheduler, on_event=on_event,
            session=session,
        )  # fmt: skip
        stored = store.load() if store is not None else {}
        runs, rounds, made, reused, missing = _rounds(grid, stored, make_task, run_round, on_round, stored_only)
    finally:
        if session is not None:
            session.close()
    shown = "none (stored runs only)" if stored_only else backend if scheduler is None else f"dask at {scheduler}"
    counts = {"rounds": rounds, "runs": made, "reused": reused, "missing": missing}
    meta = _study_meta(grid, jobs=jobs, backend=shown, diag_every=diag_every, counts=counts, t0=t0)
    return Study(list(runs), meta)


def _study_meta(
    grid: Grid, *, jobs: int, backend: str, diag_every: int, counts: dict[str, int], t0: float
) -> dict[str, Any]:
    """How a study was made, for its report: the grid, ``backend`` as shown, the ``counts`` of rounds
    and runs, the hyperparameters every run shares, the wall time since ``t0`` and the machine."""
    shared = {k: v for k, v in grid.base().to_dict().items() if k not in ("variant", "seed", "lr", "momentum")}
    return {
        "grid_name": grid.name,
        "jobs": jobs,
        "backend": backend,
        "diag_every": diag_every,
        "train_size": grid.train_size,
        **counts,
        "hparams": shared,
        "wall_seconds": time.perf_counter() - t0,
        "environment": environment(),
    }


def _rounds(
    grid: Grid,
    stored: dict[str, RunResult],
    make_task: Callable[[int, Job], Task],
    run_round: Callable[..., list[RunResult]],
    on_round: Callable[[int, int], Any] | None,
    stored_only: bool = False,
) -> tuple[Runs, int, int, int, int]:
    """Ask ``next_jobs`` what the runs so far call for, run that round, until nothing more is needed.
    Returns the runs and the counts of rounds, runs made, runs found in ``stored`` and runs missing
    (``stored_only``: the first round the store holds only in part ends the study there, with what
    it holds); RuntimeError past ``MAX_ROUNDS``."""
    runs, made, trained = Runs(), 0, 0
    for number in range(1, MAX_ROUNDS + 1):
        wanted = next_jobs(grid, runs)
        if not wanted:
            return runs, number - 1, made, made - trained, 0
        tasks = [make_task(i, job) for i, job in enumerate(wanted)]
        missing = 0
        if stored_only:
            have = [
                t for t in tasks if t.run_id in stored and config_matches(stored[t.run_id], t.config, t.seed, t.epochs)
            ]
            missing, tasks = len(tasks) - len(have), have
            if not tasks:
                return runs, number - 1, made, made - trained, missing
        if on_round is not None:
            on_round(number, len(tasks))
        new = sum(t.run_id not in stored for t in tasks)
        for r in run_round(tasks, stored=stored):
            runs.add(r)
        trained += new
        made += len(tasks)
        if missing:  # the store holds this round only in part: what follows depends on the rest
            return runs, number, made, made - trained, missing
    raise RuntimeError(f"the study did not settle in {MAX_ROUNDS} rounds")
