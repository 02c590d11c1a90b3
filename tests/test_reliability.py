"""Training faults: divergence, signals during ``train``, and resuming an interrupted run.

Divergence: a run whose loss explodes (lr 50) or turns non-finite is caught on the exploding
step, its update is refused, the last good weights come back and the run is marked
``diverged``; lowering the rate lets it continue. Healthy runs never trip the guard.
Signals: SIGINT/SIGTERM make ``mnist-tui train`` save (with ``--save``) and exit 130/143
within a second; resuming the saved run reproduces the uninterrupted one bit for bit.
"""
# The running app's optional parts (app.bridge, app.main) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import new_app, notices, wait_for, write_keras_npz
from textual.widgets import Input

from model.checkpoint import CheckpointError, load_checkpoint
from model.config import HyperParams
from model.data import MNIST
from model.mlp import MLP, StepResult
from model.trainer import MAX_STEP_LOSS, Trainer
from tui.cli import main


def trainer_on(data: MNIST, **changes: Any) -> Trainer:
    return Trainer((data.train_x, data.train_y), HyperParams(hidden=64).validated(**changes))


def params_copy(t: Trainer) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in t.model.params.items()}


# ---- divergence -----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("batch_size", [64, 1])
def test_lr_50_is_caught_on_the_exploding_step(tiny_mnist: MNIST, activation: str, batch_size: int) -> None:
    t = trainer_on(tiny_mnist, lr=50.0, activation=activation, batch_size=batch_size)
    start = params_copy(t)
    history = []
    while not t.diverged:
        history.append(t.step())
        assert len(history) <= 5, [m.loss for m in history]
    flagged = history[-1]
    assert flagged.diverged and t.diverged
    # No earlier step went past the single-step trip level: the guard fired on the first one that did,
    # or when the running mean crossed the limit. At batch 64 each step weighs 64/256 in the mean,
    # so any loss above 4 x the limit trips it at once; at batch 1 the 1000-nat cap does.
    bound = MAX_STEP_LOSS if batch_size == 1 else 4 * t.loss_limit
    assert all(m.loss <= bound and not m.diverged for m in history[:-1])
    assert flagged.loss > t.loss_limit
    # The last good snapshot (taken before the first update) is back; nothing is NaN.
    for name, value in start.items():
        np.testing.assert_array_equal(t.model.params[name], value)
        assert not t.velocity[name].any()


def test_an_exploding_run_never_shows_nan(tiny_mnist: MNIST) -> None:
    """Even a driver that ignores ``diverged`` and keeps stepping keeps finite weights."""
    t = trainer_on(tiny_mnist, lr=50.0)
    flagged = 0
    for _ in range(300):
        flagged += t.step().diverged
    assert flagged >= 10
    assert all(np.isfinite(v).all() for v in t.model.params.values())
    loss, _ = t.model.evaluate(tiny_mnist.valid_x, tiny_mnist.valid_y)
    assert math.isfinite(loss) and loss < 10 * math.log(10)


def test_lowering_the_rate_clears_divergence_and_training_recovers(tiny_mnist: MNIST) -> None:
    t = trainer_on(tiny_mnist, lr=50.0)
    while not t.step().diverged:
        pass
    t.update_hparams(lr=0.05)
    assert not t.diverged
    metrics = [t.step() for _ in range(150)]
    assert not any(m.diverged for m in metrics)
    assert t.model.evaluate(tiny_mnist.valid_x, tiny_mnist.valid_y)[1] < 0.2


