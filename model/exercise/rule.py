"""Train with the student's ``grads_batch``: a gradient rule whose gradient comes from a child process.

``StudentRule`` is a gradient rule in the trainer's sense (``model.trainer.GradientRule``). Each step
it copies the weights and the minibatch into arrays shared with the child (``shared``), asks the
child for the student's ``grads_batch`` (checked and cast into the shared gradient arrays), and
meanwhile runs the reference forward pass for the loss and the rows classified right, so the two
cores work at once and the charts show the network's true loss. A call past ``limit`` seconds is
stopped by killing the child; the student's exception, a time-out or a dead child is raised as a
``StudentError`` whose text is one line naming their file (the app pauses training with it).
``replace`` swaps in another sandbox (a reloaded file) between two steps.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.exercise.sandbox import Cancelled, Sandbox
from model.exercise.shared import SharedArrays
from model.exercise.student import Source, StudentError
from model.mlp import MLP, PARAM_NAMES, StepResult, loss_and_correct

#: Seconds one grads_batch call may take while training (a Python loop over a batch of 64 at H=800
#: takes well under a second; an endless loop is stopped after this).
STEP_LIMIT = 60.0


class StudentRule:
    """The trainer's gradient rule: the student's grads_batch, run in ``sandbox`` (already started)."""

    def __init__(self, sandbox: Sandbox, limit: float = STEP_LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._box = sandbox
        self._pending: Sandbox | None = None
        self._shared: SharedArrays | None = None
        self._attached: int | None = None  # the child process that has ``_shared`` mapped
        self._cancel = threading.Event()

    @property
    def source(self) -> Source:
        """The file the next step runs."""
        with self._lock:
            return (self._pending or self._box).source

    @property
    def activation(self) -> str:
        """The ACTIVATION of the file the next step runs."""
        with self._lock:
            return str((self._pending or self._box).activation)

    @property
    def label(self) -> str:
        """What the status shows in place of a variant's name."""
        return f"yours ({self.source.name})"

    def replace(self, sandbox: Sandbox) -> None:
        """Use ``sandbox`` (a started child with a reloaded file) from the next step on."""
        with self._lock:
            old, self._pending = self._pending, sandbox
        if old is not None:
            old.close()

    def close(self) -> None:
        """Stop the child now (quitting); a step waiting on it raises ``Cancelled``."""
        self._cancel.set()
        with self._lock:
            boxes = [self._box, self._pending]
        for box in boxes:
            if box is not None:
                box.close()
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    # ---- one step (the training thread) -----------------------------------------------------
    def loss_and_grads(self, model: MLP, X: NDArray[Any], y: NDArray[Any], rng: np.random.Generator) -> StepResult:
        """X: (B, D), y: (B,). The student's gradient (W1 (H, D), b1 (H,), W2 (K, H), b2 (K,), in arrays
        shared with the child and reused next step) with the reference forward pass's loss."""
        if self._cancel.is_set():
            raise Cancelled("quitting")
        box = self._current()
        B = len(y)
        shared = self._attach(box, model, X)
        a = shared.arrays
        for name in PARAM_NAMES:
            np.copyto(a[name], model.params[name])
        np.copyto(a["X"][:B], X)
        np.copyto(a["y"][:B], y)
        try:
            box.send("grads", B, cancel=self._cancel)
            _, log_probs, _ = model.forward_for_backprop(X)  # ours, while the child runs theirs
            loss, correct = loss_and_correct(log_probs, y)
            box.wait(self.limit, cancel=self._cancel, op="grads_batch")
        except Cancelled:
            raise
        except StudentError as exc:
            text = str(exc)
            raise StudentError(text if text.startswith(box.source.path) else f"{box.source.path}: {text}") from None
        return StepResult(loss, correct, {name: a["d" + name] for name in PARAM_NAMES})

    def _current(self) -> Sandbox:
        with self._lock:
            if self._pending is not None:
                old, self._box, self._pending = self._box, self._pending, None
                old.close()
        return self._box

    def _attach(self, box: Sandbox, model: MLP, X: NDArray[Any]) -> SharedArrays:
        """Arrays shared with ``box``'s child, sized for this model and a batch of X's size: made anew
        (and mapped by the child, then unlinked) for a new child, new shapes or a larger batch."""
        if not box.alive:
            box.start(cancel=self._cancel)
        B, D = X.shape
        specs = [(n, p.shape, p.dtype) for n, p in model.params.items()]
        specs += [("d" + n, p.shape, p.dtype) for n, p in model.params.items()]
        shared = self._shared
        if (
            shared is not None
            and self._attached == box.pid
            and shared.arrays["X"].shape[0] >= B
            and shared.arrays["X"].dtype == X.dtype
            and all(shared.arrays[n].shape == s and shared.arrays[n].dtype == t for n, s, t in specs)
        ):
            return shared
        if shared is not None:
            shared.close()
        self._shared = self._attached = None
        capacity = max(B, 64)
        shared = SharedArrays.create([*specs, ("X", (capacity, D), X.dtype), ("y", (capacity,), np.int64)])
        try:
            box.request("attach", shared.layout, limit=self.limit, cancel=self._cancel)
        finally:
            shared.unlink()  # both sides have it mapped (or the child is gone): no file is left behind
        self._shared, self._attached = shared, box.pid
        return shared
