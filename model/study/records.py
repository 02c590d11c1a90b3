"""What the study reports: one run's result and the progress events on the way.

Leaves out: how runs are made (``task.py``, the backends) and the aggregates (``aggregate.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

#: The weight matrices whose alignment angle the study reports.
LAYERS = ("W1", "W2")
#: Diagnostics recorded over a run (NaN where a diagnostic does not apply to the variant).
DIAGNOSTICS = (
    "angle_W1",  # degrees between the variant's update of W1 and the true gradient
    "angle_W2",
    "feedback_angle",  # degrees between W2 and the feedback matrix B (random feedback)
    "stale_gap",  # ||W2(t) - W2(t-k)|| / ||W2(t)|| (stale weights)
    "dead_fraction",  # units with act' < 1e-3 on every probe image (dead ReLU, saturated sigmoid/tanh)
    "w1_drift",  # ||W1(t) - W1(0)|| / ||W1(0)||
    "valid_error",  # on the first 2,000 validation images
)
#: A run failed when the trainer's divergence rule stopped it, when its validation error at the end
#: is near chance (at least ``CHANCE_ERROR``; chance is 0.9), or when it ends at ``FAIL_ERROR`` or
#: worse after having been better (it learned, then fell apart). A slow run that is still improving
#: has not failed, however high its error.
CHANCE_ERROR = 0.8
FAIL_ERROR = 0.5


@dataclass
class RunResult:
    """One (cell, seed) run. Errors are fractions; angles in degrees (NaN if never measured).

    The per-epoch curves let a longer run stand for a shorter one with the same seed (the study's
    learning rate is constant, so its first epochs are the shorter run's): ``view``.
    """

    key: str  # RunConfig.key
    label: str
    variant: str
    question: str
    seed: int
    lr: float
    momentum: float
    activation: str
    valid_error: float  # lowest validation error over the epochs
    test_error: float  # clean network, at the epoch with the lowest validation error
    test_error_as_trained: float  # same weights, perturbed forward pass (NaN: the forward pass is clean)
    final_test_error: float
    best_epoch: int
    train_loss: float  # mean minibatch loss over the last epoch
    valid_curve: list[float]  # validation error after each epoch
    test_curve: list[float]
    seconds: float  # training time (evaluation excluded)
    steps: int
    diverged: bool
    diag_steps: list[int] = field(default_factory=list)  # steps at which the diagnostics were taken
    diagnostics: dict[str, list[float]] = field(default_factory=dict)  # name -> one value per diag step
    epochs: int = 0  # epochs asked for (a diverged run has fewer points)
    as_trained_curve: list[float] = field(default_factory=list)  # test error as trained, per epoch
    train_loss_curve: list[float] = field(default_factory=list)  # mean minibatch loss, per epoch
    epoch_steps: list[int] = field(default_factory=list)  # steps done at each epoch's end
    hidden: int = 0

    @property
    def failed(self) -> bool:
        """Diverged, near chance at the end, or fallen apart (see ``FAIL_ERROR``)."""
        last = self.valid_curve[-1] if self.valid_curve else math.nan
        if self.diverged or not math.isfinite(last) or last >= CHANCE_ERROR:
            return True
        return last >= FAIL_ERROR and last > min(self.valid_curve)

    def view(self, epochs: int) -> RunResult:
        """This run as if it had been asked for ``epochs`` epochs (at most ``self.epochs``): the
        best validation epoch among the first ``epochs``, the test errors there, the diagnostics
        up to that epoch's end. Raises ValueError for a longer view than the run has."""
        if epochs > self.epochs:
            raise ValueError(f"a run of {self.epochs} epochs cannot stand for {epochs}")
        if epochs == self.epochs or len(self.valid_curve) <= epochs:
            return self  # the same run, or one that diverged within the view
        valid = self.valid_curve[:epochs]
        best = min(range(epochs), key=lambda i: (not math.isfinite(valid[i]), valid[i]))
        last_step = self.epoch_steps[epochs - 1]
        n = sum(1 for s in self.diag_steps if s <= last_step)
        return replace(
            self,
            valid_error=valid[best],
            test_error=self.test_curve[best],
            test_error_as_trained=self.as_trained_curve[best] if self.as_trained_curve else math.nan,
            final_test_error=self.test_curve[epochs - 1],
            best_epoch=best + 1,
            train_loss=self.train_loss_curve[epochs - 1],
            valid_curve=valid,
            test_curve=self.test_curve[:epochs],
            seconds=self.seconds * last_step / max(self.steps, 1),
            steps=last_step,
            diverged=False,
            diag_steps=self.diag_steps[:n],
            diagnostics={k: v[:n] for k, v in self.diagnostics.items()},
            epochs=epochs,
            as_trained_curve=self.as_trained_curve[:epochs],
            train_loss_curve=self.train_loss_curve[:epochs],
            epoch_steps=self.epoch_steps[:epochs],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> RunResult:
        """Inverse of ``to_dict`` (JSON null back to NaN)."""
        names = {f.name for f in fields(cls)}
        d = {k: _nan(v) for k, v in saved.items() if k in names}
        return cls(**d)


def _nan(v: Any) -> Any:
    if v is None:
        return math.nan
    if isinstance(v, list):
        return [_nan(x) for x in v]
    if isinstance(v, dict):
        return {k: _nan(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class Event:
    """Progress: ``kind`` is "start" (a run began), "epoch" (within a run) or "done" (with ``result``)."""

    kind: str
    key: str
    seed: int
    epoch: int = 0
    epochs: int = 0
    valid_error: float = math.nan
    result: RunResult | None = None
    reused: bool = False  # "done" for a run found in the store, not trained again


def nanmean(values: Sequence[float]) -> float:
    """Mean of the finite values; NaN if there are none."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan
