"""The interactive app: the Textual shell around the training worker.

``MnistApp`` shows a loading screen while a thread worker loads MNIST (and the
checkpoint to resume), then the main screen. It owns the ``TrainingBridge``
(the training thread), turns key presses into bridge calls, and routes the
worker's events (``tui.session.events``) to the panels. ``run_app`` is what the
``mnist-tui`` command calls. Heavy modules (the panels, plotext) are imported
in the loader thread, so the first frame appears before they are needed.
Leaves out the math (``model``) and each panel's drawing (``tui.widgets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from tui import exitcodes
from tui.resources import asset
from tui.screens.help import FIELD_KEYS, HelpScreen, binding_rows
from tui.screens.loading import DataFailed, DataProgress, DataReady, LoadingScreen
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
    WorkerEvent,
    WorkerFailed,
)

if TYPE_CHECKING:
    from textual.timer import Timer

    from model.analysis import Misclassified
    from model.config import HyperParams
    from model.trainer import Trainer
    from tui.screens.main import MainScreen
    from tui.session.bridge import TrainingBridge

FAIL_EXIT_SECONDS = 3.0
#: Garbage-collector thresholds while the app runs (Python's default: 700, 10, 10).
GC_THRESHOLDS = (5000, 20, 20)
DIGITS_SECONDS = 0.5  # the digit viewer gets a new result at most this often


def css_paths() -> list[Path]:
    """The panels' stylesheet, then the app's, which has the last word on layout."""
    return [asset("panels.tcss"), asset("app.tcss")]


def default_autosave_path() -> Path:
    """Where quitting saves the run unless --no-autosave: ``<user data dir>/autosave.npz``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mnist-tui", appauthor=False)) / "autosave.npz"


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


class WorkerMessage(Message):
    """A training-worker event on its way to the UI thread."""

    def __init__(self, event: WorkerEvent) -> None:
        super().__init__()
        self.event = event


class _Cancelled(Exception):
    """The app quit while MNIST was loading."""


