"""What the study concludes: each sweep at its chosen rate on the report seeds, with paired
contrasts to the controls at *their* best rate and at the *same* rate, over the short and the
long budget; the stale-weights maps; noise against sigma; rounding against resolution.

Inference: every contrast is a paired difference over the report seeds where neither run
failed, with a two-sided t-test; p-values are Holm-corrected within a family (one family per
kind of contrast, activation and budget, and one per section table); a difference within ±0.3
pp is claimed only when TOST shows it (``aggregate.EQUIVALENCE``), otherwise it is "not
distinguishable" at that n. Leaves out: how the tables are written (``report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from model.study.adaptive import SweepState, chosen_rate, sweep_state
from model.study.aggregate import CellSummary, Contrast, Study, paired
from model.study.plan import Entry, Grid, RunConfig, cell, options_of
from model.study.stats import holm

#: The contrasts of a sweep row: reference control and at which rate.
CONTRASTS = ("exact best", "exact equal", "shallow best", "shallow equal")
ALPHA = 0.05


@dataclass
class Judged:
    """A contrast with its Holm-adjusted p-value, and the words a claim may use."""

    contrast: Contrast
    p_holm: float = math.nan

    @property
    def verdict(self) -> str:
        """ "worse" / "better" (Holm p < 0.05), "within ±0.3 pp" (TOST), else "not distinguishable"."""
        d = self.contrast.diff
        if not math.isfinite(d.mean):
            return "—"
        if math.isfinite(self.p_holm) and self.p_holm < ALPHA:
            return "worse" if d.mean > 0 else "better"
        if self.contrast.equivalent:
            return "within ±0.3 pp"
        return f"not distinguishable (n={d.n})"


@dataclass
class SweepRow:
    """One sweep: its state, its selection runs per rate, its report cells and contrasts."""

    entry: Entry
    state: SweepState
    by_lr: dict[float, CellSummary]  # selection seeds, short budget
    report: dict[int, CellSummary] = field(default_factory=dict)  # epochs -> report seeds at the chosen rate
    contrasts: dict[tuple[str, int], Judged] = field(default_factory=dict)  # (contrast, epochs) -> judged

    @property
    def label(self) -> str:
        return self.entry.config(0.0, 0.0).label

    @property
    def variant(self) -> str:
        return self.entry.variant

    @property
    def activation(self) -> str:
        return self.entry.activation

    @property
    def question(self) -> str:
        return self.entry.config(0.0, 0.0).question

    @property
    def chosen(self) -> CellSummary | None:
        """The report cell at the short budget (what the main tables show)."""
        return self.report.get(min(self.report)) if self.report else None


def _control_entry(grid: Grid, entry: Entry, name: str) -> Entry:
    return Entry(name, (), entry.activation, entry.hidden)


def sweep(study: Study, grid: Grid, section: str | None = "sweep") -> list[SweepRow]:
    """Every entry of ``section`` (None: all), in the grid's order, with Holm within each family."""
    rows: list[SweepRow] = []
    for entry in grid.entries:
        if section is not None and entry.section != section:
            continue
        rows.append(_row(study, grid, entry))
    _holm(rows)
    return rows


def _row(study: Study, grid: Grid, entry: Entry) -> SweepRow:
    state = sweep_state(entry, grid, study.runs)
    by_lr: dict[float, CellSummary] = {}
    for lr in sorted(state.tried):
        c = study.cell(entry.config(lr, grid.momentum), grid.selection(), grid.short_epochs)
        if c is not None:
            by_lr[lr] = c
    row = SweepRow(entry, state, by_lr)
    if state.chosen is None:
        return row
    budgets = sorted({grid.short_epochs, grid.long_epochs if entry.long else grid.short_epochs})
    cfg = entry.config(state.chosen, grid.momentum)
    for epochs in budgets:
        mine = study.cell(cfg, grid.report(), epochs)
        if mine is None:
            continue
        row.report[epochs] = mine
        for name in entry.controls:
            control = _control_entry(grid, entry, name)
            best_lr = sweep_state(control, grid, study.runs).chosen
            rates: tuple[tuple[str, float | None], ...] = (("best", best_lr), ("equal", state.chosen))
            for where, ref_lr in rates:
                ref = (
                    None if ref_lr is None else study.cell(control.config(ref_lr, grid.momentum), grid.report(), epochs)
                )
                if ref is not None and ref.key != mine.key:
                    row.contrasts[(f"{name} {where}", epochs)] = Judged(paired(mine, ref))
    return row


def _holm(rows: Sequence[SweepRow]) -> None:
    """Holm within each family: one contrast kind at one activation, width and budget."""
    families: dict[tuple[str, str, int, int], list[Judged]] = {}
    for r in rows:
        for (name, epochs), j in r.contrasts.items():
            families.setdefault((name, r.activation, r.entry.hidden, epochs), []).append(j)
    for members in families.values():
        for j, p in zip(members, holm([j.contrast.p for j in members]), strict=True):
            j.p_holm = p


def judge_all(pairs: Sequence[tuple[CellSummary, CellSummary]]) -> list[Judged]:
    """Paired contrasts a - b of one family, Holm-corrected together."""
    judged = [Judged(paired(a, b)) for a, b in pairs]
    for j, p in zip(judged, holm([j.contrast.p for j in judged]), strict=True):
        j.p_holm = p
    return judged


