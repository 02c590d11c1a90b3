"""``mnist-tui runs`` (list, show, export, rm) and ``mnist-tui compare``: run records as text.

Reads what ``model.runs`` wrote; nothing here trains. Errors the user can fix (an unknown or
ambiguous id) are ``RunsError``, which the CLI prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from model.runs import RunRecord, RunSummary, find_run, list_run_dirs, read_run, runs_dir, summarize
from model.runs.store import RunsError

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
PLOT_MARKERS = ("braille", "x", "o", "+", "*", "#")
EVAL_MARKERS = ("●", "x", "o", "+", "*", "#")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
KEY_HPARAMS = (("lr", "lr"), ("batch_size", "B"), ("hidden", "H"), ("activation", "act"), ("momentum", "mom"))


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.2%}"


def _secs(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}s" if x < 120 else f"{x / 60:.1f}m"


def _key(s: RunSummary) -> str:
    return " ".join(f"{short}={s.hparams.get(name)}" for name, short in KEY_HPARAMS if name in s.hparams)


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _records(root: Path) -> list[RunRecord]:
    out = []
    for folder in list_run_dirs(root):
        try:
            out.append(read_run(folder))
        except RunsError as exc:
            print(f"mnist-tui: {exc}", file=sys.stderr)
    return out


#: The columns of ``mnist-tui runs`` (and of the app's run list), one ``list_row`` per run.
LIST_COLUMNS = ("id", "date", "from", "variant", "settings", "best valid", "test@best", "time", "changes", "status")


def list_row(s: RunSummary) -> list[str]:
    """A run's cells under ``LIST_COLUMNS``."""
    return [
        s.run_id,
        s.started[:16].replace("T", " "),
        s.source,
        s.variant,
        _key(s),
        _pct(s.best_valid),
        _pct(s.test_at_best),
        _secs(s.duration),
        str(s.interventions),
        s.status,
    ]


def cmd_list(root: Path, out: TextIO | None = None) -> int:
    """One line per run, oldest first."""
    out = out or sys.stdout
    recs = _records(root)
    if not recs:
        out.write(f"no runs in {root}\n")
        return 0
    rows = [list(LIST_COLUMNS)] + [list_row(summarize(rec)) for rec in recs]
    _table(rows, out)
    out.write(f"{len(recs)} run{'s' * (len(recs) > 1)} in {root}\n")
    for rec in recs:
        if rec.skipped:
            print(f"mnist-tui: run {rec.run_id}: {rec.skipped_note()}", file=sys.stderr)
    return 0


def _event_text(e: dict[str, Any]) -> str:
    skip = {"kind", "event", "step", "examples", "time"}
    if e.get("event") == "hparam":
        detail = f"{e.get('field')} {e.get('old')} -> {e.get('new')}"
    elif e.get("event") == "target":
        detail = (
            f"valid {_pct(e.get('valid_error'))} < {_pct(e.get('target'))} after {_secs(e.get('seconds'))} "
            f"training, {e.get('examples', 0):,} examples"
        )
    else:
        detail = " ".join(f"{k}={v}" for k, v in e.items() if k not in skip)
    return f"step {e.get('step', 0):>7}  {_secs(e.get('time')):>7}  {e.get('event', '?'):<10} {detail}".rstrip()


