"""Shared fixtures and the suite's rules (read this before adding a test).

- **Tiers.** ``python -m pytest`` runs everything; ``python -m pytest -m "not slow"`` is the fast
  tier to run while working (unit, property, Pilot and snapshot tests). Mark a test
  ``@pytest.mark.slow`` (a whole module: ``pytestmark = pytest.mark.slow``) when it starts a
  process, a pseudo-terminal, a server, a browser or a venv, or trains for seconds. A test not
  marked slow that starts a process or costs over 2 s of CPU fails with that advice
  (``harness/budget.py``; the limit grows with the machine's load).
- **Both cores.** pytest-xdist runs two workers (``-n 2`` in pyproject.toml; ``-n 0`` for one
  process, e.g. under a debugger or with ``--snapshot-update``). So a test never uses a fixed
  port (bind port 0), a fixed file name outside its ``tmp_path``, or the user's folders (the run
  records go to a temp folder below); tests that share a costly module fixture (a wheel, a venv)
  carry ``pytest.mark.xdist_group(name)`` so that one worker builds it once.
- **Waits, not times.** Wait on a state with a generous timeout (``wait_for`` in a Pilot test,
  ``wait_until`` beside a thread); never sleep and then assert that something happened, and
  never assert how long something took: ``mnist-tui bench`` measures speed. pytest-timeout fails
  a hung test after 300 s with every thread's stack.
- **One BLAS thread** in the tests and in every process they start (below): two workers share
  two cores, and more BLAS threads than cores spin against each other.
- **The real app in a terminal:** ``harness/terminal.py``. Small synthetic MNIST (``tiny_mnist``,
  ``tiny_npz``) so that app tests train in milliseconds.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from harness import budget
from hypothesis import settings
from textual.pilot import Pilot

from model.data import MNIST
from model.threads import set_blas_threads

# One BLAS thread in this process and in every app or command a test starts: two xdist workers
# share two cores, and OpenBLAS threads that outnumber the cores spin against each other (a
# 0.05 s test took 4.7 s of CPU). Tests of the thread setting itself change it with monkeypatch.
set_blas_threads(1)
os.environ["MNIST_TUI_THREADS"] = "1"

if TYPE_CHECKING:
    from model.run import RunOutcome
    from model.runs import RunRecorder
    from model.trainer import Trainer
    from tui.app import MnistApp
    from tui.session.bridge import TrainingBridge
    from tui.session.events import WorkerEvent

# CI replays the same examples every run (a red build must be reproducible); locally
# every run explores new ones. The databases of found failures replay them either way.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

TINY_SPLITS = (2_000, 500, 500)


def pytest_addoption(parser: pytest.Parser) -> None:
    budget.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    budget.register(config)


def make_tiny_mnist(splits: tuple[int, int, int] = TINY_SPLITS, seed: int = 0) -> MNIST:
    """Ten blurry class prototypes on a 28x28 grid plus noise: learnable, deterministic.

    x: (N, 784) float32 in [0, 1) (multiples of 1/256, like the real file); y: (N,) int64.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    prototypes = np.zeros((10, 784), np.float32)
    for k in range(10):
        img = np.zeros((28, 28), np.float32)
        for _ in range(3):  # three soft strokes per class
            cy, cx = rng.uniform(6, 22, 2)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(2.0, 4.0) ** 2))
        prototypes[k] = (img / img.max()).ravel()

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n).astype(np.int64)
        x = prototypes[y] * rng.uniform(0.6, 1.0, (n, 1)) + rng.normal(0.0, 0.6, (n, 784))
        x = np.floor(np.clip(x, 0.0, 255 / 256) * 256) / 256
        return x.astype(np.float32), y

    (tx, ty), (vx, vy), (sx, sy) = (split(n) for n in splits)
    return MNIST(tx, ty, vx, vy, sx, sy, source="synthetic")


