"""The math screen (``m``): the derivation of backprop beside the live model's numbers.

Left: ``assets/backprop.md`` (read through ``tui.resources``, so the wheel carries it) in
Textual's Markdown widget. Right: the minibatch form's lines with the live shapes, the norm
of each gradient on a fixed minibatch of training digits, and p - t for the digit selected in
the viewer (or the minibatch's first), refreshed from worker snapshots while training runs.
``b`` draws another minibatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Markdown, Static

from tui.errorlog import summary
from tui.resources import asset
from tui.screens.live import LiveScreen
from tui.session.events import WeightsSnapshot
from tui.view.mathpane import MathData, build_math_data, math_text, pick_batch

if TYPE_CHECKING:
    from tui.screens.host import TrainingHost

WAITING = "waiting for a snapshot of the weights…"


def derivation_text() -> str:
    """The text of ``assets/backprop.md``, or one line saying why it could not be read."""
    try:
        return asset("backprop.md").read_text(encoding="utf-8")
    except OSError as exc:
        return f"*The derivation could not be read: {summary(exc)}*"


class MathScreen(LiveScreen):
    """The derivation (scrolls) and a live pane of shapes, gradient norms and p - t."""

    TAG = "math"
    DEFAULT_CSS = """
    MathScreen #math-body { height: 1fr; }
    MathScreen #math-doc { width: 1fr; height: 1fr; border: round $primary 50%; border-title-color: $text;
        padding: 0 1; scrollbar-size-vertical: 1; }
    MathScreen #math-doc:focus { border: round $accent; }
    MathScreen #math-live { width: 58; height: 1fr; border: round $primary 50%; border-title-color: $text;
        padding: 0 1; scrollbar-size-vertical: 1; }
    MathScreen.-narrow #math-live { width: 45; }
    MathScreen Markdown { margin: 0; padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,m", "close", "Back"),
        Binding("b", "new_batch", "New batch", tooltip="another minibatch for the gradient norms"),
    ]

    def __init__(self, host: TrainingHost, *, live: bool = True) -> None:
        super().__init__(host, live=live, id="math")
        self.batch_seed = 0
        self.data: MathData | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        with Horizontal(id="math-body"):
            with VerticalScroll(id="math-doc") as doc:
                doc.border_title = "Backpropagation (assets/backprop.md)"
                doc.border_subtitle = "↑/↓ pgup/pgdn scroll"
                yield Markdown(derivation_text(), id="math-markdown")
            with VerticalScroll(id="math-live", can_focus=False) as live:
                live.border_title = "Live numbers"
                yield Static(WAITING, id="math-numbers")

    def on_mount(self) -> None:
        # no super().on_mount(): Textual calls each class's handler along the MRO, so the live
        # screen's runs anyway (calling it here watched the weights twice and leaked one watcher)
        self.query_one("#math-doc").focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 120, "-narrow")
        self._redraw()

    def snapshot_arrived(self, snapshot: WeightsSnapshot) -> None:
        train = self.host.data_set("train")
        if train is None:
            return
        X, y = train
        rows = pick_batch(len(y), snapshot.hp.batch_size, self.batch_seed)
        shown = self.host.shown_digit()
        if shown is not None:
            x_ex, y_ex, source = shown.image, shown.true, f"test #{shown.row}"
        else:
            x_ex, y_ex, source = X[rows[0]], int(y[rows[0]]), f"training digit #{int(rows[0])}"
        try:
            self.data = build_math_data(snapshot, X[rows], y[rows], x_ex, y_ex, source)
        except (ValueError, IndexError) as exc:  # e.g. a loaded model with another input size
            self.notify(f"cannot compute the live numbers: {summary(exc)}", severity="error")
            return
        self._redraw()

    def _redraw(self) -> None:
        if self.data is not None and self.is_mounted:  # else the screen's first Resize, after mounting, draws
            live = self.query_one("#math-live")
            self.query_one("#math-numbers", Static).update(math_text(self.data, live.content_size.width))

    def action_new_batch(self) -> None:
        self.batch_seed += 1
        self.request_snapshot()
