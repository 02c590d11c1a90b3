"""Unpickle the classic MNIST pickle as data: numeric arrays in tuples, and nothing else.

No numpy callable is ever handed to the unpickler. ``find_class`` gives out stand-ins that
only record what the file declares: ``_reconstruct(ndarray, (0,), b'b')`` and ``dtype(code, ...)``
(the structure numpy writes with pickle protocols 2-4, which is what ``mnist.pkl.gz`` holds),
``_frombuffer(bytes, dtype, shape, order)`` (protocol 5) and a latin-1-only ``_codecs.encode``.
The recorded state is checked (a plain numeric dtype such as ``f4`` or ``i8``; no object,
structured or sub-array dtype; no dtype flags from the file; a shape whose byte count is exactly
the buffer's length) and only then turned into an array with ``np.frombuffer`` over the file's
own bytes, so nothing is allocated beyond the file and no pointer or stride comes from it.
Leaves out: gzip, the MNIST layout (formats.py).
"""

from __future__ import annotations

import io
import pickle
from math import prod
from typing import Any

import numpy as np

from .errors import DataError

#: dtype codes a pickled MNIST array may have (booleans, integers, floats; any byte order).
NUMERIC_CODES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
#: Numpy's dtype state for a plain scalar type: (version, byte order, subarray, names, fields,
#: elsize, alignment, flags) with everything but the byte order fixed.
_PLAIN_DTYPE_TAIL = (None, None, None, -1, -1, 0)
_BYTE_ORDERS = frozenset({"<", ">", "|", "="})
MAX_NDIM = 3


class Refused(ValueError):
    """The pickle holds something that is not a plain numeric array."""


def _text(value: object) -> str | None:
    """A short pickled token as text: str as is, bytes as latin-1; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes) and len(value) <= 16:
        return value.decode("latin-1")
    return None


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to: only usable as ``_reconstruct``'s first argument."""

    def __call__(self, *args: object) -> None:
        raise Refused("numpy.ndarray(shape, dtype, buffer) is not how numpy pickles an array")


NDARRAY = _NdarrayMarker()


class PendingDtype:
    """A dtype the file declares: a numeric code, then (by BUILD) its byte order."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.order: str | None = None

    def __setstate__(self, state: object) -> None:
        if self.order is not None:
            raise Refused("a dtype's state is set twice")
        if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3):
            raise Refused("a dtype state that numpy does not write for plain numbers")
        order = _text(state[1])
        if order not in _BYTE_ORDERS or tuple(state[2:]) != _PLAIN_DTYPE_TAIL:
            raise Refused("a dtype with fields, sub-arrays or flags (only plain numbers are data)")
        self.order = order

    def resolve(self) -> np.dtype[Any]:
        """The numpy dtype, once the byte order has been set."""
        if self.order is None:
            raise Refused(f"dtype {self.code} without its state")
        order = "=" if self.order == "|" else self.order
        return np.dtype(order + self.code)


def _dtype(code: object, align: object = False, copy: object = True) -> PendingDtype:
    """Stand-in for ``numpy.dtype(code, align, copy)`` accepting only NUMERIC_CODES."""
    text = _text(code)
    flags_ok = type(align) in (bool, int) and align == 0 and type(copy) in (bool, int) and copy == 1
    if text not in NUMERIC_CODES or not flags_ok:
        raise Refused(f"dtype {code!r} is not a plain numeric type")
    return PendingDtype(text)


def _is_shape(shape: object) -> bool:
    """True for a tuple of at most MAX_NDIM non-negative ints."""
    return isinstance(shape, tuple) and len(shape) <= MAX_NDIM and all(type(n) is int and n >= 0 for n in shape)


class PendingArray:
    """An array the file declares; BUILD gives its shape, dtype and bytes, ``array`` makes it."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: object) -> None:
        if self.array is not None:
            raise Refused("an array's state is set twice")
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise Refused("an array state that numpy does not write")
        _, shape, dtype, fortran, raw = state
        if not _is_shape(shape):
            raise Refused(f"array shape {shape!r} is not up to {MAX_NDIM} sizes")
        if not isinstance(dtype, PendingDtype) or type(fortran) not in (bool, int) or fortran not in (0, 1):
            raise Refused("an array without a plain numeric dtype")
        self.array = _from_bytes(raw, dtype, shape, bool(fortran))


