"""The main screen: status strip, controls, charts, misclassified digits and gradient check,
and the training keys.

At 100x32 and above every panel is visible: the status strip across the top,
controls and charts below it, digits and gradient check at the bottom. Below that
(``-narrow`` / ``-short`` breakpoint classes, see ``assets/app.tcss``) the left
column scrolls and the right side shows one panel at a time, picked with the tab
strip or the keys 1, 2, 3, 4 (4: the angle chart on its own).
The screen owns what happens on it: it turns training keys (and palette entries) into
calls on the ``TrainingBridge`` the app attaches, and routes the worker's events to the
panels that show them. The app keeps the lifecycle (loading, starting and stopping the
worker, quitting and the autosave).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.types import NoActiveAppError
from textual.widgets import Header, Static, Tab, Tabs

from model.config import ARCHITECTURE_FIELDS, HyperParams
from model.variants import VARIANT_OPTIONS
from tui.sandbox import confine
from tui.screens.prompt import PathPrompt
from tui.session.events import (
    CheckpointSaved,
    Diverged,
    Evaluated,
    GradCheckDone,
    HParamsApplied,
    Notice,
    RunReset,
    TrainProgress,
    TrainStatus,
    WeightsSnapshot,
    WorkerEvent,
    WorkerFailed,
)
from tui.widgets.charts import ChartsPanel, OverlayRun
from tui.widgets.controls import ControlsPanel, format_value, label_for
from tui.widgets.digits import MisclassifiedPanel
from tui.widgets.gradcheck import GradCheckPanel
from tui.widgets.keybar import KeyBar
from tui.widgets.status import StatusPanel

if TYPE_CHECKING:
    from textual.timer import Timer

    from model.analysis import Misclassified
    from tui.screens.exercise import ExerciseScreen
    from tui.session.bridge import TrainingBridge
    from tui.session.student import StudentEvent, StudentSession
    from tui.view.selection import Shown

T = TypeVar("T")
DIGITS_SECONDS = 0.5  # the digit viewer gets a new result at most this often
#: The smallest terminal (columns, rows) the compact layout fits: the controls column (41),
#: the four tabs beside it, and a chart of a few rows under the status strip.
MIN_SIZE = (80, 20)


def too_small_text(need: tuple[int, int]) -> str:
    return f"terminal too small: need {need[0]}x{need[1]}\n(training goes on; q quits)"


class WorkerMessage(Message):
    """A training-worker event on its way to the UI thread."""

    def __init__(self, event: WorkerEvent) -> None:
        super().__init__()
        self.event = event


class StudentMessage(Message):
    """A check or reload of the student's backprop finished (``--backprop``)."""

    def __init__(self, event: StudentEvent) -> None:
        super().__init__()
        self.event = event


#: Controls that the student's file decides (ACTIVATION) or that its grads_batch does not take
#: (a backward-pass variant, dropout): hidden while it trains.
STUDENT_FIXED = ("activation", "variant", "dropout", "input_dropout")


#: Right-hand panels in tab order: (id, tab label).
PANELS: tuple[tuple[str, str], ...] = (
    ("charts", "1 Charts"),
    ("digits", "2 Digits"),
    ("gradcheck", "3 Check"),
    ("angles", "4 Angles"),
)


