"""``mnist-tui serve`` against hostile visitors and bad flags: every visitor is kept apart from the
others and from the operator (own runs folder, no server paths), cannot grow its terminal without
bound, a bad --port/--host/--root is one line before "serving on", and sessions end quietly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from conftest import serving
from record_samples import GOOD_ID, write_record
from test_serve import _apps, tab_of

from tui.exitcodes import USAGE

pytestmark = pytest.mark.slow
TIMEOUT = 60
#: What a session's app may reach with a clamped terminal (a 100,000 x 100,000 one reached 2.7 GiB).
SESSION_PEAK_MIB = 600


def serve_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "serve", *args], capture_output=True, text=True, timeout=TIMEOUT
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A read-only tmpfs at ``path`` (root can write anywhere else), unmounted on leaving."""
    path.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def refused_before_serving(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == USAGE, done.stdout + done.stderr
    assert "serving on" not in done.stdout + done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert all(n in done.stderr for n in needles), done.stderr


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--port", "70000"], "at most 65535"),
        (["--port", "0"], "at least 1"),
        (["--port", "http"], "whole number"),
        (["--host", "no-such-host.invalid"], "cannot be resolved"),
        (["--host", "10.255.255.1"], "cannot serve on"),  # an address this machine does not have
        (["--runs", "elsewhere"], "leave out --runs"),
        (["--root", "x" * 300], "at most 255 bytes"),
    ],
)
def test_a_bad_flag_is_one_line_before_serving(tmp_path: Path, flags: list[str], needle: str) -> None:
    root = ["--root", str(tmp_path / "root")] if "--root" not in flags else []
    refused_before_serving(serve_cli("--port", str(free_port()), *root, *flags), needle)


def test_a_port_in_use_is_one_line_before_serving(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refused_before_serving(serve_cli("--port", port, "--root", str(tmp_path)), f"127.0.0.1:{port}", "in use")


def test_a_root_that_cannot_be_written_is_one_line_before_serving(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    refused_before_serving(serve_cli("--port", str(free_port()), "--root", str(tmp_path / "file" / "x")), "--root")
    with read_only_folder(tmp_path / "ro") as ro:
        done = serve_cli("--port", str(free_port()), "--root", str(ro))
        refused_before_serving(done, "--root", "Read-only file system")


# ---- a real server ----------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Path, Path]]:
    """A server whose operator has a run of their own in their runs folder: (url, root, log, runs)."""
    root, runs, log = tmp_path / "serve", tmp_path / "operator-runs", tmp_path / "serve.log"
    root.mkdir()
    write_record(runs, GOOD_ID)
    with serving(root, max_sessions=2, log=log, runs=runs) as (url, _):
        yield url, root, log, runs


def peak_mib(pid: int) -> int:
    """The peak resident memory of process ``pid`` (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found, status
    return int(found.group(1)) // 1024


async def test_a_visitor_sees_only_its_own_runs_and_no_server_paths(served: tuple[str, Path, Path, Path]) -> None:
    url, root, _, runs = served
    async with aiohttp.ClientSession() as session, tab_of(session, url) as tab:
        await tab.wait_for("● running")
        await tab.keys("o")
        screen = await tab.wait_for("Runs in runs")
        await tab.wait_for("1 run")  # its own, live: the operator's is not listed
        screen = tab.text
        assert GOOD_ID not in screen and str(root) not in screen and str(runs) not in screen, screen
    (session_folder,) = root.glob("session-*")
    deadline = time.monotonic() + 20
    while not list(session_folder.glob("runs/*/run.json")) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert [p.parent.parent for p in session_folder.glob("runs/*/run.json")] == [session_folder / "runs"]
    assert [p.name for p in runs.iterdir()] == [GOOD_ID]  # nothing of the visitor's reached the operator's


@pytest.mark.parametrize("how", ["page", "resize"])
async def test_a_visitors_terminal_size_is_clamped(served: tuple[str, Path, Path, Path], how: str) -> None:
    url, root, _, _ = served
    query = "width=100000&height=100000" if how == "page" else "width=120&height=40"
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws?{query}") as ws:
        if how == "resize":
            await ws.send_json(["resize", {"width": 100000, "height": 100000}])
        received = 0
        deadline = time.monotonic() + 40
        while received < 200_000 and time.monotonic() < deadline:  # a full screen and some frames
            with contextlib.suppress(TimeoutError):
                msg = await ws.receive(timeout=1.0)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    received += len(msg.data)
        (pid,) = _apps(root)
        assert peak_mib(pid) < SESSION_PEAK_MIB
        await ws.send_json(["resize", {"width": "wide", "height": None}])  # malformed: ignored
        await ws.send_json(["resize", {"width": 120, "height": 40}])
        with contextlib.suppress(TimeoutError):
            await ws.receive(timeout=2.0)
        assert _apps(root) == [pid]


async def test_sessions_end_quietly(served: tuple[str, Path, Path, Path]) -> None:
    """Tabs closed while loading, while training, with the run list open and mid-save: nothing in
    the server's log but its own lines and the access log."""
    url, root, log, _ = served
    async with aiohttp.ClientSession() as session:
        for keys, after in (("", 0.5), ("", 6.0), ("o", 6.0), ("s", 6.0), (" ", 6.0), ("q", 6.0), ("\x03", 6.0)):
            async with tab_of(session, url) as tab:
                await tab.pump(after)
                if keys:
                    await tab.keys(keys)
                    await tab.pump(0.5)
    deadline = time.monotonic() + 30
    while _apps(root) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not _apps(root)
    text = log.read_text()
    assert text.count('"GET /ws') == 7, text
    assert not re.search(r"Traceback|Error|Exception|WARNING|ERROR|Unknown child", text), text


def test_served_app_flags_keep_sessions_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a server: the command every session runs records its runs in its own folder."""
    from tui.serve import MnistServer

    server = MnistServer([], tmp_path, host="127.0.0.1", port=free_port(), max_sessions=1)
    command = server.command_for(tmp_path / "session-x")
    assert "--runs runs" in command and command.startswith(f"cd {tmp_path / 'session-x'}")
    assert os.sep not in command.split("--runs ", 1)[1].split()[0]
