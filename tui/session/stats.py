"""The figures of a run that the worker gathers between progress posts and the status shows.

``RunStats`` belongs to the worker thread: it buffers the (examples seen, loss) pairs and angles
since the last post, times training and evaluation apart, estimates examples/s over the last few
posts, and keeps the latest and best validation figures (``model.best.BestSoFar``, the same
bookkeeping the headless ``fit`` uses). ``status`` turns it into the ``TrainStatus`` snapshot.
Leaves out threads and posting (``tui.session.bridge``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from model.best import BestSoFar
from model.trainer import EvalMetrics, StepMetrics, Trainer
from tui.session.events import TrainStatus

RATE_WINDOW = 10  # progress posts averaged for examples/s
#: The status numbers a checkpoint carries so a resumed run shows them again.
META_KEYS = ("elapsed", "last_loss", "valid_error", "best_valid_error", "test_error_at_best")


class RunStats:
    """Counters of one run (worker thread only)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self, meta: dict[str, Any] | None = None) -> None:
        """Start afresh, or continue from the figures a checkpoint's ``meta`` carried."""
        numbers = {k: float(v) for k, v in (meta or {}).items() if k in META_KEYS and isinstance(v, int | float)}
        self.examples: list[int] = []
        self.losses: list[float] = []
        self.angles: list[tuple[int, dict[str, float]]] = []  # (examples seen, degrees per W)
        self.last_angles: dict[str, float] | None = None
        self.train_seconds = numbers.get("elapsed", 0.0)
        self.eval_seconds = 0.0
        self._rate_points: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)
        self.rate: float | None = None
        self.last_loss = numbers.get("last_loss")
        self.valid_error = numbers.get("valid_error")
        self.best = BestSoFar()
        self._loss_sum, self._correct, self._rows = 0.0, 0, 0  # steps since the last evaluation
        self.best.restore(numbers.get("best_valid_error"), numbers.get("test_error_at_best"))

    def record_step(self, m: StepMetrics) -> None:
        """A healthy step: its loss (and angles, when measured) go out with the next post."""
        self.examples.append(m.examples_seen)
        self.losses.append(m.loss)
        self.last_loss = m.loss
        self._loss_sum += m.loss * m.batch_size
        self._correct += m.correct
        self._rows += m.batch_size
        if m.angles is not None:
            self.angles.append((m.examples_seen, m.angles))
            self.last_angles = m.angles

    def running_train(self) -> tuple[float, float] | None:
        """(mean loss, error) of the training steps since the last call, from their own forward
        passes (as Keras reports a running train error); None if no step ran since."""
        if not self._rows:
            return None
        figures = (self._loss_sum / self._rows, 1.0 - self._correct / self._rows)
        self._loss_sum, self._correct, self._rows = 0.0, 0, 0
        return figures

    def record_eval(self, metrics: EvalMetrics) -> None:
        if "valid" in metrics.results:
            self.valid_error = metrics.error("valid")
            self.best.update(metrics)

    def take_batch(self, examples_seen: int) -> tuple[list[int], list[float], list[tuple[int, dict[str, float]]]]:
        """What gathered since the last post (and the rate estimate moves on)."""
        batch = self.examples, self.losses, self.angles
        self.examples, self.losses, self.angles = [], [], []
        self._rate_points.append((self.train_seconds, examples_seen))
        t0, e0 = self._rate_points[0]
        t1, e1 = self._rate_points[-1]
        if t1 - t0 > 0.05:
            self.rate = (e1 - e0) / (t1 - t0)
        return batch

    def meta(self) -> dict[str, Any]:
        """The figures a checkpoint carries (``clear(meta)`` reads them back)."""
        values = (self.train_seconds, self.last_loss, self.valid_error, self.best.valid_error, self.best.test_error)
        return dict(zip(META_KEYS, values, strict=True))

    def status(self, trainer: Trainer, state: str) -> TrainStatus:
        """The snapshot the status panel draws."""
        return TrainStatus(
            state=state,
            epoch=trainer.epoch_float,
            epochs=trainer.hp.epochs,
            step=trainer.state.step,
            examples_seen=trainer.state.examples_seen,
            examples_per_second=self.rate,
            elapsed=self.train_seconds,
            lr=trainer.lr,
            last_loss=self.last_loss,
            valid_error=self.valid_error,
            best_valid_error=self.best.valid_error,
            test_error_at_best=self.best.test_error,
            variant=getattr(trainer.rule, "label", None) or trainer.hp.variant,  # a custom rule may name itself
            angles=tuple(self.last_angles.items()) if self.last_angles else (),
            target_error=trainer.hp.target_error,
        )
