"""The arrays the trainer shares with the child that runs a student's grads_batch (``model.exercise.shared``)."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from model.exercise.shared import ALIGN, SharedArrays, plan

SPECS = [("W1", (5, 10), np.float32), ("y", (7,), np.int64), ("empty", (0, 3), np.float32)]


def test_each_array_starts_on_an_aligned_offset_and_fits_the_file() -> None:
    layout = plan(SPECS)
    assert [s.name for s in layout.slots] == ["W1", "y", "empty"]
    assert all(s.offset % ALIGN == 0 for s in layout.slots)
    assert layout.slots[-1].offset < layout.size


def test_what_one_side_writes_the_other_reads() -> None:
    mine = SharedArrays.create(SPECS)
    try:
        theirs = SharedArrays.attach(mine.layout)
        mine.arrays["W1"][...] = np.arange(50, dtype=np.float32).reshape(5, 10)
        theirs.arrays["y"][...] = 7
        assert np.array_equal(theirs.arrays["W1"], np.arange(50, dtype=np.float32).reshape(5, 10))
        assert mine.arrays["y"].tolist() == [7] * 7 and mine.arrays["empty"].shape == (0, 3)
        assert all(a.flags.writeable for a in mine.arrays.values())
        theirs.close()
    finally:
        mine.unlink()
        mine.close()


def test_closing_while_another_thread_still_holds_an_array_keeps_the_memory_mapped() -> None:
    """Quitting closes the shared arrays from the UI thread while the training thread may be
    copying into them: the mapping must outlive every array of it, or that copy crashes the app."""
    shared = SharedArrays.create(SPECS)
    shared.unlink()
    buffer = weakref.ref(shared._buffer)
    held = shared.arrays["W1"][1:3]  # what the training thread holds: a view of one array
    shared.close()
    assert shared.arrays == {}
    assert not shared._buffer.closed, "the file was unmapped under an array still in use"
    held[...] = 3.0  # still mapped: writing is safe
    assert float(held.sum()) == 60.0
    del held, shared
    gc.collect()
    assert buffer() is None, "the mapping outlived its last array"
