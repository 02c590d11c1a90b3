"""The tables of results.md, one function per section, each a list of Markdown lines.

Numbers are percent (errors) and percentage points (differences); a difference carries its mark:
``*`` Holm-adjusted p < 0.05, ``≈`` within ±0.3 pp by TOST, nothing: not distinguishable.
Leaves out: the analysis (``analysis.py``) and the file around the tables (``report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from model.study import analysis
from model.study.aggregate import CellSummary, Interval, Study
from model.study.analysis import Judged, MapCell, SweepRow
from model.study.plan import Entry, Grid

NA = "—"


# ---- formatting ------------------------------------------------------------------------------
def pct(i: Interval, ci: bool = True) -> str:
    """ "2.31 ± 0.12" (percent, 95% half-width) or "—"."""
    if not math.isfinite(i.mean):
        return NA
    if ci and math.isfinite(i.half):
        return f"{100 * i.mean:.2f} ± {100 * i.half:.2f}"
    return f"{100 * i.mean:.2f}"


def mark(j: Judged) -> str:
    if math.isfinite(j.p_holm) and j.p_holm < analysis.ALPHA:
        return "*"
    return "≈" if j.contrast.equivalent else ""


def delta(j: Judged | None, ci: bool = True) -> str:
    """A paired difference in percentage points with its mark, e.g. "+1.83 ± 0.70*"."""
    if j is None or not math.isfinite(j.contrast.diff.mean):
        return NA
    d = j.contrast.diff
    half = f" ± {100 * d.half:.2f}" if ci and math.isfinite(d.half) else ""
    return f"{100 * d.mean:+.2f}{half}{mark(j)}"


def num(x: float, fmt: str = "{:.1f}") -> str:
    return fmt.format(x) if math.isfinite(x) else NA


def failed(c: CellSummary | None) -> str:
    return NA if c is None else f"{c.failed}/{c.seeds}"


def cell_text(c: CellSummary | None, ci: bool = False) -> str:
    """A cell's test error %, with its failures; "failed n/n" when every seed failed."""
    if c is None:
        return ""
    if c.all_failed:
        return f"failed {c.failed}/{c.seeds}"
    return pct(c.test, ci) + (f" ({c.failed}/{c.seeds} failed)" if c.failed else "")


def lr_text(lr: float | None, mu: float) -> str:
    return NA if lr is None else f"{lr:g} ({lr / (1 - mu):.3g})"


def stable_text(row: SweepRow) -> str:
    top, bounded = row.state.stable_range
    if top is None:
        return "none"
    return f"{top:g}" if bounded else f"≥ {top:g}"