def cmd_show(root: Path, ident: str, out: TextIO | None = None) -> int:
    """A run's settings, figures, evaluations and events."""
    out = out or sys.stdout
    rec = read_run(find_run(root, ident))
    s, meta = summarize(rec), rec.meta
    out.write(f"run {s.run_id}  ({s.source}, started {s.started}, {s.status})\n")
    out.write(f"folder     {rec.folder}\n")
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
        f"figures    {s.steps:,} steps, {s.examples:,} examples, {_secs(s.duration)}; best valid "
        f"{_pct(s.best_valid)} (test {_pct(s.test_at_best)}) at step {'-' if s.best_step is None else s.best_step}; "
        f"final valid "
        f"{_pct(s.final_valid)}, test {_pct(s.final_test)}\n"
    )
    out.write(f"checkpoint {rec.checkpoint or '-'}\n")
    evals = rec.evaluations
    if evals:
        out.write("evaluations:\n")
        for p in evals:
            out.write(
                f"  step {p['step']:>7}  epoch {p.get('epoch', 0):6.2f}  train {_pct(p.get('train_error'))}  "
                f"valid {_pct(p.get('valid_error'))}  test {_pct(p.get('test_error'))}\n"
            )
    out.write(f"events ({len(rec.events)}):\n" if rec.events else "events: none\n")
    for e in rec.events:
        out.write(f"  {_event_text(e)}\n")
    if rec.skipped:
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


def cmd_export(root: Path, ident: str, fmt: str, output: str | None, out: TextIO | None = None) -> int:
    """The run's progress points as CSV, or the whole record as one JSON object."""
    out = out or sys.stdout
    rec = read_run(find_run(root, ident))
    buf = io.StringIO()
    if fmt == "csv":
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(csv_rows(rec))
    else:
        json.dump({"run": rec.meta, "points": rec.points, "events": rec.events}, buf)
        buf.write("\n")
    if output:
        Path(output).write_text(buf.getvalue())
        print(f"wrote {len(rec.points)} progress points of run {rec.run_id} to {output}", file=sys.stderr)
    else:
        out.write(buf.getvalue())
    if rec.skipped:
        print(f"mnist-tui: {rec.skipped_note()}", file=sys.stderr)
    return 0


def cmd_export_tensorboard(root: Path, ident: str, tensorboard: str) -> int:
    """Write the run's record as TensorBoard events in ``tensorboard/<run id>``."""
    if not tensorboard.strip():
        raise RunsError("--tensorboard needs a folder name (got an empty one)")
    from model.runs.tensorboard import export, require

    require()  # before reading anything: without tensorboardX this is one line naming the extra
    rec = read_run(find_run(root, ident))
    folder = export(rec, Path(tensorboard).expanduser(), warn=lambda text: print(f"mnist-tui: {text}", file=sys.stderr))
    images = "the final weights" if rec.checkpoint else "no weights (no final.npz)"
    print(
        f"wrote run {rec.run_id} to {folder}: {len(rec.points)} progress points, {len(rec.events)} events, "
        f"{images}; view with: tensorboard --logdir {tensorboard}",
        file=sys.stderr,
    )
    if rec.skipped:
        print(f"mnist-tui: {rec.skipped_note()}", file=sys.stderr)
    return 0


def cmd_rm(root: Path, ident: str, out: TextIO | None = None) -> int:
    """Delete one run's folder."""
    out = out or sys.stdout
    folder = find_run(root, ident)
    shutil.rmtree(folder)
    out.write(f"removed run {folder.name} ({folder})\n")
    return 0


def run_runs(args: argparse.Namespace) -> int:
    """The ``runs`` subcommand."""
    root = runs_dir(args.runs)
    action = getattr(args, "runs_command", None)
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


