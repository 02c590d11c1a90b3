"""Backward-pass variants: named gradient rules that change what backprop is fed.

``base`` holds what the backward pass reads (``BackwardInputs``) and the exact rule,
``rules`` the perturbing variants (random feedback, stale weights, random or noisy or
rounded hidden states), ``registry`` the table of names (``VARIANTS``, ``make_rule``),
``alignment`` the angle between a variant's update and the true gradient.

Leaves out: the training loop (``model.trainer``), the study over all variants
(``model.study``) and anything about display.
"""

from model.variants.alignment import AlignmentProbe, angle_degrees
from model.variants.base import BackwardInputs, Exact, Variant
from model.variants.registry import (
    VARIANT_NAMES,
    VARIANT_OPTIONS,
    VARIANTS,
    VariantInfo,
    get_variant,
    make_rule,
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
    "Exact",
    "HiddenNoise",
    "RandomFeedback",
    "RandomHidden",
    "Rounding",
    "StaleWeights",
    "Variant",
    "VariantInfo",
    "angle_degrees",
    "get_variant",
    "make_rule",
    "variant_key",
]
