"""The run list (o), recorded runs overlaid on the charts, and the chart cursor (v).

Real records written by ``RunRecorder`` on tiny data, an app on the same runs folder, real keys.
The cursor's column arithmetic is checked against what plotext itself draws.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import new_app, wait_for
from textual.pilot import Pilot
from textual_plotext.plot import Plot

from model.config import HyperParams
from model.runs import RunRecorder, read_run, short_id, summarize
from model.trainer import make_trainer
from tui.app import MnistApp
from tui.format import format_compact, format_count
from tui.screens.runs import LIVE_MARK, PICKED_MARK, SHOWN_COLUMNS, RunsScreen
from tui.view.cursor import CanvasAxes, readout, value_at
from tui.view.runs import (
    LIST_COLUMNS,
    EntryCache,
    differences,
    list_row,
    load_entries,
    overlay_label,
    run_curves,
)
from tui.view.series import Series

SIZE = (120, 40)
HP = HyperParams(hidden=16, batch_size=16, epochs=10_000, lr=0.05)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """The app tests here drive a paused training app."""


def record_run(root: Path, tiny: Any, hp: HyperParams, steps: int = 60, new_lr: float | None = None) -> Path:
    """A short real run recorded in ``root``: ``steps`` steps, an evaluation every 20, and the
    learning rate changed to ``new_lr`` halfway (if given)."""
    trainer = make_trainer(hp, tiny)
    rec = RunRecorder.start(root, trainer, source="test")
    for i in range(steps):
        if i == steps // 2 and new_lr is not None:
            old = trainer.hp
            trainer.set_hparams(old.validated(lr=new_lr))
            rec.hparams(old, trainer.hp, trainer.state.step, trainer.state.examples_seen)
        rec.step(trainer.step())
        if (i + 1) % 20 == 0:
            rec.evaluation(trainer.evaluate(), trainer)
    rec.finish(trainer, "finished")
    assert rec.folder is not None
    return rec.folder


@pytest.fixture
def two_runs(tmp_path: Path, tiny_mnist: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[Path]]:
    """A runs folder (also the app's) with two recorded runs: lr 0.05, then lr 0.1 changed to 0.02."""
    root = tmp_path / "runs"
    monkeypatch.setenv("MNIST_TUI_RUNS", str(root))
    a = record_run(root, tiny_mnist, HP)
    b = record_run(root, tiny_mnist, HP.validated(lr=0.1, seed=1), new_lr=0.02)
    return root, [a, b]


# ---- view helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [["1", "2.5", "300"], [], ["0.001", "10"]])
@pytest.mark.parametrize("width", [30, 61, 117])
def test_canvas_columns_are_where_plotext_draws_a_vertical_line(labels: list[str], width: int) -> None:
    x_lim = (1_000.0, 91_000.0)
    axes = CanvasAxes.of(width, labels, x_lim)
    for column in (0, 1, axes.cols // 3, axes.cols - 2, axes.cols - 1):
        x = axes.x_at(column)
        assert axes.column(x) == column
        plt = Plot()
        plt.theme("clear")
        plt.plot([x_lim[0], x_lim[1]], [1.0, 2.0], marker="hd")
        plt.vline(x, (255, 0, 0))
        plt.xlim(*x_lim)
        plt.ylim(0.0, 3.0)
        plt.yticks([1.0, 2.0, 2.5][: len(labels)], labels)
        plt.xticks([x_lim[0]], ["1k"])
        plt.plotsize(width, 12)
        plt._set_size(width, 12)
        rows = ANSI.sub("", plt.build()).split("\n")[1:9]  # canvas rows, under the top frame
        lines = [i for i in range(width) if sum(r[i] == "│" for r in rows) >= 6]
        frame = [axes.start - 1, axes.start + axes.cols]  # the frame's left and right edges
        assert sorted(set(lines) - set(frame)) == [axes.start + column]


def test_click_cells_off_the_canvas_are_none_and_moves_stay_on_it() -> None:
    axes = CanvasAxes.of(50, ["10", "100"], (0.0, 440.0))
    assert (axes.start, axes.cols) == (4, 45)  # 3 label columns and the frame's two edges off
    assert axes.x_of_cell(3) is None and axes.x_of_cell(49) is None
    assert axes.x_of_cell(4) == 0.0 and axes.x_of_cell(48) == 440.0
    assert axes.moved(440.0, 10) == 440.0 and axes.moved(0.0, -3) == 0.0
    assert axes.moved(0.0, 10) == pytest.approx(100.0)


def test_value_at_is_the_newest_finite_point_at_or_before() -> None:
    x = np.array([10.0, 20.0, 30.0, 40.0])
    y = np.array([1.0, 2.0, np.nan, 4.0])
    assert value_at(x, y, 5.0) is None
    assert value_at(x, y, 10.0) == (10.0, 1.0)
    assert value_at(x, y, 29.9) == (20.0, 2.0)
    assert value_at(x, y, 35.0) == (20.0, 2.0)  # the NaN at 30 is skipped
    assert value_at(x, y, 1e9) == (40.0, 4.0)
    assert value_at(np.empty(0), np.empty(0), 1.0) is None


def test_the_cursor_reads_the_step_and_every_curve_at_or_before_its_x() -> None:
    loss = Series("raw", "minibatch", (1, 2, 3))
    loss.extend([64.0, 128.0, 192.0], [2.0, 1.5, 1.2], 1000)
    valid = Series("valid", "valid", (4, 5, 6))
    valid.extend([192.0], [12.5], 1000)
    old_loss, old_valid = Series("l", "3fa2", (7, 8, 9)), Series("v", "3fa2", (7, 8, 9))
    old_loss.extend([100.0], [0.9], 1000)
    steps = (np.array([64.0, 128.0, 192.0]), np.array([1.0, 2.0, 3.0]))
    items = readout(150.0, steps, [(loss, ""), (valid, "%")], [("3fa2 lr 0.1", old_loss, old_valid)])
    assert items == [
        (None, "step 2 · 128 examples"),
        ((1, 2, 3), "minibatch 1.5"),
        ((7, 8, 9), "3fa2 lr 0.1: loss 0.9"),
    ]
    late = readout(1e6, steps, [(valid, "%")], [])
    assert late == [(None, "step 3 · 192 examples"), ((4, 5, 6), "valid 12.5%")]
    assert readout(10.0, (np.empty(0), np.empty(0)), [(loss, "")], []) == [(None, "10 examples")]


def test_labels_name_what_differs_from_the_live_run() -> None:
    live = HyperParams().to_dict()
    assert short_id("20261203-124501-3fa2") == "3fa2"
    assert overlay_label("20261203-124501-3fa2", HyperParams(lr=0.1).to_dict(), live) == "3fa2 lr 0.1"
    assert overlay_label("x-ab12", HyperParams(epochs=3).to_dict(), live) == "ab12 same"
    other = HyperParams(variant="feedback-fixed", lr=0.2, hidden=64, seed=4).to_dict()
    assert differences(other, live) == ["variant feedback-fixed", "lr 0.2", "H 64", "seed 4"]
    assert overlay_label("x-ab12", other, live) == "ab12 variant feedback-fixed lr 0.2 …"


def test_curves_of_a_real_record(two_runs: tuple[Path, list[Path]]) -> None:
    _, (_, b) = two_runs
    rec = read_run(b)
    curves = run_curves(rec)
    steps = [p for p in rec.points if p.get("loss") is not None]
    assert len(curves.loss_x) == len(steps) == 6  # a point every 10 steps
    assert curves.loss_y.tolist() == [p["smoothed"] for p in steps]
    assert curves.valid_x.tolist() == [p["examples"] for p in rec.evaluations]
    assert curves.valid_y.tolist() == [100 * p["valid_error"] for p in rec.evaluations]
    assert curves.changes == [(30 * 16, "lr 0.02")]


def test_bad_records_are_listed_with_what_could_be_read(tmp_path: Path, tiny_mnist: Any) -> None:
    good = record_run(tmp_path, tiny_mnist, HP, steps=20)
    with (good / "metrics.jsonl").open("a") as f:
        f.write('{"kind": "progress", "step": 9')  # a torn last line
    broken = tmp_path / "20990101-000000-dead"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    odd = tmp_path / "20990101-000001-beef"
    odd.mkdir()
    (odd / "run.json").write_text(json.dumps({"id": odd.name, "hparams": {"lr": 0.1}}))
    (odd / "metrics.jsonl").write_text('{"kind": "progress", "step": 1, "examples": "many", "loss": 1}\n')
    entries = list(load_entries(tmp_path))
    assert [e.run_id for e in entries] == [odd.name, broken.name, good.name]  # newest first
    assert entries[1].cells[-1] == "unreadable" and "run.json is unreadable" in entries[1].note
    assert "skipped 1 unreadable line" in entries[2].note and len(entries[2].curves.loss_x) == 2
    assert entries[0].note  # a field of the wrong kind: said, not raised
    assert list(load_entries(tmp_path / "nothing-here")) == []


def test_the_cache_reads_a_record_again_only_when_it_changed(tmp_path: Path, tiny_mnist: Any) -> None:
    folder = record_run(tmp_path, tiny_mnist, HP, steps=20)
    cache = EntryCache()
    first = cache.get(folder)
    assert cache.get(folder) is first
    with (folder / "metrics.jsonl").open("a") as f:
        f.write('{"kind": "event", "event": "pause", "step": 20, "examples": 320, "time": 1.0}\n')
    assert cache.get(folder) is not first


# ---- the app ---------------------------------------------------------------------------------------


async def open_runs(pilot: Pilot[Any]) -> RunsScreen:
    await pilot.press("o")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), what="the run list")
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await wait_for(pilot, lambda: screen.loaded, what="the records read")
    await pilot.pause()
    return screen


