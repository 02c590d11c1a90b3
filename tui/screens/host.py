"""``TrainingHost``: what a screen opened over the training screen may ask of it.

The weights, drawing-pad, math, why and run-list screens see the training screen only through
this: copies of the live weights on request, the data sets, the digit on show, the live run's
settings and id, the runs overlaid on its charts, and a place to keep state between openings.
``tui.screens.main.MainScreen`` implements it; the screens never import that module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from tui.session.events import WeightsSnapshot
    from tui.view.selection import Shown
    from tui.widgets.charts import OverlayRun

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
