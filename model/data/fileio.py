"""Low-level file access: open, hash, peek and read (transparently gunzipping) with progress.

Every OSError and gzip/zlib error is turned into a one-line DataError naming the file. Leaves out
format parsing (see formats.py) and caching (see cache.py).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import BinaryIO

from ..safe_read import open_regular
from .errors import DataError, os_error
from .progress import Reporter

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
INFLATE_STEP = 4 << 20
#: Refuse to inflate more than this: the classic pickle inflates to 210 MiB, all 70,000 digits as
#: float64 to 420 MiB. A gzip-bomb guard, and a bound on what any parser below can be handed.
MAX_INFLATED = 448 << 20

DEFAULT_HINT = "pass --data PATH to a good copy of mnist.pkl.gz (or of the MNIST IDX files)"


def open_binary(path: Path, hint: str = DEFAULT_HINT) -> BinaryIO:
    """Open ``path`` (a regular file: never blocks on a FIFO) for reading bytes, or raise DataError."""
    try:
        return open_regular(path)
    except OSError as exc:
        raise os_error(path, exc, hint) from exc


def sha256_file(path: Path, hint: str = DEFAULT_HINT) -> str:
    """Hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with open_binary(path, hint) as f:
        try:
            while block := f.read(CHUNK):
                digest.update(block)
        except OSError as exc:
            raise os_error(path, exc, hint) from exc
    return digest.hexdigest()


def peek(path: Path, n: int = 16, hint: str = DEFAULT_HINT) -> tuple[bool, bytes]:
    """Return (is_gzip, first ``n`` bytes of the content, gunzipped if it is gzip)."""
    with open_binary(path, hint) as f:
        try:
            head = f.read(64 * 1024)
        except OSError as exc:
            raise os_error(path, exc, hint) from exc
    if not head.startswith(GZIP_MAGIC):
        return False, head[:n]
    try:
        inner = zlib.decompressobj(wbits=31).decompress(head, n)
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc}); {hint}") from exc
    return True, inner


def read_content(path: Path, report: Reporter, label: str, hint: str = DEFAULT_HINT) -> bytes:
    """All bytes of ``path``, gunzipped (CRC-checked) if it starts with the gzip magic.

    Reports "Reading <label>" and then "Decompressing <label>" with fractions.
    """
    try:
        size = path.stat().st_size
        if size > MAX_INFLATED:
            raise DataError(f"{path}: is {size >> 20} MiB, far too big for MNIST; {hint}")
        parts: list[bytes] = []
        done = 0
        with open_binary(path, hint) as f:
            while block := f.read(4 * CHUNK):
                parts.append(block)
                done += len(block)
                report(f"Reading {label}", done / size if size else None)
    except OSError as exc:
        raise os_error(path, exc, hint) from exc
    data = b"".join(parts)
    del parts
    if not data.startswith(GZIP_MAGIC):
        return data
    return _gunzip(path, data, report, f"Decompressing {label}", hint)


def _gunzip(path: Path, data: bytes, report: Reporter, message: str, hint: str) -> bytes:
    """Inflate every gzip member in ``data``; trailing zero padding is allowed."""
    out: list[bytes] = []
    total = 0
    inflater = zlib.decompressobj(wbits=31)
    pending = data
    try:
        while True:
            # A bounded output step keeps memory in check and gives progress points.
            piece = inflater.decompress(pending, INFLATE_STEP)
            total += len(piece)
            if total > MAX_INFLATED:
                raise DataError(f"{path}: inflates to more than {MAX_INFLATED >> 20} MiB, too big for MNIST; {hint}")
            out.append(piece)
            if inflater.eof:
                rest = inflater.unused_data.lstrip(b"\x00")
                if not rest:
                    return b"".join(out)
                if not rest.startswith(GZIP_MAGIC):
                    raise DataError(f"{path}: unexpected bytes after the gzip data; {hint}")
                inflater, pending = zlib.decompressobj(wbits=31), rest
                continue
            pending = inflater.unconsumed_tail
            if not pending and not piece:
                raise DataError(f"{path}: truncated (the gzip stream ends early); {hint}")
            report(message, 1.0 - len(pending) / len(data))
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc}); {hint}") from exc
