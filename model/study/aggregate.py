"""Aggregates over seeds: a ``CellSummary`` of one cell's runs, with 95% intervals.

Intervals are Student-t: mean ± t(0.975, n-1) · s / sqrt(n) over the seeds. Failed runs
(``RunResult.failed``: diverged or near chance) are counted apart and left out of every mean.
A paired difference (``paired``) compares two cells seed by seed over the seeds where neither
failed; seeds share initial weights and data order, so the pairing removes most of the
seed-to-seed spread. Leaves out: how the runs were made, which cells are compared
(``analysis.py``) and how summaries are written (``report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.study.adaptive import Runs
from model.study.plan import RunConfig
from model.study.records import DIAGNOSTICS, RunResult, nanmean
from model.study.stats import paired_test, tost

# t(0.975, df) for df = 1..30; beyond that the normal 1.96 is within 2%
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclass(frozen=True)
class Interval:
    """Mean of n values and the half-width of its 95% confidence interval (NaN for n < 2)."""

    mean: float
    half: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Interval:
        v = np.array([x for x in values if math.isfinite(x)], dtype=np.float64)
        if len(v) == 0:
            return cls(math.nan, math.nan, 0)
        if len(v) == 1:
            return cls(float(v[0]), math.nan, 1)
        t = _T975[len(v) - 2] if len(v) - 1 <= len(_T975) else 1.96
        return cls(float(v.mean()), float(t * v.std(ddof=1) / math.sqrt(len(v))), len(v))

    @property
    def excludes_zero(self) -> bool:
        return math.isfinite(self.half) and abs(self.mean) > self.half


@dataclass
class CellSummary:
    """The seeds of one cell at one budget: errors with intervals over the runs that did not
    fail, the failures counted apart, diagnostics over time."""

    config: RunConfig
    epochs: int
    seeds: int
    failed: int  # diverged, or near chance at the end
    diverged: int
    valid: Interval
    test: Interval
    as_trained: Interval  # test error of the net as trained (perturbed forward pass); NaN if clean
    final_test: Interval
    test_by_seed: dict[int, float]  # seeds that did not fail
    failed_test: float  # mean test error of the failed seeds (NaN: none failed)
    valid_curve: list[Interval]  # per epoch
    test_curve: list[Interval]
    diag_steps: list[int]
    diagnostics: dict[str, list[Interval]] = field(default_factory=dict)
    seconds: float = math.nan

    @property
    def key(self) -> str:
        return self.config.key

    @property
    def all_failed(self) -> bool:
        return self.failed == self.seeds

    def last(self, name: str) -> Interval:
        """The diagnostic's last recorded value (over seeds)."""
        series = self.diagnostics.get(name, [])
        return series[-1] if series else Interval(math.nan, math.nan, 0)

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "key": c.key,
            "label": c.label,
            "variant": c.variant,
            "question": c.question,
            "options": dict(c.options),
            "lr": c.lr,
            "momentum": c.momentum,
            "effective_step": c.effective_step,
            "activation": c.activation,
            "hidden": c.hidden,
            "epochs": self.epochs,
            "seeds": self.seeds,
            "failed": self.failed,
            "diverged": self.diverged,
            "valid_error": _iv(self.valid),
            "test_error": _iv(self.test),
            "test_error_as_trained": _iv(self.as_trained),
            "final_test_error": _iv(self.final_test),
            "failed_test_error": self.failed_test,
            "valid_curve": _columns(self.valid_curve),
            "test_curve": _columns(self.test_curve),
            "diag_steps": self.diag_steps,
            "diagnostics": {k: _columns(v) for k, v in self.diagnostics.items()},
            "seconds": self.seconds,
        }


def _iv(i: Interval) -> dict[str, float]:
    return {"mean": i.mean, "ci95": i.half, "n": i.n}


