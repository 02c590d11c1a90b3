"""The app measured as a person uses it: in a pseudo-terminal, keys in, screen out.

``AppTerminal`` (``tui.bench.terminal``) starts ``mnist-tui`` in a pty of a fixed size and
timestamps everything it writes. ``measure_app`` trains in the app while pressing the
keys of ``ROUND`` at random moments and records the time from writing each key to the
arrival of the output that shows its effect. Separate sessions press no key: the run's
record the app finishes on quitting (ctrl+q: its final checkpoint, the autosave) gives their
steps and training seconds, compared with
headless training (``Trainer.step`` in a loop, same settings, a child process like the
app) run alternately with them. Leaves out the table.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tui.bench.terminal import AppTerminal

HELP_MARKER = "Controls fields"  # a heading only the help screen shows
TRAINING_MARKER = "running"  # the status line once the worker steps
FIELD_MARKER = "Leave field"  # the footer while a controls field has focus
LR_UP = re.compile(r"learning rate\s+0\.0889\s")  # the default 0.05 nudged up by ]
LR_BACK = re.compile(r"learning rate\s+0\.05\s")


def _shows(marker: str | re.Pattern[str], present: bool = True) -> Callable[[str], bool]:
    if isinstance(marker, str):
        return lambda screen: (marker in screen) == present
    return lambda screen: bool(marker.search(screen)) == present


#: One round of keys a person presses while training runs: (key, name, what the screen then shows).
#: Help opens and closes; ``h`` focuses the learning-rate field; ``+``/``-`` nudge it (the new
#: rate reaches the worker); escape leaves the field (not timed: a lone escape byte is held back
#: by the terminal parser until it knows no sequence follows).
ROUND: tuple[tuple[str, str, Callable[[str], bool], bool], ...] = (
    ("?", "? (help opens)", _shows(HELP_MARKER), True),
    ("?", "? (help closes)", _shows(HELP_MARKER, False), True),
    ("h", "h (focus a field)", _shows(FIELD_MARKER), True),
    ("]", "] (nudge lr up)", _shows(LR_UP), True),
    ("[", "[ (nudge lr back)", _shows(LR_BACK), True),
    ("\x1b", "escape (leave the field)", _shows(FIELD_MARKER, False), False),
)


def percentile(xs: list[float], q: float) -> float:
    """The ``q`` quantile of ``xs`` (nearest rank); nan when empty."""
    return float(np.percentile(xs, 100 * q, method="nearest")) if xs else float("nan")


@dataclass
class AppRun:
    """One app session: key latencies (s) and the training it did."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # per key name
    missed: int = 0  # key presses whose change did not show before the next key
    first_help: float | None = None  # the session's first ? (help opens, built the first time); None: missed
    examples: int = 0
    train_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.examples / max(self.train_seconds, 1e-9)


def run_app_session(
    command: list[str],
    settings: list[str],
    env: dict[str, str],
    seconds: float,
    rng: random.Random | None,
    gap: tuple[float, float] = (0.3, 0.6),
    wait_shown: bool = False,
) -> AppRun:
    """Train in the app for about ``seconds``, pressing the keys of ``ROUND`` at random moments
    ``gap`` seconds apart (``rng``), or no key at all (``rng`` None: the training rate undisturbed).

    ``wait_shown``: before the next key, wait (up to a minute) until the screen shows the last
    one's effect, so a slow machine cannot miss one; the benchmark leaves it off, since parsing
    the screen while keys are timed would compete with the reader's timestamps."""
    run = AppRun()
    with tempfile.TemporaryDirectory(prefix="mnist-tui-bench-") as tmp:
        env = {**env, "XDG_DATA_HOME": tmp, "MNIST_TUI_RUNS": str(Path(tmp, "runs")), "TERM": "xterm-256color"}
        term = AppTerminal([*command, *settings], env)
        try:
            if term.wait_for(lambda s: TRAINING_MARKER in s, 120.0) is None:
                raise RuntimeError(f"the app did not start training: {term.text().strip()[-200:]!r}")
            end = time.perf_counter() + seconds
            while rng is None and time.perf_counter() < end:
                time.sleep(0.1)
            presses: list[tuple[float, Callable[[str], bool]]] = []
            names: list[str | None] = []
            while rng is not None and time.perf_counter() < end:
                for key, name, shows, timed in ROUND:
                    # Random moments of the training loop, far enough apart that each key's
                    # effect shows before the next key goes out.
                    time.sleep(rng.uniform(*gap))
                    if wait_shown:
                        term.text()  # parse what came before the key: its effect is in what follows
                    presses.append((term.write(key), shows))
                    names.append(name if timed else None)
                    if wait_shown and term.wait_for(shows, 60.0) is None:
                        raise RuntimeError(f"{name} did not show: {term.text().strip()[-200:]!r}")
            if not wait_shown:
                time.sleep(gap[1])  # the last key's effect
            latencies = term.replay(presses)
            run.first_help = latencies[0] if latencies and names[0] == ROUND[0][1] else None
            for timed_name, latency in zip(names, latencies, strict=True):
                if latency is None:
                    run.missed += 1
                elif timed_name is not None:
                    run.latencies.setdefault(timed_name, []).append(latency)
        finally:
            status = term.close()
        if status != 0:
            raise RuntimeError(f"the app exited with status {status}")
        from model.checkpoint import load_checkpoint

        (final,) = Path(tmp, "runs").glob("*/final.npz")  # the session's record: its autosave
        ckpt = load_checkpoint(final)
        run.examples = ckpt.counters.examples_seen
        run.train_seconds = float(ckpt.meta["elapsed"])
    return run


