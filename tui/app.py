"""The interactive app: the Textual shell around the training worker.

``MnistApp`` keeps the lifecycle: a loading screen while a thread worker loads MNIST
(and the checkpoint to resume), then the main screen; it starts the ``TrainingBridge``
(the training thread) once that screen is ready and hands it over, and on quit (q,
ctrl+c, a signal) stops it and autosaves. The main screen (``tui.screens.main``) owns the
training keys and routes the worker's events to its panels. ``run_app`` is what the
``mnist-tui`` command calls. Heavy modules (the panels, plotext) are imported
in the loader thread, so the first frame appears before they are needed.
Leaves out the math (``model``) and each panel's drawing (``tui.widgets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import get_current_worker

from tui import exitcodes
from tui.resources import asset
from tui.screens.help import FIELD_KEYS, HelpScreen, binding_rows
from tui.screens.loading import DataFailed, DataProgress, DataReady, LoadingScreen

if TYPE_CHECKING:
    from model.config import HyperParams
    from model.trainer import Trainer
    from tui.screens.main import MainScreen
    from tui.session.bridge import TrainingBridge
    from tui.session.student import StudentSession

FAIL_EXIT_SECONDS = 3.0
#: After a signal, once the run is saved, the process ends within this many seconds even if
#: the terminal is gone and Textual cannot finish restoring it.
SHUTDOWN_GRACE_SECONDS = 2.0
#: Garbage-collector thresholds while the app runs (Python's default: 700, 10, 10).
GC_THRESHOLDS = (5000, 20, 20)


def css_paths() -> list[str | PurePath]:
    """The panels' stylesheet, then the app's, which has the last word on layout."""
    return [asset("panels.tcss"), asset("pad.tcss"), asset("runs.tcss"), asset("app.tcss")]


HELP_PREPARE_SECONDS = 0.5  # after the training screen appears, the help screen is built
#: What differs when the app is served to a browser (the help screen's last section there).
BROWSER_ROWS = [
    ("s / l", "names inside this session's folder only (no absolute paths, no '..')"),
    ("ctrl+w ctrl+t", "kept by the browser, never reach the app (it binds none of them)"),
    ("clipboard", "the browser's own: copy and paste go through it, not the app"),
    ("quit", "q or closing the tab ends this session's app (its folder is kept)"),
]


def watch_parent(every: float = 1.0) -> threading.Thread:
    """Served apps: when the server process is gone (even killed with SIGKILL, so it could not
    stop us), quit as on SIGTERM (stop, autosave, exit) instead of training on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="mnist-tui-parent-watch", daemon=True)
    thread.start()
    return thread


