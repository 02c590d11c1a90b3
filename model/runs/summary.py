"""The figures ``runs`` and ``compare`` print for a run, computed from its record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model.runs.reader import RunRecord

#: Events that change what the run computes (pause/resume/evaluate do not).
INTERVENTIONS = frozenset({"hparam", "reset", "load"})
TARGETS = (0.05, 0.02)  # validation errors "time to" is reported for


@dataclass
class RunSummary:
    """One run in figures (None: never measured). ``to_target``: error -> (seconds, examples) of the
    first evaluation whose validation error was at or below it."""

    run_id: str
    started: str
    source: str
    variant: str
    hparams: dict[str, Any]
    steps: int
    examples: int
    duration: float
    interventions: int
    status: str
    final_valid: float | None = None
    final_test: float | None = None
    best_valid: float | None = None
    test_at_best: float | None = None
    best_step: int | None = None
    final_loss: float | None = None
    to_target: dict[float, tuple[float, int] | None] = field(default_factory=dict)
    own_target: float | None = None  # the run's own target validation error (hparam target_error; None: none)
    #: (training seconds, examples, step) to the run's own target, from its ``target`` event (None: not reached)
    to_own_target: tuple[float, int, int] | None = None
    challenge: str = ""  # the challenge the run played (run.json's ``challenge``; "" : none)
    challenge_solved: bool = False  # its record has a ``challenge`` event that says solved


def summarize(rec: RunRecord, targets: tuple[float, ...] = TARGETS) -> RunSummary:
    """The summary of ``rec``; a run killed before its end has status "unfinished"."""
    meta = rec.meta
    lines = [*rec.points, *rec.events]
    end = next((e for e in reversed(rec.events) if e.get("event") == "end"), None)
    s = RunSummary(
        run_id=rec.run_id,
        started=str(meta.get("started", "")),
        source=str(meta.get("source", "")),
        variant=str(meta.get("variant", meta.get("hparams", {}).get("variant", ""))),
        hparams=dict(meta.get("hparams", {})),
        steps=max((int(x.get("step", 0)) for x in lines), default=0),
        examples=max((int(x.get("examples", 0)) for x in lines), default=0),
        duration=max((float(x.get("time", 0.0)) for x in lines), default=0.0),
        interventions=sum(e.get("event") in INTERVENTIONS for e in rec.events),
        status=str(end.get("status")) if end else "unfinished",
        final_loss=next((p["smoothed"] for p in reversed(rec.points) if p.get("smoothed") is not None), None),
    )
    challenge = meta.get("challenge")
    if isinstance(challenge, str):
        s.challenge = challenge[:40]
        s.challenge_solved = any(e.get("event") == "challenge" and e.get("solved") is True for e in rec.events)
    evals = rec.evaluations
    if evals:
        s.final_valid, s.final_test = evals[-1].get("valid_error"), evals[-1].get("test_error")
        best = min(evals, key=lambda p: p["valid_error"])  # the first of equal ones
        s.best_valid, s.test_at_best, s.best_step = best["valid_error"], best.get("test_error"), best.get("step")
    for t in targets:
        hit = next((p for p in evals if p["valid_error"] <= t), None)
        s.to_target[t] = None if hit is None else (float(hit["time"]), int(hit["examples"]))
    reached = [e for e in rec.events if e.get("event") == "target"]
    if reached:  # the last target the run reached (the app can change it on the way)
        e = reached[-1]
        s.own_target = float(e.get("target", 0.0))
        s.to_own_target = (float(e.get("seconds", e.get("time", 0.0))), int(e.get("examples", 0)), int(e["step"]))
    else:
        target = max((float(e.get("new") or 0.0) for e in rec.events if e.get("field") == "target_error"), default=0.0)
        s.own_target = target or float(s.hparams.get("target_error") or 0.0) or None
    return s
