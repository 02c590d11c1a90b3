"""The view models behind the panels: digit selection, curve storage and smoothing, ticks, formats."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from model.analysis import Misclassified, confusion_matrix
from tui.format import format_compact, format_count
from tui.view.chart import Marker, marker_labels
from tui.view.selection import MistakeBrowser, cycle_class, relocate, select
from tui.view.series import GrowingArray, RunningEMA, downsample, ema
from tui.view.ticks import log_ticks, nice_ticks, stepped_ticks
from tui.widgets.charts import DEGREE_STEPS


def ema_reference(values: np.ndarray, alpha: float) -> np.ndarray:
    """The recurrence written out; non-finite inputs skipped (NaN out, state kept)."""
    s, out = None, []
    for v in values:
        if not np.isfinite(v):
            out.append(np.nan)
            continue
        s = v if s is None else (1 - alpha) * s + alpha * v
        out.append(s)
    return np.array(out)


def make_result(true: list[int], pred: list[int], conf: list[float]) -> Misclassified:
    """A hand-made misclassified set: probability ``conf`` on the predicted class."""
    n = len(true)
    probs = np.full((n, 10), 0.0, np.float32)
    for i, (p, c) in enumerate(zip(pred, conf, strict=True)):
        probs[i] = (1 - c) / 9
        probs[i, p] = c
    cm = confusion_matrix(true, pred)
    return Misclassified(
        images=np.zeros((n, 784), np.float32),
        true=np.array(true, np.int64),
        pred=np.array(pred, np.int64),
        probs=probs,
        indices=np.arange(n, dtype=np.int64) * 10 + 3,
        confusion=cm,
        total=100,
    )


# ---- selection for the viewer ---------------------------------------------------------


def test_select_filters_and_sorts() -> None:
    res = make_result(true=[1, 1, 2, 1, 3], pred=[7, 2, 7, 7, 8], conf=[0.5, 0.9, 0.6, 0.8, 0.4])
    assert_array_equal(select(res), [0, 1, 2, 3, 4])
    assert_array_equal(select(res, true_class=1), [0, 1, 3])
    assert_array_equal(select(res, pred_class=7), [0, 2, 3])
    assert_array_equal(select(res, true_class=1, pred_class=7), [0, 3])
    assert_array_equal(select(res, true_class=5), [])
    assert_array_equal(select(res, order="confident"), [1, 3, 2, 0, 4])
    assert_array_equal(select(res, order="unsure"), [4, 0, 2, 3, 1])
    assert_array_equal(select(res, pred_class=7, order="confident"), [3, 2, 0])


def test_relocate_keeps_the_image_or_a_sensible_neighbour() -> None:
    rows = np.array([3, 13, 23, 43])
    assert relocate(rows, 23, 0, "index") == 2  # same image, wherever it moved
    assert relocate(rows, 33, 0, "index") == 3  # gone: the next one in set order
    assert relocate(rows, 99, 0, "index") == 3  # past the end: the last
    assert relocate(rows, 33, 1, "confident") == 1  # gone, sorted view: same position
    assert relocate(rows, None, 9, "unsure") == 3  # clipped to the new length
    assert relocate(np.zeros(0, np.int64), 3, 5, "index") == 0


# ---- curves -----------------------------------------------------------------------------


def test_growing_array_appends_many_chunks() -> None:
    buf = GrowingArray(capacity=2)
    expected: list[float] = []
    for i in range(300):
        chunk = np.arange(i % 7) + i
        buf.extend(chunk)
        expected.extend(chunk.tolist())
    buf.extend(5.0)
    expected.append(5.0)
    assert_array_equal(buf.values, expected)
    buf.clear()
    assert len(buf) == 0


def test_downsample_keeps_ends_extremes_and_bounds_count() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(100_003, dtype=np.float64)
    y = rng.standard_normal(len(x))
    y[54_321] = 40.0  # a spike must survive
    y[77_777] = -40.0
    xd, yd = downsample(x, y, 400)
    assert len(xd) <= 400
    assert xd[0] == 0 and xd[-1] == x[-1]
    assert np.all(np.diff(xd) > 0)
    assert yd.max() == 40.0 and yd.min() == -40.0
    # Every kept point is an original point.
    assert_array_equal(yd, y[xd.astype(int)])


def test_downsample_small_input_is_a_copy() -> None:
    x, y = np.arange(5.0), np.arange(5.0) ** 2
    xd, yd = downsample(x, y, 10)
    assert_array_equal(xd, x)
    assert_array_equal(yd, y)
    xd[0] = 99
    assert x[0] == 0
    with pytest.raises(ValueError):
        downsample(x, y, 3)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), max_points=st.integers(4, 500))
def test_downsample_property(n: int, max_points: int) -> None:
    y = np.sin(np.arange(n) * 0.37) * np.arange(n)
    xd, yd = downsample(np.arange(n, dtype=float), y, max_points)
    assert 1 <= len(xd) <= max(max_points, 1)
    assert xd[0] == 0 and xd[-1] == n - 1
    assert yd.max() == y.max() and yd.min() == y.min()


@pytest.mark.parametrize("alpha", [0.005, 0.02, 0.3, 1.0])
def test_ema_matches_the_recurrence(alpha: float) -> None:
    v = np.random.default_rng(1).random(5000) * 3
    assert_allclose(ema(v, alpha), ema_reference(v, alpha), rtol=1e-10, atol=1e-12)


def test_running_ema_in_chunks_equals_one_pass_and_skips_non_finite() -> None:
    v = np.random.default_rng(2).random(1000)
    v[[0, 10, 11, 500]] = [np.nan, np.inf, -np.inf, np.nan]
    running = RunningEMA(0.05)
    parts = [running.update(v[i : i + k]) for i, k in ((0, 1), (1, 30), (31, 469), (500, 500))]
    got = np.concatenate(parts)
    assert_allclose(got, ema_reference(v, 0.05), rtol=1e-10, equal_nan=True)
    assert np.isnan(got[[0, 10, 11, 500]]).all()
    assert running.value == pytest.approx(ema_reference(v, 0.05)[-1])
    running.reset()
    assert running.update([2.0])[0] == 2.0
    with pytest.raises(ValueError):
        RunningEMA(0.0)


def test_ticks() -> None:
    assert_allclose(nice_ticks(0, 50_000, 4), [0, 10_000, 20_000, 30_000, 40_000, 50_000])
    t = nice_ticks(64, 1_280_000, 6)
    assert 3 <= len(t) <= 9 and t[0] >= 64 and t[-1] <= 1_280_000
    assert len(nice_ticks(float("nan"), 1.0)) == 0
    assert_allclose(log_ticks(0.03, 2.4), [0.05, 0.1, 0.2, 0.5, 1, 2])
    assert_allclose(log_ticks(0.003, 2.4), [0.01, 0.1, 1])
    assert len(log_ticks(-1, 2)) == 0


def test_stepped_ticks() -> None:
    assert stepped_ticks(-4.5, 94.5, 2, DEGREE_STEPS).tolist() == [0.0, 45.0, 90.0]
    assert stepped_ticks(-4.5, 94.5, 3, DEGREE_STEPS).tolist() == [0.0, 30.0, 60.0, 90.0]
    assert stepped_ticks(0.0, 180.0, 2, DEGREE_STEPS).tolist() == [0.0, 90.0, 180.0]


def test_format_count() -> None:
    assert [format_count(v) for v in (0, 950, 10_000, 12_500, 1_200_000, 3e9)] == [
        "0", "950", "10k", "12.5k", "1.2M", "3G",
    ]  # fmt: skip


def test_format_compact() -> None:
    assert [format_compact(v) for v in (0.0, 2.345, 0.05, 0.001, 1e-4, -3.2e-5, float("nan"))] == [
        "0", "2.35", "0.05", "0.001", "1e-4", "-3e-5", "nan",
    ]  # fmt: skip


@pytest.mark.slow
def test_view_does_not_import_textual() -> None:
    code = (
        "import sys, tui.view.chart, tui.view.confusion, tui.view.digit_render, tui.view.selection; "
        "sys.exit('textual' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_browser_steps_filters_and_status_line() -> None:
    res = make_result(true=[1, 1, 2, 1, 3], pred=[7, 2, 7, 7, 8], conf=[0.5, 0.9, 0.6, 0.8, 0.4])
    browser = MistakeBrowser()
    assert browser.shown() is None and browser.status_line() == "" and not browser.step(1)
    browser.show(res)
    assert browser.step(10) and browser.position == 4 and browser.current_row == 43
    browser.cycle_true()  # true 0: nothing matches
    assert len(browser) == 0 and browser.shown() is None and not browser.jump("last")
    browser.cycle_true()  # true 1
    assert list(browser.selection) == [0, 1, 3]
    assert browser.status_line() == "1 / 3 (of 5) · true 1 · pred all · test order"  # nothing to stay on
    browser.cycle_order()
    shown = browser.shown()
    assert shown is not None and (shown.true, shown.pred, shown.row) == (1, 2, 13)
    assert shown.probs[2] == pytest.approx(0.9) and browser.status_line(compact=True).startswith("1/3 · true 1")
    assert [cycle_class(c) for c in (None, 0, 8, 9)] == [0, 1, 9, None]


def test_marker_labels_fall_back_to_numbers_and_never_sit_beside_another_line() -> None:
    markers = [
        Marker(50.0, "3 b", short="3"),
        Marker(10.0, "1 first label", short="1"),
        Marker(12.0, "2 close", short="2"),
        Marker(99.0, "4 end", short="4"),
    ]
    placed = marker_labels(markers, 0.0, 100.0, 100)
    assert [m.label for m, _, _ in placed] == ["1 first label", "2 close", "3 b", "4 end"]  # in x order
    (_, s1, t1), (_, s2, t2), (_, s3, t3), (_, s4, t4) = placed
    approx: Any = pytest.approx  # compared inside tuples, which the type checker cannot follow
    assert (s1, t1) == (approx(8.0), "1")  # the label would run over line 2: its number, left
    assert (s2, t2) == (approx(13.0), "2 close")
    assert (s3, t3) == (approx(51.0), "3 b")
    assert (s4, t4) == (approx(93.0), "4 end")  # the right edge: left of its own line, nothing between
    crowded = [Marker(90.0, "1 lr 0.1", short="1"), Marker(97.0, "2 variant stale", short="2")]
    (_, a, ta), (_, b, tb) = marker_labels(crowded, 0.0, 100.0, 100)
    assert ta == "1 lr 0.1" and a == pytest.approx(81.0)  # right of its line it would cross line 2
    assert tb == "2" and b == pytest.approx(98.0)  # no room for the whole label: its number


def test_y_ticks_closer_than_two_rows_are_thinned_so_no_two_labels_share_a_row() -> None:
    from tui.view.chart import apart

    assert apart([0.0, 2.0, 4.0, 6.0, 8.0], 0.0, 8.0, rows=4) == [0.0, 4.0, 8.0]  # 1 row apart -> every other
    assert apart([0.0, 2.0, 4.0], 0.0, 4.0, rows=8) == [0.0, 2.0, 4.0]  # 4 rows apart: all kept
