"""The main screen: status strip, controls, charts, misclassified digits and gradient check,
and the training keys.

At 100x32 and above every panel is visible: the status strip across the top,
controls and charts below it, digits and gradient check at the bottom. Below that
(``-narrow`` / ``-short`` breakpoint classes, see ``assets/app.tcss``) the left
column scrolls and the right side shows one panel at a time, picked with the tab
strip or the keys 1, 2, 3, 4 (4: the angle chart on its own).
The screen owns what happens on it: it builds the panels and turns training keys (and palette
entries, ``tui.screens.palette``) into calls on the ``TrainingBridge`` the app attaches. Its
helpers hold the rest: ``PanelFeed`` routes the worker's events to the panels, ``PanelTabs``
picks the panel shown on small screens, ``ChallengeCoach`` the challenge it plays and
``StudentCoach`` the student's ``--backprop`` code; the screens opened over it see it through
``TrainingHost`` (``ScreenHost``). The app keeps the lifecycle (loading, starting and stopping
the worker, quitting and the autosave).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static

from tui.screens.challenge_coach import ChallengeCoach
from tui.screens.checkpoints import load_prompt, save_prompt
from tui.screens.coach import StudentCoach
from tui.screens.feed import PanelFeed
from tui.screens.host import ScreenHost
from tui.screens.palette import Entry
from tui.widgets.challenge import ChallengePanel
from tui.widgets.charts import ChartsPanel
from tui.widgets.controls import ControlsPanel
from tui.widgets.digits import MisclassifiedPanel
from tui.widgets.gradcheck import GradCheckPanel
from tui.widgets.keybar import KeyBar
from tui.widgets.panel_tabs import PanelTabs
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


#: Controls that the student's file decides (ACTIVATION) or that its grads_batch does not take
#: (a backward-pass variant, dropout): hidden while it trains.
STUDENT_FIXED = ("activation", "variant", "dropout", "input_dropout")


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
    #: Palette entries: (title, help, action, argument), offered while ``check_action`` allows them.
    PALETTE: tuple[Entry, ...] = (
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

    #: The panels, built in ``compose`` and kept (the feed reaches them many times a second).
    status: StatusPanel
    controls: ControlsPanel
    charts: ChartsPanel
    digits: MisclassifiedPanel
    gradcheck: GradCheckPanel
    panel_tabs: PanelTabs

    def __init__(
        self, run: Run, config: AppConfig, *, student: StudentSession | None = None, play: ChallengePlay | None = None
    ) -> None:
        super().__init__()  # no id: a challenge started from the list replaces this screen with another
        self.run = run
        self.config = config
        self.student = student  # --backprop FILE: the student's code trains, ``b`` shows its check
        self.play = play  # the challenge the run plays: its panel takes the gradient check's place
        self.angles_always = student is not None  # the angle chart stays on show: a student's gradient trains
        self.challenge_panel: ChallengePanel | None = None  # the panel of the challenge the run plays
        self.bridge: TrainingBridge | None = None
        self.last_checkpoint = ""
        self.host = ScreenHost(run, lambda: self.charts, lambda: self.digits)  # what the screens over this see
        self.feed = PanelFeed(self)  # the worker's events to the panels
        self.coach = StudentCoach(self, student) if student is not None else None
        self.challenges = ChallengeCoach(self, play, self.feed.post)

    def compose(self) -> ComposeResult:
        self.status = StatusPanel(id="status")
        self.controls = ControlsPanel(self.run.desired, id="controls")
        self.charts = ChartsPanel(id="charts")
        self.digits = MisclassifiedPanel(id="digits")
        self.gradcheck = GradCheckPanel(id="gradcheck")
        self.panel_tabs = PanelTabs(self.charts, self.digits, id="panel-tabs")
        if self.play is not None:
            self.challenge_panel = ChallengePanel(self.play.challenge, id="challenge")
        yield Header()
        yield self.status
        with Grid(id="body", classes="-show-charts"):
            with VerticalScroll(id="left", can_focus=False):
                yield self.controls
            yield self.panel_tabs
            yield self.charts
            yield self.digits
            yield self.gradcheck
            if self.challenge_panel is not None:
                yield self.challenge_panel
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
        self.challenges.show()
        self.post_message(self.Ready())

    # ---- the worker ------------------------------------------------------------------------
    def attach(self, bridge: TrainingBridge) -> None:
        """Drive the run through ``bridge`` from now on (its events go to ``feed.post``)."""
        self.bridge = self.host.bridge = bridge
        self.feed.state = self.run.state
        self.refresh_bindings()

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
            return self.challenges.can_hint()
        if action == "challenges":
            return self.student is None  # a challenge starts its own run: not with your --backprop code
        return True

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
            if self.panel_tabs.compact:
                self.panel_tabs.show_panel("gradcheck")
            self.refresh_bindings()
        if command == "evaluate":
            self.status.border_subtitle = "evaluating"
        {"step": bridge.step_once, "reset": bridge.reset, "evaluate": bridge.evaluate, "gradcheck": bridge.gradcheck}[
            command
        ]()

    def action_save(self) -> None:
        """Ask where to save the run; the worker writes the checkpoint."""

        def save(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.save(path)

        if self.bridge is not None:
            self.app.push_screen(save_prompt(self.config.sandbox), save)

    def action_load(self) -> None:
        """Ask which checkpoint to continue; the worker loads it in place of the run."""

        def load(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.load(path)

        if self.bridge is not None:
            self.app.push_screen(load_prompt(self.config.sandbox, self.last_checkpoint), load)

    def action_focus_panel(self, target: str) -> None:
        """Focus the digit viewer (on small screens, its tab first) or the first controls field (esc leaves)."""
        if target == "controls":
            self.controls.focus_first()
            return
        if self.panel_tabs.compact:
            self.panel_tabs.show_panel("digits")
        self.set_focus(self.digits)  # at once: a key typed right after goes to the viewer

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
            if self.panel_tabs.compact:
                self.panel_tabs.show_panel("charts")
            if not charts.show_cursor():
                self.notify("nothing on the charts yet to read")
        elif op == "move":
            charts.move_cursor(amount)
        elif op == "end":
            charts.cursor_to_end(amount)
        else:  # hide, or toggle off
            charts.set_cursor(None)
        self.refresh_bindings()

    def action_show_panel(self, key: str) -> None:
        self.panel_tabs.show_panel(key)

    def action_all_fields(self) -> None:
        self.controls.show_every_field()
        self.notify("every setting is in the controls now (the ones most runs leave alone too)")

    def action_hint(self) -> None:
        self.challenges.hint()

    def action_challenges(self) -> None:
        """The challenge list; the one picked starts (the app opens a new run for it)."""
        self.challenges.pick()

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
