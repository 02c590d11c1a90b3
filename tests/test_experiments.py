"""The backward-pass study on a tiny budget: configs, worker processes, aggregation, files, CLI."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest

from model.config import HyperParams
from model.data import MNIST
from model.study import (
    RunConfig,
    default_configs,
    from_json,
    markdown_table,
    plot_groups,
    run_study,
    write_results,
)
from model.variants import VARIANT_NAMES
from tui.experiments_cli import render_plot


def tiny_data(n: int = 400) -> MNIST:
    rng = np.random.default_rng(0)
    centres = rng.random((10, 784), dtype=np.float32)

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, m)
        x = np.clip(centres[y] + 0.3 * rng.standard_normal((m, 784), dtype=np.float32), 0, 0.99)
        return (np.floor(x * 256) / 256).astype(np.float32), y.astype(np.int64)  # pixels = uint8 / 256

    (tx, ty), (vx, vy), (sx, sy) = split(n), split(n // 4), split(n // 4)
    return MNIST(tx, ty, vx, vy, sx, sy, source="tiny")


def test_default_configs_cover_every_variant_and_option() -> None:
    configs = default_configs(sigmas=(0.5, 1.0), stale_ks=(1, 10, 100))
    assert {c.variant for c in configs} == set(VARIANT_NAMES)
    assert configs[0].variant == "exact"
    labels = [c.label for c in configs]
    assert len(labels) == len(set(labels))
    assert {"stale k=1", "stale k=10", "stale k=100", "noise-same sigma=0.5", "noise-same sigma=1"} <= set(labels)
    hp = RunConfig("noise-forward", sigma=1.0).hparams(HyperParams(), seed=4)
    assert (hp.variant, hp.sigma, hp.seed) == ("noise-forward", 1.0, 4)


@pytest.mark.parametrize("jobs", [1, 2])
def test_tiny_study_aggregates_and_writes_both_files(jobs: int, tmp_path: Path) -> None:
    configs = [RunConfig("exact"), RunConfig("feedback-fixed"), RunConfig("noise-same", sigma=0.5)]
    events = []
    study = run_study(
        configs,
        seeds=2,
        epochs=2,
        jobs=jobs,
        data=tiny_data(),
        base=HyperParams(hidden=16, batch_size=50),
        angle_every=2,
        on_event=events.append,
    )
    assert [(r.label, r.seed) for r in study.results] == [(c.label, s) for c in configs for s in (0, 1)]
    kinds = [e.kind for e in events]
    assert kinds.count("start") == kinds.count("done") == 6 and kinds.count("epoch") == 12
    rows = study.rows()
    assert [r.label for r in rows] == [c.label for c in configs]
    exact, fb, noise = rows
    assert exact.angles == {"W1": 0.0, "W2": 0.0}
    assert fb.angles["W2"] == 0.0 and fb.angles["W1"] > 1.0
    assert noise.angles["W2"] > 1.0
    assert all(0 <= r.test_error_mean < 0.9 and len(r.valid_curve) == 2 for r in rows)
    errs = [r.test_error for r in study.results if r.label == "feedback-fixed"]
    assert fb.test_error_mean == pytest.approx(np.mean(errs))
    assert fb.test_error_std == pytest.approx(np.std(errs, ddof=1))

    plot = render_plot(rows, width=60, height=12)
    assert "Q1 random feedback matrix" in plot and "E = exact" in plot and "\x1b[" not in plot
    paths = write_results(study, tmp_path, command="mnist-tui experiments --epochs 2", plot=plot)
    assert {p.name for p in paths} == {"results.md", "results.json", "results_plot.txt"}
    md = (tmp_path / "results.md").read_text()
    assert "mnist-tui experiments --epochs 2" in md and markdown_table(rows) in md
    assert md.count("\n| ") == 1 + len(rows)  # header and one line per config
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["meta"]["epochs"] == 2 and saved["meta"]["seeds"] == 2 and saved["meta"]["environment"]["numpy"]
    assert len(saved["runs"]) == 6 and saved["rows"][1]["label"] == "feedback-fixed"
    assert markdown_table(from_json(saved).rows()) == markdown_table(rows)  # results.md can be redrawn


def test_plot_groups_put_exact_in_every_panel() -> None:
    configs = default_configs(sigmas=(0.5, 1.0))
    study = run_study(
        [c for c in configs if c.variant in ("exact", "stale", "noise-backward")],
        seeds=1,
        epochs=1,
        jobs=1,
        data=tiny_data(200),
        base=HyperParams(hidden=8, batch_size=50),
    )
    groups = plot_groups(study.rows())
    assert [title for title, _ in groups] == [
        "Q2 stale W2 in the backward pass",
        "Q5 Gaussian noise on h, sigma=0.5",
        "Q5 Gaussian noise on h, sigma=1",
    ]
    assert all(members[0].variant == "exact" for _, members in groups)


def test_experiments_command_on_tiny_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from tui.cli import main

    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path / "cache"))
    d, data = tiny_data(300), tmp_path / "tiny.pkl.gz"
    with gzip.open(data, "wb") as f:
        pickle.dump(((d.train_x, d.train_y), (d.valid_x, d.valid_y), (d.test_x, d.test_y)), f)
    out = tmp_path / "out"
    argv = ["experiments", "--data", str(data), "--epochs", "1", "--seeds", "1", "--jobs", "2", "--hidden", "16"]
    code = main([*argv, "--variants", "round-dw,stale", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "| 6 | round-dw |" in printed and "| 2 | stale k=100 |" in printed
    assert (out / "results.md").read_text().count("\n| ") == 1 + 5  # exact, round-dw, stale at three k
    assert "--variants round-dw,stale" in json.loads((out / "results.json").read_text())["meta"]["command"]
    assert main([*argv, "--variants", "nope", "--out", str(out)]) == 2
    assert "unknown variant nope" in capsys.readouterr().err


def test_a_worker_that_cannot_load_the_data_stops_the_study_with_its_reason(tmp_path: Path) -> None:
    from model.data import DataError

    with pytest.raises(DataError, match="does not exist"):
        run_study([RunConfig("exact")], seeds=2, epochs=1, jobs=2, data=str(tmp_path / "missing.pkl.gz"))


class DiesInTheWorker:
    """Data whose first use ends the process without a word, as an out-of-memory kill would."""

    @property
    def train_x(self) -> np.ndarray:
        os._exit(3)


def test_a_worker_that_dies_silently_stops_the_study_as_a_broken_pool() -> None:
    with pytest.raises(BrokenProcessPool):
        run_study([RunConfig("exact")], seeds=2, epochs=1, jobs=2, data=DiesInTheWorker())
