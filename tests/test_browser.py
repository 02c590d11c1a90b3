"""`mnist-tui serve` in a real browser: Debian's Chromium driven by Playwright.

One server and one browser for the module, a new page per test. Every request that is not to the
local server is refused (the page asks for web fonts). The screen is read from the bytes the page's
websocket receives (a recording hook installed before the page's script runs), fed to pyte: the
same bytes xterm.js draws. Keys go to xterm's textarea as a person types them.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pyte
import pytest
from conftest import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-headless-shell")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; make test does)"),
]
import playwright.sync_api as playwright_api  # noqa: E402  (the test extra installs it)

RECORD = """
(() => {
  const Native = window.WebSocket;
  window.__frames = [];
  window.__sent = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("close", (e) => { window.__closed = e.code; });
      this.addEventListener("message", (e) => {
        if (typeof e.data === "string") return;
        const bytes = new Uint8Array(e.data);
        let s = "";
        for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
        window.__frames.push(btoa(s));
      });
    }
    send(data) { window.__sent.push(String(data)); return super.send(data); }
  };
})();
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve"), max_sessions=2) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Tab:
    """One page of the served app: keys typed into xterm, the screen as pyte reads its bytes."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.screen: pyte.Screen | None = None
        self.stream: pyte.ByteStream | None = None

    def _size(self) -> tuple[int, int]:
        import json

        for text in reversed(self.page.evaluate("() => window.__sent")):
            msg = json.loads(text)
            if msg[0] == "resize":
                return int(msg[1]["width"]), int(msg[1]["height"])
        raise AssertionError("the page never said its size")

    def _pump(self) -> None:
        if self.screen is None:
            cols, rows = self._size()
            self.screen = pyte.Screen(cols, rows)
            self.stream = pyte.ByteStream(self.screen)
        assert self.stream is not None
        for frame in self.page.evaluate("() => window.__frames.splice(0)"):
            self.stream.feed(base64.b64decode(frame))

    @property
    def text(self) -> str:
        self._pump()
        assert self.screen is not None
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in (text := self.text):
            closed = self.page.evaluate("() => window.__closed ?? null")
            if closed is not None:  # nothing more can come: say so now, not at the deadline
                raise AssertionError(f"the server closed the page's websocket (code {closed}) before {needle!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared in the browser; its screen:\n{text}")
            self.page.wait_for_timeout(100)
        return text

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            if key == "Escape":
                self.page.wait_for_timeout(150)  # xterm would merge Escape and the next key into alt+key

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)


@pytest.fixture
def tab(server: str, browser: Any) -> Iterator[Tab]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # room for the 89x32 drawing pad
    local = server.replace("http://", "")

    def only_local(route: Any) -> None:
        if local in route.request.url:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_local)
    page.add_init_script(RECORD)
    page.goto(server)
    page.wait_for_selector("body.-first-byte", timeout=120_000)
    page.locator(".xterm-screen").click()  # focus xterm's textarea
    t = Tab(page)
    t.wait_for("● running")
    yield t
    page.close()


def test_the_app_loads_and_space_pauses_and_resumes(tab: Tab) -> None:
    text = tab.text
    assert "Controls" in text and "Misclassified" in text and "step" in text
    tab.press("Space")
    tab.wait_for("paused")
    tab.press("Space")
    tab.wait_for("● running")


def test_a_learning_rate_typed_in_the_browser_applies(tab: Tab) -> None:
    tab.press("h")  # the controls: the learning-rate field has focus, its text selected
    tab.page.wait_for_timeout(300)
    tab.type("0.01")
    tab.press("Enter")
    tab.wait_for("lr 0.01")


def test_help_opens_and_closes(tab: Tab) -> None:
    tab.press("?")
    tab.wait_for("Keys")
    tab.press("Escape")
    deadline = time.monotonic() + 60
    while "Keys" in tab.text and time.monotonic() < deadline:
        tab.page.wait_for_timeout(100)
    tab.wait_for("● running")


def test_a_mouse_drag_draws_on_the_pad_and_the_bars_answer(tab: Tab) -> None:
    cols, rows = tab._size()
    if cols < 89 or rows < 32:
        pytest.fail(f"the page's terminal is {cols}x{rows}; the pad needs 89x32 (a larger viewport)")
    tab.press("p")
    text = tab.wait_for("Draw a digit")
    lines = text.split("\n")
    top = next(i for i, line in enumerate(lines) if "Draw a digit" in line)
    left = lines[top].index("╭")  # the canvas's top-left corner; pixel (x, y) is at cell (left+1+2x, top+1+y)
    box = tab.page.locator(".xterm-screen").bounding_box()
    cell_w, cell_h = box["width"] / cols, box["height"] / rows

    def at(px: int, py: int) -> tuple[float, float]:
        col, row = left + 1 + 2 * px, top + 1 + py
        return box["x"] + (col + 0.5) * cell_w, box["y"] + (row + 0.5) * cell_h

    mouse = tab.page.mouse
    mouse.move(*at(14, 4))
    mouse.down()
    for py in range(5, 25):
        mouse.move(*at(14, py))
        tab.page.wait_for_timeout(15)
    mouse.up()
    tab.wait_for("looks like a")
    assert tab.screen is not None
    stroke = tab.screen.buffer[top + 1 + 14][left + 1 + 2 * 14]
    far = tab.screen.buffer[top + 1 + 14][left + 1 + 2 * 3]
    assert (stroke.bg, stroke.fg) != (far.bg, far.fg)  # ink where the mouse went, none far away
    tab.press("c")
    deadline = time.monotonic() + 60
    while "looks like a" in tab.text and time.monotonic() < deadline:
        tab.page.wait_for_timeout(100)
    assert "looks like a" not in tab.text  # cleared: no ink, no verdict


def test_the_command_palette_opens_with_ctrl_p_in_the_browser(tab: Tab) -> None:
    tab.press("Control+p")
    tab.wait_for("Search for commands")
    tab.press("Escape")
