"""Replay a recorded run headless and check it reaches the recorded final weights bit for bit.

The record holds the run's start (run.json: settings, seed, policy, and for a resumed run the
checkpoint it started from with its sha256 and the changes applied on top) and, in order, every
command that changed its numbers (metrics.jsonl: hyperparameter changes, resets, loads, each
with the step it followed). ``replay`` starts the same trainer from the same start, wraps it in
the same run core (``model.run.Run``) and feeds it those commands at those steps: the run
reproduces by construction. On the way it compares the loss of every recorded progress point
with its own (so a departure is found at the step it happens, after the command it follows) and
at the end hashes its weights against the recorded checkpoint's.

The record is hostile input: it comes checked from ``model.runs.read_run`` (every field of both
files), and ``model.runs.bounds`` decides up front what a replay of it may do (every line read,
a known source, no more examples than the data has, a rewind within the steps it reaches) and
stops one that runs past the steps the record shows were trained. A start that cannot be
reproduced is refused up front (``StartChanged``: the starting checkpoint is gone or changed).
What else cannot be reproduced is said in ``ReplayResult.caveats``: another BLAS thread count,
other data, a loaded checkpoint that is missing, changed or no longer readable (it is read
only as a regular file of bounded size).
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

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import ARCHITECTURE_FIELDS, HyperParams
from model.printable import printable
from model.run import Change, Command, Evaluate, Load, Policy, Reset, Run, start_trainer
from model.run import events as ev
from model.runs.bounds import SOURCES, StepBudget, check_replayable, load_digest
from model.runs.reader import RunRecord
from model.runs.store import RunsError
from model.safe_read import TooBig
from model.state import RunState
from model.trainer import StepMetrics, Trainer

PARAM_ORDER = ("W1", "b1", "W2", "b2")
#: Record events that are commands a replay feeds back: the ones that change the numbers, and
#: the evaluations asked for (which change none, but a listener judging the run sees them).
COMMAND_EVENTS = ("hparam", "reset", "load", "evaluate")


class StartChanged(RunsError):
    """The checkpoint a run started from is gone or has changed: no replay can start where it did."""


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
    departed_after: str = ""  # the last command before the departure ("" : none, from the start)
    caveats: list[str] = field(default_factory=list)
    trainer: Trainer | None = None  # where the replay ended

    @property
    def identical(self) -> bool:
        return self.recorded_hash == self.replayed_hash and self.departed_at is None


@dataclass(frozen=True)
class Recorded:
    """A command as the record has it: the step it followed and what it says."""

    after: int
    command: Command | None  # None: the end of the run
    text: str
    sha256: str = ""  # of the checkpoint a load read


def _recorded(e: dict[str, Any]) -> Recorded:
    """The command an event line records (its ``after_step``, else its ``step``)."""
    after = int(e.get("after_step", e["step"]))
    kind = e["event"]
    if kind == "hparam":
        return Recorded(
            after, Change({e["field"]: e["new"]}), f"{e['field']} {e.get('old')} -> {e['new']} after step {after}"
        )
    if kind == "reset":
        return Recorded(after, Reset(), f"reset after step {after}")
    if kind == "load":
        return Recorded(after, Load(str(e.get("path", ""))), f"load after step {after}", str(e.get("sha256") or ""))
    if kind == "evaluate":
        return Recorded(after, Evaluate(), f"evaluation after step {after}")
    return Recorded(after, None, "end")


class _Checker:
    """Compares each replayed step's loss with the record's progress point for that step."""

    def __init__(self, expected: list[tuple[int, float]]) -> None:
        self.expected = expected  # (step, loss) in record order
        self.i = 0
        self.departed_at: int | None = None
        self.last_command = ""
        self.departed_after = ""

    def __call__(self, event: ev.RunEvent) -> None:
        if not isinstance(event, ev.Stepped) or self.departed_at is not None or self.i >= len(self.expected):
            return
        m: StepMetrics = event.metrics
        step, loss = self.expected[self.i]
        if m.step != step:
            return
        self.i += 1
        if not (loss == m.loss or (math.isnan(loss) and math.isnan(m.loss))):
            self.departed_at, self.departed_after = step, self.last_command


def starting_state(record: RunRecord) -> tuple[RunState | None, dict[str, Any], list[str]]:
    """The checkpoint a resumed run started from (None for a fresh run), the changes applied on top
    of it, and caveats; StartChanged when that checkpoint is gone or is not the file it was."""
    meta = record.meta
    caveats: list[str] = []
    start = meta.get("start") if isinstance(meta.get("start"), dict) else None
    path = (start or {}).get("checkpoint") or (meta.get("resumed_from") if int(meta.get("start_step") or 0) else None)
    if not path:
        return None, {}, caveats
    try:
        state = load_checkpoint(path)
    except CheckpointError as exc:
        raise StartChanged(f"run {record.run_id} started from {path}, which cannot be read now: {exc}") from None
    expected = (start or {}).get("sha256")
    if not expected:
        caveats.append(f"the record does not say which file {path} was (no sha256): it may have changed since")
    elif state.sha256 != expected:
        raise StartChanged(
            f"run {record.run_id} started from {path}, which has changed since "
            f"(sha256 {expected[:12]}… then, {state.sha256[:12]}… now): a replay cannot start where the run did"
        )
    if start is not None:
        return state, dict(start.get("changes") or {}), caveats
    first = HyperParams.from_dict(meta["hparams"]).to_dict()  # an older record: its first-step settings
    changes = {k: v for k, v in first.items() if k not in ARCHITECTURE_FIELDS and getattr(state.hp, k) != v}
    return state, changes, caveats


def replay(
    record: RunRecord,
    data: Any,
    *,
    data_tag: str = "",
    stop_at: int | None = None,
    follow: Callable[[Run], object] | None = None,
) -> ReplayResult:
    """Re-run ``record`` on ``data`` (train_x/train_y/valid_x/valid_y/test_x/test_y) headless.

    ``stop_at``: stop after that many steps (the commands before it applied) and leave the
    trainer in ``ReplayResult.trainer``, to start a new run from there (``rewind``).
    ``follow``: called with the replayed run before its first step (to listen to it: a
    challenge judged again on the replay's own evaluations).
    RunsError (one line) for a record that cannot be replayed at all (a line that did not check
    out, an unknown source, more examples than ``data`` has, a rewind past what the record
    reaches, a start that is gone or changed: ``StartChanged``) or that runs past the steps it
    shows were trained.
    """
    check_replayable(record, len(data.train_x), stop_at)
    caveats: list[str] = []
    run = _same_start(record, data, caveats)
    if data_tag and record.meta.get("data") and record.meta["data"] != data_tag:
        caveats.append(f"other data: the run saw data {record.meta['data']}, this is {data_tag}")
    lines = record.lines  # every one checked (check_replayable: none was skipped)
    trained_with = next((e for e in lines if e.get("kind") == "event" and e.get("event") == "backprop"), None)
    if trained_with is not None:  # mnist-tui --backprop FILE: the student's gradient is not ours to replay
        caveats.append(f"the run trained with the gradient of {trained_with.get('file')}; the replay uses backprop")
    expected = [
        (int(p["step"]), float(p["loss"])) for p in lines if p.get("kind") == "progress" and p.get("loss") is not None
    ]
    checker = _Checker(expected)
    run.listen(checker)
    budget = StepBudget(record)  # a load whose file is gone cannot make it run on and on
    run.listen(lambda event: budget() if isinstance(event, ev.Stepped) else None)
    if follow is not None:
        follow(run)
    commands = [_recorded(e) for e in lines if e.get("kind") == "event" and e.get("event") in (*COMMAND_EVENTS, "end")]
    for c in _until(record, commands, expected, stop_at):
        while run.trainer.state.step < c.after:
            run.step()
        if c.command is not None:
            _feed(record, run, c, caveats)
            if not isinstance(c.command, Evaluate):  # a departure follows what changed the numbers
                checker.last_command = c.text
    if stop_at is None:
        run.close("replayed")  # a study run ends on its best weights, as it did
    trainer = run.trainer
    interventions = sum(c.command is not None and not isinstance(c.command, Evaluate) for c in commands)
    return ReplayResult(
        _recorded_hash(record, caveats if stop_at is None else []),
        params_hash(trainer.model.params),
        trainer.state.step,
        interventions,
        checker.departed_at,
        checker.departed_after,
        caveats,
        trainer,
    )


def _same_start(record: RunRecord, data: Any, caveats: list[str]) -> Run:
    """The run core at the recorded run's start: the same trainer (its settings and seed, or the
    checkpoint it resumed with the changes on top), the same policy, no record."""
    meta = record.meta
    if meta.get("source") not in SOURCES:
        raise RunsError(f"{record.run_id}: cannot replay a run from {meta.get('source')!r}")
    state, changes, said = starting_state(record)
    caveats += said
    rows = int(meta.get("source_size") or meta.get("train_size") or len(data.train_x))  # what hp.train_size picks from
    options = {"train_size": rows, "angle_every": _angle_every(meta)}
    try:
        trainer = start_trainer(data, HyperParams.from_dict(meta["hparams"]), state, changes, **options)
    except CheckpointError as exc:
        raise StartChanged(f"run {record.run_id}: {exc}") from None
    except ValueError as exc:  # settings that each check out but not together, or changes a resume cannot take
        raise RunsError(f"run {record.run_id} cannot start as recorded: {exc}") from None
    return Run(trainer, policy=_policy(meta))


def _recorded_hash(record: RunRecord, caveats: list[str]) -> str | None:
    """The final checkpoint's weights hash (None, and a caveat, when there is none to read)."""
    try:
        return params_hash(load_checkpoint(record.folder / "final.npz").params)
    except CheckpointError:
        caveats.append("the record has no readable final checkpoint to compare with (the run was killed?)")
        return None


