"""Backward-pass variants: named gradient rules that change what backprop is fed.

``base`` holds what the backward pass reads (``BackwardInputs``), the exact rule and the
adapter that lets any ``GradientRule`` plug in (``CustomRule``); one
module per question holds its perturbing variants: ``feedback`` (random or sign-concordant
feedback), ``staleness`` (stale feedback weights, stale whole gradients), ``hidden`` (random
hidden states), ``noise`` (additive or multiplicative noise on h), ``rounding`` (rounded h or
gradients); ``rules`` the shallow control; ``registry`` the table of names (``VARIANTS``,
``make_rule``); ``alignment`` the angle between a variant's update and the true gradient.

Leaves out: the training loop (``model.trainer``), the study over all variants
(``model.study``) and anything about display.
"""

from model.variants.alignment import AlignmentProbe, angle_degrees
from model.variants.base import BackwardInputs, CustomRule, Exact, GradientRule, Variant, as_variant
from model.variants.feedback import RandomFeedback, SignFeedback
from model.variants.hidden import RandomHidden
from model.variants.noise import NOISE_KINDS, NOISE_MODES, HiddenNoise
from model.variants.registry import (
    VARIANT_NAMES,
    VARIANT_OPTIONS,
    VARIANTS,
    VariantInfo,
    get_variant,
    make_rule,
    rule_for,
    variant_key,
)
from model.variants.rounding import ROUND_MODES, ROUND_PLACES, GradientRounding, Rounding
from model.variants.rules import FrozenFirstLayer
from model.variants.staleness import StaleGradient, StaleWeights

__all__ = [
    "NOISE_KINDS",
    "NOISE_MODES",
    "ROUND_MODES",
    "ROUND_PLACES",
    "VARIANTS",
    "VARIANT_NAMES",
    "VARIANT_OPTIONS",
    "AlignmentProbe",
    "BackwardInputs",
    "CustomRule",
    "Exact",
    "FrozenFirstLayer",
    "GradientRounding",
    "GradientRule",
    "HiddenNoise",
    "RandomFeedback",
    "RandomHidden",
    "Rounding",
    "SignFeedback",
    "StaleGradient",
    "StaleWeights",
    "Variant",
    "VariantInfo",
    "angle_degrees",
    "as_variant",
    "get_variant",
    "make_rule",
    "rule_for",
    "variant_key",
]
