"""Checkpoints: exact resume, atomic writes under SIGKILL, and hostile or broken files.

Every bad file must give one ``CheckpointError`` line, never another exception, and the
``evaluate`` / ``train --resume`` commands must turn it into one line and exit status 2
without running or overwriting anything.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kill_writer import campaign, naive_save

import model.checkpoint as checkpoint_mod
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams
from model.trainer import Trainer
from tui.cli import main

N, D = 120, 784


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((N, D), dtype=np.float32), rng.integers(0, 10, N)


def small_trainer(data: tuple[np.ndarray, np.ndarray], **changes: Any) -> Trainer:
    hp = HyperParams(hidden=16, batch_size=25, lr=0.1).validated(**changes)
    return Trainer(data, hp)


@pytest.fixture
def good(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> Path:
    t = small_trainer(data)
    for _ in range(7):
        t.step()
    return save_checkpoint(tmp_path / "good.npz", t.run_state())


def assert_same_run(a: Trainer, b: Trainer) -> None:
    """Weights, momentum, order, counters and both RNG states are bit for bit equal."""
    for name in a.model.params:
        np.testing.assert_array_equal(a.model.params[name], b.model.params[name], err_msg=name)
        np.testing.assert_array_equal(a.velocity[name], b.velocity[name], err_msg=f"v_{name}")
    np.testing.assert_array_equal(a.order, b.order)
    assert vars(a.state) == vars(b.state)
    assert a.order_rng.bit_generator.state == b.order_rng.bit_generator.state
    assert a.rule_rng.bit_generator.state == b.rule_rng.bit_generator.state
    assert a.hp == b.hp


# ---- exact resume ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "k", "more"),
    [
        ({}, 3, 20),  # crosses epoch boundaries (120 / 25: a short last batch, then a reshuffle)
        ({"momentum": 0.0, "weight_decay": 0.01}, 5, 11),
        ({"schedule": "exp", "lr_decay": 0.7, "activation": "tanh"}, 4, 17),
        ({"schedule": "cosine", "epochs": 3, "batch_size": 7}, 9, 30),
        ({"variant": "noise-backward", "sigma": 0.3}, 6, 12),  # draws from the rule's RNG every step
        ({"variant": "feedback-fixed"}, 5, 10),  # the fixed feedback matrix travels in the file
        ({"variant": "stale", "stale_k": 3}, 7, 10),  # so does the ring of old W2s
        ({"variant": "random-h-act-fixed"}, 4, 9),  # and the fixed random draws
        ({"variant": "random-h-both-example"}, 4, 9),  # and the per-example draws with which rows are drawn
    ],
)
def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], changes: dict[str, Any], k: int, more: int
) -> None:
    straight = small_trainer(data, **changes)
    for _ in range(k + more):
        straight.step()
    first = small_trainer(data, **changes)
    for _ in range(k):
        first.step()
    path = save_checkpoint(tmp_path / "run.npz", first.run_state())
    resumed = Trainer(data, HyperParams(hidden=3))  # different architecture: everything comes from the file
    resumed.resume(load_checkpoint(path))
    for _ in range(more):
        resumed.step()
    assert_same_run(straight, resumed)


def test_divergence_right_after_resume_restores_the_resumed_weights(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    t = small_trainer(data)
    for _ in range(12):
        t.step()
    path = save_checkpoint(tmp_path / "run.npz", t.run_state())
    resumed = small_trainer(data, seed=5)
    resumed.resume(load_checkpoint(path))
    saved = {k: v.copy() for k, v in resumed.model.params.items()}
    resumed.update_hparams(lr=1000.0)
    for _ in range(5):
        if resumed.step().diverged:
            break
    assert resumed.diverged
    for name, value in saved.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)


def test_resuming_on_other_data_leaves_the_trainer_untouched(good: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    other = Trainer((data[0][:, :100].copy(), data[1]), HyperParams(hidden=4))
    before = other.model.W1.copy()
    with pytest.raises(ValueError, match="inputs"):
        other.resume(load_checkpoint(good))
    np.testing.assert_array_equal(other.model.W1, before)
    fewer = Trainer((data[0][:50], data[1][:50]), HyperParams(hidden=4))
    with pytest.raises(ValueError, match="training examples"):
        fewer.resume(load_checkpoint(good))


# ---- SIGKILL while writing ------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_during_save_never_leaves_a_torn_checkpoint(tmp_path: Path) -> None:
    report = campaign(tmp_path, trials=60)
    assert report.trials == 60
    assert report.torn == 0
    assert report.mid_write >= 5, "the kills must land inside writes for this test to mean anything"
    assert max(report.saves_seen) >= 1  # later saves replaced earlier ones


@pytest.mark.slow
def test_the_kill_campaign_catches_a_writer_that_is_not_atomic(tmp_path: Path) -> None:
    report = campaign(tmp_path, trials=15, save=naive_save)
    assert report.torn >= 1


# ---- hostile and broken files ---------------------------------------------------------------


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path: Path, arrays: dict[str, Any]) -> Path:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _with_info(arrays: dict[str, np.ndarray], **changes: Any) -> dict[str, np.ndarray]:
    info = json.loads(str(arrays["info"][()]))
    info.update(changes)
    return arrays | {"info": np.array(json.dumps(info))}


class Evil:
    """Unpickling this would create a marker file."""

    marker = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def bad_files(
    tmp_path_factory: pytest.TempPathFactory, data: tuple[np.ndarray, np.ndarray]
) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase the error line must contain); built once, never modified by the tests."""
    tmp = tmp_path_factory.mktemp("bad")
    t = small_trainer(data)
    t.step()
    good = save_checkpoint(tmp / "good.npz", t.run_state())
    raw = good.read_bytes()
    a = _arrays(good)
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, content: bytes | dict[str, np.ndarray], needle: str) -> None:
        p = tmp / f"{name}.npz"
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            _rewrite(p, content)
        out[name] = (p, needle)

    put("zero-bytes", b"", "not a readable")
    put("truncated", raw[: len(raw) // 2], "not a readable")
    put("truncated-tail", raw[:-30], "not a readable")
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0x10  # inside an array's bytes: the zip CRC catches it
    put("bit-flipped", bytes(flipped), "not a readable")
    put("text", b"hello, I am not a checkpoint\n" * 10, "not a readable")
    put("missing-array", {k: v for k, v in a.items() if k != "v_W2"}, "missing arrays v_W2")
    put("extra-array", a | {"payload": np.zeros(3)}, "unexpected arrays payload")
    put("wrong-shape", a | {"b1": np.zeros(5, np.float32)}, "b1 has shape")
    put("wrong-dtype", a | {"W2": a["W2"].astype(np.float64)}, "dtype float64")
    put("nan-weights", a | {"W1": np.full_like(a["W1"], np.nan)}, "NaN")
    put("object-array", a | {"W1": np.array([{"x": 1}], dtype=object)}, "not a readable")
    put("bad-order", a | {"order": np.zeros(N, np.int64)}, "permutation")
    put("bad-json", a | {"info": np.array("{not json")}, "bad run information")
    put("other-format", _with_info(a, format="something/9"), "unknown format")
    put("bad-hparams", _with_info(a, hparams={"lr": -1}), "lr must be")
    put("bad-rng", _with_info(a, rng={"order": {"state": 1}, "rule": {}}), "bad run information")
    put("bad-counters", _with_info(a, state={"step": -4}), "out of range")
    put("infinite-counter", _with_info(a, state={"step": float("inf")}), "bad run information")  # found by fuzzing
    H = 9000  # consistent shapes, but more hidden units than the settings allow
    big = {"W1": np.zeros((H, D), np.float32), "b1": np.zeros(H, np.float32), "W2": np.zeros((10, H), np.float32)}
    put("huge-hidden", a | big | {f"v_{k}": v for k, v in big.items()}, "hidden <= 8192")
    # A pickle that would run a shell command if it were unpickled.
    Evil.marker = str(tmp / "PWNED")
    put("pickle-payload", pickle.dumps(Evil()), "not a readable")
    buf = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(buf, "w") as z:  # W1.npy holds a pickle, not an array
        for member in src.namelist():
            z.writestr(member, pickle.dumps(Evil()) if member == "W1.npy" else src.read(member))
    put("pickle-in-zip", buf.getvalue(), "W1 is not an array")
    return out


BAD_NAMES = [
    "zero-bytes", "truncated", "truncated-tail", "bit-flipped", "text", "missing-array", "extra-array",
    "wrong-shape", "wrong-dtype", "nan-weights", "object-array", "bad-order", "bad-json", "other-format",
    "bad-hparams", "bad-rng", "bad-counters", "infinite-counter", "huge-hidden", "pickle-payload", "pickle-in-zip",
]  # fmt: skip


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_checkpoint_gives_one_line(bad_files: dict[str, tuple[Path, str]], name: str) -> None:
    path, needle = bad_files[name]
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and needle in message and str(path) in message
    assert not (path.parent / "PWNED").exists()


def test_not_found_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path / "dir.npz")


def test_unreadable_file_is_one_line(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root here, where chmod 000 does not block reading: simulate the OS refusing.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(good))

    monkeypatch.setattr(checkpoint_mod, "open_regular", refuse)
    with pytest.raises(CheckpointError, match="Permission denied"):
        load_checkpoint(good)


def test_save_into_a_missing_or_blocked_folder_is_one_line(tmp_path: Path, data: tuple[np.ndarray, ...]) -> None:
    t = small_trainer(data)  # type: ignore[arg-type]
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        save_checkpoint(tmp_path / "file" / "run.npz", t.run_state())
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]  # no temp file left behind


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import make_tiny_mnist

    m = make_tiny_mnist((600, 120, 200))
    x = (np.concatenate([m.train_x, m.valid_x]) * 256).astype(np.uint8).reshape(-1, 28, 28)
    path = tmp_path_factory.mktemp("data") / "mnist.npz"
    np.savez(path, x_train=x, y_train=np.concatenate([m.train_y, m.valid_y]),
             x_test=(m.test_x * 256).astype(np.uint8).reshape(-1, 28, 28), y_test=m.test_y)  # fmt: skip
    return path


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)


