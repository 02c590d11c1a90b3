"""The check of the student's backprop, one key away in the app (``b`` with ``--backprop FILE``).

Shows the latest check of the code that is training (the toy-net steps and the speed step, with
their diagnoses), "checking…" while one runs, and says where the student's prints go. ``b`` runs
the check again, ``u`` reloads the edited file (checked before it is used), escape closes.
Leaves out running anything: the main screen asks the ``StudentSession`` and hands results here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.view.exercise import check_text

if TYPE_CHECKING:
    from model.exercise import CheckResult

CHECKING = "checking your backprop (steps 1-4 and 6; the app's training is step 5)…"


class ExerciseScreen(ModalScreen[None]):
    """The check's verdict and diagnosis for ``path``; ``result`` None while the first check runs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("b", "recheck", "Check again"),
        Binding("u", "reload", "Reload the file"),
    ]
    DEFAULT_CSS = """
    ExerciseScreen { align: center middle; }
    #exercise-box {
        width: 130; max-width: 100%; height: auto; max-height: 95%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def __init__(
        self,
        path: str,
        result: CheckResult | None,
        checking: bool,
        output: str | None,
        recheck: Callable[[], object],
        reload: Callable[[], object],
    ) -> None:
        super().__init__(id="exercise")
        self.path, self.result, self.checking, self.output = path, result, checking, output
        self._recheck, self._reload = recheck, reload

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="exercise-box") as box:
            box.border_title = f"Your backprop: {self.path}"
            box.border_subtitle = "b: check again · u: reload the file · esc: close"
            yield Static(self._body(), id="exercise-body")

    def _body(self) -> Group:
        parts: list[Text | Group] = []
        if self.checking:
            parts.append(Text(CHECKING, style="bold"))
        if self.result is not None:
            parts.append(check_text(self.result))  # type: ignore[arg-type]
        elif not self.checking:
            parts.append(Text("no check yet: press b"))
        if self.output:
            parts.append(Text(f"\nwhat your code prints goes to {self.output}", style="dim"))
        return Group(*parts)

    def on_mount(self) -> None:
        self._show_body()  # what arrived after compose while the screen was still being mounted

    def show(self, result: CheckResult | None, checking: bool) -> None:
        """A new result (or a check that started) arrived."""
        self.result, self.checking = result, checking
        self._show_body()

    def _show_body(self) -> None:
        # Not gated on is_mounted: a result that came between compose and the end of mounting was
        # dropped that way, and the screen said "checking…" until the next check.
        for body in self.query("#exercise-body").results(Static):
            body.update(self._body())

    def action_close(self) -> None:
        self.dismiss(None)

    def action_recheck(self) -> None:
        self._recheck()

    def action_reload(self) -> None:
        self._reload()
