"""Smoke test of ``mnist-tui bench --quick``, the table logic and the in-app session.

No timing asserts (the box is shared): a row must be produced, well formed and finite; how fast
is what ``mnist-tui bench`` reports, never a pass/fail here.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from harness.terminal import MNIST_TUI

from tui.bench.data import synthetic_mnist
from tui.bench.in_app import ROUND, app_settings, percentile, run_app_session
from tui.bench.measure import eval_flops, train_flops
from tui.bench.table import FAIL, INFO, PASS, QUICK, SKIP, Row, at_least, at_most, render
from tui.cli import main

APP_ROW = "app start to training screen"
FIGURES = (
    "float32 GEMM rate",
    "epoch H=800 B=128: bound / time",
    "epoch H=100 B=128: bound / time",
    "epoch H=256 B=64: bound / time (app defaults)",
    "numpy / PyTorch time, H=800 B=128, 1 thread",
    "numpy / PyTorch time, H=800 B=128, 2 threads",
    "2 vs 1 BLAS threads, H=800 B=128",
    "2 vs 1 BLAS threads, H=256 B=64",
    "step, 2 threads, H=800 B=128: bound / time",
    "time to < 5% test error (defaults)",
    "evaluate 1,000 test examples, H=800: time / bound",
    "drawn-digit path, 1,000 test digits: accuracy",
    "drawing pad: mouse move → bars p95",
    "mnist-tui --help (whole process)",
    "import model (numpy included)",
    APP_ROW,
    "in the app, B=16: training rate / headless",
    "in the app, B=16: key → screen p95",
    "in the app, B=16: first ? → help",
    "max RSS, training H=800 B=128",
    "speedrun (--preset speedrun), 1 thread: test error",
    "speedrun, 1 thread: training seconds",
    "speedrun, 1 thread: mnist-tui / PyTorch time",
    "test error, --preset best",
)


@pytest.fixture(scope="module")
def quick_report() -> dict[str, Any]:
    """One ``bench --quick --json`` run through the real command line, shared by the tests below."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["bench", "--quick", "--json", "--threads", "1"])
    assert status == 0
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


@pytest.mark.slow
def test_quick_table_has_every_row_and_no_errors(quick_report: dict[str, Any]) -> None:
    rows = [Row(**r) for r in quick_report["rows"]]
    figures = [r.figure for r in rows]
    for wanted in FIGURES:
        assert any(f.startswith(wanted) for f in figures), f"missing row {wanted!r} in {figures}"
    assert len(rows) == len(FIGURES)
    # Quick mode never passes or fails a target, and none of the bench's own measurements may error.
    # The app row runs the app in a child process: its start-up is the app's own tests' business.
    bad = [(r.figure, r.measured) for r in rows if r.status not in (QUICK, INFO, SKIP) and r.figure != APP_ROW]
    assert not bad, bad


NUMBER = r"(\d+(?:\.\d+)?)"


