"""The backward-pass study on a tiny budget: grids, backends (serial, pool, Dask), the store that
lets an interrupted study go on, intervals and paired differences, the files and the command."""

from __future__ import annotations

import gzip
import json
import math
import os
import pickle
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model.config import HyperParams
from model.data import MNIST
from model.study import (
    DEFAULT,
    FULL,
    GRIDS,
    QUICK,
    Grid,
    Interval,
    ResultStore,
    RunConfig,
    choose,
    from_json,
    grid_from_meta,
    paired,
    run_study,
    sweep,
    write_results,
)
from model.study.analysis import equal_steps
from model.variants import VARIANT_NAMES
from tui.cli.experiments import render_plot

BASE = HyperParams(hidden=8, batch_size=50)


def tiny_data(n: int = 400) -> MNIST:
    rng = np.random.default_rng(0)
    centres = rng.random((10, 784), dtype=np.float32)

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, m)
        x = np.clip(centres[y] + 0.3 * rng.standard_normal((m, 784), dtype=np.float32), 0, 0.99)
        return (np.floor(x * 256) / 256).astype(np.float32), y.astype(np.int64)  # pixels = uint8 / 256

    (tx, ty), (vx, vy), (sx, sy) = split(n), split(n // 4), split(n // 4)
    return MNIST(tx, ty, vx, vy, sx, sy, source="tiny")


TINY_GRID = Grid(  # a grid small enough for a unit test
    "tiny",
    epochs=1,
    seeds=2,
    hidden=8,
    lrs=(0.01, 0.1),
    momentum=0.9,
    activations=("relu",),
    sweep_variants=(("exact", {}), ("shallow", {}), ("feedback-fixed", {}), ("noise-true", {"sigma": 0.5})),
    stale_lrs=(0.05,),
    stale_momenta=(0.0,),
    stale_ks=(3,),
    noise_lrs=(0.05,),
    noise_sigmas=(0.5,),
    batch_size=50,
)


# ---- the plan -------------------------------------------------------------------------------
def test_the_default_grid_answers_every_question_of_the_study() -> None:
    g = DEFAULT
    swept = {c.variant for c in g.sweep()}
    assert swept == set(VARIANT_NAMES)  # every variant, the controls included
    assert len(g.lrs) >= 4 and max(g.lrs) / min(g.lrs) > 10  # four rates over more than a decade
    assert g.activations == ("relu", "tanh", "sigmoid") and g.seeds >= 5
    assert set(g.stale_ks) == {1, 2, 5, 10, 20, 50, 100} and len(g.stale_momenta) >= 2
    assert {0.1, 0.2} <= set(equal_steps(g))  # settings that share an effective step exist
    assert {1e-4, 1e-2, 0.1, 0.5, 1.0} <= set(g.noise_sigmas)
    cells = g.configs()
    assert len(cells) == len(set(cells))
    noise_true = [c for c in cells if c.variant == "noise-true"]
    assert {c.sigma for c in noise_true} >= set(g.noise_sigmas)
    assert FULL.runs > DEFAULT.runs > QUICK.runs


def test_each_grid_states_its_runs_and_cpu_hours_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    with pytest.raises(SystemExit):
        main(["experiments", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for g in GRIDS.values():
        assert f"{g.name}: {g.runs:,} runs" in text
        assert f"about {g.cpu_hours:g} CPU hours" in text


def test_a_config_knows_its_effective_step_and_hyperparameters() -> None:
    c = RunConfig("stale", stale_k=10, lr=0.02, momentum=0.5, activation="tanh")
    assert c.effective_step == pytest.approx(0.04)
    assert c.key == "stale k=10 | tanh lr=0.02 mu=0.5"
    hp = c.hparams(BASE, seed=3)
    assert (hp.variant, hp.stale_k, hp.lr, hp.momentum, hp.activation, hp.seed) == ("stale", 10, 0.02, 0.5, "tanh", 3)


# ---- statistics -----------------------------------------------------------------------------
def test_interval_is_the_student_t_95_percent_half_width() -> None:
    i = Interval.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert i.mean == 3.0 and i.n == 5
    assert i.half == pytest.approx(2.776 * math.sqrt(2.5) / math.sqrt(5))
    assert math.isnan(Interval.of([1.0]).half) and Interval.of([]).n == 0
    assert Interval.of([1.0, math.nan, 3.0]).n == 2


# ---- running it -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["serial", pytest.param("pool", marks=pytest.mark.slow)])  # pool: processes
def test_a_tiny_study_aggregates_chooses_and_writes_its_files(backend: str, tmp_path: Path) -> None:
    g = TINY_GRID
    study = run_study(
        g.configs(), seeds=2, epochs=1, jobs=2, data=tiny_data(), base=g.base(), backend=backend, diag_every=2
    )
    assert study.meta["runs"] == len(g.configs()) * 2 and study.meta["reused"] == 0
    cells = study.cells()
    rows = sweep(cells, g)
    assert [r.label for r in rows] == ["exact", "shallow", "feedback-fixed", "noise-true sigma=0.5"]
    exact = rows[0]
    assert exact.chosen is not None and exact.vs_exact.mean == 0.0
    noisy = rows[3].chosen
    assert noisy is not None and math.isfinite(noisy.as_trained.mean)  # a forward-perturbed net is evaluated both ways
    assert math.isnan(exact.chosen.as_trained.mean)
    fixed = rows[2].chosen
    assert fixed is not None and all(math.isfinite(i.mean) for i in fixed.diagnostics["feedback_angle"])
    assert all(math.isnan(i.mean) for i in exact.chosen.diagnostics["feedback_angle"])
    shallow = rows[1].chosen
    assert shallow is not None and all(i.mean == 0.0 for i in shallow.diagnostics["w1_drift"])  # W1 frozen
    stale = cells["stale k=3 | relu lr=0.05 mu=0"]
    assert all(math.isfinite(i.mean) for i in stale.diagnostics["stale_gap"])
    paths = write_results(study, g, tmp_path, command="mnist-tui experiments --grid tiny")
    md = (tmp_path / "results.md").read_text()
    assert "| - | exact | lr " in md and "## 2. Stale weights" in md and "## 3. Noise" in md
    assert "## 4. Perturbed forward passes" in md and "noise-true sigma=0.5" in md
    saved = json.loads(paths[0].read_text())  # strict JSON: no NaN
    again = from_json(saved)
    assert grid_from_meta(again.meta) == g
    before, after = study.cells(), again.cells()  # the file keeps 5 significant digits
    assert list(after) == list(before)
    for key, c in after.items():
        assert c.test.mean == pytest.approx(before[key].test.mean, rel=1e-4)
        assert c.diverged == before[key].diverged and c.diag_steps == before[key].diag_steps
    assert "Q1 random feedback matrix" in render_plot(sweep(again.cells(), g), g)


def test_choosing_skips_learning_rates_where_a_seed_diverged() -> None:
    study = run_study(
        [RunConfig("exact", lr=lr, momentum=0.0) for lr in (0.05, 100.0)],
        seeds=2,
        epochs=1,
        jobs=1,
        data=tiny_data(200),
        base=BASE,
    )
    cells = list(study.cells().values())
    assert cells[1].diverged == 2 and cells[0].diverged == 0
    best, all_diverged = choose(cells)
    assert best is cells[0] and not all_diverged


def test_paired_differences_compare_the_same_seeds() -> None:
    study = run_study(
        [RunConfig("exact", lr=0.05), RunConfig("shallow", lr=0.05)], seeds=3, epochs=1, jobs=1,
        data=tiny_data(200), base=BASE,
    )  # fmt: skip
    exact, shallow = study.cells().values()
    d = paired(shallow, exact)
    by_seed = [shallow.test_by_seed[s] - exact.test_by_seed[s] for s in range(3)]
    assert d.mean == pytest.approx(np.mean(by_seed)) and d.n == 3


class _StopAfter:
    """An on_event that interrupts the study after ``n`` finished runs, like ctrl+c."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, e: object) -> None:
        if getattr(e, "kind", "") == "done":
            self.n -= 1
            if self.n == 0:
                raise KeyboardInterrupt


def test_an_interrupted_study_goes_on_where_it_stopped_and_loses_no_finished_run(tmp_path: Path) -> None:
    configs = [RunConfig("exact", lr=0.05), RunConfig("feedback-fixed", lr=0.05), RunConfig("shallow", lr=0.05)]
    data, store = tiny_data(200), ResultStore(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_study(configs, seeds=2, epochs=1, jobs=1, data=data, base=BASE, store=store, on_event=_StopAfter(4))
    assert len(store.load()) == 4
    (store.folder / "torn.json").write_text('{"key": "exact | relu')  # a file a dying disk left half-written
    events: list[Any] = []
    resumed = run_study(configs, seeds=2, epochs=1, jobs=1, data=data, base=BASE, store=store, on_event=events.append)
    assert resumed.meta["reused"] == 4 and sum(e.reused for e in events if e.kind == "done") == 4
    assert (store.folder / "torn.bad").exists()
    straight = run_study(configs, seeds=2, epochs=1, jobs=1, data=data, base=BASE)
    assert [r.to_dict() | {"seconds": 0} for r in resumed.results] == [
        r.to_dict() | {"seconds": 0} for r in straight.results
    ]  # the reused runs and the new ones are the runs an uninterrupted study makes


def test_a_different_setting_is_not_mistaken_for_a_stored_run(tmp_path: Path) -> None:
    store, data = ResultStore(tmp_path), tiny_data(200)
    run_study([RunConfig("exact", lr=0.05)], seeds=1, epochs=1, jobs=1, data=data, base=BASE, store=store)
    again = run_study(
        [RunConfig("exact", lr=0.05)], seeds=1, epochs=1, jobs=1, data=data, base=BASE.validated(hidden=9), store=store
    )
    assert again.meta["reused"] == 0


@pytest.mark.slow
def test_a_tiny_study_on_a_two_worker_dask_cluster_matches_the_serial_run() -> None:
    from distributed import LocalCluster

    configs = [RunConfig("exact", lr=0.05), RunConfig("noise-backward", sigma=0.5, lr=0.05)]
    data = tiny_data(200)
    serial = run_study(configs, seeds=2, epochs=1, jobs=1, data=data, base=BASE)
    with LocalCluster(  # type: ignore[no-untyped-call]  # dask.distributed has no type hints
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        distributed = run_study(
            configs, seeds=2, epochs=1, jobs=2, data=data, base=BASE, scheduler=cluster.scheduler_address
        )
    assert distributed.meta["backend"].startswith("dask at tcp://127.0.0.1")
    for a, b in zip(serial.results, distributed.results, strict=True):
        assert (a.key, a.seed, a.test_error, a.valid_curve) == (b.key, b.seed, b.test_error, b.valid_curve)


def test_the_experiments_command_runs_resumes_and_redraws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path / "cache"))
    d, data = tiny_data(300), tmp_path / "tiny.pkl.gz"
    with gzip.open(data, "wb") as f:
        pickle.dump(((d.train_x, d.train_y), (d.valid_x, d.valid_y), (d.test_x, d.test_y)), f)
    out = tmp_path / "out"
    argv = ["experiments", "--grid", "quick", "--data", str(data), "--jobs", "1", "--out", str(out)]
    argv += ["--variants", "feedback-fixed", "--seeds", "2", "--quiet", "--no-figures"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "| 1a | feedback-fixed |" in printed.out and "| - | shallow |" in printed.out
    assert "0 reused" in printed.err
    assert main(argv) == 0  # again: every run comes from the store
    again = " ".join(capsys.readouterr().err.split())
    runs = int(again.split(" runs: ")[0].split()[-1])
    assert f"{runs} runs: {runs} reused, 0 trained" in again
    saved = json.loads((out / "results.json").read_text())
    assert "--variants feedback-fixed" in saved["meta"]["command"]
    (out / "results.md").unlink()
    assert main(["experiments", "--from-json", str(out / "results.json"), "--out", str(out), "--no-figures"]) == 0
    assert "feedback-fixed" in (out / "results.md").read_text()
    assert main([*argv[:-4], "--variants", "nope"]) == 2
    assert "unknown variant nope" in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_that_cannot_load_the_data_stops_the_study_with_its_reason(tmp_path: Path) -> None:
    from model.data import DataError

    with pytest.raises(DataError, match="does not exist"):
        run_study([RunConfig("exact")], seeds=2, epochs=1, jobs=2, backend="pool", data=str(tmp_path / "nope.pkl.gz"))


class DiesInTheWorker:
    """Data whose first use ends the process without a word, as an out-of-memory kill would."""

    @property
    def train_x(self) -> np.ndarray:
        os._exit(3)


@pytest.mark.slow
def test_a_worker_that_dies_silently_stops_the_study_as_a_broken_pool() -> None:
    with pytest.raises(BrokenProcessPool):
        run_study([RunConfig("exact")], seeds=2, epochs=1, jobs=2, backend="pool", data=DiesInTheWorker(), tag="x")
