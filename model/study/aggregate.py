"""Aggregates over seeds: one ``CellSummary`` per cell of a ``Study``, with 95% intervals.

Intervals are Student-t: mean ± t(0.975, n-1) · s / sqrt(n) over the seeds. A paired difference
(``paired``) compares two cells seed by seed; seeds share initial weights and data order, so the
pairing removes most of the seed-to-seed spread. Leaves out: how the runs were made, which cells
are compared (``analysis.py``) and how summaries are written (``report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.study.plan import RunConfig
from model.study.records import DIAGNOSTICS, RunResult, nanmean

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
    """The seeds of one cell: errors with intervals, divergences, diagnostics over time."""

    config: RunConfig
    seeds: int
    diverged: int
    valid: Interval
    test: Interval
    as_trained: Interval  # test error of the net as trained (perturbed forward pass); NaN if clean
    final_test: Interval
    test_by_seed: dict[int, float]
    valid_curve: list[Interval]  # per epoch
    diag_steps: list[int]
    diagnostics: dict[str, list[Interval]] = field(default_factory=dict)
    seconds: float = math.nan

    @property
    def key(self) -> str:
        return self.config.key

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
            "lr": c.lr,
            "momentum": c.momentum,
            "effective_step": c.effective_step,
            "activation": c.activation,
            "sigma": c.sigma,
            "stale_k": c.stale_k,
            "seeds": self.seeds,
            "diverged": self.diverged,
            "valid_error": _iv(self.valid),
            "test_error": _iv(self.test),
            "test_error_as_trained": _iv(self.as_trained),
            "final_test_error": _iv(self.final_test),
            "valid_curve": _columns(self.valid_curve),
            "diag_steps": self.diag_steps,
            "diagnostics": {k: _columns(v) for k, v in self.diagnostics.items()},
            "seconds": self.seconds,
        }


def _iv(i: Interval) -> dict[str, float]:
    return {"mean": i.mean, "ci95": i.half, "n": i.n}


def _columns(series: Sequence[Interval]) -> dict[str, list[float]]:
    """A series of intervals as two lists (mean, ci95): the compact form for results.json."""
    return {"mean": [i.mean for i in series], "ci95": [i.half for i in series]}


def paired(a: CellSummary, b: CellSummary) -> Interval:
    """Test error of ``a`` minus ``b``, seed by seed over the seeds both have."""
    common = sorted(set(a.test_by_seed) & set(b.test_by_seed))
    return Interval.of([a.test_by_seed[s] - b.test_by_seed[s] for s in common])


def summarize(cfg: RunConfig, runs: list[RunResult]) -> CellSummary:
    """Aggregate the runs (one per seed, at least one) of ``cfg``."""
    n_epochs = max(len(r.valid_curve) for r in runs)
    curves = np.full((len(runs), n_epochs), np.nan)  # (seeds, epochs)
    for i, r in enumerate(runs):
        curves[i, : len(r.valid_curve)] = r.valid_curve
    steps = max((r.diag_steps for r in runs), key=len)
    diag: dict[str, list[Interval]] = {}
    for name in DIAGNOSTICS:
        table = np.full((len(runs), len(steps)), np.nan)  # (seeds, probes); a diverged run stops early
        for i, r in enumerate(runs):
            values = r.diagnostics.get(name, [])
            table[i, : len(values)] = values
        diag[name] = [Interval.of(list(col)) for col in table.T]
    return CellSummary(
        config=cfg,
        seeds=len(runs),
        diverged=sum(r.diverged for r in runs),
        valid=Interval.of([r.valid_error for r in runs]),
        test=Interval.of([r.test_error for r in runs]),
        as_trained=Interval.of([r.test_error_as_trained for r in runs]),
        final_test=Interval.of([r.final_test_error for r in runs]),
        test_by_seed={r.seed: r.test_error for r in runs},
        valid_curve=[Interval.of(list(col)) for col in curves.T],
        diag_steps=list(steps),
        diagnostics=diag,
        seconds=nanmean([r.seconds for r in runs]),
    )


@dataclass
class Study:
    """All runs and how they were made; ``cells()`` aggregates them per config."""

    configs: list[RunConfig]
    results: list[RunResult]
    meta: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> dict[str, CellSummary]:
        """Config key -> summary, for every config that has runs, in the order of ``configs``."""
        by_key: dict[str, list[RunResult]] = {}
        for r in self.results:
            by_key.setdefault(r.key, []).append(r)
        return {c.key: summarize(c, by_key[c.key]) for c in self.configs if c.key in by_key}
