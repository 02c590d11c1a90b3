"""Unpickle numpy arrays without ever executing code from the file.

A ``pickle.Unpickler`` whose ``find_class`` hands out only the few numpy callables that rebuild
arrays, dtypes and scalars (under both the numpy 1 ``numpy.core`` and numpy 2 ``numpy._core``
names) and a latin-1-only stand-in for ``_codecs.encode`` (used by Python 3 protocol-2 pickles).
Any other global is refused with a DataError naming it. Leaves out: gzip, layout checks.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]

from .errors import DataError


def _latin1_encode(text: object, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` that only turns latin-1 text back into bytes."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin-1 text")
    return text.encode("latin-1", errors="strict")


_ALLOWED: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _multiarray.scalar
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = getattr(_numeric, "_frombuffer")  # noqa: B009
_ALLOWED[("_codecs", "encode")] = _latin1_encode


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can build numpy arrays and plain containers, and nothing else."""

    def __init__(self, file: io.BufferedIOBase | io.BytesIO, where: str) -> None:
        super().__init__(file, encoding="latin1")
        self._where = where

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._where}: refusing to load it: the pickle asks for {module}.{name}, which "
                "is not part of a numpy array (the file may be malicious); use a trusted copy"
            ) from None

    def persistent_load(self, pid: object) -> Any:
        raise DataError(f"{self._where}: refusing to load it: the pickle uses persistent ids")


def safe_loads(data: bytes, where: str) -> object:
    """Unpickle ``data`` (Python 2 or 3, latin-1 strings) allowing only numpy array globals.

    Raises DataError for a refused global or a damaged pickle.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), where).load()
    except DataError:
        raise
    except RecursionError as exc:
        raise DataError(f"{where}: the pickle is nested too deeply; use a trusted copy") from exc
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, TypeError, MemoryError...
        raise DataError(
            f"{where}: not a readable pickle of numpy arrays ({type(exc).__name__}: {exc}); "
            "re-download it or pass --data PATH to a good copy"
        ) from exc
