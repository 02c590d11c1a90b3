"""The key bar: the focused screen's key bindings on one line, like Textual's Footer, but cheap.

Textual's ``Footer`` mounts one widget per key and rebuilds them all whenever the bindings
change (every focus change, every screen switch); with training running that rebuild was
the slowest part of pressing a key. This bar renders one line of text, redraws only when
the list of keys really changed, and keeps help, quit and the palette visible on narrow
terminals by dropping other keys first. A click on a key presses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

#: Actions whose keys stay on screen when the bar is too narrow for every key.
KEEP_ACTIONS = ("help", "quit", "command_palette", "hint")  # hint: only while a challenge has one to give


@dataclass(frozen=True)
class KeyItem:
    """One key on the bar."""

    key: str  # the key name to simulate on click
    display: str  # what the bar shows, e.g. "space" or "^p"
    description: str
    action: str
    enabled: bool


class KeyBar(Widget):
    """One line of "key description" items for ``self.screen``'s active bindings."""

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        dock: bottom;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .keybar--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    KeyBar > .keybar--description {
        color: $footer-description-foreground;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--description"}
    SEPARATOR = " "

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.items: tuple[KeyItem, ...] = ()
        self._spans: list[tuple[int, int, KeyItem]] = []  # (start, end) columns of each shown item

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        items = self.collect(screen)
        if items != self.items:
            self.items = items
            self.refresh()

    def collect(self, screen: Screen[object]) -> tuple[KeyItem, ...]:
        """Shown bindings of ``screen``, one per action: the focused widget's first (a narrow bar
        drops from the end), then the screen's and the app's in binding order; the palette last."""
        by_action: dict[str, KeyItem] = {}
        palette: KeyItem | None = None
        focused = screen.focused
        bindings = sorted(screen.active_bindings.items(), key=lambda item: item[1][0] is not focused)
        for key, (_node, binding, enabled, _tooltip) in bindings:
            display = self.app.get_key_display(binding)
            if key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = KeyItem(binding.key, display, "palette", "command_palette", enabled)
            elif binding.show and binding.action not in by_action:
                by_action[binding.action] = KeyItem(binding.key, display, binding.description, binding.action, enabled)
        return (*by_action.values(), *([palette] if palette else []))

    def fit(self, width: int) -> list[KeyItem]:
        """The items that fit in ``width`` columns: drop from the end, keeping ``KEEP_ACTIONS``."""
        shown = list(self.items)
        while shown and _length(shown) > width:
            droppable = [i for i in shown if i.action not in KEEP_ACTIONS]
            shown.remove(droppable[-1] if droppable else shown[-1])
        return shown

    def render(self) -> Text:
        """One line: the keys from the left, the palette key at the right edge."""
        key_style = self.get_component_rich_style("keybar--key")
        description_style = self.get_component_rich_style("keybar--description")
        dim = Style(dim=True)
        width = self.size.width
        shown = self.fit(width - 2)  # a space at each edge
        left = [i for i in shown if i.action != "command_palette"]
        right = [i for i in shown if i.action == "command_palette"]
        text = Text(" ", no_wrap=True, overflow="crop")
        self._spans = []
        for n, item in enumerate(left + right):
            if item in right:
                text.append(" " * max(width - 1 - len(text) - _length(right), len(self.SEPARATOR)))
            elif n:
                text.append(self.SEPARATOR)
            start = len(text)
            text.append(item.display, key_style + dim if not item.enabled else key_style)
            text.append(" " + item.description, description_style + dim if not item.enabled else description_style)
            self._spans.append((start, len(text), item))
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, item in self._spans:
            if start <= event.x < end:
                if item.enabled:
                    self.app.simulate_key(item.key)
                else:
                    self.app.bell()
                return


def _length(items: list[KeyItem]) -> int:
    """Columns ``items`` take with the separator between them."""
    return sum(len(i.display) + 1 + len(i.description) for i in items) + len(KeyBar.SEPARATOR) * max(len(items) - 1, 0)
