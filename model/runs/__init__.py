"""Run records: every training run written to its own folder, and read back.

A run folder holds ``run.json`` (what the run started from: id, time, hyperparameters, seed,
data tag, versions, machine), ``metrics.jsonl`` (one JSON object a line: progress points and
events, appended as they happen) and ``final.npz`` (the last weights, a checkpoint). The writer
is ``RunRecorder``; ``read_run`` and ``summarize`` read a folder back (``model.run.replay``
re-runs a record through the run core and checks the final weights bit for bit);
``tensorboard.TensorBoardSink`` writes the same lines as TensorBoard events (the tensorboard extra).
"""

from model.runs.reader import RunRecord, read_run
from model.runs.store import RUNS_ENV, RunsError, find_run, list_run_dirs, runs_dir, short_id
from model.runs.summary import RunSummary, summarize
from model.runs.writer import RunRecorder, data_tag

__all__ = [
    "RUNS_ENV",
    "RunRecord",
    "RunRecorder",
    "RunSummary",
    "RunsError",
    "data_tag",
    "find_run",
    "list_run_dirs",
    "read_run",
    "runs_dir",
    "short_id",
    "summarize",
]
