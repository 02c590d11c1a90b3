"""The child process's side of ``sandbox``: load the student's file, then serve requests.

Requests are ``(op, args)`` tuples; every reply is ``(kind, payload)``: "ok" with the result,
"todo" (a function not written yet), "student" (their code failed: one line), "load_failed",
"bug" (ours), and while an operation runs "doing" (the student function it is in) and
"progress". Operations:

    step N [data]        a step of the check (``steps``, ``training``, ``speed``): a StepReport
    probe D H K B        grads_batch once on a float32 net of those sizes: None, or the failure
    attach LAYOUT        map the shared arrays of a training session (``shared``)
    grads B              grads_batch on the first B rows of the shared batch, into the shared gradient
    pane PARAMS X Y      the gradient-check pane's reports: (toy reports, live report, note)

Ctrl+C reaches the whole terminal's process group; the child ignores it and the parent, which
handles it, stops the child. A child whose parent dies without stopping it ends by itself.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from model.exercise.shared import Layout, SharedArrays
from model.exercise.student import LoadError, NotWritten, Source, StudentCode, StudentError, load_student
from model.mlp import PARAM_NAMES


class Session:
    """What the child keeps between requests: the student's code, the pipe, the shared arrays."""

    def __init__(self, conn: Connection, code: StudentCode) -> None:
        self.conn = conn
        self.code = code
        self.shared: SharedArrays | None = None
        self._last_called = ""
        code.on_call = self.called

    def called(self, name: str) -> None:
        if name != self._last_called:
            self._last_called = name
            self.conn.send(("doing", name))

    def new_request(self, op: str) -> None:
        if op != "grads":  # a training step calls the same function every time: say it once
            self._last_called = ""

    def progress(self, payload: Any) -> None:
        self.conn.send(("progress", payload))


def _step(session: Session, number: int, data_path: str | None = None) -> Any:
    from model.exercise import speed, steps, training

    code = session.code
    if number == 5:
        return training.step5(code, data_path, session.progress)
    run: Callable[..., Any] = {1: steps.step1, 2: steps.step2, 3: steps.step3, 4: steps.step4, 6: speed.step6}[number]
    return run(code)


def _probe(session: Session, D: int, H: int, K: int, B: int) -> None:
    from model.exercise.reference import image_like
    from model.exercise.steps import frozen, readonly
    from model.exercise.training import checked_grads

    problem = image_like(session.code.activation, B, seed=11, shape=(D, H, K))
    params = {n: v.astype(np.float32) for n, v in problem.params.items()}
    value = session.code.call("grads_batch", readonly(params), frozen(problem.X.astype(np.float32)), frozen(problem.y))
    checked_grads(value, params, B, {n: np.empty_like(v) for n, v in params.items()})


def _attach(session: Session, layout: Layout) -> None:
    if session.shared is not None:
        session.shared.close()
    session.shared = SharedArrays.attach(layout)


def _grads(session: Session, B: int) -> None:
    from model.exercise.steps import frozen, readonly
    from model.exercise.training import checked_grads

    assert session.shared is not None, "attach first"
    a = session.shared.arrays
    params = {n: a[n] for n in PARAM_NAMES}
    out = {n: a["d" + n] for n in PARAM_NAMES}
    value = session.code.call("grads_batch", readonly(params), frozen(a["X"][:B]), frozen(a["y"][:B]))
    checked_grads(value, params, B, out)


def _pane(session: Session, params: dict[str, Any], X: Any, y: Any) -> Any:
    from model.exercise.pane import live_report, toy_reports

    toy, note = toy_reports(session.code)
    try:
        live = live_report(session.code, params, X, y)
    except NotWritten as exc:
        live, note = None, "; ".join(filter(None, [note, str(exc)]))
    except StudentError as exc:
        live, note = None, "; ".join(filter(None, [note, str(exc)]))
    return toy, live, note


OPS: dict[str, Callable[..., Any]] = {"step": _step, "probe": _probe, "attach": _attach, "grads": _grads, "pane": _pane}


def _redirect(output: str) -> None:
    """Send this process's stdout and stderr (the student's prints) to ``output``."""
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)


def _exit_with_parent(every: float = 1.0) -> None:
    """End this process when its parent is gone (killed before it could stop us): without this a child
    stuck in the student's endless loop would spin on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="mnist-tui-student-parent-watch", daemon=True).start()


def serve(conn: Connection, source: Source, output: str | None) -> None:
    """The child's main function (started by ``Sandbox.start``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    if output:
        _redirect(output)
    conn.send(("ok", None))  # this process is up: the time limit for the student's import starts now
    try:
        code = load_student(source, allow_siblings=True)
    except LoadError as exc:
        conn.send(("load_failed", str(exc)))
        return
    session = Session(conn, code)
    conn.send(("ok", code.activation))
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            return
        session.new_request(op)
        try:
            result = OPS[op](session, *args)
        except NotWritten as exc:
            reply: tuple[str, Any] = ("todo", (exc.function, str(exc)))
        except StudentError as exc:
            reply = ("student", str(exc))
        except Exception as exc:  # a bug of ours: its last frame, for the report
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
            reply = ("bug", f"{type(exc).__name__}: {exc} (at {where}, running {op})")
        else:
            reply = ("ok", result)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return
