"""Recorded runs as the app shows them: list rows and the curves a run adds to the charts.

``load_entries`` reads run folders newest first (``model.runs`` does the reading and the
figures) and turns each into a ``RunEntry``: its row under ``LIST_COLUMNS`` (the columns of
``mnist-tui runs`` too) and
its ``RunCurves`` (smoothed loss, validation error, hyperparameter changes, steps), so the
lists of point dicts are dropped once read. ``EntryCache`` keeps entries of folders that did
not change since. ``overlay_label`` names a run by its short id and what differs from the
live run's settings. Drawing and keys are left to ``tui.screens.runs`` and the charts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.printable import printable
from model.runs import RunRecord, RunSummary, list_run_dirs, read_run, short_id, summarize
from model.runs.store import RunsError
from tui.format import format_percent, format_seconds, format_setting
from tui.view.series import F64

#: The columns of ``mnist-tui runs`` and of the app's run list, one ``list_row`` per run.
LIST_COLUMNS = ("id", "date", "from", "variant", "settings", "best valid", "test@best", "time", "changes", "status")
#: The settings a row names, with their short names.
KEY_HPARAMS = (("lr", "lr"), ("batch_size", "B"), ("hidden", "H"), ("activation", "act"), ("momentum", "mom"))
#: Settings named in an overlay's label, most telling first (the rest follow in record order).
LABEL_ORDER = ("variant", "lr", "batch_size", "hidden", "activation", "momentum", "schedule", "weight_decay", "seed")
#: Short names in labels; a field not listed keeps its own name.
SHORT_NAMES = {"batch_size": "B", "hidden": "H", "activation": "act", "momentum": "mom", "weight_decay": "wd"}
#: Fields an overlay's label leaves out: they say how long, not how it trains.
NOT_LABELLED = frozenset({"epochs"})
#: Settings named in a label at most.
LABEL_FIELDS = 2


def key_settings(s: RunSummary) -> str:
    """'lr=0.05 B=64 H=256 act=relu mom=0.9': the settings that tell runs apart at a glance."""
    return " ".join(f"{short}={s.hparams.get(name)}" for name, short in KEY_HPARAMS if name in s.hparams)


def source_text(s: RunSummary) -> str:
    """'app', or with the challenge it played: 'app too-hot ✓' (✓: solved)."""
    if not s.challenge:
        return s.source
    return f"{s.source} {s.challenge}{' ✓' if s.challenge_solved else ''}"


def list_row(s: RunSummary) -> list[str]:
    """A run's cells under ``LIST_COLUMNS``."""
    return [
        s.run_id,
        s.started[:16].replace("T", " "),
        source_text(s),
        s.variant,
        key_settings(s),
        format_percent(s.best_valid, "-"),
        format_percent(s.test_at_best, "-"),
        format_seconds(s.duration),
        str(s.interventions),
        s.status,
    ]


def _empty() -> F64:
    return np.empty(0, np.float64)


@dataclass
class RunCurves:
    """What a recorded run draws on the charts, all against examples seen.

    loss_x, loss_y: (L,) smoothed minibatch loss at the progress points; valid_x, valid_y: (V,)
    validation error in percent at the evaluations; step_x, step: (S,) examples seen and the step
    count at every point; changes: (examples, "lr 0.1") per hyperparameter change.
    """

    loss_x: F64 = field(default_factory=_empty)
    loss_y: F64 = field(default_factory=_empty)
    valid_x: F64 = field(default_factory=_empty)
    valid_y: F64 = field(default_factory=_empty)
    step_x: F64 = field(default_factory=_empty)
    step: F64 = field(default_factory=_empty)
    changes: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class RunEntry:
    """One run of the list: its id, cells, settings, curves and a note on what could not be read."""

    run_id: str
    cells: list[str]
    hparams: dict[str, Any]
    curves: RunCurves
    note: str = ""


def _xy(points: Sequence[Mapping[str, Any]], key: str, scale: float = 1.0) -> tuple[F64, F64]:
    """(x, y) of the points whose ``key`` is a finite number: x examples seen, y the value times ``scale``."""
    pairs = [
        (float(p.get("examples", 0)), float(v) * scale)
        for p in points
        if isinstance(v := p.get(key), int | float) and not isinstance(v, bool) and np.isfinite(v)
    ]
    if not pairs:
        return _empty(), _empty()
    xy = np.asarray(pairs, np.float64)  # (P, 2)
    return xy[:, 0].copy(), xy[:, 1].copy()


