"""The weights screen (``w``): the first layer's filters, live while training runs.

Every ``SNAPSHOT_SECONDS`` it asks the worker for a copy of the weights; a helper thread
scales the filters and runs the validation set through the first layer once
(``tui.view.weights.build_weights_data``), and the ``WeightsView`` draws the result. Keys move
the selection, turn pages and switch the scale, the tile size and the ASCII mode.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tui.screens.live import LiveScreen
from tui.session.events import WeightsSnapshot
from tui.view.weights import WeightsData, build_weights_data
from tui.widgets.weights import WeightsView

if TYPE_CHECKING:
    from tui.screens.host import TrainingHost


class WeightsScreen(LiveScreen):
    """W1's rows as tiles, the selected unit's filter, firing and outgoing weights."""

    TAG = "weights"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,w", "close", "Back"),
        Binding("left", "move(-1)", "Previous unit", show=False),
        Binding("right", "move(1)", "Next unit", show=False),
        Binding("up", "move_rows(-1)", "Unit above", show=False),
        Binding("down", "move_rows(1)", "Unit below", show=False),
        Binding("pagedown,right_square_bracket", "page(1)", "Next page", key_display="]"),
        Binding("pageup,left_square_bracket", "page(-1)", "Previous page", key_display="["),
        Binding("s", "toggle_scale", "Scale", tooltip="one scale per tile / one for all"),
        Binding("t", "toggle_size", "Tile size", tooltip="small (14x7) / large (28x14) tiles"),
        Binding("a", "toggle_ascii", "ASCII", tooltip="ASCII tiles (for text captures)"),
    ]

    def __init__(self, host: TrainingHost, *, live: bool = True) -> None:
        super().__init__(host, live=live, id="weights")
        self._key: tuple[object, ...] | None = None  # what the last computed data was made from

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        yield WeightsView(id="weights-view")

    @property
    def view(self) -> WeightsView:
        return self.query_one(WeightsView)

    def snapshot_arrived(self, snapshot: WeightsSnapshot) -> None:
        params = snapshot.params
        key = (snapshot.examples_seen, params["W1"].shape, float(params["W2"].sum()), float(params["b1"].sum()))
        if key == self._key:  # paused: the same weights, nothing to recompute
            return
        self._key = key
        valid = self.validation()
        self.compute(partial(build_weights_data, snapshot, None if valid is None else valid[0]))

    def computed(self, result: WeightsData) -> None:
        self.view.show(result)

    def action_move(self, delta: int) -> None:
        self.view.move(delta)

    def action_move_rows(self, rows: int) -> None:
        self.view.move_rows(rows)

    def action_page(self, delta: int) -> None:
        self.view.turn_page(delta)

    def action_toggle_scale(self) -> None:
        self.view.toggle_scale()

    def action_toggle_size(self) -> None:
        self.view.toggle_size()

    def action_toggle_ascii(self) -> None:
        self.view.toggle_ascii()
