"""The worker hands out copies of the live weights between steps, also while paused."""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import bridge_for, wait_until

from model.config import HyperParams
from model.trainer import Trainer
from tui.session.bridge import TrainingBridge
from tui.session.events import WeightsSnapshot


def _bridge(variant: str, posted: list[object]) -> TrainingBridge:
    rng = np.random.default_rng(0)
    X = rng.random((64, 20), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    hp = HyperParams(hidden=8, batch_size=16, variant=variant, epochs=50)
    return bridge_for(Trainer((X, y), hp), posted.append, paused=True)


def test_a_snapshot_is_a_copy_of_the_weights_taken_between_steps() -> None:
    posted: list[object] = []
    bridge = _bridge("exact", posted)
    bridge.start()
    try:
        bridge.snapshot("pad")
        wait_until(lambda: any(isinstance(e, WeightsSnapshot) for e in posted), what="a snapshot")
        snap = next(e for e in posted if isinstance(e, WeightsSnapshot))
        assert snap.tag == "pad" and snap.feedback is None
        live = bridge.trainer.model.params
        for name, array in snap.params.items():
            np.testing.assert_array_equal(array, live[name])
            assert array is not live[name] and not np.shares_memory(array, live[name])
        bridge.step_once()
        wait_until(lambda: bridge.trainer.state.step == 1, what="one step")
        assert not np.array_equal(snap.params["W1"], live["W1"])  # the copy did not move with training
    finally:
        bridge.stop()


def test_a_random_feedback_snapshot_carries_its_matrix() -> None:
    posted: list[object] = []
    bridge = _bridge("feedback-fixed", posted)
    bridge.start()
    try:
        bridge.step_once()
        wait_until(lambda: bridge.trainer.state.step == 1, what="one step")
        bridge.snapshot()
        wait_until(lambda: any(isinstance(e, WeightsSnapshot) for e in posted), what="a snapshot")
        snap = next(e for e in posted if isinstance(e, WeightsSnapshot))
        rule: Any = bridge.trainer.variant  # a feedback variant: it carries B
        np.testing.assert_array_equal(snap.feedback, rule.feedback)
        assert snap.feedback.shape == snap.params["W2"].shape
    finally:
        bridge.stop()