async def started(pilot: Pilot[Any]) -> Any:
    app = pilot.app
    assert isinstance(app, MnistApp)
    await wait_for(pilot, lambda: app.main is not None and app.main.bridge is not None, what="the worker")
    assert app.main is not None
    return app.main


async def test_o_lists_runs_and_picked_runs_are_drawn_on_the_charts(
    two_runs: tuple[Path, list[Path]], tiny_mnist: Any
) -> None:
    _, (a, b) = two_runs
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        live_id = main.bridge.run.recorder.run_id
        screen = await open_runs(pilot)
        table = screen.table
        assert [e.run_id for e in screen.entries] == [live_id, b.name, a.name]  # newest first
        assert [table.get_row_at(i)[0] for i in range(3)] == [LIVE_MARK, "", ""]
        row = dict(zip(SHOWN_COLUMNS, table.get_row_at(1)[1:], strict=True))
        assert row == dict(zip(LIST_COLUMNS, list_row(summarize(read_run(b))), strict=True))  # as `mnist-tui runs`
        assert "lr=0.1" in row["settings"] and row["from"] == "test" and row["status"] == "finished"
        await pilot.press("space")  # the live run: already there
        assert main.charts.overlay == []
        await pilot.press("down", "space", "down", "enter")
        assert [table.get_row_at(i)[0] for i in range(3)] == [LIVE_MARK, PICKED_MARK, PICKED_MARK]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main, what="back on the training screen")

        loss, error = main.charts.loss_chart, main.charts.error_chart
        labels = [f"{b.name[-4:]} lr 0.1 seed 1", f"{a.name[-4:]} same"]
        assert [s.label for s in loss.overlay] == labels == [s.label for s in error.overlay]
        for series, folder in zip(loss.overlay, (b, a), strict=True):
            rec = read_run(folder)
            assert series.y.values.tolist() == [p["smoothed"] for p in rec.points if p.get("loss") is not None]
        for series, folder in zip(error.overlay, (b, a), strict=True):
            assert series.x.values.tolist() == [p["examples"] for p in read_run(folder).evaluations]
        change = [m for m in loss.overlay_markers]
        assert [(m.x, m.label) for m in change] == [(480.0, f"{b.name[-4:]} lr 0.02")]
        await wait_for(pilot, lambda: loss.axes is not None and labels[0] in loss.border_subtitle, what="drawn")
        assert loss.axes is not None and loss.axes.x_hi >= 960  # the overlaid runs' 60 steps of 16

        await pilot.resize_terminal(90, 30)  # the overlay survives a resize
        await pilot.pause()
        assert [s.label for s in loss.overlay] == labels
        main.charts.clear()  # what a reset (r) or a loaded checkpoint does: the live curves go, the overlay stays
        assert [s.label for s in loss.overlay] == labels and len(loss.overlay_markers) == 1

        screen = await open_runs(pilot)
        assert [screen.table.get_row_at(i)[0] for i in range(3)] == [LIVE_MARK, PICKED_MARK, PICKED_MARK]
        await pilot.press("c")
        assert [screen.table.get_row_at(i)[0] for i in range(3)] == [LIVE_MARK, "", ""]
        await pilot.press("escape")
        await pilot.pause()
        assert loss.overlay == [] and error.overlay == [] and loss.overlay_markers == []
        assert main.charts.overlay == []