def _columns(series: Sequence[Interval]) -> dict[str, list[float]]:
    """A series of intervals as two lists (mean, ci95): the compact form for results.json."""
    return {"mean": [i.mean for i in series], "ci95": [i.half for i in series]}


@dataclass(frozen=True)
class Contrast:
    """A paired difference a - b over the seeds where neither failed: the interval (fraction),
    the two-sided p-value, whether TOST shows it within ``EQUIVALENCE`` and the raw differences."""

    diff: Interval
    p: float
    equivalent: bool
    values: tuple[float, ...] = ()

    @classmethod
    def none(cls) -> Contrast:
        return cls(Interval(math.nan, math.nan, 0), math.nan, False)


#: The equivalence margin of a "no worse than" / "matches" claim: ±0.3 percentage points.
EQUIVALENCE = 0.003


def paired(a: CellSummary, b: CellSummary) -> Contrast:
    """Test error of ``a`` minus ``b``, seed by seed over the seeds both have and neither failed."""
    common = sorted(set(a.test_by_seed) & set(b.test_by_seed))
    d = [a.test_by_seed[s] - b.test_by_seed[s] for s in common]
    return Contrast(Interval.of(d), paired_test(d), tost(d, EQUIVALENCE), tuple(d))


def summarize(cfg: RunConfig, runs: list[RunResult], epochs: int) -> CellSummary:
    """Aggregate the runs (one per seed, at least one, each seen at ``epochs``) of ``cfg``."""
    ok = [r for r in runs if not r.failed] or []
    n_epochs = max(len(r.valid_curve) for r in runs)
    curves = {name: np.full((len(ok), n_epochs), np.nan) for name in ("valid", "test")}  # (seeds, epochs)
    for i, r in enumerate(ok):
        curves["valid"][i, : len(r.valid_curve)] = r.valid_curve
        curves["test"][i, : len(r.test_curve)] = r.test_curve
    steps = max((r.diag_steps for r in ok), key=len) if ok else []
    diag: dict[str, list[Interval]] = {}
    for name in DIAGNOSTICS:
        table = np.full((len(ok), len(steps)), np.nan)  # (seeds, probes)
        for i, r in enumerate(ok):
            values = r.diagnostics.get(name, [])[: len(steps)]
            table[i, : len(values)] = values
        diag[name] = [Interval.of(list(col)) for col in table.T]
    failed = [r for r in runs if r.failed]
    return CellSummary(
        config=cfg,
        epochs=epochs,
        seeds=len(runs),
        failed=len(failed),
        diverged=sum(r.diverged for r in runs),
        valid=Interval.of([r.valid_error for r in ok]),
        test=Interval.of([r.test_error for r in ok]),
        as_trained=Interval.of([r.test_error_as_trained for r in ok]),
        final_test=Interval.of([r.final_test_error for r in ok]),
        test_by_seed={r.seed: r.test_error for r in ok},
        failed_test=nanmean([r.final_test_error for r in failed]),
        valid_curve=[Interval.of(list(col)) for col in curves["valid"].T],
        test_curve=[Interval.of(list(col)) for col in curves["test"].T],
        diag_steps=list(steps),
        diagnostics=diag,
        seconds=nanmean([r.seconds for r in runs]),
    )


@dataclass
class Study:
    """All runs and how they were made; ``cell`` aggregates one cell's seeds at one budget."""

    results: list[RunResult]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.runs = Runs(self.results)
        self._cells: dict[tuple[str, tuple[int, ...], int], CellSummary | None] = {}

    def cell(self, cfg: RunConfig, seeds: Sequence[int], epochs: int) -> CellSummary | None:
        """The summary of ``cfg`` over ``seeds`` at ``epochs`` epochs; None while a run is missing."""
        k = (cfg.key, tuple(seeds), epochs)
        if k not in self._cells:
            found = self.runs.all_of(cfg, seeds, epochs)
            self._cells[k] = summarize(cfg, found, epochs) if found else None
        return self._cells[k]
