"""The goal check: a pure function of what a run measured.

An attempt at a challenge is the list of evaluations the run made (``Evaluation``: where it was
and what the validation set said) and, if it broke a rule of the challenge (a reset where none is
allowed, a loaded checkpoint, a fixed setting changed), how many evaluations came before that.
``check`` turns it into a ``Verdict``: the first evaluation that met the goal within the limits
(the solve), the best one within the limits, the newest, and whether the attempt can still be
solved. ``goal_lines`` and ``distance`` put it in words for the panel and ``train``.

Leaves out how the evaluations are made (``model.challenges.tracker``) and the challenges
themselves (``model.challenges.catalog``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.challenges.catalog import Challenge, Goal, Limits

#: Epochs are compared with this slack: the evaluation at an epoch's end sits at exactly 1.0,
#: 2.0 ... (a float sum of batch fractions), and must count as within a limit of that many epochs.
EPOCH_SLACK = 1e-9


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an attempt: where the run was and what it measured.

    step, examples, epoch: on the weights being trained (they start again at a reset);
    total_examples: every example the attempt trained on, resets included; segment: how many
    resets came before it. Errors are fractions; dead_fraction is measured only when the goal
    needs it (None otherwise).
    """

    step: int
    examples: int
    epoch: float
    total_examples: int
    valid_error: float
    test_error: float | None = None
    dead_fraction: float | None = None
    segment: int = 0


@dataclass
class Attempt:
    """What a run measured for a challenge, in order. ``broken``: the first rule it broke ("" :
    none), after ``broken_after`` evaluations (those still count; none after them does)."""

    evaluations: list[Evaluation] = field(default_factory=list)
    broken: str = ""
    broken_after: int = 0

    def counted(self) -> list[Evaluation]:
        """The evaluations made before any rule was broken."""
        return self.evaluations[: self.broken_after] if self.broken else list(self.evaluations)


@dataclass(frozen=True)
class Verdict:
    """Where an attempt stands. ``solved``: the first evaluation that met the goal within the limits
    (None: not solved); ``best``: the lowest validation error within the limits; ``latest``: the
    newest evaluation, counted or not; ``broken``: the rule the attempt broke ("" : none)."""

    solved: Evaluation | None
    best: Evaluation | None
    latest: Evaluation | None
    broken: str = ""

    @property
    def is_solved(self) -> bool:
        return self.solved is not None


def meets(goal: Goal, ev: Evaluation) -> bool:
    """True if ``ev`` measured every figure of ``goal`` strictly below its bound (a figure the goal
    needs but ``ev`` did not measure does not meet it)."""
    if not ev.valid_error < goal.valid_below:
        return False
    if goal.dead_below is not None:
        return ev.dead_fraction is not None and ev.dead_fraction < goal.dead_below
    return True


def within(limits: Limits, ev: Evaluation) -> bool:
    """True if ``ev`` came within the epochs (on its weights) and examples (in all) the limits allow."""
    if limits.epochs is not None and ev.epoch > limits.epochs + EPOCH_SLACK:
        return False
    return limits.examples is None or ev.total_examples <= limits.examples


def check(challenge: Challenge, attempt: Attempt) -> Verdict:
    """The verdict on ``attempt``: solved at the first counted evaluation that meets the goal
    within the limits."""
    counted = [ev for ev in attempt.counted() if within(challenge.limits, ev)]
    solved = next((ev for ev in counted if meets(challenge.goal, ev)), None)
    best = min(counted, key=lambda ev: ev.valid_error, default=None)
    latest = attempt.evaluations[-1] if attempt.evaluations else None
    return Verdict(solved, best, latest, attempt.broken)


# ---- in words ---------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{x:.2%}"


def goal_text(goal: Goal) -> str:
    """'validation error < 5.00%', and '… and dead units < 5%' when the goal counts them."""
    text = f"validation error < {pct(goal.valid_below)}"
    if goal.dead_below is not None:
        text += f" and dead units < {goal.dead_below:.0%}"
    return text


def limits_text(limits: Limits) -> str:
    """'within 1 epoch, no reset' (the fixed settings are listed apart); '' when unlimited."""
    parts = []
    if limits.epochs is not None:
        n = limits.epochs
        parts.append(f"within {n:g} epoch{'s' * (n != 1)}{' of the weights trained' if limits.reset else ''}")
    if limits.examples is not None:
        parts.append(f"within {limits.examples:,} training examples in all")
    if not limits.reset:
        parts.append("no reset")
    return ", ".join(parts)


def distance(goal: Goal, ev: Evaluation) -> str:
    """How far ``ev`` is from ``goal``: 'valid 6.31%, 1.31 pp to go · dead 12.1%, 7.1 pp to go'."""
    parts = [_gap("valid", ev.valid_error, goal.valid_below)]
    if goal.dead_below is not None:
        parts.append(
            "dead units not measured" if ev.dead_fraction is None else _gap("dead", ev.dead_fraction, goal.dead_below)
        )
    return " · ".join(parts)


def _gap(name: str, value: float, bound: float) -> str:
    if value < bound:
        return f"{name} {pct(value)} ✓"
    return f"{name} {pct(value)}, {(value - bound) * 100:.2f} pp to go"


def took_text(ev: Evaluation) -> str:
    """'epoch 0.80, 40,000 examples (step 625)', and the examples in all when resets came before."""
    text = f"epoch {ev.epoch:.2f}, {ev.examples:,} examples (step {ev.step:,})"
    if ev.total_examples != ev.examples:
        text += f"; {ev.total_examples:,} in all"
    return text


def solved_text(goal: Goal, ev: Evaluation) -> str:
    """'valid 4.62% < 5.00% (test 4.90%) at epoch 0.80, 40,000 examples (step 625)'."""
    text = f"valid {pct(ev.valid_error)} < {pct(goal.valid_below)}"
    if goal.dead_below is not None and ev.dead_fraction is not None:
        text += f", dead {ev.dead_fraction:.1%} < {goal.dead_below:.0%}"
    if ev.test_error is not None:
        text += f" (test {pct(ev.test_error)})"
    return f"{text} at {took_text(ev)}"