@pytest.fixture(autouse=True, scope="session")
def _runs_in_a_temp_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run records and challenge progress of every test go to a temporary folder, never the user data folder."""
    os.environ["MNIST_TUI_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    os.environ["MNIST_TUI_CHALLENGES"] = str(tmp_path_factory.mktemp("progress") / "challenges.json")


@pytest.fixture(scope="session")
def tiny_mnist() -> MNIST:
    """2,000 / 500 / 500 synthetic examples of 784 float32 pixels with learnable class structure."""
    return make_tiny_mnist()


def write_keras_npz(m: MNIST, path: Path, n_valid: int | None = None) -> Path:
    """``m`` as a Keras-style mnist.npz: train + the first ``n_valid`` validation images (all by
    default) as x_train, which the loader splits again (its last images become validation)."""
    valid_x, valid_y = m.valid_x[:n_valid], m.valid_y[:n_valid]
    x = (np.concatenate([m.train_x, valid_x]) * 256).astype(np.uint8).reshape(-1, 28, 28)
    t = (m.test_x * 256).astype(np.uint8).reshape(-1, 28, 28)
    np.savez(path, x_train=x, y_train=np.concatenate([m.train_y, valid_y]), x_test=t, y_test=m.test_y)
    return path


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory, tiny_mnist: MNIST) -> Path:
    """The tiny set as a Keras-style npz (its last 500 training images become the validation set)."""
    return write_keras_npz(tiny_mnist, tmp_path_factory.mktemp("tiny-npz") / "mnist.npz")


def headless_env(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a command as a user would in a fresh folder: cwd ``tmp_path``, data cache ``cache``,
    no $MNIST_TUI_DATA."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_TUI_CACHE", str(cache))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)


def train_to_end(trainer: Trainer, **policy: Any) -> RunOutcome:
    """Train ``trainer`` through the run core until its epochs are done (or it diverges); the outcome."""
    from model.run import Policy, Run

    run = Run(trainer, policy=Policy(**policy))
    run.train()
    return run.close()


def bridge_for(
    trainer: Trainer,
    post: Callable[[WorkerEvent], object],
    *,
    paused: bool = False,
    recorder: RunRecorder | None = None,
) -> TrainingBridge:
    """The app's worker around a run of ``trainer`` (as the app opens it: misclassified digits
    collected), not started."""
    from model.run import Policy, Run
    from tui.session.bridge import TrainingBridge

    return TrainingBridge(Run(trainer, policy=Policy(mistakes=True), recorder=recorder, paused=paused), post)


# ---- app tests ---------------------------------------------------------------------------


def new_app(hp: Any = None, data: Any = None, *, start_training: bool = True, **config: Any) -> MnistApp:
    """``MnistApp`` on ``data`` (None: the loader) with ``AppConfig(hp, **config)``; without
    ``start_training`` everything is built but no training thread starts (layout snapshots)."""
    from model.config import HyperParams
    from tui.app import MnistApp, idle_session, start_session
    from tui.session.config import AppConfig

    for key in ("runs", "sandbox", "tensorboard", "autosave_dir"):
        if isinstance(config.get(key), str):
            config[key] = Path(config[key])
    session = start_session if start_training else idle_session
    return MnistApp(AppConfig(hp if hp is not None else HyperParams(), **config), data=data, session=session)


@pytest.fixture
def fast_pilot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cap Pilot's wait-for-idle after each key: a training worker never lets the app go idle,
    so every key would cost up to 2 s. Tests poll for results with ``wait_for`` instead."""
    import textual.app
    import textual.pilot
    from textual._wait import wait_for_idle

    async def capped(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
        await wait_for_idle(min(min_sleep, 0.01), min(max_sleep, 0.02))

    monkeypatch.setattr(textual.app, "wait_for_idle", capped)
    monkeypatch.setattr(textual.pilot, "wait_for_idle", capped)


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


@dataclass(frozen=True)
class Said:
    """One notification an app showed."""

    message: str
    severity: str


def notices(app: Any) -> list[Said]:
    """Every notification ``app`` shows from now on, kept. Textual's own list drops one when it
    expires, which a loaded machine can let happen before the test looks: wait on this instead."""
    said: list[Said] = []
    notify = app.notify

    def recording(message: str, *args: Any, **kwargs: Any) -> None:
        said.append(Said(str(message), str(kwargs.get("severity", "information"))))
        notify(message, *args, **kwargs)

    app.notify = recording
    return said


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    """``wait_for`` without an app: sleep until ``predicate()`` (set by another thread) is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


# ---- mnist-tui serve ------------------------------------------------------------------------


@contextlib.contextmanager
def serving(
    root: Path, max_sessions: int, log: Path | None = None, runs: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mnist-tui serve`` on a free loopback port with tiny data in ``root`` (apps that never finish
    their epochs); yields its URL and process, and stops it (SIGTERM, then SIGKILL) on leaving.
    ``log``: where its output goes (default nowhere); ``runs``: the operator's $MNIST_TUI_RUNS."""
    d = make_tiny_mnist()
    with gzip.open(root / "tiny.pkl.gz", "wb") as f:
        pickle.dump(((d.train_x, d.train_y), (d.valid_x, d.valid_y), (d.test_x, d.test_y)), f)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    argv = [sys.executable, "-m", "tui.cli", "serve", "--port", str(port), "--root", str(root)]
    argv += ["--max-sessions", str(max_sessions), "--data", "tiny.pkl.gz", "--hidden", "16", "--epochs", "10000"]
    argv += ["--no-autosave"]
    env = dict(os.environ, MNIST_TUI_CACHE=str(root / "cache"))
    if runs is not None:
        env["MNIST_TUI_RUNS"] = str(runs)
    output = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"the server exited with {proc.returncode}") from None
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log is not None:
            output.close()  # type: ignore[union-attr]
