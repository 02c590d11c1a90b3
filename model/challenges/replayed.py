"""Replay a challenge run and judge it again on the replayed weights.

``replay_challenge`` re-runs a recorded run (``model.run.replay``) with a ``ChallengePlay`` that
follows the replayed run, unrecorded and without halting: the replay evaluates where the run did
(the run's policy, with the challenge's cadence, and the evaluations asked for), and its resets,
loads and settings changes are the recorded ones, so the verdict is the check's on numbers the
replay made (dead units counted again on the replayed weights). The record's own ``challenge``
event says what the run found; a replay that reproduces the solve finds the same evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.challenges.catalog import get_challenge
from model.challenges.play import ChallengePlay
from model.challenges.tracker import ChallengeTracker
from model.run.replay import ReplayResult, replay
from model.runs import RunRecord, RunsError


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
    play = ChallengePlay(challenge, halt=False)
    result = replay(record, data, data_tag=data_tag, follow=play.follow)
    solved = [e for e in record.events if e.get("event") == "challenge" and e.get("solved") is True]
    return ChallengeReplay(result, play.tracker, solved[0] if solved else None)