@pytest.mark.slow
def test_quick_rows_carry_measured_values(quick_report: dict[str, Any]) -> None:
    """Each row is produced and well formed, its figures finite and positive; how large they
    are (a speed) is not checked: the box is shared."""
    rows = {r["figure"]: r for r in quick_report["rows"]}
    for figure in ("epoch H=800 B=128: bound / time", "epoch H=256 B=64: bound / time (app defaults)"):
        epoch = rows[figure]
        assert "bound" in epoch["measured"]
        assert figure.endswith("(app defaults)") or (math.isfinite(epoch["margin"]) and epoch["margin"] > 0)
        ceiling = re.search(rf"; the two large products alone {NUMBER}$", epoch["measured"])
        assert ceiling and 0 < float(ceiling[1]) < math.inf, epoch["measured"]
    step = rows["step, 2 threads, H=800 B=128: bound / time"]
    assert math.isfinite(step["margin"]) and step["margin"] > 0
    for part in ("products", "products + W1 update", "step with numpy's update"):
        found = re.search(rf"(?:; |, ){re.escape(part)} {NUMBER}(?:,| \()", step["measured"])
        assert found and 0 < float(found[1]) < math.inf, (part, step["measured"])
    speedrun = rows["speedrun (--preset speedrun), 1 thread: test error, mean of 3 seeds"]
    assert re.match(rf"{NUMBER}% \({NUMBER}%\), after [\d,]+ examples", speedrun["measured"]), speedrun
    seconds = rows["speedrun, 1 thread: training seconds at 100 GFLOP/s"]
    assert math.isfinite(seconds["margin"]) and seconds["margin"] > 0
    assert rows["speedrun, 1 thread: mnist-tui / PyTorch time, same recipe"]["status"] == SKIP
    rss = re.fullmatch(rf"{NUMBER} MB after .*", rows["max RSS, training H=800 B=128"]["measured"])
    assert rss and float(rss[1]) > 0
    for threads in ("1 thread", "2 threads"):  # torch is never imported in quick mode
        assert rows[f"numpy / PyTorch time, H=800 B=128, {threads}"]["status"] == SKIP
    assert rows["test error, --preset best"]["status"] == SKIP
    assert "blas" in quick_report["context"]


def test_margins_are_oriented_so_one_passes() -> None:
    assert at_most("t", 1.5, 2.0, "≤ 2 s", "1.5 s").status == PASS
    assert at_most("t", 2.5, 2.0, "≤ 2 s", "2.5 s").margin == pytest.approx(0.8)
    assert at_least("r", 0.8, 0.75, "≥ 0.75", "0.8").status == PASS
    assert at_least("r", 0.6, 0.75, "≥ 0.75", "0.6").status == FAIL
    assert at_least("r", 0.6, 0.75, "≥ 0.75", "0.6", quick=True).status == QUICK


def test_render_aligns_text_and_writes_markdown() -> None:
    rows = [Row("a figure", "≤ 1 s", "0.5 s", 2.0, PASS), Row("b", "info", "x")]
    text = render(rows).splitlines()
    assert len(text) == 4 and text[0].startswith("figure") and set(text[1]) <= {"-", " "}
    assert text[2].index("≤ 1 s") == text[0].index("target")
    md = render(rows, markdown=True).splitlines()
    assert md[1] == "|---|---|---|---|---|" and md[2] == "| a figure | ≤ 1 s | 0.5 s | 2.00 | PASS |"


def test_flop_counts_match_the_formula() -> None:
    assert train_flops(50_000, 800) == 50_000 * (4 * 784 * 800 + 60 * 800)
    assert eval_flops(10_000, 800) == 10_000 * (2 * 784 * 800 + 20 * 800)


def test_synthetic_data_looks_like_mnist() -> None:
    d = synthetic_mnist(n_train=500, n_eval=100)
    assert d.train_x.shape == (500, 784) and d.train_x.dtype == np.float32 and d.train_y.dtype == np.int64
    assert d.test_x.min() >= 0.0 and d.test_x.max() < 1.0 and set(np.unique(d.valid_y)) <= set(range(10))


def test_percentile_is_nearest_rank() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(101)], 0.95) == 95.0
    assert np.isnan(percentile([], 0.5))


@pytest.mark.slow  # the app in a pseudo-terminal
def test_every_key_of_a_round_shows_on_screen_and_the_run_is_read_back(tiny_npz: Path) -> None:
    pytest.importorskip("pyte")
    settings = app_settings({"batch_size": 16, "hidden": 16, "epochs": 1000}, str(tiny_npz))
    # each key waits until the last one showed: a loaded machine may take longer than the gap to show one
    run = run_app_session(MNIST_TUI, settings, dict(os.environ), 1.0, random.Random(0), wait_shown=True)
    assert run.missed == 0
    timed = {name for _, name, _, is_timed in ROUND if is_timed}
    assert set(run.latencies) == timed and all(run.latencies.values())
    assert all(x > 0 for xs in run.latencies.values() for x in xs)
    assert run.examples > 0 and run.train_seconds > 0 and run.rate > 0
