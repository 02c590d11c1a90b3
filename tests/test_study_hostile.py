"""The study's own files and its scheduler as hostile input.

Store entries and ``--from-json``: a FIFO, a link to /dev/zero, an oversized file, deep nesting,
NaN or Infinity, wrong types or ranges, another run's content under this run's name, bytes that
are not UTF-8. A bad store entry is one line naming the file, set aside and trained again; a bad
``--from-json`` is one line and exit 2. ``--scheduler``: a closed port, a socket that accepts and
never answers, an HTTP server, non-Dask bytes, a scheduler with no workers and one whose workers
never run a task: each one line and exit 2, saying what to check. Fuzzers of store entries, at
the byte and at the JSON level, check that a reader only ever returns a valid run or raises the
one-line ``BadFile``, within bounded memory.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import math
import os
import pickle
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_tiny_mnist
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.config import HyperParams
from model.study import ResultStore, RunConfig, RunResult, run_tasks
from model.study.plan import options_of
from model.study.saved import MAX_ENTRY_BYTES, BadFile, read_run, run_from_dict
from model.study.task import Task
from tui.exitcodes import USAGE

BASE = HyperParams(hidden=8, batch_size=50)


@pytest.fixture(scope="module")
def entry() -> dict[str, Any]:
    """One real store entry, as the store writes it."""
    data = make_tiny_mnist((200, 50, 50))
    task = Task(0, RunConfig("noise-same", options_of({"sigma": 0.3}), lr=0.05), 0, 2, BASE, 2, None, "t")
    (result,) = run_tasks([task], jobs=1, data=data, store=None, backend="serial")
    from model.study.store import finite

    entry: dict[str, Any] = json.loads(json.dumps(finite(result.to_dict())))
    return entry


def planted(tmp_path: Path, entry: dict[str, Any]) -> tuple[ResultStore, list[Task], list[str]]:
    """A store holding one good entry for a task; the warnings it gives go into the list."""
    said: list[str] = []
    store = ResultStore(tmp_path, warn=said.append)
    task = Task(0, RunConfig("noise-same", options_of({"sigma": 0.3}), lr=0.05), 0, 2, BASE, 2, None, "t")
    store.folder.mkdir(parents=True)
    (store.folder / f"{task.run_id}.json").write_text(json.dumps(entry))
    return store, [task], said


def _replace_with(path: Path, make: Callable[[Path], object]) -> None:
    """Remove the file at ``path`` and make something else there."""
    path.unlink()
    make(path)


def _bad_entries(entry: dict[str, Any]) -> dict[str, Any]:
    """Name -> how to make the entry's file bad (bytes, or a callable on the path)."""
    deep = "[" * 200_000 + "]" * 200_000
    return {
        "fifo": lambda p: _replace_with(p, os.mkfifo),
        "dev-zero": lambda p: _replace_with(p, lambda q: q.symlink_to("/dev/zero")),
        "folder": lambda p: _replace_with(p, Path.mkdir),
        "oversized": b" " * (MAX_ENTRY_BYTES + 1),
        "deep": deep.encode(),
        "torn": json.dumps(entry)[:100].encode(),
        "nan": json.dumps({**entry, "valid_error": float("nan")}).encode(),
        "infinity": json.dumps({**entry, "steps": float("inf")}).encode(),
        "wrong-type": json.dumps({**entry, "valid_error": "0.1"}).encode(),
        "wrong-range": json.dumps({**entry, "test_error": 7.0}).encode(),
        "huge-int": json.dumps({**entry, "epochs": 10**30}).encode(),
        "not-an-object": b"[1, 2, 3]",
        "unknown-diagnostic": json.dumps({**entry, "diagnostics": {"x": []}}).encode(),
        "short-curve": json.dumps({**entry, "valid_curve": entry["valid_curve"][:1]}).encode(),
        "not-utf8": b"\xff\xfe" + json.dumps(entry).encode(),
        "another-run": json.dumps({**entry, "seed": 7}).encode(),
    }


