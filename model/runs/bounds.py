"""What a replay or a rewind of a record may do, decided from the checked record before any step.

``check_replayable`` refuses (one ``RunsError`` line naming the file) a record with a line that did
not check out or was not read (its interventions are the replay), one that trained on more
examples than the data has, and a rewind to a step the record never reached. ``StepBudget`` stops
a replay that would run more steps than the record shows were trained (after a load whose file is
gone, say). ``replay_threads`` is the record's BLAS thread count (``recorded_threads``), capped like
``--threads``.
``load_digest`` hashes a replayed ``load``'s file through the regular-file reader, size capped.
Leaves out replaying itself (``model.run.replay``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from model.printable import printable
from model.runs.reader import RunRecord
from model.runs.store import RunsError
from model.safe_read import TooBig, open_regular, size_text
from model.threads import cpu_count

#: A checkpoint of the largest network with the longest stale ring is about 350 MiB.
MAX_LOAD_BYTES = 1 << 30
#: What ran a run, and so how it can be replayed.
SOURCES = ("app", "train", "experiments")


def check_replayable(record: RunRecord, train_size: int, stop_at: int | None = None) -> None:
    """RunsError unless ``record`` can be replayed on data of ``train_size`` training examples
    (to step ``stop_at``, when given: a rewind)."""
    where = printable(str(record.folder / "metrics.jsonl"))
    if not record.complete:
        raise RunsError(f"{printable(str(record.folder))}: {record.skipped_note()}; a replay needs every line")
    source = record.meta.get("source")
    if "hparams" not in record.meta:
        raise RunsError(f"{printable(str(record.folder / 'run.json'))}: no hparams, nothing to replay from")
    if source not in SOURCES:
        raise RunsError(f"{record.run_id}: cannot replay a run from {source!r}")
    wanted = int(record.meta.get("source_size") or record.meta.get("train_size") or train_size)
    if wanted > train_size:
        raise RunsError(f"{record.run_id} trained on {wanted:,} examples; this data has only {train_size:,}")
    if stop_at is not None and stop_at > record.reach:
        reached = f"reaches step {record.reach:,}" if record.reach else "has no progress to rewind to"
        raise RunsError(f"{where}: the record {reached}; cannot rewind to step {stop_at:,}")


class StepBudget:
    """Counts a replay's steps; RunsError once it has run more than the record shows were trained."""

    def __init__(self, record: RunRecord) -> None:
        self.limit = record.steps_run + record.point_every
        self.steps = 0
        self.run_id = record.run_id

    def __call__(self, *_: object) -> None:
        """Call after every replayed step."""
        self.steps += 1
        if self.steps > self.limit:
            raise RunsError(
                f"{self.run_id}: the replay ran past the {self.limit - 1:,} steps the record shows; "
                "it does not reproduce this record"
            )


def recorded_threads(record: RunRecord) -> int:
    """The BLAS thread count the run used (1 when unknown or not a number)."""
    text = str((record.meta.get("machine") or {}).get("blas_threads") or "")
    return max(1, int(text)) if text.isdigit() and len(text) <= 4 else 1


def replay_threads(record: RunRecord) -> int:
    """``recorded_threads``, at most this machine's CPUs (as ``--threads`` is capped)."""
    return min(recorded_threads(record), cpu_count())


def load_digest(path: Path) -> str:
    """sha256 of a replayed ``load``'s file: a regular file of at most ``MAX_LOAD_BYTES``
    (OSError for anything else, TooBig for a larger one), read in chunks."""
    h = hashlib.sha256()
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_LOAD_BYTES:
            raise TooBig(f"is {size_text(size)}, more than a checkpoint can be ({size_text(MAX_LOAD_BYTES)})")
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
