"""The study's plan: which runs to make. A ``RunConfig`` is one cell (a variant with its options
at one learning rate, momentum and activation); a ``Grid`` is a named set of cells and their
budget (epochs, seeds, hidden units), built from four sections:

- ``sweep``: every variant (one option each) at every learning rate and activation;
- ``stale map``: stale weights over learning rate x momentum x lag k, with exact backprop at each
  (lr, momentum), so settings can be compared at equal effective step lr / (1 - momentum);
- ``noise``: every noise mode at every sigma (sigma -> 0) at a few learning rates;
- the controls (exact backprop, the ceiling, and the shallow net with W1 frozen, the floor)
  sit in every section that compares variants.

Leaves out: running (``run.py``) and results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model.config import HyperParams
from model.variants import VARIANTS

#: The variants of the sweep, with the option each is run at there (noise: sigma, stale: k).
SWEEP_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("exact", {}),
    ("shallow", {}),
    ("feedback-fixed", {}),
    ("feedback-redrawn", {}),
    ("stale", {"stale_k": 10}),
    ("random-h-act-fixed", {}),
    ("random-h-act-redrawn", {}),
    ("random-h-act-example", {}),
    ("random-h-dw-fixed", {}),
    ("random-h-dw-redrawn", {}),
    ("random-h-dw-example", {}),
    ("random-h-both-redrawn", {}),
    ("random-h-both-example", {}),
    ("noise-forward", {"sigma": 0.5}),
    ("noise-backward", {"sigma": 0.5}),
    ("noise-same", {"sigma": 0.5}),
    ("noise-independent", {"sigma": 0.5}),
    ("noise-true", {"sigma": 0.5}),
    ("round-forward", {}),
    ("round-backward", {}),
    ("round-dw", {}),
    ("round-forward-backward", {}),
    ("round-forward-dw", {}),
    ("round-everywhere", {}),
)
CONTROLS = ("exact", "shallow")


@dataclass(frozen=True, order=True)
class RunConfig:
    """One cell of the study: a variant with its options at one setting (seeds are added later)."""

    variant: str
    sigma: float | None = None
    stale_k: int | None = None
    lr: float = 0.01
    momentum: float = 0.9
    activation: str = "relu"

    @property
    def question(self) -> str:
        return VARIANTS[self.variant].question

    @property
    def label(self) -> str:
        """The variant and its option, e.g. ``noise-same sigma=0.5`` or ``stale k=10``."""
        if self.sigma is not None:
            return f"{self.variant} sigma={self.sigma:g}"
        if self.stale_k is not None:
            return f"{self.variant} k={self.stale_k}"
        return self.variant

    @property
    def effective_step(self) -> float:
        """lr / (1 - momentum): the step size of heavy-ball momentum at steady state."""
        return self.lr / (1.0 - self.momentum)

    @property
    def setting(self) -> str:
        """e.g. ``relu lr=0.01 mu=0.9``."""
        return f"{self.activation} lr={self.lr:g} mu={self.momentum:g}"

    @property
    def key(self) -> str:
        """The label and the setting: unique within a grid."""
        return f"{self.label} | {self.setting}"

    def hparams(self, base: HyperParams, seed: int) -> HyperParams:
        """``base`` with this cell's variant, options, setting and ``seed``."""
        options = {k: v for k, v in (("sigma", self.sigma), ("stale_k", self.stale_k)) if v is not None}
        return base.validated(
            variant=self.variant,
            seed=seed,
            lr=self.lr,
            momentum=self.momentum,
            activation=self.activation,
            schedule="constant",
            **options,
        )


def cell(variant: str, options: dict[str, Any], lr: float, momentum: float, activation: str) -> RunConfig:
    sigma, k = options.get("sigma"), options.get("stale_k")
    return RunConfig(
        variant, None if sigma is None else float(sigma), None if k is None else int(k), lr, momentum, activation
    )


