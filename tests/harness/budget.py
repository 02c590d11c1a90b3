"""The fast tier's rules, checked: a test not marked ``slow`` fails if it starts a process or
costs more than the budget.

A test starts a process if a child of this process appears (alive at the end of its call, or
reaped: the children's CPU time grew) between the start of its setup and the end of its call.
Processes, pseudo-terminals, servers, browsers and venvs belong to the slow tier.

A test's cost is counted from the start of its setup to the end of its call (the module and
session fixtures it is the first to need included) in two measures:

- CPU seconds of this process (every thread) plus those of the child processes it reaped. A
  busy machine stretches wall time far more than CPU time, so this is the measure that holds on
  a box shared with other work. Budget: ``--budget`` (2 s by default).
- Wall seconds, against ``WALL_FACTOR`` times the budget: the same check for a test that mostly
  waits (sleeps, a child process it never reaps).

On a loaded machine an app under test also draws more frames and polls more while it waits, so
both limits grow with the load: they are multiplied by the 1-minute load average per CPU when
that is over 1 (two workers on two otherwise idle cores: 1).

A test that starts a process, or costs more than ``FAIL_FACTOR`` times its limits, fails with the
fix in its message (mark it ``@pytest.mark.slow``, or make it cheaper): it clearly belongs to the
slow tier. One between its limits and ``FAIL_FACTOR`` times them only warns, because a test's CPU
time varies by tens of percent with what shares the cores' caches, and a suite that goes red on a
busy machine for a test that cost 2.8 s instead of 2.3 s is not one to trust. The run ends with a
list of both kinds. ``--budget 0`` turns the check off (for a
profiler or a debugger); ``--budget-report FILE`` writes every test's two costs as TSV.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Generator
from pathlib import Path

import pytest

DEFAULT_BUDGET = 2.0
WALL_FACTOR = 10  # a wall-time limit of 20 s for the default budget
FAIL_FACTOR = 2.5  # over this many times a limit fails; between 1x and this, a warning


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process (all threads), and of the children it has waited for."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def load_factor() -> float:
    """The 1-minute load average per CPU, at least 1."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:  # no load average on this system
        return 1.0


def live_children() -> set[int]:
    """Process ids of this process's children that are alive (Linux; empty elsewhere)."""
    pids: set[int] = set()
    for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        try:
            with open(path) as f:
                pids.update(int(pid) for pid in f.read().split())
        except OSError:  # the thread ended meanwhile
            continue
    return pids


class TimeBudget:
    """The plugin (registered by tests/conftest.py); runs in every xdist worker and the controller."""

    def __init__(self, budget: float, report: Path | None) -> None:
        self.budget = budget
        self.report = report
        self.started: dict[str, tuple[tuple[float, float], float, set[int]]] = {}  # at setup: cpu, wall, children
        self.costs: list[tuple[str, float, float, bool]] = []  # (nodeid, cpu, wall, slow)
        self.offenders: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.started[item.nodeid] = (cpu_seconds(), time.perf_counter(), live_children())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        if call.when != "call" or item.nodeid not in self.started:
            return report
        (own0, children0), wall0, alive0 = self.started.pop(item.nodeid)
        own, children = cpu_seconds()
        cpu, wall = own - own0 + children - children0, time.perf_counter() - wall0
        slow = item.get_closest_marker("slow") is not None
        report.user_properties.append(("cost", (cpu, wall, slow)))
        if self.budget > 0 and report.passed and not slow:
            over, fails = [], False
            if children > children0 or live_children() - alive0:
                over.append("started a process")
                fails = True
            budget = self.budget * load_factor()
            if cpu > budget:
                over.append(f"took {cpu:.1f} s of CPU (budget {budget:.1f} s)")
                fails = fails or cpu > FAIL_FACTOR * budget
            if wall > WALL_FACTOR * budget:
                over.append(f"took {wall:.1f} s of wall time (limit {WALL_FACTOR * budget:.0f} s)")
                fails = fails or wall > FAIL_FACTOR * WALL_FACTOR * budget
            if fails:
                report.outcome = "failed"
                report.longrepr = (
                    f"{item.nodeid} is not marked slow but {' and '.join(over)}: "
                    "mark it @pytest.mark.slow, or make it cheaper (smaller data, fewer steps, a shared app)"
                )
            if over:
                verdict = "failed" if fails else "warning"
                report.user_properties.append(("over_budget", f"{verdict}: {', '.join(over)}"))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collects costs and offenders (in the controller too: reports arrive there from the workers)."""
        props = dict(report.user_properties)
        cost = props.get("cost")
        if report.when == "call" and isinstance(cost, tuple):
            cpu, wall, slow = cost
            self.costs.append((report.nodeid, float(cpu), float(wall), bool(slow)))
        if report.when == "call" and "over_budget" in props:
            self.offenders.append(f"{report.nodeid}: {props['over_budget']}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.offenders:
            terminalreporter.section("tests over the fast tier's limits (mark them slow or make them cheaper)")
            for line in self.offenders:
                terminalreporter.line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.report is not None and not hasattr(session.config, "workerinput"):  # the controller writes
            rows = sorted(self.costs, key=lambda c: -c[1])
            lines = [f"{nodeid}\t{cpu:.2f}\t{wall:.2f}\t{'slow' if slow else ''}" for nodeid, cpu, wall, slow in rows]
            self.report.write_text("nodeid\tcpu_s\twall_s\tmarker\n" + "\n".join(lines) + "\n")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("budget", "the fast tier's time budget")
    group.addoption(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help=f"seconds a test not marked slow may cost (CPU; wall {WALL_FACTOR}x); 0 turns the check off",
    )
    group.addoption("--budget-report", type=Path, default=None, help="write every test's CPU and wall time (TSV)")


def register(config: pytest.Config) -> None:
    config.pluginmanager.register(
        TimeBudget(config.getoption("--budget"), config.getoption("--budget-report")), "time-budget"
    )