@pytest.mark.parametrize("name", ["zero-bytes", "bit-flipped", "extra-array", "wrong-dtype", "pickle-payload"])
def test_commands_refuse_bad_checkpoints(
    bad_files: dict[str, tuple[Path, str]], tiny_npz: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, needle = bad_files[name]
    before = path.read_bytes()
    commands = [
        ["evaluate", str(path), "--data", str(tiny_npz)],
        ["train", "--data", str(tiny_npz), "--resume", str(path), "--save", str(path), "--epochs", "1"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and needle in err and "Traceback" not in err, err
    assert path.read_bytes() == before  # --save never ran: nothing overwritten
    assert not (path.parent / "PWNED").exists()


# ---- fuzzing the reader ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory: pytest.TempPathFactory, data: tuple[np.ndarray, np.ndarray]) -> bytes:
    t = small_trainer(data, hidden=4)
    t.step()
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "g.npz", t.run_state()).read_bytes()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))  # fmt: skip
def test_fuzz_damaged_checkpoints_only_raise_checkpoint_error(
    good_bytes: bytes, tmp_path: Path, edits: list[tuple[float, int]], cut: float | None
) -> None:
    raw = bytearray(good_bytes)
    for where, value in edits:
        raw[int(where * len(raw))] = value
    if cut is not None:
        raw = raw[: int(cut * len(raw))]
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(raw))
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        assert "\n" not in str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.slow  # many hypothesis examples: about 2.5 s of CPU
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["format", "hparams", "state", "rng", "meta"]), value=json_values,
       sub=st.sampled_from(["lr", "hidden", "step", "position", "order", "rule", None]))  # fmt: skip
