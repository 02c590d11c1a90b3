"""The run list (``o``): recorded runs, newest first, to overlay on the training charts.

The same columns as ``mnist-tui runs`` (``tui.view.runs.list_row``), with a first column that
marks the live run and the runs on the charts. A thread reads the records (a long run's
metrics.jsonl has tens of thousands of lines) and hands rows over in batches, so the list
fills while keys keep working; the main screen's ``EntryCache`` keeps what was read for the
next opening. Space or enter puts the highlighted run on the charts or takes it off (at once,
under this screen), ``c`` clears them all, escape goes back. A record that cannot be read is
listed as unreadable (or with the lines that were skipped) and says why on the line below.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from model.printable import printable
from tui.view.runs import LIST_COLUMNS, EntryCache, RunEntry, load_entries, overlay_label
from tui.widgets.charts import OverlayRun
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from tui.screens.host import TrainingHost

#: The reading thread hands rows over at most this often.
BATCH_SECONDS = 0.1
LIVE_MARK = "●"
PICKED_MARK = "✓"
#: ``LIST_COLUMNS`` in the order shown: the figures first, the date (the id starts with it) and
#: where the run came from last, where a narrow terminal scrolls to them.
SHOWN_COLUMNS = ("id", "variant", "settings", "best valid", "test@best", "status", "time", "changes", "date", "from")
_ORDER = [LIST_COLUMNS.index(c) for c in SHOWN_COLUMNS]


def shown_cells(cells: list[str]) -> list[str]:
    """A row's cells (``LIST_COLUMNS`` order) in ``SHOWN_COLUMNS`` order."""
    return [cells[i] for i in _ORDER]


class RunsScreen(Screen[None]):
    """Recorded runs as a table; picked runs are drawn on the main screen's charts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,o", "close", "Back"),
        Binding("space", "toggle", "Overlay", tooltip="put the run on the charts / take it off (also enter)"),
        Binding("c", "clear", "Clear", tooltip="take every run off the charts"),
    ]

    class Loaded(Message):
        """Entries read by the thread (``done``: the last batch; ``error``: the folder is unreadable)."""

        def __init__(self, entries: list[RunEntry], done: bool, error: str = "") -> None:
            super().__init__()
            self.entries = entries
            self.done = done
            self.error = error

    def __init__(
        self,
        host: TrainingHost,
        root: Path | None = None,
        *,
        cache: EntryCache | None = None,
        live_id: str | None = None,
    ) -> None:
        super().__init__(id="runs")
        from model.runs import runs_dir

        self.host = host
        self.root = runs_dir(None) if root is None else root
        self.cache = cache if cache is not None else EntryCache()
        self.live_id = live_id if live_id is not None else host.live_run_id()
        self.entries: list[RunEntry] = []
        self.loaded = False
        self._status = "reading runs…"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"Runs in {printable(shown_path(self.root))}   {LIVE_MARK} the live run   {PICKED_MARK} on the charts",
            id="runs-title",
            markup=False,
        )
        table: DataTable[str] = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(self._status, id="runs-note", markup=False)  # notes quote what a record holds
        yield KeyBar()

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#runs-table", DataTable)

    def on_mount(self) -> None:
        self.table.add_columns("", *SHOWN_COLUMNS)
        self.table.focus()
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-list")
    def _read(self) -> None:
        """Thread: read every record (newest first), posting rows every ``BATCH_SECONDS``."""
        worker = get_current_worker()
        batch: list[RunEntry] = []
        last = time.monotonic()
        try:
            for entry in load_entries(self.root, self.cache):
                if worker.is_cancelled:
                    return
                batch.append(entry)
                if time.monotonic() - last >= BATCH_SECONDS:
                    self.post_message(self.Loaded(batch, done=False))
                    batch, last = [], time.monotonic()
        except OSError as exc:
            where = printable(shown_path(self.root))
            self.post_message(self.Loaded(batch, done=True, error=f"cannot read {where}: {exc.strerror or exc}"))
            return
        self.post_message(self.Loaded(batch, done=True))

    def on_runs_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        for entry in message.entries:
            self.entries.append(entry)
            cells = [escape(c) for c in shown_cells(entry.cells)]  # the table reads markup: "[/x]" stays text
            table.add_row(self._mark(entry), *cells, key=str(len(self.entries) - 1))
        if message.done:
            self.loaded = True
        if message.error:
            self._status = message.error
        elif not self.entries and message.done:
            where = printable(shown_path(self.root))
            self._status = f"no recorded runs in {where} yet: every run the app or train makes is recorded there"
        else:
            unreadable = sum(bool(e.note) for e in self.entries)
            problems = f"; {unreadable} with problems (highlight one to see)" if unreadable else ""
            reading = "" if message.done else " (reading…)"
            self._status = f"{len(self.entries)} run{'s' * (len(self.entries) != 1)}{reading}{problems}"
        self._show_note()

    def _mark(self, entry: RunEntry) -> str:
        if entry.run_id == self.live_id:
            return LIVE_MARK
        return PICKED_MARK if entry.run_id in self._picked() else ""

    def _picked(self) -> list[str]:
        return [run.run_id for run in self.host.overlay()]

    def _highlighted(self) -> RunEntry | None:
        row = self.table.cursor_row
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def _show_note(self) -> None:
        entry = self._highlighted()
        note = entry.note if entry is not None and entry.note else self._status
        self.query_one("#runs-note", Static).update(note)

    def on_data_table_row_highlighted(self, _message: DataTable.RowHighlighted) -> None:
        self._show_note()

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Enter on a row."""
        message.stop()
        self.action_toggle()

    # ---- actions --------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.workers.cancel_group(self, "runs-list")
        self.dismiss()

    def action_toggle(self) -> None:  # type: ignore[override]  # DOMNode's toggle(attribute) is not bound here
        """Put the highlighted run on the charts, or take it off."""
        entry = self._highlighted()
        if entry is None:
            return
        if entry.run_id == self.live_id:
            self.notify("that is the live run: it is on the charts already")
            return
        if not len(entry.curves.loss_x) and not len(entry.curves.valid_x):
            self.notify(f"run {entry.run_id} has no curves to draw", severity="warning", markup=False)
            return
        overlay = self.host.overlay()
        if entry.run_id in self._picked():
            runs = [r for r in overlay if r.run_id != entry.run_id]
        else:
            label = overlay_label(entry.run_id, entry.hparams, self.host.live_settings())
            runs = [*overlay, OverlayRun(entry.run_id, label, entry.curves)]
        self.host.set_overlay(runs)
        self._refresh_marks()

    def action_clear(self) -> None:
        """Take every run off the charts."""
        self.host.set_overlay([])
        self._refresh_marks()

    def _refresh_marks(self) -> None:
        table = self.table
        column = next(iter(table.columns))
        for i, entry in enumerate(self.entries):
            table.update_cell(str(i), column, self._mark(entry))


def shown_path(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
