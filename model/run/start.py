"""Starting a run: fresh from settings, or resumed from a checkpoint with the flags given beside
it, and recorded from its first step.

``open_run`` is what the app, ``train`` and the study call; ``start_trainer`` is the part a
replay shares (the same trainer from the same start). A resumed run's record names the
checkpoint it started from with its sha256 and the changes applied on top, so a replay can
tell up front when that file has changed. ``resumed_hparams`` is the one rule for flags given
beside ``--resume`` (the app and ``train`` share it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.checkpoint import CheckpointError
from model.config import ARCHITECTURE_FIELDS, HyperParams
from model.run.core import Policy, Run
from model.run.figures import RunFigures
from model.runs.writer import RunRecorder, data_tag
from model.state import RunState
from model.trainer import Trainer, make_trainer


@dataclass(frozen=True)
class Recording:
    """Where a run's record goes: the runs folder ``root``, what started the run (``source``:
    train, app, experiments), TensorBoard events in ``tensorboard/<run id>`` too, more keys for
    run.json (``extra``), and where a warning goes (None: kept for ``RunRecorder.set_warn``)."""

    root: Path
    source: str
    tensorboard: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    warn: Callable[[str], object] | None = None


def resumed_hparams(saved: HyperParams, given: dict[str, Any], preset: str | None = None) -> HyperParams:
    """The settings a resumed run continues with: the checkpoint's, with the flags ``given``
    on the command line applied on top.

    CheckpointError (one line) for a ``preset`` (a bundle of settings, which would silently
    replace the checkpoint's) or for hidden units, activation or seed that differ from the
    checkpoint's (the weights were built with those).
    """
    if preset:
        raise CheckpointError("--preset cannot be combined with --resume: the checkpoint has its settings")
    clash = [
        f"--{k.replace('_', '-')} {given[k]} (checkpoint: {getattr(saved, k)})"
        for k in sorted(ARCHITECTURE_FIELDS & given.keys())
        if given[k] != getattr(saved, k)
    ]
    if clash:
        raise CheckpointError(f"a resumed run keeps its architecture and seed: {', '.join(clash)}")
    try:
        return saved.validated(**{k: v for k, v in given.items() if k not in ARCHITECTURE_FIELDS})
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None


def start_trainer(
    data: Any,
    hp: HyperParams,
    resume: RunState | None = None,
    changes: dict[str, Any] | None = None,
    **options: Any,
) -> Trainer:
    """A trainer on ``data`` at the run's first step: fresh from ``hp``, or continuing ``resume``
    with ``changes`` (training settings) applied on top. CheckpointError (one line) for a state
    made for other data or outputs. ``options`` go to the trainer: ``train_size``, ``angle_every``,
    ``rule`` (a variant, or any object with ``loss_and_grads``: a rule of one's own plugs in here).
    """
    trainer = make_trainer(hp if resume is None else resume.hp, data, **options)
    if resume is not None:
        try:
            trainer.resume(resume)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {exc}") from None
        if changes:
            trainer.update_hparams(**changes)
    return trainer


def open_run(
    data: Any,
    hp: HyperParams,
    *,
    resume: RunState | None = None,
    changes: dict[str, Any] | None = None,
    policy: Policy | None = None,
    recording: Recording | None = None,
    paused: bool = False,
    **options: Any,
) -> Run:
    """A run on ``data``: fresh from ``hp``, or continuing the checkpoint read as ``resume`` with
    the training settings ``changes`` on top (checked with ``resumed_hparams`` first); recorded
    as ``recording`` says (None: not recorded), a resumed run's record naming the file it started
    from and its sha256. CheckpointError (one line) for a state made for other data."""
    state = resume
    trainer = start_trainer(data, hp, state, changes, **options)
    policy = policy or Policy()
    recorder = None
    if recording is not None:
        extra = {"policy": policy.to_dict(), **recording.extra}
        if state is not None:
            start = {"checkpoint": state.path, "sha256": state.sha256, "changes": changes or {}}
            extra |= {"resumed_from": state.path, "start": start}
        recorder = RunRecorder.start(
            recording.root,
            trainer,
            source=recording.source,
            data=data_tag(data),
            warn=recording.warn,
            extra=extra,
            tensorboard=recording.tensorboard,
        )
    figures = RunFigures.restore(state.meta, policy.keep_best) if state is not None else None
    return Run(trainer, policy=policy, recorder=recorder, figures=figures, paused=paused)
