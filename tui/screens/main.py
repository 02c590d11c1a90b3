"""The main screen: status strip, controls, charts, misclassified digits and gradient check.

At 100x32 and above every panel is visible: the status strip across the top,
controls and charts below it, digits and gradient check at the bottom. Below that
(``-narrow`` / ``-short`` breakpoint classes, see ``assets/app.tcss``) the left
column scrolls and the right side shows one panel at a time, picked with the tab
strip or the keys 1, 2, 3, 4 (4: the angle chart on its own).
This module only composes; the app routes the worker's messages to the panels.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Tab, Tabs

from model.config import HyperParams
from tui.widgets.charts import ChartsPanel
from tui.widgets.controls import ControlsPanel
from tui.widgets.digits import MisclassifiedPanel
from tui.widgets.gradcheck import GradCheckPanel
from tui.widgets.keybar import KeyBar
from tui.widgets.status import StatusPanel

#: Right-hand panels in tab order: (id, tab label).
PANELS: tuple[tuple[str, str], ...] = (
    ("charts", "1 Charts"),
    ("digits", "2 Digits"),
    ("gradcheck", "3 Grad check"),
    ("angles", "4 Angles"),
)


class MainScreen(Screen[None]):
    """All panels; nothing focused at start so the letter keys work at once."""

    AUTO_FOCUS = ""

    class Ready(Message):
        """Every panel is mounted; the app may start feeding them."""

    def __init__(self, hp: HyperParams, *, hide_time: bool = False) -> None:
        super().__init__(id="main")
        self.hp = hp
        self.hide_time = hide_time

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusPanel(id="status", hide_time=self.hide_time)
        with Grid(id="body", classes="-show-charts"):
            with VerticalScroll(id="left", can_focus=False):
                yield ControlsPanel(self.hp, id="controls")
            yield Tabs(*(Tab(label, id=f"tab-{key}") for key, label in PANELS), id="panel-tabs")
            yield ChartsPanel(id="charts")
            yield MisclassifiedPanel(id="digits")
            yield GradCheckPanel(id="gradcheck")
        yield KeyBar()

    def on_mount(self) -> None:
        titles = {"charts": "Training curves", "digits": "Misclassified test digits", "gradcheck": "Gradient check"}
        for key, title in titles.items():
            widget = self.query_one(f"#{key}")
            if not widget.border_title:
                widget.border_title = title
        self.charts.show_angles(self.hp.variant != "exact")
        self.post_message(self.Ready())

    # ---- panels -----------------------------------------------------------------------------
    @property
    def controls(self) -> ControlsPanel:
        return self.query_one("#controls", ControlsPanel)

    @property
    def status(self) -> StatusPanel:
        return self.query_one("#status", StatusPanel)

    @property
    def charts(self) -> ChartsPanel:
        return self.query_one("#charts", ChartsPanel)

    @property
    def digits(self) -> MisclassifiedPanel:
        return self.query_one("#digits", MisclassifiedPanel)

    @property
    def gradcheck(self) -> GradCheckPanel:
        return self.query_one("#gradcheck", GradCheckPanel)

    @property
    def compact(self) -> bool:
        """True when the right side shows one panel at a time."""
        return self.has_class("-narrow") or self.has_class("-short")

    def show_panel(self, key: str) -> None:
        """Make panel ``key`` the one shown on small screens ("angles" also shows that chart when wide)."""
        self.query_one("#panel-tabs", Tabs).active = f"tab-{key}"
        self._select(key)

    def focus_digits(self) -> None:
        """Focus the digit viewer (on small screens, switch to its tab first)."""
        if self.compact:
            self.show_panel("digits")
        self.set_focus(self.digits)  # at once: a key typed right after goes to the viewer

    @on(Tabs.TabActivated, "#panel-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab.id:
            self._select(event.tab.id.removeprefix("tab-"))

    def _select(self, key: str) -> None:
        body = self.query_one("#body")
        for other, _ in PANELS:
            body.set_class(other == key, f"-show-{other}")
        if key == "angles":
            self.charts.show_angles()
        if self.compact and key != "digits" and self.focused is self.digits:
            self.set_focus(None)  # a hidden panel must not keep the keys
