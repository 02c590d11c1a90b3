"""The study's figures, as SVG and PNG next to results.md (matplotlib, the ``study`` extra).

- ``error_vs_lr``: validation error against learning rate on the selection seeds, one panel per
  question and activation; the chosen rate ringed, failed rates marked; controls in every panel.
- ``learning_curves``: test error after each epoch on the report seeds at the chosen rate (ReLU
  at the long budget; tanh and sigmoid controls too), mean with a 95% band clipped at 0.
- ``budget``: each ReLU variant's paired difference to exact backprop at the short and the long
  budget.
- ``angles``: ∠W1 and ∠W2 between the update and the true gradient over training, for every
  activation; ``feedback_angle``: ∠(W2, B); ``dead_units``: dead (or saturated) units.
- ``stale_map``: both kinds of staleness, test error over effective step x k, per momentum.
- ``noise_sigma``: test error against sigma, additive and multiplicative, at exact backprop's rate.
- ``rounding``: test error against the rounding resolution, nearest and stochastic.
- ``width``: exact backprop and feedback alignment against the number of hidden units.

Every panel has its own short title, legends sit outside the data, the controls are black
(exact, solid, circles) and grey (shallow, dashed, squares).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from model.study import Grid, Interval, Study, SweepRow, sweep
from model.study.analysis import rounding_table, sigma_table, stale_map

GROUPS = (
    ("Q1 random feedback", ("feedback-",)),
    ("Q2 stale, k=10", ("stale",)),
    ("Q3/Q4 random h", ("random-h-",)),
    ("Q5 noise, σ=0.5", ("noise-",)),
    ("Q6 rounding", ("round-",)),
)
CONTROL_STYLE = {
    "exact": {"color": "black", "linestyle": "-", "marker": "o", "linewidth": 1.8},
    "shallow": {"color": "grey", "linestyle": "--", "marker": "s", "linewidth": 1.8},
}


def _rows(rows: Sequence[SweepRow], activation: str, prefixes: tuple[str, ...]) -> list[SweepRow]:
    mine = [r for r in rows if r.activation == activation and r.entry.section == "sweep"]
    return [r for r in mine if r.variant in CONTROL_STYLE] + [r for r in mine if r.variant.startswith(prefixes)]


def _save(fig: Figure, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.svg", out / f"{name}.png"]
    fig.savefig(paths[0], bbox_inches="tight")
    fig.savefig(paths[1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def _style(variant: str, color: str | None = None) -> dict[str, object]:
    style = dict(CONTROL_STYLE.get(variant, {"marker": "o", "linewidth": 1.0}))
    if color is not None and variant not in CONTROL_STYLE:
        style["color"] = color
    return style


def _colors(rows: Sequence[SweepRow], prefixes: tuple[str, ...]) -> dict[str, str]:
    """One colour per variant label of a question, the same in every activation's panel."""
    labels = list(dict.fromkeys(r.label for r in rows if r.variant.startswith(prefixes)))
    cmap = plt.get_cmap("tab10" if len(labels) <= 9 else "tab20")
    grey = (7,) if cmap.N == 10 else (14, 15)  # the shallow control is grey
    palette = [matplotlib.colors.to_hex(cmap(i)) for i in range(cmap.N) if i not in grey]
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def _plain_log(ax: Axes) -> None:
    """Log axes with ticks written as plain numbers (3, 10, 30), not 3×10^0."""
    fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax.yaxis,):
        axis.set_major_formatter(fmt)
        axis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))


