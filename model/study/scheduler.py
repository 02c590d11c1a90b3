"""Checking a Dask scheduler before the study trusts it, each step with a deadline.

``connect`` takes a scheduler address and returns a ``distributed.Client`` only after:

1. connecting: a TCP connection within ``CONNECT_SECONDS``;
2. the handshake: a Dask scheduler speaks first, a length-prefixed frame block; a peer that
   stays silent is sent an HTTP request line, so a web server (a dashboard's port) answers and
   is named; bytes that do not frame like Dask's are refused before anything is allocated from
   them (a stranger's length field could ask for gigabytes);
3. the client: ``distributed.Client`` built in a helper thread, abandoned at its deadline;
4. workers: at least one within ``WORKER_SECONDS``;
5. the first task: a tiny probe (importing this package on a worker) within ``TASK_SECONDS``.

Each failure is a ``SchedulerError`` with one line saying what to check. Leaves out: running
the study's tasks (``dask_backend.py``).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import urlsplit

CONNECT_SECONDS = 5.0
HANDSHAKE_SECONDS = 3.0  # silence before the HTTP probe, and again after it
CLIENT_SECONDS = 8.0
WORKER_SECONDS = 12.0
TASK_SECONDS = 12.0
MAX_HANDSHAKE = 1 << 16  # a scheduler's handshake is under 100 bytes


class SchedulerError(ValueError):
    """The scheduler cannot be used; the message is one line saying what to check."""


def host_port(address: str) -> tuple[str, int]:
    """(host, port) of ``tcp://host:port`` or ``host:port``; SchedulerError otherwise."""
    text = address if "://" in address else f"tcp://{address}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise SchedulerError(f"--scheduler {address!r}: expected tcp://HOST:PORT (a Dask scheduler's address)")
    return parts.hostname, port


def _recv_some(sock: socket.socket, want: int, deadline: float) -> bytes:
    """Up to ``want`` bytes, returning early at the deadline or when the peer closes."""
    data = b""
    while len(data) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(want - len(data))
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _looks_like_dask(data: bytes) -> bool:
    """Whether ``data`` starts like a Dask TCP message: a total length, then a frame count and
    that many frame lengths that fit inside it (all little-endian uint64)."""
    if len(data) < 24:
        return False
    (total,) = struct.unpack_from("<Q", data)
    (n_frames,) = struct.unpack_from("<Q", data, 8)
    if not (16 <= total <= MAX_HANDSHAKE and 1 <= n_frames <= 64 and len(data) >= 16 + 8 * n_frames):
        return False
    lengths = struct.unpack_from(f"<{n_frames}Q", data, 16)
    return bool(8 * (1 + n_frames) + sum(lengths) <= total)


def handshake(address: str) -> None:
    """Steps 1 and 2: connect and see the scheduler's handshake; SchedulerError otherwise."""
    host, port = host_port(address)
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_SECONDS)
    except TimeoutError:
        raise SchedulerError(
            f"no answer from {address} within {CONNECT_SECONDS:g} s: check the address, the port and any firewall"
        ) from None
    except OSError as exc:
        raise SchedulerError(
            f"cannot connect to {address} ({exc.strerror or exc}): is the scheduler running (dask scheduler)?"
        ) from None
    with sock:
        data = _recv_some(sock, 64, time.monotonic() + HANDSHAKE_SECONDS)
        if not data:  # silent: a Dask scheduler would have spoken; is it a web server?
            with contextlib.suppress(OSError):
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = _recv_some(sock, 64, time.monotonic() + HANDSHAKE_SECONDS)
            if not data:
                raise SchedulerError(
                    f"{address} accepted the connection but sent nothing in {2 * HANDSHAKE_SECONDS:g} s: "
                    "it is not a Dask scheduler (check the port: the scheduler's default is 8786)"
                )
    if data.startswith(b"HTTP/"):
        raise SchedulerError(
            f"{address} answers HTTP (a web server or a dashboard), not the Dask protocol: "
            "give the scheduler's own address, e.g. tcp://HOST:8786"
        )
    if not _looks_like_dask(data):
        raise SchedulerError(
            f"{address} does not speak the Dask protocol (its first bytes are not a Dask handshake): "
            "check that the address is a Dask scheduler's"
        )


def _in_thread(work: Any, seconds: float) -> Any:
    """``work()`` in a daemon thread; its result, its exception, or TimeoutError at the deadline
    (the thread is abandoned: it cannot hold up this process's exit)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="scheduler-check")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]


def _probe() -> str:
    """Runs on a worker: can it import the study?"""
    import model.study.task  # noqa: F401

    return "ready"


def connect(address: str) -> Any:
    """A ``distributed.Client`` on ``address`` that has passed every check (see the module docstring)."""
    from distributed import Client

    handshake(address)
    try:
        client = _in_thread(lambda: Client(address, timeout=f"{CLIENT_SECONDS:g}s"), CLIENT_SECONDS + 2)
    except TimeoutError:
        raise SchedulerError(f"{address}: the Dask client did not connect within {CLIENT_SECONDS:g} s") from None
    except OSError as exc:
        raise SchedulerError(f"{address}: the Dask client could not connect ({' '.join(str(exc).split())})") from None
    try:
        try:
            _in_thread(lambda: client.wait_for_workers(1, timeout=WORKER_SECONDS), WORKER_SECONDS + 2)
        except TimeoutError:
            raise SchedulerError(
                f"the scheduler at {address} has no workers (none joined within {WORKER_SECONDS:g} s): "
                f"start some with `dask worker {address} --nthreads 1`"
            ) from None
        future = client.submit(_probe, pure=False)
        try:
            _in_thread(lambda: future.result(timeout=TASK_SECONDS), TASK_SECONDS + 2)
        except TimeoutError:
            raise SchedulerError(
                f"the workers of {address} did not run a first task within {TASK_SECONDS:g} s: "
                "check the workers' logs (are they busy or stuck?)"
            ) from None
        except Exception as exc:  # raised on the worker: it cannot import the study
            raise SchedulerError(
                f"the workers of {address} cannot run the study ({type(exc).__name__}: {' '.join(str(exc).split())}): "
                "install mnist-tui[study] on every worker"
            ) from None
    except BaseException:
        with contextlib.suppress(Exception):
            _in_thread(lambda: client.close(timeout=2), 3)
        raise
    return client
