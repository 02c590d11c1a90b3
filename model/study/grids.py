"""The named studies: ``quick`` (a smoke test), ``default`` (sized for a 2-core machine) and
``full`` (for a cluster). Each is a ``Grid`` of rate-sweep entries and fixed-setting sections.

Leaves out: what the sections mean (``plan.py``) and how the sweeps adapt (``adaptive.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from model.study.plan import Entry, Grid, Options, options_of

Spec = tuple[str, dict[str, Any]]

FEEDBACK: list[Spec] = [("feedback-fixed", {}), ("feedback-redrawn", {}), ("feedback-sign", {})]
STALE: list[Spec] = [("stale", {"stale_k": 10}), ("stale-gradient", {"stale_k": 10})]
RANDOM_H: list[Spec] = [
    (f"random-h-{where}-{draw}", {})
    for where, draws in (
        ("act", ("fixed", "redrawn", "example", "once")),
        ("dw", ("fixed", "redrawn", "example", "once")),
        ("both", ("redrawn", "example", "once")),
    )
    for draw in draws
]
RANDOM_H_SHORT: list[Spec] = [
    (f"random-h-{where}-{draw}", {}) for where in ("act", "dw", "both") for draw in ("redrawn", "once")
]
NOISE_MODES = ("forward", "backward", "backward-clean", "same", "independent", "independent-clean", "true")
MULT_MODES = ("forward", "backward", "same", "independent", "true")
NOISE_ADD: list[Spec] = [(f"noise-{m}", {"sigma": 0.5}) for m in NOISE_MODES]
NOISE_MULT: list[Spec] = [(f"noise-{m}", {"sigma": 0.5, "noise_kind": "multiplicative"}) for m in MULT_MODES]
ROUND: list[Spec] = [
    (f"round-{p}", {}) for p in ("forward", "backward", "dw", "forward-backward", "forward-dw", "everywhere")
]
ROUND_GRAD: list[Spec] = [("round-grad", {"grad_bits": 10, "round_mode": m}) for m in ("nearest", "stochastic")]
CONTROL_SPECS: list[Spec] = [("exact", {}), ("shallow", {})]


def entries(specs: Iterable[Spec], activation: str, **kw: Any) -> tuple[Entry, ...]:
    return tuple(Entry(v, options_of(o), activation, **kw) for v, o in specs)


def specs(items: Iterable[Spec]) -> tuple[tuple[str, Options], ...]:
    return tuple((v, options_of(o)) for v, o in items)


def _main_sweep(long_relu: bool, long_others: bool, relu_only_extras: bool) -> tuple[Entry, ...]:
    relu = [*CONTROL_SPECS, *FEEDBACK, *STALE, *RANDOM_H, *NOISE_ADD, *NOISE_MULT, *ROUND, *ROUND_GRAD]
    others = [
        *FEEDBACK,
        *STALE,
        *(RANDOM_H_SHORT if relu_only_extras else RANDOM_H),
        *NOISE_ADD,
        *(n for n in NOISE_MULT if n[0] in ("noise-backward", "noise-same", "noise-true")),
        *ROUND,
    ]
    out = list(entries(relu, "relu", long=long_relu))
    for act in ("tanh", "sigmoid"):
        out += entries(CONTROL_SPECS, act, long=True)
        out += entries(others, act, long=long_others)
    return tuple(out)


def _scale_and_width(widths: tuple[int, ...]) -> tuple[Entry, ...]:
    scale = [(v, {"feedback_scale": s}) for v in ("feedback-fixed", "feedback-sign") for s in (0.1, 10.0)]
    out = list(entries(scale, "relu", section="scale"))
    for h in widths:
        out += entries(
            [("exact", {}), ("feedback-fixed", {}), ("feedback-sign", {})],
            "relu",
            hidden=h,
            section="width",
            controls=("exact",),
        )
    return tuple(out)


_SECTIONS: dict[str, Any] = {
    "stale_kinds": ("stale", "stale-gradient"),
    "stale_momenta": (0.0, 0.9),
    "stale_steps": (0.1, 0.3, 1.0),
    "stale_ks": (1, 2, 3, 5, 7, 10, 15, 20, 30, 50),
    "noise_variants": specs(
        [(f"noise-{m}", {}) for m in NOISE_MODES]
        + [(f"noise-{m}", {"noise_kind": "multiplicative"}) for m in MULT_MODES]
    ),
    "noise_sigmas": (1e-4, 1e-2, 0.1, 0.5, 1.0),
    "noise_activations": ("relu",),
    "round_variants": specs(
        [
            (f"round-{p}", {"round_mode": m})
            for p in ("forward-dw", "backward", "everywhere")
            for m in ("nearest", "stochastic")
        ]
    ),
    "round_bits": (0, 1, 2, 4, 8),
    "grad_bits": (6, 8, 10, 12, 14, 16),
    "round_activations": ("relu", "sigmoid"),
}

QUICK = Grid(
    "quick",
    hidden=16,
    entries=(
        *entries(
            [*CONTROL_SPECS, ("feedback-fixed", {}), ("stale", {"stale_k": 10}), ("noise-true", {"sigma": 0.5})],
            "relu",
            long=True,
        ),
        *entries(CONTROL_SPECS, "sigmoid"),
        *entries([("exact", {}), ("feedback-fixed", {})], "relu", hidden=32, section="width", controls=("exact",)),
    ),
    short_epochs=1,
    long_epochs=2,
    selection_seeds=2,
    report_seeds=2,
    section_seeds=2,
    stale_kinds=("stale", "stale-gradient"),
    stale_momenta=(0.0, 0.9),
    stale_steps=(1.0,),
    stale_ks=(2, 10),
    noise_variants=specs([("noise-same", {}), ("noise-true", {})]),
    noise_sigmas=(1e-4, 0.5),
    noise_activations=("relu",),
    round_variants=specs([("round-forward-dw", {})]),
    round_bits=(0, 4),
    grad_bits=(10,),
    round_activations=("relu",),
    train_size=2000,
    note="a smoke test: 2,000 training images, 16 units, 1 and 2 epochs (its numbers mean nothing)",
    cpu_hours=0.01,
)
DEFAULT = Grid(
    "default",
    hidden=128,
    entries=(
        *_main_sweep(long_relu=True, long_others=False, relu_only_extras=True),
        *_scale_and_width((32, 512, 1024)),
    ),
    short_epochs=2,
    long_epochs=10,
    selection_seeds=3,
    report_seeds=5,
    section_seeds=3,
    **_SECTIONS,
    note="128 units; rates chosen on 3 seeds at 2 epochs, reported on 5 others at 10 epochs (ReLU) or 2",
    # Timed whole twice (2026-12-06, --jobs 2, nothing reused): 47 minutes and 1.44 CPU hours with
    # the grid ahead of other work (nice 19 beside it), 103 minutes and 2.06 CPU hours at equal
    # priority beside a test suite (load average 4-6); the two runs agree bit for bit.
    cpu_hours=1.4,
    minutes=47,
)
FULL = Grid(
    "full",
    hidden=256,
    entries=(
        *_main_sweep(long_relu=True, long_others=True, relu_only_extras=False),
        *_scale_and_width((32, 128, 512, 1024, 2048)),
    ),
    short_epochs=2,
    long_epochs=20,
    selection_seeds=5,
    report_seeds=10,
    section_seeds=5,
    **_SECTIONS,
    note="256 units; rates chosen on 5 seeds at 2 epochs, reported on 10 others at 20 epochs: for a cluster",
    cpu_hours=60.0,  # estimated from the default grid: about 2.2 s per epoch of 256 units
)
GRIDS: dict[str, Grid] = {g.name: g for g in (QUICK, DEFAULT, FULL)}
