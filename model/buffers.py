"""Named scratch arrays that are reused from step to step and reallocated only when the
shape or dtype they are asked for changes (a new batch size, a resized or recast model).

The hot training loop writes into these instead of allocating; whoever holds a
``Buffers`` owns its arrays, and the next request under the same name overwrites them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[Any]


class Buffers:
    """Scratch arrays by name: ``get`` by shape and dtype, ``like`` a set of template arrays."""

    def __init__(self) -> None:
        self._arrays: dict[str, Array] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: DTypeLike) -> Array:
        """The array called ``name``: uninitialised, C order, reallocated if shape or dtype differ."""
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != np.dtype(dtype):
            a = self._arrays[name] = np.empty(shape, dtype)
        return a

    def like(self, templates: Mapping[str, Array], prefix: str = "") -> dict[str, Array]:
        """One array per template, keyed like ``templates``: same shape, dtype and memory layout
        (``np.empty_like``), reallocated only when a template's shape or dtype changes."""
        out: dict[str, Array] = {}
        for key, t in templates.items():
            name = prefix + key
            a = self._arrays.get(name)
            if a is None or a.shape != t.shape or a.dtype != t.dtype:
                a = self._arrays[name] = np.empty_like(t)
            out[key] = a
        return out
