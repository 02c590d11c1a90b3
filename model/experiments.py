"""The backward-pass study: every variant of ``model.variants``, several seeds each, in parallel.

``default_configs`` lists the runs (exact backprop, then each variant and sub-option, with
the noise sigmas and stale lags of the study). ``run_study`` trains each (config, seed) with
``model.fit.fit`` in worker processes (spawned, one BLAS thread each, MNIST loaded once per
worker), reports progress through an ``on_event`` callback, and returns a ``Study``:
per-run results plus aggregates (test error mean ± std over seeds, final training loss,
mean alignment angle per layer, time). ``write_results`` writes ``results.json`` and
``results.md``. Drawing (progress bars, the terminal plot) is left to ``tui``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import queue as queue_mod
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from model.config import HyperParams
from model.fit import EpochRecord, fit
from model.trainer import StepMetrics, Trainer
from model.variants import VARIANTS

DEFAULT_SIGMAS = (0.1, 0.5, 1.0)
DEFAULT_STALE_KS = (1, 10, 100)
LAYERS = ("W1", "W2")


@dataclass(frozen=True)
class RunConfig:
    """One line of the study: a variant with its options (seeds are added by ``run_study``)."""

    variant: str
    sigma: float | None = None
    stale_k: int | None = None

    @property
    def question(self) -> str:
        return VARIANTS[self.variant].question

    @property
    def label(self) -> str:
        """e.g. ``noise-same sigma=0.5`` or ``stale k=10``."""
        if self.sigma is not None:
            return f"{self.variant} sigma={self.sigma:g}"
        if self.stale_k is not None:
            return f"{self.variant} k={self.stale_k}"
        return self.variant

    @classmethod
    def from_label(cls, label: str) -> RunConfig:
        """Inverse of ``label``: ``"stale k=10"`` -> RunConfig("stale", stale_k=10)."""
        variant, _, option = label.partition(" ")
        if option.startswith("sigma="):
            return cls(variant, sigma=float(option[6:]))
        if option.startswith("k="):
            return cls(variant, stale_k=int(option[2:]))
        return cls(variant)

    def hparams(self, base: HyperParams, seed: int) -> HyperParams:
        """``base`` with this variant, its options and ``seed``."""
        options = {k: v for k, v in (("sigma", self.sigma), ("stale_k", self.stale_k)) if v is not None}
        return base.validated(variant=self.variant, seed=seed, **options)


def default_configs(
    sigmas: Sequence[float] = DEFAULT_SIGMAS, stale_ks: Sequence[int] = DEFAULT_STALE_KS
) -> list[RunConfig]:
    """Exact backprop and every registered variant; noise at each sigma, stale at each k."""
    configs: list[RunConfig] = []
    for name, info in VARIANTS.items():
        if "sigma" in info.options:
            configs += [RunConfig(name, sigma=float(s)) for s in sigmas]
        elif "stale_k" in info.options:
            configs += [RunConfig(name, stale_k=int(k)) for k in stale_ks]
        else:
            configs.append(RunConfig(name))
    return configs


@dataclass
class RunResult:
    """One (config, seed) run. Errors are fractions; angles in degrees (NaN if never probed)."""

    label: str
    variant: str
    question: str
    seed: int
    test_error: float  # at the epoch with the lowest validation error
    final_test_error: float
    best_epoch: int
    train_loss: float  # mean minibatch loss over the last epoch
    valid_curve: list[float]  # validation error after each epoch
    test_curve: list[float]
    angles: dict[str, float]  # mean over the run's probes, per layer
    angles_by_epoch: dict[str, list[float]]
    seconds: float  # training time (evaluation excluded)
    steps: int
    diverged: bool


@dataclass(frozen=True)
class Event:
    """Progress of one run: ``kind`` is "start", "epoch" or "done" ("ended" stays internal)."""

    kind: str
    index: int
    label: str
    seed: int
    epoch: int = 0
    epochs: int = 0
    valid_error: float = math.nan
    result: RunResult | None = None


@dataclass(frozen=True)
class _Task:
    index: int
    config: RunConfig
    seed: int
    epochs: int
    base: HyperParams
    angle_every: int


@dataclass
class Row:
    """Aggregate over the seeds of one config."""

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

    def rows(self) -> list[Row]:
        rows = []
        for cfg in self.configs:
            runs = [r for r in self.results if r.label == cfg.label]
            if not runs:
                continue
            errs = np.array([r.test_error for r in runs])
            n_epochs = max(len(r.valid_curve) for r in runs)
            curves = np.full((len(runs), n_epochs), np.nan)
            for i, r in enumerate(runs):
                curves[i, : len(r.valid_curve)] = r.valid_curve
            rows.append(
                Row(
                    question=cfg.question,
                    label=cfg.label,
                    variant=cfg.variant,
                    seeds=len(runs),
                    test_error_mean=float(errs.mean()),
                    test_error_std=float(errs.std(ddof=1)) if len(runs) > 1 else 0.0,
                    final_test_error=_nanmean([r.final_test_error for r in runs]),
                    train_loss=_nanmean([r.train_loss for r in runs]),
                    angles={k: _nanmean([r.angles.get(k, math.nan) for r in runs]) for k in LAYERS},
                    angles_last={k: _nanmean([r.angles_by_epoch[k][-1] for r in runs]) for k in LAYERS},
                    seconds=float(np.mean([r.seconds for r in runs])),
                    diverged=sum(r.diverged for r in runs),
                    valid_curve=[_nanmean(list(col)) for col in curves.T],
                )
            )
        return rows


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


# ---- running ---------------------------------------------------------------------------------

_DATA: Any = None  # the worker's dataset (train_x, train_y, valid_x, ...), loaded once
_QUEUE: Any = None  # where a worker sends "start"/"epoch" events


def _init_worker(data: Any, events: Any) -> None:
    """Worker set-up: one BLAS thread, the dataset (loaded here if ``data`` is a path or None).

    numpy is loaded by now (unpickling the arguments needs it), so only threadpoolctl can still
    shrink this running worker's BLAS pool; the limit holds for the worker's life.
    """
    global _DATA, _QUEUE
    threadpool_limits(1)
    _DATA = _load(data)
    _QUEUE = events


def _load(data: Any) -> Any:
    if data is None or isinstance(data, str | os.PathLike):
        from model.data import load_mnist

        return load_mnist(data)
    return data


def _run_task(task: _Task, emit: Callable[[Event], Any] | None = None) -> RunResult:
    """Train one (config, seed) on the worker's data; epoch events go to ``emit`` or the queue."""
    data = _DATA
    send = emit if emit is not None else (_QUEUE.put if _QUEUE is not None else None)
    cfg = task.config
    hp = cfg.hparams(task.base, task.seed)
    trainer = Trainer(
        (data.train_x, data.train_y),
        hp,
        eval_sets={"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)},
        angle_every=task.angle_every,
    )
    probes: list[list[dict[str, float]]] = [[]]

    def on_step(m: StepMetrics) -> None:
        if m.angles is not None:
            probes[-1].append(m.angles)

    def on_epoch(r: EpochRecord) -> None:
        probes.append([])
        if send is not None:
            send(
                Event("epoch", task.index, cfg.label, task.seed, r.epoch, task.epochs, r.errors.get("valid", math.nan))
            )

    if send is not None:
        send(Event("start", task.index, cfg.label, task.seed, 0, task.epochs))
    result = fit(trainer, task.epochs, on_epoch=on_epoch, on_step=on_step)
    if send is not None:
        send(Event("ended", task.index, cfg.label, task.seed, task.epochs, task.epochs))
    epochs_probes = [p for p in probes if p] or [[]]
    all_probes = [a for p in epochs_probes for a in p]
    return RunResult(
        label=cfg.label,
        variant=cfg.variant,
        question=cfg.question,
        seed=task.seed,
        test_error=result.test_error_at_best,
        final_test_error=result.test_error,
        best_epoch=result.best_epoch,
        train_loss=result.train_loss,
        valid_curve=[h.errors.get("valid", math.nan) for h in result.history],
        test_curve=[h.errors.get("test", math.nan) for h in result.history],
        angles={k: _nanmean([a[k] for a in all_probes]) for k in LAYERS},
        angles_by_epoch={k: [_nanmean([a[k] for a in p]) for p in epochs_probes] for k in LAYERS},
        seconds=result.seconds,
        steps=result.steps,
        diverged=result.diverged,
    )


def run_study(
    configs: Sequence[RunConfig] | None = None,
    *,
    seeds: int = 3,
    epochs: int = 3,
    jobs: int = 2,
    data: Any = None,
    base: HyperParams | None = None,
    angle_every: int = 10,
    on_event: Callable[[Event], Any] | None = None,
) -> Study:
    """Train every config with seeds 0..seeds-1 for ``epochs`` epochs; ``jobs`` worker processes.

    ``data``: None (the cached MNIST), a path for ``load_mnist``, or an object with
    train_x/train_y/valid_x/valid_y/test_x/test_y arrays (small data for tests). With
    ``jobs == 1`` the runs happen in this process (no spawn cost); otherwise in spawned
    workers that each cap BLAS at one thread and load the data once.
    """
    configs = list(configs) if configs is not None else default_configs()
    base = base if base is not None else HyperParams()
    tasks = [
        _Task(i * seeds + s, cfg, s, epochs, base, angle_every) for i, cfg in enumerate(configs) for s in range(seeds)
    ]
    user_emit = on_event or (lambda e: None)

    def emit(e: Event) -> None:
        if e.kind != "ended":  # internal: marks the last queued event of a run
            user_emit(e)

    t0 = time.perf_counter()
    results: dict[int, RunResult] = {}
    if jobs <= 1:
        global _DATA
        _DATA = _load(data)
        for task in tasks:
            results[task.index] = _run_task(task, emit)
            emit(Event("done", task.index, task.config.label, task.seed, epochs, epochs, result=results[task.index]))
    else:
        results = _run_pool(tasks, jobs, data, emit)
    meta = {
        "epochs": epochs,
        "seeds": seeds,
        "jobs": jobs,
        "angle_every": angle_every,
        "hparams": {k: v for k, v in base.to_dict().items() if k not in ("variant", "seed", "epochs")},
        "wall_seconds": time.perf_counter() - t0,
        "environment": environment(),
    }
    return Study(configs, [results[t.index] for t in tasks], meta)


def _run_pool(tasks: list[_Task], jobs: int, data: Any, emit: Callable[[Event], Any]) -> dict[int, RunResult]:
    """Run ``tasks`` in spawned workers; a run's "done" follows all of its queued events."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked threads or BLAS state
    events = ctx.Queue()
    by_index = {t.index: t for t in tasks}
    results: dict[int, RunResult] = {}
    ended: set[int] = set()  # runs whose last queued event ("ended") has arrived
    announced: set[int] = set()

    def announce(index: int) -> None:
        if index in results and index in ended and index not in announced:
            announced.add(index)
            t = by_index[index]
            emit(Event("done", index, t.config.label, t.seed, t.epochs, t.epochs, result=results[index]))

    def drain(timeout: float = 0.0) -> None:
        while True:
            try:
                e = events.get(timeout=timeout) if timeout else events.get_nowait()
            except queue_mod.Empty:
                return
            if e.kind == "ended":
                ended.add(e.index)
                announce(e.index)
            else:
                emit(e)

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(data, events))
    try:
        futures: dict[Future[RunResult], _Task] = {pool.submit(_run_task, t): t for t in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for f in done:
                results[futures[f].index] = f.result()
            drain()
            for f in done:
                announce(futures[f].index)
        deadline = time.monotonic() + 5.0  # the queue's feeder thread may lag the result a little
        while len(announced) < len(tasks) and time.monotonic() < deadline:
            drain(timeout=0.1)
        ended.update(results)
        for index in sorted(results):
            announce(index)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def environment() -> dict[str, Any]:
    """CPU, core count, Python, numpy and BLAS versions of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                blas = f"{info.get('internal_api')} {info.get('version')}"
                break
    except Exception:  # informational only
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
    }


# ---- writing ---------------------------------------------------------------------------------


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


def plot_groups(rows: Sequence[Row]) -> list[tuple[str, list[Row]]]:
    """Panels for the error-curve plot: one per question (noise: one per sigma), each led by exact backprop."""
    exact = [r for r in rows if r.variant == "exact"]
    groups: dict[str, list[Row]] = {}
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


def markdown_table(rows: Sequence[Row]) -> str:
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
