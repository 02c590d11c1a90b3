"""Snapshot tests of the weights and why screens on fixed weights (no training, no clock).

The weights are made, not trained: each unit's filter is a stroke (a bar at its own angle
and place, negative around it), so the SVG shows what a reader should see, and two units
have a bias so low they are dead (the title counts 2). Regenerate with ``--snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import new_app, wait_for
from textual.pilot import Pilot

from model.config import HyperParams
from tui.app import MnistApp
from tui.screens.weights import WeightsScreen
from tui.view.weights import build_weights_data
from tui.widgets.weights import WeightsView

H = 48
HP = HyperParams(hidden=H, batch_size=32, epochs=10, variant="feedback-fixed")


def stroke_params(h: int = H) -> dict[str, np.ndarray]:
    """W1 (h, 784): a bar per unit (positive) with a negative surround; two dead units."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    W1 = np.zeros((h, 784), np.float32)
    for j in range(h):
        angle = np.pi * (j % 8) / 8
        cy, cx = 9 + 10 * ((j // 8) % 2), 9 + 10 * ((j // 16) % 2)
        along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        bar = np.exp(-(across**2) / 3.0 - along**2 / 40.0)
        ring = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 60.0)
        W1[j] = (0.1 * (bar - 0.6 * ring)).ravel()
    # the tiny set's z1 = W1 x sits near -2.1 (its pixels are noisy and non-negative): biases
    # around +2.1 make firing fractions from a few % to most digits
    b1 = (2.1 + 0.3 * (np.arange(h) % 7 - 3) / 3).astype(np.float32)
    b1[[5, 17]] = -100.0  # never fire
    k, j = np.mgrid[0:10, 0:h]
    W2 = (0.3 * np.sin(1.3 * k + 0.7 * j)).astype(np.float32)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": np.zeros(10, np.float32)}


def fixed_snapshot() -> SimpleNamespace:
    params = stroke_params()
    k, j = np.mgrid[0:10, 0:H]
    feedback = (0.3 * np.cos(0.9 * k + 0.4 * j)).astype(np.float32)
    return SimpleNamespace(params=params, hp=HP, examples_seen=120_000, feedback=feedback, tag="weights")


async def show_weights(pilot: Pilot[Any], tiny: Any, keys: tuple[str, ...] = ()) -> None:
    app = pilot.app
    assert isinstance(app, MnistApp)
    await wait_for(pilot, lambda: app.main is not None and app.bridge is not None, what="the main screen")
    assert app.main is not None
    screen = WeightsScreen(app.main.host, live=False)
    await app.push_screen(screen)
    await pilot.pause()
    screen.query_one(WeightsView).show(build_weights_data(fixed_snapshot(), tiny.valid_x))
    await pilot.pause()
    if keys:
        await pilot.press(*keys)
    await pilot.pause()


@pytest.mark.parametrize(("size", "keys"), [((120, 40), ("right", "down")), ((80, 24), ("pagedown",))])
def test_weights_screen(snap_compare: Any, tiny_mnist: Any, size: tuple[int, int], keys: tuple[str, ...]) -> None:
    app = new_app(HP, data=tiny_mnist, start_training=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await show_weights(pilot, tiny_mnist, keys)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_the_fixed_weights_have_two_dead_units(tiny_mnist: Any) -> None:
    data = build_weights_data(fixed_snapshot(), tiny_mnist.valid_x)
    assert data.stats is not None and data.stats.dead == 2 and list(np.flatnonzero(data.dead)) == [5, 17]
    assert data.stats.firing[data.stats.firing > 0].min() > 0.02 and data.stats.firing.max() < 0.98
