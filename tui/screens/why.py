"""The "why this prediction?" screen (``y`` in the digit viewer).

Opened for one digit (its pixels and true label); it asks the worker for a copy of the weights
every ``SNAPSHOT_SECONDS`` and explains the digit with each (``tui.view.why.build_why_data``,
one forward pass of one image: cheap enough for the UI thread), so the logits and the units
behind them move while training goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tui.errorlog import summary
from tui.screens.live import LiveScreen
from tui.session.events import WeightsSnapshot
from tui.view.why import build_why_data
from tui.widgets.why import WhyView

if TYPE_CHECKING:
    from tui.screens.host import TrainingHost


class WhyScreen(LiveScreen):
    """One digit explained: logits, and the units contributing most to the predicted and true class."""

    TAG = "why"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,y", "close", "Back"),
        Binding("a", "toggle_ascii", "ASCII", tooltip="ASCII digit and tiles (for text captures)"),
    ]

    def __init__(self, host: TrainingHost, image: Any, true_label: int, row: int = -1, *, live: bool = True) -> None:
        super().__init__(host, live=live, id="why")
        self.image = image  # (784,)
        self.true_label = true_label
        self.row = row

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        yield WhyView(self.image, id="why-view")

    @property
    def view(self) -> WhyView:
        return self.query_one(WhyView)

    def snapshot_arrived(self, snapshot: WeightsSnapshot) -> None:
        try:
            data = build_why_data(snapshot, self.image, self.true_label, self.row)
        except (ValueError, IndexError) as exc:  # e.g. a loaded model with another input size
            self.notify(f"cannot explain this digit: {summary(exc)}", severity="error")
            return
        self.view.show(data)

    def action_toggle_ascii(self) -> None:
        self.view.toggle_ascii()
