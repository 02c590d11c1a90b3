"""The interactive app: the Textual shell around the training worker.

``MnistApp`` is built from an ``AppConfig`` (its settings, as values) and a session factory
(what drives the run: by default a ``TrainingBridge`` whose thread starts at once). It keeps
the lifecycle: a loading screen while a thread worker loads MNIST and opens the run
(``model.run.open_run``: fresh, or resumed from a checkpoint), then the main screen; it hands
the session over once that screen is ready, and on quit (q, ctrl+c, a signal) stops it, which
closes the run (its record's final checkpoint is the autosave). The main screen
(``tui.screens.main``) owns the training keys and routes the worker's events to its panels.
``run_app`` is what the ``mnist-tui`` command calls. Heavy modules (the panels, plotext) are
imported in the loader thread, so the first frame appears before they are needed.
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
from dataclasses import replace
from functools import partial
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import get_current_worker

from tui import exitcodes
from tui.resources import asset
from tui.screens.help import HelpScreen, Section, help_sections
from tui.screens.loading import DataFailed, DataProgress, DataReady, LoadingScreen
from tui.screens.palette import palette_commands
from tui.session.config import AppConfig

if TYPE_CHECKING:
    from model.challenges import Challenge
    from model.challenges.play import ChallengePlay
    from model.run import Run
    from tui.screens.main import MainScreen
    from tui.session.bridge import GradCheck, TrainingBridge
    from tui.session.events import WorkerEvent
    from tui.session.student import StudentSession

#: What drives an opened run for the app: given the run, where its events go and what ``g``
#: checks, a session (its thread started or not).
SessionFactory = Callable[["Run", Callable[["WorkerEvent"], object], "GradCheck"], "TrainingBridge"]

FAIL_EXIT_SECONDS = 3.0
#: After a signal, once the run is saved, the process ends within this many seconds even if
#: the terminal is gone and Textual cannot finish restoring it.
SHUTDOWN_GRACE_SECONDS = 2.0
#: Garbage-collector thresholds while the app runs (Python's default: 700, 10, 10).
GC_THRESHOLDS = (5000, 20, 20)


def css_paths() -> list[str | PurePath]:
    """The panels' stylesheet, then the app's, which has the last word on layout."""
    return [asset("panels.tcss"), asset("pad.tcss"), asset("runs.tcss"), asset("challenges.tcss"), asset("app.tcss")]


HELP_RELAYOUT_SECONDS = 0.1  # the prepared help screen is laid out again this long after its first layout


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


def user_data_folder() -> Path:
    """The user data folder (``~/.local/share/mnist-tui`` on Linux): an autosave without a record goes there."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mnist-tui", appauthor=False))


def start_session(run: Run, post: Callable[[WorkerEvent], object], gradcheck: GradCheck) -> TrainingBridge:
    """The app's session: a training thread driving ``run``, started at once."""
    from tui.session.bridge import TrainingBridge

    bridge = TrainingBridge(run, post, gradcheck=gradcheck)
    bridge.start()
    return bridge


def idle_session(run: Run, post: Callable[[WorkerEvent], object], gradcheck: GradCheck) -> TrainingBridge:
    """A session whose thread never starts: everything built, nothing trains (layout snapshots)."""
    from tui.session.bridge import TrainingBridge

    return TrainingBridge(run, post, gradcheck=gradcheck)


def open_app_run(data: Any, config: AppConfig, student: StudentSession | None = None) -> Run:
    """The app's run on ``data``: fresh from ``config.hp``, or resuming ``config.resume`` with its
    overrides; recorded (warnings kept until the worker can show them); with ``student``, their
    rule trains and the record says which file; with ``config.challenge``, the record names it
    and evaluations come at its cadence. CheckpointError (one line)."""
    from model.checkpoint import load_checkpoint
    from model.run import Policy, Recording, open_run
    from model.runs import runs_dir

    state = load_checkpoint(config.resume) if config.resume else None
    policy = Policy(mistakes=True)
    extra: dict[str, Any] = {}
    if config.challenge is not None:
        from model.challenges.play import challenge_policy

        policy = challenge_policy(config.challenge, policy)
        extra["challenge"] = config.challenge.name
    recording = Recording(runs_dir(config.runs), "app", config.tensorboard, extra=extra)
    run = open_run(
        data,
        config.hp,
        resume=state,
        changes=config.overrides,
        policy=policy,
        recording=recording,
        paused=config.start_paused,
        rule=student.rule if student is not None else None,
    )
    if student is not None:  # which code trains from here (a replay uses backprop, and says so)
        run.note("backprop", file=student.source.absolute, sha256=student.source.sha256)
    return run


