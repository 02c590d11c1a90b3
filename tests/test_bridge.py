"""The training worker without an app: commands in, plain events out through a callback."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import bridge_for, wait_until

from model.config import HyperParams
from model.data import MNIST
from model.trainer import make_trainer
from tui.session.events import Evaluated, HParamsApplied, Notice, RunReset, TrainProgress, TrainStatus, WorkerEvent

HP = HyperParams(hidden=16, batch_size=32, epochs=10_000, lr=0.05)


class Recorder:
    """The bridge's ``post`` callback: keeps every event (called from the worker thread)."""

    def __init__(self) -> None:
        self.events: list[WorkerEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: WorkerEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def wait(self, predicate: Callable[[], object], what: str) -> None:
        wait_until(predicate, what=what)


@pytest.fixture
def running(tiny_mnist: MNIST) -> Any:
    posted = Recorder()
    bridge = bridge_for(make_trainer(HP, tiny_mnist), posted, paused=True)
    bridge.start()
    yield bridge, posted
    assert bridge.stop() and not bridge.alive


def test_training_posts_batched_losses_and_a_paused_worker_does_not_step(running: Any) -> None:
    bridge, posted = running
    time.sleep(0.2)
    assert bridge.trainer.state.step == 0
    bridge.resume()
    posted.wait(lambda: sum(len(e.losses) for e in posted.of(TrainProgress)) > 50, "losses")
    progress = [e for e in posted.of(TrainProgress) if e.losses]
    assert len(progress) < sum(len(e.losses) for e in progress)  # many steps per event, not one each
    assert all(np.isfinite(e.losses).all() and e.status.state == "running" for e in progress)
    bridge.pause()
    posted.wait(lambda: posted.of(TrainProgress)[-1].status.state == "paused", "paused")
    step = bridge.trainer.state.step
    time.sleep(0.2)
    assert bridge.trainer.state.step == step


def test_a_field_change_reaches_the_trainer_and_architecture_waits_for_reset(running: Any) -> None:
    bridge, posted = running
    bridge.set_field("lr", 0.01)
    posted.wait(lambda: posted.of(HParamsApplied), "lr applied")
    (applied,) = posted.of(HParamsApplied)
    assert applied.changes == {"lr": 0.01} and applied.pending == () and bridge.trainer.hp.lr == 0.01
    bridge.set_field("hidden", 8)
    posted.wait(lambda: len(posted.of(HParamsApplied)) == 2, "hidden applied")
    assert posted.of(HParamsApplied)[-1].pending == ("hidden",) and bridge.trainer.model.shape[1] == 16
    bridge.reset()
    posted.wait(lambda: posted.of(RunReset), "reset")
    assert bridge.trainer.model.shape[1] == 8 and bridge.run.pending == ()


def test_one_evaluation_gives_the_errors_and_the_mistakes_of_the_same_pass(running: Any, tiny_mnist: MNIST) -> None:
    bridge, posted = running
    for _ in range(20):
        bridge.step_once()
    bridge.evaluate()
    posted.wait(lambda: posted.of(Evaluated), "evaluation")
    (evaluated,) = posted.of(Evaluated)
    wrong = evaluated.misclassified
    assert wrong is not None
    assert len(wrong.indices) == round(evaluated.metrics.error("test") * len(tiny_mnist.test_y))
    np.testing.assert_array_equal(bridge.trainer.model.predict(tiny_mnist.test_x)[wrong.indices], wrong.pred)


@pytest.mark.slow
def test_the_worker_side_imports_no_textual() -> None:
    code = "import sys, tui.session.bridge, tui.session.events; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_finishing_is_its_own_state_and_continuing_says_how_far(tiny_mnist: MNIST) -> None:
    posted = Recorder()
    bridge = bridge_for(make_trainer(HP.validated(epochs=2), tiny_mnist), posted)
    bridge.start()
    try:

        def last() -> TrainStatus:
            status: TrainStatus = posted.of(TrainProgress)[-1].status
            return status

        posted.wait(lambda: posted.of(TrainProgress) and last().state == "finished", "finished")
        n = len(tiny_mnist.train_y)
        assert bridge.paused and bridge.trainer.state.examples_seen == 2 * n and last().epochs == 2
        assert any("finished 2 epochs; space trains 2 more (to 4)" in e.text for e in posted.of(Notice))
        bridge.resume()
        posted.wait(lambda: last().state == "finished" and last().epochs == 4, "finished again")
        assert bridge.trainer.state.examples_seen == 4 * n and bridge.hp.epochs == 4
        assert any(e.changes == {"epochs": 4} for e in posted.of(HParamsApplied))
        assert any(e.text == "training 2 more epochs, to 4" for e in posted.of(Notice))
    finally:
        assert bridge.stop()