def test_fuzz_run_information_only_raises_checkpoint_error(
    good: Path, tmp_path: Path, key: str, value: Any, sub: str | None
) -> None:
    a = _arrays(good)
    info = json.loads(str(a["info"][()]))
    if sub is not None and isinstance(info.get(key), dict):
        info[key] = info[key] | {sub: value}
    else:
        info[key] = value
    path = _rewrite(tmp_path / "info.npz", a | {"info": np.array(json.dumps(info))})
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as exc:
        assert "\n" not in str(exc)
        return
    t = Trainer((np.zeros((N, D), np.float32), np.zeros(N, np.int64)), HyperParams(hidden=2))
    t.resume(ckpt)  # whatever loads must also resume
    assert np.isfinite(t.step().loss)


def test_saved_checkpoint_follows_the_umask_and_clears_stale_temps(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    stale = tmp_path / ".run.npz.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    os.utime(stale, (0, 0))  # left by a save that was killed long ago
    fresh = tmp_path / ".run.npz.def456.tmp"
    fresh.write_bytes(b"a save in progress")
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "run.npz", small_trainer(data).run_state())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert not stale.exists() and fresh.exists()
    load_checkpoint(path)


def test_saving_never_touches_the_process_umask(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting the umask to read it is process-wide: a thread creating a file meanwhile would get 0666."""

    def umask(mask: int) -> int:
        raise AssertionError(f"os.umask({mask:o}) called while saving")

    monkeypatch.setattr(os, "umask", umask)
    load_checkpoint(save_checkpoint(tmp_path / "run.npz", small_trainer(data).run_state()))


def test_a_folder_means_a_new_file_in_it_and_a_file_in_the_way_is_refused_in_words(tmp_path: Path) -> None:
    t = Trainer((np.zeros((30, 20), np.float32), np.arange(30) % 10), HyperParams(hidden=4))
    (tmp_path / "runs").mkdir()
    (tmp_path / "notes").write_text("x")
    written = save_checkpoint(tmp_path / "runs", t.run_state())  # the one rule: a folder takes a new file
    assert written.parent == tmp_path / "runs" and written.name.startswith("mnist-tui-") and written.suffix == ".npz"
    with pytest.raises(CheckpointError, match=r"notes is a file, not a folder"):
        save_checkpoint(tmp_path / "notes" / "deeper" / "run.npz", t.run_state())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "runs"]  # nothing written beside them
