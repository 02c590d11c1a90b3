"""A program in a pseudo-terminal: keys in, screen out, every byte of output timestamped.

``AppTerminal`` starts ``argv`` in a pty of a fixed size. A reader thread only timestamps the
raw output and keeps every chunk; pyte (a terminal emulator in Python) parses it on demand, so
"the screen shows X" is checked on the same cells a terminal would show, and the emulator's own
(slow, pure-Python) parsing neither delays the timestamps nor holds the program's output back.
``mnist-tui bench`` times keys with it (``replay``); the tests drive the real app with it.

The reader waits in ``select`` with a short timeout and never blocks in ``read``: on Linux,
closing a pty master that another thread is blocked reading does not release it, so the child
would get no SIGHUP. ``hang_up`` stops the reader first, then closes the master.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import threading
import time
from collections.abc import Callable
from typing import Any

POLL_SECONDS = 0.05  # how long the reader waits in select before checking whether to stop


class AppTerminal:
    """``argv`` in a ``cols`` x ``rows`` pseudo-terminal (started in ``cwd``); ``text()`` is what the screen shows."""

    def __init__(
        self, argv: list[str], env: dict[str, str], cols: int = 120, rows: int = 40, cwd: str | None = None
    ) -> None:
        import pyte

        # LINES and COLUMNS would override the terminal's own size (pytest-xdist sets 24 x 80)
        env = {k: v for k, v in env.items() if k not in ("LINES", "COLUMNS")}

        self.size = (cols, rows)
        self._screen = pyte.Screen(cols, rows)
        self._stream = pyte.Stream(self._screen)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._arrived = threading.Condition()
        self.chunks: list[tuple[float, bytes]] = []  # (arrival time, bytes) of all output
        self._parsed = 0  # chunks fed to the live screen so far
        self._closed = False  # the child closed its side (it exited)
        self._stop = threading.Event()
        self._status: int | None = None  # the exit status, once waited for
        self.pid, self._fd = pty.fork()
        if self.pid == 0:  # child: the program, with the pty as its controlling terminal
            try:
                # The size is set here, before exec: set from the parent, it could come after the
                # program read it (and before it listened for SIGWINCH), leaving it at 80x24.
                fcntl.ioctl(pty.STDIN_FILENO, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                if cwd is not None:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)  # exec failed: never run the parent's code in the child
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], POLL_SECONDS)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError:  # EIO: the child closed the pty
                data = b""
            now = time.perf_counter()
            with self._arrived:
                if data:
                    self.chunks.append((now, data))
                else:
                    self._closed = True
                self._arrived.notify_all()
            if not data:
                return

    def text(self) -> str:
        """The screen after all output so far."""
        self._parse(lambda screen: False)
        return _display(self._screen)

    def _parse(self, predicate: Callable[[str], bool]) -> float | None:
        """Feed the live screen every chunk it has not seen, then check ``predicate`` once: the
        arrival time of the last chunk if the screen satisfies it, else None. (Checking after
        each chunk let a loaded machine's parsing fall minutes behind a training app's output;
        the states waited for last, and ``replay`` times each chunk.)"""
        with self._arrived:
            pending = self.chunks[self._parsed :]
            self._parsed = len(self.chunks)
        if not pending:
            return None
        self._stream.feed(self._decoder.decode(b"".join(data for _, data in pending)))
        return pending[-1][0] if predicate(_display(self._screen)) else None

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> float | None:
        """Arrival time of the output after which the screen satisfies ``predicate`` (None on
        timeout or exit). Checks output that arrives from now on."""
        deadline = time.perf_counter() + timeout
        while True:
            arrived = self._parse(predicate)
            if arrived is not None:
                return arrived
            with self._arrived:
                left = deadline - time.perf_counter()
                if self._closed or left <= 0:
                    return None
                if self._parsed >= len(self.chunks):
                    self._arrived.wait(left)

    def write(self, key: str) -> float:
        """Write ``key`` without looking at the screen; returns when (perf_counter)."""
        if self._stop.is_set():
            raise OSError("the terminal was closed")
        t0 = time.perf_counter()
        os.write(self._fd, key.encode())
        return t0

    def replay(self, presses: list[tuple[float, Callable[[str], bool]]]) -> list[float | None]:
        """Latency of each (time written, what the screen then shows) in ``presses`` (in order):
        the arrival of the first chunk after which the screen shows it, minus the time written.
        None if it did not show before the next key was written."""
        import pyte

        screen = pyte.Screen(*self.size)
        stream = pyte.Stream(screen)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        latencies: list[float | None] = []
        with self._arrived:
            chunks = list(self.chunks)
        for arrived, data in chunks:
            stream.feed(decoder.decode(data))
            while len(latencies) < len(presses):
                i = len(latencies)
                written, shows = presses[i]
                if arrived < written:
                    break
                if i + 1 < len(presses) and arrived >= presses[i + 1][0]:
                    latencies.append(None)  # the next key went out first: missed
                    continue
                if not shows(_display(screen)):
                    break
                latencies.append(arrived - written)
        return latencies + [None] * (len(presses) - len(latencies))

    def hang_up(self, timeout: float = 60.0) -> int | None:
        """Close the terminal (as closing its window does: the program gets SIGHUP) and wait for
        the exit status; None if the program was still alive after ``timeout`` (it is killed then)."""
        self._release()
        return self._exit_status(timeout)

    def close(self, timeout: float = 60.0) -> int:
        """Press ctrl+q (the app quits from anywhere, a focused field too), wait for the exit
        status (killed after ``timeout``: -SIGKILL), then release the terminal. Once the
        terminal is closed, only returns the status."""
        with contextlib.suppress(OSError):
            self.write("\x11")
        status = self._exit_status(timeout)
        self._release()
        return -signal.SIGKILL if status is None else status

    def _release(self) -> None:
        """Stop the reader, then close the master (the reader never holds it in a blocking read)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._reader.join()
        os.close(self._fd)

    def _exit_status(self, timeout: float) -> int | None:
        """The program's exit status once it ends; None if it outlived ``timeout`` (it is killed then)."""
        deadline = time.perf_counter() + timeout
        while self._status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._status = os.waitstatus_to_exitcode(status)
            elif time.perf_counter() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                self._status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
                return None
            else:
                time.sleep(0.05)
        return self._status


def _display(screen: Any) -> str:
    return "\n".join(screen.display)
