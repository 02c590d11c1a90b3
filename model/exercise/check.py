"""``exercise check``: the six steps in order, each in a child process under a time limit.

A step runs only if the steps it builds on passed when they ran too (``REQUIRES``: gradients are judged against the
student's own loss, so step 2 needs step 1; training needs a right ``grads_batch``); otherwise it
is "skipped" with the reason. A function not written yet ends the check there ("todo"): the
student writes the functions in order. A step that runs past its limit is "timeout" and its child
is killed; the next step starts a fresh one. Leaves out printing (the command line, the app).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from model.exercise.report import StepReport
from model.exercise.sandbox import Cancelled, Gone, Sandbox, Timeout
from model.exercise.steps import TITLES
from model.exercise.student import NotWritten, Source, StudentError

#: Which steps must pass before a step is run.
REQUIRES: dict[int, tuple[int, ...]] = {1: (), 2: (1,), 3: (), 4: (2, 3), 5: (3,), 6: (3,)}
ALL_STEPS = (1, 2, 3, 4, 5, 6)
#: Default limits (seconds): each toy-net step and the speed step; training.
TIME_LIMIT = 60.0
TRAIN_TIME_LIMIT = 600.0


@dataclass(frozen=True)
class CheckOptions:
    """Which steps (in order) and their time limits; ``data``: MNIST file or folder for step 5."""

    steps: tuple[int, ...] = ALL_STEPS
    time_limit: float = TIME_LIMIT
    train_time_limit: float = TRAIN_TIME_LIMIT
    data: str | None = None


@dataclass
class CheckResult:
    """The reports of the steps that ran (in order), for the file ``path`` with ``activation``."""

    path: str
    activation: str
    reports: list[StepReport] = field(default_factory=list)
    requested: tuple[int, ...] = ALL_STEPS

    @property
    def passed(self) -> bool:
        """Every requested step ran and passed."""
        done = {r.number for r in self.reports if r.passed}
        return all(n in done for n in self.requested)

    @property
    def todo(self) -> str:
        """The function to write next ("" if none is missing)."""
        return next((r.todo for r in self.reports if r.status == "todo"), "")

    @property
    def not_run(self) -> tuple[int, ...]:
        """Requested steps left out because the check stopped at a function still to write."""
        ran = {r.number for r in self.reports}
        return tuple(n for n in self.requested if n not in ran)


class Listener:
    """What a front end hears while the check runs (every method optional)."""

    def started(self, number: int, title: str) -> None: ...

    def progress(self, number: int, payload: Any) -> None: ...

    def finished(self, report: StepReport) -> None: ...


def run_check(
    source: Source,
    options: CheckOptions = CheckOptions(),
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
    sandbox: Sandbox | None = None,
) -> CheckResult:
    """Run ``options.steps`` on ``source``. LoadError if the file cannot be loaded at all; Cancelled
    if ``cancel`` is set meanwhile. ``sandbox``: an already started one to use (it is left open)."""
    listener = listener or Listener()
    own = sandbox is None
    box = sandbox if sandbox is not None else Sandbox(source)
    try:
        activation = box.activation if box.alive and box.activation else box.start(options.time_limit, cancel)
        result = CheckResult(source.path, activation, requested=options.steps)
        passed: set[int] = set()
        for number in options.steps:
            missing = [n for n in REQUIRES[number] if n in options.steps and n not in passed]
            if missing:
                needed = " and ".join(f"step {n}" for n in missing)
                report = StepReport(number, TITLES[number], "skipped", error=f"runs once {needed} passes")
            else:
                listener.started(number, TITLES[number])
                report = _run_step(box, number, options, listener, cancel)
            result.reports.append(report)
            listener.finished(report)
            if report.passed:
                passed.add(number)
            if report.status == "todo":
                break
        return result
    finally:
        if own:
            box.close()


def _run_step(
    box: Sandbox, number: int, options: CheckOptions, listener: Listener, cancel: threading.Event | None
) -> StepReport:
    limit = options.train_time_limit if number == 5 else options.time_limit
    args: tuple[Any, ...] = (number, options.data) if number == 5 else (number,)
    t0 = time.perf_counter()

    def progress(payload: Any) -> None:
        listener.progress(number, payload)

    try:
        report: StepReport = box.request("step", *args, limit=limit, progress=progress, cancel=cancel)
        return report
    except Cancelled:
        raise
    except Timeout as exc:
        status, error, todo = "timeout", str(exc), ""
    except NotWritten as exc:
        status, error, todo = "todo", str(exc), exc.function
    except (Gone, StudentError) as exc:
        status, error, todo = "fail", str(exc), ""
    return StepReport(number, TITLES[number], status, error=error, todo=todo, seconds=time.perf_counter() - t0)
