"""The challenges, as data: each a real failure of training, started in the broken state.

A ``Challenge`` names the settings it starts from (``start``: the fields that differ from
``HyperParams()``), the ``Goal`` the run's own measurements must meet (on the validation set; the
test error is shown, never used to decide), the ``Limits`` it must meet it within (epochs on the
weights being trained, training examples in all, whether a reset is allowed, settings that keep
their starting value), hints that are revealed one at a time (the last says why), and a known
solution (settings over the start that meet the goal: ``mnist-tui train --challenge NAME`` with
them as flags). The numbers each start and solution were measured at are in the table of
``docs/challenges.md`` and in ``tests/test_challenges.py``.

Leaves out the check (``model.challenges.check``) and following a run (``tracker``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.config import HyperParams

#: Examples between a challenge's evaluations when it asks for more than one per epoch.
EVAL_EXAMPLES = 10_000


@dataclass(frozen=True)
class Goal:
    """What the run's measurements must show: validation error strictly below ``valid_below`` and,
    when set, a fraction of dead hidden units (firing on no validation digit) below ``dead_below``."""

    valid_below: float
    dead_below: float | None = None


@dataclass(frozen=True)
class Limits:
    """Where a goal counts. ``epochs``: at most this many epochs on the weights being trained
    (a reset starts them again); ``examples``: at most this many training examples in all,
    resets included; ``reset``: False if a reset ends the attempt; ``fixed``: settings that keep
    their starting value (the app locks their fields, ``train`` refuses their flags)."""

    epochs: float | None = None
    examples: int | None = None
    reset: bool = True
    fixed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Challenge:
    """One challenge (see the module docstring). ``eval_every``: also evaluate every this many
    training examples, not only at epoch ends (0: epoch ends only), so the distance to the goal
    stays live and a solve is not rounded up to an epoch."""

    name: str
    title: str
    story: str
    start: Mapping[str, Any]
    goal: Goal
    limits: Limits
    hints: tuple[str, ...]
    solution: Mapping[str, Any]
    eval_every: int = 0
    needs_reset: bool = False  # in the app the solution's settings apply on r (reset)

    def start_hparams(self) -> HyperParams:
        """The settings the challenge opens with."""
        return HyperParams().validated(**self.start)

    def solution_hparams(self) -> HyperParams:
        """The start with the known solution applied."""
        return self.start_hparams().validated(**self.solution)

    def fixed_values(self) -> dict[str, Any]:
        """Each fixed setting and the value it keeps."""
        hp = self.start_hparams()
        return {name: getattr(hp, name) for name in self.limits.fixed}


CHALLENGES: dict[str, Challenge] = {
    c.name: c
    for c in (
        Challenge(
            "too-hot",
            "Too hot",
            "The learning rate is 100 times too large: the loss explodes in the first steps.",
            {"lr": 5.0, "epochs": 1},
            Goal(0.05),
            Limits(epochs=1, reset=False),
            (
                "The status says diverged: the trainer refused the exploding step and put the last good "
                "weights back. Those weights are still yours to train, and no reset is allowed.",
                "Lower the learning rate (h, then the learning rate field; [ nudges it down) and press "
                "space to train on from where it stopped. The default 0.05 is a good place to start.",
                "Why: a step overshoots the minimum once lr is above about 2 / (the loss's curvature along "
                "the gradient), and momentum 0.9 makes each step ten times longer. Every overshoot lands "
                "where the gradient is steeper, so the loss grows geometrically until it is not a number. "
                "The study's error-vs-learning-rate figure (assets/fig_error_vs_lr.svg) shows where each "
                "variant's rate stops working.",
            ),
            {"lr": 0.05},
            eval_every=EVAL_EXAMPLES,
        ),
        Challenge(
            "dead-units",
            "Dead units",
            "One oversized step too many: most ReLU units no longer fire on any digit.",
            {"lr": 0.5, "epochs": 5},
            Goal(0.03, dead_below=0.05),
            Limits(epochs=5, fixed=("activation",)),
            (
                "Open the weights screen (w): its title counts the dead units, those that fire on none of "
                "the 10,000 validation digits, and labels them under their tiles.",
                "A dead ReLU unit gets no gradient, so no learning rate revives it: lower the rate and press "
                "r for fresh weights.",
                "Why: one large update can push a unit's weights and bias so far that W1 x + b1 < 0 for every "
                "digit; then relu'(z) = 0 on every example, its gradient is zero, and nothing ever moves it "
                "again. The study counts dead units for every variant (assets/fig_dead_units.svg).",
            ),
            {"lr": 0.05},
            needs_reset=True,
        ),
        Challenge(
            "saturated",
            "Saturated",
            "Sigmoid units started with weights 20 times too large: every unit is stuck at 0 or 1.",
            {"activation": "sigmoid", "init_scale": 20.0, "epochs": 3},
            Goal(0.06),
            Limits(epochs=3, fixed=("activation",)),
            (
                "The error falls, but slowly, and stays far above what sigmoid units reach. Each unit sees "
                "W1 x + b1 in the tens for every digit.",
                "The initial scale applies to new weights: set init scale to 1 and press r.",
                "Why: sigmoid'(z) = h (1 - h) is at most 0.25 and is about e^-|z| once the unit saturates, so "
                "almost no gradient reaches W1 and only the output layer learns, on units that are fixed "
                "random yes/no features: the study's shallow-net control (W1 frozen) is that run's floor.",
            ),
            {"init_scale": 1.0},
            needs_reset=True,
        ),
        Challenge(
            "small-data",
            "Small data",
            "Only 1,000 training images: the net learns them by heart and stalls on new ones.",
            {"train_size": 1000, "epochs": 60},
            Goal(0.09),
            Limits(epochs=60, fixed=("train_size",)),
            (
                "Watch the error chart: the training error goes to zero while the validation error stalls "
                "above 11%. The net memorises its 1,000 images.",
                "Regularise: random shifts of the images (augment), dropout, weight decay. They apply at once; "
                "r gives them the whole budget of epochs.",
                "Why: with 1,000 images and 200,000 weights the net can fit every training label, quirks "
                "included. Shifting each image by a pixel or two shows it new versions of every digit, which "
                "it can only all fit by learning strokes instead of pixels.",
            ),
            {"augment": 2},
        ),
        Challenge(
            "noisy-labels",
            "Noisy labels",
            "30% of the training labels are wrong, and a large constant step keeps learning them.",
            {"label_noise": 0.3, "lr": 0.1, "epochs": 10},
            Goal(0.04),
            Limits(epochs=10, fixed=("label_noise",)),
            (
                "The validation and test labels are right; only training labels were flipped. The training "
                "error cannot go far below 30%, and the validation error jumps from epoch to epoch.",
                "Make the steps shrink as training goes: a cosine or exponential schedule, or a smaller rate.",
                "Why: a flipped label is one of the nine wrong classes at random, so over many examples the "
                "true class still gets 70% of the votes. A large constant step follows each minibatch's wrong "
                "labels; a decaying one averages them and keeps what they agree on.",
            ),
            {"lr": 0.05, "schedule": "cosine"},
        ),
        Challenge(
            "speedrun",
            "Speedrun",
            "Under 2% with a budget of 400,000 training examples (8 epochs); this start needs many more.",
            {"lr": 0.01, "epochs": 8},
            Goal(0.02),
            Limits(examples=400_000),
            (
                "The budget counts every example trained, resets included: plan before you press r.",
                "Wider layers learn more per example; a cosine schedule spends the budget well; batch size "
                "and learning rate go together.",
                "Why: a net this size can reach 2% within a few epochs only if each step is as large as is "
                "stable early on and small at the end, where the valley is narrow: a cosine schedule does "
                "both. The documentation's Performance page (Best error) lists the settings that got furthest.",
            ),
            {"hidden": 800, "batch_size": 100, "lr": 0.1, "schedule": "cosine"},
            eval_every=EVAL_EXAMPLES,
        ),
        Challenge(
            "no-backprop",
            "No backprop",
            "The backward pass uses a fixed random matrix instead of W2 (feedback alignment).",
            {"variant": "feedback-fixed", "lr": 0.01, "epochs": 8},
            Goal(0.03),
            Limits(epochs=8, fixed=("variant",)),
            (
                "Switch the angle chart on (4): the W1 update starts at 90 degrees from the true gradient "
                "and turns towards it as W2 learns to agree with the random feedback.",
                "That alignment takes steps; at this small rate it takes most of the budget. A larger rate, "
                "and a schedule that ends small, leave time to use it.",
                "Why: with a random B in place of W2, the hidden units are told to move along B^T delta. The "
                "output layer then learns weights that make those moves useful, so W2 turns towards B and the "
                "updates towards the gradient: the study's angle figures (assets/fig_angles.svg, "
                "assets/fig_feedback_angle.svg) show both angles falling.",
            ),
            {"lr": 0.05, "schedule": "cosine"},
        ),
        Challenge(
            "stale",
            "Stale weights",
            "The backward pass uses W2 from 50 steps ago, and with heavy momentum the run blows up.",
            {"variant": "stale", "stale_k": 50, "lr": 0.1, "epochs": 3},
            Goal(0.045),
            Limits(epochs=3, fixed=("variant", "stale_k")),
            (
                "The lag is part of the problem and stays at 50 steps; the step is yours.",
                "Momentum 0.9 remembers about ten steps. Try momentum 0.5, or a smaller rate.",
                "Why: an update computed with old weights corrects for where the net was, not where it is. "
                "Heavy momentum at a large step keeps pushing on that stale correction, and the error turns "
                "into an oscillation that grows. The study's stale-weights map (assets/fig_stale_map.svg): "
                "with momentum 0 or 0.5 no lag up to 100 diverged.",
            ),
            {"momentum": 0.5},
        ),
    )
}


def get_challenge(name: str) -> Challenge:
    """Look up a challenge; ValueError (one line) lists the names."""
    try:
        return CHALLENGES[name]
    except KeyError:
        raise ValueError(f"unknown challenge {name!r} (choose from {', '.join(CHALLENGES)})") from None