def _legend_for_column(fig: Figure, ax: Axes, colors: dict[str, str], controls: bool = True) -> None:
    """A legend under ``ax`` listing the controls and every variant of the column."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], **_style(v)) for v in CONTROL_STYLE] if controls else []  # type: ignore[arg-type]
    labels = list(CONTROL_STYLE) if controls else []
    handles += [Line2D([], [], color=c, marker="o", linewidth=1.0) for c in colors.values()]
    labels += list(colors)
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=6, frameon=False)


def _band(ax: Axes, xs: Sequence[float], series: Sequence[Interval], scale: float, **style: object) -> None:
    """Mean line and a 95% band clipped at 0."""
    pts = [(x, i) for x, i in zip(xs, series, strict=False) if math.isfinite(i.mean)]
    if not pts:
        return
    x = [p[0] for p in pts]
    mean = [scale * p[1].mean for p in pts]
    half = [scale * (p[1].half if math.isfinite(p[1].half) else 0.0) for p in pts]
    line = ax.plot(x, mean, markersize=3, **style)[0]  # type: ignore[arg-type]
    ax.fill_between(
        x, [max(0.0, m - h) for m, h in zip(mean, half, strict=True)], [m + h for m, h in zip(mean, half, strict=True)],
        color=line.get_color(), alpha=0.15, linewidth=0,
    )  # fmt: skip


def _legend_below(ax: Axes, ncol: int = 1) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=6, ncol=ncol, frameon=False
        )


def _small(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.set_ylabel(ylabel, fontsize=7)
    ax.tick_params(labelsize=6)


# ---- error against learning rate -----------------------------------------------------------------
def error_vs_lr(rows: Sequence[SweepRow], grid: Grid) -> Figure:
    acts = grid.activations
    fig, axes = plt.subplots(len(acts), len(GROUPS), figsize=(3.6 * len(GROUPS), 4.2 * len(acts)), squeeze=False)
    palette = {prefixes: _colors([r for r in rows if r.entry.section == "sweep"], prefixes) for _, prefixes in GROUPS}
    for i, act in enumerate(acts):
        for j, (title, prefixes) in enumerate(GROUPS):
            ax = axes[i][j]
            for r in _rows(rows, act, prefixes):
                ok = [(lr, c) for lr, c in sorted(r.by_lr.items()) if not c.all_failed]
                if ok:
                    line = ax.errorbar(
                        [lr for lr, _ in ok],
                        [100 * c.valid.mean for _, c in ok],
                        yerr=[100 * _half(c.valid) for _, c in ok],
                        markersize=3,
                        capsize=2,
                        label=r.label,
                        **_style(r.variant, palette[prefixes].get(r.label)),
                    )
                    chosen = r.by_lr.get(r.state.chosen) if r.state.chosen is not None else None
                    if chosen is not None:
                        ax.plot([r.state.chosen], [100 * chosen.valid.mean], "o", markersize=8, mfc="none",
                                color=line[0].get_color())  # fmt: skip
                bad = [lr for lr, c in r.by_lr.items() if c.failed]
                if bad:
                    ax.plot(bad, [60] * len(bad), "x", color="red", markersize=5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            _plain_log(ax)
            _small(ax, f"{title} · {act}", f"learning rate (μ={grid.momentum:g})", "valid error %")
            if i == len(acts) - 1:
                _legend_for_column(fig, ax, palette[prefixes])
    fig.suptitle(
        "Validation error against learning rate (selection seeds, mean ± 95% CI; ring: chosen; red x: a seed failed)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def _half(i: Interval) -> float:
    return i.half if math.isfinite(i.half) else 0.0


# ---- over training --------------------------------------------------------------------------------
def learning_curves(rows: Sequence[SweepRow], grid: Grid) -> Figure:
    act = grid.activations[0]
    extra = [a for a in grid.activations[1:]]
    cols = len(GROUPS) + (1 if extra else 0)
    fig, axes = plt.subplots(1, cols, figsize=(3.6 * cols, 4.0), squeeze=False)
    for ax, (title, prefixes) in zip(axes[0], GROUPS, strict=False):
        colors = _colors(_rows(rows, act, prefixes), prefixes)
        for r in _rows(rows, act, prefixes):
            c = r.report.get(max(r.report)) if r.report else None
            if c is not None:
                _band(ax, range(1, len(c.test_curve) + 1), c.test_curve, 100, label=f"{r.label} (lr {c.config.lr:g})",
                      **_style(r.variant, colors.get(r.label)))  # fmt: skip
        ax.set_yscale("log")
        _plain_log(ax)
        _small(ax, f"{title} · {act}", "epoch", "test error %")
        _legend_below(ax)
    if extra:
        ax = axes[0][-1]
        for a in extra:
            for r in rows:
                if r.activation == a and r.variant in CONTROL_STYLE and r.report:
                    c = r.report[max(r.report)]
                    style = _style(r.variant)
                    style["linestyle"] = ":" if a == extra[-1] else style["linestyle"]
                    _band(ax, range(1, len(c.test_curve) + 1), c.test_curve, 100, label=f"{r.label} {a}", **style)
        ax.set_yscale("log")
        _plain_log(ax)
        _small(ax, "controls · " + ", ".join(extra), "epoch", "test error %")
        _legend_below(ax)
    fig.suptitle("Test error after each epoch at the chosen rate (report seeds, mean, 95% band)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def budget(rows: Sequence[SweepRow], grid: Grid) -> Figure | None:
    short, long = grid.short_epochs, grid.long_epochs
    mine = [r for r in rows if (("exact best", long) in r.contrasts and ("exact best", short) in r.contrasts)]
    if not mine:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(mine) + 1.2))
    for y, r in enumerate(mine):
        for epochs, color in ((short, "tab:blue"), (long, "tab:orange")):
            d = r.contrasts[("exact best", epochs)].contrast.diff
            if math.isfinite(d.mean):
                ax.errorbar([100 * d.mean], [y], xerr=[100 * _half(d)], fmt="o", color=color, markersize=3, capsize=2,
                            label=f"{epochs} epochs" if y == 0 else None)  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(mine)), [r.label for r in mine], fontsize=6)
    ax.invert_yaxis()
    _small(ax, f"Δ test error to exact backprop (ReLU, each at its chosen rate): {short} vs {long} epochs", "pp", "")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def diagnostics(rows: Sequence[SweepRow], grid: Grid, names: Sequence[tuple[str, str]], scale: float = 1.0) -> Figure:
    """One row of panels per (diagnostic, activation), one column per question."""
    acts = grid.activations
    panels = [(name, label, a) for name, label in names for a in acts]
    palette = {prefixes: _colors([r for r in rows if r.entry.section == "sweep"], prefixes) for _, prefixes in GROUPS}
    fig, axes = plt.subplots(len(panels), len(GROUPS), figsize=(3.6 * len(GROUPS), 3.3 * len(panels)), squeeze=False)
    for i, (name, label, act) in enumerate(panels):
        for j, (title, prefixes) in enumerate(GROUPS):
            ax = axes[i][j]
            for r in _rows(rows, act, prefixes):
                c = r.report.get(max(r.report)) if r.report else None
                if c is not None:
                    style = _style(r.variant, palette[prefixes].get(r.label))
                    _band(ax, c.diag_steps, c.diagnostics.get(name, []), scale, label=r.label, **style)
            _small(ax, f"{title} · {act} · {label}", "step", label)
            if i == len(panels) - 1:
                _legend_for_column(fig, ax, palette[prefixes])
    fig.tight_layout()
    return fig


def feedback_angle(study: Study, grid: Grid) -> Figure:
    rows = [r for r in sweep(study, grid, section=None) if r.variant.startswith("feedback-") and not r.entry.hidden]
    acts = grid.activations
    fig, axes = plt.subplots(1, len(acts), figsize=(4.2 * len(acts), 3.6), squeeze=False)
    for ax, act in zip(axes[0], acts, strict=True):
        for r in rows:
            c = r.report.get(max(r.report)) if r.report and r.activation == act else None
            if c is not None:
                _band(ax, c.diag_steps, c.diagnostics.get("feedback_angle", []), 1.0, label=r.label, marker="")
        _small(ax, f"∠(W2, B) · {act}", "step", "degrees")
        _legend_below(ax)
    fig.tight_layout()
    return fig


# ---- sections -------------------------------------------------------------------------------------
def stale_figure(study: Study, grid: Grid) -> Figure | None:
    smap = stale_map(study, grid)
    if not smap:
        return None
    ks = (0, *grid.stale_ks)
    fig, axes = plt.subplots(1, len(smap), figsize=(3.8 * len(smap), 4.4), squeeze=False)
    im = None
    for ax, ((kind, mu), table) in zip(axes[0], smap.items(), strict=True):
        steps = list(table)
        values = [[math.nan] * len(steps) for _ in ks]
        for x, step in enumerate(steps):
            for y, k in enumerate(ks):
                m = table[step].get(k)
                if m is None:
                    continue
                c = m.summary
                values[y][x] = math.nan if c.all_failed else 100 * c.test.mean
                text = f"fail {c.failed}/{c.seeds}" if c.all_failed else f"{100 * c.test.mean:.1f}"
                if c.failed and not c.all_failed:
                    text += f"\n{c.failed} fail"
                dark = not c.all_failed and c.test.mean > 0.1
                ax.text(x, y, text, ha="center", va="center", fontsize=5.5, color="white" if dark else "black")
        im = ax.imshow(values, cmap="viridis_r", aspect="auto", norm=matplotlib.colors.LogNorm(vmin=1, vmax=90))
        ax.set_xticks(range(len(steps)), [f"{s:g}\n(lr {s * (1 - mu):.3g})" for s in steps], fontsize=6)
        ax.set_yticks(range(len(ks)), [str(k) for k in ks], fontsize=6)
        _small(ax, f"{kind}, μ={mu:g}", "effective step lr/(1−μ)", "k (0 = exact)")
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), label="test error %", shrink=0.8)
    fig.suptitle("Stale feedback weights and stale whole gradients: test error % (ReLU; white: every seed failed)",
                 fontsize=10)  # fmt: skip
    return fig


def noise_figure(study: Study, grid: Grid) -> Figure | None:
    acts = [a for a in grid.noise_activations if sigma_table(study, grid, a)[1]]
    if not acts:
        return None
    fig, axes = plt.subplots(1, len(acts), figsize=(6.5 * len(acts), 4.2), squeeze=False)
    for ax, act in zip(axes[0], acts, strict=True):
        lr, table = sigma_table(study, grid, act)
        for label, row in table.items():
            sig = [s for s in grid.noise_sigmas if s in row and not row[s].summary.all_failed]
            if sig:
                ax.errorbar(
                    sig, [100 * row[s].summary.test.mean for s in sig],
                    yerr=[100 * _half(row[s].summary.test) for s in sig], markersize=3, capsize=2, label=label,
                    linestyle="--" if "mult" in label else "-", marker="s" if "mult" in label else "o",
                )  # fmt: skip
            if 0.0 in row:
                ax.axhline(100 * row[0.0].summary.test.mean, color="black", linewidth=1.2, label=None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log(ax)
        _small(ax, f"noise on h · {act} · lr {lr:g} (black line: exact)", "σ", "test error %")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def rounding_figure(study: Study, grid: Grid) -> Figure | None:
    tables = [(a, *rounding_table(study, grid, a)) for a in grid.round_activations]
    tables = [t for t in tables if t[2]]
    if not tables:
        return None
    fig, axes = plt.subplots(1, len(tables), figsize=(6.5 * len(tables), 4.2), squeeze=False)
    for ax, (act, lr, table) in zip(axes[0], tables, strict=True):
        for label, row in table.items():
            bits = sorted(b for b in row if not row[b].summary.all_failed)
            if bits:
                ax.errorbar(
                    bits, [100 * row[b].summary.test.mean for b in bits],
                    yerr=[100 * _half(row[b].summary.test) for b in bits], markersize=3, capsize=2, label=label,
                    linestyle="--" if "stochastic" in label else "-",
                )  # fmt: skip
        ax.set_yscale("log")
        _plain_log(ax)
        _small(ax, f"rounding · {act} · lr {lr:g}", "b (resolution 2^-b)", "test error %")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def width_figure(study: Study, grid: Grid, main: Sequence[SweepRow]) -> Figure | None:
    width = sweep(study, grid, section="width")
    if not width:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for variant in ("exact", "feedback-fixed", "feedback-sign"):
        pts = []
        for r in [*width, *(m for m in main if m.activation == "relu")]:
            if r.variant == variant and r.report:
                c = r.report[min(r.report)]
                pts.append((r.entry.hidden or grid.hidden, c.test))
        pts.sort(key=lambda p: p[0])
        if pts:
            ax.errorbar([p[0] for p in pts], [100 * p[1].mean for p in pts], yerr=[100 * _half(p[1]) for p in pts],
                        capsize=2, markersize=3, label=variant, **_style(variant))  # type: ignore[arg-type]  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_log(ax)
    _small(ax, f"width · relu · {grid.short_epochs} epochs, each at its chosen rate", "hidden units", "test error %")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def write_figures(study: Study, grid: Grid, out: Path) -> list[Path]:
    """Draw every figure into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    rows = sweep(study, grid)
    paths = _save(error_vs_lr(rows, grid), out, "fig_error_vs_lr")
    paths += _save(learning_curves(rows, grid), out, "fig_learning_curves")
    fig = budget(rows, grid)
    if fig is not None:
        paths += _save(fig, out, "fig_budget")
    paths += _save(diagnostics(rows, grid, [("angle_W1", "∠W1 °"), ("angle_W2", "∠W2 °")]), out, "fig_angles")
    paths += _save(feedback_angle(study, grid), out, "fig_feedback_angle")
    paths += _save(diagnostics(rows, grid, [("dead_fraction", "dead units %")], scale=100), out, "fig_dead_units")
    for name, make in (
        ("fig_stale_map", stale_figure),
        ("fig_noise_sigma", noise_figure),
        ("fig_rounding", rounding_figure),
    ):
        fig = make(study, grid)
        if fig is not None:
            paths += _save(fig, out, name)
    fig = width_figure(study, grid, rows)
    if fig is not None:
        paths += _save(fig, out, "fig_width")
    return paths
