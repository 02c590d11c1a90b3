"""Replay a recorded run headless and check it reaches the recorded final weights bit for bit.

The record holds the starting settings and seed (run.json) and, in order, every intervention
(metrics.jsonl): hyperparameter changes with the step after which they applied, resets and loads
with the step after which they happened. ``replay`` builds a fresh ``Trainer`` from the settings,
steps it to each intervention and applies it, compares the loss of every recorded progress point
with its own on the way (so a departure is found at the step it happens, after the event it
follows), and at the end hashes its weights against the recorded checkpoint's.

Runs of the study went through ``fit`` keeping their best-validation weights, so they are replayed
through ``fit``; runs of ``train`` and the app end on their live weights and are replayed step by
step to the recorded end. What cannot be reproduced is said
up front in ``ReplayResult.caveats``: another BLAS thread count, other data, a loaded checkpoint
that is missing or changed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.checkpoint import CheckpointError, load_checkpoint
from model.config import HyperParams
from model.printable import printable
from model.runs.bounds import StepBudget, check_replayable, load_digest
from model.runs.reader import RunRecord
from model.runs.store import RunsError
from model.safe_read import TooBig
from model.trainer import StepMetrics, Trainer

PARAM_ORDER = ("W1", "b1", "W2", "b2")


def params_hash(params: dict[str, NDArray[Any]]) -> str:
    """sha256 over W1, b1, W2, b2 (dtype, shape and bytes): equal hashes, bit-identical weights."""
    h = hashlib.sha256()
    for name in PARAM_ORDER:
        a = np.ascontiguousarray(params[name])
        h.update(f"{name}{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class ReplayResult:
    """What a replay found. ``departed_at``: the first step whose loss differs from the record."""

    recorded_hash: str | None
    replayed_hash: str
    steps: int
    interventions: int
    departed_at: int | None = None
    departed_after: str = ""  # the last intervention before the departure ("" : none, from the start)
    caveats: list[str] = field(default_factory=list)
    trainer: Trainer | None = None  # where the replay ended

    @property
    def identical(self) -> bool:
        return self.recorded_hash == self.replayed_hash and self.departed_at is None


def _describe(e: dict[str, Any]) -> str:
    if e["event"] == "hparam":
        return f"{e['field']} {e['old']} -> {e['new']} after step {e['step']}"
    return f"{e['event']} after step {e.get('after_step', e['step'])}"


class _Checker:
    """Compares each replayed step's loss with the record's progress point for that step."""

    def __init__(self, expected: list[tuple[int, float]]) -> None:
        self.expected = expected  # (step, loss) in record order
        self.i = 0
        self.departed_at: int | None = None
        self.last_event = ""
        self.departed_after = ""

    def __call__(self, m: StepMetrics) -> None:
        if self.departed_at is not None or self.i >= len(self.expected):
            return
        step, loss = self.expected[self.i]
        if m.step != step:
            return
        self.i += 1
        if not (loss == m.loss or (math.isnan(loss) and math.isnan(m.loss))):
            self.departed_at, self.departed_after = step, self.last_event


def replay(
    record: RunRecord,
    data: Any,
    *,
    data_tag: str = "",
    on_step: Callable[[StepMetrics], Any] | None = None,
    stop_at: int | None = None,
) -> ReplayResult:
    """Re-run ``record`` on ``data`` (train_x/train_y/valid_x/valid_y/test_x/test_y) headless.

    ``stop_at``: stop after that many steps (the interventions before it applied) and leave the
    trainer in ``ReplayResult.trainer``, to start a new run from there (``rewind``).
    RunsError (one line) for a record that cannot be replayed at all (a resumed run whose starting
    checkpoint is gone, an unknown source).
    """
    check_replayable(record, len(data.train_x), stop_at)
    meta = record.meta
    hp = HyperParams.from_dict(meta["hparams"])
    caveats: list[str] = []
    if data_tag and meta.get("data") and meta["data"] != data_tag:
        caveats.append(f"other data: the run saw data {meta['data']}, this is {data_tag}")
    n = int(meta.get("source_size") or meta.get("train_size") or len(data.train_x))
    trainer = Trainer(
        (data.train_x[:n], data.train_y[:n]),
        hp,
        eval_sets={"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)},
        angle_every=int(meta.get("angle_every", 10)),
    )
    if int(meta.get("start_step", 0)):
        start = meta.get("resumed_from")
        if not start or not Path(start).is_file():
            raise RunsError(f"{record.run_id} continued {start or 'a checkpoint'}, which is not there to start from")
        try:
            load_checkpoint(start).apply_to(trainer)
        except CheckpointError as exc:
            raise RunsError(f"{record.run_id} continued {start}, which cannot start it now: {exc}") from None
    lines = record.lines
    trained_with = next((e for e in lines if e.get("kind") == "event" and e.get("event") == "backprop"), None)
    if trained_with is not None:  # mnist-tui --backprop FILE: the student's gradient is not ours to replay
        caveats.append(f"the run trained with the gradient of {trained_with.get('file')}; the replay uses backprop")
    points = [p for p in lines if p.get("kind") == "progress" and p.get("loss") is not None]
    expected = [(int(p["step"]), float(p["loss"])) for p in points]
    checker = _Checker(expected)
    trainer.on_step.append(checker)
    trainer.on_step.append(StepBudget(record))  # a load whose file is gone cannot make it run on and on
    if on_step is not None:
        trainer.on_step.append(on_step)
    events = [e for e in lines if e.get("kind") == "event" and e.get("event") in ("hparam", "reset", "load", "end")]
    interventions = sum(e["event"] != "end" for e in events)
    source = meta.get("source")
    if stop_at is not None:  # rewinding: step by step to stop_at, whatever the source
        if source not in ("app", "train", "experiments"):
            raise RunsError(f"{record.run_id}: cannot replay a run from {source!r}")
        end = max((int(e.get("after_step", e["step"])) for e in events if e["event"] == "end"), default=None)
        if end is None and expected:
            end = expected[-1][0]
        if end is not None and stop_at > end:
            raise RunsError(f"{record.run_id} ended after step {end:,}: cannot rewind to step {stop_at:,}")
        events = [e for e in events if e["event"] != "end" and int(e.get("after_step", e["step"])) < stop_at]
        events.append({"event": "end", "step": stop_at})
        source = "app"
    if source == "experiments":  # the study keeps its best-validation weights
        from model.fit import fit

        fit(trainer, hp.epochs, keep_best=True)
    elif source in ("app", "train"):  # the final checkpoint holds the live weights: step to the end
        if not any(e["event"] == "end" for e in events) and expected:  # killed: as far as the record goes
            events.append({"event": "end", "step": expected[-1][0]})
        for e in events:
            target = int(e.get("after_step", e["step"]))
            while trainer.state.step < target:
                trainer.step()
            if e["event"] == "hparam":
                trainer.set_hparams(trainer.hp.validated(**{e["field"]: e["new"]}))
            elif e["event"] == "reset":
                trainer.reset(HyperParams.from_dict(e["hparams"]))
            elif e["event"] == "load":
                _load(trainer, e, caveats)
            if e["event"] != "end":
                checker.last_event = _describe(e)
    else:
        raise RunsError(f"{record.run_id}: cannot replay a run from {source!r}")
    recorded = None
    try:
        recorded = params_hash(load_checkpoint(record.folder / "final.npz").params)
    except CheckpointError:
        if stop_at is None:
            caveats.append("the record has no readable final checkpoint to compare with (the run was killed?)")
    return ReplayResult(
        recorded,
        params_hash(trainer.model.params),
        trainer.state.step,
        interventions,
        checker.departed_at,
        checker.departed_after,
        caveats,
        trainer,
    )


def _load(trainer: Trainer, e: dict[str, Any], caveats: list[str]) -> None:
    """Apply a recorded load from its file (a regular file of bounded size, a valid checkpoint), or
    say why not and go on from the weights the replay has."""
    path = Path(e.get("path", ""))
    shown = printable(str(path))
    try:
        digest = load_digest(path)
        if e.get("sha256") and digest != e["sha256"]:
            caveats.append(f"the run loaded {shown}, which has changed since")
        load_checkpoint(path).apply_to(trainer)
    except FileNotFoundError:
        caveats.append(f"the run loaded {shown}, which is gone: the replay goes on from the weights it had")
    except (OSError, TooBig, CheckpointError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        caveats.append(f"the run loaded {shown}, which cannot be loaded now ({why}): the replay goes on without it")


def rewind(record: RunRecord, data: Any, step: int, out: Path, data_tag: str = "") -> tuple[Path, ReplayResult]:
    """Replay ``record`` to ``step`` and save that state as a checkpoint at ``out`` (a run can then
    continue from it with other settings: "rewind and try another lr"). RunsError for a bad step."""
    from model.checkpoint import save_checkpoint

    if step < 1:
        raise RunsError(f"--at must be a step >= 1 (got {step})")
    result = replay(record, data, data_tag=data_tag, stop_at=step)
    assert result.trainer is not None
    meta = {"rewound_from": record.run_id, "rewound_at": step}
    return save_checkpoint(out, result.trainer, meta=meta), result