def add_arguments(sub: Any, add_runs_flag: Any) -> None:
    """The ``runs`` and ``compare`` subparsers (``--runs`` is accepted before or after the action)."""
    runs = sub.add_parser("runs", help="list recorded runs; show, export or remove one")
    add_runs_flag(runs)

    def add_runs_flag_here(p: argparse.ArgumentParser) -> None:  # SUPPRESS: do not undo "runs --runs DIR"
        p.add_argument("--runs", metavar="DIR", default=argparse.SUPPRESS, help="folder of run records")

    actions = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    show = actions.add_parser("show", help="one run: settings, figures, evaluations and events")
    show.add_argument("id", metavar="ID", help="run id or a unique prefix of it")
    add_runs_flag_here(show)
    export = actions.add_parser(
        "export",
        help="a run's progress points as CSV (columns: "
        + ", ".join(CSV_COLUMNS)
        + "), the whole record as JSON, or TensorBoard events",
    )
    export.add_argument("id", metavar="ID", help="run id or a unique prefix of it")
    kind = export.add_mutually_exclusive_group()
    kind.add_argument("--csv", action="store_true", help="one row per progress point (the default)")
    kind.add_argument("--json", action="store_true", help="one JSON object: run, points, events")
    kind.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="TensorBoard events in DIR/<run id>: scalars, events, the hyperparameter table and the final "
        "weights as an image (needs: pip install 'mnist-tui[tensorboard]')",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    add_runs_flag_here(export)
    rm = actions.add_parser("rm", help="delete a run's folder")
    rm.add_argument("id", metavar="ID", help="run id or a unique prefix of it")
    add_runs_flag_here(rm)
    cmp = sub.add_parser(
        "compare",
        help="runs side by side: final and best errors, time and examples to 5%% and 2%% and to a run's own "
        "--target-error, and a plot",
    )
    cmp.add_argument("ids", nargs="+", metavar="ID", help="run ids or unique prefixes")
    cmp.add_argument("--no-plot", action="store_true", help="only the table")
    cmp.add_argument("--width", type=int, default=100, help="plot width in characters (default 100)")
    cmp.add_argument("--height", type=int, default=20, help="plot height in lines (default 20)")
    add_runs_flag(cmp)
    rep = sub.add_parser(
        "replay",
        help="re-run a recorded run headless with its interventions; check the final weights bit for bit",
        description=(
            "Re-run a recorded run from its seed, applying every recorded intervention (hyperparameter "
            "changes, resets, loads) after the step it followed, and compare the final weights with the "
            "recorded checkpoint (sha256 of W1, b1, W2, b2). Where the replay departs from the record it "
            "says at which step and after which intervention. Exit 0 when identical, 1 otherwise."
        ),
    )
    rep.add_argument("id", metavar="ID", help="run id or a unique prefix of it")
    rep.add_argument("--data", metavar="PATH", help="MNIST file or folder (default: the cache)")
    add_runs_flag(rep)


# ---- compare -------------------------------------------------------------------------------


def compare_table(summaries: list[RunSummary], out: TextIO) -> None:
    """Final and best figures, and time / examples to each target validation error."""
    targets = sorted({t for s in summaries for t in s.to_target}, reverse=True)
    head = ["id", "variant", "settings", "steps", "time", "final valid", "final test", "best valid", "test@best"]
    head += [f"to {t:.0%} valid" for t in targets]
    own = any(s.own_target is not None for s in summaries)
    if own:
        head.append("to own target (training time)")
    rows = [head]
    for s in summaries:
        row = [s.run_id, s.variant, _key(s), f"{s.steps:,}", _secs(s.duration), _pct(s.final_valid)]
        row += [_pct(s.final_test), _pct(s.best_valid), _pct(s.test_at_best)]
        for t in targets:
            hit = s.to_target.get(t)
            row.append("not reached" if hit is None else f"{_secs(hit[0])} / {hit[1]:,} ex")
        if own:
            row.append(_own_target(s))
        rows.append(row)
    _table(rows, out)


def _own_target(s: RunSummary) -> str:
    """'< 2.00%: 41.2s / 1,200,000 ex (step 9,375)', '< 2.00%: not reached', or '-' for a run with no target."""
    if s.own_target is None:
        return "-"
    if s.to_own_target is None:
        return f"< {_pct(s.own_target)}: not reached"
    seconds, examples, step = s.to_own_target
    return f"< {_pct(s.own_target)}: {_secs(seconds)} / {examples:,} ex (step {step:,})"


