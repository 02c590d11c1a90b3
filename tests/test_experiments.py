"""The backward-pass study on a tiny budget: grids, adaptive sweeps, backends (serial, pool, Dask),
the store that lets an interrupted study go on, the inference, the files and the command."""

from __future__ import annotations

import gzip
import json
import math
import os
import pickle
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
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
    Entry,
    Grid,
    Interval,
    ResultStore,
    RunConfig,
    RunResult,
    Runs,
    from_json,
    next_jobs,
    paired,
    run_grid,
    run_tasks,
    summarize,
    sweep,
    sweep_state,
    write_results,
)
from model.study.plan import options_of
from model.study.saved import MAX_RESULTS_BYTES, read_json
from model.study.task import Task
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
    hidden=8,
    entries=(
        Entry("exact", long=True),
        Entry("shallow", long=True),
        Entry("feedback-fixed", long=True),
        Entry("noise-true", options_of({"sigma": 0.5})),
    ),
    short_epochs=1,
    long_epochs=2,
    selection_seeds=2,
    report_seeds=2,
    section_seeds=2,
    start=(0.03, 0.1),
    ladder=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
    stale_kinds=("stale", "stale-gradient"),
    stale_momenta=(0.0,),
    stale_steps=(0.05,),
    stale_ks=(3,),
    noise_variants=(("noise-same", ()),),
    noise_sigmas=(0.5,),
    noise_activations=("relu",),
    batch_size=10,
    momentum=0.5,
)


def tasks(configs: list[RunConfig], seeds: int, epochs: int, base: HyperParams = BASE, tag: str = "t") -> list[Task]:
    return [Task(i * seeds + s, c, s, epochs, base, 2, None, tag) for i, c in enumerate(configs) for s in range(seeds)]


# ---- the plan -------------------------------------------------------------------------------
def test_the_default_grid_answers_every_question_of_the_study() -> None:
    g = DEFAULT
    relu = {e.variant for e in g.entries if e.activation == "relu" and e.section == "sweep"}
    assert relu == set(VARIANT_NAMES)  # every variant, the controls included
    assert g.activations == ("relu", "tanh", "sigmoid")
    assert set(g.selection()).isdisjoint(g.report()) and set(g.sections()) <= set(g.report())
    assert g.report_seeds >= 5 and g.selection_seeds >= 3 and 10 <= g.long_epochs <= 20
    assert all(e.long for e in g.entries if e.activation == "relu" and e.section == "sweep")
    assert {e.hidden for e in g.entries if e.section == "width"} == {32, 512, 1024}
    scales = {(e.variant, e.options) for e in g.entries if e.section == "scale"}
    assert {dict(o)["feedback_scale"] for _, o in scales} == {0.1, 10.0}
    assert {v for v, _ in scales} == {"feedback-fixed", "feedback-sign"}
    assert set(g.stale_kinds) == {"stale", "stale-gradient"} and set(g.stale_momenta) == {0.0, 0.9}
    assert len(g.stale_ks) >= 8 and max(g.stale_steps) >= 1.0
    kinds = {dict(o).get("noise_kind", "additive") for _, o in g.noise_variants}
    assert kinds == {"additive", "multiplicative"} and min(g.noise_sigmas) <= 1e-4
    assert {dict(o)["round_mode"] for _, o in g.round_variants} == {"nearest", "stochastic"}
    assert len(g.round_bits) >= 4 and len(g.grad_bits) >= 4
    assert len(g.entries) == len({(e.variant, e.options, e.activation, e.hidden) for e in g.entries})
    assert FULL.runs > DEFAULT.runs > QUICK.runs