class MainScreen(Screen[None]):
    """All panels and the training keys; nothing focused at start so the letter keys work at once.

    ``bridge`` is attached by the app once the screen is ready (``attach``); until then the
    training keys are greyed out.
    """

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "Pause"),
        Binding("space", "resume", "Resume"),
        Binding("n", "step", "Step"),
        Binding("r", "reset", "Reset"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("s", "save", "Save"),
        Binding("l", "load", "Load"),
        Binding("g", "gradcheck", "Grad check"),
        Binding("b", "student_check", "Backprop", tooltip="your backprop's check: verdict and diagnosis (esc leaves)"),
        Binding("u", "student_reload", "Reload", tooltip="reload your edited backprop file, checked before it is used"),
        Binding("d", "focus_digits", "Digits", tooltip="focus the digit viewer (esc leaves)"),
        Binding("h", "focus_controls", "Controls", tooltip="focus the controls (esc leaves)"),
        Binding("p", "draw", "Draw", tooltip="drawing pad: draw a digit, the live model reads it (esc leaves)"),
        Binding("w", "weights", "Weights", tooltip="the weights, live (esc leaves)"),
        Binding("m", "math", "Math", tooltip="the derivation, live (esc leaves)"),
        Binding("o", "runs", "Runs", tooltip="past runs to overlay (esc leaves)"),
        Binding("v", "cursor", "Values", tooltip="chart cursor: read every curve"),
        Binding("left", "move_cursor(-1)", "Cursor left", show=False),
        Binding("right", "move_cursor(1)", "Cursor right", show=False),
        Binding("shift+left,pageup", "move_cursor(-10)", "Cursor 10 left", show=False),
        Binding("shift+right,pagedown", "move_cursor(10)", "Cursor 10 right", show=False),
        Binding("home", "cursor_end(-1)", "Cursor to the start", show=False),
        Binding("end", "cursor_end(1)", "Cursor to the end", show=False),
        Binding("escape", "hide_cursor", "Hide the cursor", show=False),
        Binding("1", "show_panel('charts')", "Show charts (small screens)", show=False),
        Binding("2", "show_panel('digits')", "Show digits (small screens)", show=False),
        Binding("3", "show_panel('gradcheck')", "Show grad check (small screens)", show=False),
        Binding("4", "show_panel('angles')", "Show angle chart (also when wide)", show=False),
    ]
    #: The chart cursor's keys in the help, one row per pair (the bindings above, and the mouse).
    CURSOR_ROWS: ClassVar[list[tuple[str, str]]] = [
        ("left / right", "one column"),
        ("shift+arrow, pgup/pgdn", "ten columns"),
        ("home / end", "first / last column"),
        ("click", "the cursor to that column"),
        ("esc, v", "hide the cursor"),
    ]
    #: Palette entries: (title, help, action, argument).
    PALETTE: tuple[tuple[str, str, str, str | None], ...] = (
        ("Pause training", "Stop stepping (space)", "pause", None),
        ("Resume training", "Continue stepping (space)", "resume", None),
        ("Step once", "One minibatch step while paused (n)", "step", None),
        ("Reset weights", "New weights with the current architecture and seed (r)", "reset", None),
        ("Evaluate now", "Error on train, valid and test; refresh the digits (e)", "evaluate", None),
        ("Save checkpoint", "Write the run to a .npz file (s)", "save", None),
        ("Load checkpoint", "Continue a saved run (l)", "load", None),
        ("Gradient check", "Finite differences vs backprop, toy net and live model (g)", "gradcheck", None),
        ("Show charts panel", "On small screens (1)", "show_panel", "charts"),
        ("Show digits panel", "On small screens (2)", "show_panel", "digits"),
        ("Show grad check panel", "On small screens (3)", "show_panel", "gradcheck"),
        ("Show angle chart", "Angle between each update and the true gradient (4)", "show_panel", "angles"),
        ("Browse misclassified digits", "Focus the digit viewer: j/k, t, p, o, c, a, y why (d)", "focus_digits", None),
        ("Edit hyperparameters", "Focus the first controls field (h)", "focus_controls", None),
        ("Draw a digit", "Drawing pad: mouse or arrows + space; the live model classifies it (p)", "draw", None),
        ("Watch the weights", "W1's filters, unit firing, outgoing weights, live (w)", "weights", None),
        ("Read the derivation", "backprop.md beside the live shapes, p - t and gradient norms (m)", "math", None),
        ("Recorded runs", "List the runs, overlay their curves on the charts (o)", "runs", None),
        ("Chart cursor", "A vertical line on the charts reading every curve's value there (v)", "cursor", None),
        ("Check your backprop", "The check's verdict and diagnosis of your --backprop file (b)", "student_check", None),
        (
            "Reload your backprop",
            "Read your --backprop file again, check it, train with it (u)",
            "student_reload",
            None,
        ),
    )
    #: Actions that exist only with ``--backprop FILE``.
    STUDENT_ACTIONS = frozenset({"student_check", "student_reload"})

    class Ready(Message):
        """Every panel is mounted; the app may attach the worker."""

    def __init__(self, hp: HyperParams, *, hide_time: bool = False, student: StudentSession | None = None) -> None:
        super().__init__(id="main")
        self.hp = hp  # the settings the run starts with (the bridge owns them from then on)
        self.hide_time = hide_time
        self.student = student  # --backprop FILE: the student's code trains, ``b`` shows its check
        self._exercise: ExerciseScreen | None = None
        self.bridge: TrainingBridge | None = None
        self.last_checkpoint = ""
        self._state = "loading"
        self._digits_pending: Misclassified | None = None
        self._digits_shown = -1e9
        self._digits_timer: Timer | None = None
        #: Screens and panels that asked for weight snapshots get each one (they unsubscribe on unmount).
        self.weight_listeners: list[Callable[[WeightsSnapshot], None]] = []
        self._kept: dict[str, Any] = {}  # what screens over this one keep between openings (TrainingHost.kept)

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
        yield Static(too_small_text(MIN_SIZE), id="too-small")
        yield KeyBar()

    def on_resize(self, event: events.Resize) -> None:
        """Below ``MIN_SIZE`` the panels cannot be laid out: say so instead of drawing them broken."""
        self.set_class(event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1], "-too-small")

    def on_mount(self) -> None:
        titles = {"charts": "Training curves", "digits": "Misclassified test digits", "gradcheck": "Gradient check"}
        for key, title in titles.items():
            widget = self.query_one(f"#{key}")
            if not widget.border_title:
                widget.border_title = title
        self.charts.show_angles(self.angles_always or self.hp.variant != "exact")
        if self.student is not None:
            for name in STUDENT_FIXED:
                self.controls.query_one(f"#row-{name}").display = False
            self.student.check(self.post_student_event)  # its verdict arrives as a notice; b shows it
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
    def angles_always(self) -> bool:
        """The angle chart stays on show: a student's gradient is being trained with."""
        return self.student is not None

    @property
    def compact(self) -> bool:
        """True when the right side shows one panel at a time."""
        return self.has_class("-narrow") or self.has_class("-short")

    @property
    def too_small(self) -> bool:
        """True while the terminal is below ``MIN_SIZE`` (a notice replaces the panels)."""
        return self.has_class("-too-small")

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

    # ---- TrainingHost: what the screens over this one may ask -------------------------------
    def watch_weights(self, listener: Callable[[WeightsSnapshot], None]) -> None:
        self.weight_listeners.append(listener)

    def unwatch_weights(self, listener: Callable[[WeightsSnapshot], None]) -> None:
        if listener in self.weight_listeners:
            self.weight_listeners.remove(listener)

    def request_weights(self, tag: str) -> None:
        if self.bridge is not None:
            self.bridge.snapshot(tag)

    def data_set(self, name: str) -> tuple[Any, Any] | None:
        if self.bridge is None:
            return None
        trainer = self.bridge.trainer
        return trainer.train if name == "train" else trainer.eval_sets.get(name)

    def shown_digit(self) -> Shown | None:
        return self.digits.browser.shown()

    def live_settings(self) -> dict[str, Any]:
        return (self.bridge.hp if self.bridge is not None else self.hp).to_dict()

    def live_run_id(self) -> str:
        recorder = getattr(self.bridge, "recorder", None)
        return getattr(recorder, "run_id", "") or ""

    def overlay(self) -> list[OverlayRun]:
        return list(self.charts.overlay)

    def set_overlay(self, runs: list[OverlayRun]) -> None:
        self.charts.set_overlay(runs)

    def kept(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._kept:
            self._kept[key] = make()
        return cast(T, self._kept[key])

    # ---- the worker ------------------------------------------------------------------------
    def attach(self, bridge: TrainingBridge, state: str) -> None:
        """Drive ``bridge`` from now on; ``state``: "running" or "paused"."""
        self.bridge = bridge
        self._state = state
        self.refresh_bindings()

    def post_event(self, event: WorkerEvent) -> None:
        """The worker's callback (any thread): hand ``event`` to this screen without blocking.
        Once the app has shut down (its screens gone before the worker stops) the event is dropped."""
        with contextlib.suppress(NoActiveAppError):  # from the worker's thread, after the app let go of it
            self.post_message(WorkerMessage(event))

    def on_worker_message(self, message: WorkerMessage) -> None:
        handlers: dict[type, Callable[[Any], None]] = {
            TrainProgress: self._progress,
            Evaluated: self._evaluated,
            HParamsApplied: self._hparams_applied,
            RunReset: self._run_reset,
            Diverged: self._diverged,
            WorkerFailed: self._worker_failed,
            GradCheckDone: self._gradcheck_done,
            CheckpointSaved: self._saved,
            Notice: self._notice,
            WeightsSnapshot: self._weights_snapshot,
        }
        if self.is_attached and self.app.is_running:
            handlers[type(message.event)](message.event)

    # ---- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide pause/resume that does not apply; grey out what needs a worker or a paused run."""
        bridge = self.bridge
        if action in ("pause", "resume"):
            if bridge is None:  # starting: show "Pause" greyed out, hide "Resume"
                return None if action == "pause" else False
            return bridge.paused == (action == "resume")
        if action in ("step", "reset", "evaluate", "save", "load", "gradcheck", "weights", "math"):
            if bridge is None:
                return None
            if action == "step":
                return True if bridge.paused else None
            if action == "gradcheck":
                return None if bridge.gradcheck_running else True
        if action in ("move_cursor", "cursor_end", "hide_cursor"):
            return self.charts.cursor_x is not None  # else the keys go on to whatever else takes them
        if action in self.STUDENT_ACTIONS:
            return self.student is not None  # only with --backprop FILE
        return True

    def palette_commands(self) -> Iterator[SystemCommand]:
        """The palette entries that apply now."""
        for title, help_text, action, arg in self.PALETTE:
            params = () if arg is None else (arg,)
            if self.check_action(action, params):
                method = getattr(self, f"action_{action}")
                yield SystemCommand(title, help_text, method if arg is None else partial(method, arg))

    def action_pause(self) -> None:
        if self.bridge is not None and not self.bridge.paused:
            self.bridge.pause()
            self._set_state("paused")

    def action_resume(self) -> None:
        if self.bridge is not None and self.bridge.paused:
            self.bridge.resume()
            self._set_state("running")

    def action_step(self) -> None:
        if self.bridge is not None and self.bridge.paused:
            self.bridge.step_once()

    def action_reset(self) -> None:
        if self.bridge is not None:
            self.bridge.reset()

    def action_evaluate(self) -> None:
        if self.bridge is not None:
            self.status.border_subtitle = "evaluating"
            self.bridge.evaluate()

    def action_save(self) -> None:
        if self.bridge is None:
            return

        def save(path: str | None) -> None:
            if path and self.bridge is not None:
                if Path(path).expanduser().is_dir():  # a folder: save in it under the default name
                    path = str(Path(path).expanduser() / Path(default_save_path()).name)
                self.bridge.save(path)

        self.app.push_screen(
            PathPrompt("Save checkpoint", default_save_path(), "written atomically (.npz)", self._path_check()), save
        )

    def action_load(self) -> None:
        if self.bridge is None:
            return

        def load(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.load(path)

        default = self.last_checkpoint or newest_checkpoint()
        self.app.push_screen(
            PathPrompt("Load checkpoint", default, "replaces the current run", self._path_check()), load
        )

    def _path_check(self) -> Callable[[str], str] | None:
        """Served to a browser (``mnist-tui serve``): paths stay inside the session's folder."""
        root = getattr(self.app, "sandbox", None)
        if root is None:
            return None
        return lambda text: str(confine(text, Path(root)))

    def action_gradcheck(self) -> None:
        if self.bridge is None or self.bridge.gradcheck_running:
            return
        self.gradcheck.show_running()
        if self.compact:
            self.show_panel("gradcheck")
        self.bridge.gradcheck()
        self.refresh_bindings()

    def action_focus_digits(self) -> None:
        self.focus_digits()

    def action_focus_controls(self) -> None:
        self.controls.focus_first()

    def action_draw(self) -> None:
        from tui.screens.pad import DrawPadScreen

        self.app.push_screen(DrawPadScreen(self))

    def action_weights(self) -> None:
        from tui.screens.weights import WeightsScreen

        if self.bridge is not None:
            self.app.push_screen(WeightsScreen(self))

    def action_math(self) -> None:
        from tui.screens.math import MathScreen

        if self.bridge is not None:
            self.app.push_screen(MathScreen(self))

    def action_runs(self) -> None:
        from model.runs import runs_dir
        from tui.screens.runs import RunsScreen
        from tui.view.runs import EntryCache

        root = runs_dir(getattr(self.app, "runs", None))
        self.app.push_screen(RunsScreen(self, root, cache=self.kept("runs", EntryCache)))

    def action_cursor(self) -> None:
        """Show the chart cursor (at the right end), or hide it."""
        if self.charts.cursor_x is not None:
            self.action_hide_cursor()
            return
        if self.compact:
            self.show_panel("charts")
        if not self.charts.show_cursor():
            self.notify("nothing on the charts yet to read")
        self.refresh_bindings()

    def action_move_cursor(self, columns: int) -> None:
        self.charts.move_cursor(columns)

    def action_cursor_end(self, end: int) -> None:
        self.charts.cursor_to_end(end)

    def action_hide_cursor(self) -> None:
        self.charts.hide_cursor()
        self.refresh_bindings()

    def action_show_panel(self, key: str) -> None:
        self.show_panel(key)

    # ---- the student's backprop (--backprop FILE) ----------------------------------------------
    def action_student_check(self) -> None:
        """Show the latest check of the student's code (and check again if none is running)."""
        from tui.screens.exercise import ExerciseScreen

        student = self.student
        if student is None:
            return
        started = self._student_recheck()
        if self._exercise is None or not self._exercise.is_attached:
            self._exercise = ExerciseScreen(
                student.source.path,
                student.result,
                started or student.busy,
                student.output,
                self._student_recheck,
                self.action_student_reload,
            )
            self.app.push_screen(self._exercise)

    def _student_recheck(self) -> bool:
        started = self.student is not None and self.student.check(self.post_student_event)
        if started and self._exercise is not None:
            self._exercise.show(self._exercise.result, checking=True)
        return started

    def action_student_reload(self) -> None:
        """Read the student's file again; it is checked before training uses it."""
        student = self.student
        if student is None:
            return
        hp = self.bridge.hp if self.bridge is not None else self.hp
        if not student.reload(self.post_student_event, hp.hidden, hp.batch_size, hp.train_size):
            self.notify("a check of your backprop is still running; try again in a moment")
            return
        self.notify(f"reloading {student.source.path}: checking it before it trains")
        if self._exercise is not None and self._exercise.is_attached:
            self._exercise.show(self._exercise.result, checking=True)

    def post_student_event(self, event: StudentEvent) -> None:
        """The student session's callback (any thread)."""
        self.post_message(StudentMessage(event))

    def on_student_message(self, message: StudentMessage) -> None:
        from tui.session.student import StudentChecked

        if not (self.is_attached and self.app.is_running):
            return
        event = message.event
        if not isinstance(event, StudentChecked):
            self.notify(event.text, severity="error", timeout=15)
            if self._exercise is not None and self._exercise.is_attached:
                self._exercise.show(self._exercise.result, checking=False)
            return
        if self._exercise is not None and self._exercise.is_attached:
            self._exercise.show(event.result, checking=False)
        text, severity = _verdict_notice(event)
        self.notify(text, severity=severity)  # type: ignore[arg-type]
        if event.reloaded and self.student is not None:
            source = self.student.source
            if self.bridge is not None and self.bridge.recorder is not None:  # which code trains from here
                s = self.status.status
                self.bridge.recorder.event(
                    "backprop", s.step, s.examples_seen, file=source.absolute, sha256=source.sha256
                )
            self.gradcheck.mark_stale("checked before the reload")
            self.charts.add_marker(self.status.status.examples_seen, f"reloaded {source.name}")
            if event.activation and self.bridge is not None:  # ACTIVATION changed: new weights for it
                self.bridge.set_field("activation", event.activation)
                self.bridge.reset()

    @on(MisclassifiedPanel.Why)
    def _why(self, message: MisclassifiedPanel.Why) -> None:
        from tui.screens.why import WhyScreen

        if self.bridge is not None:
            self.app.push_screen(WhyScreen(self, message.image, message.true, message.row))

    @on(ControlsPanel.Changed)
    def _field_changed(self, message: ControlsPanel.Changed) -> None:
        if self.bridge is not None:
            self.bridge.set_field(message.name, message.value)

    # ---- worker events -----------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        """A key changed the run state: show it now, relabel the key bar on the frame after.

        (The key bar rebuilds its keys and relayouts the screen; doing that first would
        hold back the status change by a layout pass.)
        """
        self.status.set_state(state)
        if state != self._state:
            self._state = state
            self.call_after_refresh(self.refresh_bindings)

    def _show_status(self, status: TrainStatus) -> None:
        self.status.update_status(status)
        if status.state != self._state:
            self._state = status.state
            self.refresh_bindings()

    def _progress(self, message: TrainProgress) -> None:
        if message.examples:
            self.charts.append_losses(message.examples, message.losses, last_step=message.status.step)
        if message.angles:
            self.charts.append_angles(message.angles)
        self._show_status(message.status)

    def _evaluated(self, message: Evaluated) -> None:
        results = message.metrics.results
        errors: dict[str, float] = {name: results[name][1] for name in ("train", "valid") if name in results}
        with self.app.batch_update():
            self.charts.append_errors(message.metrics.examples_seen, errors)
            if message.misclassified is not None:
                self._show_digits(message.misclassified)
            self.status.border_subtitle = ""
            self._show_status(message.status)

    def _show_digits(self, result: Misclassified | None = None) -> None:
        """Hand the newest misclassified set to the viewer, at most every DIGITS_SECONDS.

        Tiny epochs can finish many times a second; the viewer redraws fully on each
        ``show``, so results in between are dropped (the latest always arrives).
        """
        if result is not None:
            self._digits_pending = result
        if self._digits_pending is None or not self.is_attached or not self.is_current:
            return  # under another screen (the drawing pad) the redraw waits for the way back
        wait = self._digits_shown + DIGITS_SECONDS - time.monotonic()
        if wait > 0:
            if self._digits_timer is None:
                self._digits_timer = self.set_timer(wait, self._digits_due)
            return
        self._digits_shown = time.monotonic()
        self.digits.show(self._digits_pending)
        self._digits_pending = None

    def on_screen_resume(self) -> None:
        """Back on top: show the misclassified digits that arrived while another screen was."""
        self._show_digits()

    def _digits_due(self) -> None:
        self._digits_timer = None
        self._show_digits()

    def _hparams_applied(self, message: HParamsApplied) -> None:
        shown = [
            f"{label_for(k)} {format_value(v)}" for k, v in message.changes.items() if k not in ARCHITECTURE_FIELDS
        ]
        if shown:
            self.charts.add_marker(message.examples_seen, ", ".join(shown))
        self.controls.show_values(message.changes)
        self.controls.show_pending(message.pending)
        if {"variant", *VARIANT_OPTIONS} & message.changes.keys():
            self.gradcheck.mark_stale(f"checked before the switch to {message.hp.variant}")
        if message.hp.variant != "exact":
            self.charts.show_angles()

    def _run_reset(self, message: RunReset) -> None:
        with self.app.batch_update():
            self.charts.clear()
            self.charts.show_angles(self.angles_always or message.hp.variant != "exact")
            self.gradcheck.mark_stale("new weights" if message.source == "reset" else message.source)
            if message.source == "reset":
                self.controls.show_pending(())
            else:
                self.controls.set_hparams(message.hp)
                self.charts.add_marker(message.status.examples_seen, message.source)
                self.notify(message.source)
            self._show_status(message.status)

    def _diverged(self, message: Diverged) -> None:
        self.charts.mark_diverged(message.examples_seen)
        self._show_status(message.status)
        self.notify(
            "Training diverged (the loss exploded): the last good weights are back; "
            "lower the learning rate and press space.",
            severity="warning",
            timeout=8,
        )

    def _worker_failed(self, message: WorkerFailed) -> None:
        from tui.screens.error import ErrorScreen

        self._set_state("stopped")
        hint = "Training stopped; the app still works: save (s), change settings, reset (r) or retry (space)."
        self.app.push_screen(ErrorScreen("Training stopped", message.summary, message.detail, message.log_path, hint))

    def _gradcheck_done(self, message: GradCheckDone) -> None:
        if message.error:
            self.notify(f"gradient check failed: {message.error}", severity="error")
        self.gradcheck.show_reports(message.toy, message.live)
        self.refresh_bindings()

    def _saved(self, message: CheckpointSaved) -> None:
        self.last_checkpoint = message.path
        self.notify(f"saved {message.path}")

    def _weights_snapshot(self, snapshot: WeightsSnapshot) -> None:
        for listener in list(self.weight_listeners):
            listener(snapshot)

    def _notice(self, message: Notice) -> None:
        self.notify(message.text, severity=message.severity, timeout=message.timeout)  # type: ignore[arg-type]
        self.refresh_bindings()


def _verdict_notice(event: Any) -> tuple[str, str]:
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


def default_save_path() -> str:
    """./mnist-tui-YYYYmmdd-HHMMSS.npz"""
    return f"./mnist-tui-{time.strftime('%Y%m%d-%H%M%S')}.npz"


def newest_checkpoint(folder: Path = Path(".")) -> str:
    """The most recently written mnist-tui-*.npz in ``folder`` ("" if none)."""
    try:
        found = sorted(folder.glob("mnist-tui-*.npz"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return ""
    return f"./{found[-1].name}" if found else ""
