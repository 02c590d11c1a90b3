"""Hyperparameters: one dataclass that validates itself through ``SPECS``, and parsing from user text.

Every ``HyperParams`` checks every field against ``SPECS`` when it is made (``validated``,
``from_dict`` and ``dataclasses.replace`` included), so no invalid value can reach the trainer
by any path. The CLI flags and the app's input fields parse text with ``parse_value``.
Architecture fields (hidden units, activation, seed, the initial scale) and the training set's
(its size, its label noise) take effect on a reset: new weights, a new training set.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from model.activations import ACTIVATIONS, DEFAULT_ACTIVATION
from model.variants import NOISE_KINDS, ROUND_MODES, VARIANT_NAMES

SCHEDULES = ("constant", "step", "exp", "cosine", "linear")
#: Fields that apply on reset: the weights, or the training set the run draws from, are built from them.
ARCHITECTURE_FIELDS = frozenset({"hidden", "activation", "seed", "init_scale", "train_size", "label_noise"})


@dataclass(frozen=True)
class FieldSpec:
    """How one hyperparameter is parsed, bounded and described."""

    kind: type
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low (else >= low)
    high_open: bool = False
    choices: tuple[str, ...] = ()
    percent: bool = False  # a fraction that may also be typed as a percentage ("2%" is 0.02)
    empty: Any = None  # the value of an empty text (None: empty is an error)


SPECS: dict[str, FieldSpec] = {
    "lr": FieldSpec(float, "learning rate", 0.0, 1000.0, low_open=True),
    "batch_size": FieldSpec(int, "examples per minibatch", 1, 50_000),
    "momentum": FieldSpec(float, "heavy-ball momentum", 0.0, 1.0, high_open=True),
    "weight_decay": FieldSpec(float, "L2 weight decay on W1, W2", 0.0, 1.0, high_open=True),
    "schedule": FieldSpec(str, "learning-rate schedule", choices=SCHEDULES),
    "lr_decay": FieldSpec(float, "decay factor per epoch (step/exp)", 0.0, 1.0, low_open=True),
    "epochs": FieldSpec(int, "epochs (also the cosine and linear schedules' length)", 1, 10_000),
    "target_error": FieldSpec(
        float,
        "stop at the first evaluation whose validation error is below this, e.g. 0.02 or 2% (0: off)",
        0.0,
        1.0,
        high_open=True,
        percent=True,
        empty=0.0,
    ),
    "hidden": FieldSpec(int, "hidden units", 1, 8192),
    "activation": FieldSpec(str, "hidden activation", choices=tuple(ACTIVATIONS)),
    "seed": FieldSpec(int, "random seed", 0, 2**32 - 1),
    "variant": FieldSpec(str, "backward-pass variant", choices=VARIANT_NAMES),
    "sigma": FieldSpec(float, "std of the noise-* variants' Gaussian noise on h", 0.0, 100.0),
    "noise_kind": FieldSpec(str, "noise-* variants: h + sigma eps, or h (1 + sigma eps)", choices=NOISE_KINDS),
    "stale_k": FieldSpec(int, "steps of lag of the stale variants' weights", 0, 1000),
    "feedback_scale": FieldSpec(
        float, "feedback-* variants: B is drawn N(0, scale^2 / hidden)", 0.0, 1000.0, low_open=True
    ),
    "round_bits": FieldSpec(int, "round-* variants round h to multiples of 2^-bits (0: integers)", 0, 24),
    "round_mode": FieldSpec(str, "round-* variants: to the nearest multiple, or stochastically", choices=ROUND_MODES),
    "grad_bits": FieldSpec(int, "round-grad rounds every gradient to multiples of 2^-bits", 0, 40),
    "augment": FieldSpec(int, "random shift of training images, in pixels (0: off)", 0, 4),
    "dropout": FieldSpec(float, "probability of dropping a hidden unit in a training step", 0.0, 1.0, high_open=True),
    "input_dropout": FieldSpec(
        float, "probability of dropping an input pixel in a training step", 0.0, 1.0, high_open=True
    ),
    "max_norm": FieldSpec(float, "cap on the norm of each hidden unit's incoming weights (0: off)", 0.0, 1000.0),
    "init_scale": FieldSpec(
        float,
        "initial weights as a multiple of the usual scale (He for relu, Xavier-like otherwise)",
        0.0,
        1000.0,
        low_open=True,
    ),
    "train_size": FieldSpec(int, "train on the first N training images (0: all of them)", 0, 1_000_000),
    "label_noise": FieldSpec(
        float,
        "fraction of training labels replaced by another class, drawn from the seed, e.g. 0.3 or 30%",
        0.0,
        1.0,
        high_open=True,
        percent=True,
    ),
    "warmup": FieldSpec(float, "epochs over which the learning rate rises from 0 at the start (0: off)", 0.0, 100.0),
    "label_smoothing": FieldSpec(
        float, "share of each target spread evenly over the classes, e.g. 0.1 (0: one-hot)", 0.0, 1.0, high_open=True
    ),
}
#: Fields that do not change what a step computes: left out of the study's run ids (the study ignores them).
NON_TRAINING_FIELDS = frozenset({"target_error"})


@dataclass(frozen=True)
class HyperParams:
    """Everything that shapes a training run. Frozen, and valid by construction: every field is
    checked against ``SPECS`` when one is made (ValueError, one line). Change with ``validated``."""

    lr: float = 0.05
    batch_size: int = 64
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    lr_decay: float = 0.9
    epochs: int = 10
    hidden: int = 256
    activation: str = DEFAULT_ACTIVATION
    seed: int = 0
    variant: str = "exact"
    sigma: float = 0.5
    noise_kind: str = "additive"
    stale_k: int = 10
    feedback_scale: float = 1.0
    round_bits: int = 0
    round_mode: str = "nearest"
    grad_bits: int = 12
    augment: int = 0
    dropout: float = 0.0
    input_dropout: float = 0.0
    max_norm: float = 0.0
    init_scale: float = 1.0  # x the usual initial weight scale (applies on reset)
    train_size: int = 0  # the first N training images (0: all; applies on reset)
    label_noise: float = 0.0  # fraction of training labels flipped to another class (applies on reset)
    target_error: float = 0.0  # a validation error to stop at (0: off); read by the run core
    warmup: float = 0.0  # epochs of linear warm-up of the learning rate (0: off)
    label_smoothing: float = 0.0  # targets (1 - e) one-hot + e / K (0: one-hot)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_value(f.name, getattr(self, f.name))

    def validated(self, **changes: Any) -> HyperParams:
        """A copy with ``changes`` applied; ValueError (one line) for an unknown name or an invalid value."""
        for name in changes:
            if name not in SPECS:
                raise ValueError(f"unknown hyperparameter {name!r}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HyperParams:
        """Build from a dict, validating each known field and ignoring unknown ones."""
        known = {k: v for k, v in d.items() if k in SPECS}
        return cls().validated(**known)


def check_value(name: str, value: Any) -> None:
    """Raise ValueError with a one-line reason if ``value`` is not valid for field ``name``."""
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown hyperparameter {name!r}")
    if spec.choices:
        if value not in spec.choices:
            raise ValueError(f"{name} must be one of {', '.join(spec.choices)} (got {value!r})")
        return
    if spec.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    if spec.kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{name} must be a number (got {value!r})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite (got {value})")
    lo_ok = spec.low is None or (value > spec.low if spec.low_open else value >= spec.low)
    hi_ok = spec.high is None or (value < spec.high if spec.high_open else value <= spec.high)
    if not (lo_ok and hi_ok):
        raise ValueError(f"{name} must be {_range_text(spec)} (got {value})")


def _range_text(spec: FieldSpec) -> str:
    lo = f"{'>' if spec.low_open else '>='} {spec.low:g}" if spec.low is not None else ""
    hi = f"{'<' if spec.high_open else '<='} {spec.high:g}" if spec.high is not None else ""
    return " and ".join(p for p in (lo, hi) if p)


def parse_value(name: str, text: str) -> Any:
    """Parse user text for field ``name`` into a valid value, or raise ValueError (one line)."""
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown hyperparameter {name!r}")
    text = text.strip()
    if not text:
        if spec.empty is not None:
            return spec.empty
        raise ValueError(f"{name}: empty value")
    value: Any
    if spec.percent:
        value = _parse_fraction(name, spec, text)
    elif spec.choices:
        value = text.lower()
    elif spec.kind is int:
        try:
            number = float(text.replace("_", "")) if any(c in text for c in ".eE") else int(text, 10)
        except ValueError:
            raise ValueError(f"{name} must be a whole number (got {text!r})") from None
        if isinstance(number, float):
            if not math.isfinite(number) or not number.is_integer():
                raise ValueError(f"{name} must be a whole number (got {text!r})")
            number = int(number)
        value = number
    else:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number (got {text!r})") from None
    check_value(name, value)
    return value


def _parse_fraction(name: str, spec: FieldSpec, text: str) -> float:
    """A fraction typed as "0.02" or as a percentage, "2%"; ValueError (one line) otherwise."""
    number = text[:-1].strip() if text.endswith("%") else text
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{name} must be a fraction such as 0.02 or a percentage such as 2% (got {text!r})") from None
    if text.endswith("%"):
        value = round(value / 100, 12)  # 2% -> 0.02 exactly as typed, not 0.020000000000000004
    if math.isfinite(value) and spec.high is not None and value >= spec.high and not text.endswith("%"):
        raise ValueError(f"{name} is a fraction below 1: for {number} percent write {number}% (got {text})")
    check_value(name, value)
    return value
