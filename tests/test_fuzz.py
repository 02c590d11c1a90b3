"""Property-based tests: arbitrary user text and arbitrary file bytes.

* ``model.config.parse_value`` (the single gate for the app's fields and the CLI flags): every
  input is either accepted as a valid value that the trainer takes, or refused with one
  ValueError line naming the field.
* ``mnist-tui`` with one arbitrary flag value: exit 0 with exactly that parsed value reaching the
  command, or exit 2 with one stderr line; never a traceback.
* The MNIST readers (IDX, npz, pickle parsers and ``load_mnist`` on whole files): damaged or
  random bytes give ``Invalid``/``DataError`` only, never another exception.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tui.cli as cli
from model.config import SPECS, HyperParams, check_value, parse_value
from model.data import DataError, load_mnist
from model.data.formats import parse_idx, parse_npz, parse_pickle
from model.data.validate import Invalid
from model.run import Change, Run
from model.trainer import Trainer
from tui.cli.common import hparams_from_args
from tui.exitcodes import USAGE

FIELDS = sorted(SPECS)
EXAMPLES_PER_FIELD = 300
CLI_EXAMPLES_PER_FIELD = 100


def number_text() -> st.SearchStrategy[str]:
    """Text that looks like a number, often near or past a field's bounds."""
    floats = st.floats(allow_nan=True, allow_infinity=True).map(repr)
    ints = st.integers(-(2**70), 2**70).map(str)
    edge = st.sampled_from(
        ["0", "-0", "1", "1.0", "1e3", "1e-320", "4294967295", "4294967296", "50000", "50001", "8192", "8193",
         "1_000", "0x10", "٣", "1e", ".", "-", "+1", " 7 ", "1,5", "nan", "-inf", "Infinity", "1e999"]
    )  # fmt: skip
    return st.one_of(floats, ints, edge)


def in_range_text(name: str) -> st.SearchStrategy[str]:
    """Numbers inside (or on the edges of) the field's bounds, as a user might type them."""
    spec = SPECS[name]
    lo, hi = spec.low or 0.0, spec.high if spec.high is not None else 1e6
    if spec.kind is int:
        return st.integers(int(lo), int(hi)).map(str)
    return st.floats(lo, hi).map(lambda x: st.sampled_from([repr(x), f"{x:g}", f"{x:.3e}"])).flatmap(lambda s: s)


def field_text(name: str) -> st.SearchStrategy[str]:
    choices = SPECS[name].choices
    pieces = [st.text(max_size=12), number_text()]
    if choices:
        pieces.append(st.sampled_from(choices).flatmap(lambda c: st.sampled_from([c, c.upper(), f" {c}\t", c[:-1]])))
    else:
        pieces.append(in_range_text(name))
    return st.one_of(*pieces)


@pytest.fixture(scope="module")
def run() -> Run:
    rng = np.random.default_rng(0)
    return Run(Trainer((rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)), HyperParams(hidden=4)))


@pytest.mark.parametrize("name", FIELDS)
def test_parse_value_accepts_only_valid_values(name: str, run: Run) -> None:
    counts = {"accepted": 0, "refused": 0}

    @settings(max_examples=EXAMPLES_PER_FIELD, deadline=None, database=None)
    @given(text=field_text(name))
    def prop(text: str) -> None:
        try:
            value = parse_value(name, text)
        except ValueError as exc:
            message = str(exc)
            assert "\n" not in message and name in message, message
            counts["refused"] += 1
            return
        counts["accepted"] += 1
        check_value(name, value)  # valid by the same rule the trainer uses
        assert type(value) is SPECS[name].kind
        if isinstance(value, float):
            assert math.isfinite(value)
        hp = run.desired
        try:
            run.apply(Change({name: value}))  # the command the app's fields and a replay give
            assert getattr(run.desired, name) == value
            m = run.step()  # the trainer really runs with it (architecture fields wait for reset)
            assert all(np.isfinite(v).all() for v in run.trainer.model.params.values()), m
        finally:
            run.apply(Change(hp.to_dict()))

    prop()
    assert counts["accepted"] > 0 and counts["refused"] > 0, counts  # both sides were exercised


