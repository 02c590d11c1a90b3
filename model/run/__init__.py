"""The run core: one object owns a training run's life, driven by commands, reporting events.

``Run`` (``core``) steps a ``Trainer`` and does everything around the steps: settings asked for
and applied, evaluation, best validation, the target error, divergence, epoch accounting, the
training clock, the run record and saving. ``commands`` and ``events`` are its typed inputs and
outputs, ``figures`` what it keeps and reports, ``start`` how a run begins (fresh or resumed,
recorded), ``replay`` a recorded run fed back its commands. The app's worker, ``train``, every
study run and ``replay`` drive this one object.
"""

from model.run.commands import Change, Command, Evaluate, Load, Pause, Reset, Resume, Save, Step
from model.run.core import HALTS, Policy, Run
from model.run.figures import EpochRecord, RunFigures, RunOutcome
from model.run.start import Recording, open_run, resumed_hparams, start_trainer

__all__ = [
    "HALTS",
    "Change",
    "Command",
    "EpochRecord",
    "Evaluate",
    "Load",
    "Pause",
    "Policy",
    "Recording",
    "Reset",
    "Resume",
    "Run",
    "RunFigures",
    "RunOutcome",
    "Save",
    "Step",
    "open_run",
    "resumed_hparams",
    "start_trainer",
]
