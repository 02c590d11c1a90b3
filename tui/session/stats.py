"""What the worker gathers between two progress posts, and the status snapshot it posts.

``Throughput`` belongs to the worker thread: it buffers the (examples seen, loss) pairs and
angles since the last post and estimates examples/s over the last few posts from the run's
training clock. ``status_of`` turns a run (``model.run.Run``: its counters, clock and best
figures) into the ``TrainStatus`` the status panel draws. Leaves out threads and posting
(``tui.session.bridge``) and the figures themselves (the run core keeps them).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tui.session.events import TrainStatus

if TYPE_CHECKING:
    from model.run import Run
    from model.trainer import StepMetrics

RATE_WINDOW = 10  # progress posts averaged for examples/s


class Throughput:
    """The steps since the last post and the examples/s estimate (worker thread only)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Start afresh (a reset or a load)."""
        self.examples: list[int] = []
        self.losses: list[float] = []
        self.angles: list[tuple[int, dict[str, float]]] = []  # (examples seen, degrees per W)
        self._window: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)
        self.rate: float | None = None

    def add(self, m: StepMetrics) -> None:
        """A step: its loss (and angles, when measured) go out with the next post; a refused one is left out."""
        if m.diverged:
            return
        self.examples.append(m.examples_seen)
        self.losses.append(m.loss)
        if m.angles is not None:
            self.angles.append((m.examples_seen, m.angles))

    def take(self, run: Run) -> tuple[list[int], list[float], list[tuple[int, dict[str, float]]]]:
        """What gathered since the last post; the rate estimate moves on."""
        batch = self.examples, self.losses, self.angles
        self.examples, self.losses, self.angles = [], [], []
        self._window.append((run.figures.train_seconds, run.trainer.state.examples_seen))
        t0, e0 = self._window[0]
        t1, e1 = self._window[-1]
        if t1 - t0 > 0.05:
            self.rate = (e1 - e0) / (t1 - t0)
        return batch


def status_of(run: Run, state: str, rate: float | None) -> TrainStatus:
    """The snapshot the status panel draws: ``run``'s counters and figures in ``state``."""
    trainer, figures = run.trainer, run.figures
    hp = trainer.hp
    return TrainStatus(
        state=state,
        epoch=trainer.epoch_float,
        epochs=hp.epochs,
        step=trainer.state.step,
        examples_seen=trainer.state.examples_seen,
        examples_per_second=rate,
        elapsed=figures.train_seconds,
        lr=trainer.lr,
        last_loss=figures.last_loss,
        valid_error=figures.valid_error,
        best_valid_error=figures.best.valid_error,
        test_error_at_best=figures.best.test_error,
        variant=trainer.variant.label or hp.variant,  # a rule of one's own may name itself
        angles=tuple(figures.last_angles.items()) if figures.last_angles else (),
        target_error=hp.target_error,
        target=run.target,
    )
