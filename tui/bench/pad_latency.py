"""The drawing pad measured in the real app: from a mouse event to the class bars showing its result.

``measure_pad_latency`` runs ``MnistApp`` headless under Pilot with training running at the
defaults, opens the pad with ``p`` and drags strokes across the canvas by posting the
terminal's ``MouseDown`` / ``MouseMove`` (left button held) / ``MouseUp`` events to the app, as
a driver does. Each move is timed from posting it to the end of the first frame handed to the
driver after the ``ClassBars`` widget drew the probabilities computed from it (its ``shown``
counter passing the version it had), so the figure includes the app's routing, the stroke,
the forward pass, the wait for the next frame and rendering it. Moves are posted ``gap``
seconds apart, about a mouse's report rate. Leaves out the table.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from textual import events

from model.config import HyperParams

SIZE = (160, 48)


def stroke_points(n: int) -> list[list[tuple[float, int]]]:
    """Strokes of pixel points (x, y) on the 28x28 canvas, ``n`` points in all: loops and
    diagonals, so every move changes the drawing."""
    strokes: list[list[tuple[float, int]]] = []
    per = 30
    k = 0
    while sum(len(s) for s in strokes) < n:
        m = min(per, n - sum(len(s) for s in strokes))
        cx, cy, r = 14 + 4 * math.cos(k), 14 + 4 * math.sin(k), 6 + (k % 3)
        strokes.append(
            [
                (cx + r * math.cos(2 * math.pi * i / per), round(cy + r * math.sin(2 * math.pi * i / per)))
                for i in range(m)
            ]
        )
        k += 1
    return strokes


def _mouse(kind: type[events.MouseEvent], canvas: Any, px: float, py: int, button: int) -> events.MouseEvent:
    """The terminal event for pixel (px, py) of ``canvas``, in screen coordinates."""
    x = canvas.region.x + canvas.gutter.left + round(2 * min(max(px, 0.0), 27.0))
    y = canvas.region.y + canvas.gutter.top + min(max(py, 0), 27)
    return kind(None, x, y, 0, 0, button, False, False, False, screen_x=x, screen_y=y)


async def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.0005)


async def _measure(data: Any, moves: int, gap: float) -> list[float]:
    from tui.app import MnistApp
    from tui.screens.pad import DrawPadScreen
    from tui.session.config import AppConfig

    app = MnistApp(AppConfig(HyperParams(epochs=1000), settle_gc=True), data=data)  # as run_app starts it
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.bridge is not None and app.bridge.trainer.state.step > 0, 60, "training")
        await pilot.press("p")
        await _until(lambda: isinstance(app.screen, DrawPadScreen), 10, "the pad")
        pad = app.screen
        assert isinstance(pad, DrawPadScreen)
        await _until(lambda: pad.params is not None, 10, "the live weights")
        canvas, bars = pad.canvas, pad.bars
        frames: list[tuple[float, int]] = []  # (when a frame went to the driver, bars version in it)
        display = app._display  # Textual's hand-over of a rendered frame to the driver

        def timed_display(*args: Any, **kwargs: Any) -> None:
            display(*args, **kwargs)
            frames.append((time.perf_counter(), bars.shown))

        app._display = timed_display  # type: ignore[method-assign]
        for points in stroke_points(moves):
            pad.action_clear()
            app.post_message(_mouse(events.MouseDown, canvas, *points[0], 1))
            await asyncio.sleep(gap)
            for x, y in points[1:]:
                before = bars.version
                t0 = time.perf_counter()
                app.post_message(_mouse(events.MouseMove, canvas, x, y, 1))
                await _until(lambda v=before: any(shown > v for _, shown in frames[-3:]), 30, "the bars")
                latencies.append(next(t for t, shown in frames if t > t0 and shown > before) - t0)
                await asyncio.sleep(gap)
            app.post_message(_mouse(events.MouseUp, canvas, *points[-1], 1))
            await asyncio.sleep(gap)
        if app.bridge is None or app.bridge.paused:
            raise RuntimeError("training was not running while the pad was measured")
        app.exit()
    return latencies


def measure_pad_latency(data: Any, moves: int = 300, gap: float = 0.01) -> list[float]:
    """Seconds from each of about ``moves`` posted mouse moves to the bars showing its result."""
    return asyncio.run(_measure(data, moves, gap))
