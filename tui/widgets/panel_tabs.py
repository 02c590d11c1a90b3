"""``PanelTabs``: on small screens, the strip that picks the one right-hand panel the training
screen shows (charts, digits, gradient check or challenge, the angle chart).

The strip sits in the grid that holds the panels and sets ``-show-<key>`` on it; the styles
(``assets/app.tcss``) show the panel that class names while the screen is compact (its ``-narrow``
or ``-short`` breakpoint class). "angles" also turns the angle chart on when every panel is on
show. Leaves out the keys 1-4 (the screen's bindings call ``show_panel``) and the breakpoints (the app's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.widgets import Tab, Tabs

if TYPE_CHECKING:
    from tui.widgets.charts import ChartsPanel
    from tui.widgets.digits import MisclassifiedPanel

#: Right-hand panels in tab order: (id, tab label).
PANELS: tuple[tuple[str, str], ...] = (
    ("charts", "1 Charts"),
    ("digits", "2 Digits"),
    ("gradcheck", "3 Check"),
    ("angles", "4 Angles"),
)


class PanelTabs(Tabs):
    """Tabs for the panels in ``PANELS``; ``charts`` gets the angle chart, ``digits`` loses the
    keys when another panel takes its place."""

    def __init__(self, charts: ChartsPanel, digits: MisclassifiedPanel, *, id: str | None = None) -> None:
        super().__init__(*(Tab(label, id=f"tab-{key}") for key, label in PANELS), id=id)
        self.charts, self.digits = charts, digits

    @property
    def compact(self) -> bool:
        """True when the right side shows one panel at a time (the screen is narrow or short)."""
        return self.screen.has_class("-narrow") or self.screen.has_class("-short")

    def show_panel(self, key: str) -> None:
        """Make panel ``key`` the one shown on small screens ("angles" also shows that chart when wide)."""
        self.active = f"tab-{key}"
        self._select(key)  # now, not when the activation message comes round: a key typed next sees it

    def relabel(self, key: str, label: str) -> None:
        """Give panel ``key``'s tab a new label (a challenge takes the gradient check's place)."""
        self.query_one(f"#tab-{key}", Tab).label = label

    @on(Tabs.TabActivated)
    def _activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab.id:
            self._select(event.tab.id.removeprefix("tab-"))

    def _select(self, key: str) -> None:
        body = self.parent
        assert body is not None, "the strip sits in the panels' grid"
        for other, _ in PANELS:
            body.set_class(other == key, f"-show-{other}")
        if key == "angles":
            self.charts.show_angles()
        if self.compact and key != "digits" and self.screen.focused is self.digits:
            self.screen.set_focus(None)  # a hidden panel must not keep the keys