class NanAt:
    """A gradient rule that returns a NaN loss and gradient at one step (exact otherwise)."""

    def __init__(self, bad_step: int) -> None:
        self.calls, self.bad_step = 0, bad_step

    def loss_and_grads(self, model: MLP, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> StepResult:
        self.calls += 1
        loss, correct, grads = model.loss_and_grads(X, y, reuse_buffers=True)
        if self.calls == self.bad_step:
            grads["W2"][0, 0] = np.nan
            return StepResult(float("nan"), correct, grads)
        return StepResult(loss, correct, grads)


def test_non_finite_gradient_restores_the_last_snapshot(tiny_mnist: MNIST) -> None:
    t = Trainer((tiny_mnist.train_x, tiny_mnist.train_y), HyperParams(hidden=32), rule=NanAt(13), snapshot_every=5)
    kept: dict[str, np.ndarray] = {}
    for i in range(12):
        if i == 10:  # snapshots: at reset, then before the updates of steps 5 and 10 (0-based)
            kept = params_copy(t)
        assert not t.step().diverged
    m = t.step()
    assert m.diverged and not m.finite and t.diverged
    for name, value in kept.items():
        np.testing.assert_array_equal(t.model.params[name], value)


def test_snapshots_are_taken_before_an_update_and_only_from_sane_losses(tiny_mnist: MNIST) -> None:
    t = trainer_on(tiny_mnist, lr=0.05, batch_size=8)
    t.snapshot_every = 1
    t.loss_limit = 1.0  # below the first losses (~2.3): they are not "sane", so no snapshot is taken
    t._loss_avg = 0.0  # and keep the running mean (weight 8/256 per step) from tripping
    start = params_copy(t)
    for _ in range(3):
        assert not t.step().diverged
    t.restore_snapshot()
    for name, value in start.items():
        np.testing.assert_array_equal(t.model.params[name], value)
    t.loss_limit = 1e3  # now every loss is sane: the next step snapshots the weights it starts from
    before = params_copy(t)
    t.step()
    assert not np.array_equal(t.model.W1, before["W1"])
    t.restore_snapshot()
    for name, value in before.items():
        np.testing.assert_array_equal(t.model.params[name], value)


@pytest.mark.parametrize(
    "changes",
    [
        {"lr": 0.5, "activation": "sigmoid"},
        {"lr": 0.3, "activation": "tanh"},
        {"lr": 0.5, "momentum": 0.0},
        {"batch_size": 1},
        {"batch_size": 1, "lr": 0.1, "momentum": 0.0},
        {"batch_size": 1, "lr": 0.5, "momentum": 0.0, "activation": "sigmoid"},
    ],
)
def test_healthy_runs_never_trip_the_guard(tiny_mnist: MNIST, changes: dict[str, Any]) -> None:
    t = trainer_on(tiny_mnist, **changes)
    steps = 1500 if changes.get("batch_size") == 1 else 300
    worst = 0.0
    for _ in range(steps):
        m = t.step()
        assert not m.diverged, (m.step, m.loss, t._loss_avg)
        worst = max(worst, t._loss_avg)
    assert worst < t.loss_limit / 2  # a wide margin, not a near miss
    assert 10 * t.loss_limit < MAX_STEP_LOSS


@pytest.mark.integration
@pytest.mark.slow
def test_real_mnist_guard_thresholds() -> None:
    """The measurements behind the thresholds, on the real data (30-60 s)."""
    from model.data import load_mnist

    d = load_mnist()
    cases: list[tuple[dict[str, Any], int, bool]] = [
        ({"lr": 0.5, "activation": "sigmoid"}, 800, False),
        ({"lr": 0.5, "activation": "tanh"}, 800, False),
        ({"batch_size": 1, "lr": 0.1, "momentum": 0.0}, 5000, False),
        ({"lr": 50.0}, 5, True),
        ({"lr": 50.0, "activation": "sigmoid"}, 5, True),
    ]
    for changes, steps, should_trip in cases:
        t = Trainer((d.train_x, d.train_y), HyperParams(hidden=256).validated(**changes))
        tripped = any(t.step().diverged for _ in range(steps))
        assert tripped == should_trip, changes


# ---- headless train: divergence, signals, resume --------------------------------------------


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory, tiny_mnist: MNIST) -> Path:
    """The tiny set as a Keras-style mnist.npz (train 2,000 / valid 400 / test 500)."""
    return write_keras_npz(tiny_mnist, tmp_path_factory.mktemp("data") / "mnist.npz", n_valid=400)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)


