"""The main screen: status strip, controls, charts, misclassified digits and gradient check,
and the training keys.

At 100x32 and above every panel is visible: the status strip across the top,
controls and charts below it, digits and gradient check at the bottom. Below that
(``-narrow`` / ``-short`` breakpoint classes, see ``assets/app.tcss``) the left
column scrolls and the right side shows one panel at a time, picked with the tab
strip or the keys 1, 2, 3, 4 (4: the angle chart on its own).
The screen owns what happens on it: it turns training keys (and palette entries) into
calls on the ``TrainingBridge`` the app attaches, and routes the worker's events to the
panels that show them. The screens opened over it see it through ``TrainingHost``
(``tui.screens.host``), which it implements. The app keeps the lifecycle (loading, starting
and stopping the worker, quitting and the autosave).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.types import NoActiveAppError
from textual.widgets import Header, Static, Tab, Tabs

from tui.sandbox import confine
from tui.screens.coach import StudentCoach, StudentMessage
from tui.screens.feed import PanelFeed
from tui.screens.host import ScreenHost
from tui.screens.prompt import PathPrompt
from tui.session.events import ChallengeUpdate, Notice, WorkerEvent
from tui.widgets.challenge import ChallengePanel
from tui.widgets.charts import ChartsPanel
from tui.widgets.controls import ControlsPanel
from tui.widgets.digits import MisclassifiedPanel
from tui.widgets.gradcheck import GradCheckPanel
from tui.widgets.keybar import KeyBar
from tui.widgets.status import StatusPanel

if TYPE_CHECKING:
    from model.challenges.play import ChallengePlay
    from model.run import Run
    from tui.session.bridge import TrainingBridge
    from tui.session.config import AppConfig
    from tui.session.student import StudentSession

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

    ``run``: the opened run (its settings, data and record are read from it); ``bridge``, the
    session that drives it, is attached by the app once the screen is ready (``attach``);
    until then the training keys are greyed out. ``config``: the app's settings (where run
    records are, the served session's folder).
    """

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "run('pause')", "Pause"),
        Binding("space", "run('resume')", "Resume"),
        Binding("n", "run('step')", "Step"),
        Binding("r", "run('reset')", "Reset"),
        Binding("e", "run('evaluate')", "Evaluate"),
        Binding("s", "save", "Save"),
        Binding("l", "load", "Load"),
        Binding("g", "run('gradcheck')", "Grad check"),
        Binding(
            "b", "student('check')", "Backprop", tooltip="your backprop's check: verdict and diagnosis (esc leaves)"
        ),
        Binding(
            "u", "student('reload')", "Reload", tooltip="reload your edited backprop file, checked before it is used"
        ),
        Binding("d", "focus_panel('digits')", "Digits", tooltip="focus the digit viewer (esc leaves)"),
        Binding("h", "focus_panel('controls')", "Controls", tooltip="focus the controls (esc leaves)"),
        Binding("p", "open('draw')", "Draw", tooltip="drawing pad: draw a digit, the live model reads it (esc leaves)"),
        Binding("w", "open('weights')", "Weights", tooltip="the weights, live (esc leaves)"),
        Binding("m", "open('math')", "Math", tooltip="the derivation, live (esc leaves)"),
        Binding("o", "open('runs')", "Runs", tooltip="past runs to overlay (esc leaves)"),
        Binding("v", "cursor('toggle')", "Values", tooltip="chart cursor: read every curve"),
        Binding("i", "hint", "Hint", tooltip="the challenge's next hint"),
        # in the help, the palette and the panel's words; not on the key bar, where the training keys come first
        Binding("c", "challenges", "Challenges", tooltip="the challenges: pick one to play (esc leaves)", show=False),
        Binding("left", "cursor('move', -1)", "Cursor left", show=False),
        Binding("right", "cursor('move', 1)", "Cursor right", show=False),
        Binding("shift+left,pageup", "cursor('move', -10)", "Cursor 10 left", show=False),
        Binding("shift+right,pagedown", "cursor('move', 10)", "Cursor 10 right", show=False),
        Binding("home", "cursor('end', -1)", "Cursor to the start", show=False),
        Binding("end", "cursor('end', 1)", "Cursor to the end", show=False),
        Binding("escape", "cursor('hide')", "Hide the cursor", show=False),
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
        ("Pause training", "Stop stepping (space)", "run", "pause"),
        ("Resume training", "Continue stepping (space)", "run", "resume"),
        ("Step once", "One minibatch step while paused (n)", "run", "step"),
        ("Reset weights", "New weights with the current architecture and seed (r)", "run", "reset"),
        ("Evaluate now", "Error on train, valid and test; refresh the digits (e)", "run", "evaluate"),
        ("Save checkpoint", "Write the run to a .npz file (s)", "save", None),
        ("Load checkpoint", "Continue a saved run (l)", "load", None),
        ("Gradient check", "Finite differences vs backprop, toy net and live model (g)", "run", "gradcheck"),
        ("Show charts panel", "On small screens (1)", "show_panel", "charts"),
        ("Show digits panel", "On small screens (2)", "show_panel", "digits"),
        ("Show grad check panel", "On small screens (3)", "show_panel", "gradcheck"),
        ("Show angle chart", "Angle between each update and the true gradient (4)", "show_panel", "angles"),
        (
            "Browse misclassified digits",
            "Focus the digit viewer: j/k, t, p, o, c, a, y why (d)",
            "focus_panel",
            "digits",
        ),
        ("Edit hyperparameters", "Focus the first controls field (h)", "focus_panel", "controls"),
        ("Draw a digit", "Drawing pad: mouse or arrows + space; the live model classifies it (p)", "open", "draw"),
        ("Watch the weights", "W1's filters, unit firing, outgoing weights, live (w)", "open", "weights"),
        ("Read the derivation", "backprop.md beside the live shapes, p - t and gradient norms (m)", "open", "math"),
        ("Recorded runs", "List the runs, overlay their curves on the charts (o)", "open", "runs"),
        ("Chart cursor", "A vertical line on the charts reading every curve's value there (v)", "cursor", "toggle"),
        ("Show every setting", "Init scale, train size, label noise, warm-up, label smoothing too", "all_fields", None),
        ("Next hint", "Reveal the challenge's next hint (i)", "hint", None),
        ("Challenges", "Every challenge, solved or not; pick one to play it (c)", "challenges", None),
        ("Check your backprop", "The check's verdict and diagnosis of your --backprop file (b)", "student", "check"),
        ("Reload your backprop", "Read your --backprop file again, check it, train with it (u)", "student", "reload"),
    )

    class Ready(Message):
        """Every panel is mounted; the app may attach the worker."""

    def __init__(
        self, run: Run, config: AppConfig, *, student: StudentSession | None = None, play: ChallengePlay | None = None
    ) -> None:
        super().__init__()  # no id: a challenge started from the list replaces this screen with another
        self.run = run
        self.config = config
        self.student = student  # --backprop FILE: the student's code trains, ``b`` shows its check
        self.play = play  # the challenge the run plays: its panel takes the gradient check's place
        if play is not None:  # where it stands, from the worker thread
            play.on_update.append(lambda p, solved: self.post_event(ChallengeUpdate.of(p, solved)))
            play.set_warn(lambda text: self.post_event(Notice(text, "warning")))
        self.coach = StudentCoach(self, student) if student is not None else None
        self.bridge: TrainingBridge | None = None
        self.last_checkpoint = ""
        self.host = ScreenHost(run, lambda: self.charts, lambda: self.digits)  # what the screens over this see
        self.feed = PanelFeed(self)  # the worker's events to the panels

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusPanel(id="status")
        with Grid(id="body", classes="-show-charts"):
            with VerticalScroll(id="left", can_focus=False):
                yield ControlsPanel(self.run.desired, id="controls")
            yield Tabs(*(Tab(label, id=f"tab-{key}") for key, label in PANELS), id="panel-tabs")
            yield ChartsPanel(id="charts")
            yield MisclassifiedPanel(id="digits")
            yield GradCheckPanel(id="gradcheck")
            if self.play is not None:
                yield ChallengePanel(self.play.challenge, id="challenge")
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
        self.charts.show_angles(self.angles_always or self.run.desired.variant != "exact")
        if self.coach is not None:
            for name in STUDENT_FIXED:
                self.controls.query_one(f"#row-{name}").display = False
            self.coach.check()  # its verdict arrives as a notice; b shows it
        if self.play is not None:
            self._show_challenge(self.play)
        self.post_message(self.Ready())

    def _show_challenge(self, play: ChallengePlay) -> None:
        """The challenge's panel in the gradient check's place, its fixed settings locked."""
        challenge = play.challenge
        self.add_class("-challenge")
        self.query_one("#tab-gradcheck", Tab).label = "3 Challenge"
        self.controls.lock_fields(challenge.fixed_values(), f"fixed by the challenge {challenge.name}")
        self.show_panel("gradcheck")  # on small screens the challenge's tab comes first
        assert self.challenge_panel is not None
        self.challenge_panel.show_update(ChallengeUpdate.of(play))

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
    def challenge_panel(self) -> ChallengePanel | None:
        """The panel of the challenge the run plays (None: it plays none)."""
        return self.query_one("#challenge", ChallengePanel) if self.play is not None else None

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

    # ---- the worker ------------------------------------------------------------------------
    def attach(self, bridge: TrainingBridge) -> None:
        """Drive the run through ``bridge`` from now on."""
        self.bridge = self.host.bridge = bridge
        self.feed.state = self.run.state
        self.refresh_bindings()

    def post_event(self, event: WorkerEvent) -> None:
        """The worker's callback (any thread): hand ``event`` to this screen without blocking.
        Once the app has shut down (its screens gone before the worker stops) the event is dropped."""
        with contextlib.suppress(NoActiveAppError):  # from the worker's thread, after the app let go of it
            self.post_message(WorkerMessage(event))

    def on_worker_message(self, message: WorkerMessage) -> None:
        if self.is_attached and self.app.is_running:
            self.feed.route(message.event)

    def on_student_message(self, message: StudentMessage) -> None:
        if self.coach is not None and self.is_attached and self.app.is_running:
            self.coach.received(message.event)

    def on_screen_resume(self) -> None:
        """Back on top: show the misclassified digits that arrived while another screen was."""
        self.feed.show_digits()

    # ---- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide pause/resume that does not apply; grey out what needs a worker or a paused run."""
        bridge, what = self.bridge, parameters[0] if parameters else None
        if action == "run" and what in ("pause", "resume"):
            if bridge is None:  # starting: show "Pause" greyed out, hide "Resume"
                return None if what == "pause" else False
            return bridge.paused == (what == "resume")
        if action in ("run", "save", "load") or (action == "open" and what in ("weights", "math")):
            if bridge is None:
                return None
            if what == "step":
                return True if bridge.paused else None
            if what == "gradcheck":
                if self.play is not None:  # its panel has the gradient check's place
                    return False
                return None if bridge.gradcheck_running else True
        if action == "cursor" and what != "toggle":
            return self.charts.cursor_x is not None  # else the keys go on to whatever else takes them
        if action == "student":
            return self.coach is not None  # only with --backprop FILE
        if action == "hint":
            panel = self.challenge_panel
            if panel is None:
                return False
            return True if panel.state.hints < len(panel.challenge.hints) else None
        if action == "challenges":
            return self.student is None  # a challenge starts its own run: not with your --backprop code
        return True

    def palette_commands(self) -> Iterator[SystemCommand]:
        """The palette entries that apply now."""
        for title, help_text, action, arg in self.PALETTE:
            params = () if arg is None else (arg,)
            if self.check_action(action, params):
                method = getattr(self, f"action_{action}")
                yield SystemCommand(title, help_text, method if arg is None else partial(method, arg))

    def action_run(self, command: str) -> None:
        """Pause, resume, one step, a reset, an evaluation or a gradient check (a key, the palette)."""
        bridge = self.bridge
        if bridge is None or (command == "step" and not bridge.paused):
            return
        if command in ("pause", "resume"):
            if bridge.paused == (command == "resume"):
                (bridge.resume if command == "resume" else bridge.pause)()
                self.feed.set_state("running" if command == "resume" else "paused")
            return
        if command == "gradcheck":
            if bridge.gradcheck_running:
                return
            self.gradcheck.show_running()
            if self.compact:
                self.show_panel("gradcheck")
            self.refresh_bindings()
        if command == "evaluate":
            self.status.border_subtitle = "evaluating"
        {"step": bridge.step_once, "reset": bridge.reset, "evaluate": bridge.evaluate, "gradcheck": bridge.gradcheck}[
            command
        ]()

    def action_save(self) -> None:
        if self.bridge is None:
            return

        def save(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.save(path)

        hint = "written atomically (.npz); a folder: a new file in it"
        check = save_check(self.config.sandbox)
        self.app.push_screen(PathPrompt("Save checkpoint", default_save_path(), hint, check), save)

    def action_load(self) -> None:
        if self.bridge is None:
            return

        def load(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.load(path)

        default = self.last_checkpoint or newest_checkpoint()
        check = inside_check(self.config.sandbox)
        self.app.push_screen(PathPrompt("Load checkpoint", default, "replaces the current run", check), load)

    def action_focus_panel(self, target: str) -> None:
        """Focus the digit viewer or the first controls field (esc leaves)."""
        if target == "digits":
            self.focus_digits()
        else:
            self.controls.focus_first()

    def action_open(self, name: str) -> None:
        """Open a screen over this one: the drawing pad, the weights, the math or the run list."""
        from model.runs import runs_dir
        from tui.screens.math import MathScreen
        from tui.screens.pad import DrawPadScreen
        from tui.screens.runs import RunsScreen
        from tui.screens.weights import WeightsScreen
        from tui.view.runs import EntryCache

        if name in ("weights", "math") and self.bridge is None:
            return
        if name == "runs":
            root = runs_dir(self.config.runs)
            self.app.push_screen(RunsScreen(self.host, root, cache=self.host.kept("runs", EntryCache)))
        else:
            self.app.push_screen({"draw": DrawPadScreen, "weights": WeightsScreen, "math": MathScreen}[name](self.host))

    def action_cursor(self, op: str, amount: int = 0) -> None:
        """The chart cursor: toggle (at the right end), move a number of columns, go to an end, hide."""
        charts = self.charts
        if op == "toggle" and charts.cursor_x is None:
            if self.compact:
                self.show_panel("charts")
            if not charts.show_cursor():
                self.notify("nothing on the charts yet to read")
        elif op == "move":
            charts.move_cursor(amount)
        elif op == "end":
            charts.cursor_to_end(amount)
        else:  # hide, or toggle off
            charts.hide_cursor()
        self.refresh_bindings()

    def action_show_panel(self, key: str) -> None:
        self.show_panel(key)

    def action_all_fields(self) -> None:
        self.controls.show_every_field()
        self.notify("every setting is in the controls now (the ones most runs leave alone too)")

    def action_hint(self) -> None:
        panel = self.challenge_panel
        if panel is not None and panel.next_hint():
            if self.compact:
                self.show_panel("gradcheck")
            self.refresh_bindings()

    def action_challenges(self) -> None:
        """The challenge list; the one picked starts (the app opens a new run for it)."""
        from model.challenges import get_challenge
        from tui.screens.challenges import ChallengesScreen

        def play(name: str | None) -> None:
            start = getattr(self.app, "start_challenge", None)
            if name is not None and start is not None:
                start(get_challenge(name))

        playing = self.play.challenge.name if self.play is not None else None
        self.app.push_screen(ChallengesScreen(playing), play)

    def action_student(self, what: str) -> None:
        """``--backprop FILE``: show the latest check of the student's code (and check again if none
        runs), or reload the edited file (checked before training uses it)."""
        if self.coach is not None:
            (self.coach.show_check if what == "check" else self.coach.reload)()

    @on(MisclassifiedPanel.Why)
    def _why(self, message: MisclassifiedPanel.Why) -> None:
        from tui.screens.why import WhyScreen

        if self.bridge is not None:
            self.app.push_screen(WhyScreen(self.host, message.image, message.true, message.row))

    @on(ControlsPanel.Changed)
    def _field_changed(self, message: ControlsPanel.Changed) -> None:
        if self.bridge is not None:
            self.bridge.set_field(message.name, message.value)


def inside_check(root: Path | None) -> Callable[[str], str] | None:
    """Served to a browser (``mnist-tui serve``, ``root`` the session's folder): paths stay inside it."""
    if root is None:
        return None
    return lambda text: str(confine(text, root))


def save_check(root: Path | None) -> Callable[[str], str]:
    """Where a save goes (``model.checkpoint.checkpoint_target``: the one rule), inside ``root``
    when served; a path that cannot be written is the prompt's error line."""
    from model.checkpoint import CheckpointError, checkpoint_target

    inside = inside_check(root)

    def check(text: str) -> str:
        try:
            return str(checkpoint_target(inside(text) if inside else text))
        except CheckpointError as exc:
            raise ValueError(str(exc)) from None

    return check


def default_save_path() -> str:
    """./mnist-tui-YYYYmmdd-HHMMSS.npz"""
    from model.checkpoint import default_name

    return f"./{default_name()}"


def newest_checkpoint(folder: Path = Path(".")) -> str:
    """The most recently written mnist-tui-*.npz in ``folder`` ("" if none)."""
    try:
        found = sorted(folder.glob("mnist-tui-*.npz"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return ""
    return f"./{found[-1].name}" if found else ""
