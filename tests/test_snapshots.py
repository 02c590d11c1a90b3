"""Snapshot tests of the main and help screens with fixed values (no live training, no clock).

Regenerate after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the SVGs in ``tests/__snapshots__/`` before accepting them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from conftest import new_app, wait_for
from textual.pilot import Pilot

from model.analysis import Misclassified, confusion_matrix
from model.config import HyperParams
from model.gradcheck import CheckReport, ParamCheck
from model.mlp import PARAM_NAMES
from tui.app import MnistApp, idle_session
from tui.screens.help import HelpScreen
from tui.session.config import AppConfig
from tui.session.events import TrainStatus

HP = HyperParams(hidden=64, batch_size=64, epochs=10)
STATUS = TrainStatus(
    state="running",
    epoch=3.42,
    epochs=10,
    step=2_671,
    examples_seen=171_000,
    examples_per_second=12_345.0,
    elapsed=83.0,
    lr=0.05,
    last_loss=0.1234,
    valid_error=0.0312,
    best_valid_error=0.0298,
    test_error_at_best=0.0305,
)


def fixed_misclassified(tiny: Any, n: int = 30) -> Misclassified:
    """Thirty test images with made-up predictions: the same on every machine."""
    rows = np.arange(n, dtype=np.int64) * 7
    true = tiny.test_y[rows]
    pred = (true + 3) % 10
    probs = np.full((n, 10), 0.02, np.float32)
    probs[np.arange(n), pred] = 0.70
    probs[np.arange(n), true] = 0.14
    all_pred = tiny.test_y.copy()
    all_pred[rows] = pred
    return Misclassified(
        images=tiny.test_x[rows],
        true=true,
        pred=pred,
        probs=probs,
        indices=rows,
        confusion=confusion_matrix(tiny.test_y, all_pred),
        total=len(tiny.test_y),
    )


def fixed_reports() -> tuple[list[CheckReport], CheckReport]:
    """Gradient-check reports with fixed errors and times."""
    shapes = {"W1": (5, 10), "b1": (5,), "W2": (2, 5), "b2": (2,)}

    def report(label: str, scale: float, threshold: float = 1e-6, seconds: float = 0.01) -> CheckReport:
        params = tuple(
            ParamCheck(name, shapes[name], int(np.prod(shapes[name])), scale * (i + 1), scale * 1e-3)
            for i, name in enumerate(PARAM_NAMES)
        )
        return CheckReport(label, params, threshold, seconds)

    toy = [
        report(f"{act} {kind}", 1e-10 * (j + 1))
        for j, (act, kind) in enumerate(
            (a, k) for a in ("relu", "tanh", "sigmoid") for k in ("single example", "minibatch of 8")
        )
    ]
    return toy, report("live model (H=64, batch 32)", 1e-7, threshold=1e-4, seconds=0.5)


async def fill_panels(pilot: Pilot[Any], tiny: Any) -> None:
    """Set every panel's values directly, as the worker's messages would."""
    app = pilot.app
    assert isinstance(app, MnistApp)
    await wait_for(pilot, lambda: app.bridge is not None, what="the worker attached")  # the panels are mounted
    main = app.main
    assert main is not None and app.bridge is not None
    main.status.update_status(STATUS)
    examples = np.arange(1, 2_673) * 64
    wiggle = 0.15 * np.sin(examples / 977.0) * np.exp(-examples / 60_000)
    # inside one decade (0.15..0.9): few log ticks, so none collide on a short chart (plotext
    # resolves colliding tick labels in hash order, which differs between interpreter runs)
    losses = 0.75 * np.exp(-examples / 20_000) + 0.15 + 0.3 * wiggle
    main.charts.append_losses(examples.tolist(), losses.tolist())
    for epoch, (train, valid) in enumerate(((0.081, 0.078), (0.052, 0.049), (0.036, 0.0298)), start=1):
        main.charts.append_errors(epoch * 50_000, {"train": train, "valid": valid})
    main.charts.add_marker(120_000, "learning rate 0.05")
    main.digits.show(fixed_misclassified(tiny))
    toy, live = fixed_reports()
    main.gradcheck.show_reports(toy, live)
    await pilot.pause()
    for chart in main.charts.charts.values():
        chart.replot()  # now, on the event loop: a timer build in flight is dropped
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_main_screen(snap_compare: Any, tiny_mnist: Any, size: tuple[int, int]) -> None:
    app = new_app(HP, data=tiny_mnist, start_training=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await fill_panels(pilot, tiny_mnist)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def fill_angles(pilot: Pilot[Any]) -> None:
    """Exact backprop (0 degrees) until 60k examples, then feedback alignment, as the worker posts it."""
    app = pilot.app
    assert isinstance(app, MnistApp) and app.main is not None
    charts = app.main.charts
    examples = np.arange(10, 2_673, 10) * 64
    after = np.clip(examples - 60_000, 0, None)
    w1 = np.where(examples <= 60_000, 0.0, 25.0 + 37.0 * np.exp(-after / 25_000))
    charts.append_angles([(int(e), {"W1": float(a), "W2": 0.0}) for e, a in zip(examples, w1, strict=True)])
    charts.add_marker(60_000, "variant feedback-fixed")
    charts.show_angles()
    app.main.controls.set_hparams(replace(HP, variant="feedback-fixed"))
    angles = (("W1", float(w1[-1])), ("W2", 0.0))
    app.main.status.update_status(replace(STATUS, variant="feedback-fixed", angles=angles))
    await pilot.pause()
    for chart in charts.charts.values():
        chart.replot()  # now, on the event loop: a timer build in flight is dropped
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_main_screen_with_angles(snap_compare: Any, tiny_mnist: Any, size: tuple[int, int]) -> None:
    app = new_app(HP, data=tiny_mnist, start_training=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await fill_panels(pilot, tiny_mnist)
        await fill_angles(pilot)
        if size[0] < 100:
            await pilot.press("4")  # small screens: the angle chart has its own tab

    assert snap_compare(app, terminal_size=size, run_before=run_before)


#: Fixed help content: the snapshot is of the help's layout, so a new key needs no new picture
#: (tests/test_help.py checks the content against the bindings themselves).
HELP_LAYOUT: list[tuple[str, list[tuple[str, str]]]] = [
    ("Training (outside a field)", [(k, f"what {k} does") for k in "abcdefghijklmnopqrstu"]),
    ("Controls fields", [("tab / shift+tab", "next / previous field"), ("] / [", "nudge up / down:"), ("", "a note")]),
    ("A panel (when focused)", [("esc", "Leave"), ("j, right", "Next"), ("a", "a longer line " * 6)]),
    ("A screen (x)", [("esc, x", "Back"), ("pgdn, ]", "Next page")]),
    ("Another screen (z)", [(f"{k}", f"key {k}") for k in "0123456789"]),
]


class FixedHelpApp(MnistApp):
    def _prepare_help(self) -> None:
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(HELP_LAYOUT), "help")


def test_help_screen(snap_compare: Any, tiny_mnist: Any) -> None:
    app = FixedHelpApp(AppConfig(HP), data=tiny_mnist, session=idle_session)
    assert snap_compare(app, press=["question_mark"], terminal_size=(120, 40))
