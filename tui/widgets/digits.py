"""The misclassified-digit viewer: one wrong test image at a time, and the confusion matrix.

``MisclassifiedPanel.show`` receives a ready ``model.analysis.Misclassified``; the
panel filters and sorts it through ``tui.view.selection.MistakeBrowser`` and draws the current
image (half blocks, or an ASCII ramp with ``a``), the model's probability per class
as bars, where it stands (``i / N``, filters, order) and the test set's confusion
matrix beside the digit when the panel is wide enough, otherwise behind it (``c``).
It does no evaluation itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from model.analysis import Misclassified
from tui.view.confusion import confusion_text, confusion_width
from tui.view.digit_render import render_ascii, render_halfblock
from tui.view.selection import MistakeBrowser

TRUE_STYLE = "bold green"
PRED_STYLE = "bold red"
EIGHTHS = " ▏▎▍▌▋▊▉█"
#: Content width of the digit, its probability bars and the gap before the matrix.
DIGIT_VIEW_MIN = 52
#: Content width under which one line of probabilities goes below the digit instead of the bars.
STACK_BELOW = 41
#: Content height under which the status line moves into the border.
SHORT_BELOW = 15
NO_EVALUATION = "no evaluation yet"
NO_MATCH = "no misclassified images match this filter"
#: ``MistakeBrowser`` moves the keys make (``action_browse``); each redraws unless it returns False.
BROWSE = frozenset({"step", "jump", "cycle_true", "cycle_pred", "cycle_order"})


def _bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (eighth-cell resolution)."""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[rest] if rest else "")).ljust(width)


