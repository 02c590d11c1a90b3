"""The student's backprop in the app (``mnist-tui --backprop FILE``): its training rule, its check,
reloading the edited file, and the gradient-check pane's checks of it.

``StudentSession.open`` loads the file in a child process and makes sure training can use its
``grads_batch`` (one call on a training-shaped batch) before the app opens; errors are one line for
the command to print. Then ``check`` runs the check's toy-net and speed steps (1-4 and 6; the app's
own training is step 5) on a thread, in a fresh child with the text that is training, and ``reload``
reads the file again, loads it and checks it *before* it is used: a file that cannot train (it
raises, returns the wrong shapes, is not written) is refused and the loaded version trains on; one
that can is swapped in at the next step even if the check finds a mistake (the angle chart then
shows it). Results go to ``post`` as the plain events below. Leaves out Textual and drawing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.exercise import (
    CheckOptions,
    CheckResult,
    LoadError,
    NotWritten,
    Sandbox,
    Source,
    StudentError,
    read_source,
    run_check,
)
from model.exercise.check import TIME_LIMIT
from model.exercise.rule import StudentRule
from model.exercise.sandbox import Cancelled
from model.mlp import MLP
from tui.session.events import GradCheckDone

#: The check's steps the app runs: the toy nets and the speed (training is what the app itself does).
APP_STEPS = (1, 2, 3, 4, 6)
#: Seconds the gradient-check pane's child may take (toy nets and a few hundred live entries).
PANE_LIMIT = 120.0
N_INPUTS, N_CLASSES, TRAIN_SIZE = 784, 10, 50_000


@dataclass
class StudentChecked:
    """A check of the student's code finished; ``reloaded``: it is a newly loaded file, now training.
    ``activation``: its ACTIVATION when a reload changed it ("" otherwise)."""

    result: CheckResult
    reloaded: bool = False
    activation: str = ""


@dataclass
class StudentFailed:
    """The file could not be reloaded or checked (one line); the code training is unchanged."""

    text: str


StudentEvent = StudentChecked | StudentFailed


class StudentSession:
    """The student's file as the app uses it: ``rule`` trains with it, ``result`` is its latest check."""

    def __init__(self, rule: StudentRule, output: str | None = None) -> None:
        self.rule = rule
        self.output = output
        self.result: CheckResult | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def open(
        cls, path: str, hidden: int, batch_size: int, output: str | None = None, train_size: int = 0
    ) -> StudentSession:
        """Load ``path`` in a child process and try its grads_batch at the app's sizes (``train_size``:
        the training rows, 0: all of MNIST's). LoadError or StudentError (one line) if it cannot train."""
        source = read_source(path)
        box = Sandbox(source, output)
        try:
            box.start(TIME_LIMIT)
            _probe(box, hidden, batch_size, train_size)
        except BaseException:
            box.close()
            raise
        return cls(StudentRule(box), output)

    @property
    def source(self) -> Source:
        return self.rule.source

    @property
    def activation(self) -> str:
        """The ACTIVATION of the code training now."""
        return self.rule.activation

    @property
    def busy(self) -> bool:
        """True while a check or a reload runs."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop every child (quitting)."""
        self._stop.set()
        self.rule.close()
        if self._thread is not None:
            self._thread.join(5.0)

    # ---- checks and reloads (each on a thread of its own) -------------------------------------
    def check(self, post: Callable[[StudentEvent], object]) -> bool:
        """Check the code that is training (steps 1-4, 6); False if a check or reload is running."""
        return self._start(lambda: self._check(post), "mnist-tui-student-check")

    def reload(self, post: Callable[[StudentEvent], object], hidden: int, batch_size: int, train_size: int = 0) -> bool:
        """Read the file again, check it, and train with it if it can be; False if busy."""
        return self._start(lambda: self._reload(post, hidden, batch_size, train_size), "mnist-tui-student-reload")

    def _start(self, target: Callable[[], None], name: str) -> bool:
        if self.busy or self._stop.is_set():
            return False
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()
        return True

    def _check(self, post: Callable[[StudentEvent], object]) -> None:
        source = self.source
        box = self._sandbox(source)  # a child of its own, its prints going where training's go
        try:
            result = run_check(source, CheckOptions(steps=APP_STEPS), cancel=self._stop, sandbox=box)
        except Cancelled:
            return
        except (LoadError, StudentError) as exc:
            post(StudentFailed(f"checking {source.path} failed: {exc}"))
            return
        finally:
            box.close()
        self.result = result
        post(StudentChecked(result))

    def _reload(self, post: Callable[[StudentEvent], object], hidden: int, batch_size: int, train_size: int) -> None:
        path = self.source.path
        box: Sandbox | None = None
        try:
            source = read_source(path)
            box = self._sandbox(source)
            box.start(TIME_LIMIT, cancel=self._stop)
            _probe(box, hidden, batch_size, train_size)
            result = run_check(source, CheckOptions(steps=APP_STEPS), cancel=self._stop, sandbox=box)
        except Cancelled:
            if box is not None:
                box.close()
            return
        except (LoadError, StudentError) as exc:
            if box is not None:
                box.close()
            post(StudentFailed(f"{path} not reloaded, the loaded version trains on: {exc}"))
            return
        changed = (box.activation or "") if box.activation != self.activation else ""
        self.rule.replace(box)
        self.result = result
        post(StudentChecked(result, reloaded=True, activation=changed))

    def _sandbox(self, source: Source) -> Sandbox:
        return Sandbox(source, self.output)

    # ---- the gradient-check pane ----------------------------------------------------------------
    def gradcheck(self, model: MLP, X: np.ndarray, y: np.ndarray, stop: threading.Event) -> GradCheckDone:
        """The student's grads_one and grads_batch on the toy net, and their grads_batch on a copy of
        the live weights, against central differences (``model.exercise.pane``), in a fresh child."""
        box = self._sandbox(self.source)
        params = {name: np.array(value) for name, value in model.params.items()}
        try:
            toy, live, note = box.request("pane", params, X, y, limit=PANE_LIMIT, cancel=stop)
        except (LoadError, StudentError) as exc:
            return GradCheckDone([], None, error=str(exc))
        finally:
            box.close()
        return GradCheckDone(list(toy), live, error=note or None)


def _probe(box: Sandbox, hidden: int, batch_size: int, train_size: int = 0) -> None:
    """grads_batch on a float32 784-hidden-10 net for every batch size training meets (the batch size,
    the last batch of an epoch of ``train_size`` images (0: MNIST's 50,000), and 1): StudentError if one fails."""
    rows = train_size or TRAIN_SIZE
    for B in sorted({min(batch_size, 256), rows % batch_size or batch_size, 1}, reverse=True):
        try:
            box.request("probe", N_INPUTS, hidden, N_CLASSES, B, limit=TIME_LIMIT)
        except (NotWritten, Cancelled):
            raise
        except StudentError as exc:
            raise StudentError(f"{exc} (grads_batch on a batch of {B})") from None


def output_path() -> Path:
    """Where the student's prints go while the app runs (the terminal is the app's)."""
    import platformdirs

    folder = Path(platformdirs.user_state_dir("mnist-tui", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "backprop-output.txt"
