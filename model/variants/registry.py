"""The variant registry: name -> question, help line, factory; ``make_rule`` builds one from hyperparameters.

Leaves out: what each variant does (``base.py``, ``rules.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from model.variants.base import Exact, Variant
from model.variants.rules import (
    ROUND_PLACES,
    FrozenFirstLayer,
    HiddenNoise,
    RandomFeedback,
    RandomHidden,
    Rounding,
    StaleWeights,
)


class VariantSettings(Protocol):
    """The settings a variant is built from: the fields of ``model.config.HyperParams`` it reads
    (``model.config`` imports this package for the variant names; this side names only these)."""

    @property
    def variant(self) -> str: ...
    @property
    def sigma(self) -> float: ...
    @property
    def stale_k(self) -> int: ...
    @property
    def dropout(self) -> float: ...
    @property
    def input_dropout(self) -> float: ...


@dataclass(frozen=True)
class VariantInfo:
    """One registered variant: the assignment question it answers, a help line, a factory."""

    name: str
    question: str
    help: str
    make: Callable[[VariantSettings], Variant]
    options: tuple[str, ...] = ()  # HyperParams fields the variant reads


def _round(name: str, *places: str) -> Callable[[VariantSettings], Variant]:
    return lambda hp: Rounding(name, frozenset(places))


_INFOS = [
    VariantInfo("exact", "-", "true backprop", lambda hp: Exact()),
    VariantInfo(
        "shallow",
        "-",
        "control: W1 frozen at its initial value, only the output layer learns",
        lambda hp: FrozenFirstLayer(),
    ),
    VariantInfo(
        "feedback-fixed", "1a", "one random matrix replaces W2 in the backward pass", lambda hp: RandomFeedback(False)
    ),
    VariantInfo(
        "feedback-redrawn", "1b", "a new random matrix replaces W2 every step", lambda hp: RandomFeedback(True)
    ),
    VariantInfo(
        "stale",
        "2",
        "W2 from stale_k steps ago in the backward pass",
        lambda hp: StaleWeights(hp.stale_k),
        ("stale_k",),
    ),
    VariantInfo(
        "random-h-act-fixed",
        "3a",
        "random h where act'(.) is evaluated, fixed per batch row",
        lambda hp: RandomHidden("act", "fixed"),
    ),
    VariantInfo(
        "random-h-act-redrawn",
        "3b",
        "random h for act'(.), redrawn every step",
        lambda hp: RandomHidden("act", "redrawn"),
    ),
    VariantInfo(
        "random-h-act-example",
        "3c",
        "random h for act'(.), one fixed draw per training example",
        lambda hp: RandomHidden("act", "example"),
    ),
    VariantInfo(
        "random-h-dw-fixed", "4a", "random h in dL/dW2, fixed per batch row", lambda hp: RandomHidden("dW2", "fixed")
    ),
    VariantInfo(
        "random-h-dw-redrawn", "4b", "random h in dL/dW2, redrawn every step", lambda hp: RandomHidden("dW2", "redrawn")
    ),
    VariantInfo(
        "random-h-dw-example",
        "4c",
        "random h in dL/dW2, one fixed draw per training example",
        lambda hp: RandomHidden("dW2", "example"),
    ),
    VariantInfo(
        "random-h-both-redrawn",
        "3+4",
        "random h in act'(.) and dL/dW2 together, redrawn every step",
        lambda hp: RandomHidden("both", "redrawn"),
    ),
    VariantInfo(
        "random-h-both-example",
        "3+4",
        "random h in act'(.) and dL/dW2 together, one draw per training example",
        lambda hp: RandomHidden("both", "example"),
    ),
    VariantInfo(
        "noise-forward",
        "5a",
        "h + N(0, sigma^2) in the forward pass only",
        lambda hp: HiddenNoise("forward", hp.sigma),
        ("sigma",),
    ),
    VariantInfo(
        "noise-backward",
        "5b",
        "h + noise in the backward pass only",
        lambda hp: HiddenNoise("backward", hp.sigma),
        ("sigma",),
    ),
    VariantInfo("noise-same", "5c", "one noisy h in both passes", lambda hp: HiddenNoise("same", hp.sigma), ("sigma",)),
    VariantInfo(
        "noise-independent",
        "5d",
        "independent noise in each pass",
        lambda hp: HiddenNoise("independent", hp.sigma),
        ("sigma",),
    ),
    VariantInfo(
        "noise-true",
        "5e",
        "reference: the true gradient of the noise-injected net (act' from the clean pre-activation)",
        lambda hp: HiddenNoise("true", hp.sigma),
        ("sigma",),
    ),
    VariantInfo("round-forward", "6", "round(h) in the forward pass", _round("round-forward", "forward")),
    VariantInfo("round-backward", "6", "round(h) where act'(.) is evaluated", _round("round-backward", "act")),
    VariantInfo("round-dw", "6", "round(h) in dL/dW2", _round("round-dw", "dW2")),
    VariantInfo(
        "round-forward-backward",
        "6",
        "round(h) in the forward pass and act'(.)",
        _round("round-forward-backward", "forward", "act"),
    ),
    VariantInfo(
        "round-forward-dw", "6", "round(h) in the forward pass and dL/dW2", _round("round-forward-dw", "forward", "dW2")
    ),
    VariantInfo(
        "round-everywhere",
        "6",
        "round(h) in the forward pass, act'(.) and dL/dW2",
        _round("round-everywhere", *ROUND_PLACES),
    ),
]
VARIANTS: dict[str, VariantInfo] = {info.name: info for info in _INFOS}
VARIANT_NAMES = tuple(VARIANTS)
#: HyperParams fields that configure some variant.
VARIANT_OPTIONS = ("sigma", "stale_k")


def variant_key(hp: VariantSettings) -> tuple[Any, ...]:
    """The variant name plus the options it reads: a rule is rebuilt only when this changes."""
    info = get_variant(hp.variant)
    return (info.name, *(getattr(hp, o) for o in info.options))


def get_variant(name: str) -> VariantInfo:
    """Look up a variant by name; ValueError lists the choices."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r} (choose from {', '.join(VARIANTS)})") from None


def rule_for(hp: VariantSettings, current: Variant) -> Variant:
    """The rule to step with under ``hp``: ``current`` while it still is what ``hp`` asks for (or
    a custom rule, which stays whatever the settings say), else a fresh one; dropout rates follow ``hp``."""
    rule = current if not current.follows_settings or current.key == variant_key(hp) else make_rule(hp)
    rule.dropout, rule.input_dropout = hp.dropout, hp.input_dropout
    return rule


def make_rule(hp: VariantSettings) -> Variant:
    """A fresh gradient rule for ``hp.variant`` with its options (fixed draws happen on first use)."""
    rule = get_variant(hp.variant).make(hp)
    rule.key = variant_key(hp)
    rule.dropout, rule.input_dropout = hp.dropout, hp.input_dropout
    return rule
