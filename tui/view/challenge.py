"""What the Challenge panel says, computed without Textual: (label, text, style) rows.

The panel shows the story, the goal with its limits and fixed settings, the distance from the
goal at the newest evaluation and the limits used so far (live, from the run's status), the hints
revealed so far, and the outcome: solved (with what it took), or why nothing more can count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model.challenges.check import distance, goal_text, limits_text, solved_text
from tui.format import format_examples

if TYPE_CHECKING:
    from model.challenges import Challenge, ChallengeTracker, Progress, Verdict
    from tui.session.events import ChallengeUpdate, TrainStatus

#: A row of the panel: (label, text, style); the label column is blank on continuation rows.
Row = tuple[str, str, str]
HINT_KEY = "i"
PICK_KEY = "c"


@dataclass
class ChallengeState:
    """Everything the panel draws from: the challenge, the newest update from the worker, the
    run's newest status, and how many hints are revealed."""

    challenge: Challenge
    update: ChallengeUpdate | None = None
    status: TrainStatus | None = None
    hints: int = 0

    @property
    def verdict(self) -> Verdict | None:
        return self.update.verdict if self.update is not None else None

    @property
    def solved(self) -> bool:
        v = self.verdict
        return v is not None and v.is_solved


def fixed_text(challenge: Challenge) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in challenge.fixed_values().items())


def goal_line(challenge: Challenge) -> str:
    """'validation error < 5.00% within 1 epoch, no reset; variant stays feedback-fixed'."""
    text = goal_text(challenge.goal)
    limits = limits_text(challenge.limits)
    if limits:
        text += f" {limits}"
    fixed = challenge.fixed_values()
    if fixed:
        text += "; " + ", ".join(f"{k.replace('_', ' ')} stays {v}" for k, v in fixed.items())
    return text


def result_text(p: Progress | None) -> str:
    """'solved: valid 4.62% (test 4.90%) at epoch 0.80 …; best 3.95%', 'best 5.81%' or 'not tried'."""
    if p is None or (not p.solved and p.best_valid is None):
        return "not tried yet" if p is None or not p.attempts else f"no result within the limits ({p.attempts} tries)"
    parts = []
    if p.solved and p.valid_error is not None:
        parts.append(f"solved: valid {p.valid_error:.2%}" + (f" (test {p.test_error:.2%})" if p.test_error else ""))
    if p.best_valid is not None:
        parts.append(f"best valid {p.best_valid:.2%}")
    return "; ".join(parts)


def usage_text(state: ChallengeState) -> str:
    """'epoch 0.42 of 1' and/or '210.0k of 400,000 examples', from the run's newest status."""
    c, s = state.challenge, state.status
    if s is None:
        return ""
    parts = []
    if c.limits.epochs is not None:
        parts.append(f"epoch {s.epoch:.2f} of {c.limits.epochs:g}")
    if c.limits.examples is not None:
        used = s.examples_seen + (state.update.earlier_examples if state.update else 0)
        parts.append(f"{format_examples(used)} of {c.limits.examples:,} examples")
    return " · ".join(parts)


def evaluations_text(challenge: Challenge) -> str:
    """When the run evaluates: 'epoch ends, or e', or 'every 10,000 examples, epoch ends, or e'."""
    every = f"every {challenge.eval_every:,} examples, " if challenge.eval_every else ""
    return f"{every}epoch ends, or e"


def setting_text(value: Any) -> str:
    """A setting's value as the controls show it: floats to 6 significant digits."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def changes_text(took: dict[str, Any]) -> str:
    """'lr 0.05, schedule cosine; 1 reset', or 'the starting settings'."""
    changes = ", ".join(f"{k.replace('_', ' ')} {setting_text(v)}" for k, v in took.get("changes", {}).items())
    resets = int(took.get("resets", 0))
    text = changes or "the starting settings"
    if resets:
        text += f"; {resets} reset{'s' * (resets != 1)}"
    return text


def panel_rows(state: ChallengeState) -> list[Row]:
    """The panel's rows under the story, top to bottom."""
    c = state.challenge
    rows: list[Row] = []
    goal = goal_text(c.goal)
    limits = limits_text(c.limits)
    rows.append(("Goal", f"{goal} {limits}".strip(), "bold"))
    if c.limits.fixed:
        rows.append(("Fixed", fixed_text(c), "dim"))
    v, update = state.verdict, state.update
    latest = v.latest if v is not None else None
    now = distance(c.goal, latest) if latest is not None else f"no evaluation yet ({evaluations_text(c)})"
    if latest is not None and latest.test_error is not None:
        now += f" · test {latest.test_error:.2%}"
    rows.append(("Now", now, ""))
    usage = usage_text(state)
    if usage:
        rows.append(("", usage, "dim"))
    if v is not None and v.solved is not None and update is not None:
        rows.append(("Solved", f"{solved_text(c.goal, v.solved)}. It took: {changes_text(update.took)}.", "bold green"))
    elif update is not None and (over := over_text(c, update)):
        rows.append(("Over", over, "bold red"))
    for i in range(min(state.hints, len(c.hints))):
        rows.append((f"Hint {i + 1}", c.hints[i], "italic"))
    if state.hints < len(c.hints):
        rows.append(("", f"{HINT_KEY}: hint {state.hints + 1} of {len(c.hints)}", "dim"))
    return rows


def over_text(challenge: Challenge, update: ChallengeUpdate) -> str:
    """Why nothing the run does from here counts, and what starts it again ("" : it still can)."""
    v = update.verdict
    if v.is_solved or not (v.broken or update.spent):
        return ""
    if v.broken:
        return f"{v.broken}; {PICK_KEY} starts a challenge again"
    best = f"best valid {v.best.valid_error:.2%}; " if v.best is not None else ""
    limits = challenge.limits
    if limits.examples is None and limits.reset:
        return f"the epochs are used up ({best}r trains fresh weights from the start)"
    what = "the budget of examples is" if limits.examples is not None else "the epoch limit is"
    return f"{what} used up ({best}{PICK_KEY} starts the challenge again)"


def panel_title(state: ChallengeState) -> str:
    mark = " ✓ solved" if state.solved else ""
    return f"Challenge · {state.challenge.title}{mark}"


def result_lines(challenge: Challenge, tracker: ChallengeTracker, run_id: str) -> list[str]:
    """``train --challenge``'s verdict: 'challenge too-hot: solved: valid 4.62% < 5.00% (test 4.90%)
    at epoch 0.80, …' and what it took, or 'not solved' with the best result within the limits and
    why nothing more counted."""
    v = tracker.verdict
    head = f"challenge {challenge.name}"
    if v.solved is not None:
        took = f"{changes_text(tracker.took())} (run {run_id})"
        return [f"{head}: solved: {solved_text(challenge.goal, v.solved)}", f"  it took: {took}"]
    goal = f"{goal_text(challenge.goal)} {limits_text(challenge.limits)}".strip()
    best = f"best valid {v.best.valid_error:.2%}" if v.best is not None else "no evaluation within the limits"
    why = f"; {v.broken}" if v.broken else ""
    return [
        f"{head}: not solved ({best}; the goal is {goal}{why})",
        f"  hints: mnist-tui challenge {challenge.name} ({HINT_KEY} reveals them)",
    ]
