"""Hostile files: crafted pickles, header bombs, forged caches and checkpoints with extra members.

Every case must end in one DataError/CheckpointError line (exit 2 from the CLI), never a signal,
a large allocation or a cache entry. Memory is measured in a child process (its own peak RSS).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams
from model.data import DataError, classic, load_mnist
from model.data import cache as cache_mod
from model.data.formats import parse_npz
from model.data.safe_pickle import safe_loads
from model.data.validate import Invalid, RawMNIST
from model.trainer import Trainer

TIMEOUT = 120
#: Peak RSS a refused file may cost a child that imports the whole CLI (the real data costs ~715 MiB).
SMALL_PEAK_MIB = 300


# --------------------------------------------------------------------------- pickle opcodes


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _bytes(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def _text(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


MARK, TUPLE, REDUCE, BUILD, NONE, STOP, TRUE, FALSE = b"(", b"t", b"R", b"b", b"N", b".", b"\x88", b"\x89"
RECONSTRUCT = _global("numpy.core.multiarray", "_reconstruct")


def _dtype(code: str) -> bytes:
    return _global("numpy", "dtype") + MARK + _text(code) + FALSE + TRUE + TUPLE + REDUCE


def dtype_state(order: str) -> bytes:
    """BUILD with numpy's state for a plain numeric dtype of the given byte order."""
    return MARK + _int(3) + _text(order) + NONE + NONE + NONE + _int(-1) + _int(-1) + _int(0) + TUPLE + BUILD


def plain_dtype(code: str, order: str = "<") -> bytes:
    """A numeric dtype exactly as numpy pickles it: dtype(code, False, True) and its BUILD state."""
    return _dtype(code) + dtype_state(order)


def object_struct_dtype(flags: int) -> bytes:
    """dtype('V8') whose BUILD state claims an object field 'a' with the given flags."""
    fields = b"}" + _text("a") + MARK + _dtype("O8") + _int(0) + TUPLE + b"s"
    state = MARK + _int(3) + _text("|") + NONE + MARK + _text("a") + TUPLE + fields
    return _dtype("V8") + state + _int(8) + _int(1) + _int(flags) + TUPLE + BUILD


def reconstructed(dtype: bytes, shape: tuple[int, ...], raw: bytes) -> bytes:
    """numpy's own protocol-2..4 array structure with the given dtype opcodes and data."""
    head = RECONSTRUCT + MARK + _global("numpy", "ndarray") + MARK + _int(0) + TUPLE + _bytes(b"b") + TUPLE + REDUCE
    dims = MARK + b"".join(_int(n) for n in shape) + TUPLE
    return head + MARK + _int(1) + dims + dtype + FALSE + _bytes(raw) + TUPLE + BUILD


