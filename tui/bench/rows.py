"""One function per group of table rows; each returns the ``Row``s it measured.

Every function takes the ``Bench`` context (data, threads, scale, the GEMM samples) and
does its own alternation: the things it compares run in turn, several times, and the
best time of each counts. ``--quick`` shrinks every figure to a smoke test on synthetic
data; its rows say "quick" instead of pass/fail. Leaves out the command and the printing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from model import blas
from model.config import HyperParams
from model.data import MNIST
from model.drawing import SIDE, resize, to_mnist
from model.mlp import MLP
from model.presets import get_preset
from model.run import Policy, Run, RunOutcome
from model.run import events as run_events
from model.trainer import Trainer
from tui.bench.measure import Samples, child_env, eval_flops, gemm_rate, run_child, run_examples, train_flops
from tui.bench.speedrun import speedrun_rows
from tui.bench.table import SKIP, Row, at_least, at_most
from tui.bench.torch_mlp import make_torch_step, set_torch_threads, torch_version


@dataclass(frozen=True)
class Scale:
    """How much work each figure does."""

    epoch_examples: int  # examples per timed "epoch"
    repeats: int  # timed runs per figure, alternated with the things it is compared with
    gemm_n: int  # size of the square GEMM that measures the machine's rate
    compare_steps: int  # steps per timed run in the threads and PyTorch comparisons
    rss_steps: int  # steps of the memory child


FULL = Scale(epoch_examples=50_000, repeats=5, gemm_n=1024, compare_steps=100, rss_steps=400)
QUICK = Scale(epoch_examples=2_560, repeats=1, gemm_n=256, compare_steps=5, rss_steps=10)


@dataclass
class Bench:
    """What every row needs: data, thread count, scale, and the GEMM rates sampled so far."""

    data: MNIST
    threads: int
    quick: bool
    data_path: str | None = None
    log: Callable[[str], None] = lambda message: None
    gemm_rates: list[float] = field(default_factory=list)

    @property
    def scale(self) -> Scale:
        return QUICK if self.quick else FULL

    @property
    def peak(self) -> float:
        """The best float32 GEMM rate seen in this run (FLOP/s); measured on first use."""
        if not self.gemm_rates:
            self.gemm_rates.append(gemm_rate(self.scale.gemm_n))
        return max(self.gemm_rates)

    def trainer(self, hidden: int, batch_size: int, fused_update: bool = True, **changes: object) -> Trainer:
        """A trainer on the training set, warmed up by a few steps (buffers allocated)."""
        hp = HyperParams().validated(hidden=hidden, batch_size=batch_size, **changes)
        trainer = Trainer((self.data.train_x, self.data.train_y), hp, fused_update=fused_update)
        for _ in range(3):
            trainer.step()
        return trainer


def _epoch(trainer: Trainer, n_examples: int) -> Callable[[], None]:
    return lambda: run_examples(trainer.step, lambda: trainer.state.examples_seen, n_examples)


def _steps(step: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            step()

    return run


def _large_products(trainer: Trainer, update: bool = False) -> Callable[[], None]:
    """The two large products of a step of ``trainer`` (its minibatch X (B, D) and W1 (H, D)),
    on copies: forward X W1^T (B, H) and dW1 = delta1^T X (H, D); with ``update``, also W1's fused
    momentum update (v = mu v + dW1 in the product, W1 -= lr v in one axpy)."""
    X, W1 = trainer._batch_x.copy(), trainer.model.W1.copy(order="K")
    delta = np.random.default_rng(0).standard_normal((X.shape[0], W1.shape[0]), dtype=np.float32)
    z, v = np.empty_like(delta), np.zeros_like(W1)

    def products() -> None:
        np.matmul(X, W1.T, out=z)  # forward: (B, D) x (D, H)
        if update:
            blas.gemm(delta.T, X, out=v, beta=0.9)  # v = mu v + dW1: (H, B) x (B, D)
            blas.axpy(-1e-6, v, W1)  # W1 -= lr v
        else:
            blas.gemm(delta.T, X, out=v)  # dW1: (H, B) x (B, D)

    return products


# ---- speed against the hardware bound ------------------------------------------------------


def epoch_rows(b: Bench) -> list[Row]:
    """Epoch time vs the GEMM bound at H=800 and H=100 (B=128), and the app's defaults (H=256, B=64),
    each beside the same ratio for the step's two large products alone, alternating: the share of
    the bound this machine's BLAS leaves for the rest of a step (a memory-bound part)."""
    configs = [(800, 128, 0.75), (100, 128, 0.5), (256, 64, None)]
    n, steps = b.scale.epoch_examples, b.scale.compare_steps
    trainers = {c: b.trainer(c[0], c[1]) for c in configs}
    products = {c: _steps(_large_products(trainers[c]), steps) for c in configs}
    samples = {c: Samples() for c in configs}
    ceilings = {c: Samples() for c in configs}
    for _ in range(b.scale.repeats):
        for c in configs:
            b.gemm_rates.append(gemm_rate(b.scale.gemm_n))  # alternate: the bound drifts with the load too
            samples[c].run(_epoch(trainers[c], n))
            ceilings[c].run(products[c])
    th = f"{b.threads} thread{'s' if b.threads > 1 else ''}"
    rows = [Row(f"float32 GEMM rate ({b.scale.gemm_n}³, {th})", "info", f"{b.peak / 1e9:.0f} GFLOP/s")]
    for (H, B, target), s in samples.items():
        bound = train_flops(n, H) / b.peak
        ceiling = train_flops(B * steps, H) / b.peak / ceilings[H, B, target].best
        ratio, figure = bound / s.best, f"epoch H={H} B={B}: bound / time"
        text = f"{ratio:.2f}: {s.best:.2f} s per {n:,} examples, bound {bound:.2f} s (CPU share {s.cpu_share:.2f}); "
        text += f"the two large products alone {ceiling:.2f}"
        if target is None:
            rows.append(Row(figure + " (app defaults)", "info", text))
        else:
            rows.append(at_least(figure, ratio, target, f"≥ {target:.2f}", text, b.quick))
    return rows


