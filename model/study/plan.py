"""The study's plan: which runs to make. A ``RunConfig`` is one cell (a variant with its options at
one learning rate, momentum, activation and width); a ``Grid`` is a named study: its budget, its
seeds and its sections.

- ``entries``: rate sweeps. Each (variant, options, activation, width) is swept over a ladder of
  learning rates (``LADDER``, steps of about ×√10) on the *selection seeds* at the short budget,
  extending itself until its best rate is interior and its largest rate fails (``adaptive.py``);
  at the chosen rate it is then run on the *report seeds* (fresh ones) at the long or the short
  budget, with the controls beside it at the same rate (equal-rate contrasts).
- ``stale``: stale feedback weights and stale whole gradients over lag k at a few effective
  steps lr/(1 - mu), with momentum 0 and 0.9, exact backprop (k = 0) at each.
- ``noise`` and ``rounding``: noise scale sigma and rounding resolution 2^-b at exact backprop's
  chosen rate, on report seeds.

Leaves out: deciding what to run next (``adaptive.py``), running (``run.py``) and results.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from model.config import HyperParams
from model.variants import VARIANTS

#: Learning rates a sweep may try, in steps of ×3 and ×3.33 (about ×√10).
LADDER = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
CONTROLS = ("exact", "shallow")
#: How option values show in a cell's label (options at their default value are left out).
_OPTION_TEXT: dict[str, Any] = {
    "noise_kind": lambda v: "" if v == "additive" else "mult",
    "sigma": lambda v: f"sigma={v:g}",
    "stale_k": lambda v: f"k={v}",
    "feedback_scale": lambda v: "" if v == 1.0 else f"B×{v:g}",
    "round_mode": lambda v: "" if v == "nearest" else "stochastic",
    "round_bits": lambda v: "" if v == 0 else f"b={v}",
    "grad_bits": lambda v: f"b={v}",
}

Options = tuple[tuple[str, Any], ...]


def options_of(d: dict[str, Any]) -> Options:
    """A dict of variant options as the sorted tuple a ``RunConfig`` holds."""
    return tuple(sorted(d.items()))


@dataclass(frozen=True)
class RunConfig:
    """One cell of the study: a variant with its options at one setting (seeds are added later).

    ``hidden`` 0 means the grid's width.
    """

    variant: str
    options: Options = ()
    lr: float = 0.01
    momentum: float = 0.9
    activation: str = "relu"
    hidden: int = 0

    @property
    def question(self) -> str:
        return VARIANTS[self.variant].question

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    @property
    def label(self) -> str:
        """The variant and its options, e.g. ``noise-same mult sigma=0.5`` or ``stale k=10``."""
        words = [self.variant]
        for name, value in sorted(self.options, key=lambda o: list(_OPTION_TEXT).index(o[0])):
            text = _OPTION_TEXT[name](value)
            if text:
                words.append(text)
        return " ".join(words)

    @property
    def effective_step(self) -> float:
        """lr / (1 - momentum): the step size of heavy-ball momentum at steady state."""
        return self.lr / (1.0 - self.momentum)

    @property
    def setting(self) -> str:
        """e.g. ``relu lr=0.01 mu=0.9`` (and ``H=512`` for another width)."""
        width = f" H={self.hidden}" if self.hidden else ""
        return f"{self.activation} lr={self.lr:g} mu={self.momentum:g}{width}"

    @property
    def key(self) -> str:
        """The label and the setting: unique within a grid."""
        return f"{self.label} | {self.setting}"

    def at(self, lr: float) -> RunConfig:
        return replace(self, lr=lr)

    def hparams(self, base: HyperParams, seed: int) -> HyperParams:
        """``base`` with this cell's variant, options, setting and ``seed``."""
        return base.validated(
            variant=self.variant,
            seed=seed,
            lr=self.lr,
            momentum=self.momentum,
            activation=self.activation,
            schedule="constant",
            **({"hidden": self.hidden} if self.hidden else {}),
            **dict(self.options),
        )


def cell(
    variant: str, options: dict[str, Any], lr: float, momentum: float, activation: str, hidden: int = 0
) -> RunConfig:
    return RunConfig(variant, options_of(options), lr, momentum, activation, hidden)


@dataclass(frozen=True)
class Entry:
    """One rate sweep: a variant with its options at one activation and width.

    ``section`` groups entries in the report ("sweep", "scale", "width"); ``long``: the report
    seeds train for the grid's long budget (else its short one); ``controls``: the variants run
    beside it at its chosen rate, for the equal-rate contrasts.
    """

    variant: str
    options: Options = ()
    activation: str = "relu"
    hidden: int = 0
    long: bool = False
    section: str = "sweep"
    controls: tuple[str, ...] = CONTROLS

    def config(self, lr: float, momentum: float) -> RunConfig:
        return RunConfig(self.variant, self.options, lr, momentum, self.activation, self.hidden)

    @property
    def name(self) -> str:
        """The entry's label and where it sits, e.g. ``feedback-fixed B×10 · relu``."""
        width = f" H={self.hidden}" if self.hidden else ""
        return f"{self.config(0.0, 0.0).label} · {self.activation}{width}"


