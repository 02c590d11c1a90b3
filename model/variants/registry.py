"""The variant registry: name -> question, help line, factory; ``make_rule`` builds one from hyperparameters.

Leaves out: what each variant does (``base.py``, ``rules.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from model.variants.base import Exact, Variant
from model.variants.feedback import RandomFeedback, SignFeedback
from model.variants.hidden import RandomHidden
from model.variants.noise import HiddenNoise
from model.variants.rounding import ROUND_PLACES, GradientRounding, Rounding
from model.variants.rules import FrozenFirstLayer
from model.variants.staleness import StaleGradient, StaleWeights


class VariantSettings(Protocol):
    """The settings a variant is built from: the fields of ``model.config.HyperParams`` it reads
    (``model.config`` imports this package for the variant names; this side names only these)."""

    @property
    def variant(self) -> str: ...
    @property
    def sigma(self) -> float: ...
    @property
    def noise_kind(self) -> str: ...
    @property
    def stale_k(self) -> int: ...
    @property
    def feedback_scale(self) -> float: ...
    @property
    def round_bits(self) -> int: ...
    @property
    def round_mode(self) -> str: ...
    @property
    def grad_bits(self) -> int: ...
    @property
    def dropout(self) -> float: ...
    @property
    def input_dropout(self) -> float: ...
    @property
    def label_smoothing(self) -> float: ...


@dataclass(frozen=True)
class VariantInfo:
    """One registered variant: the assignment question it answers, a help line, a factory."""

    name: str
    question: str
    help: str
    make: Callable[[VariantSettings], Variant]
    options: tuple[str, ...] = ()  # HyperParams fields the variant reads


FEEDBACK = ("feedback_scale",)
NOISE = ("sigma", "noise_kind")
ROUND = ("round_bits", "round_mode")


def _round(name: str, question: str, help: str, *places: str) -> VariantInfo:
    return VariantInfo(
        name, question, help, lambda hp: Rounding(name, frozenset(places), hp.round_bits, hp.round_mode), ROUND
    )


def _hidden(question: str, where: str, draw: str, help: str) -> VariantInfo:
    short = {"act": "act", "dW2": "dw", "both": "both"}[where]
    return VariantInfo(f"random-h-{short}-{draw}", question, help, lambda hp: RandomHidden(where, draw))


def _noise(question: str, mode: str, help: str) -> VariantInfo:
    return VariantInfo(f"noise-{mode}", question, help, lambda hp: HiddenNoise(mode, hp.sigma, hp.noise_kind), NOISE)


_INFOS = [
    VariantInfo("exact", "-", "true backprop", lambda hp: Exact()),
    VariantInfo(
        "shallow",
        "-",
        "control: W1 frozen at its initial value, only the output layer learns",
        lambda hp: FrozenFirstLayer(),
    ),
    VariantInfo(
        "feedback-fixed",
        "1a",
        "one random matrix B replaces W2 in the backward pass (feedback alignment)",
        lambda hp: RandomFeedback(False, hp.feedback_scale),
        FEEDBACK,
    ),
    VariantInfo(
        "feedback-redrawn",
        "1b",
        "a new random matrix replaces W2 every step",
        lambda hp: RandomFeedback(True, hp.feedback_scale),
        FEEDBACK,
    ),
    VariantInfo(
        "feedback-sign",
        "1c",
        "sign-concordant feedback: sign(W2) times fixed random magnitudes",
        lambda hp: SignFeedback(hp.feedback_scale),
        FEEDBACK,
    ),
    VariantInfo(
        "stale",
        "2a",
        "W2 from stale_k steps ago carries the delta back (the rest is current)",
        lambda hp: StaleWeights(hp.stale_k),
        ("stale_k",),
    ),
    VariantInfo(
        "stale-gradient",
        "2b",
        "the whole gradient at the weights of stale_k steps ago (asynchronous SGD)",
        lambda hp: StaleGradient(hp.stale_k),
        ("stale_k",),
    ),
    _hidden("3a", "act", "fixed", "random h where act'(.) is evaluated, fixed per batch row"),
    _hidden("3b", "act", "redrawn", "random h for act'(.), redrawn every step"),
    _hidden("3c", "act", "example", "random h for act'(.), one fixed draw per training example"),
    _hidden("3d", "act", "once", "random h for act'(.), one vector drawn once for every example"),
    _hidden("4a", "dW2", "fixed", "random h in dL/dW2, fixed per batch row"),
    _hidden("4b", "dW2", "redrawn", "random h in dL/dW2, redrawn every step"),
    _hidden("4c", "dW2", "example", "random h in dL/dW2, one fixed draw per training example"),
    _hidden("4d", "dW2", "once", "random h in dL/dW2, one vector drawn once for every example"),
    _hidden("3+4", "both", "redrawn", "random h in act'(.) and dL/dW2 together, redrawn every step"),
    _hidden("3+4", "both", "example", "random h in act'(.) and dL/dW2 together, one draw per training example"),
    _hidden("3+4", "both", "once", "random h in act'(.) and dL/dW2 together, one vector drawn once"),
    _noise("5a", "forward", "noise on h in the forward pass only"),
    _noise("5b", "backward", "noise on h in the backward pass only (dW2, and act'(.) at the noisy h)"),
    _noise("5b", "backward-clean", "noise on h in dW2 only, act'(.) at the clean z"),
    _noise("5c", "same", "one noisy h in both passes, act'(.) at the noisy h"),
    _noise("5d", "independent", "independent noise in each pass, act'(.) at the backward pass's noisy h"),
    _noise("5d", "independent-clean", "independent noise in each pass, act'(.) at the clean z"),
    _noise("5e", "true", "reference: the true gradient of the noise-injected net (act'(.) at the clean z)"),
    _round(
        "round-forward", "6", "rounded h in the forward pass only (straight-through, dW2 from the real h)", "forward"
    ),
    _round("round-backward", "6", "rounded h where act'(.) is evaluated", "act"),
    _round("round-dw", "6", "rounded h in dL/dW2", "dW2"),
    _round("round-forward-backward", "6", "rounded h in the forward pass and act'(.)", "forward", "act"),
    _round(
        "round-forward-dw",
        "6",
        "rounded h in the forward pass and dL/dW2: the straight-through estimator",
        "forward",
        "dW2",
    ),
    _round("round-everywhere", "6", "rounded h in the forward pass, act'(.) and dL/dW2", *ROUND_PLACES),
    VariantInfo(
        "round-grad",
        "6",
        "every gradient rounded to multiples of 2^-grad_bits",
        lambda hp: GradientRounding(hp.grad_bits, hp.round_mode),
        ("grad_bits", "round_mode"),
    ),
]
VARIANTS: dict[str, VariantInfo] = {info.name: info for info in _INFOS}
VARIANT_NAMES = tuple(VARIANTS)
#: HyperParams fields that configure some variant.
VARIANT_OPTIONS = ("sigma", "noise_kind", "stale_k", "feedback_scale", "round_bits", "round_mode", "grad_bits")


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
    a custom rule, which stays whatever the settings say), else a fresh one; dropout rates and label
    smoothing follow ``hp``."""
    rule = current if not current.follows_settings or current.key == variant_key(hp) else make_rule(hp)
    return _follow(rule, hp)


def make_rule(hp: VariantSettings) -> Variant:
    """A fresh gradient rule for ``hp.variant`` with its options (fixed draws happen on first use)."""
    rule = get_variant(hp.variant).make(hp)
    rule.key = variant_key(hp)
    return _follow(rule, hp)


def _follow(rule: Variant, hp: VariantSettings) -> Variant:
    """``rule`` with the settings every variant reads from ``hp`` (dropout rates, label smoothing)."""
    rule.dropout, rule.input_dropout = hp.dropout, hp.input_dropout
    rule.label_smoothing = hp.label_smoothing
    return rule