def thread_rows(b: Bench) -> list[Row]:
    """Step time with 1 vs 2 BLAS threads (alternating): the evidence for the default thread count."""
    if (os.cpu_count() or 1) < 2:
        return [Row("1 vs 2 BLAS threads", "info", "one CPU: nothing to compare", status=SKIP)]
    rows = []
    for H, B in ((800, 128), (256, 64)):
        trainer = b.trainer(H, B)
        samples = {1: Samples(), 2: Samples()}
        for _ in range(b.scale.repeats):
            for th, s in samples.items():
                with threadpool_limits(th):
                    s.run(_steps(trainer.step, b.scale.compare_steps))
        t1, t2 = (samples[t].best / b.scale.compare_steps * 1e3 for t in (1, 2))
        text = f"1: {t1:.2f} ms/step, 2: {t2:.2f} ms/step (2 threads {t1 / t2:.2f}x as fast)"
        rows.append(Row(f"2 vs 1 BLAS threads, H={H} B={B}", "info", text))
    return rows


def step_row(b: Bench) -> list[Row]:
    """How close the trainer's step comes to the GEMM bound at H=800 B=128 on two threads, beside
    what bounds it: the step's two large products alone, those plus W1's fused momentum update
    (v = mu v + delta1^T X in the product, W1 -= lr v in one axpy), and the step with numpy's
    elementwise update instead (``Trainer(fused_update=False)``), alternating."""
    figure, H, B = "step, 2 threads, H=800 B=128: bound / time", 800, 128
    if (os.cpu_count() or 1) < 2:
        return [Row(figure, "≥ 0.65", "one CPU: nothing to compare", status=SKIP)]
    trainer, numpy_update = b.trainer(H, B), b.trainer(H, B, fused_update=False)
    n = b.scale.compare_steps
    parts = {
        "products": _large_products(trainer),
        "products + W1 update": _large_products(trainer, update=True),
        "step with numpy's update": numpy_update.step,
        "whole step": trainer.step,
    }
    samples = {k: Samples() for k in parts}
    with threadpool_limits(2):
        rates = []
        for _ in range(b.scale.repeats):
            rates.append(gemm_rate(b.scale.gemm_n))
            for k, fn in parts.items():
                samples[k].run(_steps(fn, n))
    bound = train_flops(B, H) / max(rates)
    ratio = {k: bound / (samples[k].best / n) for k in parts}
    text = f"{ratio['whole step']:.2f}; " + ", ".join(f"{k} {ratio[k]:.2f}" for k in parts if k != "whole step")
    text += f" ({bound * 1e3:.2f} ms bound a step at {max(rates) / 1e9:.0f} GFLOP/s)"
    return [at_least(figure, ratio["whole step"], 0.65, "≥ 0.65", text, b.quick)]


