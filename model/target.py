"""Stopping at a target validation error: the test, and what reaching it took.

``mnist-tui train --target-error E`` (through ``model.fit.fit``) and the app's worker stop at
the first evaluation whose validation error is strictly below E, and report the training
time (evaluation excluded), wall time, examples, steps and epochs it took. How often to
evaluate is left to them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from model.trainer import EvalMetrics


def below_target(target: float, metrics: EvalMetrics) -> bool:
    """True when a target is set (> 0) and ``metrics`` has a validation error strictly below it."""
    return target > 0 and "valid" in metrics.results and metrics.error("valid") < target


def fmt_examples(n: int) -> str:
    """900, 12.5k, 1.2M: a count of examples at a glance."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k"
    return f"{n:,}"


@dataclass
class TargetReport:
    """Where a run first got below its target validation error (the figures are None when it did not).

    seconds: training time to that evaluation, evaluation excluded; wall: with evaluation and
    everything else; both from the start of this training (a resumed run's earlier time is not in
    them), while step and examples count from the run's start.
    """

    error: float  # the target
    reached: bool = False
    seconds: float | None = None
    wall: float | None = None
    examples: int | None = None
    step: int | None = None
    epoch: float | None = None
    valid_error: float | None = None

    @classmethod
    def hit(cls, target: float, metrics: EvalMetrics, epoch: float, seconds: float, wall: float) -> TargetReport:
        """The report of evaluation ``metrics`` (below ``target``), reached after ``seconds`` of training."""
        return cls(
            target, True, seconds, wall, metrics.examples_seen, metrics.step, round(epoch, 6), metrics.error("valid")
        )

    def text(self) -> str:
        """'target reached: valid 1.95% < 2.00% after 41.2 s, 1.2M examples (step 9,375)', or 'not reached'."""
        if not self.reached or self.valid_error is None or self.examples is None or self.step is None:
            return f"target {self.error:.2%} not reached"
        return (
            f"target reached: valid {self.valid_error:.2%} < {self.error:.2%} after {self.seconds or 0.0:.1f} s, "
            f"{fmt_examples(self.examples)} examples (step {self.step:,})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
