"""The user cache directory and its verified ``.npz`` entries of parsed MNIST arrays.

An entry ``mnist-<first 16 hex of the source sha256>.npz`` holds the six arrays (pixels uint8
``(N, 784)``, labels int64 ``(N,)``), the source key and description, and a sha256 over the arrays.
It is written atomically (``model.atomic``), read with ``allow_pickle=False`` and checked on
every load; a damaged entry is deleted and reported, never trusted. Writing is best effort: a
read-only cache only costs speed. Leaves out downloads (fetch.py) and parsing (formats.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from ..atomic import atomic_write
from ..safe_read import Member, open_regular, read_npz
from . import classic
from .errors import DataError, os_error
from .progress import Reporter
from .validate import PIXELS, RawMNIST, check

CACHE_ENV = "MNIST_TUI_CACHE"
APP_NAME = "mnist-tui"
FORMAT_VERSION = 1
_META = ("sha256", "version", "key", "source")
_ARRAYS = ("train_x", "train_y", "valid_x", "valid_y", "test_x", "test_y")

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """platformdirs' user cache dir for mnist-tui, or ``$MNIST_TUI_CACHE`` if set (not created)."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def ensure_cache_dir() -> Path:
    """cache_dir(), created if needed; DataError if it cannot be."""
    directory = cache_dir()
    hint = f"set {CACHE_ENV} to a writable directory"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DataError(f"{directory}: the cache directory is a file; remove it or {hint}") from exc
    except OSError as exc:
        raise os_error(directory, exc, hint) from exc
    return directory


def entry_path(key: str) -> Path:
    """Where the arrays parsed from the source with sha256 ``key`` are cached."""
    return cache_dir() / f"mnist-{key[:16]}.npz"


def digest(raw: RawMNIST) -> bytes:
    """sha256 over every array's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    for name, array in raw.arrays().items():
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        h.update(np.ascontiguousarray(array).data)
    return h.digest()


def _expected_members() -> dict[str, tuple[tuple[int, ...], str]]:
    """Shape and dtype of every member a cache entry has (exactly the classic sizes)."""
    n = dict(zip(("train", "valid", "test"), classic.SPLIT, strict=True))
    members = {f"{s}_x": ((n[s], PIXELS), "u1") for s in n} | {f"{s}_y": ((n[s],), "i8") for s in n}
    return members | {"sha256": ((32,), "u1"), "version": ((), "i8"), "key": ((), "U"), "source": ((), "U")}


def _check_entry(members: dict[str, Member]) -> None:
    """Refuse an entry whose headers declare anything but the expected members, before reading."""
    expected = _expected_members()
    if sorted(members) != sorted(expected):
        raise ValueError(f"unexpected members {sorted(members)}")
    for name, (shape, code) in expected.items():
        m = members[name]
        if m.shape != shape or not m.dtype.str.lstrip("<>|=").startswith(code) or m.nbytes > 64 << 20:
            raise ValueError(f"{m.describe()} is not the expected {shape} {code}")


def load(key: str, report: Reporter) -> tuple[RawMNIST, str] | None:
    """(arrays, source description) from a verified cache entry, or None (missing or damaged).

    An entry holds exactly the classic 50,000/10,000/10,000 split; one for the classic file must
    also match its pinned array digest, so an entry forged with a recomputed checksum is refused.
    """
    path = entry_path(key)
    if not path.exists():
        return None
    report("Loading MNIST from the cache", None)
    try:
        with open_regular(path) as f:
            z = read_npz(f, _check_entry)
        if int(z["version"]) != FORMAT_VERSION or str(z["key"]) != key:
            raise ValueError("written for another source or format version")
        raw = RawMNIST(**{name: z[name] for name in _ARRAYS})
        stored, source = z["sha256"].tobytes(), str(z["source"])
        actual = digest(raw)
        if actual != stored:
            raise ValueError("checksum mismatch")
        if key == classic.SHA256 and actual.hex() != classic.ARRAYS_SHA256:
            raise ValueError("its arrays are not the classic file's")
        check(raw, classic.SPLIT)
    except Exception as exc:  # anything wrong with the entry means: rebuild it
        report(f"Cache entry {path.name} is damaged ({exc}); rebuilding it", None)
        log.info("discarding damaged cache entry %s: %s", path, exc)
        discard(path)
        return None
    return raw, source


def discard(path: Path) -> None:
    """Delete a cache entry (a file, or an empty directory squatting on its name)."""
    with contextlib.suppress(OSError):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def store(key: str, raw: RawMNIST, source: str, report: Reporter) -> Path | None:
    """Write a cache entry atomically; returns its path, or None (reported) if it cannot.

    Only data of exactly the classic sizes is cached (anything smaller parses fast anyway), and
    for the classic file only its pinned arrays.
    """
    if raw.sizes() != classic.SPLIT:
        return None
    if key == classic.SHA256 and digest(raw).hex() != classic.ARRAYS_SHA256:
        return None
    path = entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            discard(path)
        members: dict[str, Any] = {
            **raw.arrays(),
            "sha256": np.frombuffer(digest(raw), np.uint8),
            "version": np.int64(FORMAT_VERSION),
            "key": np.str_(key),
            "source": np.str_(source),
        }
        atomic_write(path, lambda f: np.savez(f, **members))
    except OSError as exc:
        report(f"Could not write the cache in {path.parent} ({exc}); next start will be slower")
        log.info("could not write cache entry %s: %s", path, exc)
        return None
    return path