def train_epochs(trainer: Trainer, epochs: int) -> RunOutcome:
    """``epochs`` more epochs of ``trainer`` through the run core, each evaluated at its end (as ``train``)."""
    run = Run(trainer)
    end = run.epochs_done + epochs
    run.train(stop=lambda: run.epochs_done >= end)
    return run.close()


def torch_rows(b: Bench) -> list[Row]:
    """mnist-tui / PyTorch step time on the same MLP at 1 and 2 threads (skipped without torch).

    The four alternate (numpy, PyTorch, at 1 thread then at 2), with a pause before each run so
    that neither library's idle threads, which spin for a while after a parallel call, still
    hold the second core when the other starts."""
    H, B = 800, 128
    figures = {th: f"numpy / PyTorch time, H={H} B={B}, {th} thread{'s' if th > 1 else ''}" for th in (1, 2)}
    if b.quick:  # importing torch alone takes seconds
        return [Row(f, "≤ 1.00", "not run in --quick", status=SKIP) for f in figures.values()]
    torch_step = make_torch_step(b.data.train_x, b.data.train_y, H, B, 1)
    if torch_step is None:
        return [Row(f, "≤ 1.00", "PyTorch not installed", status=SKIP) for f in figures.values()]
    threads = [th for th in figures if th <= (os.cpu_count() or 1)]
    trainer = b.trainer(H, B)
    for _ in range(3):
        torch_step()
    n = b.scale.compare_steps
    samples = {(th, who): Samples() for th in threads for who in ("numpy", "torch")}
    for _ in range(b.scale.repeats):
        for th in threads:
            with threadpool_limits(th):
                set_torch_threads(th)
                for who, step in (("numpy", trainer.step), ("torch", torch_step)):
                    time.sleep(0.2)
                    samples[th, who].run(_steps(step, n))
    set_torch_threads(b.threads)
    rows = []
    for th in threads:
        ms_np, ms_t = (samples[th, who].best / n * 1e3 for who in ("numpy", "torch"))
        text = f"{ms_np / ms_t:.2f}: {ms_np:.2f} vs {ms_t:.2f} ms/step (torch {torch_version()})"
        rows.append(at_most(figures[th], ms_np / ms_t, 1.0, "≤ 1.00", text))
    return rows


def eval_row(b: Bench) -> list[Row]:
    """Error rate of the whole test set at H=800 (best of several), against its GEMM bound."""
    model = MLP(b.data.test_x.shape[1], 800)
    s = Samples()
    for _ in range(b.scale.repeats + 2):
        s.run(lambda: model.evaluate(b.data.test_x, b.data.test_y))
    n = len(b.data.test_y)
    bound = eval_flops(n, 800) / b.peak
    text = f"{s.best / bound:.2f}: {s.best * 1e3:.0f} ms, GEMM bound {bound * 1e3:.0f} ms"
    return [at_most(f"evaluate {n:,} test examples, H=800: time / bound", s.best / bound, 1.2, "≤ 1.20", text, b.quick)]