def _policy(meta: dict[str, Any]) -> Policy:
    if isinstance(meta.get("policy"), dict):
        return Policy.from_dict(meta["policy"])
    return Policy(keep_best=meta.get("source") == "experiments")  # older records: the study kept its best


def _angle_every(meta: dict[str, Any]) -> int:
    value = meta.get("angle_every", 10)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 10


def _until(
    record: RunRecord, commands: list[Recorded], points: list[tuple[int, float]], stop_at: int | None
) -> list[Recorded]:
    """The commands to feed, ending in the run's end: its ``end`` event, else (killed) its last
    progress point; with ``stop_at`` (not past the end) the commands before it and an end there."""
    ends = [c.after for c in commands if c.command is None]
    end = max(ends) if ends else points[-1][0] if points else max((c.after for c in commands), default=0)
    fed = [c for c in commands if c.command is not None]
    if stop_at is not None:
        if stop_at > end:
            raise RunsError(f"{record.run_id} ended after step {end:,}: cannot rewind to step {stop_at:,}")
        fed, end = [c for c in fed if c.after < stop_at], stop_at
    return [*fed, Recorded(end, None, "end")]


def _feed(record: RunRecord, run: Run, c: Recorded, caveats: list[str]) -> None:
    """Apply a recorded command. A checkpoint loaded then that is now gone, changed or unreadable
    (read only as a regular file of bounded size) is a caveat, and a gone or unreadable one is
    skipped: the replay goes on from the weights it has. RunsError for a command the run refuses."""
    shown = printable(c.command.path) if isinstance(c.command, Load) else ""
    if isinstance(c.command, Load):
        path = Path(c.command.path)
        try:
            digest = load_digest(path)
        except FileNotFoundError:
            caveats.append(f"the run loaded {shown}, which is gone: the replay goes on from the weights it had")
            return
        except (OSError, TooBig) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            caveats.append(f"the run loaded {shown}, which cannot be loaded now ({why}): the replay goes on without it")
            return
        if c.sha256 and digest != c.sha256:
            caveats.append(f"the run loaded {shown}, which has changed since")
    assert c.command is not None
    try:
        run.apply(c.command)
    except CheckpointError as exc:
        caveats.append(f"the run loaded {shown}, which cannot be loaded now ({exc}): the replay goes on without it")
    except ValueError as exc:  # a change each field of which checks out, but not together
        raise RunsError(f"{record.run_id}: the record's {c.text} cannot be applied ({printable(str(exc))})") from None


def rewind(record: RunRecord, data: Any, step: int, out: Path, data_tag: str = "") -> tuple[Path, ReplayResult]:
    """Replay ``record`` to ``step`` and save that state as a checkpoint at ``out`` (a run can then
    continue from it with other settings: "rewind and try another lr"). RunsError for a bad step."""
    if step < 1:
        raise RunsError(f"--at must be a step >= 1 (got {step})")
    result = replay(record, data, data_tag=data_tag, stop_at=step)
    assert result.trainer is not None
    meta = {"rewound_from": record.run_id, "rewound_at": step}
    return save_checkpoint(out, result.trainer.run_state(meta)), result