class ProbBars(Widget):
    """The model's probability for each class as a bar; true and predicted rows highlighted.

    ``compact``: one line with only the true and predicted classes' probabilities.
    """

    DEFAULT_CSS = """
    ProbBars {
        height: 13;
        width: 1fr;
        min-width: 12;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.probs: Sequence[float] | None = None
        self.true = self.pred = self.row = -1
        self.compact = False

    def set_data(self, probs: Sequence[float] | None, true: int = -1, pred: int = -1, row: int = -1) -> None:
        """probs: (10,) for one image; its true and predicted class and its row in the set."""
        self.probs, self.true, self.pred, self.row = probs, true, pred, row
        self.refresh()

    def render(self) -> RenderResult:
        if self.probs is None:
            return Text()
        if self.compact:
            return self._render_compact()
        w = self.size.width
        text = Text.assemble(
            ("true ", "dim"), (str(self.true), TRUE_STYLE),
            ("  predicted " if w >= 20 else " pred " if w >= 13 else "\npred ", "dim"), (str(self.pred), PRED_STYLE),
            (f"\ntest #{self.row}\n" if w >= 13 else "\n", "dim"),
        )  # fmt: skip
        width = max(self.size.width - 8, 3)  # "7 " + bar + " 0.83"
        for c, p in enumerate(self.probs):
            style = TRUE_STYLE if c == self.true else PRED_STYLE if c == self.pred else ""
            text.append(f"\n{c} ", style=style or "bold")
            text.append(_bar(p, width), style=style or "dim")
            text.append(f" {p:.2f}"[:6], style=style)
        return text

    def _render_compact(self) -> Text:
        assert self.probs is not None
        return Text.assemble(
            ("true ", "dim"), (f"{self.true}", TRUE_STYLE), (f" {self.probs[self.true]:.2f}", TRUE_STYLE),
            ("  predicted ", "dim"), (f"{self.pred}", PRED_STYLE), (f" {self.probs[self.pred]:.2f}", PRED_STYLE),
        )  # fmt: skip


TITLE = "Misclassified"
FOCUSED_TITLE = "[b $accent]Misclassified · browsing[/]"  # the key bar shows the viewer's keys


class MisclassifiedPanel(Widget, can_focus=True):
    """One misclassified test image with its class probabilities, plus the confusion matrix."""

    DEFAULT_CSS = """
    MisclassifiedPanel {
        height: auto;
        min-width: 32;
        min-height: 6;
        layout: vertical;
    }
    MisclassifiedPanel #mis-body { height: auto; }
    MisclassifiedPanel #mis-view { width: 1fr; height: auto; }
    MisclassifiedPanel #mis-top { height: auto; }
    MisclassifiedPanel #mis-image { width: 28; height: 14; margin-right: 1; }
    MisclassifiedPanel #mis-status { height: auto; }
    MisclassifiedPanel #mis-message { height: auto; color: $text-muted; }
    MisclassifiedPanel #mis-confusion { width: auto; height: auto; display: none; margin-left: 2; }
    MisclassifiedPanel.-stacked #mis-top { layout: vertical; }
    MisclassifiedPanel.-stacked ProbBars { height: 1; }
    MisclassifiedPanel.-show-confusion #mis-confusion { display: block; }
    MisclassifiedPanel.-hide-view #mis-view { display: none; }
    MisclassifiedPanel.-hide-view #mis-confusion { margin-left: 0; }
    MisclassifiedPanel.-empty #mis-top { display: none; }
    MisclassifiedPanel.-no-result #mis-status { display: none; }
    MisclassifiedPanel.-short #mis-status { display: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Leave"),  # first: the one a narrow key bar must keep
        Binding("j,right", "browse('step', 1)", "Next image", show=False),
        Binding("k,left", "browse('step', -1)", "Previous image", show=False),
        Binding("home", "browse('jump', 'first')", "First image", show=False),
        Binding("end", "browse('jump', 'last')", "Last image", show=False),
        Binding("t", "browse('cycle_true')", "True class"),
        Binding("p", "browse('cycle_pred')", "Predicted"),
        Binding("o", "browse('cycle_order')", "Sort"),  # a new order starts from its first image
        Binding("c", "toggle_confusion", "Confusion"),
        Binding("a", "toggle_ascii", "ASCII"),
        Binding("y", "why", "Why", tooltip="why this prediction: the units behind it"),
    ]

    class Why(Message):
        """Explain the digit on screen: its pixels (784,), true label and row in the test set."""

        def __init__(self, image: object, true: int, row: int) -> None:
            super().__init__()
            self.image, self.true, self.row = image, true, row

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = TITLE
        self.browser = MistakeBrowser()  # filters, order and position
        self.ascii_mode = False
        self.confusion_toggled = False  # flips the default (shown when wide, hidden when narrow)
        self.wide = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="mis-body"):
            with Vertical(id="mis-view"):
                yield Static(NO_EVALUATION, id="mis-message")
                with Horizontal(id="mis-top"):
                    yield Static(id="mis-image")
                    yield ProbBars(id="mis-probs")
                yield Static(id="mis-status")
            yield Static(id="mis-confusion")

    @property
    def confusion_shown(self) -> bool:
        return self.has_class("-show-confusion")

    def show(self, result: Misclassified) -> None:
        """Take a new evaluation's misclassified set, staying on the same image if it is still wrong."""
        had_result = self.browser.result is not None
        self.browser.show(result)
        self._redraw()
        if not had_result:  # the keys just became available; refreshing them relayouts the footer
            self.refresh_bindings()

    # ---- actions ---------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("browse", "toggle_ascii"):
            return True if self.browser.result is not None else None
        if action == "why":
            return True if self.browser.current is not None else None
        return True

    def on_focus(self) -> None:
        self.border_title = FOCUSED_TITLE

    def on_blur(self) -> None:
        self.border_title = TITLE

    def action_leave(self) -> None:
        """Give focus back to the screen, so no panel holds the keys."""
        self.screen.set_focus(None)

    def action_browse(self, move: str, *args: int | str) -> None:
        """Move through the images: one of ``BROWSE`` (``MistakeBrowser``'s moves) with ``args``."""
        if move in BROWSE and getattr(self.browser, move)(*args) is not False:  # False: nothing moved
            self._redraw()

    def action_toggle_confusion(self) -> None:
        self.confusion_toggled = not self.confusion_toggled
        self._redraw()

    def action_toggle_ascii(self) -> None:
        self.ascii_mode = not self.ascii_mode
        self._redraw()

    def action_why(self) -> None:
        shown = self.browser.shown()
        if shown is not None:
            self.post_message(self.Why(shown.image, int(shown.true), int(shown.row)))

    def on_resize(self, event: events.Resize) -> None:
        self._redraw()

    # ---- drawing ---------------------------------------------------------------------
    def _layout(self) -> None:
        """Set the classes that decide what is visible for the current width and toggles."""
        width = self.size.width
        matrix = confusion_width(self.browser.result.confusion) if self.browser.result is not None else 59
        self.wide = width >= DIGIT_VIEW_MIN + matrix
        has = self.browser.result is not None
        show_conf = has and (self.wide != self.confusion_toggled)
        self.set_class(show_conf, "-show-confusion")
        self.set_class(show_conf and not self.wide, "-hide-view")
        self.set_class(width < STACK_BELOW, "-stacked")
        self.query_one(ProbBars).compact = width < STACK_BELOW
        self.set_class(not has, "-no-result")
        self.set_class(self.browser.current is None, "-empty")
        # Only a panel given a fixed height can be short (an auto height grows to fit).
        height = self.styles.height
        fixed = height is not None and not height.is_auto
        self.set_class(fixed and has and not self.has_class("-hide-view") and self.size.height < SHORT_BELOW, "-short")

    def _redraw(self) -> None:
        if not self.is_mounted:  # also while the Mount handlers run: the first Resize, after them, draws
            return
        self._layout()
        message = self.query_one("#mis-message", Static)
        probs = self.query_one("#mis-probs", ProbBars)
        result, shown = self.browser.result, self.browser.shown()
        message.display = shown is None
        if result is None:
            message.update(NO_EVALUATION)
            self.border_subtitle = ""
            return
        if self.has_class("-short"):
            self.border_subtitle = self.browser.status_line(compact=True)
        else:
            self.border_subtitle = f"{len(result)}/{result.total} wrong ({100 * result.error_rate:.2f}%)"
        self.query_one("#mis-status", Static).update(self.browser.status_line())
        highlight = None
        if shown is None:
            message.update(NO_MATCH)
            probs.set_data(None)
        else:
            highlight = (shown.true, shown.pred)
            self.query_one("#mis-image", Static).update(
                render_ascii(shown.image) if self.ascii_mode else render_halfblock(shown.image)
            )
            probs.set_data(shown.probs, shown.true, shown.pred, shown.row)
        self.query_one("#mis-confusion", Static).update(
            confusion_text(result.confusion, highlight, None if self.wide else self.size.width)
        )
