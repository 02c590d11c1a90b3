"""`mnist-tui serve` through its own protocol, no browser: a websocket client sends what the
browser would (resize, keys as stdin) and pyte reads the screen from the bytes that come back.
Also: paths confined to the session's folder, the session cap, and no app left behind."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pyte
import pytest
from conftest import serving

from tui.sandbox import confine

pytestmark = pytest.mark.slow
COLS, ROWS = 120, 40


# ---- confinement (no server) ----------------------------------------------------------------
def test_a_name_inside_the_session_folder_is_accepted(tmp_path: Path) -> None:
    assert confine("run.npz", tmp_path) == (tmp_path / "run.npz").resolve()
    assert confine("sub/run.npz", tmp_path) == (tmp_path / "sub" / "run.npz").resolve()
    (tmp_path / "inside").symlink_to(tmp_path / "sub")
    assert confine("inside/x.npz", tmp_path) == (tmp_path / "sub" / "x.npz").resolve()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/etc/passwd", "absolute paths are not allowed"),
        ("~/x.npz", "absolute paths are not allowed"),
        ("../x.npz", "'..' is not allowed"),
        ("a/../../x.npz", "'..' is not allowed"),
        ("out/x.npz", "leads outside"),  # a symlink to /tmp
        ("", "a file name is needed"),
    ],
)
def test_anything_that_leaves_the_session_folder_is_one_clear_line(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "out").symlink_to("/tmp")
    with pytest.raises(ValueError, match=why):
        confine(text, tmp_path)


def test_serve_refuses_data_outside_its_folder_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    assert main(["serve", "--root", str(tmp_path), "--resume", "/etc/passwd"]) == 2
    assert "serve --resume: /etc/passwd: absolute paths are not allowed here" in capsys.readouterr().err
    assert main(["serve", "--root", str(tmp_path), "--lr", "-1"]) == 2
    assert "lr" in capsys.readouterr().err


# ---- a real server --------------------------------------------------------------------------
def _apps(root: Path) -> list[int]:
    """Pids of app processes serving sessions under ``root``."""
    out = subprocess.run(["pgrep", "-f", "--", f"--sandbox {root}"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    root = tmp_path / "serve"
    root.mkdir()
    with serving(root, max_sessions=2) as (url, proc):
        yield url, root, proc


class Browserless:
    """What a browser tab does, over the websocket: resize, keys, and a pyte screen of the output."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def keys(self, text: str) -> None:
        await self.ws.send_json(["stdin", text])

    async def pump(self, seconds: float) -> str:
        """Read what arrives for ``seconds``; the screen then."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.ws.receive(timeout=left)
            except TimeoutError:
                break
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.stream.feed(msg.data)
        return self.text

    def step(self) -> int:
        """The status panel's step counter."""
        found = re.search(r"step ([\d,]+)", self.text)
        assert found, self.text
        return int(found.group(1).replace(",", ""))

    async def wait_gone(self, needle: str, timeout: float = 120.0) -> None:
        """Read until ``needle`` has left the screen (a prompt closed: its text is not stale)."""
        deadline = time.monotonic() + timeout
        while needle in self.text:
            assert time.monotonic() < deadline, f"{needle!r} never went; the screen:\n{self.text}"
            await self.pump(0.2)

    async def wait_for(self, needle: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} never appeared; the screen:\n{self.text}")
            try:
                msg = await self.ws.receive(timeout=min(left, 1.0))
            except TimeoutError:
                continue
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.stream.feed(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise AssertionError(f"the socket closed before {needle!r}: {msg.data!r}")
        return self.text


@contextlib.asynccontextmanager
async def tab_of(session: aiohttp.ClientSession, url: str) -> AsyncIterator[Browserless]:
    """A browser tab's connection (closed on leaving)."""
    async with session.ws_connect(f"{url}/ws?width={COLS}&height={ROWS}") as ws:
        await ws.send_json(["resize", {"width": COLS, "height": ROWS}])
        yield Browserless(ws)


async def test_a_browser_session_trains_pauses_and_takes_a_learning_rate(server) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = server
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        assert "Controls" in tab.text and "Loss" in tab.text and "Misclassified" in tab.text
        await tab.keys(" ")
        await tab.wait_for("paused")
        await tab.keys("h")  # focus the controls: the learning-rate field first, its text selected
        await asyncio.sleep(0.3)
        await tab.keys("0.01\r")
        await tab.wait_for("lr 0.01")
        await tab.keys("\x1b")
        await asyncio.sleep(0.2)
        await tab.keys(" ")
        await tab.wait_for("● running")


async def test_the_save_prompt_stays_inside_the_session_folder(server) -> None:  # type: ignore[no-untyped-def]
    url, root, _ = server
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        await tab.keys("s")
        await tab.wait_for("Save checkpoint")
        await tab.keys("../escaped.npz\r")
        await tab.wait_for("'..' is not allowed here")
        for text, refusal in (("/tmp/escaped.npz", "absolute paths are not allowed here"), ("mine.npz", "")):
            await tab.keys("\x1b")  # cancel and open the prompt again: its text is selected, typing replaces it
            await tab.wait_gone("Save checkpoint")  # else "mine.npz" may land on the training screen (m: math)
            await tab.keys("s")
            await tab.wait_for("Save checkpoint")
            await asyncio.sleep(0.3)
            await tab.keys(text + "\r")
            if refusal:
                await tab.wait_for(refusal)
        deadline = time.monotonic() + 60
        while not list(root.glob("session-*/mine.npz")) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert list(root.glob("session-*/mine.npz")), "the checkpoint was not written in the session folder"
    assert not (root.parent / "escaped.npz").exists() and not Path("/tmp/escaped.npz").exists()


async def test_two_tabs_are_two_runs_and_a_third_visitor_sees_a_busy_page(server) -> None:  # type: ignore[no-untyped-def]
    url, root, proc = server
    async with aiohttp.ClientSession() as session:
        async with tab_of(session, url) as one, tab_of(session, url) as two:
            await one.wait_for("● running")
            await two.wait_for("● running")
            assert len(_apps(root)) == 2
            await one.keys(" ")
            await one.wait_for("paused")
            await one.pump(1.0)
            paused_at, before = one.step(), two.step()
            deadline = time.monotonic() + 120
            while two.step() <= before:  # pausing one tab leaves the other training ...
                assert time.monotonic() < deadline, "the other tab did not train on"
                await asyncio.gather(one.pump(1.0), two.pump(1.0))
            assert one.step() == paused_at  # ... while the paused one takes no step
            async with session.get(url) as page:  # the third visitor
                assert page.status == 503
                assert "mnist-tui is busy" in await page.text()
            async with session.ws_connect(f"{url}/ws") as third:
                msg = await third.receive(timeout=60)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert third.close_code == 1013
        deadline = time.monotonic() + 60  # the tab closed: its app quits, or is terminated
        while _apps(root) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert _apps(root) == []
        async with session.get(url) as page:
            assert page.status == 200  # the slot is free again
        async with tab_of(session, url) as tab:
            await tab.wait_for("● running")
            proc.send_signal(signal.SIGTERM)  # stopping the server stops every session
            proc.wait(60)
    deadline = time.monotonic() + 60
    while _apps(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _apps(root) == []


async def test_help_in_a_browser_says_what_differs_there(server) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = server
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        await tab.keys("?")
        await tab.wait_for("In a browser")
        assert "names inside this session's folder only" in tab.text


async def test_an_app_whose_server_was_killed_quits_instead_of_training_on(server) -> None:  # type: ignore[no-untyped-def]
    url, root, proc = server
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        assert len(_apps(root)) == 1
        proc.kill()  # SIGKILL: the server cannot stop its apps
        proc.wait(60)
        deadline = time.monotonic() + 60
        while _apps(root) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert _apps(root) == []


async def test_an_sgr_mouse_drag_paints_the_drawing_pad(server) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = server
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        await tab.keys("p")
        lines = (await tab.wait_for("Draw a digit")).split("\n")
        top = next(i for i, line in enumerate(lines) if "Draw a digit" in line)
        left = lines[top].index("╭")

        def cell(px: int, py: int) -> tuple[int, int]:  # 1-based terminal column and row of a pixel
            return left + 2 + 2 * px, top + 2 + py

        x, y = cell(14, 4)
        drag = [f"\x1b[<0;{x};{y}M"]  # left button down
        drag += [f"\x1b[<32;{cell(14, py)[0]};{cell(14, py)[1]}M" for py in range(5, 25)]  # moves, button held
        drag.append(f"\x1b[<0;{cell(14, 24)[0]};{cell(14, 24)[1]}m")  # released
        for seq in drag:
            await tab.keys(seq)
            await asyncio.sleep(0.01)
        await tab.wait_for("looks like a")
