"""``mnist-tui serve``: the app in a browser through textual-serve, one app process per tab.

Each browser tab (a websocket on /ws) starts ``python -m tui.cli --sandbox DIR --runs runs …`` in
a fresh folder ``ROOT/session-<id>`` that is also its working directory: the app's save and load
prompts accept only names inside it (``tui.sandbox``), it autosaves there and records its runs in
its own ``runs`` folder, so a visitor's run list shows only that visitor's runs and no path of the
server. A visitor's terminal size (the page's and every resize) is clamped to ``MAX_COLS`` x
``MAX_ROWS``. At most ``max_sessions`` apps run at once; a visitor beyond that gets a plain "busy"
page (and a closed socket), not a hang. When a tab closes its app is asked to quit, then
terminated, then killed, so no process is left behind; stopping the server does the same for
every session. The listening socket is bound before anything is printed, so a port in use or a
host that does not resolve is one ``ServeError`` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import shlex
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("mnist-tui.serve")
QUIT_GRACE = 3.0  # seconds an app has to quit by itself before it is terminated, then killed
#: Seconds between the server's pings on a tab's websocket; a tab that has not answered within half
#: of it is taken for gone, and its session ends. A ping waits behind every frame already sent, so a
#: browser that draws slower than the app paints (a loaded machine, a slow link) answers late: on a
#: 2-core box under load, 7.5 s to answer ended open tabs' sessions at load 5-10, and 30 s at 20+.
HEARTBEAT = 120.0
#: The largest terminal a visitor gets (a 4K screen at a small font is about 480 x 135 cells).
MAX_COLS, MAX_ROWS = 500, 200
#: A session's run records, relative to its folder (its working directory).
SESSION_RUNS = "runs"


class ServeError(Exception):
    """The server cannot start: a port in use, a host that does not resolve (one line)."""


def clamp_size(width: int, height: int) -> tuple[int, int]:
    """A visitor's terminal size within 1..MAX_COLS x 1..MAX_ROWS."""
    return max(1, min(int(width), MAX_COLS)), max(1, min(int(height), MAX_ROWS))


class ClampedAppService(AppService):
    """textual-serve's app process whose terminal never grows past ``MAX_COLS`` x ``MAX_ROWS``
    (a page asking for 100,000 x 100,000 cells grew its app to 2.7 GiB)."""

    async def start(self, width: int, height: int) -> None:
        await super().start(*clamp_size(width, height))

    async def set_terminal_size(self, width: int, height: int) -> None:
        try:
            size = clamp_size(width, height)
        except (TypeError, ValueError, OverflowError):  # a malformed resize message: ignored
            return
        await super().set_terminal_size(*size)


BUSY_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mnist-tui: busy</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>mnist-tui is busy</h1>
<p>All {limit} sessions of this server are in use. Close another tab or try again in a minute.</p>
</body></html>"""


class MnistServer(Server):
    """textual-serve's server with a session cap, a folder per session and no orphaned apps."""

    def __init__(
        self,
        app_args: list[str],
        root: Path,
        *,
        host: str,
        port: int,
        max_sessions: int,
        public_url: str | None = None,
    ) -> None:
        super().__init__("mnist-tui", host=host, port=port, title="mnist-tui", public_url=public_url)
        self.fixed_url = public_url is not None
        self.app_args = app_args
        self.root = root
        self.max_sessions = max_sessions
        self.sessions: dict[str, AppService] = {}

    def command_for(self, folder: Path) -> str:
        """The shell command of one session's app (exec: the shell is replaced, so one process)."""
        argv = [sys.executable, "-m", "tui.cli", "--sandbox", str(folder), "--runs", SESSION_RUNS, *self.app_args]
        return f"cd {shlex.quote(str(folder))} && exec {shlex.join(argv)}"

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    async def handle_index(self, request: web.Request) -> Any:
        if self.full:
            page = BUSY_PAGE.format(limit=html.escape(str(self.max_sessions)))
            return web.Response(status=503, text=page, content_type="text/html", headers={"Retry-After": "60"})
        if not self.fixed_url:  # the page's websocket goes back to the address the browser used
            self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=HEARTBEAT)
        await websocket.prepare(request)
        if self.full:
            await websocket.close(code=1013, message=b"mnist-tui is busy: every session is in use")
            return websocket
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        session = uuid.uuid4().hex[:12]
        folder = self.root / f"session-{session}"
        folder.mkdir(parents=True, exist_ok=True)

        async def close() -> None:  # AppService wants no result; the websocket's close returns one
            await websocket.close()

        service = ClampedAppService(
            self.command_for(folder),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self.sessions[session] = service
        try:
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # a broken socket or app: log it, end this session only
            log.warning("session %s ended: %s", session, error)
        finally:
            await self._end(session)
        return websocket

    async def _end(self, session: str) -> None:
        """Ask the session's app to quit; terminate, then kill it if it does not."""
        service = self.sessions.pop(session, None)
        if service is None:
            return
        process = service._process
        with contextlib.suppress(Exception):
            await asyncio.wait_for(service.stop(), QUIT_GRACE)
        if process is None or process.returncode is not None:
            return
        for signal_it in (process.terminate, process.kill):
            with contextlib.suppress(ProcessLookupError):
                signal_it()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), QUIT_GRACE)
                return

    def serve(self, debug: bool = False, sock: socket.socket | None = None) -> None:
        """Serve on ``sock`` (default: bind one, ServeError if it cannot be had) until Ctrl+C or SIGTERM."""
        sock = sock if sock is not None else listening_socket(self.host, self.port)
        self.debug = debug
        self.initialize_logging()
        logging.getLogger("asyncio").addFilter(_quiet_reaped_children)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)
        web.run_app(self._make_app(), sock=sock, handle_signals=False, loop=loop, print=lambda *args: None)

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(f"mnist-tui serving on {self.public_url} (at most {self.max_sessions} sessions)")
        self.console.print(f"session folders under {self.root}; press Ctrl+C to stop")

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(self._end(s) for s in list(self.sessions)))


def _quiet_reaped_children(record: logging.LogRecord) -> bool:
    """Leave out asyncio's "Unknown child process pid N" warning: a session's app that was killed
    and reaped when its tab closed, which is how a session ends, not news for the log."""
    return not str(record.msg).startswith("Unknown child process pid")


def loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``; ServeError (one line) if the host does not resolve or
    the port cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ServeError(f"--host {host}: cannot be resolved ({why})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def serve(
    app_args: list[str],
    root: Path,
    sock: socket.socket,
    host: str,
    port: int,
    max_sessions: int,
    public_url: str | None = None,
) -> None:
    """Serve on ``sock`` (from ``listening_socket(host, port)``) until Ctrl+C or SIGTERM."""
    server = MnistServer(app_args, root, host=host, port=port, max_sessions=max_sessions, public_url=public_url)
    server.serve(sock=sock)
