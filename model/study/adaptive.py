"""What the study runs next, decided from the runs it has: rate sweeps that extend themselves,
report runs at the chosen rates, and the sections that wait for exact backprop's rate.

A sweep (one ``Entry``) is run on the selection seeds at the short budget, starting from the
grid's ``start`` rates. A rate *fails* when any selection seed failed (``RunResult.failed``:
diverged, or near chance at the end). The chosen rate is the one with the lowest mean
validation error among the rates that did not fail. The sweep goes on, one ladder step at a
time, until the chosen rate has a tried neighbour on each side (it is interior; at the ladder's
end it stays an edge, and says so) and the largest rate tried failed, so the *stable range*
(the largest rate below the first failing one) is measured, not bounded. Then the report seeds
run at the chosen rate (long or short budget), and the entry's controls beside it at the same
rate, for the equal-rate contrasts.

Everything is a function of the runs found, so a study that is stopped and started again makes
the same decisions at once from its stored runs. Leaves out: running (``run.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from model.study.plan import Entry, Grid, RunConfig, cell
from model.study.records import RunResult


@dataclass(frozen=True)
class Job:
    """One run to make: a cell, a seed, a budget."""

    config: RunConfig
    seed: int
    epochs: int


class Runs:
    """Finished runs by (cell key, seed); a run of more epochs stands for a shorter one."""

    def __init__(self, runs: Iterable[RunResult] = ()) -> None:
        self._by: dict[tuple[str, int], RunResult] = {}
        for r in runs:
            self.add(r)

    def add(self, run: RunResult) -> None:
        old = self._by.get((run.key, run.seed))
        if old is None or run.epochs > old.epochs:
            self._by[(run.key, run.seed)] = run

    def get(self, config: RunConfig, seed: int, epochs: int) -> RunResult | None:
        """The run of ``config`` and ``seed`` seen at ``epochs`` epochs, or None if there is none
        that long."""
        run = self._by.get((config.key, seed))
        return run.view(epochs) if run is not None and run.epochs >= epochs else None

    def all_of(self, config: RunConfig, seeds: Iterable[int], epochs: int) -> list[RunResult] | None:
        """One run per seed, or None while any is missing."""
        found = [self.get(config, s, epochs) for s in seeds]
        return None if any(r is None for r in found) else [r for r in found if r is not None]

    def __len__(self) -> int:
        return len(self._by)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by.values())


@dataclass
class SweepState:
    """Where one sweep stands: the rates tried (their selection runs), what it still needs."""

    entry: Entry
    tried: dict[float, list[RunResult]] = field(default_factory=dict)
    pending: list[float] = field(default_factory=list)
    chosen: float | None = None

    def failures(self, lr: float) -> int:
        return sum(r.failed for r in self.tried[lr])

    def mean_valid(self, lr: float) -> float:
        ok = [r.valid_error for r in self.tried[lr] if not r.failed]
        return sum(ok) / len(ok) if ok else math.nan

    @property
    def done(self) -> bool:
        return not self.pending

    @property
    def stable_range(self) -> tuple[float | None, bool]:
        """The largest rate reached upwards from the chosen one before a rate fails, and whether a
        failing rate bounds it (False: no tried rate above failed, so it is a lower bound)."""
        if self.chosen is None:
            return None, False
        top = self.chosen
        for lr in sorted(r for r in self.tried if r > self.chosen):
            if self.failures(lr):
                return top, True
            top = lr
        return top, False

    @property
    def edge(self) -> str:
        """ "" when the chosen rate is interior, else which end of the ladder it sits at."""
        if self.pending:
            return "not settled yet"
        if self.chosen is None:
            return "every rate failed"
        rates = sorted(self.tried)
        if self.chosen == rates[0]:
            return "lowest rate of the ladder"
        if self.chosen == rates[-1]:
            return "highest rate of the ladder"
        return ""


def sweep_state(entry: Entry, grid: Grid, runs: Runs) -> SweepState:
    """The sweep of ``entry`` given ``runs``: the rates tried, the chosen one, the rates it needs."""
    state = SweepState(entry)
    ladder = list(grid.ladder)
    for lr in ladder:
        found = runs.all_of(entry.config(lr, grid.momentum), grid.selection(), grid.short_epochs)
        if found is not None:
            state.tried[lr] = found
    missing = [lr for lr in grid.start if lr not in state.tried]
    if missing:
        state.pending = missing
        return state

    def step(lr: float, by: int) -> float | None:
        i = ladder.index(lr) + by
        return ladder[i] if 0 <= i < len(ladder) else None

    stable = [lr for lr in state.tried if not state.failures(lr)]
    if not stable:  # smaller steps until one works or the ladder ends
        lower = step(min(state.tried), -1)
        state.pending = [lower] if lower is not None else []
        return state
    best = min(sorted(stable), key=state.mean_valid)
    state.chosen = best
    wanted = [step(best, -1), step(best, +1)]
    top = max(state.tried)
    if not state.failures(top):
        wanted.append(step(top, +1))  # on up until a rate fails: the stable range is measured
    state.pending = sorted({lr for lr in wanted if lr is not None and lr not in state.tried})
    if state.pending:
        state.chosen = None  # not settled yet
    return state


def chosen_rate(grid: Grid, runs: Runs, variant: str, activation: str, hidden: int = 0) -> float | None:
    """The settled chosen rate of the entry (variant without options) at ``activation``, if any."""
    for e in grid.entries:
        if e.variant == variant and not e.options and e.activation == activation and e.hidden == hidden:
            return sweep_state(e, grid, runs).chosen
    return None


def report_jobs(entry: Entry, grid: Grid, lr: float) -> list[Job]:
    """The report seeds at the chosen rate, and the controls beside them at the same rate."""
    epochs = grid.long_epochs if entry.long else grid.short_epochs
    configs = [entry.config(lr, grid.momentum)]
    configs += [cell(c, {}, lr, grid.momentum, entry.activation, entry.hidden) for c in entry.controls]
    return [Job(c, s, epochs) for c in configs for s in grid.report()]


def section_configs(grid: Grid, runs: Runs) -> list[RunConfig]:
    """The fixed-setting sections' cells that can be named now (noise and rounding wait for exact
    backprop's chosen rate at their activation)."""
    configs = grid.stale_map()
    for act in grid.noise_activations:
        lr = chosen_rate(grid, runs, "exact", act)
        if lr is not None:
            configs += [*grid.noise_cells(act, lr), cell("exact", {}, lr, grid.momentum, act)]
    for act in grid.round_activations:
        lr = chosen_rate(grid, runs, "exact", act)
        if lr is not None:
            configs += [*grid.rounding_cells(act, lr), cell("exact", {}, lr, grid.momentum, act)]
    return configs


def next_jobs(grid: Grid, runs: Runs) -> list[Job]:
    """Every run the study needs now and does not have, longest first (so a round ends evenly)."""
    jobs: list[Job] = []
    for entry in grid.entries:
        state = sweep_state(entry, grid, runs)
        for lr in state.pending:
            jobs += [Job(entry.config(lr, grid.momentum), s, grid.short_epochs) for s in grid.selection()]
        if state.chosen is not None:
            jobs += report_jobs(entry, grid, state.chosen)
    jobs += [Job(c, s, grid.short_epochs) for c in section_configs(grid, runs) for s in grid.sections()]
    todo = {(j.config.key, j.seed): j for j in jobs if runs.get(j.config, j.seed, j.epochs) is None}
    longest: dict[tuple[str, int], Job] = {}
    for j in jobs:  # one job per (cell, seed): the longest asked for stands for the others
        k = (j.config.key, j.seed)
        if k in todo and (k not in longest or j.epochs > longest[k].epochs):
            longest[k] = j
    cost = {k: j.epochs * (j.config.hidden or grid.hidden) for k, j in longest.items()}
    return sorted(longest.values(), key=lambda j: -cost[(j.config.key, j.seed)])