# ---- learning -----------------------------------------------------------------------------


def time_to_5_percent_row(b: Bench, every: int = 25, max_epochs: int = 3) -> list[Row]:
    """Training seconds (evaluation excluded) until the test error first drops below 5%, defaults."""
    figure = "time to < 5% test error (defaults)"
    d = b.data
    trainer = Trainer((d.train_x, d.train_y), HyperParams(), eval_sets={"test": (d.test_x, d.test_y)})
    s, error = Samples(), 1.0
    while error >= 0.05 and trainer.state.examples_seen < max_epochs * len(d.train_y):
        s.run(_steps(trainer.step, every))
        error = trainer.evaluate(("test",)).error("test")  # outside the timed part
    seconds = sum(s.wall)
    if error >= 0.05:
        return [Row(figure, "≤ 2 s", f"not reached in {max_epochs} epochs ({error:.2%})", 0.0, "FAIL")]
    text = f"{seconds:.2f} s: {error:.2%} after {trainer.state.examples_seen:,} examples"
    return [at_most(figure, seconds, 2.0, "≤ 2 s", text, b.quick)]


def drawing_row(b: Bench, n: int = 1_000) -> list[Row]:
    """Accuracy of the drawing pad's path (``model.drawing.to_mnist``) on ``n`` test digits, as if
    drawn, next to the clean accuracy, after two epochs at the defaults; and on the same digits
    shrunk to half size in a corner, the careless drawing the preprocessing must undo."""
    figure = f"drawn-digit path, {n:,} test digits: accuracy"
    d = b.data
    trainer = Trainer((d.train_x, d.train_y), HyperParams(), eval_sets={"valid": (d.valid_x, d.valid_y)})
    train_epochs(trainer, 1 if b.quick else 2)
    X, y = d.test_x[:n], d.test_y[:n]
    images = X.reshape(len(X), SIDE, SIDE)
    found: list[np.ndarray] = []
    s = Samples()
    s.run(lambda: found.append(np.stack([to_mnist(img) for img in images])))
    drawn = found[0]
    corner = np.zeros_like(images)
    half = SIDE // 2
    for i, img in enumerate(images):
        corner[i, 1 : 1 + half, 1 : 1 + half] = resize(img, half, half)
    fixed = np.stack([to_mnist(c) for c in corner])

    def accuracy(inputs: np.ndarray) -> float:
        return float(np.mean(trainer.model.predict(inputs.reshape(len(y), -1)) == y))

    text = (
        f"{accuracy(drawn):.1%} through the preprocessing vs {accuracy(X):.1%} clean; shrunk into a corner: "
        f"{accuracy(corner):.1%} raw, {accuracy(fixed):.1%} preprocessed ({s.best / len(X) * 1e3:.2f} ms a digit)"
    )
    return [Row(figure, "info", text)]


def pad_latency_row(b: Bench) -> list[Row]:
    """The drawing pad in the app (Pilot, training at the defaults): posted mouse move to the
    class bars drawn with its result, p50 and p95."""
    figure = "drawing pad: mouse move → bars p95"
    try:
        from tui.bench.in_app import percentile
        from tui.bench.pad_latency import measure_pad_latency
    except ImportError as exc:
        return [Row(figure, "≤ 50 ms", f"the app is not importable ({exc})", status=SKIP)]
    xs = measure_pad_latency(b.data, moves=30 if b.quick else 300)
    p50, p95 = percentile(xs, 0.5), percentile(xs, 0.95)
    text = f"{p95 * 1e3:.0f} ms (p50 {p50 * 1e3:.0f} ms, max {max(xs) * 1e3:.0f} ms, {len(xs)} moves, training running)"
    return [at_most(figure, p95, 0.050, "≤ 50 ms", text, b.quick)]


