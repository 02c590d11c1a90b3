"""The benchmark command: measure every group of rows, print one table (and a short header).

``run_bench`` is what ``mnist-tui bench`` calls (its options are ``tui.cli.bench``'s). Progress
goes to stderr; the table (text, ``--markdown`` or ``--json``) to stdout. A group that
fails becomes one "error" row with a one-line reason instead of stopping the run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from tui.bench.table import ERROR, FAIL, Row, render


def context() -> dict[str, str]:
    """Facts that make the numbers interpretable: versions, BLAS kernel and threads, environment, load."""
    import numpy as np
    from threadpoolctl import threadpool_info

    blas: dict[str, object] = next((i for i in threadpool_info() if i.get("user_api") == "blas"), {})
    env = {v: os.environ.get(v, "unset") for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('internal_api', '?')} {blas.get('version', '?')} {blas.get('architecture', '?')}",
        "blas_threads": str(blas.get("num_threads", "?")),
        "cpus": str(os.cpu_count()),
        "env": ", ".join(f"{k}={v}" for k, v in env.items()),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?",
    }


def collect(quick: bool, threads: int, data_path: str | None, best: bool, log: object = None) -> list[Row]:
    """Measure every group; returns the table's rows in order."""
    from tui.bench.data import bench_data
    from tui.bench.rows import GROUPS, Bench, best_preset_row

    say = log if callable(log) else (lambda message: None)
    bench = Bench(bench_data(quick, data_path), threads, quick, data_path, say)
    groups = [*GROUPS, ("best preset", lambda b: best_preset_row(b, best))]
    rows: list[Row] = []
    for label, measure in groups:
        say(f"measuring {label} ...")
        t0 = time.perf_counter()
        try:
            rows.extend(measure(bench))
        except Exception as exc:  # one failing figure must not hide the others
            rows.append(Row(label, "-", f"{type(exc).__name__}: {exc}".splitlines()[0], status=ERROR))
        say(f"  {time.perf_counter() - t0:.1f} s")
    return rows


def run_bench(quick: bool, threads: int, data_path: str | None, best: bool, fmt: str = "text") -> int:
    """Run the suite and print it; exit status 1 if a figure failed or errored (0 in quick mode)."""
    from threadpoolctl import threadpool_limits

    from model.data import DataError  # imports numpy, so its BLAS is loaded and can be limited

    threadpool_limits(threads)

    started = time.perf_counter()
    before = context()
    try:
        rows = collect(quick, threads, data_path, best, log=lambda m: print(m, file=sys.stderr, flush=True))
    except DataError as exc:
        print(f"mnist-tui bench: {exc}", file=sys.stderr)
        return 2
    after = context()
    took = time.perf_counter() - started
    if fmt == "json":
        print(
            json.dumps(
                {"context": before, "load_after": after["load"], "seconds": took, "rows": [r.to_dict() for r in rows]}
            )
        )
    else:
        print(
            f"mnist-tui bench{' --quick' if quick else ''}: {before['blas_threads']} BLAS thread(s), {before['blas']}, "
            f"numpy {before['numpy']}, Python {before['python']}, {before['cpus']} CPUs; {before['env']}; "
            f"load {before['load']} -> {after['load']}; {took:.0f} s"
        )
        print(render(rows, markdown=fmt == "markdown"))
    bad = [r for r in rows if r.status in (FAIL, ERROR)]
    return 0 if quick and not any(r.status == ERROR for r in rows) else int(bool(bad))
