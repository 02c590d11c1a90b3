"""Aggregates over seeds: one ``ConfigSummary`` per config of a ``Study``.

Test error mean ± sample std over seeds, final training loss, mean alignment angle per
layer (over the run and over its last epoch), time, divergences and the mean validation
curve. Leaves out: how the runs were made and how the summaries are written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.study.plan import RunConfig
from model.study.records import LAYERS, RunResult, nanmean


@dataclass
class ConfigSummary:
    """Aggregate over the seeds of one config (a line of the results table)."""

    question: str
    label: str
    variant: str
    seeds: int
    test_error_mean: float
    test_error_std: float
    final_test_error: float  # mean over seeds of the last epoch's test error
    train_loss: float
    angles: dict[str, float]  # mean over the runs' probes
    angles_last: dict[str, float]  # mean over the last epoch's probes
    seconds: float
    diverged: int
    valid_curve: list[float]  # mean over seeds, per epoch


@dataclass
class Study:
    """All runs and how they were made; ``rows()`` aggregates them per config."""

    configs: list[RunConfig]
    results: list[RunResult]
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[ConfigSummary]:
        """One summary per config that has runs, in the order of ``configs``."""
        rows = []
        for cfg in self.configs:
            runs = [r for r in self.results if r.label == cfg.label]
            if runs:
                rows.append(summarize(cfg, runs))
        return rows


def summarize(cfg: RunConfig, runs: list[RunResult]) -> ConfigSummary:
    """Aggregate the runs (one per seed, at least one) of ``cfg``."""
    errs = np.array([r.test_error for r in runs])
    n_epochs = max(len(r.valid_curve) for r in runs)
    curves = np.full((len(runs), n_epochs), np.nan)  # (seeds, epochs)
    for i, r in enumerate(runs):
        curves[i, : len(r.valid_curve)] = r.valid_curve
    return ConfigSummary(
        question=cfg.question,
        label=cfg.label,
        variant=cfg.variant,
        seeds=len(runs),
        test_error_mean=float(errs.mean()),
        test_error_std=float(errs.std(ddof=1)) if len(runs) > 1 else 0.0,
        final_test_error=nanmean([r.final_test_error for r in runs]),
        train_loss=nanmean([r.train_loss for r in runs]),
        angles={k: nanmean([r.angles.get(k, math.nan) for r in runs]) for k in LAYERS},
        angles_last={k: nanmean([r.angles_by_epoch[k][-1] for r in runs]) for k in LAYERS},
        seconds=float(np.mean([r.seconds for r in runs])),
        diverged=sum(r.diverged for r in runs),
        valid_curve=[nanmean(list(col)) for col in curves.T],
    )