def best_preset_row(b: Bench, run: bool) -> list[Row]:
    """Test error (at the best validation epoch) of ``--preset best``; slow, so only with ``--best``."""
    preset = get_preset("best")
    hp = preset.hparams()
    figure = "test error, --preset best"
    if not run or b.quick:
        return [Row(figure, "≤ 1.40%", "not run (add --best; takes minutes)", status=SKIP)]
    d = b.data
    eval_sets = {"valid": (d.valid_x, d.valid_y), "test": (d.test_x, d.test_y)}
    trainer = Trainer((d.train_x, d.train_y), hp, eval_sets=eval_sets)

    def progress(e: run_events.RunEvent) -> None:
        if isinstance(e, run_events.EpochEnded):
            r = e.record
            where = f"epoch {r.epoch:g}/{hp.epochs}"
            b.log(f"  best preset: {where}, valid {r.errors['valid']:.2%}, test {r.errors['test']:.2%}")

    best = Run(trainer, policy=Policy(keep_best=True))
    best.listen(progress)
    best.train()
    result = best.close()
    err = result.test_error_at_best
    text = (
        f"{err:.2%} (valid {result.best_valid_error:.2%} at epoch {result.best_epoch:g}/{result.epochs:g}), "
        f"{result.seconds:.0f} s training"
    )
    return [at_most(figure, err, 0.014, "≤ 1.40%", text)]


# ---- start-up and memory (child processes) -------------------------------------------------

_IMPORTS = """
import time
t0 = time.perf_counter(); import model; t1 = time.perf_counter()
print(t1 - t0)
"""

_RSS = """
import json, resource, sys
from tui.bench.data import bench_data
from model import blas
from model.config import HyperParams
from model.trainer import Trainer
quick, path, steps = json.loads(sys.argv[1])
d = bench_data(quick, path)
trainer = Trainer((d.train_x, d.train_y), HyperParams(hidden=800, batch_size=128),
                  eval_sets={"valid": (d.valid_x, d.valid_y), "test": (d.test_x, d.test_y)})
for _ in range(steps):
    trainer.step()
trainer.evaluate()
try:  # Linux: this process's own peak. ru_maxrss would include the parent's, inherited through fork + exec.
    print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 2**10)
except OSError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    print(rss / 2**20 if sys.platform == "darwin" else rss / 2**10)
"""

_APP = """
import time
t0 = time.perf_counter()
import asyncio, json, sys
from tui.app import MnistApp
from tui.session.config import AppConfig
quick, path = json.loads(sys.argv[1])

async def main():
    if quick:
        from tui.bench.data import synthetic_mnist
        app = MnistApp(data=synthetic_mnist())
    else:
        app = MnistApp(AppConfig(data_path=path))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.main is None or app.screen is not app.main:
            if time.perf_counter() - t0 > 30:
                raise SystemExit("the training screen did not appear within 30 s")
            await pilot.pause(0.005)
        seconds = time.perf_counter() - t0
        await pilot.pause(0.5)  # let the screen finish mounting before tearing it down
        print(seconds)
        app.exit()

asyncio.run(main())
"""


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "mnist-tui"
    return [str(script)] if script.exists() else ["python", "-m", "tui.cli"]


def startup_rows(b: Bench) -> list[Row]:
    """``mnist-tui --help`` wall time and ``import model`` time, best of a few child processes."""
    repeats = max(b.scale.repeats, 1)
    help_s = min(run_child([*_console_script(), "--help"], b.threads)[0] for _ in range(repeats))
    import_s = min(float(run_child(["python", "-c", _IMPORTS], b.threads)[1]) for _ in range(repeats))
    return [
        at_most("mnist-tui --help (whole process)", help_s, 0.5, "≤ 0.5 s", f"{help_s:.2f} s", b.quick),
        at_most("import model (numpy included)", import_s, 0.3, "≤ 0.3 s", f"{import_s:.2f} s", b.quick),
    ]


