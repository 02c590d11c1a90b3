"""A widget that draws lines of ready-made cells (rich segments), such as pages of weight tiles.

A page of filters has thousands of colour runs; drawing them from a rich ``Text`` spent
~150 ms splitting spans on every refresh. ``CellLines`` takes the lines as segments
(``tui.view.weights.signed_lines``; every character one cell wide), turns each into a
``Strip`` once and hands those out in ``render_line``. It computes nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget


class CellLines(Widget):
    """Lines of segments, cropped to the widget's width; as tall and wide as its content."""

    DEFAULT_CSS = """
    CellLines {
        width: auto;
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[list[Segment]] = []
        self._strips: list[Strip] = []
        self._width = 0

    @property
    def lines(self) -> list[list[Segment]]:
        """The lines as given (for tests and text captures)."""
        return self._lines

    @property
    def plain(self) -> str:
        """The lines as plain text."""
        return "\n".join("".join(segment.text for segment in line) for line in self._lines)

    def set_lines(self, lines: Sequence[list[Segment]]) -> None:
        """Draw ``lines`` from now on.

        Lines equal to (or the same objects as) the ones before keep their strips and are not
        repainted (a page of tiles whose selection moved repaints only the two label lines that
        changed); a new size relayouts.
        """
        lines = list(lines)
        width = max((sum(len(segment.text) for segment in line) for line in lines), default=0)
        old = self._lines
        if width != self._width or len(lines) != len(old) or not self._strips:
            self._lines, self._width, self._strips = lines, width, []
            self.refresh(layout=True)
            return
        changed = [y for y, (a, b) in enumerate(zip(old, lines, strict=True)) if a is not b and a != b]
        self._lines = lines
        base = self.rich_style
        for y in changed:
            self._strips[y] = Strip(lines[y]).apply_style(base)
        if changed:
            self.refresh(*(Region(0, y, max(self.size.width, width), 1) for y in changed))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        if not self._strips and self._lines:
            base = self.rich_style
            self._strips = [Strip(line).apply_style(base) for line in self._lines]
        width = self.size.width
        if y < len(self._strips):
            return self._strips[y].crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)