class _Cancelled(Exception):
    """The app quit while MNIST was loading."""


class RunLoader:
    """Thread worker: load MNIST, open the app's run (``--resume`` included) and warm the panels'
    imports meanwhile; it reports through ``post`` (``DataProgress``, ``DataReady``, ``DataFailed``)
    and keeps the data it loaded in ``data``."""

    def __init__(self, config: AppConfig, student: StudentSession | None, post: Callable[[Any], object]) -> None:
        self.config = config
        self.student = student
        self.post = post
        self.data: Any = None

    def __call__(self) -> None:
        worker = get_current_worker()

        def progress(text: str, fraction: float | None) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            self.post(DataProgress(text, fraction))

        from model.checkpoint import CheckpointError
        from model.data import DataError, load_mnist

        # The panels' imports (plotext, the widgets: ~0.2 s of Python) run beside the data's
        # file reads, which release the GIL, instead of after them.
        panels = threading.Thread(target=_import_panels, name="mnist-tui-imports", daemon=True)
        panels.start()
        config = self.config
        try:
            data = load_mnist(config.data_path, progress=progress)
            progress("Building the network", None)
            run = open_app_run(data, config, self.student)
            note = ""
            if config.resume:
                from tui.format import format_value

                note = f"resumed {config.resume}"
                if config.overrides:
                    shown = ", ".join(f"{k} {format_value(v)}" for k, v in config.overrides.items())
                    note += f" with {shown} from the command line"
            panels.join()
            self.data = data
            self.post(DataReady(run, note))
        except _Cancelled:
            return
        except (DataError, CheckpointError) as exc:
            self.post(DataFailed(str(exc)))
        except Exception as exc:  # still one line, never a traceback; the traceback goes to the log
            from tui.errorlog import log_error, summary

            log = log_error("loading", exc)
            self.post(DataFailed(summary(exc) + (f" (full report: {log})" if log else "")))


