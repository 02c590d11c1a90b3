"""Do the assignment yourself: the student writes backprop, the check says what is wrong.

``starter`` writes ``backprop.py`` (the contract: ``loss_one``, ``grads_one``, ``loss_batch``,
``grads_batch`` and ``ACTIVATION``). ``check.run_check`` runs the six steps (``steps``: losses
and gradients on toy nets against the reference and against central differences of the
student's own loss; ``training``: MNIST with their ``grads_batch``; ``speed``: against the
project's backprop), each in a child process under a time limit (``sandbox``, ``worker``).
``diagnose`` names the mistake a wrong gradient shows (``reference`` predicts each mistake's
numbers), ``report`` holds the results and the table of mistakes. ``rule.StudentRule`` trains the
app with the student's ``grads_batch`` in a child process; ``pane`` fills its gradient-check pane.

Leaves out printing and key handling (the command line and the app in ``tui``).
"""

from model.exercise.check import ALL_STEPS, CheckOptions, CheckResult, Listener, run_check
from model.exercise.report import MISTAKES, Diagnosis, HeatMap, Mismatch, StepReport
from model.exercise.sandbox import Cancelled, Gone, Sandbox, Timeout
from model.exercise.starter import STARTER_NAME, StarterError, starter_text, write_starter
from model.exercise.steps import TITLES
from model.exercise.student import FUNCTIONS, LoadError, NotWritten, Source, StudentError, read_source

__all__ = [
    "ALL_STEPS",
    "FUNCTIONS",
    "MISTAKES",
    "STARTER_NAME",
    "TITLES",
    "Cancelled",
    "CheckOptions",
    "CheckResult",
    "Diagnosis",
    "Gone",
    "HeatMap",
    "Listener",
    "LoadError",
    "Mismatch",
    "NotWritten",
    "Sandbox",
    "Source",
    "StarterError",
    "StepReport",
    "StudentError",
    "Timeout",
    "read_source",
    "run_check",
    "starter_text",
    "write_starter",
]
