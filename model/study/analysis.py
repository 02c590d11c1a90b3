"""What the study concludes: each variant at the learning rate chosen on validation, with the
controls and paired differences; the stale-weights stability map; noise as sigma -> 0.

Rules: a cell "diverged" if any seed's run was stopped by the trainer's divergence rule. The
chosen learning rate of a variant is the one with the lowest mean validation error among the
rates where no seed diverged (if every rate diverged, the lowest mean validation error, flagged).
Test error is reported at the chosen rate; the paired difference to exact backprop compares each
seed with exact backprop's run of the same seed at exact backprop's own chosen rate.
Leaves out: how the tables are written (``report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.study.aggregate import CellSummary, Interval, paired
from model.study.plan import Grid, RunConfig, cell


@dataclass
class SweepRow:
    """One variant at one activation over the learning rates of the sweep."""

    label: str
    variant: str
    question: str
    activation: str
    by_lr: dict[float, CellSummary]
    chosen: CellSummary | None
    all_diverged: bool
    vs_exact: Interval  # paired test-error difference to exact backprop (fraction)
    vs_shallow: Interval  # paired difference to the shallow control

    @property
    def diverged_lrs(self) -> list[float]:
        return [lr for lr, c in self.by_lr.items() if c.diverged]


def _sweep_cells(grid: Grid, activation: str, variant: str, options: dict[str, Any]) -> list[RunConfig]:
    return [cell(variant, options, lr, grid.momentum, activation) for lr in grid.lrs]


def choose(cells: Sequence[CellSummary]) -> tuple[CellSummary | None, bool]:
    """The cell with the lowest mean validation error among those with no divergence; and
    whether every cell diverged (then the lowest validation error overall is returned)."""
    stable = [c for c in cells if not c.diverged and math.isfinite(c.valid.mean)]
    pool, all_div = (stable, False) if stable else ([c for c in cells if math.isfinite(c.valid.mean)], True)
    return (min(pool, key=lambda c: c.valid.mean) if pool else None), all_div


def sweep(cells: dict[str, CellSummary], grid: Grid) -> list[SweepRow]:
    """Every sweep variant at every activation, in the grid's order."""
    rows: list[SweepRow] = []
    for act in grid.activations:
        chosen_controls: dict[str, CellSummary | None] = {}
        for name in ("exact", "shallow"):
            found = [cells[c.key] for c in _sweep_cells(grid, act, name, {}) if c.key in cells]
            chosen_controls[name] = choose(found)[0]
        for variant, options in grid.sweep_variants:
            configs = _sweep_cells(grid, act, variant, options)
            by_lr = {c.lr: cells[c.key] for c in configs if c.key in cells}
            if not by_lr:
                continue
            best, all_div = choose(list(by_lr.values()))
            exact, shallow = chosen_controls["exact"], chosen_controls["shallow"]
            nan = Interval(math.nan, math.nan, 0)
            rows.append(
                SweepRow(
                    label=configs[0].label,
                    variant=variant,
                    question=configs[0].question,
                    activation=act,
                    by_lr=by_lr,
                    chosen=best,
                    all_diverged=all_div,
                    vs_exact=paired(best, exact) if best and exact else nan,
                    vs_shallow=paired(best, shallow) if best and shallow else nan,
                )
            )
    return rows


def stale_map(cells: dict[str, CellSummary], grid: Grid) -> dict[float, dict[float, dict[int, CellSummary]]]:
    """momentum -> lr -> k -> cell (k = 0 is exact backprop at that lr and momentum)."""
    out: dict[float, dict[float, dict[int, CellSummary]]] = {}
    for mu in grid.stale_momenta:
        for lr in grid.stale_lrs:
            row: dict[int, CellSummary] = {}
            exact = cell("exact", {}, lr, mu, "relu")
            if exact.key in cells:
                row[0] = cells[exact.key]
            for k in grid.stale_ks:
                c = cell("stale", {"stale_k": k}, lr, mu, "relu")
                if c.key in cells:
                    row[k] = cells[c.key]
            out.setdefault(mu, {})[lr] = row
    return out


def equal_steps(grid: Grid) -> dict[float, list[tuple[float, float]]]:
    """Effective step lr / (1 - momentum) -> the (lr, momentum) pairs of the stale map that share it
    (only steps reached by at least two pairs)."""
    by_step: dict[float, list[tuple[float, float]]] = {}
    for mu in grid.stale_momenta:
        for lr in grid.stale_lrs:
            by_step.setdefault(round(lr / (1 - mu), 6), []).append((lr, mu))
    return {s: pairs for s, pairs in sorted(by_step.items()) if len(pairs) > 1}


def noise(cells: dict[str, CellSummary], grid: Grid) -> dict[float, dict[str, dict[float, CellSummary]]]:
    """lr -> noise variant -> sigma -> cell (sigma 0 is exact backprop)."""
    modes = [v for v, _ in grid.sweep_variants if v.startswith("noise-")]
    out: dict[float, dict[str, dict[float, CellSummary]]] = {}
    for lr in grid.noise_lrs:
        exact = cells.get(cell("exact", {}, lr, grid.momentum, "relu").key)
        for mode in modes:
            row = {0.0: exact} if exact is not None else {}
            for s in grid.noise_sigmas:
                c = cell(mode, {"sigma": s}, lr, grid.momentum, "relu")
                if c.key in cells:
                    row[s] = cells[c.key]
            out.setdefault(lr, {})[mode] = row
    return out


def grid_from_meta(meta: dict[str, Any]) -> Grid:
    """The Grid a study's meta recorded (``results.json`` carries it)."""
    g = dict(meta["grid"])
    for name in ("lrs", "activations", "stale_lrs", "stale_momenta", "stale_ks", "noise_lrs", "noise_sigmas"):
        g[name] = tuple(g.get(name, ()))
    g["sweep_variants"] = tuple((v, dict(o)) for v, o in g["sweep_variants"])
    g.pop("extra", None)
    return Grid(**g)
