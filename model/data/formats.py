"""Parsers for the three MNIST file formats, working on bytes already read (and gunzipped).

* the classic pickle: ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``, loaded
  with the restricted unpickler (never runs code);
* Keras' ``mnist.npz``: keys ``x_train (60000, 28, 28) uint8, y_train, x_test, y_test``;
* IDX (LeCun's ``*-idx3-ubyte`` images ``(N, 28, 28)``, ``*-idx1-ubyte`` labels ``(N,)``).

The format is told from the content (``sniff``), not the name. Parsers raise ``Invalid`` with
what is wrong; callers add which file and what to do. Leaves out file access and locating files.
"""

from __future__ import annotations

import io
import struct
from math import prod

import numpy as np

from ..safe_read import Member, Refused, read_npz
from .safe_pickle import safe_loads
from .validate import MAX_EXAMPLES, MAX_TEST, PIXELS, SIDE, SPLITS, Invalid, RawMNIST, from_train_test, split_pair

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
IDX_UBYTE = 0x08
_IDX_TYPES = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def sniff(head: bytes) -> str | None:
    """'pickle', 'npz' or 'idx' from the first bytes of the (gunzipped) content; None if unknown."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if head.startswith(ZIP_MAGICS):
        return "npz"
    if len(head) >= 4 and head[:2] == b"\0\0" and head[2] in _IDX_TYPES and 1 <= head[3] <= 4:
        return "idx"
    return None


def parse_pickle(data: bytes, where: str) -> RawMNIST:
    """The classic (train, valid, test) tuple of (images ``(N, 784)``, labels ``(N,)``) pairs."""
    obj = safe_loads(data, where)
    if not (
        isinstance(obj, (tuple, list))
        and len(obj) == 3
        and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in obj)
    ):
        raise Invalid(
            f"expected a pickled (train, valid, test) tuple of (images, labels) pairs, found {type(obj).__name__}"
        )
    (tx, ty), (vx, vy), (sx, sy) = (split_pair(x, y, s) for (x, y), s in zip(obj, SPLITS, strict=True))
    return RawMNIST(tx, ty, vx, vy, sx, sy)


def _check_npz(members: dict[str, Member]) -> None:
    """Refuse anything but Keras' four arrays at MNIST's sizes, before one is read."""
    if sorted(members) != sorted(NPZ_KEYS):
        raise Invalid(
            f"npz holds {', '.join(sorted(members)) or 'nothing'}; expected exactly "
            f"{', '.join(NPZ_KEYS)} (Keras' mnist.npz layout)"
        )
    for name, m in members.items():
        limit = MAX_EXAMPLES if name.endswith("train") else MAX_TEST
        wanted = "(N, 784) or (N, 28, 28)" if name.startswith("x") else "(N,)"
        ok_shape = m.shape[1:] in ((SIDE, SIDE), (PIXELS,)) if name.startswith("x") else len(m.shape) == 1
        if not ok_shape or not m.shape or m.dtype.kind not in "iuf":
            raise Invalid(f"npz declares {m.describe()}, expected {wanted} numbers")
        if m.shape[0] > limit:
            raise Invalid(f"npz declares {m.describe()}: more than MNIST's {limit:,} examples")


def parse_npz(data: bytes) -> RawMNIST:
    """Keras layout (x_train, y_train, x_test, y_test); valid = last 1/6 of train."""
    try:
        arrays = read_npz(io.BytesIO(data), _check_npz)
    except (Invalid, Refused) as exc:
        raise Invalid(str(exc)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a damaged zip raises many types (BadZipFile, NotImplementedError, zlib.error...)
        raise Invalid(f"not a readable npz archive ({type(exc).__name__}: {exc})") from exc
    return from_train_test(*(arrays[k] for k in NPZ_KEYS))


def parse_idx(data: bytes) -> np.ndarray:
    """One IDX file of unsigned bytes: images ``(N, 28, 28)`` or labels ``(N,)`` (read-only)."""
    if len(data) < 4 or data[:2] != b"\0\0":
        raise Invalid("not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code != IDX_UBYTE:
        raise Invalid(f"IDX element type 0x{code:02x} is not supported (only unsigned bytes)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise Invalid("truncated (the IDX header is incomplete)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    need, have = prod(dims), len(data) - header
    if have < need:
        raise Invalid(f"truncated: {have:,} of {need:,} data bytes for shape {dims}")
    if have > need:
        raise Invalid(f"{have - need:,} unexpected bytes after the data for shape {dims}")
    try:
        return np.frombuffer(data, np.uint8, count=need, offset=header).reshape(dims)
    except ValueError as exc:  # an empty shape whose other sizes overflow numpy's limits
        raise Invalid(f"impossible shape {dims} ({exc})") from exc
