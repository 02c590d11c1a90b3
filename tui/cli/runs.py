"""``mnist-tui runs`` (list, show, export, rm): run records as text, CSV, JSON or TensorBoard events.

Reads what ``model.runs`` wrote (every field checked, every text escaped for the terminal); nothing
here trains. The list shows an unreadable record as such and goes on; a command about one run
whose record is unreadable, an unknown or ambiguous id, or an export that would write over the
record it exports is a ``RunsError``, printed as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tui.cli.common import UserError, add_runs_flag, typed_path, warn

if TYPE_CHECKING:
    from model.runs import RunRecord
    from tui.cli.common import Subcommands

NAME = "runs"
#: Columns of ``runs export --csv``, one row per progress point (empty where not measured).
CSV_COLUMNS = (
    "step",  # SGD steps done
    "examples",  # training examples seen
    "epoch",  # fractional epochs done
    "time",  # wall seconds since the run started
    "lr",  # learning rate of the next step
    "loss",  # the minibatch loss of this step (empty on evaluation rows)
    "smoothed",  # exponential mean of the minibatch losses
    "train_error",  # running train error over the epoch (evaluation rows)
    "valid_error",
    "test_error",
    "train_loss",
    "valid_loss",
    "test_loss",
    "angle_W1",  # degrees between the update and the true gradient, when measured
    "angle_W2",
)
ID_HELP = "run id, a unique prefix of it, or its last four hex digits as the app shows them"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    """``runs`` and its actions (``--runs`` is accepted before or after the action)."""
    runs = sub.add_parser(NAME, help="list recorded runs; show, export or remove one")
    add_runs_flag(runs)
    actions = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    show = actions.add_parser("show", help="one run: settings, figures, evaluations and events")
    export = actions.add_parser(
        "export",
        help="a run's progress points as CSV (columns: "
        + ", ".join(CSV_COLUMNS)
        + "), the whole record as JSON, or TensorBoard events",
    )
    rm = actions.add_parser("rm", help="delete a run's folder")
    for action in (show, export, rm):
        action.add_argument("id", metavar="ID", help=ID_HELP)
        # SUPPRESS: a value given before the action ("runs --runs DIR show ID") is not undone here
        action.add_argument(
            "--runs", metavar="DIR", type=typed_path, default=argparse.SUPPRESS, help="folder of run records"
        )
    kind = export.add_mutually_exclusive_group()
    kind.add_argument("--csv", action="store_true", help="one row per progress point (the default)")
    kind.add_argument("--json", action="store_true", help="one JSON object: run, points, events")
    kind.add_argument(
        "--tensorboard",
        metavar="DIR",
        type=typed_path,
        help="TensorBoard events in DIR/<run id>: scalars, events, the hyperparameter table and the final "
        "weights as an image (needs: pip install 'mnist-tui[tensorboard]')",
    )
    export.add_argument("-o", "--output", metavar="FILE", type=typed_path, help="write here instead of stdout")
    return runs


def run(args: argparse.Namespace) -> int:
    """The ``runs`` subcommand; a RunsError is one line, exit 2."""
    from model.runs import RunsError, runs_dir

    root = runs_dir(args.runs)
    action = getattr(args, "runs_command", None)
    try:
        if action == "show":
            return cmd_show(root, args.id)
        if action == "export" and getattr(args, "tensorboard", None) is not None:
            if args.output:
                raise RunsError("export: -o/--output is for --csv and --json; --tensorboard writes DIR/<run id>")
            return cmd_export_tensorboard(root, args.id, args.tensorboard)
        if action == "export":
            return cmd_export(root, args.id, "json" if args.json else "csv", args.output)
        if action == "rm":
            return cmd_rm(root, args.id)
        return cmd_list(root)
    except RunsError as exc:
        raise UserError(str(exc)) from None


def printable(text: str) -> str:
    """``model.printable.printable`` (imported when used: ``--help`` loads no numpy)."""
    from model.printable import printable as escape

    return escape(text)


def table(rows: list[list[str]], out: TextIO) -> None:
    """``rows`` (the first is the header) as left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _records(root: Path) -> list[RunRecord | tuple[Path, str]]:
    """Every record under ``root`` (oldest first), or (its folder, why) where it is unreadable."""
    from model.runs import RunsError, list_run_dirs, read_run

    try:
        folders = list_run_dirs(root)
    except OSError as exc:
        raise RunsError(f"{printable(str(root))}: {exc.strerror or exc}") from None
    out: list[RunRecord | tuple[Path, str]] = []
    for folder in folders:
        try:
            out.append(read_run(folder))
        except RunsError as exc:
            out.append((folder, str(exc)))
    return out


