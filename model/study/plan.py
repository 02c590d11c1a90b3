"""The study's plan: which runs to make (a variant with its options), before any seed is added.

``default_configs`` lists exact backprop, then every registered variant and sub-option, with
the noise sigmas and stale lags of the study. Leaves out: running (``run.py``) and results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from model.config import HyperParams
from model.variants import VARIANTS

DEFAULT_SIGMAS = (0.1, 0.5, 1.0)
DEFAULT_STALE_KS = (1, 10, 100)


@dataclass(frozen=True)
class RunConfig:
    """One line of the study: a variant with its options (seeds are added by ``run_study``)."""

    variant: str
    sigma: float | None = None
    stale_k: int | None = None

    @property
    def question(self) -> str:
        return VARIANTS[self.variant].question

    @property
    def label(self) -> str:
        """e.g. ``noise-same sigma=0.5`` or ``stale k=10``."""
        if self.sigma is not None:
            return f"{self.variant} sigma={self.sigma:g}"
        if self.stale_k is not None:
            return f"{self.variant} k={self.stale_k}"
        return self.variant

    @classmethod
    def from_label(cls, label: str) -> RunConfig:
        """Inverse of ``label``: ``"stale k=10"`` -> RunConfig("stale", stale_k=10)."""
        variant, _, option = label.partition(" ")
        if option.startswith("sigma="):
            return cls(variant, sigma=float(option[6:]))
        if option.startswith("k="):
            return cls(variant, stale_k=int(option[2:]))
        return cls(variant)

    def hparams(self, base: HyperParams, seed: int) -> HyperParams:
        """``base`` with this variant, its options and ``seed``."""
        options = {k: v for k, v in (("sigma", self.sigma), ("stale_k", self.stale_k)) if v is not None}
        return base.validated(variant=self.variant, seed=seed, **options)


def default_configs(
    sigmas: Sequence[float] = DEFAULT_SIGMAS, stale_ks: Sequence[int] = DEFAULT_STALE_KS
) -> list[RunConfig]:
    """Exact backprop and every registered variant; noise at each sigma, stale at each k."""
    configs: list[RunConfig] = []
    for name, info in VARIANTS.items():
        if "sigma" in info.options:
            configs += [RunConfig(name, sigma=float(s)) for s in sigmas]
        elif "stale_k" in info.options:
            configs += [RunConfig(name, stale_k=int(k)) for k in stale_ks]
        else:
            configs.append(RunConfig(name))
    return configs