POINTERS = struct.pack("<4Q", 0x4141414141, 0x4242424242, 0x43434343, 0x44444444)
CRAFTED = {
    # a structured dtype with an object field, its flags rewritten so numpy would trust the pointers
    "object-field-flags-0": b"\x80\x04" + reconstructed(object_struct_dtype(0), (4,), POINTERS) + STOP,
    "object-field-flags-63": b"\x80\x04" + reconstructed(object_struct_dtype(63), (4,), POINTERS) + STOP,
    "object-dtype": b"\x80\x04" + reconstructed(_dtype("O8"), (4,), POINTERS) + STOP,
    # numpy.ndarray(shape, dtype('O'), buffer): an array of pointers the file chooses
    "ndarray-with-buffer": b"\x80\x04"
    + _global("numpy", "ndarray")
    + MARK
    + MARK
    + _int(2)
    + TUPLE
    + _dtype("O8")
    + _bytes(POINTERS[:16])
    + TUPLE
    + REDUCE
    + STOP,
    # zero strides are not expressible any more: 1,000,000 x 784 bytes declared over 784 bytes
    "declared-bigger-than-data": b"\x80\x04"
    + reconstructed(plain_dtype("u1", "|"), (1_000_000, 784), bytes(784))
    + STOP,
    "dtype-built-twice": b"\x80\x04" + reconstructed(plain_dtype("f4") + dtype_state("<"), (1,), bytes(4)) + STOP,
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_pickles_are_refused_not_built(name: str) -> None:
    with pytest.raises(DataError) as err:
        safe_loads(CRAFTED[name], "evil.pkl")
    message = str(err.value)
    assert "\n" not in message and "evil.pkl" in message
    assert "refusing" in message or "not a readable pickle" in message


def _child(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``mnist-tui ARGS`` in a child; (result, the child's peak RSS in MiB)."""
    peak_file = tmp_path / "peak"
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "try:\n    rc = main(sys.argv[1:])\n"
        "finally:\n"  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
        "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        f"    open({str(peak_file)!r}, 'w').write(hwm)\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, MNIST_TUI_THREADS="1", MNIST_TUI_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    return done, int(peak_file.read_text()) / 1024


@pytest.mark.slow
@pytest.mark.parametrize("name", ["object-field-flags-0", "ndarray-with-buffer", "declared-bigger-than-data"])
def test_crafted_pickle_gives_exit_2_in_train(tmp_path: Path, name: str) -> None:
    evil = tmp_path / "mnist.pkl"
    x = reconstructed(plain_dtype("f4"), (2, 784), bytes(2 * 784 * 4))
    y = reconstructed(plain_dtype("i8"), (2,), bytes(16))
    split = MARK + x + y + TUPLE
    body = CRAFTED[name][2:-1]
    evil.write_bytes(b"\x80\x04" + MARK + MARK + x + body + TUPLE + split + split + TUPLE + STOP)
    done, peak = _child(["train", "--data", str(evil), "--epochs", "1"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "refusing" in done.stderr
    assert peak < SMALL_PEAK_MIB
    assert not list((tmp_path / "cache").glob("mnist-*.npz"))


ADMITTED = [
    RECONSTRUCT,
    _global("numpy", "ndarray"),
    _global("numpy", "dtype"),
    _global("numpy._core.numeric", "_frombuffer"),
    _global("_codecs", "encode"),
]
ATOMS = [
    *ADMITTED,
    MARK,
    TUPLE,
    REDUCE,
    BUILD,
    NONE,
    TRUE,
    FALSE,
    b"}",
    b"]",
    b"s",
    b"a",
    b"0",
    b"2",
    *(_text(t) for t in ("f4", "i8", "u1", "O8", "V8", "<", "|", "b", "C", "a", "latin1")),
    *(_int(n) for n in (-1, 0, 1, 2, 3, 8, 63, 784, 1 << 30)),
    _bytes(b"b"),
    _bytes(bytes(16)),
    _bytes(POINTERS),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS), max_size=40))
def test_random_opcode_streams_over_the_admitted_globals_are_data_or_refused(atoms: list[bytes]) -> None:
    data = b"\x80\x04" + b"".join(atoms) + STOP
    try:
        result = safe_loads(data, "fuzz.pkl")
    except DataError:
        return

    def arrays(obj: object) -> list[np.ndarray]:
        if isinstance(obj, np.ndarray):
            return [obj]
        if isinstance(obj, tuple):
            return [a for item in obj for a in arrays(item)]
        return []

    for a in arrays(result):
        assert a.dtype.kind in "biuf" and a.dtype.fields is None and a.nbytes <= len(data)


# --------------------------------------------------------------------------- npz headers


def _npy(shape: tuple[int, ...], descr: object, body: bytes) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def _keras(**override: bytes) -> dict[str, bytes]:
    members = {
        "x_train": _npy((12, 28, 28), "|u1", bytes(12 * 784)),
        "y_train": _npy((12,), "|u1", bytes(12)),
        "x_test": _npy((2, 28, 28), "|u1", bytes(2 * 784)),
        "y_test": _npy((2,), "|u1", bytes(2)),
    }
    return members | override


NPZ_CASES = {
    "more-rows-than-mnist": (_keras(x_train=_npy((60_001, 28, 28), "|u1", b"")), "x_train (60001, 28, 28)"),
    "declared-beyond-stored": (_keras(x_train=_npy((12, 28, 28), "<f8", bytes(784))), "not the"),
    "object-member": (_keras(y_test=_npy((2,), "|O", bytes(16))), "not plain numbers"),
    "structured-member": (_keras(y_test=_npy((2,), [("a", "<i8")], bytes(16))), "not plain numbers"),
    "extra-member": (_keras(payload=_npy((1,), "|u1", b"\0")), "expected exactly"),
}


@pytest.mark.parametrize("name", sorted(NPZ_CASES))
def test_npz_is_refused_from_its_headers(name: str) -> None:
    members, needle = NPZ_CASES[name]
    with pytest.raises(Invalid) as err:
        parse_npz(_zip(members))
    assert needle in str(err.value)


@settings(max_examples=200, deadline=None)
@given(
    shape=st.lists(st.integers(0, 1 << 40), max_size=4).map(tuple),
    descr=st.sampled_from(["|u1", "<f4", "<f8", "<i8", "|O", "<U3", "|V8", [("a", "|O")], ">i2", "<c8"]),
    body=st.binary(max_size=64),
)
def test_random_npy_headers_never_allocate_what_they_declare(shape: tuple[int, ...], descr: str, body: bytes) -> None:
    data = _zip(_keras(x_train=_npy(shape, descr, body)))
    try:
        raw = parse_npz(data)
    except Invalid:
        return
    assert sum(a.nbytes for a in raw.arrays().values()) < 100 * len(data) + (1 << 20)


@pytest.mark.slow
def test_deflated_npz_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = tmp_path / "mnist.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("x_train.npy", "w", force_zip64=True) as f:  # 600 MB of zeros in about 600 KB
            f.write(_npy((765_306, 28, 28), "|u1", b""))
            for _ in range(600):
                f.write(bytes(1 << 20))
        for name, data in _keras().items():
            if name != "x_train":
                z.writestr(name + ".npy", data)
    assert bomb.stat().st_size < 5 << 20
    done, peak = _child(["train", "--data", str(bomb), "--epochs", "1"], tmp_path)
    assert done.returncode == 2 and "x_train (765306, 28, 28)" in done.stderr, done.stderr
    assert peak < SMALL_PEAK_MIB
    assert not list((tmp_path / "cache").glob("mnist-*.npz"))


# --------------------------------------------------------------------------- caches


def test_forged_classic_cache_entry_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry with all labels 0 and a recomputed checksum: only the pinned digest can tell."""
    rng = np.random.default_rng(0)
    sizes = (50, 10, 10)
    arrays: list[Any] = [
        a for n in sizes for a in (rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n))
    ]
    raw = RawMNIST(*arrays)
    layout = tuple((x.astype(np.float32) / 256, y) for x, y in zip(*[iter(raw.arrays().values())] * 2, strict=True))
    source = tmp_path / "mnist.pkl"
    source.write_bytes(pickle.dumps(layout, protocol=2))
    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(classic, "SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    monkeypatch.setattr(classic, "SPLIT", sizes)
    monkeypatch.setattr(classic, "ARRAYS_SHA256", cache_mod.digest(raw).hex())
    assert "cached" not in load_mnist(source).source
    assert "cached" in load_mnist(source).source  # the genuine entry is trusted
    forged = RawMNIST(raw.train_x, np.zeros_like(raw.train_y), raw.valid_x, raw.valid_y, raw.test_x, raw.test_y)
    entry = cache_mod.entry_path(classic.SHA256)
    members: dict[str, Any] = {**forged.arrays(), "sha256": np.frombuffer(cache_mod.digest(forged), np.uint8)}
    members |= {"version": np.int64(cache_mod.FORMAT_VERSION), "key": np.str_(classic.SHA256), "source": np.str_("x")}
    np.savez(entry, **members)
    loaded = load_mnist(source)
    assert "cached" not in loaded.source
    np.testing.assert_array_equal(loaded.train_y, raw.train_y)


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    x, y = rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)
    trainer = Trainer((x, y), HyperParams(hidden=8, batch_size=8))
    trainer.step()
    return save_checkpoint(tmp_path / "run.npz", trainer.run_state())


def _with_member(path: Path, name: str, write: object) -> Path:
    out = path.with_name(f"with-{name}.npz")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with dst.open(f"{name}.npy", "w", force_zip64=True) as f:
            write(f)  # type: ignore[operator]
    return out


@pytest.mark.slow
def test_checkpoint_with_a_huge_extra_member_is_refused_unread(checkpoint: Path, tmp_path: Path) -> None:
    def zeros(f: io.BufferedIOBase) -> None:
        f.write(_npy((600 << 20,), "|u1", b""))
        for _ in range(600):
            f.write(bytes(1 << 20))

    bomb = _with_member(checkpoint, "extra", zeros)
    assert bomb.stat().st_size < 5 << 20
    done, peak = _child(["evaluate", str(bomb)], tmp_path)
    assert done.returncode == 2 and "unexpected arrays extra" in done.stderr, done.stderr
    assert peak < SMALL_PEAK_MIB


@pytest.mark.parametrize(
    ("name", "shape", "needle"),
    [
        ("rule_feedback", (10, 8), "for variant exact"),  # a variant's name, in another variant's run
        ("rule_ring", (1_002, 10, 8), "does not fit"),  # longer than any stale ring can be
        ("rule_xi", (41, 8), "does not fit"),  # more rows than the training set
    ],
)
def test_checkpoint_variant_members_must_fit(checkpoint: Path, name: str, shape: tuple[int, ...], needle: str) -> None:
    n = int(np.prod(shape)) * 4
    path = _with_member(checkpoint, name, lambda f: f.write(_npy(shape, "<f4", bytes(n))))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_checkpoint_info_must_be_small_text(checkpoint: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(checkpoint) as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    members["info.npy"] = _npy((), "<U300000", json.dumps({"x": 1}).encode("utf-32-le").ljust(1_200_000, b"\0"))
    out = tmp_path / "big-info.npz"
    with zipfile.ZipFile(out, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    with pytest.raises(CheckpointError, match="under 1 MiB"):
        load_checkpoint(out)


def _replace_member(path: Path, name: str, value: np.ndarray) -> Path:
    out = path.with_name(f"bad-{name}.npz")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, value)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, buf.getvalue() if info.filename == f"{name}.npy" else src.read(info))
    return out


def _variant_checkpoint(tmp_path: Path, variant: str) -> Path:
    """A checkpoint of a tiny net trained 4 steps with ``variant`` (its state included)."""
    rng = np.random.default_rng(2)
    x, y = rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)
    trainer = Trainer((x, y), HyperParams(hidden=8, batch_size=8, variant=variant, stale_k=3))
    for _ in range(4):
        trainer.step()
    return save_checkpoint(tmp_path / "run.npz", trainer.run_state())


@pytest.mark.parametrize(
    ("variant", "member", "value", "needle"),
    [
        ("feedback-fixed", "rule_feedback", np.zeros((10, 7), np.float32), "rule_feedback (10, 7)"),
        ("feedback-fixed", "rule_feedback", np.full((10, 8), np.nan, np.float32), "finite"),
        ("stale", "rule_ring", np.zeros((2, 10, 8), np.float32), "ring is float32 (2, 10, 8)"),
        ("stale", "rule_t", np.array(3.0, np.float32), "t is float32"),
        ("stale", "rule_t", np.array(-1, np.int64), "negative"),
        ("random-h-act-fixed", "rule_xi", np.zeros((8, 3), np.float32), "rule_xi (8, 3)"),
    ],
)
def test_corrupt_variant_state_is_refused_not_redrawn(
    tmp_path: Path, variant: str, member: str, value: np.ndarray, needle: str
) -> None:
    good = _variant_checkpoint(tmp_path, variant)
    load_checkpoint(good)  # the genuine state loads
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(_replace_member(good, member, value))
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("variant", "member"), [("stale", "rule_ring"), ("stale", "rule_t"), ("feedback-fixed", "rule_feedback")]
)
def test_a_variant_state_that_went_missing_is_refused_not_started_afresh(
    tmp_path: Path, variant: str, member: str
) -> None:
    good = _variant_checkpoint(tmp_path, variant)
    out = tmp_path / "stripped.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != f"{member}.npy":
                dst.writestr(info.filename, src.read(info))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(out)
    assert f"{member} is missing" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("value", [10**400, True, "12", [1], None, -(10**400)])
def test_a_checkpoints_figures_that_are_not_numbers_are_left_out(tmp_path: Path, value: Any) -> None:
    """A checkpoint's meta (its clock and best figures) is hostile input too: a resumed run goes on
    without a value it cannot use, never with an OverflowError."""
    from model.run import open_run

    rng = np.random.default_rng(2)
    x, y = rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)
    data = type("Data", (), {"train_x": x, "train_y": y, "valid_x": x, "valid_y": y, "test_x": x, "test_y": y})
    trainer = Trainer((x, y), HyperParams(hidden=8, batch_size=8))
    trainer.step()
    meta = {"elapsed": value, "best_valid_error": value, "last_loss": value, "valid_error": 0.5}
    path = save_checkpoint(tmp_path / "run.npz", trainer.run_state(meta))
    state = load_checkpoint(path)
    run = open_run(data, state.hp, resume=state)
    assert run.figures.valid_error == 0.5 and run.figures.best.valid_error is None
    run.step()


def test_random_bytes_checkpoint_never_advises_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(3).bytes(4096))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "not a readable .npz checkpoint" in message
    assert "pickle" not in message.lower()