def cmd_list(root: Path, out: TextIO | None = None) -> int:
    """One line per run, oldest first; an unreadable record is a row saying so (why: on stderr)."""
    from model.runs import summarize
    from tui.view.runs import LIST_COLUMNS, list_row, unreadable_cells

    out = out or sys.stdout
    recs = _records(root)
    if not recs:
        out.write(f"no runs in {printable(str(root))}\n")
        return 0
    rows = [list(LIST_COLUMNS)]
    rows += [list_row(summarize(r)) if not isinstance(r, tuple) else unreadable_cells(r[0]) for r in recs]
    table(rows, out)
    out.write(f"{len(recs)} run{'s' * (len(recs) > 1)} in {printable(str(root))}\n")
    for r in recs:
        if isinstance(r, tuple):
            warn(r[1])  # names the folder and the file
        elif r.skipped_note():
            warn(f"run {r.run_id}: {r.skipped_note()}")
    return 0


def _event_text(e: dict[str, Any]) -> str:
    from tui.format import format_percent, format_seconds

    skip = {"kind", "event", "step", "examples", "time"}
    if e.get("event") == "hparam":
        detail = f"{e.get('field')} {e.get('old')} -> {e.get('new')}"
    elif e.get("event") == "target":
        valid, target = format_percent(e.get("valid_error"), "-"), format_percent(e.get("target"), "-")
        took = format_seconds(e.get("seconds"))
        detail = f"valid {valid} < {target} after {took} training, {e.get('examples', 0):,} examples"
    else:
        detail = " ".join(f"{k}={v}" for k, v in e.items() if k not in skip)
    return (
        f"step {e.get('step', 0):>7}  {format_seconds(e.get('time')):>7}  {e.get('event', '?'):<10} {detail}".rstrip()
    )


def cmd_show(root: Path, ident: str, out: TextIO | None = None) -> int:
    """A run's settings, figures, evaluations and events."""
    from model.runs import find_run, read_run, summarize
    from tui.format import format_percent, format_seconds
    from tui.view.runs import source_text

    out = out or sys.stdout
    rec = read_run(find_run(root, ident))
    s, meta = summarize(rec), rec.meta
    out.write(f"run {s.run_id}  ({source_text(s)}, started {s.started}, {s.status})\n")
    out.write(f"folder     {printable(str(rec.folder))}\n")
    hp = " ".join(f"{k}={v}" for k, v in s.hparams.items())
    out.write(f"settings   {hp}\n")
    machine = meta.get("machine", {})
    out.write(
        f"data       {meta.get('data', '?')}   version {meta.get('version', '?')}   "
        f"{machine.get('cpu', '?')}, {machine.get('blas', '?')}, BLAS threads {machine.get('blas_threads', '?')}\n"
    )
    if isinstance(meta.get("study"), dict):
        st = meta["study"]
        out.write(f"study      cell {st.get('key')} ({st.get('label')}), seed {st.get('seed')}\n")
    if meta.get("resumed_from"):
        out.write(f"resumed    from {meta['resumed_from']} at step {meta.get('start_step')}\n")
    out.write(
        f"figures    {s.steps:,} steps, {s.examples:,} examples, {format_seconds(s.duration)}; best valid "
        f"{format_percent(s.best_valid, '-')} (test {format_percent(s.test_at_best, '-')}) at step "
        f"{'-' if s.best_step is None else s.best_step}; final valid {format_percent(s.final_valid, '-')}, "
        f"test {format_percent(s.final_test, '-')}\n"
    )
    out.write(f"checkpoint {printable(str(rec.checkpoint or '-'))}\n")
    evals = rec.evaluations
    if evals:
        out.write("evaluations:\n")
        for p in evals:
            errors = {k: format_percent(p.get(f"{k}_error"), "-") for k in ("train", "valid", "test")}
            out.write(
                f"  step {p['step']:>7}  epoch {p.get('epoch', 0):6.2f}  train {errors['train']}  "
                f"valid {errors['valid']}  test {errors['test']}\n"
            )
    out.write(f"events ({len(rec.events)}):\n" if rec.events else "events: none\n")
    for e in rec.events:
        out.write(f"  {_event_text(e)}\n")
    if rec.skipped_note():
        out.write(f"note: {rec.skipped_note()}\n")
    return 0


