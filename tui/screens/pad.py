"""The drawing pad: draw a digit with the mouse (or the keys) and watch the live model read it.

The screen asks the training worker for a copy of the weights when it opens and every
``SNAPSHOT_SECONDS`` while it is open (training goes on underneath), and classifies the canvas
with the newest copy on every new copy and on every stroke event, straight from the canvas's
mouse handler so the bars are drawn in the same frame as the stroke: one forward pass of a
784-vector, well under a millisecond, so it runs on the UI thread. Beside the canvas: the ten
class probabilities as bars and the 28x28 image the network really sees (after
``model.drawing.to_mnist``). Below ``MIN_SIZE`` a notice replaces the pad.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.segment import Segment
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from model.drawing import SIDE
from tui.screens.palette import Entry
from tui.view.digit_render import halfblock_rows, render_ascii
from tui.view.pad import CELL_W, PadState
from tui.widgets.keybar import KeyBar
from tui.widgets.pad import ClassBars, DigitView, DrawCanvas

if TYPE_CHECKING:
    from tui.screens.host import TrainingHost
    from tui.session.events import WeightsSnapshot

SNAPSHOT_SECONDS = 0.75  # how often the pad asks for the live weights while it is open
SIDE_WIDTH = 31  # the bars and the preview beside the canvas (28 wide), with their borders and a gap
#: The smallest terminal (columns, rows) the pad fits: the canvas with its border, the side
#: column, the header and the key bar.
MIN_SIZE = (CELL_W * SIDE + 2 + SIDE_WIDTH, SIDE + 2 + 2)
TAG = "pad"


def too_small_text(need: tuple[int, int]) -> str:
    return f"terminal too small for the drawing pad: need {need[0]}x{need[1]}\n(esc goes back; training goes on)"


class DrawPadScreen(Screen[None]):
    """The canvas, the class bars and the network's view of the digit; keys work without a mouse."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="close the pad (training went on meanwhile)"),
        Binding("c", "clear", "Clear"),
        Binding("x,e", "toggle_eraser", "Eraser", tooltip="eraser on / off (the right button always erases)"),
        Binding("space", "stamp", "Paint", tooltip="paint at the keyboard cursor (erase with the eraser on)"),
        Binding("up", "move(0, -1)", "Cursor up", show=False),
        Binding("down", "move(0, 1)", "Cursor down", show=False),
        Binding("left", "move(-1, 0)", "Cursor left", show=False),
        Binding("right", "move(1, 0)", "Cursor right", show=False),
        Binding("a", "toggle_ascii", "ASCII", tooltip="the network's view in ASCII / half blocks"),
        Binding("p", "close", "Close pad", show=False),
    ]
    #: Mouse actions, for the help screen.
    MOUSE_ROWS: ClassVar[list[tuple[str, str]]] = [
        ("left drag", "paint (soft brush, MNIST-like stroke width)"),
        ("right drag", "erase"),
        ("arrows", "move the keyboard cursor"),
    ]

    #: Palette entries while the pad is open (``tui.screens.palette``).
    PALETTE: ClassVar[tuple[Entry, ...]] = (
        ("Clear the pad", "Remove all ink (c)", "clear", None),
        ("Eraser on / off", "Paint or erase with the cursor and the left button (x, e)", "toggle_eraser", None),
        ("Paint at the cursor", "One brush stamp where the keyboard cursor is (space)", "stamp", None),
        ("Network's view in ASCII", "Switch the 28x28 view between half blocks and ASCII (a)", "toggle_ascii", None),
        ("Close the drawing pad", "Back to training (esc, p)", "close", None),
    )

    def __init__(self, host: TrainingHost) -> None:
        super().__init__(id="pad")
        self.host = host
        self.state: PadState = host.kept("pad", PadState)  # the drawing stays when the pad is closed and opened
        self.params: dict[str, Any] | None = None  # the newest weights snapshot's W1, b1, W2, b2
        self.activation = "relu"
        self.examples_seen = -1
        self.ascii = False
        self._info = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="pad-body"):
            yield DrawCanvas(self.state, on_change=self._update, id="pad-canvas")
            with Vertical(id="pad-side"):
                yield ClassBars(id="pad-bars")
                yield DigitView(id="pad-preview")
                yield Static(id="pad-info")
        yield Static(too_small_text(MIN_SIZE), id="pad-too-small")
        yield KeyBar()

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one("#pad-canvas", DrawCanvas)

    @property
    def bars(self) -> ClassBars:
        return self.query_one("#pad-bars", ClassBars)

    @property
    def preview(self) -> DigitView:
        return self.query_one("#pad-preview", DigitView)

    @property
    def too_small(self) -> bool:
        return self.has_class("-too-small")

    def on_mount(self) -> None:
        self.canvas.border_title = "Draw a digit"
        self.bars.border_title = "Live model"
        self.query_one("#pad-preview").border_title = "What the network sees"
        self.host.watch_weights(self._snapshot)
        self._request()
        self.set_interval(SNAPSHOT_SECONDS, self._request)
        self._update()

    def on_unmount(self) -> None:
        self.host.unwatch_weights(self._snapshot)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1], "-too-small")

    # ---- the live model ----------------------------------------------------------------------
    def _request(self) -> None:
        self.host.request_weights(TAG)

    def _snapshot(self, snapshot: WeightsSnapshot) -> None:
        self.params = snapshot.params
        self.activation = snapshot.hp.activation
        self.examples_seen = snapshot.examples_seen
        self._update()

    def _update(self) -> None:
        """Classify the canvas with the newest weights; redraw the bars and the network's view."""
        state = self.canvas.state
        bars = self.bars
        if self.params is None:
            bars.show(None, "waiting for the live model")
        else:
            bars.show(state.probs(self.params, self.activation))
        bars.border_subtitle = bars.summary()
        image = state.network_input()
        if self.ascii:
            self.preview.show([[Segment(line)] for line in render_ascii(image).plain.splitlines()])
        else:
            self.preview.show(halfblock_rows(image))
        seen = f"model after {self.examples_seen:,} examples" if self.examples_seen >= 0 else "no weights yet"
        info = f"{'[b $warning]eraser[/]' if state.eraser else 'brush'} · {seen}"
        if info != self._info:
            self._info = info
            self.query_one("#pad-info", Static).update(info, layout=False)  # fixed size: no relayout

    # ---- actions -----------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_clear(self) -> None:
        self.canvas.state.clear()
        self.canvas.changed()

    def action_toggle_eraser(self) -> None:
        state = self.canvas.state
        state.eraser = not state.eraser
        self._update()

    def action_stamp(self) -> None:
        self.canvas.state.stamp_cursor()
        self.canvas.changed()

    def action_move(self, dx: int, dy: int) -> None:
        self.canvas.state.move_cursor(dx, dy)
        self.canvas.show_cursor = True
        self.canvas.redraw()

    def action_toggle_ascii(self) -> None:
        self.ascii = not self.ascii
        self._update()
