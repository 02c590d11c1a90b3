"""``TrainingHost``: what a screen opened over the training screen may ask of it.

The weights, drawing-pad, math, why and run-list screens see the training screen only through
this: copies of the live weights on request, the data sets, the digit on show, the live run's
settings and id, the runs overlaid on its charts, and a place to keep state between openings.
``ScreenHost`` implements it for the training screen (``tui.screens.main.MainScreen``, which the
screens never import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from model.run import Run
    from tui.session.bridge import TrainingBridge
    from tui.session.events import WeightsSnapshot
    from tui.view.selection import Shown
    from tui.widgets.charts import ChartsPanel, OverlayRun
    from tui.widgets.digits import MisclassifiedPanel

T = TypeVar("T")


class TrainingHost(Protocol):
    """The training screen, as the screens over it see it."""

    def watch_weights(self, listener: Callable[[WeightsSnapshot], None]) -> None:
        """Hand every weights snapshot to ``listener`` from now on (UI thread)."""

    def unwatch_weights(self, listener: Callable[[WeightsSnapshot], None]) -> None:
        """Stop handing snapshots to ``listener`` (nothing if it was not watching)."""

    def request_weights(self, tag: str) -> None:
        """Ask the worker for a copy of the weights, tagged ``tag`` (none before training starts)."""

    def data_set(self, name: str) -> tuple[Any, Any] | None:
        """The set ``name`` ("train", "valid", "test") as (X (N, 784), y (N,)), if training has started."""

    def shown_digit(self) -> Shown | None:
        """The misclassified test digit the viewer shows, if any."""

    def live_settings(self) -> dict[str, Any]:
        """The live run's hyperparameters as the user set them."""

    def live_run_id(self) -> str:
        """The id of the live run's record ("" when it has none)."""

    def overlay(self) -> list[OverlayRun]:
        """The recorded runs drawn on the charts."""

    def set_overlay(self, runs: list[OverlayRun]) -> None:
        """Draw ``runs`` on the charts under the live curves (replacing the ones there)."""

    def kept(self, key: str, make: Callable[[], T]) -> T:
        """State a screen keeps between openings (the pad's drawing), made by ``make`` the first time."""
        ...


class ScreenHost:
    """``TrainingHost`` for the training screen: its ``run`` (settings, data, record), the
    ``bridge`` once attached (weight snapshots), its charts (the overlay) and digit viewer."""

    def __init__(self, run: Run, charts: Callable[[], ChartsPanel], digits: Callable[[], MisclassifiedPanel]) -> None:
        self.run = run
        self.bridge: TrainingBridge | None = None
        self._charts, self._digits = charts, digits
        #: Screens that asked for weight snapshots get each one (they unsubscribe on unmount).
        self.weight_listeners: list[Callable[[WeightsSnapshot], None]] = []
        self._kept: dict[str, Any] = {}

    def deliver(self, snapshot: WeightsSnapshot) -> None:
        """A snapshot the worker posted: to every screen watching."""
        for listener in list(self.weight_listeners):
            listener(snapshot)

    def watch_weights(self, listener: Callable[[WeightsSnapshot], None]) -> None:
        self.weight_listeners.append(listener)

    def unwatch_weights(self, listener: Callable[[WeightsSnapshot], None]) -> None:
        if listener in self.weight_listeners:
            self.weight_listeners.remove(listener)

    def request_weights(self, tag: str) -> None:
        if self.bridge is not None:
            self.bridge.snapshot(tag)

    def data_set(self, name: str) -> tuple[Any, Any] | None:
        trainer = self.run.trainer
        return trainer.train if name == "train" else trainer.eval_sets.get(name)

    def shown_digit(self) -> Shown | None:
        return self._digits().browser.shown()

    def live_settings(self) -> dict[str, Any]:
        return self.run.desired.to_dict()

    def live_run_id(self) -> str:
        return self.run.recorder.run_id

    def overlay(self) -> list[OverlayRun]:
        return list(self._charts().overlay)

    def set_overlay(self, runs: list[OverlayRun]) -> None:
        self._charts().set_overlay(runs)

    def kept(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._kept:
            self._kept[key] = make()
        return cast(T, self._kept[key])