def test_train_diverges_with_one_line_exit_3_and_saves_the_last_good_state(
    data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ck = tmp_path / "run.npz"
    code = main(["train", "--data", str(data_file), "--hidden", "32", "--lr", "50", "--epochs", "3", "--save", str(ck)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err[-1].startswith("mnist-tui: training diverged at step") and "--resume" in err[-1], err
    assert not any("nan" in line.lower() for line in err)
    saved = load_checkpoint(ck)  # finite by construction: the loader refuses NaN
    assert saved.hp.lr == 50.0
    # Lower the rate and continue from the last good state.
    code = main(["train", "--data", str(data_file), "--resume", str(ck), "--lr", "0.05", "--epochs", "2"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "test error" in out.out


def test_train_resume_epochs_is_the_total(data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.npz"
    base = ["train", "--data", str(data_file), "--hidden", "16", "--batch-size", "128"]
    assert main([*base, "--epochs", "1", "--save", str(ck)]) == 0
    assert main(["train", "--data", str(data_file), "--resume", str(ck), "--epochs", "3", "--save", str(ck)]) == 0
    assert "epoch   2" in capsys.readouterr().err  # continues numbering: epochs 2 and 3 ran
    assert load_checkpoint(ck).counters.epoch == 2  # 3 full passes: the third ends at epoch index 2
    assert main(["train", "--data", str(data_file), "--resume", str(ck), "--epochs", "3"]) == 2
    assert "already trained 3 epochs" in capsys.readouterr().err
    assert main(["train", "--data", str(data_file), "--resume", str(ck), "--hidden", "17"]) == 2
    assert "--hidden 17 (checkpoint: 16)" in capsys.readouterr().err


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


def _default_signals() -> None:
    """The child starts as from a terminal: a suite run under nohup, or by a script's ``&``, hands
    its children SIGHUP or SIGINT ignored, and ``train`` rightly keeps a signal it starts ignoring."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def _run_until(argv: list[str], needle: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``argv`` and return once ``needle`` has appeared on its stderr."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_default_signals
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while needle not in seen:
        line = proc.stderr.readline()
        assert line and time.monotonic() < deadline, f"never saw {needle!r}: {seen}"
        seen += line
    return proc


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated"), (signal.SIGHUP, 129, "hung up")],
)
def test_signal_saves_exits_fast_and_resume_matches_the_uninterrupted_run(
    data_file: Path, tmp_path: Path, signum: int, code: int, word: str
) -> None:
    env = os.environ | {"MNIST_TUI_THREADS": "1"}
    # The signal goes out when the evaluation half-way through epoch 1 is printed (batch 1: 2,000
    # steps an epoch, one evaluation every 1,000), so the stop lands mid-epoch however slow the
    # machine: the run checks for a stop before its next step, and the epoch's end is 1,000 steps
    # away. (Sent at an epoch's line, it stopped on the epoch's boundary.)
    flags = ["--data", str(data_file), "--hidden", "512", "--batch-size", "1", "--epochs", "2", "--seed", "3"]
    flags += ["--eval-every", "1000"]
    full, part = tmp_path / "full.npz", tmp_path / "part.npz"
    straight = subprocess.run(_cli("train", *flags, "--save", str(full)), capture_output=True, text=True, env=env)
    assert straight.returncode == 0, straight.stderr

    proc = _run_until(_cli("train", *flags, "--save", str(part)), "epoch   0.50", env)
    proc.send_signal(signum)
    _, rest = proc.communicate(timeout=120)  # how fast it stops is measured by hand, not asserted
    assert proc.returncode == code, rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith(f"mnist-tui: {word} at step") and f"saved {part}" in last, rest
    assert "Traceback" not in rest
    stopped = load_checkpoint(part)
    assert 0 < stopped.counters.position < 2000  # mid-epoch, not at a boundary

    resumed = subprocess.run(
        _cli("train", "--data", str(data_file), "--resume", str(part), "--save", str(part)),
        capture_output=True,
        text=True,
        env=env,
    )
    assert resumed.returncode == 0, resumed.stderr
    a, b = load_checkpoint(full), load_checkpoint(part)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        np.testing.assert_array_equal(a.velocity[name], b.velocity[name])
    np.testing.assert_array_equal(a.order, b.order)
    assert vars(a.counters) == vars(b.counters) and a.rng == b.rng


# ---- the data cache -------------------------------------------------------------------------


def test_cache_entry_with_one_changed_pixel_is_caught_by_its_checksum(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model.data import classic, load_mnist

    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path / "cache"))
    first = load_mnist(data_file)  # only data of the classic sizes is cached: let this size count
    monkeypatch.setattr(classic, "SPLIT", (len(first.train_y), len(first.valid_y), len(first.test_y)))
    load_mnist(data_file)
    (entry,) = (tmp_path / "cache").glob("mnist-*.npz")
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train_x"] = arrays["train_x"].copy()
    arrays["train_x"][0, 300] ^= 1
    np.savez(entry, **arrays)  # a well-formed archive with the old checksum: only the checksum can tell
    messages: list[str] = []
    second = load_mnist(data_file, progress=lambda message, fraction: messages.append(message))
    assert "cached" not in second.source
    assert any("checksum" in m for m in messages), messages
    np.testing.assert_array_equal(second.train_x, first.train_x)
    assert "cached" in load_mnist(data_file).source  # rebuilt and trusted again


# ---- the app: divergence, worker errors, quitting, resume, tiny terminals --------------------

APP_HP = HyperParams(hidden=16, batch_size=16, epochs=10_000, lr=0.05)


def trainer_threads() -> list[Any]:
    import threading

    from tui.session.bridge import GRADCHECK_THREAD_NAME, THREAD_NAME

    return [t for t in threading.enumerate() if t.name in (THREAD_NAME, GRADCHECK_THREAD_NAME)]


async def test_app_catches_lr_50_restores_and_recovers(tiny_mnist: MNIST, fast_pilot: None) -> None:

    app = new_app(APP_HP.validated(lr=50.0), data=tiny_mnist, start_paused=True)
    said = notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="main screen")
        start = params_copy(app.bridge.trainer)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.main.status.status.state == "diverged", what="divergence")
        trainer = app.bridge.trainer
        assert app.bridge.paused and trainer.diverged and trainer.state.step <= 3
        for name, value in start.items():  # the last good weights, not NaN
            np.testing.assert_array_equal(trainer.model.params[name], value)
        await wait_for(pilot, lambda: any("diverged" in n.message for n in said), what="the notice")
        assert any(m.label == "diverged" for chart in app.main.charts.charts.values() for m in chart.markers)
        app.bridge.set_field("lr", 0.05)  # what typing 0.05 in the field does
        await pilot.press("space")
        await wait_for(pilot, lambda: trainer.state.step > 60, what="training again")
        assert app.main.status.status.state == "running" and not trainer.diverged
        await pilot.press("q")


class Boom:
    """A gradient rule that raises on its ``at``-th call."""

    def __init__(self, at: int) -> None:
        self.calls, self.at = 0, at

    def loss_and_grads(self, model: MLP, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> StepResult:
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError("boom in the backward pass")
        return model.loss_and_grads(X, y, reuse_buffers=True)


async def test_worker_exception_is_shown_logged_and_the_app_stays_usable(
    tiny_mnist: MNIST, tmp_path: Path, fast_pilot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Collapsible

    import tui.errorlog
    from tui.screens.error import ErrorScreen
    from tui.screens.prompt import PathPrompt

    monkeypatch.setattr(tui.errorlog, "log_dirs", lambda: [tmp_path / "logs"])
    app = new_app(APP_HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="main screen")
        app.bridge.trainer.use_rule(Boom(at=4))  # safe: the worker is paused
        await pilot.press("space")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ErrorScreen) and app.screen.query(Collapsible), what="error screen"
        )
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert screen.summary == "RuntimeError: boom in the backward pass"
        assert screen.query_one(Collapsible).collapsed  # the traceback is there, folded
        assert "Traceback" in screen.detail and "loss_and_grads" in screen.detail
        log = tmp_path / "logs" / "mnist-tui.log"
        assert screen.log_path == str(log) and "boom in the backward pass" in log.read_text()
        assert app.bridge.paused and app.main.status.status.state == "stopped"
        await pilot.press("escape")
        # Still usable: the worker serves a save, then trains again once the cause is gone.
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt), what="save prompt")
        target = tmp_path / "after-error.npz"
        app.screen.query_one("#prompt-input", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="checkpoint written by the worker")
        assert load_checkpoint(target).counters.step == 3
        app.bridge.trainer.use_rule(Boom(at=-1))
        await pilot.press("space")
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > 20, what="training again")
        await pilot.press("q")


@pytest.mark.parametrize(("how", "code"), [("q", 0), ("ctrl+c", 0), ("SIGTERM", 143)])
async def test_quitting_stops_the_worker_fast_and_autosaves(
    tiny_mnist: MNIST, tmp_path: Path, fast_pilot: None, how: str, code: int
) -> None:

    app = new_app(APP_HP, data=tiny_mnist, runs=tmp_path / "runs", handle_signals=how == "SIGTERM")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 30, what="training")
        joined: list[bool] = []  # what each stop() returned: False if a thread outlived the join timeout
        stop = app.bridge.stop

        def recording_stop(*args: Any, **kwargs: Any) -> bool:
            joined.append(stop(*args, **kwargs))
            return joined[-1]

        app.bridge.stop = recording_stop  # type: ignore[method-assign]
        if how == "SIGTERM":
            assert signal.SIGTERM in app.signals.handled  # our handler, not the default (which would end pytest)
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            await pilot.press(how)
        await wait_for(pilot, lambda: not trainer_threads(), what="worker stopped")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert joined and all(joined)  # the worker saw the stop flag between steps and was joined
    assert app.return_code == code
    auto = app.live_run.recorder.checkpoint  # the autosave: the run's record keeps its final checkpoint
    assert auto is not None and auto.parent.parent == tmp_path / "runs"
    saved = load_checkpoint(auto)
    live = app.bridge.trainer
    assert saved.counters.step == live.state.step > 30
    for name, value in live.model.params.items():
        np.testing.assert_array_equal(saved.params[name], value)
        np.testing.assert_array_equal(saved.velocity[name], live.velocity[name])
    assert app.autosave_note.startswith(f"saved the run to {auto}")


async def test_quitting_an_untouched_run_says_nothing_of_an_autosave(
    tiny_mnist: MNIST, tmp_path: Path, fast_pilot: None
) -> None:

    app = new_app(APP_HP, data=tiny_mnist, runs=tmp_path / "runs", start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="main screen")
        await pilot.press("q")
    assert app.autosave_note == ""  # nothing trained here: the run is where it started


async def test_without_a_record_the_autosave_is_a_file_of_its_own_per_run(
    tiny_mnist: MNIST, tmp_path: Path, fast_pilot: None
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # the runs folder cannot be made: no record, so no final checkpoint there
    notes, paths = [], []
    for _ in range(2):
        app = new_app(APP_HP, data=tiny_mnist, runs=blocker / "runs", autosave_dir=tmp_path / "auto")
        async with app.run_test(size=(120, 40)) as pilot:

            def trained(a: Any = app) -> bool:
                return a.bridge is not None and a.bridge.trainer.state.step > 5

            await wait_for(pilot, trained, what="training")
            await pilot.press("q")
        notes.append(app.autosave_note)
        paths.append(tmp_path / "auto" / f"autosave-{app.live_run.recorder.run_id}.npz")
    assert paths[0] != paths[1] and all(p.exists() and str(p) in n for p, n in zip(paths, notes, strict=True))


async def test_app_resume_continues_bit_for_bit(
    tiny_mnist: MNIST, tmp_path: Path, fast_pilot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model.checkpoint import save_checkpoint
    from model.trainer import make_trainer

    hp = APP_HP.validated(hidden=12, momentum=0.9)
    first = make_trainer(hp, tiny_mnist)
    for _ in range(7):
        first.step()
    path = save_checkpoint(tmp_path / "run.npz", first.run_state())
    for _ in range(5):  # the uninterrupted run goes on
        first.step()
    monkeypatch.setattr("model.data.load_mnist", lambda *a, **k: tiny_mnist)
    app = new_app(APP_HP, data_path="x", resume=str(path), start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="main screen")
        for _ in range(5):
            step = app.bridge.trainer.state.step
            await pilot.press("n")
            await wait_for(pilot, lambda: app.bridge.trainer.state.step == step + 1, what="one step")  # noqa: B023
        resumed = app.bridge.trainer
        for name in first.model.params:
            np.testing.assert_array_equal(resumed.model.params[name], first.model.params[name])
            np.testing.assert_array_equal(resumed.velocity[name], first.velocity[name])
        assert vars(resumed.state) == vars(first.state)
        await pilot.press("q")


async def test_app_resume_continues_the_clock_and_best_figures_and_takes_flags(
    tiny_mnist: MNIST, tmp_path: Path, fast_pilot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model.checkpoint import save_checkpoint
    from model.trainer import make_trainer

    first = make_trainer(APP_HP, tiny_mnist)
    for _ in range(7):
        first.step()
    meta = {"elapsed": 3725.0, "valid_error": 0.081, "best_valid_error": 0.0625, "test_error_at_best": 0.07}
    path = save_checkpoint(tmp_path / "run.npz", first.run_state(meta))
    monkeypatch.setattr("model.data.load_mnist", lambda *a, **k: tiny_mnist)
    app = new_app(APP_HP, data_path="x", resume=str(path), overrides={"lr": 0.01}, start_paused=True)
    said = notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None, what="main screen")
        status = app.main.status.status
        assert status.elapsed >= 3725.0 and status.best_valid_error == 0.0625 and status.test_error_at_best == 0.07
        assert app.bridge.trainer.hp.lr == 0.01 and app.main.controls.value("lr") == 0.01
        # the notice is shown once the main screen is up: wait for it, not for the worker
        resumed = "with lr 0.01 from the command line"
        await wait_for(pilot, lambda: any(resumed in n.message for n in said), what="the resume notice")
        text = str(app.main.status.render())
        assert "1:02:05" in text and "6.25%" in text, text
        await pilot.press("q")


@pytest.mark.slow  # seven layouts of a training app: about 3 s of CPU
async def test_resizing_to_tiny_and_back_never_crashes(tiny_mnist: MNIST, fast_pilot: None) -> None:

    app = new_app(APP_HP, data=tiny_mnist)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 10, what="training")
        for size in [(60, 20), (30, 10), (10, 5), (1, 1), (200, 60), (60, 20), (120, 40)]:
            await pilot.resize_terminal(*size)
            compact = size[0] < 100 or size[1] < 32
            await wait_for(pilot, lambda: app.main.panel_tabs.compact == compact, what=f"layout {size}")  # noqa: B023 (awaited here)
            assert app.is_running and app.main.is_attached, size
        steps = app.bridge.trainer.state.step
        await wait_for(pilot, lambda: app.bridge.trainer.state.step > steps + 10, what="still training")
        await pilot.press("q")
    assert app.return_code == 0


@pytest.mark.parametrize("size", [(20, 6), (60, 20)])
async def test_starting_in_a_small_terminal(tiny_mnist: MNIST, fast_pilot: None, size: tuple[int, int]) -> None:

    app = new_app(APP_HP, data=tiny_mnist)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 10, what="training")
        assert app.main.panel_tabs.compact
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: not app.main.panel_tabs.compact, what="the wide layout")
        await pilot.press("q")
    assert app.return_code == 0


# ---- saving: a folder that cannot take the file ----------------------------------------------


def test_unwritable_save_folder_is_refused_before_training(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:  # root ignores permissions: simulate the OS
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    status = main(["train", "--data", str(data_file), "--epochs", "1", "--save", str(tmp_path / "run.npz")])
    out, err = capsys.readouterr()
    assert status == 2 and "cannot write in" in err and "Read-only file system" in err
    assert "epoch" not in out  # nothing was trained and thrown away


def test_a_late_save_failure_still_prints_the_results(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import model.checkpoint

    def full_disk(path: Any, *args: Any, **kwargs: Any) -> Any:
        raise CheckpointError(f"cannot write checkpoint {path}: No space left on device")

    monkeypatch.setattr(model.checkpoint, "save_checkpoint", full_disk)
    argv = ["train", "--data", str(data_file), "--epochs", "1", "--json", "--save", str(tmp_path / "run.npz")]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status != 0 and "No space left on device" in err
    assert "test_error" in json.loads(out)  # the run's results survive the failed save
