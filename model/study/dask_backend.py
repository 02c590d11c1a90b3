"""Study runs on Dask distributed: a local cluster on loopback, or an existing scheduler.

Each task runs ``task.run_task`` on a worker with BLAS pinned to one thread. Workers never get
MNIST over the network: given no data (or a path) each loads it from its own hash-checked cache
once per worker process; small in-memory data (tests) is scattered to every worker. Results come
back as they finish (``as_completed``), so the caller stores each at once; a worker that is lost
has its run retried elsewhere. Needs the ``study`` extra (``pip install 'mnist-tui[study]'``).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from model.study.records import Event, RunResult
from model.study.task import Task, load_data, run_task

RETRIES = 2  # a run whose worker died is tried this many more times


def available() -> bool:
    """Whether dask.distributed can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=2)
def _worker_data(path: str | None) -> Any:
    """MNIST loaded once per worker process from its own cache (or ``path``)."""
    return load_data(path)


def _remote(task: Task, data: Any) -> RunResult:
    """What a worker runs for one task."""
    from model.threads import set_blas_threads

    set_blas_threads(1)
    loaded = (
        _worker_data(None if data is None else os.fspath(data))
        if data is None or isinstance(data, str | os.PathLike)
        else data
    )
    return run_task(task, loaded)


class DaskSession:
    """A Dask client for a whole study: ``scheduler`` (an address such as tcp://host:8786, checked
    step by step with deadlines, ``scheduler.connect``) or a local cluster of ``jobs``
    single-threaded worker processes bound to 127.0.0.1, opened once for every round."""

    def __init__(self, jobs: int, scheduler: str | None = None) -> None:
        self.jobs, self.scheduler = jobs, scheduler
        self.client: Any = None
        self.cluster: Any = None

    def open(self) -> DaskSession:
        """Start the local cluster or connect to the scheduler (SchedulerError, one line, if unusable)."""
        from distributed import Client, LocalCluster

        if self.client is not None:
            return self
        if self.scheduler is None:
            self.cluster = LocalCluster(
                n_workers=self.jobs,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # no dashboard; the scheduler's small HTTP server (health, metrics) would otherwise take
                # the well-known port 8787 even with the dashboard off: give it a free loopback port
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,  # a worker losing the scheduler while the cluster closes is not news
            )
            self.client = Client(self.cluster)
        else:
            from model.study.scheduler import connect

            self.client = connect(self.scheduler)
        return self

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def __enter__(self) -> DaskSession:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, tasks: list[Task], data: Any, emit: Callable[[Event], Any]) -> dict[int, RunResult]:
        """Run ``tasks``; ``emit`` gets each event and a "done" per run the moment it arrives."""
        from distributed import as_completed

        client = self.open().client
        slots = max(1, sum(client.nthreads().values()))
        shared = data
        if data is not None and not isinstance(data, str | os.PathLike):
            shared = client.scatter(data, broadcast=True)
        futures = {
            client.submit(_remote, t, shared, key=f"mnist-tui-run-{t.run_id}", pure=False, retries=RETRIES): t
            for t in tasks
        }
        results: dict[int, RunResult] = {}
        for t in tasks[:slots]:
            emit(Event("start", t.config.key, t.seed, 0, t.epochs))
        started = min(slots, len(tasks))
        try:
            for future in as_completed(futures):
                t = futures[future]
                results[t.index] = future.result()
                emit(Event("done", t.config.key, t.seed, t.epochs, t.epochs, result=results[t.index]))
                if started < len(tasks):  # a slot freed: the next run starts (as far as we can tell)
                    nxt = tasks[started]
                    emit(Event("start", nxt.config.key, nxt.seed, 0, nxt.epochs))
                    started += 1
        except BaseException:
            client.cancel(list(futures))
            raise
        return results


def run_dask(
    tasks: list[Task],
    jobs: int,
    data: Any,
    emit: Callable[[Event], Any],
    scheduler: str | None = None,
) -> dict[int, RunResult]:
    """Run ``tasks`` on a session of their own (see ``DaskSession``)."""
    with DaskSession(jobs, scheduler) as session:
        return session.run(tasks, data, emit)
