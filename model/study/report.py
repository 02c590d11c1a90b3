"""The study's files: results.json (meta, one row per config, every run) and results.md.

``to_json``/``from_json`` round-trip a ``Study`` (NaN saved as null, so the file is strict
JSON); ``markdown`` writes how the study was run and the results table; ``plot_groups``
says which summaries share a panel of the error-curve plot. Drawing the plot is left to ``tui``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from model.study.aggregate import ConfigSummary, Study
from model.study.plan import RunConfig
from model.study.records import LAYERS, RunResult


def to_json(study: Study) -> dict[str, Any]:
    """A JSON-able dict: meta, one row per config, every run."""
    return {
        "meta": study.meta,
        "rows": [asdict(r) for r in study.rows()],
        "runs": [asdict(r) for r in study.results],
    }


PANEL_TITLES = {
    "1": "Q1 random feedback matrix",
    "2": "Q2 stale W2 in the backward pass",
    "3": "Q3 random h where act' is evaluated",
    "4": "Q4 random h in dL/dW2",
    "5": "Q5 Gaussian noise on h",
    "6": "Q6 rounding h",
}


def plot_groups(rows: Sequence[ConfigSummary]) -> list[tuple[str, list[ConfigSummary]]]:
    """Panels for the error-curve plot: one per question (noise: one per sigma), each led by exact backprop."""
    exact = [r for r in rows if r.variant == "exact"]
    groups: dict[str, list[ConfigSummary]] = {}
    for r in rows:
        q = r.question[:1]
        if q not in PANEL_TITLES:
            continue
        title = PANEL_TITLES[q] + (f", {r.label.split()[-1]}" if q == "5" else "")
        groups.setdefault(title, []).append(r)
    return [(title, exact + members) for title, members in groups.items()]


def _finite(obj: Any) -> Any:
    """Replace NaN/inf by None so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def from_json(saved: dict[str, Any]) -> Study:
    """Rebuild a Study from ``to_json``'s dict (e.g. to redraw results.md without training)."""

    def num(x: Any) -> Any:
        return math.nan if x is None else x

    results = []
    for run in saved["runs"]:
        run = dict(run)
        for k in ("test_error", "final_test_error", "train_loss", "seconds"):
            run[k] = num(run[k])
        run["valid_curve"] = [num(v) for v in run["valid_curve"]]
        run["test_curve"] = [num(v) for v in run["test_curve"]]
        run["angles"] = {k: num(v) for k, v in run["angles"].items()}
        run["angles_by_epoch"] = {k: [num(v) for v in vs] for k, vs in run["angles_by_epoch"].items()}
        results.append(RunResult(**run))
    labels = list(dict.fromkeys(r.label for r in results))
    return Study([RunConfig.from_label(label) for label in labels], results, dict(saved["meta"]))


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{100 * x:.2f}"


def _deg(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.1f}"


def markdown_table(rows: Sequence[ConfigSummary]) -> str:
    """The results table: one line per config."""
    lines = [
        "| Q | variant | test error % (mean ± std) | last-epoch test error % | final train loss "
        "| ∠W1 ° mean (last epoch) | ∠W2 ° mean (last epoch) | time/run s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        err = f"{_pct(r.test_error_mean)} ± {_pct(r.test_error_std)}"
        if r.diverged:
            err += f" ({r.diverged} diverged)"
        loss = "—" if not math.isfinite(r.train_loss) else f"{r.train_loss:.4f}"
        a1, a2 = (f"{_deg(r.angles[k])} ({_deg(r.angles_last[k])})" for k in LAYERS)
        lines.append(
            f"| {r.question} | {r.label} | {err} | {_pct(r.final_test_error)} | {loss} | {a1} | {a2} "
            f"| {r.seconds:.1f} |"
        )
    return "\n".join(lines)


def markdown(study: Study, command: str = "", plot: str = "") -> str:
    """results.md: how the study was run, the table, and (optionally) the text plot."""
    m, env, hp = study.meta, study.meta.get("environment", {}), study.meta.get("hparams", {})
    parts = [
        "# Backward-pass variants on MNIST",
        "",
        f"Command: `{command}`" if command else "",
        "",
        f"- {m.get('epochs')} epochs x {m.get('seeds')} seeds (0..{m.get('seeds', 1) - 1}) per line, "
        f"{m.get('jobs')} worker processes with one BLAS thread each; "
        f"wall time {m.get('wall_seconds', 0) / 60:.1f} min.",
        f"- Network and training: one hidden layer of {hp.get('hidden')} {hp.get('activation')} units, "
        f"minibatch {hp.get('batch_size')}, lr {hp.get('lr')} ({hp.get('schedule')}), momentum {hp.get('momentum')}, "
        f"weight decay {hp.get('weight_decay')}; 50k train / 10k valid / 10k test.",
        "- Test error: at the epoch with the lowest validation error (mean ± sample std over seeds); "
        "last-epoch test error: after the final epoch (mean). Final train loss: mean minibatch loss of the "
        "last epoch (for noise-forward/same/independent and round-forward* it is the loss of the perturbed "
        "forward pass). Time/run: training seconds per run, evaluation excluded; the machine was shared with "
        "other work, so times are only roughly comparable.",
        f"- ∠W1, ∠W2: angle between the variant's update and the true gradient on the same minibatch, "
        f"every {m.get('angle_every')} steps, averaged over the run and the seeds (exact backprop: 0).",
        "- Random feedback matrices are drawn like W2's initialisation, N(0, 1/H). Random hidden states are "
        "act(mu + sd·xi), xi ~ N(0, 1), with mu, sd the per-unit mean and std of the minibatch's pre-activations. "
        "Noise in the backward pass perturbs both places the backward pass reads h (act'(h) and dL/dW2). "
        'Rounding places: forward pass, act\'(.) ("backward"), dL/dW2 ("dw").',
        f"- Machine: {env.get('cpu')} ({env.get('cores')} cores, shared), Python {env.get('python')}, "
        f"numpy {env.get('numpy')}, {env.get('blas')}.",
        "",
        markdown_table(study.rows()),
        "",
    ]
    if plot:
        parts += ["## Validation error per epoch (mean over seeds)", "", "```text", plot.rstrip(), "```", ""]
    return "\n".join(parts)


def write_results(study: Study, out: str | os.PathLike[str], command: str = "", plot: str = "") -> list[Path]:
    """Write results.json and results.md (and results_plot.txt if ``plot``) into ``out``; returns the paths."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = dict(study.meta, command=command) if command else study.meta
    paths = [out_dir / "results.json", out_dir / "results.md"]
    paths[0].write_text(json.dumps(_finite(to_json(replace(study, meta=meta))), indent=1) + "\n")
    paths[1].write_text(markdown(study, command, plot))
    if plot:
        paths.append(out_dir / "results_plot.txt")
        paths[-1].write_text(plot.rstrip() + "\n")
    return paths