def run_curves(rec: RunRecord) -> RunCurves:
    """The curves of ``rec``: the smoothed loss of its step points (evaluation points carry none),
    the validation error (%), steps against examples and its hyperparameter changes."""
    steps = [p for p in rec.points if isinstance(p.get("step"), int)]
    loss_x, loss_y = _xy([p for p in rec.points if p.get("loss") is not None], "smoothed")
    valid_x, valid_y = _xy(rec.points, "valid_error", 100.0)
    step_x, step = _xy(steps, "step")
    changes = [
        (float(e.get("examples", 0)), f"{short_name(str(e.get('field')))} {format_setting(e.get('new'))}")
        for e in rec.events
        if e.get("event") == "hparam" and e.get("field") not in NOT_LABELLED
    ]
    return RunCurves(loss_x, loss_y, valid_x, valid_y, step_x, step, changes)


def short_name(name: str) -> str:
    return SHORT_NAMES.get(name, name)


def differences(hparams: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """Items like "lr 0.1" for the settings of ``hparams`` that differ from ``reference``, most telling first."""
    changed = [k for k, v in hparams.items() if k not in NOT_LABELLED and k in reference and reference[k] != v]
    changed.sort(key=lambda k: LABEL_ORDER.index(k) if k in LABEL_ORDER else len(LABEL_ORDER))
    return [f"{short_name(k)} {format_setting(hparams[k])}" for k in changed]


def overlay_label(run_id: str, hparams: Mapping[str, Any], reference: Mapping[str, Any]) -> str:
    """A run's name in a chart legend: short id and up to ``LABEL_FIELDS`` settings that differ
    from ``reference`` (the live run's), e.g. "3fa2 lr 0.1"; "3fa2 same" when none differ."""
    diff = differences(hparams, reference)
    shown = " ".join(diff[:LABEL_FIELDS]) + (" …" if len(diff) > LABEL_FIELDS else "")
    return f"{short_id(run_id)} {shown or 'same'}"


def entry_of(rec: RunRecord) -> RunEntry:
    """The list entry of a record read back."""
    return RunEntry(rec.run_id, list_row(summarize(rec)), dict(rec.meta.get("hparams") or {}), run_curves(rec))


def unreadable_cells(folder: Path) -> list[str]:
    """The row of a run whose record cannot be read: its folder name, "?"s, "unreadable"."""
    return [printable(folder.name)] + ["?"] * (len(LIST_COLUMNS) - 2) + ["unreadable"]


def unreadable_entry(folder: Path, reason: str) -> RunEntry:
    """A run whose record could not be read: listed by its folder name with the reason."""
    return RunEntry(printable(folder.name), unreadable_cells(folder), {}, RunCurves(), note=printable(reason))


def _stamp(folder: Path) -> tuple[int, int]:
    """(size, mtime) of the folder's metrics.jsonl: a record that grew or changed is read again."""
    try:
        st = (folder / "metrics.jsonl").stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


class EntryCache:
    """Entries of folders read before, valid while their metrics.jsonl keeps its size and time.

    Thread-safe: the list screen fills it from a thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int], RunEntry]] = {}

    def get(self, folder: Path) -> RunEntry:
        """The entry of ``folder``, read now unless cached and unchanged; never raises on a bad record."""
        stamp = _stamp(folder)
        with self._lock:
            hit = self._entries.get(folder)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            entry = entry_of(rec := read_run(folder))
        except RunsError as exc:
            return unreadable_entry(folder, str(exc))
        entry.note = rec.skipped_note()
        with self._lock:
            self._entries[folder] = (stamp, entry)
        return entry


def load_entries(root: Path, cache: EntryCache | None = None) -> Iterator[RunEntry]:
    """The runs under ``root``, newest first, one entry per run folder (see ``EntryCache.get``)."""
    cache = cache or EntryCache()
    for folder in reversed(list_run_dirs(root)):
        yield cache.get(folder)
