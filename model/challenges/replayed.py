"""Replay a challenge run and judge it again on the replayed weights.

``replay_challenge`` re-runs a recorded run (``model.runs.replay``) and, after each step the record
evaluated at, evaluates the replayed weights the same way (validation and test error, and the
dead units when the goal counts them). ``rejudge`` walks the record's lines in order (its resets,
loads and settings changes, and its evaluations with the re-measured numbers) through a fresh
``ChallengeTracker``, so the verdict is the check's, on numbers the replay made. The record's own
``challenge`` event says what the run found; a replay that reproduces the solve finds the same
evaluation.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from model.challenges.catalog import Challenge, get_challenge
from model.challenges.check import Evaluation
from model.challenges.tracker import ChallengeTracker, dead_fraction
from model.config import HyperParams
from model.runs import RunRecord, RunsError
from model.runs.replay import ReplayResult, replay
from model.trainer import StepMetrics, Trainer, TrainState


@dataclass(frozen=True)
class Measured:
    """What the replay measured after one step: the errors, dead units, and the examples so far."""

    valid_error: float
    test_error: float
    dead_fraction: float | None
    examples: int
    earlier_examples: int  # on weights earlier resets replaced
    epoch: float


class _Remeasure:
    """An ``on_step`` callback: after each step the record evaluated at, evaluate the replayed weights.

    ``wanted``: (segment, step) pairs. A segment is the weights between two resets or loads as the
    replay sees them: a new ``TrainState`` object at a step (resets with no step between them are one).
    """

    def __init__(self, challenge: Challenge, wanted: set[tuple[int, int]]) -> None:
        self.challenge = challenge
        self.wanted = wanted
        self.trainer: Trainer | None = None
        self.state: TrainState | None = None
        self.segment = 0
        self.earlier = 0
        self.trained: dict[int, int] = {}  # examples trained in each segment
        self.found: dict[tuple[int, int], Measured] = {}

    def start(self, trainer: Trainer) -> None:
        self.trainer, self.state = trainer, trainer.state

    def __call__(self, m: StepMetrics) -> None:
        trainer = self.trainer
        assert trainer is not None
        if trainer.state is not self.state:  # a reset or a load came before this step
            self.state = trainer.state
            self.earlier += self.trained.get(self.segment, 0)
            self.segment += 1
        self.trained[self.segment] = m.examples_seen
        if (self.segment, m.step) not in self.wanted:
            return
        ev = trainer.evaluate(tuple(trainer.eval_sets))
        dead = dead_fraction(trainer) if self.challenge.goal.dead_below is not None else None
        self.found[(self.segment, m.step)] = Measured(
            ev.error("valid"), ev.error("test"), dead, m.examples_seen, self.earlier, round(trainer.epoch_float, 6)
        )


def _segments(lines: Iterable[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Each line with its segment as the replay counts them (see ``_Remeasure``): a reset or a load
    starts the next, and resets with no step between them count as one."""
    raw: list[tuple[int, dict[str, Any]]] = []
    n = 0
    for line in lines:
        if line.get("kind") == "event" and line.get("event") in ("reset", "load"):
            n += 1
        raw.append((n, line))
    stepped = sorted({r for r, line in raw if line.get("kind") == "progress" and _int(line.get("step")) >= 1})
    offset = 0 if 0 in stepped else 1

    def effective(r: int) -> int:
        return 0 if r == 0 else sum(1 for s in stepped if s < r) + offset

    return [(effective(r), line) for r, line in raw]


def _int(value: Any) -> int:
    return int(_float(value))


def _float(value: Any) -> float:
    """A record's number, or 0 for anything else (the record is read as hostile input)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else 0.0


def _evaluation_points(lines: Iterable[dict[str, Any]]) -> set[tuple[int, int]]:
    return {
        (segment, _int(line.get("step")))
        for segment, line in _segments(lines)
        if line.get("kind") == "progress" and isinstance(line.get("valid_error"), int | float)
    }


def rejudge(
    challenge: Challenge,
    start: HyperParams,
    lines: Iterable[dict[str, Any]],
    found: dict[tuple[int, int], Measured],
    trained: dict[int, int],
) -> ChallengeTracker:
    """The tracker after the record's ``lines`` in order, with each evaluation's numbers from
    ``found`` (the replay's; an evaluation the replay could not measure, such as one right after a
    reset, keeps the record's numbers and no dead-unit count). ``trained``: examples per segment."""
    tracker = ChallengeTracker(challenge)
    hp = start
    current = 0  # the segment of the last reset or load
    for segment, line in _segments(lines):
        if line.get("kind") == "event":
            event = line.get("event")
            if event == "hparam" and line.get("field") in hp.to_dict():
                try:
                    hp = hp.validated(**{str(line["field"]): line.get("new")})
                except ValueError:
                    continue
                tracker.changed(hp)
            elif event == "reset":
                tracker.reset(trained.get(current, 0) if segment != current else 0)
                current = segment
                if isinstance(line.get("hparams"), dict):
                    with contextlib.suppress(ValueError):
                        hp = HyperParams.from_dict(line["hparams"])
            elif event == "load":
                tracker.loaded()
                current = segment
            continue
        if line.get("kind") != "progress" or not isinstance(line.get("valid_error"), int | float):
            continue
        step = _int(line.get("step"))
        m = found.get((segment, step))
        if m is not None:
            ev = Evaluation(
                step, m.examples, m.epoch, m.earlier_examples + m.examples, m.valid_error, m.test_error, m.dead_fraction
            )
        else:
            examples = _int(line.get("examples"))
            test = line.get("test_error")
            ev = Evaluation(
                step,
                examples,
                _float(line.get("epoch")),
                tracker.earlier_examples + examples,
                float(line["valid_error"]),
                float(test) if isinstance(test, int | float) and not isinstance(test, bool) else None,
            )
        tracker.add(_in_segment(ev, segment), hp)
    return tracker


def _in_segment(ev: Evaluation, segment: int) -> Evaluation:
    from dataclasses import replace

    return replace(ev, segment=segment)


@dataclass
class ChallengeReplay:
    """The replay, the verdict on its own measurements, and the record's ``challenge`` event (the
    solve it found; None if it found none)."""

    result: ReplayResult
    tracker: ChallengeTracker
    recorded: dict[str, Any] | None

    @property
    def agrees(self) -> bool:
        """True if the replay solved it at the evaluation the record did (or neither solved it)."""
        solved = self.tracker.verdict.solved
        rec = self.recorded
        if rec is None or rec.get("solved") is not True:
            return solved is None
        return (
            solved is not None
            and solved.valid_error == rec.get("valid_error")
            and solved.total_examples == rec.get("total_examples")
        )


def replay_challenge(record: RunRecord, data: Any, data_tag: str = "") -> ChallengeReplay:
    """Replay ``record`` (a run that played a challenge) and judge it again; RunsError (one line)
    for a record that names no known challenge."""
    name = record.meta.get("challenge")
    try:
        challenge = get_challenge(str(name))
    except ValueError as exc:
        raise RunsError(f"{record.run_id}: {exc}") from None
    remeasure = _Remeasure(challenge, _evaluation_points(record.lines))
    result = replay(record, data, data_tag=data_tag, on_step=remeasure, on_start=remeasure.start)
    start = HyperParams.from_dict(record.meta.get("hparams") or {})
    tracker = rejudge(challenge, start, record.lines, remeasure.found, remeasure.trained)
    solved = [e for e in record.events if e.get("event") == "challenge" and e.get("solved") is True]
    return ChallengeReplay(result, tracker, solved[0] if solved else None)
