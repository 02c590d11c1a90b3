"""The study's files: results.json (meta, grid, one summary per cell, every run) and results.md.

``to_json``/``from_json`` round-trip a ``Study`` (NaN saved as null, so the file is strict JSON);
``markdown`` writes how the study was run and its tables: each variant at its chosen learning
rate with the controls and paired differences, the stability of every rate, the stale-weights
map, noise as sigma -> 0, clean vs as-trained nets, and the diagnostics. Figures are drawn
elsewhere (``tui.study_figures``) and only linked here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from model.study import analysis
from model.study.aggregate import CellSummary, Interval, Study
from model.study.plan import Grid, RunConfig
from model.study.records import RunResult
from model.study.store import finite

DIVERGENCE_RULE = (
    "A run counts as diverged when the trainer's divergence rule stopped it: a minibatch loss that is "
    "not finite or above 1000 nats, or a running mean loss (weighted over about the last 256 examples) "
    "above 10·ln 10 ≈ 23 nats; the update is then refused, the last good weights are restored and the run ends there."
)


def to_json(study: Study) -> dict[str, Any]:
    """A JSON-able dict: meta (with the grid), one summary per cell, every run."""
    return {
        "meta": study.meta,
        "cells": [c.to_dict() for c in study.cells().values()],
        "runs": [r.to_dict() for r in study.results],
    }


def from_json(saved: dict[str, Any]) -> Study:
    """Rebuild a Study from ``to_json``'s dict (e.g. to redraw results.md without training)."""
    results = [RunResult.from_dict(r) for r in saved["runs"]]
    configs = [
        RunConfig(c["variant"], c["sigma"], c["stale_k"], c["lr"], c["momentum"], c["activation"])
        for c in saved["cells"]
    ]
    return Study(configs, results, dict(saved["meta"]))


def compact_json(saved: dict[str, Any]) -> str:
    """Strict JSON, one line per cell and per run, so the file stays small and diffs by line."""
    saved = finite(saved, digits=5)  # 5 significant digits: an error on 10,000 images has 4
    lines = ["{", f' "meta": {json.dumps(saved["meta"], ensure_ascii=False)},']
    for name in ("cells", "runs"):
        items = saved[name]
        lines.append(f' "{name}": [')
        lines += [f"  {json.dumps(x, ensure_ascii=False, separators=(',', ':'))}," for x in items[:-1]]
        lines += [f"  {json.dumps(x, ensure_ascii=False, separators=(',', ':'))}" for x in items[-1:]]
        lines.append(" ]," if name == "cells" else " ]")
    return "\n".join([*lines, "}"]) + "\n"


def grid_meta(grid: Grid) -> dict[str, Any]:
    d = asdict(grid)
    d["sweep_variants"] = [[v, o] for v, o in grid.sweep_variants]
    return d


# ---- formatting ------------------------------------------------------------------------------
def pct(i: Interval, ci: bool = True) -> str:
    """ "2.31 ± 0.12" (percent, 95% half-width) or "—"."""
    if not math.isfinite(i.mean):
        return "—"
    if ci and math.isfinite(i.half):
        return f"{100 * i.mean:.2f} ± {100 * i.half:.2f}"
    return f"{100 * i.mean:.2f}"


def delta(i: Interval) -> str:
    """A paired difference in percentage points, starred when its interval excludes 0."""
    if not math.isfinite(i.mean):
        return "—"
    star = "*" if i.excludes_zero else ""
    half = f" ± {100 * i.half:.2f}" if math.isfinite(i.half) else ""
    return f"{100 * i.mean:+.2f}{half}{star}"


def _num(x: float, fmt: str = "{:.1f}") -> str:
    return fmt.format(x) if math.isfinite(x) else "—"


def _cell_text(c: CellSummary | None) -> str:
    """A stability-table cell: test error %, with the divergences."""
    if c is None:
        return ""
    if c.diverged == c.seeds:
        return f"div {c.diverged}/{c.seeds}"
    text = pct(c.test, ci=False)
    return text + (f" ({c.diverged}/{c.seeds} div)" if c.diverged else "")


def _lr_head(lr: float, mu: float) -> str:
    return f"lr {lr:g} (step {lr / (1 - mu):.3g})"


