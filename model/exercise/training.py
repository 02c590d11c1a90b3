"""Step 5: train on MNIST with the student's ``grads_batch`` through the project's own SGD loop.

``StudentGradients`` is a gradient rule in the trainer's sense (``model.trainer.GradientRule``):
the update direction is whatever the student's ``grads_batch`` returns (checked for shape and
cast to the model's dtype), while the loss and the count of rows classified right come from the
reference forward pass, so the curves show the network's true loss. ``checked_grads`` is the one
place a returned gradient is turned into arrays a step can apply; the app's child process uses it
too. Leaves out time limits (the caller's process runs this under one).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.buffers import Buffers
from model.config import HyperParams
from model.exercise.diagnose import Invalid, as_grads, shape_issue
from model.exercise.report import MISTAKES, StepReport
from model.exercise.steps import frozen, guarded, readonly, report
from model.exercise.student import StudentCode, StudentError
from model.mlp import MLP, PARAM_NAMES, Grads, StepResult, loss_and_correct
from model.run import Run, RunOutcome
from model.run import events as ev
from model.trainer import Trainer

#: Step 5 passes when the test error after training is below this (the assignment's goal).
TARGET_TEST_ERROR = 0.05
#: The short budget: 3 epochs of a 784-100-10 net, momentum SGD with a cosine schedule. Exact
#: backprop reached 2.5-3.2% test error with these (seeds 0 and 1, every activation).
TRAIN_EPOCHS = 3
TRAIN_LR = {"relu": 0.1, "tanh": 0.1, "sigmoid": 0.3}
PROGRESS_SECONDS = 0.1

GradsFn = Callable[[dict[str, NDArray[Any]], NDArray[Any], NDArray[Any]], object]


def train_settings(activation: str, seed: int = 0) -> HyperParams:
    """The settings step 5 trains with."""
    return HyperParams().validated(
        hidden=100,
        batch_size=64,
        lr=TRAIN_LR[activation],
        momentum=0.9,
        schedule="cosine",
        epochs=TRAIN_EPOCHS,
        activation=activation,
        seed=seed,
    )


def checked_grads(value: object, params: dict[str, NDArray[Any]], B: int, out: Grads) -> Grads:
    """The student's gradient as arrays shaped and typed like ``params``, written into ``out``.
    StudentError (one line naming the mistake) if it has another structure or shape."""
    try:
        grads = as_grads(value, "grads_batch")
    except Invalid as exc:
        raise StudentError(f"{exc.diagnosis.detail} ({exc.diagnosis.name})") from None
    for name in PARAM_NAMES:
        issue = shape_issue(name, grads[name].shape, params[name].shape, B)
        if issue is not None:
            raise StudentError(f"grads_batch on a batch of {B}: {issue.detail} ({MISTAKES[issue.mistake].name})")
        np.copyto(out[name], grads[name], casting="unsafe")
    return out


class StudentGradients:
    """The trainer's gradient rule: ``grads(params, X, y)`` (the student's grads_batch) gives the update."""

    def __init__(self, grads: GradsFn) -> None:
        self.grads = grads
        self._buf = Buffers()

    def loss_and_grads(self, model: MLP, X: NDArray[Any], y: NDArray[Any], rng: np.random.Generator) -> StepResult:
        """X: (B, D), y: (B,). The student's gradient; the reference forward pass's loss and correct count."""
        value = self.grads(readonly(model.params), frozen(X), frozen(y))
        grads = checked_grads(value, model.params, len(y), self._buf.like(model.params, prefix="student_"))
        _, log_probs, _ = model.forward_for_backprop(X)
        loss, correct = loss_and_correct(log_probs, y)
        return StepResult(loss, correct, grads)


def step5(
    code: StudentCode,
    data_path: str | None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    data: Any = None,
) -> StepReport:
    """Train with the student's grads_batch; pass if the test error ends below ``TARGET_TEST_ERROR``.

    ``progress`` gets {"note": "loading MNIST"} first, then {"step", "steps", "epoch", "loss"} about
    every ``PROGRESS_SECONDS``.
    ``data``: an MNIST object (tests); otherwise loaded from ``data_path`` or the cache.
    """
    return guarded(5, lambda t0: _train(code, data_path, progress, data, t0))


def _train(
    code: StudentCode, data_path: str | None, progress: Callable[[dict[str, Any]], None] | None, data: Any, t0: float
) -> StepReport:
    if data is None:
        from model.data import DataError, load_mnist

        if progress is not None:
            progress({"note": "loading MNIST"})
        try:
            data = load_mnist(data_path)
        except DataError as exc:
            return report(5, t0, status="fail", error=f"cannot load MNIST: {exc}")
    hp = train_settings(code.activation)
    rule = StudentGradients(lambda p, X, y: code.call("grads_batch", p, X, y))
    trainer = Trainer(
        (data.train_x, data.train_y),
        hp,
        eval_sets={"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)},
        rule=rule,
    )
    watch = _Watch(hp.epochs * -(-len(data.train_y) // hp.batch_size), progress)
    run = Run(trainer)  # the project's own run core: epochs, evaluations, divergence
    run.listen(watch.on_event)
    run.train()
    return _verdict(hp, run.close(), watch.mean_angles(), t0)


class _Watch:
    """Listens to the run: collects the angle probes and reports progress about every
    ``PROGRESS_SECONDS`` (and at the last of ``steps``)."""

    def __init__(self, steps: int, progress: Callable[[dict[str, Any]], None] | None) -> None:
        self.steps, self.progress = steps, progress
        self.angles: dict[str, list[float]] = {"W1": [], "W2": []}
        self.last = 0.0

    def on_event(self, e: ev.RunEvent) -> None:
        if not isinstance(e, ev.Stepped):
            return
        m = e.metrics
        for name, degrees in (m.angles or {}).items():
            if math.isfinite(degrees):
                self.angles[name].append(degrees)
        now = time.perf_counter()
        if self.progress is not None and (now - self.last >= PROGRESS_SECONDS or m.step == self.steps):
            self.last = now
            self.progress({"step": m.step, "steps": self.steps, "epoch": m.epoch, "loss": m.loss})

    def mean_angles(self) -> dict[str, tuple[float, int]]:
        """Per parameter: the mean angle (NaN without probes) and how many probes it is the mean of."""
        return {n: (float(np.mean(v)) if v else math.nan, len(v)) for n, v in self.angles.items()}


def _verdict(hp: HyperParams, result: RunOutcome, angles: dict[str, tuple[float, int]], t0: float) -> StepReport:
    """Step 5's report: the setting, the errors against the goal, the angles; fail if it diverged."""
    setting = (
        f"{hp.epochs} epochs of a 784-{hp.hidden}-10 {hp.activation} net on the 50,000 training images: "
        f"batch {hp.batch_size}, lr {hp.lr:g}, momentum {hp.momentum:g}, cosine schedule, seed {hp.seed}"
    )
    lines = [
        setting,
        f"test error {result.test_error:.2%} (valid {result.valid_error:.2%}; the goal is under "
        f"{TARGET_TEST_ERROR:.0%}) in {result.seconds:.1f} s, {result.examples_per_second:,.0f} examples/s",
        "angle between your grads_batch and the true gradient: "
        + ", ".join(f"{n} {a:.2g}°" for n, (a, _) in angles.items())
        + f" (mean of {angles['W1'][1]} probes)",
    ]
    figures = {"test_error": result.test_error, "valid_error": result.valid_error, "seconds": result.seconds}
    figures |= {f"angle_{n}": a for n, (a, _) in angles.items()}
    if result.diverged:
        error = (
            f"training diverged at step {result.steps:,}: a gradient was NaN or infinite, or the loss exploded "
            "(the last good weights were kept)"
        )
        return report(5, t0, status="fail", lines=tuple(lines), error=error, figures=figures)
    status = "pass" if result.test_error < TARGET_TEST_ERROR else "fail"
    return report(5, t0, status=status, lines=tuple(lines), figures=figures)
