"""Fuzzing the run-record readers: damaged bytes and damaged JSON in run.json and metrics.jsonl.

For every input, every reader (``read_run`` and the figures, the app's list entries and curves,
``runs`` list/show/export as CSV, JSON and TensorBoard events, ``compare``, the replay itself)
ends in a foreseen way: a result, or one ``RunsError`` line (exit 2 from the command) with nothing
a terminal would obey; reading costs memory bounded by the input, and the other run in the
folder is always listed. Time is bounded by the suite's per-test timeout.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from record_samples import GOOD_ID, OTHER_ID, dumps, lines, meta, write_record
from test_fuzz import damaged as damaged_bytes

from model.data import MNIST
from model.run.replay import replay
from model.runs import RunsError, read_run, summarize
from model.runs.bounds import check_replayable
from tui.cli import main
from tui.cli.runs import csv_rows
from tui.exitcodes import OK, USAGE
from tui.view.runs import entry_of, load_entries

EXAMPLES = int(os.environ.get("MNIST_TUI_FUZZ_EXAMPLES", "150"))  # a longer campaign: set it higher
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Memory a reader may use beyond the input's own size (the inputs here are a few KiB).
SMALL_PEAK = 8 << 20
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
#: Replays train: fewer examples for the same campaign length.
REPLAY_FUZZ = settings(FUZZ, max_examples=max(10, EXAMPLES // 3))

try:
    import tensorboardX  # noqa: F401

    TENSORBOARD = True
except ImportError:
    TENSORBOARD = False


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def read_everything(runs: Path, tb: Path) -> None:
    """Every reader on the record ``GOOD_ID`` (beside a good ``OTHER_ID``): the property."""
    folder = runs / GOOD_ID
    tracemalloc.start()
    try:
        rec = read_run(folder)
    except RunsError as exc:
        rec = None
        message = str(exc)
        assert "\n" not in message and not CONTROL.search(message), message
        assert "run.json" in message or "metrics.jsonl" in message, message
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert peak < SMALL_PEAK + 20 * size, peak
    if rec is not None:
        s = summarize(rec)
        assert all(x is None or math.isfinite(x) for x in (s.best_valid, s.final_valid, s.final_loss, s.duration))
        entry = entry_of(rec)
        assert all(not CONTROL.search(c) for c in entry.cells)
        csv_rows(rec)
        with contextlib.suppress(RunsError):
            check_replayable(rec, 2000)
        assert not CONTROL.search(rec.skipped_note())
    entries = list(load_entries(runs))
    assert {e.run_id for e in entries} == {GOOD_ID, OTHER_ID}
    assert all(not CONTROL.search(e.note) for e in entries)
    commands: list[list[str]] = [
        ["runs"],
        ["runs", "show", GOOD_ID],
        ["runs", "export", GOOD_ID],
        ["runs", "export", "--json", GOOD_ID],
        ["compare", GOOD_ID, OTHER_ID],
    ]
    if TENSORBOARD:
        shutil.rmtree(tb, ignore_errors=True)
        commands.append(["runs", "export", GOOD_ID, "--tensorboard", str(tb)])
    for command in commands:
        code, out, err = _cli(*command, "--runs", str(runs))
        assert code in (OK, USAGE), (command, err)
        assert not CONTROL.search(out + err), (command, out + err)
        assert "unexpected" not in err and "Traceback" not in err, (command, err)
        if code == USAGE:
            assert len(err.strip().splitlines()) == 1 and out == "", (command, err)
        if command == ["runs"]:
            assert code == OK and OTHER_ID in out
        if command == ["runs", "export", "--json", GOOD_ID] and code == OK:
            json.loads(out)  # valid JSON (no NaN), whatever the record held
    if TENSORBOARD and tb.exists():
        assert [p.name for p in tb.iterdir()] == [GOOD_ID]  # nowhere but DIR/<folder name>


# ---- byte level ------------------------------------------------------------------------------------

#: Bytes that mean something to JSON or to a terminal, inserted more often than random ones.
TOKENS = [b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b"\n", b"NaN", b"Infinity", b"-Infinity", b"1e999",
          b"9" * 30, b"\x1b[2J", b"\xff", b"\\ud800", b"null", b"true", b"-1", b"[" * 3000]  # fmt: skip


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with JSON tokens inserted or a piece repeated, then ``test_fuzz.damaged``'s changes."""

    @st.composite
    def with_tokens(draw: st.DrawFn) -> bytes:
        raw = bytearray(data)
        for _ in range(draw(st.integers(0, 3))):
            where = draw(st.integers(0, len(raw)))
            if draw(st.booleans()):
                raw[where:where] = draw(st.sampled_from(TOKENS))
            else:
                end = draw(st.integers(where, min(len(raw), where + 200)))
                raw[where:where] = raw[where:end] * draw(st.integers(1, 20))
        return bytes(raw)

    return with_tokens().flatmap(damaged_bytes)


