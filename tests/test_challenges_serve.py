"""A challenge in a browser tab (``mnist-tui serve``), over the server's own websocket protocol:
picked from the list with ``c``, played with the same keys, its progress kept in the session's
folder."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from test_serve import _apps, server, tab_of  # noqa: F401  (server is a fixture)

from model.challenges import read_progress

pytestmark = pytest.mark.slow


async def test_a_challenge_picked_in_a_browser_keeps_its_progress_in_the_session_folder(server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    url, root, _ = server
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        await tab.keys("c")
        await tab.wait_for("Enter plays one")
        await asyncio.sleep(0.3)
        await tab.keys("\r")  # the first: too hot
        await tab.wait_for("Challenge · Too hot")
        await tab.wait_for("● diverged")  # lr 5 explodes at once
        assert "validation error < 5.00% within 1 epoch, no reset" in tab.text
        await tab.keys("i")
        await tab.wait_for("Hint 1")
    deadline = time.monotonic() + 20  # the tab closed: its app quits and counts the attempt
    while _apps(root) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    (folder,) = root.glob("session-*")
    known, note = read_progress(Path(folder) / "challenges.json")
    assert note == "" and known["too-hot"].attempts == 1 and not known["too-hot"].solved