def test_each_grid_states_its_runs_and_cpu_hours_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    with pytest.raises(SystemExit):
        main(["experiments", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for g in GRIDS.values():
        assert f"{g.name}: {g.runs:,} runs" in text
        assert f"about {g.cpu_hours:g} CPU hours" in text


def test_the_report_says_what_each_grid_leaves_out() -> None:
    from model.study.report import limits

    default = " ".join(limits(DEFAULT))
    assert "the sigmoid and tanh variants are reported at the short budget (2 epochs) only" in default
    assert "measured for relu alone (10 epochs)" in default
    assert "the rounding resolution sweep at relu, sigmoid only (not tanh)" in default
    assert "Training length" not in " ".join(limits(FULL))  # the full grid trains every variant long


def test_a_config_knows_its_label_effective_step_and_hyperparameters() -> None:
    c = RunConfig("stale", options_of({"stale_k": 10}), lr=0.02, momentum=0.5, activation="tanh")
    assert c.effective_step == pytest.approx(0.04)
    assert c.key == "stale k=10 | tanh lr=0.02 mu=0.5"
    hp = c.hparams(BASE, seed=3)
    assert (hp.variant, hp.stale_k, hp.lr, hp.momentum, hp.activation, hp.seed) == ("stale", 10, 0.02, 0.5, "tanh", 3)
    m = RunConfig("noise-same", options_of({"sigma": 0.5, "noise_kind": "multiplicative"}), hidden=512)
    assert m.key == "noise-same mult sigma=0.5 | relu lr=0.01 mu=0.9 H=512" and m.hparams(BASE, 0).hidden == 512
    r = RunConfig("round-forward-dw", options_of({"round_bits": 2, "round_mode": "stochastic"}))
    assert r.label == "round-forward-dw stochastic b=2"


def test_run_ids_stay_the_same_for_the_same_run() -> None:
    """A stored study is reused only while its runs keep their names: pin one."""
    t = Task(0, RunConfig("exact", lr=0.1), 1000, 10, DEFAULT.base(), 100, None, "mnist")
    assert t.run_id == "69124fc67d3a596c01c6"


# ---- statistics -----------------------------------------------------------------------------
def test_interval_is_the_student_t_95_percent_half_width() -> None:
    i = Interval.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert i.mean == 3.0 and i.n == 5
    assert i.half == pytest.approx(2.776 * math.sqrt(2.5) / math.sqrt(5))
    assert math.isnan(Interval.of([1.0]).half) and Interval.of([]).n == 0
    assert Interval.of([1.0, math.nan, 3.0]).n == 2


# ---- adaptive sweeps ------------------------------------------------------------------------
def fake_run(job_config: RunConfig, seed: int, epochs: int, valid: float, diverged: bool = False) -> RunResult:
    n = 1 if diverged else epochs
    return RunResult(
        job_config.key, job_config.label, job_config.variant, "-", seed, job_config.lr, job_config.momentum,
        job_config.activation, valid, valid, math.nan, valid, n, 0.1, [valid] * n, [valid] * n, 1.0, 10 * n, diverged,
        epochs=epochs, as_trained_curve=[math.nan] * n, train_loss_curve=[0.1] * n,
        epoch_steps=[10 * (i + 1) for i in range(n)], hidden=8,
    )  # fmt: skip


def settle(grid: Grid, valid_at: dict[float, float], fails_from: float) -> tuple[Runs, list[list[float]]]:
    """Run the planner on made-up runs: validation error by rate, failure from ``fails_from`` up."""
    runs, rounds = Runs(), []
    for _ in range(20):
        jobs = next_jobs(grid, runs)
        if not jobs:
            break
        rounds.append(sorted({j.config.lr for j in jobs if j.config.variant == "exact" and j.seed < 1000}))
        for j in jobs:
            runs.add(fake_run(j.config, j.seed, j.epochs, valid_at.get(j.config.lr, 0.5), j.config.lr >= fails_from))
    return runs, rounds


def test_a_sweep_extends_until_its_best_rate_is_interior_and_a_larger_rate_fails() -> None:
    grid = replace(TINY_GRID, entries=(Entry("exact", long=True),), stale_momenta=(), noise_activations=())
    runs, rounds = settle(grid, {0.01: 0.3, 0.03: 0.2, 0.1: 0.1, 0.3: 0.08, 1.0: 0.09}, fails_from=3.0)
    assert rounds[:4] == [[0.03, 0.1], [0.3], [1.0], [3.0]]  # up one ladder step a round
    state = sweep_state(grid.entries[0], grid, runs)
    assert state.chosen == 0.3 and state.edge == "" and state.stable_range == (1.0, True)
    report = [j for j in next_jobs(grid, Runs())]  # nothing is reported before the sweep settles
    assert all(j.seed < 1000 for j in report)
    assert runs.get(grid.entries[0].config(0.3, grid.momentum), 1000, 2) is not None  # report seeds, long budget


def test_a_sweep_whose_best_rate_is_the_smallest_goes_down_and_one_that_fails_everywhere_ends() -> None:
    grid = replace(TINY_GRID, entries=(Entry("exact"),), stale_momenta=(), noise_activations=())
    runs, _ = settle(grid, {0.01: 0.1, 0.03: 0.2, 0.1: 0.3}, fails_from=0.3)
    state = sweep_state(grid.entries[0], grid, runs)
    assert state.chosen == 0.01 and state.edge == "lowest rate of the ladder" and state.stable_range == (0.1, True)
    runs, _ = settle(grid, {}, fails_from=0.0)
    state = sweep_state(grid.entries[0], grid, runs)
    assert state.chosen is None and sorted(state.tried) == list(grid.ladder[:3]) and state.edge == "every rate failed"


def test_report_runs_sit_at_the_chosen_rate_with_the_controls_beside_them() -> None:
    grid = replace(TINY_GRID, stale_momenta=(), noise_activations=())
    runs, _ = settle(grid, {0.03: 0.1, 0.1: 0.2}, fails_from=0.3)
    fixed = grid.entries[2]
    report = [r for r in runs if r.seed >= 1000 and r.lr == 0.03]
    assert {r.variant for r in report} == {"exact", "shallow", "feedback-fixed", "noise-true"}
    assert all(r.epochs == (1 if r.variant == "noise-true" else 2) for r in report if r.variant != "exact")
    assert sweep_state(fixed, grid, runs).chosen == 0.03


def test_the_failure_rule_flags_divergence_near_chance_and_runs_that_fell_apart() -> None:
    c = RunConfig("exact")
    ok, slow = fake_run(c, 0, 2, 0.1), fake_run(c, 0, 2, 0.6)
    assert not ok.failed and not slow.failed  # slow but still improving: not a failure
    assert fake_run(c, 0, 2, 0.1, diverged=True).failed and fake_run(c, 0, 2, 0.85).failed
    fell = replace(ok, valid_curve=[0.44, 0.70])  # learned, then fell apart (tanh redrawn at lr 0.1 in v2)
    assert fell.failed and not replace(ok, valid_curve=[0.70, 0.44]).failed


def test_failed_seeds_are_counted_apart_and_left_out_of_means_and_pairs() -> None:
    c = RunConfig("exact")
    runs = [fake_run(c, 0, 2, 0.1), fake_run(c, 1, 2, 0.2), fake_run(c, 2, 2, 0.9)]
    s = summarize(c, runs, 2)
    assert (s.failed, s.seeds) == (1, 3) and s.test.mean == pytest.approx(0.15) and set(s.test_by_seed) == {0, 1}
    other = summarize(c, [fake_run(c, i, 2, 0.1 + 0.01 * i) for i in range(3)], 2)
    assert paired(other, s).diff.n == 2


def test_a_longer_run_stands_for_a_shorter_one_with_the_same_seed() -> None:
    data, cfg = tiny_data(200), RunConfig("noise-same", options_of({"sigma": 0.3}), lr=0.05)
    three, two = run_tasks(
        [Task(0, cfg, 0, 3, BASE, 2, None, "t"), Task(1, cfg, 0, 2, BASE, 2, None, "t")],
        jobs=1, data=data, store=None, backend="serial",
    )  # fmt: skip
    view = three.view(2)
    for name in ("valid_error", "test_error", "test_error_as_trained", "final_test_error", "best_epoch", "steps"):
        assert getattr(view, name) == getattr(two, name), name
    assert view.valid_curve == two.valid_curve and view.diag_steps == two.diag_steps
    assert view.diagnostics == two.diagnostics and view.train_loss == pytest.approx(two.train_loss)


# ---- running it -----------------------------------------------------------------------------
def test_a_tiny_study_chooses_reports_and_writes_its_files(tmp_path: Path) -> None:
    g = TINY_GRID
    study = run_grid(g, jobs=1, data=tiny_data(400), backend="serial", diag_every=10)
    assert study.meta["reused"] == 0 and study.meta["rounds"] >= 2
    rows = sweep(study, g)
    assert [r.label for r in rows] == ["exact", "shallow", "feedback-fixed", "noise-true sigma=0.5"]
    for r in rows:
        assert r.state.chosen is not None and not r.state.pending
        assert set(r.report) == ({1, 2} if r.entry.long else {1})
    exact, shallow, fixed, noisy = rows
    assert noisy.chosen is not None and math.isfinite(noisy.chosen.as_trained.mean)
    assert exact.chosen is not None and math.isnan(exact.chosen.as_trained.mean)
    assert fixed.chosen is not None and all(math.isfinite(i.mean) for i in fixed.chosen.diagnostics["feedback_angle"])
    assert shallow.chosen is not None and all(i.mean == 0.0 for i in shallow.chosen.diagnostics["w1_drift"])
    assert ("exact equal", 2) in fixed.contrasts and ("shallow best", 1) in fixed.contrasts
    paths = write_results(study, g, tmp_path, command="mnist-tui experiments --grid tiny")
    md = (tmp_path / "results.md").read_text()
    for heading in (
        "## What this grid does not measure",
        "## 1.",
        "## 2.",
        "## 3. Stale",
        "## 5. Noise",
        "## References",
    ):
        assert heading in md
    assert "| - | exact |" in md and "stale gradient (the whole gradient" in md and "Holm" in md
    assert "sweep at relu only" not in md  # the grid's only activation: nothing left out there
    assert "hours of one core" in md
    again, grid = from_json(read_json(paths[0], MAX_RESULTS_BYTES))  # strict JSON, every field checked
    assert grid == g
    again_rows = sweep(again, grid)
    for a, b in zip(rows, again_rows, strict=True):
        assert a.state.chosen == b.state.chosen
        assert b.chosen is not None and a.chosen is not None
        assert b.chosen.test.mean == pytest.approx(a.chosen.test.mean, rel=1e-3)
    assert "Q1 random feedback" in render_plot(again_rows, grid)


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
        run_tasks(tasks(configs, 2, 1), jobs=1, data=data, store=store, backend="serial", on_event=_StopAfter(4))
    assert len(store.load()) == 4
    torn = store.folder / f"{'a' * 20}.json"
    torn.write_text('{"key": "exact | relu')  # a file a dying disk left half-written
    events: list[Any] = []
    said: list[str] = []
    store = ResultStore(tmp_path, warn=said.append)
    resumed = run_tasks(
        tasks(configs, 2, 1), jobs=1, data=data, store=store, backend="serial", stored=store.load(),
        on_event=events.append,
    )  # fmt: skip
    assert sum(e.reused for e in events if e.kind == "done") == 4
    assert torn.with_suffix(".bad").exists() and len(said) == 1 and str(torn) in said[0]
    straight = run_tasks(tasks(configs, 2, 1), jobs=1, data=data, store=None, backend="serial")
    assert [r.to_dict() | {"seconds": 0} for r in resumed] == [r.to_dict() | {"seconds": 0} for r in straight]


def test_a_report_from_the_stored_runs_trains_nothing_and_says_it_is_partial(tmp_path: Path) -> None:
    g, data = TINY_GRID, tiny_data(400)
    with pytest.raises(KeyboardInterrupt):  # a study stopped in its first round
        run_grid(g, jobs=1, data=data, store=ResultStore(tmp_path), backend="serial", on_event=_StopAfter(9))
    events: list[Any] = []
    partial = run_grid(
        g, jobs=1, data=data, store=ResultStore(tmp_path), backend="serial", on_event=events.append, stored_only=True
    )
    done = [e for e in events if e.kind == "done"]
    assert len(done) == 9 and all(e.reused for e in done) and not [e for e in events if e.kind == "start"]
    assert partial.meta["runs"] == partial.meta["reused"] == 9 and partial.meta["missing"] > 0
    write_results(partial, g, tmp_path / "partial")
    md = (tmp_path / "partial" / "results.md").read_text()
    assert "**Partial results.**" in md and f"at least {partial.meta['missing']:,} runs" in md
    assert "nothing was trained" in md
    again, _ = from_json(read_json(tmp_path / "partial" / "results.json", MAX_RESULTS_BYTES))
    assert again.meta["missing"] == partial.meta["missing"]
    whole = run_grid(g, jobs=1, data=data, store=ResultStore(tmp_path), backend="serial")
    assert whole.meta["missing"] == 0 and whole.meta["reused"] == 9
    final = run_grid(g, jobs=1, data=data, store=ResultStore(tmp_path), backend="serial", stored_only=True)
    assert final.meta["missing"] == 0 and final.meta["runs"] == final.meta["reused"] == whole.meta["runs"]
    write_results(final, g, tmp_path / "final")
    assert "Partial" not in (tmp_path / "final" / "results.md").read_text()


def test_a_different_setting_is_not_mistaken_for_a_stored_run(tmp_path: Path) -> None:
    store, data = ResultStore(tmp_path), tiny_data(200)
    run_tasks(tasks([RunConfig("exact", lr=0.05)], 1, 1), jobs=1, data=data, store=store, backend="serial")
    other = tasks([RunConfig("exact", lr=0.05)], 1, 1, base=BASE.validated(hidden=9))
    assert other[0].run_id not in store.load()


@pytest.mark.slow
def test_a_tiny_study_in_a_process_pool_matches_the_serial_run() -> None:
    configs = [RunConfig("exact", lr=0.05), RunConfig("stale-gradient", options_of({"stale_k": 2}), lr=0.05)]
    data = tiny_data(200)
    serial = run_tasks(tasks(configs, 2, 1), jobs=1, data=data, store=None, backend="serial")
    pooled = run_tasks(tasks(configs, 2, 1), jobs=2, data=data, store=None, backend="pool")
    for a, b in zip(serial, pooled, strict=True):
        assert (a.key, a.seed, a.test_error, a.valid_curve) == (b.key, b.seed, b.test_error, b.valid_curve)


@pytest.mark.slow
def test_a_tiny_study_on_a_two_worker_dask_cluster_matches_the_serial_run() -> None:
    from distributed import LocalCluster

    configs = [RunConfig("exact", lr=0.05), RunConfig("noise-backward", options_of({"sigma": 0.5}), lr=0.05)]
    data = tiny_data(200)
    serial = run_tasks(tasks(configs, 2, 1), jobs=1, data=data, store=None, backend="serial")
    with LocalCluster(  # type: ignore[no-untyped-call]  # dask.distributed has no type hints
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        distributed = run_tasks(
            tasks(configs, 2, 1), jobs=2, data=data, store=None, backend="dask", scheduler=cluster.scheduler_address
        )
    for a, b in zip(serial, distributed, strict=True):
        assert (a.key, a.seed, a.test_error, a.valid_curve) == (b.key, b.seed, b.test_error, b.valid_curve)


@pytest.mark.slow
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
    assert " 0 reused" in " ".join(printed.err.split())
    assert main(argv) == 0  # again: every run comes from the store
    again = " ".join(capsys.readouterr().err.split())
    runs = int(again.split(" runs: ")[0].split()[-1])
    assert f"{runs} runs: {runs} reused, 0 trained" in again
    assert main([*argv, "--stored-only"]) == 0  # the whole study is stored: a report like any other
    assert "partial" not in capsys.readouterr().err and "Partial" not in (out / "results.md").read_text()
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
        missing = str(tmp_path / "nope.pkl.gz")
        run_tasks(tasks([RunConfig("exact")], 2, 1), jobs=2, data=missing, store=None, backend="pool")


class DiesInTheWorker:
    """Data whose first use ends the process without a word, as an out-of-memory kill would."""

    @property
    def train_x(self) -> np.ndarray:
        os._exit(3)


@pytest.mark.slow
def test_a_worker_that_dies_silently_stops_the_study_as_a_broken_pool() -> None:
    with pytest.raises(BrokenProcessPool):
        run_tasks(tasks([RunConfig("exact")], 2, 1), jobs=2, data=DiesInTheWorker(), store=None, backend="pool")


# ---- the committed results ------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # reads, checks and analyses a few MB of results
def test_the_committed_results_are_the_default_grids_and_the_study_page_tells_them_as_they_are() -> None:
    from model.study import markdown

    study, grid = from_json(read_json(ROOT / "assets" / "results.json", MAX_RESULTS_BYTES))
    assert grid.name == "default" and grid.entries == DEFAULT.entries
    assert replace(grid, cpu_hours=0, minutes=0, note="") == replace(DEFAULT, cpu_hours=0, minutes=0, note="")
    md = (ROOT / "assets" / "results.md").read_text()
    tables = md[md.index("## 1.") : md.index("## Figures")]
    assert markdown(study, grid, study.meta["command"]).find(tables) > 0  # results.md is what results.json gives
    answers = (ROOT / "docs" / "study.md").read_text()
    partial = study.meta["missing"] > 0
    assert ("**Partial results.**" in md) == partial and ("**Partial results.**" in answers) == partial
    assert f"{study.meta['runs']:,} runs" in answers
    linked = [part.split(")")[0] for part in answers.split("](assets/")[1:]]
    assert "results.md" in linked and len(linked) > 5
    for name in linked:
        assert (ROOT / "assets" / name).is_file(), name