GOOD_META = (json.dumps(meta(GOOD_ID), indent=2) + "\n").encode()
GOOD_LINES = "".join(dumps(r) + "\n" for r in lines(40)).encode()


@pytest.fixture
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("fuzz")
    return base / "runs", base / "tb"


@pytest.mark.slow  # many examples, each through every reader and command: about 20 s of CPU
@FUZZ
@given(which=st.sampled_from(["run.json", "metrics.jsonl", "both"]), data=st.data())
def test_damaged_bytes_give_a_result_or_one_line(folders: tuple[Path, Path], which: str, data: st.DataObject) -> None:
    runs, tb = folders
    shutil.rmtree(runs, ignore_errors=True)
    write_record(runs, OTHER_ID)
    folder = write_record(runs, GOOD_ID)
    if which in ("run.json", "both"):
        (folder / "run.json").write_bytes(data.draw(damaged(GOOD_META)))
    if which in ("metrics.jsonl", "both"):
        (folder / "metrics.jsonl").write_bytes(data.draw(damaged(GOOD_LINES)))
    read_everything(runs, tb)


# ---- JSON level ------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, 2**63, 10**12, 60_000, 60_001, 8192, 8193, 50_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 1e23, 1e308, -0.0, 5e-324, 3.5e38, 180.0, 180.5]),
    st.text(max_size=20),
    st.sampled_from(["\x1b[2J", "../../x", "/etc/passwd", "\ud800", "[/x]", "exact", "relu", "lr", "finished"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def damage_object(obj: dict[str, Any], draw: Callable[[st.SearchStrategy[Any]], Any], depth: int = 0) -> dict[str, Any]:
    """``obj`` with one field replaced by any JSON value, removed, or (in a nested object) damaged."""
    out = dict(obj)
    keys = sorted(out)
    op = draw(st.sampled_from(["replace", "remove", "add", "nested"]))
    key = draw(st.sampled_from(keys)) if keys else "x"
    if op == "replace" or not keys:
        out[key] = draw(VALUES)
    elif op == "remove":
        del out[key]
    elif op == "add":
        out[draw(st.text(max_size=10))] = draw(VALUES)
    elif isinstance(out[key], dict) and depth < 2:
        out[key] = damage_object(out[key], draw, depth + 1)
    else:
        out[key] = draw(VALUES)
    return out


def write_damaged_fields(runs: Path, data: st.DataObject) -> None:
    """A good ``OTHER_ID`` and a ``GOOD_ID`` whose run.json and lines had fields damaged."""
    shutil.rmtree(runs, ignore_errors=True)
    write_record(runs, OTHER_ID)
    rows: list[Any] = lines(40)
    the_meta: Any = meta(GOOD_ID)
    for _ in range(data.draw(st.integers(1, 4))):
        if data.draw(st.booleans()):
            the_meta = damage_object(the_meta, data.draw) if isinstance(the_meta, dict) else data.draw(VALUES)
        else:
            i = data.draw(st.integers(0, len(rows) - 1))
            whole = not isinstance(rows[i], dict) or not data.draw(st.integers(0, 9))
            rows[i] = data.draw(VALUES) if whole else damage_object(rows[i], data.draw)
    write_record(
        runs,
        GOOD_ID,
        run_json=json.dumps(the_meta, ensure_ascii=data.draw(st.booleans())),
        metrics="".join(json.dumps(r) + "\n" for r in rows),
    )


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_damaged_fields_give_a_result_or_one_line(folders: tuple[Path, Path], data: st.DataObject) -> None:
    runs, tb = folders
    write_damaged_fields(runs, data)
    read_everything(runs, tb)


@pytest.mark.slow  # each example replays up to some 40 steps on the tiny set
@REPLAY_FUZZ
@given(data=st.data())
def test_a_damaged_record_replays_or_is_one_line(
    folders: tuple[Path, Path], tiny_mnist: MNIST, data: st.DataObject
) -> None:
    """Replay (the reader that acts on a record: it opens the files it names, applies its settings
    and steps as far as it says) ends in a result or one RunsError line, within the steps the
    record shows were trained."""
    runs, _ = folders
    write_damaged_fields(runs, data)
    try:
        rec = read_run(runs / GOOD_ID)
        result = replay(rec, tiny_mnist)
    except RunsError as exc:
        message = str(exc)
        assert message and "\n" not in message and not CONTROL.search(message), message
        event("refused")
        return
    event("replayed")
    assert re.fullmatch(r"[0-9a-f]{64}", result.replayed_hash)
    assert all("\n" not in c and not CONTROL.search(c) for c in result.caveats), result.caveats