def sweep_tables(rows: Sequence[analysis.SweepRow], grid: Grid) -> list[str]:
    out: list[str] = []
    for act in grid.activations:
        mine = [r for r in rows if r.activation == act]
        if not mine:
            continue
        out += [
            f"### {act}",
            "",
            "| Q | variant | chosen lr (step) | valid % | test % (95% CI) | Δ vs exact, pp | Δ vs shallow, pp "
            "| as trained % | ∠W1 ° | dead % | diverged at lr |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            c = r.chosen
            if c is None:
                continue
            lr = _lr_head(c.config.lr, c.config.momentum) + (" (all diverged)" if r.all_diverged else "")
            div = ", ".join(f"{x:g}" for x in r.diverged_lrs) or "none"
            out.append(
                f"| {r.question} | {r.label} | {lr} | {pct(c.valid, ci=False)} | {pct(c.test)} | {delta(r.vs_exact)} "
                f"| {delta(r.vs_shallow)} | {pct(c.as_trained, ci=False)} | {_num(_mean_angle(c))} "
                f"| {_num(100 * c.last('dead_fraction').mean)} | {div} |"
            )
        out += ["", f"Test error % at every learning rate ({act}; momentum {grid.momentum:g}):", ""]
        out += [
            "| variant | " + " | ".join(_lr_head(lr, grid.momentum) for lr in grid.lrs) + " |",
            "|---|" + "---|" * len(grid.lrs),
        ]
        for r in mine:
            out.append(f"| {r.label} | " + " | ".join(_cell_text(r.by_lr.get(lr)) for lr in grid.lrs) + " |")
        out.append("")
    return out


def _mean_angle(c: CellSummary) -> float:
    values = [i.mean for i in c.diagnostics.get("angle_W1", []) if math.isfinite(i.mean)]
    return sum(values) / len(values) if values else math.nan


def stale_tables(cells: dict[str, CellSummary], grid: Grid) -> list[str]:
    smap = analysis.stale_map(cells, grid)
    if not any(any(row for row in by_lr.values()) for by_lr in smap.values()):
        return []
    out: list[str] = []
    for mu, by_lr in smap.items():
        out += [
            f"Momentum {mu:g}: test error % (k = 0 is exact backprop)",
            "",
            "| k | " + " | ".join(_lr_head(lr, mu) for lr in by_lr) + " |",
            "|---|" + "---|" * len(by_lr),
        ]
        for k in (0, *grid.stale_ks):
            out.append(f"| {k} | " + " | ".join(_cell_text(row.get(k)) for row in by_lr.values()) + " |")
        out.append("")
    steps = analysis.equal_steps(grid)
    if steps:
        out += ["At equal effective step lr/(1−μ) (test error %, k = 0 / 10 / 100):", ""]
        out += ["| step | lr, μ | k=0 | k=10 | k=100 |", "|---|---|---|---|---|"]
        for step, pairs in steps.items():
            for lr, mu in pairs:
                row = smap.get(mu, {}).get(lr, {})
                out.append(
                    f"| {step:g} | {lr:g}, {mu:g} | {_cell_text(row.get(0))} | {_cell_text(row.get(10))} "
                    f"| {_cell_text(row.get(100))} |"
                )
        out.append("")
    return out


def noise_tables(cells: dict[str, CellSummary], grid: Grid) -> list[str]:
    table = analysis.noise(cells, grid)
    out: list[str] = []
    sigmas = (0.0, *grid.noise_sigmas)
    for lr, modes in table.items():
        if not any(modes.values()):
            continue
        out += [
            f"{_lr_head(lr, grid.momentum)}, ReLU: test error % of the clean net (∠W1 °, mean over the run)",
            "",
            "| mode | " + " | ".join(f"σ={s:g}" for s in sigmas) + " |",
            "|---|" + "---|" * len(sigmas),
        ]
        for mode, row in modes.items():
            cells_text = []
            for s in sigmas:
                c = row.get(s)
                cells_text.append("" if c is None else f"{_cell_text(c)} ({_num(_mean_angle(c))}°)")
            out.append(f"| {mode} | " + " | ".join(cells_text) + " |")
        out.append("")
    return out


def perturbed_table(rows: Sequence[analysis.SweepRow]) -> list[str]:
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


def diagnostics_table(rows: Sequence[analysis.SweepRow]) -> list[str]:
    out = [
        "| activation | variant | ∠W1 ° (end) | ∠W2 ° (end) | ∠(W2, B) ° (end) | stale gap ‖W2−W2(t−k)‖/‖W2‖ "
        "| dead units % | ‖W1−W1(0)‖/‖W1(0)‖ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r.chosen
        if c is None:
            continue
        out.append(
            f"| {r.activation} | {r.label} | {_num(c.last('angle_W1').mean)} | {_num(c.last('angle_W2').mean)} "
            f"| {_num(c.last('feedback_angle').mean)} | {_num(c.last('stale_gap').mean, '{:.3f}')} "
            f"| {_num(100 * c.last('dead_fraction').mean)} | {_num(c.last('w1_drift').mean, '{:.3f}')} |"
        )
    return [*out, ""]


def markdown(study: Study, grid: Grid, command: str = "", figures: Sequence[str] = (), plot: str = "") -> str:
    """results.md: how the study was run, then every table."""
    m, env, hp = study.meta, study.meta.get("environment", {}), study.meta.get("hparams", {})
    cells = study.cells()
    rows = analysis.sweep(cells, grid)
    size = f"the first {grid.train_size:,} training images" if grid.train_size else "all 50,000 training images"
    parts = [
        "# Backward-pass variants on MNIST",
        "",
        f"Command: `{command}`" if command else "",
        "",
        f"- Grid `{grid.name}` ({grid.note}): {len(study.configs)} cells × {m.get('seeds')} seeds "
        f"(0..{m.get('seeds', 1) - 1}) = {m.get('runs')} runs of {m.get('epochs')} epochs on {size}; "
        f"backend {m.get('backend')} with {m.get('jobs')} single-threaded workers; "
        f"{m.get('reused', 0)} runs reused from an earlier, interrupted invocation; "
        f"wall time of the last invocation {m.get('wall_seconds', 0) / 60:.1f} min.",
        f"- Network: one hidden layer of {hp.get('hidden')} units, minibatch {hp.get('batch_size')}, constant "
        f"learning rate, heavy-ball momentum (sweep: μ = {grid.momentum:g}), no weight decay; "
        "50k train / 10k valid / 10k test. 'step' is the effective step lr/(1−μ).",
        "- Learning rate: chosen per variant and activation on the validation set, among the rates where no "
        "seed diverged. Test error: clean network at the epoch with the lowest validation error; mean and "
        "95% Student-t interval over seeds. Δ: paired difference (same seed: same initial weights and "
        "data order) to exact backprop, or to the shallow control, each at its own chosen rate; * marks an "
        "interval that excludes 0. Shallow: W1 frozen at its initial value (only the output layer learns).",
        f"- {DIVERGENCE_RULE}",
        "- As trained: the same weights evaluated with the variant's forward-pass perturbation (noise, "
        "rounding) at test time; '—' where the forward pass is the clean one.",
        "- Diagnostics every "
        f"{m.get('diag_every')} steps: ∠W1, ∠W2 between the variant's update and the true gradient; "
        "∠(W2, B) between W2 and a random feedback matrix; the stale gap; dead units (act′ < 1e-3 on all "
        "of 2,000 validation images: dead ReLUs, saturated tanh/sigmoid units); the drift of W1.",
        f"- Machine: {env.get('cpu')} ({env.get('cores')} cores, shared), Python {env.get('python')}, "
        f"numpy {env.get('numpy')}, {env.get('blas')}.",
        "",
        "## 1. Each variant at its chosen learning rate",
        "",
        *sweep_tables(rows, grid),
    ]
    stale = stale_tables(cells, grid)
    if stale:
        parts += ["## 2. Stale weights: stability over learning rate × momentum × k (ReLU)", "", *stale]
    noise_text = noise_tables(cells, grid)
    if noise_text:
        parts += ["## 3. Noise on the hidden state as σ → 0", "", *noise_text]
    perturbed = perturbed_table(rows)
    if perturbed:
        parts += ["## 4. Perturbed forward passes: the clean net and the net as trained", "", *perturbed]
    parts += ["## 5. Diagnostics at the end of training (chosen learning rate)", "", *diagnostics_table(rows)]
    if figures:
        parts += ["## Figures", "", *(f"- [{Path(f).name}]({Path(f).name})" for f in figures), ""]
    if plot:
        parts += ["## Validation error over training (text plot)", "", "```text", plot.rstrip(), "```", ""]
    return "\n".join(parts)


def write_results(
    study: Study,
    grid: Grid,
    out: str | os.PathLike[str],
    command: str = "",
    figures: Sequence[str] = (),
    plot: str = "",
) -> list[Path]:
    """Write results.json and results.md (and results_plot.txt if ``plot``) into ``out``; returns the paths."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = dict(study.meta, grid=grid_meta(grid), command=command)
    saved = Study(study.configs, study.results, meta)
    paths = [out_dir / "results.json", out_dir / "results.md"]
    paths[0].write_text(compact_json(to_json(saved)))
    paths[1].write_text(markdown(saved, grid, command, figures, plot))
    if plot:
        paths.append(out_dir / "results_plot.txt")
        paths[-1].write_text(plot.rstrip() + "\n")
    return paths