class MnistApp(App[int]):
    """Train a one-hidden-layer MLP on MNIST and watch it learn.

    hp: starting hyperparameters. data: an MNIST-like object (skips the loader; tests).
    data_path / resume: as the command-line flags. start_paused: begin paused.
    start_training: False builds everything but never starts the worker thread (snapshots).
    hide_time: show "--" for examples/s and elapsed. clock: the worker's clock.
    autosave: quitting (q, ctrl+c, SIGTERM) saves the run there if it trained since it started.
    handle_signals: SIGTERM/SIGHUP/SIGINT quit like q (stop, autosave) and exit 128 + signal.
    settle_gc: once training starts, freeze the objects alive and raise the garbage collector's
    thresholds (``settle_garbage_collector``; process-wide, so only the real app does it).
    """

    TITLE = "mnist-tui"
    SUB_TITLE = "backprop on MNIST"
    CSS_PATH = css_paths()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "Pause"),
        Binding("space", "resume", "Resume"),
        Binding("n", "step", "Step"),
        Binding("r", "reset", "Reset"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("s", "save", "Save"),
        Binding("l", "load", "Load"),
        Binding("g", "gradcheck", "Grad check"),
        Binding("d", "focus_digits", "Digits", tooltip="focus the digit viewer (esc leaves)"),
        Binding("h", "focus_controls", "Controls", tooltip="focus the controls (esc leaves)"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False),  # a focused text field still copies with it
        Binding("1", "show_panel('charts')", "Show charts (small screens)", show=False),
        Binding("2", "show_panel('digits')", "Show digits (small screens)", show=False),
        Binding("3", "show_panel('gradcheck')", "Show grad check (small screens)", show=False),
        Binding("4", "show_panel('angles')", "Show angle chart (also when wide)", show=False),
    ]
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (32, "-tall")]
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
        ("Keys", "Every key binding (?)", "help", None),
        ("Show charts panel", "On small screens (1)", "show_panel", "charts"),
        ("Show digits panel", "On small screens (2)", "show_panel", "digits"),
        ("Show grad check panel", "On small screens (3)", "show_panel", "gradcheck"),
        ("Show angle chart", "Angle between each update and the true gradient (4)", "show_panel", "angles"),
        ("Browse misclassified digits", "Focus the digit viewer: j/k, t, p, o, c, a (d)", "focus_digits", None),
        ("Edit hyperparameters", "Focus the first controls field (h)", "focus_controls", None),
    )

    def __init__(
        self,
        hp: HyperParams,
        data: Any = None,
        *,
        data_path: str | None = None,
        resume: str | None = None,
        start_paused: bool = False,
        start_training: bool = True,
        hide_time: bool = False,
        clock: Callable[[], float] | None = None,
        autosave: str | None = None,
        handle_signals: bool = False,
        settle_gc: bool = False,
    ) -> None:
        super().__init__()
        self.autosave = autosave
        self.handle_signals = handle_signals
        self.settle_gc = settle_gc
        self.autosave_note = ""  # what quitting did about the autosave (run_app prints it)
        self._exit_code = 0
        self._quitting = False
        self._start_step = 0
        self._signals: list[int] = []
        self.hp = hp
        self.data = data
        self.data_path = data_path
        self.resume_path = resume
        self.start_paused = start_paused
        self.start_training = start_training
        self.hide_time = hide_time
        self.clock = clock
        self.bridge: TrainingBridge | None = None
        self.main: MainScreen | None = None
        self.failed = False
        self.failure = ""  # why the data or checkpoint could not be loaded (one line)
        self.last_checkpoint = ""
        self._state = "loading"
        self._digits_pending: Misclassified | None = None
        self._digits_shown = -1e9
        self._digits_timer: Timer | None = None
        self._resumed_meta: dict[str, Any] | None = None  # a resumed run's clock and best figures

    # ---- start-up ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        if self.data is not None:
            from tui.headless import make_trainer

            return self._build_main(self.data, make_trainer(self.hp, self.data))
        return LoadingScreen(id="loading")

    def on_mount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(signum, self._on_signal, signum)
                    self._signals.append(signum)
        if self.main is None:  # paint the loading screen first, then start loading
            self.call_after_refresh(self._start_loader)

    def _start_loader(self) -> None:
        self.run_worker(self._load, thread=True, exit_on_error=False, name="load-mnist", group="loader")

    def on_main_screen_ready(self) -> None:
        """The main screen is mounted: start training."""
        self._start_bridge()
        if self.settle_gc:
            self.call_after_refresh(settle_garbage_collector)

    def _build_main(self, data: Any, trainer: Trainer) -> MainScreen:
        from tui.screens.main import MainScreen

        self.data = data
        self._trainer = trainer
        self.main = MainScreen(trainer.hp, hide_time=self.hide_time)
        return self.main

    def _start_bridge(self) -> None:
        from tui.session.bridge import TrainingBridge

        kwargs: dict[str, Any] = {"start_paused": self.start_paused, "meta": self._resumed_meta}
        if self.clock is not None:
            kwargs["clock"] = self.clock
        self.bridge = TrainingBridge(self._trainer, self._post_event, **kwargs)
        self._start_step = self._trainer.state.step
        if self.start_training:
            self.bridge.start()
        self._state = "paused" if self.start_paused else "running"
        self.refresh_bindings()

    def _load(self) -> None:
        """Thread worker: load MNIST, build the trainer, apply ``--resume``, warm the panel imports."""
        worker = get_current_worker()

        def progress(text: str, fraction: float | None) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            self.post_message(DataProgress(text, fraction))

        from model.checkpoint import CheckpointError
        from model.data import DataError, load_mnist

        try:
            data = load_mnist(self.data_path, progress=progress)
            progress("Building the network", None)
            from tui.headless import make_trainer
            from tui.session.checkpoints import apply_checkpoint

            trainer = make_trainer(self.hp, data)
            note, meta = "", None
            if self.resume_path:
                meta = apply_checkpoint(trainer, self.resume_path).meta
                note = f"resumed {self.resume_path}"
            import tui.screens.main  # noqa: F401  (plotext and the panels, off the UI thread)

            self.post_message(DataReady(data, trainer, note, meta))
        except _Cancelled:
            return
        except (DataError, CheckpointError) as exc:
            self.post_message(DataFailed(str(exc)))
        except Exception as exc:  # still one line, never a traceback; the traceback goes to the log
            from tui.errorlog import log_error, summary

            log = log_error("loading", exc)
            self.post_message(DataFailed(summary(exc) + (f" (full report: {log})" if log else "")))

    @on(DataProgress)
    def _data_progress(self, message: DataProgress) -> None:
        screen = self.screen
        if isinstance(screen, LoadingScreen):
            screen.set_progress(message.text, message.fraction)

    @on(DataReady)
    def _data_ready(self, message: DataReady) -> None:
        screen = self.screen
        if isinstance(screen, LoadingScreen):  # it stays below the main screen: stop its animation
            screen.set_progress("Ready", 1.0)
        self._resumed_meta = message.meta
        self.push_screen(self._build_main(message.data, message.trainer))
        if message.note:
            self.notify(message.note)

    @on(DataFailed)
    def _data_failed(self, message: DataFailed) -> None:
        self.failed = True
        self.failure = message.reason  # printed again after the screen is restored
        screen = self.screen
        hint = f"press any key to exit (exits in {FAIL_EXIT_SECONDS:.0f} s)"
        if isinstance(screen, LoadingScreen):
            screen.show_error(message.reason, hint)
        else:
            self.notify(message.reason, severity="error")
        self.set_timer(FAIL_EXIT_SECONDS, self._exit_failed)

    def _exit_failed(self) -> None:
        self.exit(return_code=exitcodes.USAGE)

    def on_key(self, event: Any) -> None:
        if self.failed:
            event.stop()
            self._exit_failed()

    # ---- actions ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide pause/resume that does not apply; grey out what needs a worker or a paused run."""
        bridge = self.bridge
        if action in ("pause", "resume"):
            if bridge is None:  # loading: show "Pause" greyed out, hide "Resume"
                return None if action == "pause" else False
            return bridge.paused == (action == "resume")
        if action in ("step", "reset", "evaluate", "save", "load", "gradcheck"):
            if bridge is None:
                return None
            if action == "step":
                return True if bridge.paused else None
            if action == "gradcheck":
                return None if bridge.gradcheck_running else True
            return True
        if action in ("show_panel", "focus_digits", "focus_controls"):
            return True if self.main is not None else None
        return True

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
        if self.bridge is not None and self.main is not None:
            self.main.status.border_subtitle = "evaluating"
            self.bridge.evaluate()

    def action_save(self) -> None:
        if self.bridge is None:
            return

        def save(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.save(path)

        self.push_screen(PathPrompt("Save checkpoint", default_save_path(), "written atomically (.npz)"), save)

    def action_load(self) -> None:
        if self.bridge is None:
            return

        def load(path: str | None) -> None:
            if path and self.bridge is not None:
                self.bridge.load(path)

        default = self.last_checkpoint or newest_checkpoint()
        self.push_screen(PathPrompt("Load checkpoint", default, "replaces the current run"), load)

    def action_gradcheck(self) -> None:
        if self.bridge is None or self.main is None or self.bridge.gradcheck_running:
            return
        self.main.gradcheck.show_running()
        if self.main.compact:
            self.main.show_panel("gradcheck")
        self.bridge.gradcheck()
        self.refresh_bindings()

    def action_help(self) -> None:
        # Installed once and kept: composing the key tables again on every press was the
        # slowest part of opening help while training runs.
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(self.help_sections()), "help")
        self.push_screen("help")

    def action_focus_digits(self) -> None:
        if self.main is not None:
            self.main.focus_digits()

    def action_focus_controls(self) -> None:
        if self.main is not None:
            self.main.controls.focus_first()

    def action_show_panel(self, key: str) -> None:
        if self.main is not None:
            self.main.show_panel(key)

    async def action_quit(self) -> None:
        """Stop the worker (joined), autosave the run, then exit."""
        if self._quitting:
            return
        self._quitting = True
        self.stop_training()
        self.workers.cancel_group(self, "loader")
        self._autosave()
        self.exit(return_code=exitcodes.USAGE if self.failed else self._exit_code)

    def _on_signal(self, signum: int) -> None:
        """SIGTERM, SIGHUP or SIGINT: quit as with q, exit status 128 + the signal number."""
        self._exit_code = exitcodes.from_signal(signum)
        self.call_later(self.action_quit)

    def _autosave(self) -> None:
        """Save the run to ``autosave`` (worker already stopped) if it trained since it started here."""
        trainer = getattr(self, "_trainer", None)
        if self.autosave is None or self.bridge is None or trainer is None:
            return
        if trainer.state.step == self._start_step:
            return  # nothing new: keep what an earlier session saved there
        from model.checkpoint import CheckpointError

        try:
            path = self.bridge.save_stopped(self.autosave)
        except (CheckpointError, RuntimeError) as exc:
            self.autosave_note = f"autosave failed: {exc}"
        else:
            self.autosave_note = f"saved the run to {path}; continue it with: mnist-tui --resume {path}"

    def stop_training(self) -> None:
        """Stop and join the training thread (idempotent)."""
        if self.bridge is not None:
            self.bridge.stop()

    def on_unmount(self) -> None:
        self.stop_training()
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every key, grouped by where it works (for the help screen)."""
        from tui.widgets.charts import ChartsPanel
        from tui.widgets.digits import MisclassifiedPanel
        from tui.widgets.gradcheck import GradCheckPanel

        app_rows = _merge_keys(binding_rows(self.BINDINGS))
        app_rows += [("ctrl+p", "command palette (every action)"), ("ctrl+q", "quit")]
        sections = [("Training (outside a field)", app_rows), ("Controls fields", list(FIELD_KEYS))]
        for title, cls in (
            ("Misclassified digits (when focused)", MisclassifiedPanel),
            ("Charts (when focused)", ChartsPanel),
            ("Gradient check (when focused)", GradCheckPanel),
        ):
            rows = binding_rows(getattr(cls, "BINDINGS", []))
            if rows:
                sections.append((title, rows))
        return sections

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        ours = {title for title, *_ in self.PALETTE}  # e.g. our "Keys" (the help screen) replaces Textual's
        yield from (command for command in super().get_system_commands(screen) if command.title not in ours)
        for title, help_text, action, arg in self.PALETTE:
            params = () if arg is None else (arg,)
            if self.check_action(action, params):
                method = getattr(self, f"action_{action}")
                yield SystemCommand(title, help_text, method if arg is None else partial(method, arg))

    # ---- worker events -------------------------------------------------------------------------
    def _post_event(self, event: WorkerEvent) -> None:
        """The worker's callback (any thread): hand ``event`` to the UI thread without blocking."""
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
        }
        handlers[type(message.event)](message.event)

    @property
    def panels(self) -> MainScreen | None:
        """The main screen while its panels can be updated (None while loading or shutting down)."""
        main = self.main
        if main is None or not self.is_running or not main.is_attached:
            return None
        return main

    def _set_state(self, state: str) -> None:
        """A key changed the run state: show it now, relabel the footer on the frame after.

        (The footer rebuilds its keys and relayouts the screen; doing that first would
        hold back the status change by a layout pass.)
        """
        if self.panels is not None:
            self.panels.status.set_state(state)
        if state != self._state:
            self._state = state
            self.call_after_refresh(self.refresh_bindings)

    def _show_status(self, status: TrainStatus) -> None:
        if self.panels is None:
            return
        self.panels.status.update_status(status)
        if status.state != self._state:
            self._state = status.state
            self.refresh_bindings()

    def _progress(self, message: TrainProgress) -> None:
        if self.panels is None:
            return
        if message.examples:
            self.panels.charts.append_losses(message.examples, message.losses)
        if message.angles:
            self.panels.charts.append_angles(message.angles)
        self._show_status(message.status)

    def _evaluated(self, message: Evaluated) -> None:
        main = self.panels
        if main is None:
            return
        results = message.metrics.results
        errors = {name: results[name][1] for name in ("train", "valid") if name in results}
        with self.batch_update():
            main.charts.append_errors(message.metrics.examples_seen, errors)
            if message.misclassified is not None:
                self._show_digits(message.misclassified)
            main.status.border_subtitle = ""
            self._show_status(message.status)

    def _show_digits(self, result: Misclassified | None = None) -> None:
        """Hand the newest misclassified set to the viewer, at most every DIGITS_SECONDS.

        Tiny epochs can finish many times a second; the viewer redraws fully on each
        ``show``, so results in between are dropped (the latest always arrives).
        """
        if result is not None:
            self._digits_pending = result
        if self._digits_pending is None or self.panels is None:
            return
        wait = self._digits_shown + DIGITS_SECONDS - time.monotonic()
        if wait > 0:
            if self._digits_timer is None:
                self._digits_timer = self.set_timer(wait, self._digits_due)
            return
        self._digits_shown = time.monotonic()
        self.panels.digits.show(self._digits_pending)
        self._digits_pending = None

    def _digits_due(self) -> None:
        self._digits_timer = None
        self._show_digits()

    def _hparams_applied(self, message: HParamsApplied) -> None:
        if self.panels is None:
            return
        from model.config import ARCHITECTURE_FIELDS
        from tui.widgets.controls import format_value, label_for

        shown = [
            f"{label_for(k)} {format_value(v)}" for k, v in message.changes.items() if k not in ARCHITECTURE_FIELDS
        ]
        if shown:
            self.panels.charts.add_marker(message.examples_seen, ", ".join(shown))
        if message.hp.variant != "exact":
            self.panels.charts.show_angles()

    def _run_reset(self, message: RunReset) -> None:
        main = self.panels
        if main is None:
            return
        with self.batch_update():
            main.charts.clear()
            main.charts.show_angles(message.hp.variant != "exact")
            if message.source == "reset":
                main.controls.set_live(message.hp)
            else:
                main.controls.set_hparams(message.hp, live=message.hp)
                main.charts.add_marker(message.status.examples_seen, message.source)
                self.notify(message.source)
            self._show_status(message.status)

    def _diverged(self, message: Diverged) -> None:
        if self.panels is None:
            return
        self.panels.charts.mark_diverged(message.examples_seen)
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
        self.push_screen(ErrorScreen("Training stopped", message.summary, message.detail, message.log_path, hint))

    def _gradcheck_done(self, message: GradCheckDone) -> None:
        if self.panels is not None:
            if message.error:
                self.notify(f"gradient check failed: {message.error}", severity="error")
            self.panels.gradcheck.show_reports(message.toy, message.live)
        self.refresh_bindings()

    def _saved(self, message: CheckpointSaved) -> None:
        self.last_checkpoint = message.path
        self.notify(f"saved {message.path}")

    def _notice(self, message: Notice) -> None:
        self.notify(message.text, severity=message.severity)  # type: ignore[arg-type]
        self.refresh_bindings()

    # ---- controls -----------------------------------------------------------------------------------
    def on_controls_panel_changed(self, message: Any) -> None:
        """A field changed: hand the whole new HyperParams to the worker."""
        self.hp = message.hp
        if self.bridge is not None:
            self.bridge.set_field(message.name, getattr(message.hp, message.name))