def _from_bytes(raw: object, dtype: PendingDtype, shape: tuple[int, ...], fortran: bool) -> np.ndarray:
    """A read-only array over ``raw`` whose byte count must be exactly what shape and dtype declare."""
    if isinstance(raw, str):  # a Python 2 pickle read with encoding='latin1'
        raw = raw.encode("latin-1")
    if not isinstance(raw, (bytes, bytearray)):
        raise Refused("an array whose data is not a byte string")
    resolved = dtype.resolve()
    need = prod(shape) * resolved.itemsize
    if need != len(raw):
        raise Refused(f"an array declared as {shape} {resolved} ({need:,} bytes) over {len(raw):,} bytes of data")
    return np.frombuffer(raw, resolved).reshape(shape, order="F" if fortran else "C")


def _reconstruct(cls: object, shape: object, code: object) -> PendingArray:
    """Stand-in for ``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')``."""
    if cls is not NDARRAY or shape != (0,) or _text(code) != "b":
        raise Refused("_reconstruct is only allowed as numpy writes it for an ndarray")
    return PendingArray()


def _frombuffer(raw: object, dtype: object, shape: object, order: object) -> np.ndarray:
    """Stand-in for numpy's ``_frombuffer`` (pickle protocol 5): the same checks as BUILD's."""
    if not isinstance(dtype, PendingDtype) or order not in ("C", "F") or not _is_shape(shape):
        raise Refused("_frombuffer is only allowed as numpy writes it for a plain numeric array")
    return _from_bytes(raw, dtype, shape, order == "F")  # type: ignore[arg-type]  # _is_shape checked it


def _latin1_encode(text: object, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` that only turns latin-1 text back into bytes."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise Refused("_codecs.encode is only allowed for latin-1 text")
    return text.encode("latin-1", errors="strict")


_ALLOWED: dict[tuple[str, str], Any] = {("numpy", "ndarray"): NDARRAY, ("numpy", "dtype"): _dtype}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _frombuffer
_ALLOWED[("_codecs", "encode")] = _latin1_encode


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can declare numeric arrays and plain containers, and nothing else."""

    def __init__(self, file: io.BufferedIOBase | io.BytesIO, where: str) -> None:
        # 'bytes' keeps Python 2 strings as bytes, so array data is never decoded and re-encoded.
        super().__init__(file, encoding="bytes")
        self._where = where

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._where}: refusing to load it: the pickle asks for {module}.{name}, which "
                "is not part of the classic MNIST pickle (the file may be malicious); use a trusted copy"
            ) from None

    def persistent_load(self, pid: object) -> Any:
        raise DataError(f"{self._where}: refusing to load it: the pickle uses persistent ids")


def _arrays(obj: object, depth: int = 0) -> object:
    """``obj`` with every PendingArray replaced by its array; Refused for anything not data."""
    if isinstance(obj, PendingArray):
        if obj.array is None:
            raise Refused("an array without its state")
        return obj.array
    if isinstance(obj, np.ndarray):  # only _frombuffer makes these
        return obj
    if isinstance(obj, (tuple, list)) and depth < 4:
        return tuple(_arrays(item, depth + 1) for item in obj)
    if isinstance(obj, (int, float, str, bytes)) or obj is None:
        return obj
    raise Refused(
        f"expected a pickled (train, valid, test) tuple of (images, labels) pairs, found a {type(obj).__name__}"
    )


def safe_loads(data: bytes, where: str) -> object:
    """Unpickle ``data`` (Python 2 or 3, protocols 2-5) into tuples of read-only numeric arrays.

    Arrays are views of ``data`` (no copy). Raises DataError for anything else in the file.
    """
    try:
        return _arrays(RestrictedUnpickler(io.BytesIO(data), where).load())
    except DataError:
        raise
    except Refused as exc:
        raise DataError(f"{where}: refusing to load it: {exc}; use a trusted copy of the classic file") from exc
    except RecursionError as exc:
        raise DataError(f"{where}: the pickle is nested too deeply; use a trusted copy") from exc
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, TypeError, MemoryError...
        raise DataError(
            f"{where}: not a readable pickle of numpy arrays ({type(exc).__name__}: {exc}); "
            "re-download it or pass --data PATH to a good copy"
        ) from exc