class SignalQuit:
    """SIGTERM, SIGHUP and SIGINT quit the app as q does (``quit``); the exit status is then
    128 + the signal number (``exit_code``)."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def __init__(self, quit: Callable[[], object]) -> None:
        self.quit = quit
        self.handled: list[int] = []  # the signals whose handler is ours
        self.received = False
        self.exit_code = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Handle the signals in ``loop`` (where the platform lets us)."""
        for signum in self.SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._received, signum)
                self.handled.append(signum)

    def remove(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the signals back to their default handlers."""
        for signum in self.handled:
            loop.remove_signal_handler(signum)

    def _received(self, signum: int) -> None:
        self.exit_code = exitcodes.from_signal(signum)
        self.received = True
        self.quit()


class MnistApp(App[int]):
    """Train a one-hidden-layer MLP on MNIST and watch it learn.

    config: the settings (``AppConfig``). data: an MNIST-like object (skips the loader; tests).
    session: what drives the opened run (``start_session``; ``idle_session`` builds everything
    but never starts the thread).
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
        config: AppConfig | None = None,
        student: StudentSession | None = None,
        *,
        data: Any = None,
        session: SessionFactory = start_session,
    ) -> None:
        super().__init__()
        self.config = config if config is not None else AppConfig()
        self.data = data
        self.session = session
        self.student = student
        if student is not None:
            self.sub_title = f"your backprop: {student.source.path}"
        self.autosave_note = ""  # what quitting did about the autosave (run_app prints it)
        self.signals = SignalQuit(lambda: self.call_later(self.action_quit))
        self._quitting = False
        self._exit_called = False  # exit() was called (not an ExitApp posted from outside)
        self.exit_watchdog = False  # run_app: after a signal, end the process if shutdown hangs
        self._watchdog: threading.Timer | None = None
        self._start_step = 0
        self.loader: RunLoader | None = None  # loads MNIST and opens the run (without ``data``)
        self.live_run: Run | None = None
        self.bridge: TrainingBridge | None = None
        self.main: MainScreen | None = None
        self.play: ChallengePlay | None = None  # the challenge the live run plays
        self.failed = False
        self.failure = ""  # why the data or checkpoint could not be loaded (one line)

    # ---- start-up ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        if self.data is not None:
            return self._build_main(open_app_run(self.data, self.config, self.student))
        return LoadingScreen(id="loading")

    def on_mount(self) -> None:
        if self.config.handle_signals:
            self.signals.install(asyncio.get_running_loop())
        if self.main is None:  # paint the loading screen first, then start loading
            self.loader = RunLoader(self.config, self.student, self.post_message)
            self.call_after_refresh(
                self.run_worker, self.loader, thread=True, exit_on_error=False, name="load-mnist", group="loader"
            )

    def on_main_screen_ready(self) -> None:
        """The main screen is mounted: hand it the session that drives the run."""
        assert self.main is not None and self.live_run is not None
        self._start_step = self.live_run.trainer.state.step
        from tui.session.checks import run_gradcheck

        gradcheck = self.student.gradcheck if self.student is not None else run_gradcheck
        self.bridge = self.session(self.live_run, self.main.feed.post, gradcheck)
        self.main.attach(self.bridge)
        if self.config.settle_gc:
            self.call_after_refresh(settle_garbage_collector)

    def _build_main(self, run: Run) -> MainScreen:
        from tui.screens.main import MainScreen

        self.live_run = run
        self.play = None
        if self.config.challenge is not None:  # played in ``run`` from before its first step
            from model.challenges.play import ChallengePlay

            self.play = ChallengePlay(self.config.challenge, self.progress_path).follow(run)
        self.main = MainScreen(run, self.config, student=self.student, play=self.play)
        return self.main

    @property
    def progress_path(self) -> Path:
        """Where challenge progress is kept: the session's folder when served, else the user data folder."""
        from model.challenges import progress_file

        return progress_file(self.config.sandbox)

    def start_challenge(self, challenge: Challenge) -> None:
        """Stop the run (closed and recorded as on quitting, without the autosave) and open a new one
        in ``challenge``'s starting state on a new training screen, with its panel."""
        if self.data is None or self._quitting or self.main is None or self.student is not None:
            return
        self.stop_training()
        self.bridge = None
        self.config = replace(self.config, hp=challenge.start_hparams(), challenge=challenge, resume=None, overrides={})
        self.config = replace(self.config, start_paused=False)  # a fresh run from its own settings
        main = self._build_main(open_app_run(self.data, self.config))
        # in the old training screen's place, once the list that picked it has gone (the app's
        # first screen, which cannot be switched away, stays below it, idle)
        self.call_later(lambda: (self.switch_screen if len(self.screen_stack) > 1 else self.push_screen)(main))

    @on(DataProgress)
    def _data_progress(self, message: DataProgress) -> None:
        screen = self.screen
        if isinstance(screen, LoadingScreen):
            screen.set_progress(message.text, message.fraction)

    @on(DataReady)
    def _data_ready(self, message: DataReady) -> None:
        if self.loader is not None:
            self.data = self.loader.data
        screen = self.screen
        if isinstance(screen, LoadingScreen):  # it stays below the main screen: stop its animation
            screen.set_progress("Ready", 1.0)
        self.push_screen(self._build_main(message.run))
        if message.note:
            self.notify(message.note)
        # The help lists every screen's keys, so gathering them imports them all (the math screen's
        # Markdown alone ~0.1 s): a thread does that now, then the help is built, not on the first "?".
        threading.Thread(target=self._gather_help, name="mnist-tui-help", daemon=True).start()

    def _gather_help(self) -> None:
        """Off the UI thread: import every screen the help lists (what gathering its sections costs:
        the keys themselves take a fraction of a millisecond), then build the help on the UI thread."""
        self._help_sections()
        with contextlib.suppress(RuntimeError):  # the app has closed meanwhile
            self.call_from_thread(self._prepare_help)

    def _help_sections(self) -> list[Section]:
        return help_sections(self.BINDINGS, student=self.student is not None, served=self.config.sandbox is not None)

    def _prepare_help(self) -> None:
        if self.is_screen_installed("help") or not self.is_running:
            return
        self.install_screen(HelpScreen(self._help_sections()), "help")
        # Mount it and lay it out now, at this size, so that the first "?" only shows it: composing
        # it and measuring its key tables on that press took most of the 60-90 ms it took to open
        # while training ran. Textual has no public call for this; these are the ones push_screen
        # makes (a resize before the first "?" is laid out again then, as usual).
        try:
            screen, mounted = self._get_screen("help")
        except AttributeError:  # a Textual without it: the first "?" mounts the screen, as always
            return

        def lay_out() -> None:
            refresh_layout = getattr(screen, "_refresh_layout", None)
            if refresh_layout is not None and not screen.is_current:
                refresh_layout(self.size)

        async def lay_out_twice() -> None:
            await mounted
            lay_out()
            # again once its widgets have taken in their sizes: the first pass finds that the key
            # tables need a scrollbar, which narrows the right column (a width not yet rendered)
            self.set_timer(HELP_RELAYOUT_SECONDS, lay_out)

        self.call_later(lay_out_twice)

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
        self.set_timer(FAIL_EXIT_SECONDS, partial(self.exit, return_code=exitcodes.USAGE))

    def on_key(self, event: Any) -> None:
        if self.failed:
            event.stop()
            self.exit(return_code=exitcodes.USAGE)

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
        if self.config.autosave and self.bridge is not None and self.live_run is not None:
            self.autosave_note = autosave(self.live_run, self.bridge, self.config, self._start_step)
        code = exitcodes.USAGE if self.failed else self.signals.exit_code
        if self.signals.received and self.exit_watchdog:
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

    def stop_training(self) -> None:
        """Stop and join the training thread (idempotent); with ``--backprop``, first stop the child
        running the student's code (a step waiting on it ends at once)."""
        if self.student is not None:
            self.student.close()
        if self.bridge is not None:
            self.bridge.stop()

    def on_unmount(self) -> None:
        self.stop_training()
        self.signals.remove(asyncio.get_running_loop())

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
        yield from palette_commands(screen)