def _merge_keys(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join rows that share a key ("space": "Pause / Resume")."""
    merged: dict[str, list[str]] = {}
    for key, description in rows:
        merged.setdefault(key, []).append(description)
    return [(key, " / ".join(descriptions)) for key, descriptions in merged.items()]


def settle_garbage_collector(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Take the objects alive once the app is up out of the garbage collector's scans, and
    collect less often.

    Textual's widgets, styles and caches are ~115k long-lived objects; with the default
    thresholds a full collection scanned them all several times a second while training ran,
    up to ~95 ms each with the GIL held (a key waited, the worker stalled; ~6% of the time).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def run_app(hp: HyperParams, data_path: str | None, resume: str | None, autosave: str | None = None) -> int:
    """Run the app until it quits; returns its exit status (2 when the data cannot be loaded,
    128 + N after signal N). Says where the run was autosaved, if it was."""
    app = MnistApp(hp, data_path=data_path, resume=resume, autosave=autosave, handle_signals=True, settle_gc=True)
    try:
        app.run()
    finally:
        app.stop_training()
    if app.failure:
        print(f"mnist-tui: {app.failure}", file=sys.stderr)
    if app.autosave_note:
        print(f"mnist-tui: {app.autosave_note}", file=sys.stderr)
    return app.return_code or 0
