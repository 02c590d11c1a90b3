"""The screenshots in ``docs/pictures``, drawn by the real app from fixed inputs.

``make pictures`` (``PYTHONPATH=tests python -m harness.pictures``) writes every picture as SVG
(Textual's own screenshot) and as a text capture (the same screen as plain characters);
``tests/test_pictures.py`` draws them again and fails when a committed file differs, so a new key,
field or panel cannot leave the README and the docs showing an older app.

The inputs are fixed so that a picture is the same on every machine and every run: the synthetic
set of the tests (``conftest.make_tiny_mnist``) whose test images are digits drawn with the drawing
pad's own brush and preprocessing (``model.drawing``), the idle session of the layout snapshots (the
run is built, its training thread never starts, nothing reads a clock) and the panel values of
``tests/test_snapshots.py``, set directly as the worker's messages would set them. Nothing here
ships in the wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import sys
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

#: where the pictures live: the docs include them, the README shows main.svg
PICTURES_DIR = Path(__file__).resolve().parents[2] / "docs" / "pictures"

Setup = Callable[[Pilot[Any], Any], Awaitable[None]]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 12) -> list[tuple[float, float]]:
    """Points (x, y) on an ellipse from angle a0 to a1 in degrees (0: right, 90: down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return [(cx + rx * float(np.cos(a)), cy + ry * float(np.sin(a))) for a in t]


#: each digit as pen strokes (polylines of (column, row) on a 28x28 pad)
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [arc(14, 14, 5.5, 9, 0, 360, 24)],
    1: [[(12, 7), (15, 5), (15, 23)]],
    2: [[*arc(14, 9.5, 5, 4.5, 190, 370), (9, 23), (20, 23)]],
    3: [arc(13.5, 9.5, 5, 4.5, 200, 450), arc(13.5, 18.5, 5.5, 4.5, 270, 520)],
    4: [[(17, 5), (8, 18), (21, 18)], [(17, 5), (17, 23)]],
    5: [[(19, 5), (10, 5), (9, 13), *arc(14, 17.5, 5.5, 5.5, 230, 500)]],
    6: [[(18, 5), *arc(14, 17.5, 5, 5.5, 180, 540)]],
    7: [[(8, 5), (20, 5), (12, 23)]],
    8: [arc(14, 9.5, 4.5, 4.5, 0, 360, 20), arc(14, 18.5, 5.5, 4.5, 0, 360, 20)],
    9: [arc(14, 10, 5, 5, 0, 360, 20), [(19, 10), (17, 23)]],
}


def drawn_digit(label: int, slant: float) -> np.ndarray:
    """``label`` written with the pad's brush, leaning by ``slant`` (columns per row), as the
    network's (784,) float32 input after the pad's preprocessing."""
    from model.drawing import paint_line, to_mnist

    canvas = np.zeros((28, 28), np.float32)
    for stroke in STROKES[label]:
        points = [(x + slant * (y - 14), y) for x, y in stroke]
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            paint_line(canvas, x0, y0, x1, y1)
    return to_mnist(canvas)


def pictures_data() -> Any:
    """The tests' synthetic set with written digits as its test images (each of its class, leaning
    a little differently): what the misclassified-digit panel shows."""
    from conftest import make_tiny_mnist

    data = make_tiny_mnist()
    slants = ((np.arange(len(data.test_y)) * 5) % 7 - 3) * 0.07
    digits = np.stack([drawn_digit(int(y), float(s)) for y, s in zip(data.test_y, slants, strict=True)])
    data.test_x[:] = np.floor(np.clip(digits, 0.0, 255 / 256) * 256) / 256  # pixels = uint8/256, as MNIST's
    return data


@dataclass(frozen=True)
class Picture:
    """One screenshot: ``setup`` drives the app (on ``data``) to the screen to draw at ``size``."""

    name: str
    size: tuple[int, int]
    setup: Setup
    kinds: tuple[str, ...] = ("svg", "txt")
    ascii_digits: bool = True  # the text capture shows digits in the ASCII view (half blocks read as ▀)


async def main_screen(pilot: Pilot[Any], data: Any) -> None:
    """Training with fixed figures, switched to fixed random feedback at 60k examples."""
    from test_snapshots import fill_angles, fill_panels

    await fill_panels(pilot, data)
    await fill_angles(pilot)


async def small_screen(pilot: Pilot[Any], data: Any) -> None:
    """The same run at 80x24: the panels share one tabbed slot."""
    await main_screen(pilot, data)


async def help_screen(pilot: Pilot[Any], data: Any) -> None:
    """``?``: every key, as the app lists it from its bindings."""
    await main_screen(pilot, data)
    await pilot.press("question_mark")


PICTURES = (
    Picture("main", (120, 40), main_screen),
    Picture("small", (80, 24), small_screen),
    Picture("help", (120, 90), help_screen, kinds=("txt",)),  # tall: every key on one screen
)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text (``App.export_screenshot`` with text for SVG),
    without trailing spaces and without the blank margin around a centred dialog."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    lines = console.export_text(styles=False).splitlines()
    return textwrap.dedent("\n".join(line.rstrip() for line in lines)).strip("\n") + "\n"


def new_app(runs: Path, data: Any) -> App[Any]:
    """The app of the layout snapshots: 64 hidden units, the idle session, records in ``runs``."""
    from test_snapshots import HP

    from tui.app import MnistApp, idle_session
    from tui.session.config import AppConfig

    return MnistApp(AppConfig(HP, runs=runs, autosave=False), data=data, session=idle_session)


async def render(picture: Picture, data: Any) -> dict[str, str]:
    """``picture`` drawn now: ``{"svg": ..., "txt": ...}``."""
    with tempfile.TemporaryDirectory(prefix="mnist-tui-pictures-") as runs:
        app = new_app(Path(runs), data)
        async with app.run_test(size=picture.size) as pilot:
            await picture.setup(pilot, data)
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            svg = app.export_screenshot(title=f"mnist-tui {picture.size[0]}x{picture.size[1]}", simplify=True)
            if picture.ascii_digits:
                main = getattr(app, "main", None)
                if main is not None:
                    main.digits.action_toggle_ascii()
                    await pilot.pause()
            text = screen_text(app)
    return {"svg": svg, "txt": text}


def picture_paths(picture: Picture) -> dict[str, Path]:
    return {kind: PICTURES_DIR / f"{picture.name}.{kind}" for kind in picture.kinds}


async def render_all(data: Any) -> dict[Path, str]:
    drawn: dict[Path, str] = {}
    for picture in PICTURES:
        files = await render(picture, data)
        for kind, path in picture_paths(picture).items():
            drawn[path] = files[kind]
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make pictures", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a picture is stale")
    args = parser.parse_args(argv)
    drawn = asyncio.run(render_all(pictures_data()))
    stale = [path for path, text in drawn.items() if not path.exists() or path.read_text() != text]
    for path in stale:
        if args.check:
            print(f"stale: {path}")
        else:
            PICTURES_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(drawn[path])
            print(f"wrote {path}")
    if not stale:
        print(f"{len(drawn)} pictures in {PICTURES_DIR} are current")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
