"""Read untrusted files without hanging or over-allocating: regular files only, sizes capped, npz from headers.

``open_regular`` opens a path only if it is a regular file (a FIFO or device can neither block
the caller nor stream forever). ``read_capped`` reads a whole small file after checking its size;
``read_lines`` streams a line-based file with a cap on its total and on each line, so a 2 GiB line
costs no more memory than a short one. ``read_npz`` reads every member's zip entry and ``.npy`` header
first, hands the declared names, shapes and dtypes to the caller's check, and allocates only after
that check passes and each member's size is exactly what its header declares. Object, structured
and sub-array dtypes are refused, so ``allow_pickle`` never comes into it. Leaves out: what a
valid archive holds (the callers' checks), writing (model.atomic).
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import prod
from typing import IO, Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

#: Dtype kinds an archive member may have: bool, integers, floats and (short) unicode text.
DATA_KINDS = frozenset("biufU")
#: More members than any archive of ours has (a checkpoint has about 12).
MAX_MEMBERS = 64
#: A .npy header of ours is 128 bytes; numpy's own limit for untrusted headers is 10,000.
MAX_HEADER = 10_000


#: Bytes read at a time by ``read_lines``.
CHUNK = 1 << 20


class Refused(ValueError):
    """The archive is not one we read; the message says what it declares (one line)."""


class TooBig(ValueError):
    """A file is larger than its reader accepts (one line with both sizes)."""


def size_text(n: int) -> str:
    """``2.0 GiB``, ``32 MiB``, ``640 KiB``, ``17 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:,.1f} {unit}" if value < 10 and not value.is_integer() else f"{value:,.0f} {unit}"
    return f"{n:,} byte{'s' * (n != 1)}"


@dataclass(frozen=True)
class Member:
    """One archive member as its headers declare it (nothing of it allocated yet)."""

    name: str  # without the .npy suffix
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool

    @property
    def nbytes(self) -> int:
        """Bytes of array data the header declares."""
        return prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        """E.g. ``x_train (60000, 28, 28) uint8 (45 MiB)``."""
        size = f"{self.nbytes / 2**20:,.0f} MiB" if self.nbytes >= 2**20 else f"{self.nbytes:,} bytes"
        return f"{self.name} {self.shape} {self.dtype} ({size})"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file; OSError (with a reason) otherwise.

    Opened non-blocking, so a FIFO (even one swapped in after a check) cannot hang the caller,
    and refused unless fstat says regular file: no FIFO, device (``/dev/zero``), socket or folder.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
            raise OSError(errno.EINVAL, f"is {kind}, not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | os.PathLike[str], limit: int, what: str = "the file") -> bytes:
    """Every byte of a regular file of at most ``limit`` bytes; OSError (not a regular file, cannot
    be opened) or TooBig, decided from its size before anything is read."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise TooBig(f"{what} is {size_text(size)}, more than the {size_text(limit)} it can be")
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew since
        raise TooBig(f"{what} is more than the {size_text(limit)} it can be")
    return data


@dataclass(frozen=True)
class Line:
    """One line of a file: its number (from 1), its bytes without the newline (None: longer than the
    cap, not kept) and whether a newline ended it (the last line of a torn file has none)."""

    number: int
    data: bytes | None
    complete: bool


def read_lines(file: BinaryIO, max_line: int, limit: int) -> Iterator[Line]:
    """The lines of ``file`` (opened by ``open_regular``) up to ``limit`` bytes, each at most
    ``max_line`` bytes (a longer one is yielded with ``data=None`` and never held in memory)."""
    number, kept, dropping, left = 1, bytearray(), False, limit
    while left > 0:
        chunk = file.read(min(CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not dropping and len(kept) + end - start <= max_line:
                kept += chunk[start:end]
                yield Line(number, bytes(kept), True)
            else:
                yield Line(number, None, True)
            number, kept, dropping, start = number + 1, bytearray(), False, end + 1
        if not dropping:
            kept += chunk[start:]
            if len(kept) > max_line:
                kept, dropping = bytearray(), True
    if kept or dropping:
        yield Line(number, None if dropping else bytes(kept), False)


def _header(fp: IO[bytes], name: str) -> tuple[tuple[int, ...], np.dtype[Any], bool]:
    """(shape, dtype, fortran_order) from a .npy member's header, refusing non-data dtypes."""
    try:
        version = npy_format.read_magic(fp)
    except Exception:  # ValueError: the magic string is not correct; EOFError: too short
        raise Refused(f"{name} is not an array (no .npy header)") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp, max_header_size=MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp, max_header_size=MAX_HEADER)
        else:
            raise Refused(f"{name} uses .npy format {version}, expected 1.0 or 2.0")
    except Refused:
        raise
    except Exception as exc:  # ValueError, SyntaxError, EOFError... from a damaged header
        raise Refused(f"{name} has a damaged .npy header ({type(exc).__name__}: {exc})") from None
    if dtype.kind not in DATA_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise Refused(f"{name} has dtype {dtype}, which is not plain numbers or text")
    return shape, dtype, bool(fortran)


def read_npz(file: BinaryIO, check: Callable[[dict[str, Member]], None]) -> dict[str, np.ndarray]:
    """Read an ``.npz`` from ``file`` after ``check(members)`` accepts the declared members.

    ``check`` raises (any exception) to refuse; it sees every member before one is read. Each
    member's stored size must be its header plus exactly ``nbytes``. Returns writable arrays by
    name. Raises Refused (or ``zipfile.BadZipFile``, OSError) for a damaged or unexpected archive.
    """
    with zipfile.ZipFile(file) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Refused(f"the archive has {len(infos)} members, expected at most {MAX_MEMBERS}")
        members: dict[str, Member] = {}
        offsets: dict[str, int] = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                raise Refused(f"the archive holds {info.filename!r}, which is not an array")
            name = info.filename[: -len(".npy")]
            if name in members:
                raise Refused(f"the archive holds {name} twice")
            with archive.open(info) as fp:
                shape, dtype, fortran = _header(fp, name)
                offsets[name] = fp.tell()
            member = members[name] = Member(name, shape, dtype, fortran)
            if info.file_size != offsets[name] + member.nbytes:
                raise Refused(
                    f"{member.describe()} is stored in {info.file_size - offsets[name]:,} bytes, "
                    f"not the {member.nbytes:,} its header declares"
                )
        check(members)
        arrays: dict[str, np.ndarray] = {}
        for info in infos:
            member = members[info.filename[: -len(".npy")]]
            buffer = bytearray(member.nbytes)
            with archive.open(info) as fp:
                fp.seek(offsets[member.name])
                if fp.readinto(buffer) != member.nbytes:  # type: ignore[attr-defined]
                    raise Refused(f"{member.name} is truncated")
            flat = np.frombuffer(buffer, member.dtype)
            arrays[member.name] = flat.reshape(member.shape, order="F" if member.fortran else "C")
    return arrays