def default_autosave_path() -> Path:
    """Where quitting saves the run unless --no-autosave: ``<user data dir>/autosave.npz``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mnist-tui", appauthor=False)) / "autosave.npz"


class _Cancelled(Exception):
    """The app quit while MNIST was loading."""


class MnistApp(App[int]):
    """Train a one-hidden-layer MLP on MNIST and watch it learn.

    hp: starting hyperparameters. data: an MNIST-like object (skips the loader; tests).
    data_path / resume: as the command-line flags; overrides: settings given beside --resume, applied
    over the checkpoint's (already checked by ``resumed_hparams``). start_paused: begin paused.
    start_training: False builds everything but never starts the worker thread (snapshots).
    hide_time: show "--" for examples/s and elapsed. clock: the worker's clock.
    autosave: quitting (q, ctrl+c, SIGTERM) saves the run there if it trained since it started.
    handle_signals: SIGTERM/SIGHUP/SIGINT quit like q (stop, autosave) and exit 128 + signal.
    settle_gc: once training starts, freeze the objects alive and raise the garbage collector's
    thresholds (``settle_garbage_collector``; process-wide, so only the real app does it).
    student: ``--backprop FILE``: the student's grads_batch trains (``StudentSession``, loaded and
    tried already), the gradient check checks their code, ``b`` shows its check, ``u`` reloads it.
    """

    TITLE = "mnist-tui"
    SUB_TITLE = "backprop on MNIST"
    CSS_PATH = css_paths()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        # priority: a focused text field or prompt must not swallow it (Input copies with ctrl+c)
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]
    # Textual declares the two breakpoint lists without ClassVar: hence the ignores
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]  # type: ignore[misc]
    #: -huge: the digit viewer and gradient check grow into the rows the controls leave free
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (32, "-tall"), (50, "-huge")]  # type: ignore[misc]

    def __init__(
        self,
        hp: HyperParams,
        data: Any = None,
        *,
        data_path: str | None = None,
        resume: str | None = None,
        overrides: dict[str, Any] | None = None,
        start_paused: bool = False,
        start_training: bool = True,
        hide_time: bool = False,
        clock: Callable[[], float] | None = None,
        autosave: str | None = None,
        handle_signals: bool = False,
        settle_gc: bool = False,
        sandbox: str | None = None,
        runs: str | None = None,
        tensorboard: str | None = None,
        student: StudentSession | None = None,
    ) -> None:
        super().__init__()
        self.student = student
        if student is not None:
            self.sub_title = f"your backprop: {student.source.path}"
        self.runs = runs  # the folder of run records (None: $MNIST_TUI_RUNS or the user data folder)
        self.tensorboard = tensorboard  # also write the run as TensorBoard events in this folder
        self.sandbox = sandbox  # served to a browser: the save/load prompts stay inside this folder
        self.autosave = autosave
        self.handle_signals = handle_signals
        self.settle_gc = settle_gc
        self.autosave_note = ""  # what quitting did about the autosave (run_app prints it)
        self._exit_code = 0
        self._quitting = False
        self._exit_called = False  # exit() was called (not an ExitApp posted from outside)
        self._signalled = False
        self.exit_watchdog = False  # run_app: after a signal, end the process if shutdown hangs
        self._watchdog: threading.Timer | None = None
        self._start_step = 0
        self._signals: list[int] = []
        self.start_hp = hp  # the settings to start with; the bridge owns them once training starts
        self.data = data
        self.data_path = data_path
        self.resume_path = resume
        self.overrides = overrides or {}  # flags given beside --resume (valid for its checkpoint)
        self.start_paused = start_paused
        self.start_training = start_training
        self.hide_time = hide_time
        self.clock = clock
        self.bridge: TrainingBridge | None = None
        self.main: MainScreen | None = None
        self.failed = False
        self.failure = ""  # why the data or checkpoint could not be loaded (one line)
        self._resumed_meta: dict[str, Any] | None = None  # a resumed run's clock and best figures

    # ---- start-up ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        if self.data is not None:
            from model.trainer import make_trainer

            return self._build_main(self.data, make_trainer(self.start_hp, self.data))
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
        if self.student is not None:
            trainer.rule = self.student.rule  # kept by reset: the trainer rebuilds only its own variants
        self.main = MainScreen(trainer.hp, hide_time=self.hide_time, student=self.student)
        return self.main

    def _start_bridge(self) -> None:
        from model.runs import start_recorder
        from tui.session.bridge import TrainingBridge

        kwargs: dict[str, Any] = {"start_paused": self.start_paused, "meta": self._resumed_meta}
        kwargs["recorder"] = start_recorder(
            self._trainer, self.data, "app", self.runs, self.resume_path, warn=None, tensorboard=self.tensorboard
        )
        if self.clock is not None:
            kwargs["clock"] = self.clock
        if self.student is not None:
            kwargs["gradcheck"] = self.student.gradcheck
            source = self.student.source
            kwargs["recorder"].event("backprop", 0, 0, file=source.absolute, sha256=source.sha256)
        assert self.main is not None
        self.bridge = TrainingBridge(self._trainer, self.main.post_event, **kwargs)
        self._start_step = self._trainer.state.step
        if self.start_training:
            self.bridge.start()
        self.main.attach(self.bridge, "paused" if self.start_paused else "running")

    def _load(self) -> None:
        """Thread worker: load MNIST, build the trainer, apply ``--resume``, warm the panel imports."""
        worker = get_current_worker()

        def progress(text: str, fraction: float | None) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            self.post_message(DataProgress(text, fraction))

        from model.checkpoint import CheckpointError
        from model.data import DataError, load_mnist

        # The panels' imports (plotext, the widgets: ~0.2 s of Python) run beside the data's
        # file reads, which release the GIL, instead of after them.
        panels = threading.Thread(target=_import_panels, name="mnist-tui-imports", daemon=True)
        panels.start()
        try:
            data = load_mnist(self.data_path, progress=progress)
            progress("Building the network", None)
            from model.trainer import make_trainer
            from tui.session.checkpoints import apply_checkpoint

            trainer = make_trainer(self.start_hp, data)
            note, meta = "", None
            if self.resume_path:
                meta = apply_checkpoint(trainer, self.resume_path).meta
                note = f"resumed {self.resume_path}"
                if self.overrides:
                    from tui.widgets.controls import format_value

                    trainer.set_hparams(trainer.hp.validated(**self.overrides))
                    shown = ", ".join(f"{k} {format_value(v)}" for k, v in self.overrides.items())
                    note += f" with {shown} from the command line"
            panels.join()

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
        # the help lists every screen's keys, so building it imports them all (the math screen's
        # Markdown alone ~0.1 s): do that once the training screen is up, not on the first "?"
        self.set_timer(HELP_PREPARE_SECONDS, self._prepare_help)

    def _prepare_help(self) -> None:
        if not self.is_screen_installed("help") and self.is_running:
            self.install_screen(HelpScreen(self.help_sections()), "help")

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
    def action_help(self) -> None:
        # Installed once and kept (usually already by _prepare_help): composing the key tables
        # again on every press was the slowest part of opening help while training runs.
        self._prepare_help()
        self.push_screen("help")

    async def action_quit(self) -> None:
        """Stop the worker (joined), autosave the run, then exit."""
        if self._quitting:
            return
        self._quitting = True
        self.stop_training()
        self.workers.cancel_group(self, "loader")
        self._autosave()
        code = exitcodes.USAGE if self.failed else self._exit_code
        if self._signalled and self.exit_watchdog:
            # The run is saved. A closed terminal can leave Textual's shutdown blocked on writes
            # that never drain (measured: 1 in 3 tmux kill-servers), so end the process anyway.
            self._watchdog = threading.Timer(SHUTDOWN_GRACE_SECONDS, os._exit, args=(code,))
            self._watchdog.daemon = True
            self._watchdog.start()
        self.exit(return_code=code)

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        self._exit_called = True
        super().exit(result, return_code, message)

    async def _on_exit_app(self) -> None:
        """An exit posted from outside, not through ``exit`` (textual-serve's "quit" when a browser
        tab closes): quit as with q first, so the worker stops before the screens go away (it
        posts to them from its thread) and the run is saved; ``action_quit``'s own exit ends it."""
        if not self._exit_called and not self._quitting:
            await self.action_quit()
            return
        await super()._on_exit_app()

    def _on_signal(self, signum: int) -> None:
        """SIGTERM, SIGHUP or SIGINT: quit as with q, exit status 128 + the signal number."""
        self._exit_code = exitcodes.from_signal(signum)
        self._signalled = True
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
        """Stop and join the training thread (idempotent); with ``--backprop``, first stop the child
        running the student's code (a step waiting on it ends at once)."""
        if self.student is not None:
            self.student.close()
        if self.bridge is not None:
            self.bridge.stop()

    def on_unmount(self) -> None:
        self.stop_training()
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every key, grouped by where it works (for the help screen)."""
        from tui.screens.main import MainScreen
        from tui.screens.math import MathScreen
        from tui.screens.pad import DrawPadScreen
        from tui.screens.runs import RunsScreen
        from tui.screens.weights import WeightsScreen
        from tui.screens.why import WhyScreen
        from tui.widgets.charts import ChartsPanel
        from tui.widgets.digits import MisclassifiedPanel
        from tui.widgets.gradcheck import GradCheckPanel

        cursor_keys = ("move_cursor", "cursor_end", "hide_cursor")  # listed as CURSOR_ROWS, pairs in one row
        left_out = cursor_keys if self.student is not None else (*cursor_keys, *MainScreen.STUDENT_ACTIONS)
        training = [b for b in MainScreen.BINDINGS if isinstance(b, Binding) and not b.action.startswith(left_out)]
        panel_keys = [b for b in training if b.action.startswith("show_panel")]
        ordered = [b for b in training if b not in panel_keys] + list(self.BINDINGS) + panel_keys
        app_rows = _merge_keys(binding_rows(ordered))
        app_rows += [("ctrl+p", "command palette (every action)"), ("ctrl+q", "quit")]
        sections = [("Training (outside a field)", app_rows), ("Controls fields", list(FIELD_KEYS))]
        sections.append(("Chart cursor (v)", list(MainScreen.CURSOR_ROWS)))
        for title, cls in (
            ("Misclassified digits (when focused)", MisclassifiedPanel),
            ("Charts (when focused)", ChartsPanel),
            ("Gradient check (when focused)", GradCheckPanel),
            ("Weights screen (w)", WeightsScreen),
            ("Why this prediction (y in the digit viewer)", WhyScreen),
            ("Math screen (m)", MathScreen),
            ("Run list (o)", RunsScreen),
        ):
            rows = binding_rows(getattr(cls, "BINDINGS", []))
            if rows:
                sections.append((title, rows))
        pad_keys = [b for b in DrawPadScreen.BINDINGS if isinstance(b, Binding) and not b.action.startswith("move")]
        pad_rows = DrawPadScreen.MOUSE_ROWS + _merge_keys(binding_rows(pad_keys))  # arrows: one row
        sections.append(("Drawing pad (p)", pad_rows))
        if self.student is not None:  # --backprop FILE: the check's own screen
            from tui.screens.exercise import ExerciseScreen

            sections.append(("Your backprop's check (c)", binding_rows(ExerciseScreen.BINDINGS)))
        if self.sandbox is not None:  # served to a browser by mnist-tui serve: on top of the right column
            sections.insert(1, ("In a browser", BROWSER_ROWS))
        return sections

    @property
    def _background_screens(self) -> list[Screen[Any]]:
        """Screens visible under the top one: none under an opaque screen (the drawing pad).

        Textual 8 always counts the screen just below the top one, so the hidden training
        screen kept drawing its charts and status and repainted the whole pad ten times a
        second (bars ~2x slower to follow the mouse). Translucent screens (help, prompts, the
        palette) still show what is under them.
        """
        stack = self._screen_stack
        if stack and stack[-1].styles.background.a == 1:
            return []
        return list(super()._background_screens)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")
        yield SystemCommand("Keys", "Every key binding (?)", self.action_help)  # ours replaces Textual's
        palette = getattr(screen, "palette_commands", None)
        if palette is not None:
            yield from palette()


def _import_panels() -> None:
    """Import the main screen's modules (plotext and the panels), off the UI thread."""
    import tui.screens.main  # noqa: F401


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


def run_app(
    hp: HyperParams,
    data_path: str | None,
    resume: str | None,
    autosave: str | None = None,
    overrides: dict[str, Any] | None = None,
    sandbox: str | None = None,
    runs: str | None = None,
    tensorboard: str | None = None,
    student: StudentSession | None = None,
) -> int:
    """Run the app until it quits; returns its exit status (2 when the data cannot be loaded,
    128 + N after signal N). Says where the run was autosaved, if it was."""
    app = MnistApp(
        hp,
        data_path=data_path,
        resume=resume,
        overrides=overrides,
        autosave=autosave,
        handle_signals=True,
        settle_gc=True,
        sandbox=sandbox,
        runs=runs,
        tensorboard=tensorboard,
        student=student,
    )
    app.exit_watchdog = True
    if sandbox is not None:
        watch_parent()
    try:
        app.run()
    finally:
        app.stop_training()
        if app._watchdog is not None:  # the shutdown finished in time
            app._watchdog.cancel()
    for note in (app.failure, app.autosave_note):
        if note:
            with contextlib.suppress(OSError):  # the terminal may be gone (it was closed: SIGHUP)
                print(f"mnist-tui: {note}", file=sys.stderr)
    return app.return_code or 0
