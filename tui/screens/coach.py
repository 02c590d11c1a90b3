"""``StudentCoach``: the student's backprop on the training screen (``mnist-tui --backprop FILE``).

``b`` shows the latest check of the student's code (checking again when no check runs), ``u``
reloads the edited file (checked before it trains); each check's verdict is a notification, and
a reload that changed ``ACTIVATION`` resets the weights for it. The check and the reload run in
``tui.session.student``; their results come back on the screen's UI thread. Leaves out
the rest of the training screen (``tui.screens.main``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.app import App

    from model.run import Run
    from tui.screens.exercise import ExerciseScreen
    from tui.session.bridge import TrainingBridge
    from tui.session.student import StudentEvent, StudentSession
    from tui.widgets.charts import ChartsPanel
    from tui.widgets.gradcheck import GradCheckPanel
    from tui.widgets.status import StatusPanel


class Screen(Protocol):
    """The training screen as the coach sees it."""

    bridge: TrainingBridge | None

    @property
    def run(self) -> Run: ...
    @property
    def app(self) -> App[Any]: ...
    @property
    def charts(self) -> ChartsPanel: ...
    @property
    def status(self) -> StatusPanel: ...
    @property
    def gradcheck(self) -> GradCheckPanel: ...
    @property
    def is_attached(self) -> bool: ...
    def call_later(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> bool: ...
    def notify(self, message: str, *, severity: Any = ..., timeout: float | None = ...) -> None: ...


class StudentCoach:
    """The training ``screen``'s keys for the ``student``'s code, and its verdicts (UI thread)."""

    def __init__(self, screen: Screen, student: StudentSession) -> None:
        self.screen = screen
        self.student = student
        self._exercise: ExerciseScreen | None = None

    def post(self, event: StudentEvent) -> None:
        """The student session's callback (any thread): ``received`` runs on the UI thread."""
        self.screen.call_later(self._arrived, event)

    def _arrived(self, event: StudentEvent) -> None:
        if self.screen.is_attached and self.screen.app.is_running:
            self.received(event)

    def check(self) -> bool:
        """Check the code that trains (unless a check runs); True if one started."""
        started = self.student.check(self.post)
        if started and self._exercise is not None:
            self._exercise.show(self._exercise.result, checking=True)
        return started

    def show_check(self) -> None:
        """Show the latest check of the student's code (and check again if none is running)."""
        from tui.screens.exercise import ExerciseScreen

        student = self.student
        started = self.check()
        if self._exercise is None or not self._exercise.is_attached:
            self._exercise = ExerciseScreen(
                student.source.path, student.result, started or student.busy, student.output, self.check, self.reload
            )
            self.screen.app.push_screen(self._exercise)

    def reload(self) -> None:
        """Read the student's file again; it is checked before training uses it."""
        student, screen = self.student, self.screen
        hp = screen.run.desired
        if not student.reload(self.post, hp.hidden, hp.batch_size, hp.train_size):
            screen.notify("a check of your backprop is still running; try again in a moment")
            return
        screen.notify(f"reloading {student.source.path}: checking it before it trains")
        if self._exercise is not None and self._exercise.is_attached:
            self._exercise.show(self._exercise.result, checking=True)

    def received(self, event: StudentEvent) -> None:
        """A check or reload finished: its verdict as a notification; a reload trains from here."""
        from tui.session.student import StudentChecked

        screen, shown = self.screen, self._exercise is not None and self._exercise.is_attached
        if not isinstance(event, StudentChecked):
            screen.notify(event.text, severity="error", timeout=15)
            if shown and self._exercise is not None:
                self._exercise.show(self._exercise.result, checking=False)
            return
        if shown and self._exercise is not None:
            self._exercise.show(event.result, checking=False)
        text, severity = verdict_notice(event)
        screen.notify(text, severity=severity)
        if event.reloaded:
            source = self.student.source
            screen.run.note("backprop", file=source.absolute, sha256=source.sha256)  # which code trains from here
            screen.gradcheck.mark_stale("checked before the reload")
            screen.charts.add_marker(screen.status.status.examples_seen, f"reloaded {source.name}")
            if event.activation and screen.bridge is not None:  # ACTIVATION changed: new weights for it
                screen.bridge.set_field("activation", event.activation)
                screen.bridge.reset()


def verdict_notice(event: Any) -> tuple[str, str]:
    """(text, severity) of the notice a finished check of the student's code gets."""
    result = event.result
    what = "reloaded, checked and training (r: new weights): " if event.reloaded else "your backprop: "
    failed = [r for r in result.reports if r.status in ("fail", "timeout")]
    if result.passed:
        return what + "steps 1-4 and 6 pass (b shows the check)", "information"
    if result.todo:
        return what + f"{result.todo} is not written yet (b shows the check)", "warning"
    first = failed[0] if failed else result.reports[-1]
    named = f": {first.diagnoses[0].name}" if first.diagnoses else ""
    return what + f"step {first.number} fails{named} (b shows the diagnosis)", "warning"