FLAG_OF = {name: "--" + name.replace("_", "-") for name in SPECS}


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("command", ["train", "app"])
def test_cli_flag_values_are_parsed_or_refused_in_one_line(
    name: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[HyperParams] = []

    def capture(args: Any) -> int:
        received.append(hparams_from_args(args))
        return 0

    monkeypatch.setattr(cli.train if command == "train" else cli.app, "run", capture)
    monkeypatch.delenv("MNIST_TUI_THREADS", raising=False)

    @settings(max_examples=CLI_EXAMPLES_PER_FIELD, deadline=None, database=None)
    @given(text=field_text(name))
    @example(text="--")  # argparse drops it from "--flag=--" and stores [] without calling type=
    def prop(text: str) -> None:
        received.clear()
        argv = [f"{FLAG_OF[name]}={text}"]
        if command == "train":
            argv.insert(0, "train")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code: int | str | None
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse's usage error
                code = exc.code
        try:
            expected = parse_value(name, text)
        except ValueError:
            assert code == USAGE and not received
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("mnist-tui") and "Traceback" not in lines[0], lines
            return
        assert code == 0, err.getvalue()
        (hp,) = received
        assert getattr(hp, name) == expected
        HyperParams().validated(**hp.to_dict())

    prop()


# ---- the MNIST readers ----------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    tx = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    ty = rng.integers(0, 10, 12).astype(np.uint8)
    sx = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    sy = rng.integers(0, 10, 3).astype(np.uint8)
    buf = io.BytesIO()
    np.savez(buf, x_train=tx, y_train=ty, x_test=sx, y_test=sy)
    flat = [(np.float32(x.reshape(len(x), 784)) / 256, y.astype(np.int64)) for x, y in ((tx, ty), (tx, ty), (sx, sy))]
    return {
        "npz": buf.getvalue(),
        "pickle": pickle.dumps(tuple(flat), protocol=2),
        "train-images-idx3-ubyte": idx_bytes(tx),
        "train-labels-idx1-ubyte": idx_bytes(ty),
        "t10k-images-idx3-ubyte": idx_bytes(sx),
        "t10k-labels-idx1-ubyte": idx_bytes(sy),
    }


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with a few bytes changed, inserted or removed, or cut short."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        raw = bytearray(data)
        for _ in range(draw(st.integers(1, 5))):
            where = draw(st.integers(0, max(len(raw) - 1, 0)))
            op = draw(st.sampled_from(["set", "flip", "insert", "delete"]))
            if op == "set" and raw:
                raw[where] = draw(st.integers(0, 255))
            elif op == "flip" and raw:
                raw[where] ^= 1 << draw(st.integers(0, 7))
            elif op == "insert":
                raw[where:where] = draw(st.binary(min_size=1, max_size=8))
            elif raw:
                del raw[where]
        if draw(st.booleans()):
            raw = raw[: draw(st.integers(0, len(raw)))]
        return bytes(raw)

    return build()


@st.composite
def idx_like(draw: st.DrawFn) -> bytes:
    """A plausible IDX header (any type code, 0-5 dims, any sizes) followed by some bytes."""
    ndim = draw(st.integers(0, 5))
    code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    dims = draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 40), min_size=ndim, max_size=ndim))
    payload = draw(st.binary(max_size=3000))
    return struct.pack(">BBBB", 0, 0, code, ndim) + struct.pack(f">{ndim}I", *dims) + payload


SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(data=st.one_of(st.binary(max_size=64), idx_like()))
@example(data=b"\x00\x00\x08\x04" + struct.pack(">4I", 0, 4, 0x44000000, 0x78787879))  # found by this test
def test_fuzz_idx_parser(data: bytes) -> None:
    try:
        array = parse_idx(data)
    except Invalid as exc:
        assert "\n" not in str(exc)
        return
    assert array.dtype == np.uint8 and array.size == len(data) - 4 - 4 * data[3]


@SETTINGS
@given(choice=st.sampled_from(["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]), data=st.data())
def test_fuzz_idx_parser_damaged(samples: dict[str, bytes], choice: str, data: st.DataObject) -> None:
    raw = data.draw(damaged(samples[choice]))
    with contextlib.suppress(Invalid):
        parse_idx(raw)


def test_npz_with_a_broken_array_header_is_invalid(samples: dict[str, bytes]) -> None:
    """Found by the fuzzer: numpy's header parser raised tokenize.TokenError, not ValueError."""
    raw = samples["npz"]
    i = raw.index(b"(12, 28, 28), }")
    with pytest.raises(Invalid, match=r"damaged \.npy header"):
        parse_npz(raw[:i] + b"(12, 28, 28), (" + raw[i + 15 :])


@SETTINGS
@given(data=st.data())
def test_fuzz_npz_parser(samples: dict[str, bytes], data: st.DataObject) -> None:
    raw = data.draw(st.one_of(damaged(samples["npz"]), st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)))
    with contextlib.suppress(Invalid):
        parse_npz(raw)


@SETTINGS
@given(data=st.data())
def test_fuzz_pickle_parser(samples: dict[str, bytes], data: st.DataObject) -> None:
    raw = data.draw(st.one_of(damaged(samples["pickle"]), st.binary(max_size=200).map(lambda b: b"\x80\x02" + b)))
    with contextlib.suppress(Invalid, DataError):
        parse_pickle(raw, "fuzz.pkl")


@pytest.fixture
def cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path_factory.mktemp("fuzz-cache")))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)


def assert_only_data_error(path: Path) -> None:
    """``load_mnist(path)`` loads or raises one foreseen DataError line (not the catch-all)."""
    try:
        load_mnist(path)
    except DataError as exc:
        message = str(exc)
        assert "\n" not in message and "unexpected error" not in message, message


@pytest.mark.slow  # many hypothesis examples: about 2 s of CPU
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["npz", "pickle", "pickle.gz", "idx", "idx.gz"]), data=st.data())
def test_fuzz_load_mnist_files(
    samples: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory, cache: None, kind: str, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("f")
    if kind.startswith("idx"):
        victim = data.draw(st.sampled_from([k for k in samples if "ubyte" in k]))
        for name, content in samples.items():
            if "ubyte" in name:
                content = data.draw(damaged(content)) if name == victim else content
                if kind.endswith(".gz"):
                    name, content = name + ".gz", gzip.compress(content, mtime=0)
                (folder / name).write_bytes(content)
        target = folder
    else:
        content = samples[kind.split(".")[0]]
        if kind.endswith(".gz"):
            content = gzip.compress(content, mtime=0)
        target = folder / f"mnist.{kind}"
        target.write_bytes(data.draw(damaged(content)))
    assert_only_data_error(target)
