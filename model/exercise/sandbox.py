"""Run the student's code in a child process, so that a time limit really stops it.

A ``Sandbox`` starts a child with multiprocessing's "spawn" method (a fresh interpreter: no
threads, locks or open terminal state inherited from the app), which compiles the ``Source`` and
then serves requests (``model.exercise.worker``). While a request runs, the child reports which
student function it is in and, for training, its progress; the parent waits with a deadline and,
past it, kills the child: an endless loop, a sleep or a blocking read in the student's code all
stop, which no thread could promise. A child that dies (``os._exit``, a crash) is reported as one
line too. The next request after a kill starts a fresh child.

Leaves out what the requests do (``worker``) and what to do with the answers (``check``, ``rule``).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from model.exercise.student import LoadError, NotWritten, Source, StudentError

#: Seconds a fresh child may take to start Python, import numpy and run the student's module.
LOAD_LIMIT = 60.0
SETUP_LIMIT = 300.0  # the child's own start (interpreter, numpy), before the student's import
POLL_SECONDS = 0.05
KILL_WAIT = 2.0


class Timeout(StudentError):
    """Student code ran past its time limit and was stopped."""


class Gone(StudentError):
    """The child running the student's code ended unexpectedly."""


class Cancelled(StudentError):
    """The caller stopped waiting (``cancel`` was set, e.g. the app is quitting): the child was stopped."""

    quiet = True


class Sandbox:
    """A child process holding the student's module; ``request`` runs one operation in it.

    ``output``: a file the child's stdout and stderr go to (the app: prints must not reach the
    terminal it draws on); None keeps them (the command line shows a student's prints).
    Thread-safe for one caller at a time (a lock serialises requests).
    """

    def __init__(self, source: Source, output: str | None = None) -> None:
        self.source = source
        self.output = output
        self.activation: str | None = None
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.RLock()

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The child's process id (None: not started)."""
        return None if self._proc is None else self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def start(self, limit: float = LOAD_LIMIT, cancel: threading.Event | None = None) -> str:
        """Start the child and import the student's file in it; returns its ACTIVATION.
        LoadError (one line) if the file cannot be used or its import does not finish in ``limit``."""
        from model.exercise.worker import serve

        with self._lock:
            self.close()
            ctx = multiprocessing.get_context("spawn")
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(child, self.source, self.output), name="mnist-tui-student")
            proc.daemon = True
            proc.start()
            child.close()
            self._proc, self._conn = proc, parent
            try:
                # Starting Python and numpy is ours, not the student's: on a busy machine it can take
                # longer than their whole limit, so it has its own, and their limit starts after it.
                self._wait(SETUP_LIMIT, "starting a process for the checks", None, cancel)
                activation = self._wait(limit, f"importing {self.source.path}", None, cancel)
            except Timeout as exc:
                raise LoadError(str(exc)) from None
            except Gone as exc:
                raise LoadError(str(exc)) from None
            self.activation = str(activation)
            return self.activation

    def close(self) -> None:
        """Stop the child (at once: it may be stuck in the student's code) and forget it."""
        with self._lock:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(KILL_WAIT)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests ---------------------------------------------------------------------------
    def request(
        self,
        op: str,
        *args: Any,
        limit: float,
        progress: Callable[[Any], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Any:
        """Run ``op(*args)`` in the child (started first if needed) and return its result.

        Raises what the child reports (NotWritten, StudentError, LoadError), Timeout after
        ``limit`` seconds (the child is killed), Gone if it died, Cancelled if ``cancel`` is set.
        ``progress`` gets the child's progress reports while it runs.
        """
        with self._lock:
            self.send(op, *args, cancel=cancel)
            return self.wait(limit, progress, cancel, op)

    def send(self, op: str, *args: Any, cancel: threading.Event | None = None) -> None:
        """Start ``op`` in the child without waiting (pair with ``wait``)."""
        if not self.alive:
            self.start(cancel=cancel)
        assert self._conn is not None
        try:
            self._conn.send((op, args))
        except (OSError, ValueError):
            self.close()
            raise Gone(f"the process running {self.source.path} has ended") from None

    def wait(
        self,
        limit: float,
        progress: Callable[[Any], None] | None = None,
        cancel: threading.Event | None = None,
        op: str = "",
    ) -> Any:
        """The reply to the last ``send``."""
        return self._wait(limit, op, progress, cancel)

    def _wait(
        self, limit: float, doing: str, progress: Callable[[Any], None] | None, cancel: threading.Event | None
    ) -> Any:
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        deadline = time.monotonic() + limit
        while True:
            if cancel is not None and cancel.is_set():
                self.close()
                raise Cancelled(doing)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise Timeout(
                    f"{doing or self.source.path} did not finish within {limit:g} s: stopped it "
                    "(an endless loop, or far too slow?)"
                )
            try:
                ready = conn.poll(min(remaining, POLL_SECONDS))
                message = conn.recv() if ready else None
            except (EOFError, OSError):
                message, ready = None, True
            if message is None:
                if ready or not proc.is_alive():
                    proc.join(KILL_WAIT)
                    code = proc.exitcode
                    self.close()
                    raise Gone(
                        f"{self.source.path} ended the process (exit status {code}) during {doing or 'a request'}"
                    )
                continue
            kind, payload = message
            if kind == "doing":
                doing = str(payload)
            elif kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "ok":
                return payload
            elif kind == "todo":
                raise NotWritten(*payload)
            elif kind == "student":
                raise StudentError(payload)
            elif kind == "load_failed":
                raise LoadError(payload)
            else:  # "bug": an error in the project's own code, reported with its traceback's last line
                raise RuntimeError(payload)