_HEADLESS = """
import json, sys, time
from model.config import HyperParams
from model.data import load_mnist
from model.trainer import Trainer
data_path, changes, seconds = json.loads(sys.argv[1])
d = load_mnist(data_path)
trainer = Trainer((d.train_x, d.train_y), HyperParams().validated(**changes))
n0, t0 = trainer.state.examples_seen, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    for _ in range(50):
        trainer.step()
print(json.dumps([trainer.state.examples_seen - n0, time.perf_counter() - t0]))
"""


def headless_rate(data_path: str | None, changes: dict[str, object], seconds: float, env: dict[str, str]) -> float:
    """Examples/s of ``Trainer.step`` in a loop in a child process (no UI, no evaluation)."""
    args = json.dumps([data_path, changes, seconds])
    out = subprocess.run(
        [sys.executable, "-c", _HEADLESS, args], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    examples, wall = json.loads(out.stdout)
    return float(examples) / float(wall)


def app_settings(changes: dict[str, object], data_path: str | None) -> list[str]:
    """Command-line flags for ``changes`` (HyperParams fields), plus ``--data`` if given."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in changes.items()]
    return [*flags, *(["--data", data_path] if data_path else [])]


@dataclass
class AppFigures:
    """Key latencies over all sessions and the paired app/headless rates."""

    latencies: dict[str, list[float]]
    missed: int
    app_rates: list[float]
    headless_rates: list[float]
    first_help: list[float] = field(default_factory=list)  # each key session's first ? (inf: missed)

    def percentile(self, q: float, key: str | None = None) -> float:
        """Latency quantile ``q`` (s) over every timed key (a missed one counts as infinite),
        or over ``key``'s presses."""
        xs = [x for name, ys in self.latencies.items() if key in (None, name) for x in ys]
        return percentile(xs + [math.inf] * (self.missed if key is None else 0), q)

    @property
    def ratio(self) -> float:
        """Median of app rate / headless rate over the alternated pairs."""
        ratios = sorted(a / h for a, h in zip(self.app_rates, self.headless_rates, strict=True))
        mid = len(ratios) // 2
        return ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2


def measure_app(
    command: list[str],
    env: dict[str, str],
    changes: dict[str, object],
    data_path: str | None = None,
    seconds: float = 8.0,
    pairs: int = 3,
    key_sessions: int = 3,
    key_seconds: float = 20.0,
    log: Callable[[str], None] = lambda message: None,
) -> AppFigures:
    """``pairs`` app sessions without keys, each followed by headless training of the same length
    and settings (the rates), then ``key_sessions`` sessions pressing keys (the latencies)."""
    figures = AppFigures({}, 0, [], [])
    settings = app_settings(changes, data_path)
    for i in range(pairs):
        app = run_app_session(command, settings, env, seconds, None)
        headless = headless_rate(data_path, changes, app.train_seconds, env)
        figures.app_rates.append(app.rate)
        figures.headless_rates.append(headless)
        log(f"  rate pair {i + 1}: app {app.rate:,.0f} ex/s, headless {headless:,.0f} ({app.rate / headless:.2f})")
    rng = random.Random(0)
    for i in range(key_sessions):
        app = run_app_session(command, settings, env, key_seconds, rng)
        for name, xs in app.latencies.items():
            figures.latencies.setdefault(name, []).extend(xs)
        figures.missed += app.missed
        figures.first_help.append(math.inf if app.first_help is None else app.first_help)
        every = [x for xs in app.latencies.values() for x in xs]
        log(
            f"  key session {i + 1}: {len(every)} keys, p50 {percentile(every, 0.5) * 1e3:.0f} ms, "
            f"p95 {percentile(every, 0.95) * 1e3:.0f} ms, first ? {figures.first_help[-1] * 1e3:.0f} ms, "
            f"{app.missed} not shown before the next key"
        )
    return figures