async def test_an_empty_runs_folder_says_so(tmp_path: Path, tiny_mnist: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        app.push_screen(RunsScreen(main.host, tmp_path / "empty"))
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(pilot, lambda: screen.loaded)
        await pilot.pause()
        note = str(screen.query_one("#runs-note").render())
        assert note.startswith("no recorded runs in") and "\n" not in note
        await pilot.press("space", "c", "escape")  # nothing to pick: no error either
        assert app.screen is main


def expected_value(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """The readout's value, computed here without tui.view.cursor."""
    keep = (x <= at) & np.isfinite(y)
    return float(y[keep][-1])


@pytest.mark.slow  # a live run and overlaid runs: about 2.5 s of CPU
async def test_v_shows_a_cursor_that_reads_live_and_overlaid_curves(
    two_runs: tuple[Path, list[Path]], tiny_mnist: Any
) -> None:
    _, (_, b) = two_runs
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        charts = main.charts
        for _ in range(40):
            await pilot.press("n")
        await wait_for(pilot, lambda: main.bridge.trainer.state.step == 40, what="40 steps")
        await pilot.press("e")
        await wait_for(pilot, lambda: len(charts.error_chart.series["valid"].x) == 1, what="an evaluation")
        await wait_for(pilot, lambda: len(charts.loss_chart.series["raw"].x) == 40, what="40 losses")
        await open_runs(pilot)
        await pilot.press("down", "space", "escape")  # run b (lr 0.1, 60 steps)
        await wait_for(pilot, lambda: app.screen is main)
        for chart in charts.charts.values():
            chart.replot()
        await wait_for(pilot, lambda: charts.loss_chart.axes is not None and charts.loss_chart.axes.x_hi == 960)

        await pilot.press("v")
        axes = charts.loss_chart.axes
        assert axes is not None and charts.cursor_x == axes.x_at(axes.cols - 1) == 960
        assert charts.cursor_line.display
        await pilot.press("home")
        assert charts.cursor_x == 16.0  # the first point of both runs
        await pilot.press("end", "shift+left", "left", "left")
        at = axes.x_at(axes.cols - 1 - 12)
        assert charts.cursor_x == at and 640 < at < 960  # past the live run's end, inside run b
        text = charts.cursor_line.text
        assert text.startswith("step 40 · 640 examples · ")  # the live run's last step
        raw, smooth = charts.loss_chart.series["raw"], charts.loss_chart.series["smooth"]
        for label, s in (("minibatch", raw), ("smoothed", smooth)):
            assert f" · {label} {format_compact(expected_value(s.x.values, s.y.values, at))} · " in text
        valid = charts.error_chart.series["valid"]
        assert f" · valid {format_compact(float(valid.y.values[-1]))}% · " in text  # the live evaluation at 640
        rec = read_run(b)
        steps = [p for p in rec.points if p.get("loss") is not None]
        loss_b = expected_value(
            np.array([p["examples"] for p in steps], float), np.array([p["smoothed"] for p in steps]), at
        )
        evals = rec.evaluations
        valid_b = expected_value(
            np.array([p["examples"] for p in evals], float), np.array([100 * p["valid_error"] for p in evals]), at
        )
        label = charts.overlay[0].label
        assert text.endswith(f" · {label}: loss {format_compact(loss_b)}, valid {format_compact(valid_b)}%")

        await pilot.press("pageup", "pageup", "pageup", "pageup", "pagedown", "right")
        at = axes.x_at(axes.cols - 1 - 12 - 30 + 1)
        assert charts.cursor_x == at
        step = int(at // 16)  # one step per 16 examples
        assert charts.cursor_line.text.startswith(f"step {step:,} · {format_count(step * 16)} examples")

        rendered = charts.loss_chart.render()  # the line is drawn in the column the cursor stands for
        rows = str(rendered).split("\n")[1:-3]
        column = axes.start + axes.column(at)
        assert sum(len(r) > column and r[column] == "│" for r in rows) >= len(rows) - 2

        await pilot.press("escape")
        assert charts.cursor_x is None and not charts.cursor_line.display
        await pilot.press("left")  # hidden: the arrows are not the cursor's any more
        assert charts.cursor_x is None

        loss = charts.loss_chart
        click_cell = axes.start + 20
        await pilot.click("#loss-chart", offset=(1 + click_cell, 5))  # the border is the first cell
        assert charts.cursor_x == axes.x_at(20)
        await pilot.press("v")
        assert charts.cursor_x is None and loss.readout == ""


async def test_the_cursor_at_the_right_end_moves_on_with_the_live_run(tiny_mnist: Any) -> None:
    app = new_app(HP, data=tiny_mnist, start_paused=True)
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        charts = main.charts
        raw = charts.loss_chart.series["raw"]
        for _ in range(20):
            await pilot.press("n")
        await wait_for(pilot, lambda: len(raw.x) == 20, what="20 losses")
        charts.loss_chart.replot()
        await wait_for(pilot, lambda: charts.loss_chart.axes is not None, what="a drawn loss chart")
        await pilot.press("v")
        assert charts.cursor_follows and charts.cursor_x == raw.x.values[-1]
        for _ in range(10):
            await pilot.press("n")
        await wait_for(pilot, lambda: len(raw.x) == 30, what="10 more losses")
        assert charts.cursor_x == raw.x.values[-1] == 30 * 16  # it moved on with the newest point
        assert charts.cursor_line.text.startswith("step 30 · ")
        await pilot.press("left")  # moved off the end: it stays where it was put
        held = charts.cursor_x
        assert not charts.cursor_follows and held is not None and held < 30 * 16
        for _ in range(5):
            await pilot.press("n")
        await wait_for(pilot, lambda: len(raw.x) == 35, what="5 more losses")
        assert charts.cursor_x == held
        await pilot.press("end")
        assert charts.cursor_follows