@pytest.mark.parametrize("case", list(_bad_entries({"valid_curve": [0.1]})))
def test_a_bad_store_entry_is_one_line_naming_it_and_its_run_is_trained_again(
    case: str, entry: dict[str, Any], tmp_path: Path
) -> None:
    store, tasks, said = planted(tmp_path, entry)
    path = store.folder / f"{tasks[0].run_id}.json"
    bad = _bad_entries(entry)[case]
    if callable(bad):
        bad(path)
    else:
        path.write_bytes(bad)
    found = store.load()
    if case == "another-run":  # a valid run, but not this one: caught when the task looks for it
        assert tasks[0].run_id in found and not said
    else:
        assert tasks[0].run_id not in found
    (result,) = run_tasks(
        tasks, jobs=1, data=make_tiny_mnist((200, 50, 50)), store=store, backend="serial", stored=found
    )
    assert result.key == tasks[0].config.key and result.seed == 0  # trained again, not fatal
    assert len(said) == 1 and "\n" not in said[0] and str(path) in said[0] and "trained again" in said[0]
    assert read_run(path).seed == 0  # the new result took the entry's place
    store.load()  # a second rerun finds a good entry: no new warning
    assert len(said) == 1


def test_files_that_are_not_store_entries_are_left_alone(tmp_path: Path, entry: dict[str, Any]) -> None:
    store, _, said = planted(tmp_path, entry)
    (store.folder / "notes.txt").write_text("mine")
    (store.folder / "x.json").write_text("{")
    assert len(store.load()) == 1 and not said
    assert (store.folder / "x.json").exists()


@pytest.mark.parametrize(
    "case", ["fifo", "dev-zero", "oversized", "deep", "nan", "wrong-type", "not-an-object", "grid"]
)
def test_a_bad_from_json_is_one_line_and_exit_2(
    case: str, tmp_path: Path, entry: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from model.study.saved import MAX_RESULTS_BYTES
    from tui.cli import main

    path = tmp_path / "results.json"
    path.write_text("{}")
    if case == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif case == "dev-zero":
        path.unlink()
        path.symlink_to("/dev/zero")
    elif case == "oversized":
        with path.open("wb") as f:
            f.truncate(MAX_RESULTS_BYTES + 1)  # sparse: nothing is written
    elif case == "deep":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif case == "nan":
        path.write_text('{"meta": NaN, "runs": []}')
    elif case == "wrong-type":
        path.write_text(json.dumps({"meta": {}, "runs": [{**entry, "key": 5}]}))
    elif case == "not-an-object":
        path.write_text("[]")
    else:
        path.write_text(json.dumps({"meta": {"grid": {"name": "x", "ladder": "fast"}}, "runs": []}))
    code = main(["experiments", "--from-json", str(path), "--out", str(tmp_path / "out"), "--no-figures"])
    err = capsys.readouterr().err
    assert code == USAGE
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"mnist-tui: cannot use {path}")
    assert not (tmp_path / "out" / "results.md").exists()


# ---- fuzzers ---------------------------------------------------------------------------------
MEMORY_BOUND = 64 << 20  # bytes a reader may allocate for one entry of at most MAX_ENTRY_BYTES


def _read_bounded(path: Path) -> RunResult | None:
    """read_run under tracemalloc: the run, or None for a BadFile; anything else fails the test."""
    tracemalloc.start()
    try:
        try:
            run = read_run(path)
        except BadFile as exc:
            text = str(exc)
            assert "\n" not in text and text.startswith(str(path)), text
            run = None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak:,} bytes"
    return run


def _valid(run: RunResult) -> None:
    """What a run the reader hands back always satisfies."""
    for name in ("valid_error", "test_error", "final_test_error", "test_error_as_trained"):
        v = getattr(run, name)
        assert math.isnan(v) or 0.0 <= v <= 1.0
    assert 1 <= len(run.valid_curve) <= run.epochs and len(run.test_curve) == len(run.valid_curve)
    assert all(len(v) == len(run.diag_steps) for v in run.diagnostics.values())
    run.view(min(run.epochs, max(1, len(run.valid_curve))))
    _ = run.failed


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_byte_level_fuzzing_of_a_store_entry(data: st.DataObject, entry: dict[str, Any], tmp_path: Path) -> None:
    raw = bytearray(json.dumps(entry).encode())
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "duplicate"]))
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del raw[i : i + data.draw(st.integers(1, 64))]
        elif op == "insert":
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=32))
        else:
            raw[i:i] = raw[i : i + data.draw(st.integers(1, 256))] * data.draw(st.integers(1, 50))
    path = tmp_path / "e.json"
    path.write_bytes(bytes(raw))
    run = _read_bounded(path)
    if run is not None:
        _valid(run)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_json_level_fuzzing_of_a_store_entry(data: st.DataObject, entry: dict[str, Any], tmp_path: Path) -> None:
    mutated: dict[str, Any] = json.loads(json.dumps(entry))
    for _ in range(data.draw(st.integers(1, 4))):
        key = data.draw(st.sampled_from([*sorted(mutated), "extra"]))
        if data.draw(st.booleans()) and key in mutated:
            del mutated[key]
        else:
            mutated[key] = data.draw(JSON)
    path = tmp_path / "e.json"
    path.write_text(json.dumps(mutated))
    run = _read_bounded(path)
    if run is not None:
        _valid(run)
    with contextlib.suppress(ValueError):  # the dict-level checker gives only ValueError
        run_from_dict(mutated)


