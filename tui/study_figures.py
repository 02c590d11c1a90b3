"""The study's figures, as SVG and PNG next to results.md (matplotlib, the ``study`` extra).

- ``error_vs_lr``: test error against learning rate, one panel per question and activation,
  with 95% intervals; the controls (exact backprop, shallow) in every panel.
- ``stale_map``: stale weights, test error over learning rate x k, one panel per momentum.
- ``learning_curves``: error on 2,000 validation images over training at each variant's chosen
  learning rate (ReLU), mean with a 95% band.
- ``angles``: angle between each variant's W1 update and the true gradient over training, and
  the angle between W2 and the random feedback matrix B.
- ``noise_sigma``: test error against sigma for every noise mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from model.study import CellSummary, Grid, Study, SweepRow, sweep
from model.study.analysis import noise, stale_map

GROUPS = (
    ("Q1 random feedback", ("feedback-",)),
    ("Q2 stale W2, k=10", ("stale",)),
    ("Q3/Q4 random h", ("random-h-",)),
    ("Q5 noise, σ=0.5", ("noise-",)),
    ("Q6 rounding", ("round-",)),
)
CONTROL_STYLE = {"exact": ("black", "-"), "shallow": ("grey", "--")}


def _rows(rows: Sequence[SweepRow], activation: str, prefixes: tuple[str, ...]) -> list[SweepRow]:
    mine = [r for r in rows if r.activation == activation]
    return [r for r in mine if r.variant in CONTROL_STYLE] + [r for r in mine if r.variant.startswith(prefixes)]


def _save(fig: Figure, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.svg", out / f"{name}.png"]
    fig.savefig(paths[0], bbox_inches="tight")
    fig.savefig(paths[1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return paths


def _style(label: str) -> dict[str, str]:
    color, line = CONTROL_STYLE.get(label, (None, "-"))
    return {"color": color, "linestyle": line} if color else {}


def error_vs_lr(rows: Sequence[SweepRow], grid: Grid) -> Figure:
    fig, axes = plt.subplots(
        len(grid.activations), len(GROUPS), figsize=(4 * len(GROUPS), 3.2 * len(grid.activations)), squeeze=False
    )
    for i, act in enumerate(grid.activations):
        for j, (title, prefixes) in enumerate(GROUPS):
            ax = axes[i][j]
            for r in _rows(rows, act, prefixes):
                lrs = [lr for lr in grid.lrs if lr in r.by_lr]
                ok = [(lr, r.by_lr[lr]) for lr in lrs if r.by_lr[lr].diverged < r.by_lr[lr].seeds]
                if ok:
                    ax.errorbar(
                        [lr for lr, _ in ok],
                        [100 * c.test.mean for _, c in ok],
                        yerr=[100 * _half(c) for _, c in ok],
                        marker="o",
                        markersize=3,
                        capsize=2,
                        label=r.label,
                        **_style(r.variant),
                    )
                div = [lr for lr in lrs if r.by_lr[lr].diverged]
                if div:
                    ax.plot(div, [95] * len(div), "x", color="red")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{title} · {act}", fontsize=9)
            ax.set_xlabel(f"learning rate (μ={grid.momentum:g})", fontsize=8)
            ax.set_ylabel("test error %", fontsize=8)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.legend(fontsize=6)
    fig.suptitle("Test error against learning rate (mean, 95% CI; red x: a seed diverged)", fontsize=10)
    return fig


def _half(c: CellSummary) -> float:
    return c.test.half if math.isfinite(c.test.half) else 0.0


def stale_figure(study: Study, grid: Grid) -> Figure | None:
    smap = stale_map(study.cells(), grid)
    if not smap:
        return None
    ks = (0, *grid.stale_ks)
    fig, axes = plt.subplots(1, len(smap), figsize=(4.2 * len(smap), 3.6), squeeze=False)
    for ax, (mu, by_lr) in zip(axes[0], smap.items(), strict=True):
        lrs = list(by_lr)
        grid_vals = [[math.nan] * len(lrs) for _ in ks]
        for x, lr in enumerate(lrs):
            for y, k in enumerate(ks):
                c = by_lr[lr].get(k)
                if c is not None:
                    grid_vals[y][x] = 100 * c.test.mean if c.diverged < c.seeds else math.nan
                    text = "div" if c.diverged == c.seeds else f"{100 * c.test.mean:.1f}"
                    if 0 < c.diverged < c.seeds:
                        text += f"\n{c.diverged}div"
                    dark = c.diverged < c.seeds and c.test.mean > 0.1  # dark cells of the colour map
                    ax.text(x, y, text, ha="center", va="center", fontsize=6, color="white" if dark else "black")
        im = ax.imshow(grid_vals, cmap="viridis_r", aspect="auto", norm=matplotlib.colors.LogNorm(vmin=1, vmax=90))
        ax.set_xticks(range(len(lrs)), [f"{lr:g}\n(step {lr / (1 - mu):.3g})" for lr in lrs], fontsize=7)
        ax.set_yticks(range(len(ks)), [str(k) for k in ks], fontsize=7)
        ax.set_xlabel("learning rate", fontsize=8)
        ax.set_ylabel("k (0 = exact)", fontsize=8)
        ax.set_title(f"momentum {mu:g}", fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), label="test error %")
    fig.suptitle("Stale W2 in the backward pass: test error % (ReLU)", fontsize=10)
    return fig


def learning_curves(
    rows: Sequence[SweepRow],
    grid: Grid,
    diagnostic: str,
    ylabel: str,
    log: bool,
    groups: Sequence[tuple[str, tuple[str, ...]]] = GROUPS,
) -> Figure:
    act = grid.activations[0]
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups) + 1, 3.2), squeeze=False)
    for ax, (title, prefixes) in zip(axes[0], groups, strict=True):
        for r in _rows(rows, act, prefixes):
            c = r.chosen
            if c is None:
                continue
            series = c.diagnostics.get(diagnostic, [])
            pts = [(s, i) for s, i in zip(c.diag_steps, series, strict=False) if math.isfinite(i.mean)]
            if not pts:
                continue
            xs = [s for s, _ in pts]
            scale = 100 if diagnostic in ("valid_error", "dead_fraction") else 1
            mean = [scale * i.mean for _, i in pts]
            half = [scale * (i.half if math.isfinite(i.half) else 0) for _, i in pts]
            line = ax.plot(xs, mean, label=f"{r.label} (lr {c.config.lr:g})", **_style(r.variant))[0]
            ax.fill_between(
                xs, [m - h for m, h in zip(mean, half, strict=True)], [m + h for m, h in zip(mean, half, strict=True)],
                color=line.get_color(), alpha=0.2,
            )  # fmt: skip
        if log:
            ax.set_yscale("log")
        ax.set_title(f"{title} · {act}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    return fig


def noise_figure(study: Study, grid: Grid) -> Figure | None:
    table = noise(study.cells(), grid)
    if not table:
        return None
    fig, axes = plt.subplots(1, len(table), figsize=(5 * len(table), 3.6), squeeze=False)
    for ax, (lr, modes) in zip(axes[0], table.items(), strict=True):
        for mode, row in modes.items():
            sig = [s for s in grid.noise_sigmas if s in row and row[s].diverged < row[s].seeds]
            if sig:
                ax.errorbar(
                    sig,
                    [100 * row[s].test.mean for s in sig],
                    yerr=[100 * _half(row[s]) for s in sig],
                    marker="o",
                    markersize=3,
                    capsize=2,
                    label=mode,
                )
            if 0.0 in row:
                ax.axhline(100 * row[0.0].test.mean, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"noise on h, ReLU, lr {lr:g} (black: exact = σ 0)", fontsize=9)
        ax.set_xlabel("σ", fontsize=8)
        ax.set_ylabel("test error %", fontsize=8)
        ax.legend(fontsize=7)
    return fig


def write_figures(study: Study, grid: Grid, out: Path) -> list[Path]:
    """Draw every figure into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    rows = sweep(study.cells(), grid)
    paths = _save(error_vs_lr(rows, grid), out, "fig_error_vs_lr")
    stale = stale_figure(study, grid)
    if stale is not None:
        paths += _save(stale, out, "fig_stale_map")
    curves = learning_curves(rows, grid, "valid_error", "valid error % (2,000 images)", log=True)
    paths += _save(curves, out, "fig_learning_curves")
    paths += _save(
        learning_curves(rows, grid, "angle_W1", "∠ W1 update vs true gradient °", log=False), out, "fig_angles"
    )
    feedback = learning_curves(rows, grid, "feedback_angle", "∠(W2, B) °", log=False, groups=GROUPS[:1])
    paths += _save(feedback, out, "fig_feedback_angle")
    dead = learning_curves(rows, grid, "dead_fraction", "dead units %", log=False)
    paths += _save(dead, out, "fig_dead_units")
    noise_fig = noise_figure(study, grid)
    if noise_fig is not None:
        paths += _save(noise_fig, out, "fig_noise_sigma")
    return paths
