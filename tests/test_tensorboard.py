"""``--tensorboard DIR``: the event files a run writes (and ``runs export --tensorboard``), read back
with a small TFRecord reader and tensorboardX's protobufs, checked against the run record."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import bridge_for, headless_env, new_app, wait_until
from tensorboardX.proto import event_pb2
from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
from tensorboardX.record_writer import masked_crc32c

from model.config import HyperParams
from model.data import MNIST
from model.inspect import tile_grid
from model.runs import RunRecorder, list_run_dirs, read_run, summarize
from model.runs.tensorboard import EXTRA, png
from tui.cli import main

GRID_16 = (4 * 29 + 1) * 2  # 16 hidden units: 4 x 4 tiles of 28 + a 1-pixel gap, zoomed 2x


# ---- reading event files back ----------------------------------------------------------------


def read_events(folder: Path) -> list[Any]:
    """Every Event of the event files directly in ``folder`` (in name order, as TensorBoard reads them).

    TFRecord framing: 8-byte little-endian length, its masked CRC32C, the payload, the payload's CRC.
    """
    files = sorted(folder.glob("*tfevents*"))
    assert files, f"no event file in {folder}"
    events = []
    for path in files:
        raw = path.read_bytes()
        i = 0
        while i < len(raw):
            header = raw[i : i + 8]
            (n,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", raw[i + 8 : i + 12])[0] == masked_crc32c(header)
            data = raw[i + 12 : i + 12 + n]
            assert struct.unpack("<I", raw[i + 12 + n : i + 16 + n])[0] == masked_crc32c(data)
            events.append(event_pb2.Event.FromString(data))
            i += 16 + n
        assert i == len(raw), "a torn record"
    return events


def scalars(events: list[Any]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for e in events:
        for v in e.summary.value:
            if v.WhichOneof("value") == "simple_value":
                out[v.tag].append((e.step, v.simple_value))
    return dict(out)


def values(events: list[Any], tag: str) -> list[tuple[int, Any]]:
    return [(e.step, v) for e in events for v in e.summary.value if v.tag == tag]


def texts(events: list[Any], tag: str) -> list[tuple[int, str]]:
    return [(step, v.tensor.string_val[0].decode()) for step, v in values(events, f"{tag}/text_summary")]


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR, after checking the signature and the chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def series(points: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(p["step"], p[key]) for p in points if p.get(key) is not None]


def assert_same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """Same steps; the same values to float32 (TensorBoard's simple_value)."""
    assert [s for s, _ in got] == [s for s, _ in want]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    headless_env(tmp_path, tmp_path_factory.getbasetemp() / "tb-cache", monkeypatch)


def train(tiny_npz: Path, runs: Path, *flags: str) -> int:
    return main(["train", "--data", str(tiny_npz), "--runs", str(runs), "--hidden", "16", "--epochs", "1", *flags])


# ---- a headless run --------------------------------------------------------------------------


def test_train_writes_what_the_record_holds(tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs, tb = tmp_path / "runs", tmp_path / "tb"
    assert train(tiny_npz, runs, "--tensorboard", str(tb), "--lr", "0.05") == 0
    (folder,) = list_run_dirs(runs)
    rec = read_run(folder)
    assert [p.name for p in tb.iterdir()] == [rec.run_id]  # one subfolder, named by the run id
    events = read_events(tb / rec.run_id)
    assert events[0].file_version == "brain.Event:2"
    got = scalars(events)
    assert {"loss/minibatch", "loss/smoothed", "lr", "angle/W1", "angle/W2", "error/train"} <= set(got)
    assert {"error/valid", "error/test", "loss/train", "epoch"} <= set(got)

    # every progress point's figures, at its step
    assert_same(got["loss/minibatch"], series(rec.points, "loss"))
    assert_same(got["loss/smoothed"], series(rec.points, "smoothed"))
    assert_same(got["lr"], series(rec.points, "lr"))
    angles = [(p["step"], p["angles"]["W1"]) for p in rec.points if p.get("angles")]
    assert angles
    assert_same(got["angle/W1"], angles)
    (ev,) = rec.evaluations  # one epoch: one evaluation
    for name in ("train", "valid", "test"):
        assert_same(got[f"error/{name}"], [(ev["step"], ev[f"{name}_error"])])

    # the hyperparameter table: the settings the run started with, and its final figures
    s = summarize(rec)
    (start,) = values(events, "_hparams_/session_start_info")
    hp = HParamsPluginData.FromString(start[1].metadata.plugin_data.content).session_start_info.hparams
    assert hp["lr"].number_value == 0.05 and hp["hidden"].number_value == 16
    assert hp["activation"].string_value == rec.meta["hparams"]["activation"]
    assert hp["source"].string_value == "train" and hp["changes"].number_value == 0
    (exp,) = values(events, "_hparams_/experiment")
    experiment = HParamsPluginData.FromString(exp[1].metadata.plugin_data.content).experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert {"final/best_valid_error", "final/test_at_best", "final/valid_error"} <= metric_tags <= set(got)
    assert values(events, "_hparams_/session_end_info")
    assert s.best_valid is not None and s.test_at_best is not None
    assert_same(got["final/best_valid_error"], [(s.steps, s.best_valid)])
    assert_same(got["final/test_at_best"], [(s.steps, s.test_at_best)])

    # the first layer's filters: one image at the evaluation (the end is the same step: not again)
    ((step, image),) = values(events, "weights/W1")
    assert step == ev["step"]
    assert (image.image.width, image.image.height, image.image.colorspace) == (GRID_16, GRID_16, 3)
    assert png_size(image.image.encoded_image_string) == (GRID_16, GRID_16)

    # the end, as text
    (end,) = texts(events, "events")
    assert end[0] == s.steps and end[1].startswith("finished at step")


def test_runs_export_gives_what_the_run_wrote(
    tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run exported from its record (metrics.jsonl, final.npz) is the same as the one written live."""
    runs, live, exported = tmp_path / "runs", tmp_path / "live", tmp_path / "exported"
    assert train(tiny_npz, runs, "--tensorboard", str(live)) == 0
    (folder,) = list_run_dirs(runs)
    run_id = folder.name
    capsys.readouterr()
    assert main(["runs", "--runs", str(runs), "export", run_id[:15], "--tensorboard", str(exported)]) == 0
    err = capsys.readouterr().err
    assert f"wrote run {run_id} to {exported / run_id}" in err and "tensorboard --logdir" in err

    def content(events: list[Any]) -> list[tuple[int, str, bytes]]:  # everything but wall times and order
        return sorted((e.step, v.tag, v.SerializeToString()) for e in events for v in e.summary.value)

    a, b = read_events(live / run_id), read_events(exported / run_id)
    assert content(a) == content(b)  # the weights image too: final.npz holds the last evaluation's W1
    assert len(values(b, "weights/W1")) == 1

    # again into the same folder: one line, exit 2, nothing overwritten
    assert main(["runs", "--runs", str(runs), "export", run_id, "--tensorboard", str(exported)]) == 2
    err = capsys.readouterr().err
    assert "already holds TensorBoard events" in err and len(err.strip().splitlines()) == 1
    assert len(list((exported / run_id).glob("*tfevents*"))) == 1


# ---- the app's worker: a change, a reset ------------------------------------------------------


def test_the_apps_worker_writes_changes_and_a_reset_starts_a_part(tiny_mnist: MNIST, tmp_path: Path) -> None:
    from test_bridge import Recorder

    from model.trainer import make_trainer
    from tui.session.events import HParamsApplied, Notice, RunReset

    trainer = make_trainer(HyperParams(hidden=16, batch_size=32, epochs=10_000, lr=0.05), tiny_mnist)
    recorder = RunRecorder.start(tmp_path / "runs", trainer, source="app", tensorboard=tmp_path / "tb")
    posted = Recorder()
    bridge = bridge_for(trainer, posted, recorder=recorder)
    bridge.start()
    try:
        wait_until(lambda: trainer.state.step > 30, what="steps")
        bridge.set_field("lr", 0.02)
        wait_until(lambda: posted.of(HParamsApplied), what="lr applied")
        wait_until(lambda: trainer.state.step > 60, what="more steps")
        bridge.reset()
        wait_until(lambda: posted.of(RunReset), what="reset")
        wait_until(lambda: trainer.state.step > 25, what="steps after the reset")
    finally:
        assert bridge.stop()
    assert not [n for n in posted.of(Notice) if n.severity == "warning"]
    assert recorder.folder is not None
    rec = read_run(recorder.folder)
    (change,) = [e for e in rec.events if e["event"] == "hparam"]
    (reset,) = [e for e in rec.events if e["event"] == "reset"]
    main_run, part2 = tmp_path / "tb" / rec.run_id, tmp_path / "tb" / rec.run_id / "part2"
    first, second = read_events(main_run), read_events(part2)

    step = change["step"]
    assert texts(first, "changes") == [(step, f"lr 0.05 \N{RIGHTWARDS ARROW} 0.02 at step {step}")]
    assert_same(scalars(first)["hparam/lr"], [(step, 0.05), (step + 1, 0.02)])
    assert (reset["after_step"], "reset: new weights after step " + str(reset["after_step"])) in texts(first, "events")

    # before the reset in the run's folder, after it in part2: the steps of each only go forward
    before = [p for p in rec.points if p["time"] <= reset["time"]]
    after = [p for p in rec.points if p["time"] > reset["time"]]
    assert_same(scalars(first)["loss/minibatch"], series(before, "loss"))
    assert_same(scalars(second)["loss/minibatch"], series(after, "loss"))
    assert scalars(second)["loss/minibatch"][0][0] == 1
    for events in (first, second):
        for tag, points in scalars(events).items():
            steps = [s for s, _ in points]
            assert steps == sorted(steps), tag
    # evaluations (the reset evaluates the new weights) come with an image each
    assert len(values(second, "weights/W1")) >= 1
    # the table is in the run's own folder, counting the change
    (start,) = values(first, "_hparams_/session_start_info")
    hp = HParamsPluginData.FromString(start[1].metadata.plugin_data.content).session_start_info.hparams
    assert hp["changes"].number_value == 1 and hp["source"].string_value == "app"
    assert not values(second, "_hparams_/session_start_info")


# ---- failures --------------------------------------------------------------------------------


def test_a_write_error_warns_once_and_training_goes_on(tiny_mnist: MNIST, tmp_path: Path) -> None:
    from model.trainer import make_trainer

    trainer = make_trainer(HyperParams(hidden=16, epochs=1), tiny_mnist)
    warnings: list[str] = []
    recorder = RunRecorder.start(tmp_path / "runs", trainer, source="train", warn=warnings.append, tensorboard=tmp_path)
    sink = recorder.tensorboard
    assert sink is not None
    os.close(sink._fd)  # type: ignore[arg-type]
    sink._fd = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC (the sink closes it when it fails)
    for _ in range(40):
        recorder.step(trainer.step())
    recorder.errors(trainer, {"valid": 0.5})
    for _ in range(40):
        recorder.step(trainer.step())
    recorder.finish(trainer, "finished")
    assert sink._fd is None
    assert len(warnings) == 1 and "cannot write TensorBoard events" in warnings[0] and "training goes on" in warnings[0]
    assert sink.failed
    rec = read_run(recorder.folder)
    assert rec.events[-1]["event"] == "end" and rec.checkpoint is not None  # the record is whole


def test_an_unmakeable_folder_is_one_warning(tiny_mnist: MNIST, tmp_path: Path) -> None:
    from model.trainer import make_trainer

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    trainer = make_trainer(HyperParams(hidden=16, epochs=1), tiny_mnist)
    warnings: list[str] = []
    recorder = RunRecorder.start(tmp_path / "runs", trainer, source="train", warn=warnings.append, tensorboard=blocker)
    for _ in range(20):
        recorder.step(trainer.step())
    recorder.finish(trainer, "finished")
    assert len(warnings) == 1 and str(blocker) in warnings[0]
    assert read_run(recorder.folder).events[-1]["event"] == "end"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--hidden", "16", "--tensorboard", "tb"],
        ["--tensorboard", "tb"],  # the app: refused before it needs a terminal
        ["runs", "export", "some-id", "--tensorboard", "tb"],
        ["serve", "--tensorboard", "tb"],
    ],
)
def test_without_tensorboardx_one_line_names_the_extra(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX raises ImportError
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and EXTRA in err and "Traceback" not in err
    assert not (tmp_path / "tb").exists()


def test_bad_tensorboard_folders_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    for argv in (["train", "--tensorboard", ""], ["train", "--tensorboard", str(tmp_path / "afile")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--tensorboard" in err


# ---- the image -------------------------------------------------------------------------------


def test_tile_grid_lays_out_signed_filters_on_a_diverging_map() -> None:
    W1 = np.zeros((5, 784), np.float32)
    W1[0, :392], W1[0, 392:] = 1.0, -1.0  # unit 0: top half positive, bottom half negative
    grid = tile_grid(W1, zoom=1)
    assert grid.shape == (2 * 29 + 1, 3 * 29 + 1, 3) and grid.dtype == np.uint8  # 5 units: 3 a row, 2 rows
    top, bottom = grid[1 + 3, 1 + 3], grid[1 + 24, 1 + 3]
    assert top[2] > top[0] and bottom[0] > bottom[2]  # positive blue, negative red
    assert tuple(grid[1 + 3, 29 + 1 + 3]) == (28, 28, 34)  # unit 1 is all zero: the zero colour
    assert tuple(grid[0, 0]) == (128, 128, 128)  # the gap
    assert tile_grid(np.ones((100, 784), np.float32)).shape == (466, 466, 3)  # at most 64 units, zoom 2
    assert png_size(png(grid)) == (3 * 29 + 1, 2 * 29 + 1)


async def test_the_app_writes_its_run(
    tiny_mnist: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_pilot: None
) -> None:
    """``mnist-tui --tensorboard DIR``: the app hands the folder to its worker's recorder."""
    from conftest import wait_for

    monkeypatch.setenv("MNIST_TUI_RUNS", str(tmp_path / "runs"))
    hp = HyperParams(hidden=16, batch_size=32, epochs=10_000, lr=0.05)
    app = new_app(hp, data=tiny_mnist, start_paused=False, tensorboard=str(tmp_path / "tb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 20)
        await pilot.press("e")  # an evaluation: errors and an image
        await wait_for(pilot, lambda: app.bridge is not None and app.bridge.trainer.state.step > 40)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    (folder,) = list_run_dirs(tmp_path / "runs")
    rec = read_run(folder)
    events = read_events(tmp_path / "tb" / rec.run_id)
    got = scalars(events)
    assert_same(got["loss/minibatch"], series(rec.points, "loss"))
    assert_same(got["error/valid"], series(rec.points, "valid_error"))
    assert len(values(events, "weights/W1")) >= 1 and values(events, "_hparams_/session_start_info")
