"""Named hyperparameter presets: a starting point that flags and the app can still change.

``default`` is ``HyperParams()`` itself: a 256-unit net that passes 5% test error within
the first epoch. ``fast`` reaches about 2% in seconds; ``speedrun`` under 2% in about 2 s of
one core (a narrow net, a one-cycle learning rate, label smoothing).
``best`` is the best one-hidden-layer setting found without augmentation (dropout on
hidden units and inputs, a max-norm cap on each hidden unit's weights, a cosine schedule; the
model kept is the one with the best validation error), ``best-augment`` random 2-pixel shifts
of the training images with weight decay instead of dropout. Error figures are in
docs/performance.md, *Best error* (seeds 0-3 for ``best``). A preset only fills in fields;
explicit command-line flags override it. Leaves out anything that is not a ``HyperParams``
field (threads, data paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model.config import HyperParams


@dataclass(frozen=True)
class Preset:
    """A name, a one-line description and the fields that differ from ``HyperParams()``."""

    name: str
    help: str
    changes: dict[str, Any] = field(default_factory=dict)

    def hparams(self, base: HyperParams | None = None) -> HyperParams:
        """``base`` (default ``HyperParams()``) with this preset's fields applied and validated."""
        return (base if base is not None else HyperParams()).validated(**self.changes)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("default", "256 relu units, lr 0.05, batch 64, momentum 0.9: under 5% test error within one epoch"),
        Preset(
            "fast",
            "800 units, batch 128, lr 0.1, cosine over 8 epochs: about 2% test error in about 15 s",
            {"hidden": 800, "batch_size": 128, "lr": 0.1, "schedule": "cosine", "epochs": 8},
        ),
        Preset(
            "speedrun",
            "192 units, batch 128, lr 0.3 warmed up over 0.3 epochs then falling linearly to 0 over 3 epochs "
            "(one-cycle), label smoothing 0.1: 1.9% test error (1.89% seeds 0-2, 1.97% seeds 3-5) in about "
            "2 s of one core",
            {
                "hidden": 192,
                "batch_size": 128,
                "lr": 0.3,
                "schedule": "linear",
                "warmup": 0.3,
                "epochs": 3,
                "label_smoothing": 0.1,
            },
        ),
        Preset(
            "best",
            "1024 units, dropout 0.5 (inputs 0.2), max-norm 2, batch 128, lr 0.1, cosine over 60 epochs: "
            "about 1.35% test error (1.31-1.43% over seeds), about 190 s",
            {
                "hidden": 1024,
                "batch_size": 128,
                "lr": 0.1,
                "momentum": 0.9,
                "weight_decay": 0.0,
                "schedule": "cosine",
                "epochs": 60,
                "dropout": 0.5,
                "input_dropout": 0.2,
                "max_norm": 2.0,
            },
        ),
        Preset(
            "best-augment",
            "1024 units, batch 128, lr 0.1, weight decay 1e-4, cosine over 60 epochs, shifts of up to 2 px: "
            "about 0.9% test error",
            {
                "hidden": 1024,
                "batch_size": 128,
                "lr": 0.1,
                "momentum": 0.9,
                "weight_decay": 1e-4,
                "schedule": "cosine",
                "epochs": 60,
                "augment": 2,
            },
        ),
    )
}
DEFAULT_PRESET = "default"


def get_preset(name: str) -> Preset:
    """Look up a preset by name; ValueError (one line) lists the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})") from None


def preset_hparams(name: str, **overrides: Any) -> HyperParams:
    """The preset's hyperparameters with ``overrides`` (explicit user values) applied on top."""
    return get_preset(name).hparams().validated(**overrides)