# ---- the scheduler ------------------------------------------------------------------------------
@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    d, path = make_tiny_mnist((200, 50, 50)), tmp_path / "tiny.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((d.train_x, d.train_y), (d.valid_x, d.valid_y), (d.test_x, d.test_y)), f)
    return path


def _study(address: str, data: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from tui.cli import main

    argv = ["experiments", "--grid", "quick", "--data", str(data), "--jobs", "2", "--out", str(out)]
    code = main([*argv, "--quiet", "--no-figures", "--scheduler", address])
    return code, capsys.readouterr().err


class _QuietHTTP(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the test server's log is not the command's
        pass


class _QuietHTTPServer(http.server.HTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """The command hangs up once it has read enough: the reset, with its traceback printed into the
        stderr the test reads, is the test server's business, not the command's."""


@contextlib.contextmanager
def _server(kind: str) -> Iterator[str]:
    """A local peer that is not a usable Dask scheduler; yields its address."""
    if kind == "http":
        srv = _QuietHTTPServer(("127.0.0.1", 0), _QuietHTTP)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            yield f"tcp://127.0.0.1:{srv.server_address[1]}"
        finally:
            srv.shutdown()
            srv.server_close()
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = sock.accept()
                held.append(conn)  # silent: keep it open, say nothing
                if kind == "garbage":
                    conn.sendall(np.random.default_rng(0).bytes(4096))

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
        for c in held:
            c.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("silent", "accepted the connection but sent nothing"),
        ("http", "answers HTTP"),
        ("garbage", "does not speak the Dask protocol"),
    ],
)
def test_a_peer_that_is_not_a_scheduler_is_one_line_and_exit_2(
    kind: str, says: str, tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _server(kind) as address:
        code, err = _study(address, tiny_file, tmp_path / "out", capsys)
    assert code == USAGE and len(err.strip().splitlines()) == 1 and says in err and address in err


@pytest.mark.slow
def test_a_closed_port_or_a_malformed_address_is_one_line_and_exit_2(
    tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    for address, says in ((f"tcp://127.0.0.1:{port}", "cannot connect"), ("udp://x:1", "expected tcp://HOST:PORT")):
        code, err = _study(address, tiny_file, tmp_path / "out", capsys)
        assert code == USAGE and len(err.strip().splitlines()) == 1 and says in err


@pytest.mark.slow
def test_a_scheduler_with_no_workers_is_one_line_and_exit_2(
    tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from distributed import LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]  # dask.distributed has no type hints
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as cluster:  # fmt: skip
        code, err = _study(cluster.scheduler_address, tiny_file, tmp_path / "out", capsys)
    assert code == USAGE and len(err.strip().splitlines()) == 1 and "has no workers" in err and "dask worker" in err


@pytest.mark.slow
def test_workers_that_never_run_a_first_task_are_one_line_and_exit_2(
    tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    from distributed import Client, LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]  # dask.distributed has no type hints
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as cluster, Client(cluster) as busy:  # type: ignore[no-untyped-call]  # fmt: skip
        blocker = busy.submit(time.sleep, 120, pure=False)  # the only worker thread is taken
        code, err = _study(cluster.scheduler_address, tiny_file, tmp_path / "out", capsys)
        busy.cancel(blocker)
    assert code == USAGE and len(err.strip().splitlines()) == 1 and "did not run a first task" in err