@dataclass(frozen=True)
class Grid:
    """A named study: its budget, seeds and sections. ``train_size`` None: all 50,000 images."""

    name: str
    hidden: int
    entries: tuple[Entry, ...]
    short_epochs: int = 2
    long_epochs: int = 10
    selection_seeds: int = 3
    report_seeds: int = 5
    section_seeds: int = 3
    momentum: float = 0.9
    start: tuple[float, ...] = (0.01, 0.03, 0.1)
    ladder: tuple[float, ...] = LADDER
    stale_kinds: tuple[str, ...] = ()
    stale_momenta: tuple[float, ...] = ()
    stale_steps: tuple[float, ...] = ()
    stale_ks: tuple[int, ...] = ()
    noise_variants: tuple[tuple[str, Options], ...] = ()
    noise_sigmas: tuple[float, ...] = ()
    noise_activations: tuple[str, ...] = ()
    round_variants: tuple[tuple[str, Options], ...] = ()
    round_bits: tuple[int, ...] = ()
    grad_bits: tuple[int, ...] = ()
    round_activations: tuple[str, ...] = ()
    train_size: int | None = None
    batch_size: int = 64
    note: str = ""
    cpu_hours: float = 0.0  # measured or estimated on this 2-core machine class (see --help)
    minutes: float = 0.0  # wall time of a whole run of the grid measured on this machine class (0: never)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return self.short_epochs

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.activation for e in self.entries))

    @property
    def seeds(self) -> int:
        return self.selection_seeds

    def selection(self) -> tuple[int, ...]:
        """Seeds the learning rate is chosen on."""
        return tuple(range(self.selection_seeds))

    def report(self) -> tuple[int, ...]:
        """Seeds the reported numbers come from (never used to choose anything)."""
        return tuple(range(1000, 1000 + self.report_seeds))

    def sections(self) -> tuple[int, ...]:
        """Seeds of the fixed-setting sections (stale map, noise, rounding): report seeds."""
        return self.report()[: self.section_seeds]

    def stale_map(self) -> list[RunConfig]:
        """Every stale cell, and exact backprop at each (lr, momentum)."""
        cells = []
        for mu in self.stale_momenta:
            for step in self.stale_steps:
                lr = round(step * (1 - mu), 10)
                cells.append(cell("exact", {}, lr, mu, "relu"))
                cells += [
                    cell(kind, {"stale_k": k}, lr, mu, "relu") for kind in self.stale_kinds for k in self.stale_ks
                ]
        return cells

    def noise_cells(self, activation: str, lr: float) -> list[RunConfig]:
        return [
            RunConfig(v, options_of({**dict(o), "sigma": s}), lr, self.momentum, activation)
            for v, o in self.noise_variants
            for s in self.noise_sigmas
        ]

    def rounding_cells(self, activation: str, lr: float) -> list[RunConfig]:
        cells = [
            RunConfig(v, options_of({**dict(o), "round_bits": b}), lr, self.momentum, activation)
            for v, o in self.round_variants
            for b in self.round_bits
        ]
        if activation == self.round_activations[0]:
            cells += [
                cell("round-grad", {"grad_bits": b, "round_mode": m}, lr, self.momentum, activation)
                for m in ("nearest", "stochastic")
                for b in self.grad_bits
            ]
        return cells

    def base(self) -> HyperParams:
        """The hyperparameters every cell starts from."""
        return HyperParams().validated(hidden=self.hidden, batch_size=self.batch_size, epochs=self.short_epochs)

    @property
    def runs(self) -> int:
        """Runs the grid makes if every sweep tries four rates (an estimate: sweeps adapt)."""
        sweeps = len(self.entries) * (4 * self.selection_seeds + self.report_seeds * 2)
        sections = (
            len(self.stale_map())
            + sum(len(self.noise_cells(a, 0.1)) for a in self.noise_activations)
            + sum(len(self.rounding_cells(a, 0.1)) for a in self.round_activations)
        )
        return sweeps + sections * self.section_seeds


def only_variants(grid: Grid, names: tuple[str, ...] | list[str]) -> Grid:
    """The grid with only these variants (and the controls) in every section."""
    wanted = set(names) | set(CONTROLS)
    return replace(
        grid,
        entries=tuple(e for e in grid.entries if e.variant in wanted),
        stale_kinds=tuple(k for k in grid.stale_kinds if k in wanted),
        noise_variants=tuple(v for v in grid.noise_variants if v[0] in wanted),
        round_variants=tuple(v for v in grid.round_variants if v[0] in wanted),
        grad_bits=grid.grad_bits if "round-grad" in wanted else (),
    )
