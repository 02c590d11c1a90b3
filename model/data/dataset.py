"""``load_mnist``: the MNIST arrays as float32/int64, from the user's file, the cache or a mirror.

Order: a path given by the caller (else ``$MNIST_TUI_DATA``); else the verified array cache for the
classic file; else fetch the classic mnist.pkl.gz (fetch.py) and parse it. Parsed arrays are cached
as uint8 (see cache.py) so the next start is fast. Every failure is a one-line DataError. Leaves
out training-side concerns (batching, shuffling, normalisation beyond uint8/256).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from . import cache, classic, sources
from .errors import CallbackError, DataError
from .fetch import _fetch
from .progress import Reporter
from .validate import Invalid, RawMNIST, check

DATA_ENV = "MNIST_TUI_DATA"
_SCALE = np.float32(1 / 256)


@dataclass(frozen=True, repr=False)
class MNIST:
    """MNIST splits: x float32 ``(N, 784)`` with pixels = uint8/256 in [0, 1), y int64 ``(N,)``.

    The classic file gives N = 50,000 / 10,000 / 10,000 for train / valid / test.
    """

    train_x: NDArray[np.float32]
    train_y: NDArray[np.int64]
    valid_x: NDArray[np.float32]
    valid_y: NDArray[np.int64]
    test_x: NDArray[np.float32]
    test_y: NDArray[np.int64]
    source: str

    def __repr__(self) -> str:
        return (
            f"MNIST(train={len(self.train_y)}, valid={len(self.valid_y)}, "
            f"test={len(self.test_y)}, source={self.source!r})"
        )


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    progress: Callable[[str, float | None], None] | None = None,
) -> MNIST:
    """Load MNIST from ``path`` (file or directory), ``$MNIST_TUI_DATA``, the cache or a mirror.

    ``progress(message, fraction_or_None)`` is called now and then; exceptions it raises propagate
    unchanged (a way to cancel). Anything else that goes wrong raises DataError.
    """
    report = Reporter(progress)
    try:
        return _load(path, report)
    except CallbackError as exc:
        raise exc.original from None
    except DataError:
        raise
    except MemoryError as exc:
        # Files are held to MNIST's sizes before anything is allocated, so this is a machine short
        # of memory, not a file declaring too much: parsing the classic file peaks at about 730 MB.
        raise DataError(
            "ran out of memory while loading MNIST (parsing the classic file peaks at about 730 MB, "
            "loading the cache at about 300 MB); free some memory and retry"
        ) from exc
    except Exception as exc:  # a bug or an unforeseen OS condition: still one clear line
        raise DataError(f"unexpected error while loading MNIST ({type(exc).__name__}: {exc}); {classic.HINT}") from exc


def check_source(path: str | os.PathLike[str]) -> None:
    """Cheap check that ``path`` names MNIST data (exists, is readable, a known format): DataError if not.

    Reads only the first bytes; the full validation happens in ``load_mnist``.
    """
    sources.resolve(Path(os.fspath(path)).expanduser(), classic.HINT)


def _load(path: str | os.PathLike[str] | None, report: Reporter) -> MNIST:
    hint = classic.HINT
    if isinstance(path, str) and not path.strip():
        path = None
    if path is None:
        env = os.environ.get(DATA_ENV, "").strip()
        if env:
            path = env
            hint = f"fix {DATA_ENV} (now {env!r}) or unset it to download MNIST"
    if path is not None:
        return _load_user(Path(os.fspath(path)).expanduser(), report, hint)
    return _load_classic(report)


def _load_classic(report: Reporter) -> MNIST:
    """The classic split from the array cache, or fetched and parsed (then cached)."""
    key = classic.SHA256
    hit = cache.load(key, report)
    if hit is not None:
        return _to_mnist(hit[0], f"{cache.entry_path(key)} (cached from {hit[1]})")
    path = _fetch(report)
    source = sources.Source("file", (path,), str(path), classic.HINT)
    return _parse_and_cache(source, key, report)


def _load_user(path: Path, report: Reporter, hint: str) -> MNIST:
    """A user's file or directory; the classic file's hash means exact 50k/10k/10k sizes."""
    source = sources.resolve(path, hint)
    report(f"Checking {path.name}", None)
    key = sources.fingerprint(source)
    hit = cache.load(key, report)
    if hit is not None:
        return _to_mnist(hit[0], f"{cache.entry_path(key)} (cached from {source.description})")
    return _parse_and_cache(source, key, report)


def _parse_and_cache(source: sources.Source, key: str, report: Reporter) -> MNIST:
    raw = sources.read(source, report)
    exact = classic.SPLIT if key == classic.SHA256 else None
    try:
        check(raw, exact)
    except Invalid as exc:
        raise DataError(f"{source.description}: {exc}; {source.hint}") from exc
    report("Writing the MNIST cache", None)
    cache.store(key, raw, source.description, report)
    return _to_mnist(raw, source.description)


def _to_mnist(raw: RawMNIST, source: str) -> MNIST:
    """Float32 pixels (uint8/256, exact) and int64 labels."""

    def pixels(u8: NDArray[np.uint8]) -> NDArray[np.float32]:
        out = np.empty(u8.shape, np.float32)
        np.multiply(u8, _SCALE, out=out)
        return out

    return MNIST(
        train_x=pixels(raw.train_x),
        train_y=np.array(raw.train_y, np.int64),
        valid_x=pixels(raw.valid_x),
        valid_y=np.array(raw.valid_y, np.int64),
        test_x=pixels(raw.test_x),
        test_y=np.array(raw.test_y, np.int64),
        source=source,
    )