@dataclass(frozen=True)
class Grid:
    """A named study: its cells and its budget. ``train_size`` None trains on all 50,000 images."""

    name: str
    epochs: int
    seeds: int
    hidden: int
    lrs: tuple[float, ...]
    momentum: float
    activations: tuple[str, ...]
    sweep_variants: tuple[tuple[str, dict[str, Any]], ...] = SWEEP_VARIANTS
    stale_lrs: tuple[float, ...] = ()
    stale_momenta: tuple[float, ...] = ()
    stale_ks: tuple[int, ...] = ()
    noise_lrs: tuple[float, ...] = ()
    noise_sigmas: tuple[float, ...] = ()
    train_size: int | None = None
    batch_size: int = 64
    note: str = ""
    cpu_hours: float = 0.0  # measured or estimated on this 2-core machine class (see --help)
    extra: dict[str, Any] = field(default_factory=dict)

    def sweep(self) -> list[RunConfig]:
        return [
            cell(v, opts, lr, self.momentum, act)
            for act in self.activations
            for v, opts in self.sweep_variants
            for lr in self.lrs
        ]

    def stale_map(self) -> list[RunConfig]:
        cells = []
        for mu in self.stale_momenta:
            for lr in self.stale_lrs:
                cells.append(cell("exact", {}, lr, mu, "relu"))
                cells += [cell("stale", {"stale_k": k}, lr, mu, "relu") for k in self.stale_ks]
        return cells

    def noise(self) -> list[RunConfig]:
        modes = [v for v, _ in self.sweep_variants if v.startswith("noise-")]
        return [
            cell(mode, {"sigma": s}, lr, self.momentum, "relu")
            for lr in self.noise_lrs
            for mode in modes
            for s in self.noise_sigmas
        ] + [cell("exact", {}, lr, self.momentum, "relu") for lr in self.noise_lrs]

    def configs(self) -> list[RunConfig]:
        """Every cell once, sweep first."""
        return list(dict.fromkeys([*self.sweep(), *self.stale_map(), *self.noise()]))

    @property
    def runs(self) -> int:
        return len(self.configs()) * self.seeds

    def base(self) -> HyperParams:
        """The hyperparameters every cell starts from."""
        return HyperParams().validated(hidden=self.hidden, batch_size=self.batch_size, epochs=self.epochs)


QUICK = Grid(
    "quick",
    epochs=1,
    seeds=2,
    hidden=16,
    lrs=(0.01, 0.1),
    momentum=0.9,
    activations=("relu", "sigmoid"),
    sweep_variants=(
        ("exact", {}),
        ("shallow", {}),
        ("feedback-fixed", {}),
        ("stale", {"stale_k": 10}),
        ("noise-same", {"sigma": 0.5}),
        ("noise-true", {"sigma": 0.5}),
        ("round-forward", {}),
    ),
    stale_lrs=(0.01,),
    stale_momenta=(0.0, 0.9),
    stale_ks=(2, 10),
    noise_lrs=(0.01,),
    noise_sigmas=(1e-4, 0.5),
    train_size=2000,
    note="a smoke test: 2,000 training images, 16 units, 1 epoch (its numbers mean nothing)",
    cpu_hours=0.003,
)
DEFAULT = Grid(
    "default",
    epochs=2,
    seeds=5,
    hidden=128,
    lrs=(0.003, 0.01, 0.03, 0.1),
    momentum=0.9,
    activations=("relu", "tanh", "sigmoid"),
    stale_lrs=(0.01, 0.02, 0.05, 0.1),
    stale_momenta=(0.0, 0.5, 0.9),
    stale_ks=(1, 2, 5, 10, 20, 50, 100),
    noise_lrs=(0.01, 0.03),
    noise_sigmas=(1e-4, 1e-2, 0.1, 0.5, 1.0),
    note="128 units, 2 epochs, 5 seeds: sized for a 2-core machine",
    cpu_hours=1.3,  # measured: 39.7 min on 2 single-threaded workers
)
FULL = Grid(
    "full",
    epochs=10,
    seeds=10,
    hidden=256,
    lrs=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
    momentum=0.9,
    activations=("relu", "tanh", "sigmoid"),
    stale_lrs=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2),
    stale_momenta=(0.0, 0.5, 0.9, 0.99),
    stale_ks=(1, 2, 5, 10, 20, 50, 100),
    noise_lrs=(0.003, 0.01, 0.03),
    noise_sigmas=(1e-4, 1e-2, 0.1, 0.5, 1.0),
    note="256 units, 10 epochs, 10 seeds: for a cluster",
    cpu_hours=42.0,  # estimated from the default grid: about 2.2 s per epoch of 256 units
)
GRIDS: dict[str, Grid] = {g.name: g for g in (QUICK, DEFAULT, FULL)}


def only_variants(grid: Grid, names: Sequence[str]) -> list[RunConfig]:
    """The grid's cells for these variants, with the controls kept."""
    wanted = set(names) | set(CONTROLS)
    return [c for c in grid.configs() if c.variant in wanted]
