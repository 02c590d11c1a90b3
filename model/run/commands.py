"""What a run can be told, as typed commands (``Run.apply`` takes any of them).

The ones that change what the run computes (``Change``, ``Reset``, ``Load``) are recorded with
the step they followed, and a replay feeds them back in the same places. The others steer
(``Pause``, ``Resume``, ``Step``) or look (``Evaluate``, ``Save``) and change no number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """Set hyperparameters (validated; ValueError otherwise). Training settings apply from the
    next step; hidden units, activation and seed wait for ``Reset``."""

    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reset:
    """New weights from the settings asked for, architecture included; the run starts again."""


@dataclass(frozen=True)
class Load:
    """Continue the run saved in the checkpoint at ``path`` (CheckpointError: nothing changes)."""

    path: str


@dataclass(frozen=True)
class Save:
    """Write the run to a checkpoint at ``path`` (CheckpointError when it cannot)."""

    path: str


@dataclass(frozen=True)
class Evaluate:
    """Evaluate every set now."""


@dataclass(frozen=True)
class Step:
    """One minibatch step, whatever the state (the app's ``n`` while paused)."""


@dataclass(frozen=True)
class Pause:
    """Stop stepping until ``Resume``."""


@dataclass(frozen=True)
class Resume:
    """Train on: after a pause, past a reached target, after a divergence (a new try), or past the
    configured epochs (which first grows them by as many again, and says so)."""


Command = Change | Reset | Load | Save | Evaluate | Step | Pause | Resume
