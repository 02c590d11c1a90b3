"""``mnist-tui serve``: the app in a browser through textual-serve, one app process per tab.

Each browser tab (a websocket on /ws) starts ``python -m tui.cli --sandbox DIR …`` in a fresh
folder ``ROOT/session-<id>`` that is also its working directory: the app's save and load prompts
accept only names inside it (``tui.sandbox``) and it autosaves there. At most ``max_sessions``
apps run at once; a visitor beyond that gets a plain "busy" page (and a closed socket), not a
hang. When a tab closes its app is asked to quit, then terminated, then killed, so no process is
left behind; stopping the server does the same for every session.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("mnist-tui.serve")
QUIT_GRACE = 3.0  # seconds an app has to quit by itself before it is terminated, then killed
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
        argv = [sys.executable, "-m", "tui.cli", "--sandbox", str(folder), *self.app_args]
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
        websocket = web.WebSocketResponse(heartbeat=15)
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

        service = AppService(
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

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(f"mnist-tui serving on {self.public_url} (at most {self.max_sessions} sessions)")
        self.console.print(f"session folders under {self.root}; press Ctrl+C to stop")

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(self._end(s) for s in list(self.sessions)))


def loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def serve(
    app_args: list[str], root: Path, host: str, port: int, max_sessions: int, public_url: str | None = None
) -> None:
    """Serve until Ctrl+C or SIGTERM."""
    root.mkdir(parents=True, exist_ok=True)
    server = MnistServer(app_args, root, host=host, port=port, max_sessions=max_sessions, public_url=public_url)
    server.serve()
