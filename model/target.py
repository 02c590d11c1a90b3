"""Stopping at a target validation error: the test, and what reaching it took.

The run core (``model.run``) halts at the first evaluation whose validation error is strictly
below E (``mnist-tui train --target-error E``, the app's target field) and reports the training
time (evaluation excluded), wall time, examples, steps and epochs it took. How often to
evaluate is the run's policy; the report as text is ``tui.format.format_target``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from model.trainer import EvalMetrics


def below_target(target: float, metrics: EvalMetrics) -> bool:
    """True when a target is set (> 0) and ``metrics`` has a validation error strictly below it."""
    return target > 0 and "valid" in metrics.results and metrics.error("valid") < target


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