def autosave(run: Run, bridge: TrainingBridge, config: AppConfig, start_step: int) -> str:
    """Where ``run`` is kept (the worker has stopped and closed it), if it trained since
    ``start_step``: its record's final checkpoint, or, with no record or served to a browser,
    ``autosave-<run id>.npz`` written now in ``config.autosave_dir`` (the session's folder when
    served). The line quitting prints ("" when the run did not move)."""
    if run.trainer.state.step == start_step:
        return ""  # nothing new: the run is where it started
    path = run.recorder.checkpoint
    if path is None or config.sandbox is not None:
        from model.checkpoint import CheckpointError

        folder = config.sandbox or config.autosave_dir or user_data_folder()
        try:
            path = bridge.save_stopped(str(folder / f"autosave-{run.recorder.run_id}.npz"))
        except (CheckpointError, RuntimeError) as exc:
            return f"autosave failed: {exc}"
    return f"saved the run to {path}; continue it with: mnist-tui --resume {path}"


def _import_panels() -> None:
    """Import the main screen's modules (plotext and the panels), off the UI thread."""
    import tui.screens.main  # noqa: F401


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


def run_app(config: AppConfig, student: StudentSession | None = None) -> int:
    """Run the app until it quits; returns its exit status (2 when the data cannot be loaded,
    128 + N after signal N). Says where the run was kept, if it trained."""
    app = MnistApp(replace(config, handle_signals=True, settle_gc=True), student)
    app.exit_watchdog = True
    if config.sandbox is not None:
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