# ---- 1. the sweeps ---------------------------------------------------------------------------
def sweep_tables(rows: Sequence[SweepRow], grid: Grid) -> list[str]:
    out: list[str] = []
    s, lng = grid.short_epochs, grid.long_epochs
    for act in grid.activations:
        mine = [r for r in rows if r.activation == act and r.entry.section == "sweep"]
        if not mine:
            continue
        out += [
            f"### {act}: {s} epochs (grid `{grid.name}`)",
            "",
            "| Q | variant | chosen lr (step) | stable up to | test % (95% CI) | failed | Δ exact, best | "
            "Δ exact, equal | Δ shallow, best | Δ shallow, equal |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            c = r.report.get(s)
            where = lr_text(r.state.chosen, grid.momentum) + (f" ({r.state.edge})" if r.state.edge else "")
            out.append(
                f"| {r.question} | {r.label} | {where} | {stable_text(r)} | {pct(c.test) if c else NA} | {failed(c)} | "
                + " | ".join(delta(r.contrasts.get((k, s))) for k in analysis.CONTRASTS)
                + " |"
            )
        out.append("")
        longs = [r for r in mine if lng in r.report and lng != s]
        if longs:
            out += [
                f"{act}, the long budget: the same report seeds at {lng} epochs, at the rate chosen at {s}.",
                "",
                f"| variant | test % at {s} | test % at {lng} | failed at {lng} | Δ exact, best, at {lng} "
                f"| Δ exact, equal, at {lng} | Δ shallow, equal, at {lng} | Δ exact (best) {s} → {lng} |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for r in longs:
                a, b = r.report.get(s), r.report[lng]
                change = _change(r.contrasts.get(("exact best", s)), r.contrasts.get(("exact best", lng)))
                out.append(
                    f"| {r.label} | {pct(a.test) if a else NA} | {pct(b.test)} | {failed(b)} "
                    f"| {delta(r.contrasts.get(('exact best', lng)))} | {delta(r.contrasts.get(('exact equal', lng)))} "
                    f"| {delta(r.contrasts.get(('shallow equal', lng)))} | {change} |"
                )
            out.append("")
        out += _per_rate(mine, grid, act)
    return out


def _change(a: Judged | None, b: Judged | None) -> str:
    if a is None or b is None:
        return NA
    x, y = a.contrast.diff.mean, b.contrast.diff.mean
    return NA if not (math.isfinite(x) and math.isfinite(y)) else f"{100 * x:+.2f} → {100 * y:+.2f}"


def _per_rate(rows: Sequence[SweepRow], grid: Grid, act: str) -> list[str]:
    lrs = sorted({lr for r in rows for lr in r.by_lr})
    out = [
        f"{act}: validation error % at every rate tried (selection seeds, {grid.short_epochs} epochs; "
        "**bold**: chosen; 'failed f/n': seeds that failed there)",
        "",
        "| variant | " + " | ".join(lr_text(lr, grid.momentum) for lr in lrs) + " |",
        "|---|" + "---|" * len(lrs),
    ]
    for r in rows:
        cells = []
        for lr in lrs:
            c = r.by_lr.get(lr)
            if c is None:
                cells.append("")
                continue
            text = f"failed {c.failed}/{c.seeds}" if c.all_failed else pct(c.valid, ci=False)
            if c.failed and not c.all_failed:
                text += f" ({c.failed}/{c.seeds} failed)"
            cells.append(f"**{text}**" if lr == r.state.chosen else text)
        out.append(f"| {r.label} | " + " | ".join(cells) + " |")
    return [*out, ""]


# ---- 2. equal-rate contrasts -------------------------------------------------------------------
EQUAL_RATE = (
    ("feedback-redrawn", "shallow"),
    ("random-h-both-redrawn", "shallow"),
    ("random-h-both-example", "shallow"),
    ("random-h-both-once", "shallow"),
    ("stale", "exact"),
    ("stale-gradient", "exact"),
)


def equal_rate_tables(study: Study, grid: Grid) -> list[str]:
    out = [
        f"Each contrast at every rate both sweeps tried (selection seeds, {grid.short_epochs} epochs, Holm over the "
        "rates of one row). The report-seed contrasts at the chosen rate are in section 1 (*equal* columns).",
        "",
    ]
    for act in grid.activations:
        pairs = []
        for variant, control in EQUAL_RATE:
            a = next(
                (e for e in grid.entries if e.variant == variant and e.activation == act and e.section == "sweep"), None
            )
            b = Entry(control, (), act)
            if a is not None:
                pairs.append((a, b, analysis.equal_rate_curve(study, grid, a, b)))
        lrs = sorted({lr for _, _, curve in pairs for lr, *_ in curve})
        if not lrs:
            continue
        out += [
            f"{act}: Δ test error, variant − control, pp",
            "",
            "| contrast | " + " | ".join(lr_text(lr, grid.momentum) for lr in lrs) + " |",
            "|---|" + "---|" * len(lrs),
        ]
        for a, b, curve in pairs:
            at = {lr: (ca, cb, j) for lr, ca, cb, j in curve}
            cells = []
            for lr in lrs:
                if lr not in at:
                    cells.append("")
                    continue
                ca, cb, j = at[lr]
                if ca.all_failed or cb.all_failed:
                    cells.append(f"failed {ca.failed}/{ca.seeds} vs {cb.failed}/{cb.seeds}")
                else:
                    extra = f" ({ca.failed}/{ca.seeds} failed)" if ca.failed else ""
                    cells.append(delta(j, ci=True) + extra)
            name = a.config(0.0, 0.0).label
            out.append(f"| {name} − {b.variant} | " + " | ".join(cells) + " |")
        out.append("")
    return out


# ---- 3. stale -----------------------------------------------------------------------------------
def _map_cell(m: MapCell | None) -> str:
    """A section cell: test error % (failures counted apart); after ';' the paired difference to
    exact backprop with its 95% interval and mark."""
    if m is None:
        return ""
    c = m.summary
    if c.all_failed:
        return f"failed {c.failed}/{c.seeds}"
    text = pct(c.test, ci=False) + (f" ({c.failed}/{c.seeds} failed)" if c.failed else "")
    return text + (f"; {delta(m.vs_exact)}" if m.vs_exact is not None else "")


def stale_tables(study: Study, grid: Grid) -> list[str]:
    smap = analysis.stale_map(study, grid)
    if not smap:
        return []
    names = {"stale": "stale feedback (W2 of k steps ago carries the delta back)",
             "stale-gradient": "stale gradient (the whole gradient at the weights of k steps ago)"}  # fmt: skip
    out = [
        f"Test error % over report seeds {_seeds(grid.sections())} at {grid.short_epochs} epochs; after ';' the "
        "paired difference to exact backprop (k = 0) at the same lr and μ, pp ± 95% interval (Holm over each table).",
        "",
    ]
    for (kind, mu), table in smap.items():
        steps = list(table)
        out += [
            f"{names.get(kind, kind)}, momentum {mu:g}",
            "",
            "| k | " + " | ".join(f"step {s:g} (lr {s * (1 - mu):.3g})" for s in steps) + " |",
            "|---|" + "---|" * len(steps),
        ]
        for k in (0, *grid.stale_ks):
            out.append(f"| {k} | " + " | ".join(_map_cell(table[s].get(k)) for s in steps) + " |")
        out.append("")
    return out


def _seeds(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 2 else ", ".join(map(str, seeds))


# ---- 4. feedback alignment -----------------------------------------------------------------------
def feedback_tables(study: Study, grid: Grid, main: Sequence[SweepRow]) -> list[str]:
    out: list[str] = []
    s = grid.short_epochs
    scale = analysis.sweep(study, grid, section="scale")
    base = [r for r in main if r.activation == "relu" and r.variant in ("feedback-fixed", "feedback-sign")]
    if scale or base:
        out += [
            f"Scale of B (feedback drawn N(0, scale²/H)); report seeds, {s} epochs, {grid.hidden} units.",
            "",
            "| variant | chosen lr (step) | stable up to | test % | failed | Δ exact, best | Δ exact, equal "
            "| ∠W1 ° (end) | ∠(W2, B) ° (end) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in [*base, *scale]:
            c = r.report.get(s)
            out.append(
                f"| {r.label} | {lr_text(r.state.chosen, grid.momentum)} | {stable_text(r)} | "
                f"{pct(c.test) if c else NA} | {failed(c)} | {delta(r.contrasts.get(('exact best', s)))} | "
                f"{delta(r.contrasts.get(('exact equal', s)))} | {num(c.last('angle_W1').mean) if c else NA} | "
                f"{num(c.last('feedback_angle').mean) if c else NA} |"
            )
        out.append("")
    width = analysis.sweep(study, grid, section="width")
    main_relu = {r.variant: r for r in main if r.activation == "relu"}
    if width:
        hs = sorted({r.entry.hidden for r in width} | {grid.hidden})
        out += [
            f"Width: each variant's rate chosen per width on the selection seeds; report seeds, {s} epochs. "
            "Δ: to exact backprop at the same width, at exact's own chosen rate (best) and at this variant's (equal).",
            "",
            "| hidden units | exact: lr, test % | feedback-fixed: lr, test % | Δ best | Δ equal "
            "| feedback-sign: lr, test % | Δ best | Δ equal |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for h in hs:
            rows = {r.variant: r for r in width if r.entry.hidden == h} if h != grid.hidden else main_relu

            def part(v: str, rows: dict[str, SweepRow] = rows) -> str:
                r = rows.get(v)
                c = r.report.get(s) if r else None
                return NA if r is None or c is None else f"{r.state.chosen:g}, {pct(c.test)}"

            def d(v: str, k: str, rows: dict[str, SweepRow] = rows) -> str:
                r = rows.get(v)
                return delta(r.contrasts.get((k, s))) if r else NA

            out.append(
                f"| {h} | {part('exact')} | {part('feedback-fixed')} | {d('feedback-fixed', 'exact best')} | "
                f"{d('feedback-fixed', 'exact equal')} | {part('feedback-sign')} | "
                f"{d('feedback-sign', 'exact best')} | {d('feedback-sign', 'exact equal')} |"
            )
        out.append("")
    return out


# ---- 5. noise -----------------------------------------------------------------------------------
def noise_tables(study: Study, grid: Grid) -> list[str]:
    out: list[str] = []
    for act in grid.noise_activations:
        lr, table = analysis.sigma_table(study, grid, act)
        if lr is None or not table:
            continue
        sigmas = (0.0, *grid.noise_sigmas)
        out += [
            f"{act} at exact backprop's chosen rate lr {lr:g} (μ {grid.momentum:g}), report seeds "
            f"{_seeds(grid.sections())}, {grid.short_epochs} epochs: test error % of the clean net; after ';' Δ to "
            "exact backprop (σ = 0), pp ± 95% interval (Holm over the table); [∠W1 ° at the end]",
            "",
            "| variant | " + " | ".join(f"σ={x:g}" for x in sigmas) + " |",
            "|---|" + "---|" * len(sigmas),
        ]
        for label, row in table.items():
            cells = []
            for x in sigmas:
                m = row.get(x)
                cells.append("" if m is None else f"{_map_cell(m)} [{num(m.summary.last('angle_W1').mean)}]")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return out


# ---- 6. rounding --------------------------------------------------------------------------------
def rounding_tables(study: Study, grid: Grid) -> list[str]:
    out: list[str] = []
    for act in grid.round_activations:
        lr, table = analysis.rounding_table(study, grid, act)
        if lr is None or not table:
            continue
        hidden = {k: v for k, v in table.items() if not k.startswith("round-grad")}
        grad = {k: v for k, v in table.items() if k.startswith("round-grad")}
        if hidden:
            bits = sorted({b for row in hidden.values() for b in row})
            out += [
                f"{act}, h rounded to multiples of 2^-b, at exact backprop's rate lr {lr:g}; test error %; after ';' Δ "
                "to exact backprop, pp ± 95% interval (Holm over the table). round-forward-dw is the straight-through "
                "estimator.",
                "",
                "| variant | " + " | ".join(f"b={b} (step {2.0**-b:g})" for b in bits) + " |",
                "|---|" + "---|" * len(bits),
            ]
            out += [f"| {k} | " + " | ".join(_map_cell(row.get(b)) for b in bits) + " |" for k, row in hidden.items()]
            out.append("")
        if grad:
            bits = sorted({b for row in grad.values() for b in row})
            out += [
                f"{act}, every gradient rounded to multiples of 2^-b, at lr {lr:g}; test error %; after ';' Δ to exact "
                "backprop, pp ± 95% interval (Holm over the table).",
                "",
                "| rounding | " + " | ".join(f"b={b}" for b in bits) + " |",
                "|---|" + "---|" * len(bits),
            ]
            out += [f"| {k} | " + " | ".join(_map_cell(row.get(b)) for b in bits) + " |" for k, row in grad.items()]
            out.append("")
    return out


# ---- 7. random h --------------------------------------------------------------------------------
def random_h_table(rows: Sequence[SweepRow]) -> list[str]:
    mine = [r for r in rows if r.variant.startswith("random-h-")]
    if not mine:
        return []
    out = [
        "Each draw at its own chosen rate (report seeds, short budget). 'fixed': one draw per batch row; "
        "'redrawn': every step; 'example': one per training example; 'once': one vector for every example and step.",
        "",
        "| activation | variant | chosen lr | test % | Δ shallow, best | Δ shallow, equal | Δ exact, best "
        "| ∠W1 ° (end) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in mine:
        c = r.chosen
        e = min(r.report) if r.report else 0
        out.append(
            f"| {r.activation} | {r.label} | {NA if r.state.chosen is None else f'{r.state.chosen:g}'} | "
            f"{pct(c.test) if c else NA} | {delta(r.contrasts.get(('shallow best', e)))} | "
            f"{delta(r.contrasts.get(('shallow equal', e)))} | {delta(r.contrasts.get(('exact best', e)))} | "
            f"{num(c.last('angle_W1').mean) if c else NA} |"
        )
    return [*out, ""]


# ---- 8, 9 ------------------------------------------------------------------------------------------
def perturbed_table(rows: Sequence[SweepRow]) -> list[str]:
    out = [
        "| activation | variant | chosen lr | clean net test % | as trained test % | as trained − clean, pp |",
        "|---|---|---|---|---|---|",
    ]
    n = 0
    for r in rows:
        c = r.chosen
        if c is None or not math.isfinite(c.as_trained.mean):
            continue
        n += 1
        diff = (c.as_trained.mean - c.test.mean) * 100
        out.append(
            f"| {r.activation} | {r.label} | {c.config.lr:g} | {pct(c.test)} | {pct(c.as_trained)} | {diff:+.2f} |"
        )
    return [*out, ""] if n else []


def diagnostics_table(rows: Sequence[SweepRow]) -> list[str]:
    out = [
        "| activation | variant | epochs | ∠W1 ° | ∠W2 ° | ∠(W2, B) ° | stale gap | dead units % "
        "| ‖W1−W1(0)‖/‖W1(0)‖ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r.report:
            continue
        c = r.report[max(r.report)]
        out.append(
            f"| {r.activation} | {r.label} | {c.epochs} | {num(c.last('angle_W1').mean)} "
            f"| {num(c.last('angle_W2').mean)} "
            f"| {num(c.last('feedback_angle').mean)} | {num(c.last('stale_gap').mean, '{:.3f}')} "
            f"| {num(100 * c.last('dead_fraction').mean)} | {num(c.last('w1_drift').mean, '{:.3f}')} |"
        )
    return [*out, ""]