def csv_rows(rec: RunRecord) -> list[dict[str, Any]]:
    """One dict per progress point with the ``CSV_COLUMNS`` keys (None where not measured)."""
    rows = []
    for p in rec.points:
        angles = p.get("angles") or {}
        row = {c: p.get(c) for c in CSV_COLUMNS}
        row["angle_W1"], row["angle_W2"] = angles.get("W1"), angles.get("W2")
        rows.append(row)
    return rows


def export_target(output: str, rec: RunRecord) -> Path:
    """Where ``-o`` may write: not a special file (a FIFO would block), not the record's folder or
    anything in it (nor a link or hard link to one of its files). RunsError (one line) otherwise."""
    from model.runs import RunsError

    path = Path(output).expanduser()
    shown = printable(output)
    folder = rec.folder.resolve()
    real = path.resolve()
    if real == folder or folder in real.parents:
        raise RunsError(f"{shown}: is in the folder of run {rec.run_id}, the record it exports; write elsewhere")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a special file"
        raise RunsError(f"{shown}: is {kind}, not a regular file; to stream the export, leave out -o and redirect")
    for member in rec.folder.iterdir():
        try:
            if os.path.samestat(st, os.stat(member)):
                raise RunsError(
                    f"{shown}: is {member.name} of run {rec.run_id}, the record it exports; write elsewhere"
                )
        except OSError:
            continue
    return path


def cmd_export(root: Path, ident: str, fmt: str, output: str | None, out: TextIO | None = None) -> int:
    """The run's progress points as CSV, or the whole record as one JSON object; ``output``: written
    atomically there (never over the record itself), else to ``out``."""
    from model.atomic import atomic_write
    from model.runs import find_run, read_run

    out = out or sys.stdout
    rec = read_run(find_run(root, ident))
    target = export_target(output, rec) if output else None
    buf = io.StringIO()
    if fmt == "csv":
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(csv_rows(rec))
    else:
        json.dump({"run": rec.meta, "points": rec.points, "events": rec.events}, buf)
        buf.write("\n")
    if target is not None:
        data = buf.getvalue().encode()
        atomic_write(target, lambda f: f.write(data))
        warn(f"wrote {len(rec.points)} progress points of run {rec.run_id} to {output}")
    else:
        out.write(buf.getvalue())
    if rec.skipped_note():
        warn(rec.skipped_note())
    return 0


def cmd_export_tensorboard(root: Path, ident: str, tensorboard: str) -> int:
    """Write the run's record as TensorBoard events in ``tensorboard/<run id>``."""
    from model.runs import RunsError, find_run, read_run

    if not tensorboard.strip():
        raise RunsError("--tensorboard needs a folder name (got an empty one)")
    from model.runs.tensorboard import export, require

    require()  # before reading anything: without tensorboardX this is one line naming the extra
    rec = read_run(find_run(root, ident))
    folder = export(rec, Path(tensorboard).expanduser(), warn=warn)
    images = "the final weights" if rec.checkpoint else "no weights (no final.npz)"
    warn(
        f"wrote run {rec.run_id} to {folder}: {len(rec.points)} progress points, {len(rec.events)} events, "
        f"{images}; view with: tensorboard --logdir {tensorboard}"
    )
    if rec.skipped_note():
        warn(rec.skipped_note())
    return 0


def cmd_rm(root: Path, ident: str, out: TextIO | None = None) -> int:
    """Delete one run's folder; a run that is a link to a folder elsewhere loses the link only."""
    from model.runs import find_run

    out = out or sys.stdout
    folder = find_run(root, ident)
    shown = printable(str(folder))
    if folder.is_symlink():
        folder.unlink()
        out.write(f"removed the link {shown} (its target {printable(str(folder.resolve()))} is left as it was)\n")
        return 0
    shutil.rmtree(folder)
    out.write(f"removed run {printable(folder.name)} ({shown})\n")
    return 0