def app_row(b: Bench) -> list[Row]:
    """Process start to the training screen of the app (data cached; synthetic data in quick mode)."""
    figure = "app start to training screen"
    try:
        import tui.app  # noqa: F401
    except ImportError as exc:
        return [Row(figure, "≤ 1 s", f"tui.app not importable ({exc})", status=SKIP)]
    args = json.dumps([b.quick, b.data_path])
    seconds = min(float(run_child(["python", "-c", _APP, args], b.threads)[1]) for _ in range(b.scale.repeats))
    return [at_most(figure, seconds, 1.0, "≤ 1 s", f"{seconds:.2f} s", b.quick)]


def in_app_rows(b: Bench) -> list[Row]:
    """The app in a pseudo-terminal at batch 16: training rate against headless, key latency, and
    the first ``?`` of each session (the help screen built for the first time)."""
    rate_figure, key_figure = "in the app, B=16: training rate / headless", "in the app, B=16: key → screen p95"
    help_figure = "in the app, B=16: first ? → help, slowest session"
    targets = ((rate_figure, "≥ 0.90"), (key_figure, "< 50 ms"), (help_figure, "< 100 ms"))
    if b.quick or importlib.util.find_spec("pyte") is None:
        why = "not in --quick" if b.quick else "needs pyte (pip install pyte, or the dev extra)"
        return [Row(f, t, why, status=SKIP) for f, t in targets]
    from tui.bench.in_app import measure_app

    changes: dict[str, object] = {"batch_size": 16, "epochs": 1000}
    f = measure_app(_console_script(), child_env(b.threads), changes, b.data_path, log=b.log)
    pairs = ", ".join(f"{a / h:.2f}" for a, h in zip(f.app_rates, f.headless_rates, strict=True))
    rate_text = f"{f.ratio:.2f} (median of {pairs}; headless {max(f.headless_rates):,.0f} examples/s)"
    worst = max(f.latencies, key=lambda k: f.percentile(0.95, k))
    n = sum(len(xs) for xs in f.latencies.values())
    key_text = (
        f"{f.percentile(0.95) * 1e3:.0f} ms (p50 {f.percentile(0.5) * 1e3:.0f} ms, {n} keys; "
        f"slowest: {worst} p95 {f.percentile(0.95, worst) * 1e3:.0f} ms)"
    )
    first = max(f.first_help)
    help_text = f"{first * 1e3:.0f} ms (" + ", ".join(f"{x * 1e3:.0f}" for x in f.first_help) + " ms)"
    return [
        at_least(rate_figure, f.ratio, 0.90, "≥ 0.90", rate_text),
        at_most(key_figure, f.percentile(0.95), 0.050, "< 50 ms", key_text),
        at_most(help_figure, first, 0.100, "< 100 ms", help_text),
    ]


def memory_row(b: Bench) -> list[Row]:
    """Peak resident memory of a child that loads MNIST and trains H=800 (one epoch) + evaluates."""
    args = json.dumps([b.quick, b.data_path, b.scale.rss_steps])
    mb = float(run_child(["python", "-c", _RSS, args], b.threads)[1])
    text = f"{mb:.0f} MB after {b.scale.rss_steps} steps + evaluation"
    return [at_most("max RSS, training H=800 B=128", mb, 600.0, "≤ 600 MB", text, b.quick)]


#: Table order. Each entry: (label used if the group fails, function).
GROUPS: list[tuple[str, Callable[[Bench], list[Row]]]] = [
    ("epoch time vs GEMM bound", epoch_rows),
    ("numpy / PyTorch", torch_rows),
    ("1 vs 2 BLAS threads", thread_rows),
    ("step on two threads", step_row),
    ("time to < 5% test error", time_to_5_percent_row),
    ("evaluate test set", eval_row),
    ("drawn-digit path", drawing_row),
    ("drawing pad latency", pad_latency_row),
    ("start-up", startup_rows),
    ("app start to training screen", app_row),
    ("in the app", in_app_rows),
    ("max RSS", memory_row),
    ("speedrun", lambda b: speedrun_rows(b.data, b.quick, b.log)),
]
