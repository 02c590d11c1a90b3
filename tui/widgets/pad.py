"""The drawing pad's widgets: the 28x28 canvas you draw on and the ten class-probability bars.

``DrawCanvas`` turns mouse events into strokes on a ``tui.view.pad.PadState`` (left button
paints, right button erases; the mouse is captured during a stroke, and a move with no button
held ends it, since terminals lose the button release outside the window) and posts
``DrawCanvas.Changed`` after every change. ``ClassBars`` shows probabilities it is given. Neither
does any array maths: the state and the renderers live in ``tui.view.pad``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from model.drawing import SIDE
from tui.view.pad import CELL_W, PadState, bars_text, canvas_rows, canvas_text, top_class

LEFT, RIGHT = 1, 3  # Textual's mouse button numbers


class DrawCanvas(Widget):
    """28x28 pixels, two cells wide each; draws ``state`` and the keyboard cursor."""

    ALLOW_SELECT = False  # a drag paints; it must not start a text selection

    class Changed(Message):
        """The canvas changed (a stroke, a stamp, a clear)."""

    def __init__(
        self, state: PadState | None = None, *, on_change: Callable[[], None] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.state = state if state is not None else PadState()
        self.on_change = on_change  # called at once on every change (else a Changed message is posted)
        self.show_cursor = True
        self._rows: list[Strip] = []  # one per pixel row, rebuilt where the canvas changed

    def render_line(self, y: int) -> Strip:
        """Content row ``y``: pixel row ``y`` of the canvas (from the rows cached in ``redraw``)."""
        if not self._rows:
            self.redraw()
        return self._rows[y] if 0 <= y < len(self._rows) else Strip.blank(self.size.width)

    def redraw(self, rows: range | None = None) -> None:
        """Rebuild pixel rows ``rows`` (all if None) and repaint only those."""
        cursor = self.state.cursor if self.show_cursor else None
        width = CELL_W * SIDE
        if rows is None or len(self._rows) != SIDE:
            self._rows = [Strip(segments, width) for segments in canvas_rows(self.state.canvas, cursor)]
            self.refresh()
            return
        for y, segments in zip(rows, canvas_rows(self.state.canvas, cursor, rows), strict=True):
            self._rows[y] = Strip(segments, width)
        if rows:
            self.refresh(Region(0, rows.start, width, len(rows)))

    def text(self) -> Text:
        """What the canvas shows, as plain text lines (captures and tests)."""
        return canvas_text(self.state.canvas, self.state.cursor if self.show_cursor else None)

    def changed(self) -> None:
        """Redraw and tell the owner (call after changing ``state`` from outside). ``on_change``
        runs in this handler, so whatever it updates is drawn in the same frame as the stroke."""
        self.redraw(self.state.take_dirty())
        if self.on_change is not None:
            self.on_change()
        else:
            self.post_message(self.Changed())

    def _pixel(self, event: events.MouseEvent) -> tuple[float, float]:
        """The event's pixel coordinates (x, y) on the canvas (outside it while captured: clamped)."""
        return self.state.pixel_at(int(event.x) - self.gutter.left, int(event.y) - self.gutter.top)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (LEFT, RIGHT):
            return
        event.stop()
        self.capture_mouse()
        self.state.begin(*self._pixel(event), erase=event.button == RIGHT)
        self.changed()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if not self.state.stroking:
            return
        event.stop()
        if event.button not in (LEFT, RIGHT):  # the release was lost (outside the window)
            self._end_stroke()
            return
        self.state.drag(*self._pixel(event))
        self.changed()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self.state.stroking:
            event.stop()
            self._end_stroke()

    def _end_stroke(self) -> None:
        self.state.end()
        self.release_mouse()

    @property
    def cells(self) -> tuple[int, int]:
        """(columns, rows) of the content: 56 x 28."""
        return CELL_W * self.state.canvas.shape[1], self.state.canvas.shape[0]


class DigitView(Widget):
    """A 28x28 image in 28x14 cells (half blocks, or the ASCII ramp); drawn line by line."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[Strip] = []

    def show(self, rows: Sequence[Sequence[Segment]]) -> None:
        """rows: 14 rows of segments, 28 cells each (``tui.view.digit_render``)."""
        self._rows = [Strip(segments, SIDE) for segments in rows]
        self.refresh()

    def render_line(self, y: int) -> Strip:
        return self._rows[y] if 0 <= y < len(self._rows) else Strip.blank(self.size.width)


class ClassBars(Widget):
    """Ten bars, one per class, the most likely one highlighted; ``note`` when there are none.

    ``version`` counts the values it was given, ``shown`` the version it last drew (the bench
    times the path from a mouse event to the bars through them).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.probs: list[float] | None = None
        self.note = "waiting for the live model"
        self.version = 0
        self.shown = 0

    def show(self, probs: Sequence[float] | None, note: str = "draw a digit") -> None:
        """probs: ten class probabilities, or None (then ``note`` is shown)."""
        self.probs = None if probs is None else list(probs)
        self.note = note
        self.version += 1
        self.refresh()

    @property
    def top(self) -> int | None:
        """The most likely class, None with no probabilities."""
        return None if self.probs is None else top_class(self.probs)

    def render(self) -> RenderResult:
        self.shown = self.version
        return bars_text(self.probs, self.size.width, self.note)

    def summary(self) -> Text:
        """One line for the border: "looks like a 3 · 0.87", or nothing."""
        if self.probs is None or self.top is None:
            return Text("")
        return Text.assemble("looks like a ", (str(self.top), "bold green"), f" · {self.probs[self.top]:.2f}")
