"""Arrays two processes share through one memory-mapped file, for the training step's round trip.

Sending a 784-100-10 net's weights and a batch through a pipe costs ~1 ms a step (more than the
step itself); writing them into a mapping both processes hold costs a copy of ~0.5 MB. The file
lives in ``/dev/shm`` where there is one (memory, not disk) and is unlinked once both sides have
mapped it, so nothing is left behind even if a process dies. Leaves out what the arrays mean.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

ALIGN = 64


@dataclass(frozen=True)
class Slot:
    """One array in the file: name, shape, dtype (a numpy name) and byte offset."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    offset: int


@dataclass(frozen=True)
class Layout:
    """Where every array sits in the file at ``path`` of ``size`` bytes (picklable: sent to the child)."""

    path: str
    size: int
    slots: tuple[Slot, ...]


def plan(specs: list[tuple[str, tuple[int, ...], Any]], path: str = "") -> Layout:
    """Offsets for ``(name, shape, dtype)`` arrays, each aligned to ``ALIGN`` bytes."""
    slots, offset = [], 0
    for name, shape, dtype in specs:
        dt = np.dtype(dtype)
        slots.append(Slot(name, tuple(int(n) for n in shape), dt.str, offset))
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        offset += -(-max(nbytes, 1) // ALIGN) * ALIGN
    return Layout(path, max(offset, ALIGN), tuple(slots))


class SharedArrays:
    """The arrays of a ``Layout``, mapped from its file: ``arrays[name]``."""

    def __init__(self, layout: Layout, buffer: mmap.mmap) -> None:
        self.layout = layout
        self._buffer = buffer
        self.arrays: dict[str, NDArray[Any]] = {s.name: _array(buffer, s) for s in layout.slots}

    @classmethod
    def create(cls, specs: list[tuple[str, tuple[int, ...], Any]]) -> SharedArrays:
        """A new file (in /dev/shm if it exists) sized for ``specs``, mapped here."""
        folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        fd, path = tempfile.mkstemp(prefix="mnist-tui-student-", dir=folder)
        try:
            layout = plan(specs, path)
            os.ftruncate(fd, layout.size)
            buffer = mmap.mmap(fd, layout.size)
        except BaseException:
            os.unlink(path)
            raise
        finally:
            os.close(fd)
        return cls(layout, buffer)

    @classmethod
    def attach(cls, layout: Layout) -> SharedArrays:
        """Map the file another process created."""
        fd = os.open(layout.path, os.O_RDWR)
        try:
            if os.fstat(fd).st_size != layout.size:
                raise OSError(f"{layout.path} is not the size its layout says")
            buffer = mmap.mmap(fd, layout.size)
        finally:
            os.close(fd)
        return cls(layout, buffer)

    def unlink(self) -> None:
        """Remove the file's name (both mappings stay valid)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.layout.path)

    def close(self) -> None:
        """Unmap the file, or, while an array of it is still in use (another thread's step), leave
        the mapping to go with the last such array."""
        self.arrays = {}
        with contextlib.suppress(BufferError):  # an array still holds the buffer
            self._buffer.close()


def _array(buffer: mmap.mmap, slot: Slot) -> NDArray[Any]:
    """``slot``'s array in ``buffer``. ``np.frombuffer`` holds the buffer while the array or any
    view of it lives, so ``buffer.close()`` raises BufferError then. An ``np.ndarray(buffer=...)``
    does not hold it: closing would unmap memory the array still points at, and the next access
    would crash the process."""
    count = int(np.prod(slot.shape, dtype=np.int64))
    return np.frombuffer(buffer, np.dtype(slot.dtype), count, slot.offset).reshape(slot.shape)
