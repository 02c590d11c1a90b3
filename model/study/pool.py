"""Study runs in spawned worker processes, each with one BLAS thread and the data loaded once.

Each worker runs ``_work``: it loads the data into a local (nothing is kept in module state),
takes tasks from one queue until it gets None, and sends everything back through another, in
order: a run's progress events, then its result. One queue per direction keeps a run's "done"
behind all of its epoch events without any bookkeeping. A worker's exception stops the study
and is raised here; a worker that dies without a word raises ``BrokenProcessPool``. A worker
ends when the study's process is gone, even killed with SIGKILL (``_die_with_parent``), so none
is left computing, or blocked holding its memory, with nobody to collect its results.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from model.study.records import Event, RunResult
from model.study.task import Task, load_data, run_task
from model.threads import set_blas_threads


@dataclass(frozen=True)
class _Finished:
    """A worker's result for task ``index`` (sent after all of that run's events)."""

    index: int
    result: RunResult


@dataclass(frozen=True)
class _Failed:
    """A worker stopped on ``error``."""

    error: BaseException


def _die_with_parent(parent: int, every: float = 0.5) -> None:
    """End this process when process ``parent`` is gone: at once on Linux (the kernel sends SIGKILL
    when the parent dies), and on any system within ``every`` seconds (a thread that watches)."""
    with contextlib.suppress(Exception):  # Linux only: prctl(PR_SET_PDEATHSIG, SIGKILL)
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)  # nobody is left to collect what this worker computes

    threading.Thread(target=watch, name="mnist-tui-parent-watch", daemon=True).start()


def _work(data: Any, tasks: Any, out: Any, parent: int) -> None:
    """A worker's whole life: set up, then run tasks until None; results and events go to ``out``."""
    _die_with_parent(parent)
    set_blas_threads(1)
    try:
        loaded = load_data(data)
        while (task := tasks.get()) is not None:
            out.put(_Finished(task.index, run_task(task, loaded, out.put)))
    except BaseException as exc:
        out.put(_Failed(_picklable(exc)))


def _picklable(exc: BaseException) -> BaseException:
    """``exc`` if it survives the trip to the parent, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _broken(workers: Sequence[BaseProcess]) -> bool:
    """A worker died with an error code, or every worker is gone."""
    return any(w.exitcode not in (None, 0) for w in workers) or all(w.exitcode is not None for w in workers)


def run_pool(tasks: list[Task], jobs: int, data: Any, emit: Callable[[Event], Any]) -> dict[int, RunResult]:
    """Run ``tasks`` in ``jobs`` spawned workers; ``emit`` gets each event and a "done" per run
    the moment it arrives (so the caller can store it before the next one finishes)."""
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked threads or BLAS state
    todo, out = ctx.Queue(), ctx.Queue()
    n = max(1, min(jobs, len(tasks)))
    for t in tasks:
        todo.put(t)
    for _ in range(n):
        todo.put(None)  # one stop sign per worker
    by_index = {t.index: t for t in tasks}
    workers = [ctx.Process(target=_work, args=(data, todo, out, os.getpid()), daemon=True) for _ in range(n)]
    for w in workers:
        w.start()
    results: dict[int, RunResult] = {}
    strikes = 0  # quiet polls with dead workers; the second one means nothing more is coming
    try:
        while len(results) < len(tasks):
            try:
                msg = out.get(timeout=0.2)
            except queue.Empty:
                strikes = strikes + 1 if _broken(workers) else 0
                if strikes > 1:
                    raise BrokenProcessPool("a worker process ended before its runs were done") from None
                continue
            if isinstance(msg, _Failed):
                raise msg.error
            if isinstance(msg, _Finished):
                results[msg.index] = msg.result
                t = by_index[msg.index]
                emit(Event("done", t.config.key, t.seed, t.epochs, t.epochs, result=msg.result))
            else:
                emit(msg)
    except BaseException:
        todo.cancel_join_thread()  # unread tasks must not hold up this process's exit
        for w in workers:
            w.terminate()
        raise
    finally:
        for w in workers:
            w.join()
    return results
