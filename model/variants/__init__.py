"""Backward-pass variants: named gradient rules that change what backprop is fed.

``base`` holds what the backward pass reads (``BackwardInputs``), the exact rule and the
adapter that lets any ``GradientRule`` plug in (``CustomRule``),
``rules`` the perturbing variants (random feedback, stale weights, random or noisy or
rounded hidden states), ``registry`` the table of names (``VARIANTS``, ``make_rule``),
``alignment`` the angle between a variant's update and the true gradient.

Leaves out: the training loop (``model.trainer``), the study over all variants
(``model.study``) and anything about display.
"""

from model.variants.alignment import AlignmentProbe, angle_degrees
from model.variants.base import BackwardInputs, CustomRule, Exact, GradientRule, Variant, as_variant
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
from model.variants.rules import (
    NOISE_MODES,
    ROUND_PLACES,
    HiddenNoise,
    RandomFeedback,
    RandomHidden,
    Rounding,
    StaleWeights,
)

__all__ = [
    "NOISE_MODES",
    "ROUND_PLACES",
    "VARIANTS",
    "VARIANT_NAMES",
    "VARIANT_OPTIONS",
    "AlignmentProbe",
    "BackwardInputs",
    "CustomRule",
    "Exact",
    "GradientRule",
    "HiddenNoise",
    "RandomFeedback",
    "RandomHidden",
    "Rounding",
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
