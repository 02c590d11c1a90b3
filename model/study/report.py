"""The study's files: results.json (meta with the grid, a summary per sweep, every run) and results.md.

``to_json``/``from_json`` round-trip a ``Study`` (NaN saved as null, so the file is strict JSON;
reading goes through ``saved.py``, which checks every field); ``markdown`` writes how the study
was run and its tables (``tables.py`` draws each). Figures are drawn elsewhere
(``tui.study_figures``) and only linked here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from model.study import analysis, tables
from model.study.aggregate import EQUIVALENCE, Study
from model.study.plan import Entry, Grid
from model.study.records import FAIL_ERROR
from model.study.saved import study_from_saved
from model.study.store import finite

DIVERGENCE_RULE = (
    "A run *failed* when the trainer's divergence rule stopped it (a minibatch loss that is not finite or "
    "above 1000 nats, or a running mean loss over about the last 256 examples above 10·ln 10 ≈ 23 nats; the "
    f"last good weights are then restored and the run ends) **or** its validation error at the end is at "
    f"least {FAIL_ERROR:.0%} (chance is 90%; the shallow control stays under 30% at every rate it was run "
    "at). Failed runs are counted in their own column and left out of every mean and every paired "
    "difference."
)

REFERENCES = [
    "Bengio, Léonard & Courville (2013), Estimating or propagating gradients through stochastic neurons "
    "for conditional computation, arXiv:1308.3432 (the straight-through estimator).",
    "Courbariaux, Bengio & David (2015), Training deep neural networks with low precision multiplications, "
    "ICLR workshop, arXiv:1412.7024.",
    "Dean et al. (2012), Large scale distributed deep networks, NeurIPS (Downpour SGD: asynchronous, stale gradients).",
    "Gupta, Agrawal, Gopalakrishnan & Narayanan (2015), Deep learning with limited numerical precision, "
    "ICML (stochastic rounding).",
    "Liao, Leibo & Poggio (2016), How important is weight symmetry in backpropagation?, AAAI "
    "(sign-concordant feedback).",
    "Lillicrap, Cownden, Tweed & Akerman (2016), Random synaptic feedback weights support error "
    "backpropagation for deep learning, Nature Communications 7:13276 (feedback alignment).",
    "Mitliagkas, Zhang, Hadjis & Ré (2016), Asynchrony begets momentum, with an application to deep "
    "learning, Allerton (stale gradients act as implicit momentum).",
    "Nøkland (2016), Direct feedback alignment provides learning in deep neural networks, NeurIPS.",
    "Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), Dropout: a simple way to prevent "
    "neural networks from overfitting, JMLR 15 (multiplicative Gaussian noise, section 10).",
]


def grid_to_dict(grid: Grid) -> dict[str, Any]:
    d = asdict(grid)
    d["entries"] = [
        {**asdict(e), "options": [list(o) for o in e.options], "controls": list(e.controls)} for e in grid.entries
    ]
    for name in ("noise_variants", "round_variants"):
        d[name] = [[v, [list(o) for o in opts]] for v, opts in getattr(grid, name)]
    d.pop("extra", None)
    return d


def summary(study: Study, grid: Grid) -> list[dict[str, Any]]:
    """One dict per sweep: rates tried, chosen, stable range, report errors, contrasts."""
    out = []
    for r in analysis.sweep(study, grid, section=None):
        top, bounded = r.state.stable_range
        item: dict[str, Any] = {
            "entry": r.entry.name,
            "section": r.entry.section,
            "variant": r.variant,
            "activation": r.activation,
            "hidden": r.entry.hidden or grid.hidden,
            "rates": sorted(r.state.tried),
            "chosen_lr": r.state.chosen,
            "edge": r.state.edge,
            "stable_up_to": top,
            "stable_bounded": bounded,
            "report": {
                str(e): {"test": c.test.mean, "ci95": c.test.half, "n": c.test.n, "failed": c.failed}
                for e, c in r.report.items()
            },
            "contrasts": {
                f"{name} @{e}": {
                    "diff": j.contrast.diff.mean,
                    "ci95": j.contrast.diff.half,
                    "n": j.contrast.diff.n,
                    "p": j.contrast.p,
                    "p_holm": j.p_holm,
                    "verdict": j.verdict,
                }
                for (name, e), j in r.contrasts.items()
            },
        }
        out.append(item)
    return out


def to_json(study: Study, grid: Grid) -> dict[str, Any]:
    """A JSON-able dict: meta (with the grid), a summary per sweep, every run."""
    return {
        "meta": {**study.meta, "grid": grid_to_dict(grid)},
        "sweeps": summary(study, grid),
        "runs": [r.to_dict() for r in study.results],
    }


def from_json(saved: Any) -> tuple[Study, Grid]:
    """The Study and Grid of a parsed results.json, every field checked (ValueError, one line)."""
    return study_from_saved(saved)


def compact_json(saved: dict[str, Any]) -> str:
    """Strict JSON, one line per sweep and per run, so the file stays small and diffs by line."""
    saved = finite(saved, digits=4)  # an error on 10,000 images has 4 significant digits
    lines = ["{", f' "meta": {json.dumps(saved["meta"], ensure_ascii=False)},']
    for name in ("sweeps", "runs"):
        items = saved[name]
        lines.append(f' "{name}": [')
        lines += [f"  {json.dumps(x, ensure_ascii=False, separators=(',', ':'))}," for x in items[:-1]]
        lines += [f"  {json.dumps(x, ensure_ascii=False, separators=(',', ':'))}" for x in items[-1:]]
        lines.append(" ]," if name == "sweeps" else " ]")
    return "\n".join([*lines, "}"]) + "\n"


def _how(study: Study, grid: Grid, command: str) -> list[str]:
    m, env, hp = study.meta, study.meta.get("environment", {}), study.meta.get("hparams", {})
    size = f"the first {grid.train_size:,} training images" if grid.train_size else "all 50,000 training images"
    ladder = ", ".join(f"{lr:g}" for lr in grid.ladder)
    wall = m.get("wall_seconds", 0) / 60
    return [
        "# Backward-pass variants on MNIST",
        "",
        f"Command: `{command}`" if command else "",
        "",
        f"Every table below comes from grid **`{grid.name}`** ({grid.note}), run on this machine: "
        f"{m.get('runs', 0):,} runs in {m.get('rounds', 0)} rounds on {size}, " + _made(m, wall),
        "",
        *_partial(m),
        *_training_time(study),
        "## How the study was run",
        "",
        f"- **Network**: one hidden layer of {hp.get('hidden')} units (other widths in section 4), minibatch "
        f"{hp.get('batch_size')}, a constant learning rate, heavy-ball momentum μ = {grid.momentum:g} unless a "
        "table says otherwise, no weight decay; 50k train / 10k validation / 10k test. 'step' is the effective "
        "step lr/(1−μ).",
        f"- **Rates** come from the ladder {ladder} (steps of about ×√10). Each sweep — a variant with its "
        f"options at one activation and width — starts at {', '.join(f'{lr:g}' for lr in grid.start)} and "
        "extends itself one ladder step at a time until the rate with the lowest mean validation error, among "
        "the rates where no seed failed, has a tried rate on each side (it is *interior*; a rate at the "
        "ladder's end is marked as an edge) **and** the largest rate tried failed. The *stable range* is the "
        "largest rate below the first failing one ('≥' when no tried rate failed).",
        f"- **Seeds**: the rate is chosen on the *selection seeds* {_seeds(grid.selection())} at "
        f"{grid.short_epochs} epochs; every reported number comes from the *report seeds* "
        f"{_seeds(grid.report())}, which never chose anything. The sections at fixed settings (stale map, "
        f"noise, rounding) use report seeds {_seeds(grid.sections())}.",
        f"- **Budgets**: the short budget is {grid.short_epochs} epochs; ReLU sweeps and the tanh and sigmoid "
        f"controls also train their report seeds for the long budget of {grid.long_epochs} epochs at the chosen "
        "rate (the learning rate is constant, so their first epochs are the short run: one run gives both). "
        "Test error: the clean network at the epoch with the lowest validation error within the budget.",
        f"- **Contrasts**: paired differences of test error (same seed: same initial weights and data order) "
        "over the seeds where neither run failed, in percentage points, mean ± 95% Student-t interval. "
        "*best*: against the control at the control's own chosen rate; *equal*: against the control at this "
        "variant's chosen rate. p-values are two-sided paired t-tests, **Holm-corrected within each family** "
        "(one family per kind of contrast, activation, width and budget; one per section table). Marks: `*` "
        f"the Holm-adjusted p < {analysis.ALPHA:g}; `≈` two one-sided tests (TOST, α = 0.05) place the "
        f"difference within ±{100 * EQUIVALENCE:.1f} pp; no mark: not distinguishable with that many seeds "
        "(absence of evidence, not evidence of absence).",
        f"- **Failure**: {DIVERGENCE_RULE}",
        "- **Controls**: *exact* backprop (the ceiling) and the *shallow* net, W1 frozen at its initial value so "
        "only the output layer learns (the floor: a random-feature read-out). 'Learns' means clearly better "
        "than the shallow net.",
        "- **As trained**: the same weights evaluated with the variant's forward-pass perturbation (noise, "
        "rounding) at test time; '—' where the forward pass is the clean one.",
        f"- **Diagnostics** every {m.get('diag_every')} steps on 2,000 validation images: ∠W1, ∠W2 between the "
        "variant's update and the true gradient on the same minibatch; ∠(W2, B) between W2 and the feedback "
        "matrix; the stale gap ‖W2 − W2(t−k)‖/‖W2‖; dead units (act′ < 1e-3 on every probe image); the drift "
        "‖W1 − W1(0)‖/‖W1(0)‖; the validation error.",
        f"- **Machine**: {env.get('cpu')} ({env.get('cores')} cores, shared with other work), Python "
        f"{env.get('python')}, numpy {env.get('numpy')}, {env.get('blas')}.",
        "",
    ]


def _made(meta: dict[str, Any], minutes: float) -> str:
    """How the runs were had: trained on a backend (and how many came from the store), or all read
    from the store (``--stored-only``)."""
    if str(meta.get("backend", "")).startswith("none"):
        return "every one read from the study's store of finished runs (`--stored-only`: nothing was trained)."
    return (
        f"backend {meta.get('backend')} with {meta.get('jobs')} single-threaded workers; {meta.get('reused', 0):,} "
        "runs were reused from the store (an earlier, interrupted invocation of the same command); the last "
        f"invocation took {minutes:.1f} min."
    )


def _training_time(study: Study) -> list[str]:
    """What the runs' own training took, summed (a machine-independent measure of the grid's size)."""
    seconds = sum(r.seconds for r in study.results if r.seconds == r.seconds)
    if not seconds:
        return []
    return [
        f"The runs' training time (evaluation excluded) adds up to {seconds / 3600:.1f} hours of one core, "
        "measured run by run on a machine shared with other work.",
        "",
    ]


def limits(grid: Grid) -> list[str]:
    """What this grid does not measure, derived from the grid itself (so no table claims it)."""
    short, long = _epochs(grid.short_epochs), _epochs(grid.long_epochs)
    variants = [e for e in grid.entries if e.section == "sweep" and e.variant not in ("exact", "shallow")]
    short_only = sorted({e.activation for e in variants if not e.long})
    long_too = sorted({e.activation for e in variants if e.long})
    out = []
    if short_only:
        measured = f"for {', '.join(long_too)} alone ({long})" if long_too else "for none of them"
        out.append(
            f"- **Training length**: the {' and '.join(short_only)} variants are reported at the short budget "
            f"({short}) only; whether an answer changes with training length is measured {measured}."
        )
    out.append(
        f"- **Sections at one setting**: the stale map, the noise and rounding sections and the feedback "
        f"alignment width and scale tables are at the short budget ({short}), the first three on "
        f"{grid.section_seeds} seeds, at {grid.hidden} units unless a table says otherwise."
    )
    all_acts = set(grid.activations)
    sections = (
        ("the stale map", ("relu",) if grid.stale_ks else ()),
        ("the noise σ sweep", grid.noise_activations),
        ("the rounding resolution sweep", grid.round_activations),
        ("gradient rounding", grid.round_activations[:1] if grid.grad_bits else ()),
        ("feedback alignment's width and scale of B", {e.activation for e in grid.entries if e.section != "sweep"}),
    )
    for what, acts in sections:
        missing = sorted(all_acts - set(acts))
        if missing and acts:
            out.append(f"- **Activations**: {what} at {', '.join(sorted(acts))} only (not {', '.join(missing)}).")
    if grid.stale_ks:
        out.append(
            "- **Staleness in the rate sweeps** is k = 10 only; other lags appear in the stale map at fixed "
            f"effective steps ({', '.join(f'{s:g}' for s in grid.stale_steps)}), not at a rate chosen per lag."
        )
    momenta = f" (μ = {', '.join(f'{m:g}' for m in grid.stale_momenta)})" if grid.stale_momenta else ""
    out.append(
        f"- **Optimiser**: heavy-ball momentum μ = {grid.momentum:g} everywhere except the stale map{momenta}; "
        "a constant rate, no other optimiser, schedule or weight decay."
    )
    return out


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _partial(meta: dict[str, Any]) -> list[str]:
    """A warning at the top when the report was written from a study that has not finished."""
    missing = meta.get("missing", 0)
    if not missing:
        return []
    return [
        f"> **Partial results.** Written from the runs stored so far (`--stored-only`) while the study had not "
        f"finished: at least {missing:,} runs it calls for are missing (the rest of round {meta.get('rounds', 0)} "
        "and any rounds after it). A sweep marked 'not settled yet' has no chosen rate, a '—' has no report runs "
        "yet, and the Holm families hold fewer comparisons than the whole study's will, so its marks can still "
        "change; the means and intervals shown do not (each is a function of its own runs).",
        "",
    ]


def _seeds(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 2 else ", ".join(map(str, seeds))


def markdown(study: Study, grid: Grid, command: str = "", figures: Sequence[str] = (), plot: str = "") -> str:
    """results.md: how the study was run, then every table."""
    rows = analysis.sweep(study, grid)
    parts = _how(study, grid, command)
    parts += ["## What this grid does not measure", "", *limits(grid), ""]
    parts += ["## 1. Each variant at its chosen rate", "", *tables.sweep_tables(rows, grid)]
    parts += ["## 2. The equal-rate contrasts the answers lean on", "", *tables.equal_rate_tables(study, grid)]
    parts += ["## 3. Stale weights, both ways (ReLU)", "", *tables.stale_tables(study, grid)]
    parts += ["## 4. Feedback alignment controls: width, scale of B, sign-concordant B (ReLU)", ""]
    parts += tables.feedback_tables(study, grid, rows)
    parts += ["## 5. Noise on h: additive and multiplicative, act′ at the noisy h or the clean z", ""]
    parts += tables.noise_tables(study, grid)
    parts += ["## 6. Rounding: resolution, nearest or stochastic, h or the gradient", ""]
    parts += tables.rounding_tables(study, grid)
    parts += ["## 7. Random hidden states: per-row, redrawn, per-example and drawn-once", ""]
    parts += tables.random_h_table(rows)
    parts += ["## 8. Perturbed forward passes: the clean net and the net as trained", "", *tables.perturbed_table(rows)]
    parts += [
        "## 9. Diagnostics at the end of training (report seeds, chosen rate)",
        "",
        *tables.diagnostics_table(rows),
    ]
    if figures:
        parts += ["## Figures", "", *(f"- [{Path(f).name}]({Path(f).name})" for f in figures), ""]
    if plot:
        parts += ["## Validation error over training (text plot)", "", "```text", plot.rstrip(), "```", ""]
    parts += ["## References", "", *(f"- {r}" for r in REFERENCES), ""]
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
    saved = Study(study.results, dict(study.meta, command=command))
    paths = [out_dir / "results.json", out_dir / "results.md"]
    paths[0].write_text(compact_json(to_json(saved, grid)))
    paths[1].write_text(markdown(saved, grid, command, figures, plot))
    if plot:
        paths.append(out_dir / "results_plot.txt")
        paths[-1].write_text(plot.rstrip() + "\n")
    return paths


def entry_named(grid: Grid, variant: str, activation: str, **options: Any) -> Entry | None:
    """The grid's entry for a variant with exactly these options at ``activation`` (default width)."""
    want = tuple(sorted(options.items()))
    for e in grid.entries:
        if e.variant == variant and e.activation == activation and e.options == want and not e.hidden:
            return e
    return None