def compare_plot(recs: list[RunRecord], width: int = 100, height: int = 20, color: bool = False) -> str:
    """Two terminal plots side by side: smoothed minibatch loss and validation error (%), both
    against epochs, one line per run (labelled with the run id)."""
    import plotext as plt

    plt.clear_figure()
    plt.plot_size(max(width, 40), max(height, 10))
    if not color:
        plt.theme("clear")
    plt.subplots(1, 2)
    panels: tuple[tuple[str, Callable[[dict[str, Any]], bool], str, float], ...] = (
        ("smoothed loss", lambda p: p.get("loss") is not None and p.get("smoothed") is not None, "smoothed", 1.0),
        ("valid error %", lambda p: p.get("valid_error") is not None, "valid_error", 100.0),
    )
    last_epoch = max((float(p.get("epoch", 0.0)) for r in recs for p in r.points), default=1.0)
    for col, (title, keep, key, scale) in enumerate(panels, start=1):
        plt.subplot(1, col)
        plt.title(title)
        plt.xlabel("epoch")
        plt.xlim(0.0, max(last_epoch, 1e-3))
        for i, rec in enumerate(recs):
            pts = [p for p in rec.points if keep(p)]
            if len(pts) > 400:  # a few hundred points draw fast and look the same
                pts = pts[:: math.ceil(len(pts) / 400)]
            if not pts:
                continue
            x = [float(p.get("epoch", 0.0)) for p in pts]
            y = [float(p[key]) * scale for p in pts]
            marker = PLOT_MARKERS[i % len(PLOT_MARKERS)]  # without colour the markers tell runs apart
            if col == 1:
                plt.plot(x, y, label=rec.run_id, marker=marker)
            else:  # evaluations are a few points (one per epoch): show each
                plt.plot(x, y, label=rec.run_id, marker=EVAL_MARKERS[i % len(EVAL_MARKERS)])
    text = str(plt.build())
    plt.clear_figure()
    return text if color else ANSI.sub("", text)


def run_compare(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``compare`` subcommand."""
    out = out or sys.stdout
    root = runs_dir(args.runs)
    folders = [find_run(root, ident) for ident in args.ids]
    recs = [read_run(f) for f in folders]
    compare_table([summarize(r) for r in recs], out)
    for rec in recs:
        if rec.skipped:
            out.write(f"note: run {rec.run_id}: {rec.skipped_note()}\n")
    if not args.no_plot:
        out.write("\n" + compare_plot(recs, args.width, args.height, color=out.isatty()) + "\n")
    return 0


# ---- replay --------------------------------------------------------------------------------


def run_replay(args: argparse.Namespace, data: Any, out: TextIO | None = None) -> int:
    """The ``replay`` subcommand; ``data`` is the loaded MNIST."""
    from model.runs import data_tag, find_run, read_run
    from model.runs.replay import replay
    from model.threads import set_blas_threads

    out = out or sys.stdout
    record = read_run(find_run(runs_dir(args.runs), args.id))
    blas = (record.meta.get("machine") or {}).get("blas_threads")
    threads = int(blas) if blas and str(blas).isdigit() else 1
    set_blas_threads(threads)  # float sums depend on how BLAS splits them: use the run's count
    print(
        f"replaying {record.run_id} ({record.meta.get('source')}, seed {record.meta.get('seed')}, "
        f"{threads} BLAS thread{'s' * (threads != 1)})",
        file=out,
    )
    result = replay(record, data, data_tag=data_tag(data))
    for caveat in result.caveats:
        print(f"not reproducible: {caveat}", file=out)
    print(f"{result.steps:,} steps, {result.interventions} interventions applied", file=out)
    print(f"recorded final weights sha256 {result.recorded_hash or '(none)'}", file=out)
    print(f"replayed final weights sha256 {result.replayed_hash}", file=out)
    if result.identical:
        print("identical: the replay reproduces the run bit for bit", file=out)
        return 0
    if result.departed_at is not None:
        after = f" after {result.departed_after}" if result.departed_after else " (before any intervention)"
        print(f"departs at step {result.departed_at:,}{after}: its loss differs from the record", file=out)
    else:
        print("differs: every recorded loss matched but the final weights do not", file=out)
    return 1