def equal_rate_curve(
    study: Study, grid: Grid, a: Entry, b: Entry
) -> list[tuple[float, CellSummary, CellSummary, Judged]]:
    """``a`` against ``b`` at every rate both sweeps tried (selection seeds, short budget), Holm
    over the rates: the equal-rate contrast across the whole ladder."""
    both = []
    for lr in grid.ladder:
        ca = study.cell(a.config(lr, grid.momentum), grid.selection(), grid.short_epochs)
        cb = study.cell(b.config(lr, grid.momentum), grid.selection(), grid.short_epochs)
        if ca is not None and cb is not None:
            both.append((lr, ca, cb))
    judged = judge_all([(ca, cb) for _, ca, cb in both])
    return [(lr, ca, cb, j) for (lr, ca, cb), j in zip(both, judged, strict=True)]


# ---- sections ----------------------------------------------------------------------------
@dataclass
class MapCell:
    """One stale cell against exact backprop at the same (lr, momentum), section seeds."""

    summary: CellSummary
    vs_exact: Judged | None


def _judge_table(table: dict[Any, dict[Any, MapCell]], ref: Any) -> None:
    """Fill ``vs_exact`` of every cell of ``table`` (row -> column -> cell) against
    ``ref(row, column)`` (a CellSummary or None), Holm over the whole table as one family."""
    where, pairs = [], []
    for row, cols in table.items():
        for col, m in cols.items():
            r = ref(row, col)
            if r is not None and r is not m.summary:
                where.append((row, col))
                pairs.append((m.summary, r))
    for (row, col), j in zip(where, judge_all(pairs), strict=True):
        table[row][col] = replace(table[row][col], vs_exact=j)


def stale_map(study: Study, grid: Grid) -> dict[tuple[str, float], dict[float, dict[int, MapCell]]]:
    """(kind, momentum) -> effective step -> k -> cell (k = 0: exact backprop), Holm per (kind, momentum)."""
    out: dict[tuple[str, float], dict[float, dict[int, MapCell]]] = {}
    seeds, epochs = grid.sections(), grid.short_epochs
    for kind in grid.stale_kinds:
        for mu in grid.stale_momenta:
            table: dict[float, dict[int, MapCell]] = {}
            for step in grid.stale_steps:
                lr = round(step * (1 - mu), 10)
                configs = {0: cell("exact", {}, lr, mu, "relu")}
                configs.update({k: cell(kind, {"stale_k": k}, lr, mu, "relu") for k in grid.stale_ks})
                found = {k: study.cell(c, seeds, epochs) for k, c in configs.items()}
                table[step] = {k: MapCell(c, None) for k, c in found.items() if c is not None}
            _judge_table(table, lambda step, k, table=table: table[step][0].summary if 0 in table[step] else None)
            out[(kind, mu)] = table
    return out


def sigma_table(study: Study, grid: Grid, activation: str) -> tuple[float | None, dict[str, dict[float, MapCell]]]:
    """Exact backprop's chosen rate and, at it: noise variant label -> sigma -> cell (sigma 0: exact),
    each against exact backprop (Holm over the whole table)."""
    lr, exact = _exact_at_its_rate(study, grid, activation)
    if lr is None:
        return None, {}
    table: dict[str, dict[float, MapCell]] = {}
    for variant, options in grid.noise_variants:
        row: dict[float, MapCell] = {} if exact is None else {0.0: MapCell(exact, None)}
        for sigma in grid.noise_sigmas:
            opts = options_of({**dict(options), "sigma": sigma})
            c = study.cell(RunConfig(variant, opts, lr, grid.momentum, activation), grid.sections(), grid.short_epochs)
            if c is not None:
                row[sigma] = MapCell(c, None)
        table[RunConfig(variant, options).label] = row
    _judge_table(table, lambda row, col: exact)
    return lr, table


def rounding_table(study: Study, grid: Grid, activation: str) -> tuple[float | None, dict[str, dict[int, MapCell]]]:
    """Exact backprop's chosen rate and, at it: rounding variant label -> bits -> cell, against
    exact backprop (Holm over the table); round-grad rows by grad_bits."""
    lr, exact = _exact_at_its_rate(study, grid, activation)
    if lr is None:
        return None, {}
    table: dict[str, dict[int, MapCell]] = {}
    for c in grid.rounding_cells(activation, lr):
        s = study.cell(c, grid.sections(), grid.short_epochs)
        if s is None:
            continue
        bits = c.option("grad_bits") if c.variant == "round-grad" else c.option("round_bits", 0)
        label = RunConfig(c.variant, tuple(o for o in c.options if o[0] not in ("round_bits", "grad_bits"))).label
        if c.option("round_mode", "nearest") == "nearest" and c.variant != "round-grad":
            label += " nearest"
        table.setdefault(label, {})[bits] = MapCell(s, None)
    _judge_table(table, lambda row, col: exact)
    return lr, table


def _exact_at_its_rate(study: Study, grid: Grid, activation: str) -> tuple[float | None, CellSummary | None]:
    """Exact backprop's chosen rate at ``activation`` and its cell there (section seeds, short budget)."""
    lr = chosen_rate(grid, study.runs, "exact", activation)
    if lr is None:
        return None, None
    return lr, study.cell(cell("exact", {}, lr, grid.momentum, activation), grid.sections(), grid.short_epochs)
