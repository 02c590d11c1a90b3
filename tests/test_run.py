"""The run core: commands in, events out; settings asked for and applied, epochs, halts, closing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams
from model.data import MNIST
from model.run import Change, Evaluate, Load, Pause, Policy, Reset, Resume, Run, Step, open_run
from model.run import events as ev
from model.trainer import make_trainer

HP = HyperParams(hidden=16, batch_size=100, epochs=2, lr=0.05)  # 20 steps an epoch on the tiny set


def heard(run: Run) -> list[Any]:
    """Every event the run reports from now on."""
    events: list[Any] = []
    run.listen(events.append)
    return events


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_a_run_trains_its_epochs_evaluates_each_end_and_halts_finished(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP, tiny_mnist))
    events = heard(run)
    run.train()
    assert run.state == "finished" and run.trainer.state.step == 40 and run.epochs_done == 2
    assert [e.record.epoch for e in of(events, ev.EpochEnded)] == [1.0, 2.0]
    assert [e.metrics.step for e in of(events, ev.Evaluated)] == [20, 40]
    assert of(events, ev.Finished) == [ev.Finished(epochs=2, more=2)]
    kinds = [type(e) for e in events[-5:]]  # the last step, its epoch's evaluation and line, the halt
    assert kinds == [ev.Stepped, ev.Evaluated, ev.EpochEnded, ev.StateChanged, ev.Finished]
    outcome = run.close()
    assert outcome.status == "finished" and outcome.epochs == 2.0 and len(outcome.history) == 2


def test_training_settings_apply_at_the_next_step_and_architecture_waits_for_reset(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP, tiny_mnist))
    events = heard(run)
    run.step()
    run.apply(Change({"lr": 0.01, "hidden": 8}))
    assert run.trainer.hp.lr == 0.01 and run.desired.hidden == 8 and run.trainer.hp.hidden == 16
    assert run.pending == ("hidden",) and run.trainer.model.shape[1] == 16
    (changed,) = of(events, ev.Changed)
    assert changed.changes == {"lr": 0.01, "hidden": 8} and changed.pending == ("hidden",) and changed.step == 1
    assert run.step().lr == 0.01
    run.apply(Reset())
    assert run.trainer.model.shape[1] == 8 and not run.pending and run.trainer.state.step == 0
    assert of(events, ev.Restarted) == [ev.Restarted("reset")]


def test_a_bad_change_is_refused_and_nothing_changes(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP, tiny_mnist))
    with pytest.raises(ValueError, match="lr must be"):
        run.apply(Change({"lr": -1.0, "momentum": 0.5}))
    assert run.desired == HP and run.trainer.hp == HP


def test_settings_are_valid_by_construction() -> None:
    import dataclasses

    with pytest.raises(ValueError, match="batch_size"):
        dataclasses.replace(HP, batch_size=0)  # no path around the check: HyperParams checks itself
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        HP.validated(learning_rate=0.1)


def test_a_finished_checkpoint_opens_finished_and_resume_says_how_far(tiny_mnist: MNIST, tmp_path: Path) -> None:
    run = Run(make_trainer(HP.validated(epochs=1), tiny_mnist))
    run.train()
    path = save_checkpoint(tmp_path / "e1.npz", run.snapshot())
    resumed = open_run(tiny_mnist, HP, resume=load_checkpoint(path))
    assert resumed.state == "finished" and resumed.epochs_done == 1 and resumed.trainer.hp.epochs == 1
    events = heard(resumed)
    resumed.apply(Resume())
    (changed,) = of(events, ev.Changed)
    assert changed.changes == {"epochs": 2} and changed.extended == 1 and resumed.state == "running"
    resumed.train()
    assert resumed.state == "finished" and resumed.epochs_done == 2  # not an epoch past what it says


def test_a_loaded_finished_checkpoint_is_finished_too(tiny_mnist: MNIST, tmp_path: Path) -> None:
    done = Run(make_trainer(HP.validated(epochs=1), tiny_mnist))
    done.train()
    path = save_checkpoint(tmp_path / "done.npz", done.trainer.run_state())
    run = Run(make_trainer(HP, tiny_mnist))
    run.apply(Load(str(path)))
    assert run.state == "finished" and run.trainer.state.step == 20
    with pytest.raises(CheckpointError, match="no such file"):
        run.apply(Load(str(tmp_path / "missing.npz")))
    assert run.trainer.state.step == 20  # a failed load changes nothing


def test_pause_resume_and_a_single_step(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP, tiny_mnist), paused=True)
    run.train()  # paused: no step
    assert run.trainer.state.step == 0
    run.apply(Step())
    assert run.trainer.state.step == 1 and run.state == "paused"
    run.apply(Resume())
    run.train(stop=lambda: run.trainer.state.step >= 5)
    run.apply(Pause())
    assert run.state == "paused" and run.trainer.state.step == 5


def test_a_divergence_halts_and_a_new_setting_then_resume_trains_on(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP.validated(lr=500.0, epochs=100), tiny_mnist))
    events = heard(run)
    run.train()
    assert run.state == "diverged" and len(of(events, ev.Diverged)) == 1
    weights = run.trainer.model.W1.copy()
    assert np.isfinite(weights).all()  # the last good weights are back
    run.apply(Change({"lr": 0.01}))
    assert run.state == "diverged"  # until told to go on
    run.apply(Resume())
    run.train(stop=lambda: run.trainer.state.step >= 30)
    assert run.state == "running" and run.trainer.state.step == 30


def test_closing_after_a_divergence_reports_the_epoch_it_stopped_in(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP.validated(lr=500.0, epochs=100), tiny_mnist))
    run.train()
    outcome = run.close()
    assert outcome.status == "diverged" and outcome.diverged
    assert outcome.history and not outcome.history[-1].whole  # a fraction of an epoch, not rounded up
    assert outcome.history[-1].epoch == pytest.approx(run.trainer.epoch_float, abs=1e-4)


def test_keep_best_leaves_the_best_evaluation_weights(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP.validated(epochs=4), tiny_mnist), policy=Policy(keep_best=True))
    best: list[tuple[int, dict[str, np.ndarray]]] = []
    run.listen(
        lambda e: (
            best.append((e.metrics.step, {k: v.copy() for k, v in run.trainer.model.params.items()}))
            if isinstance(e, ev.Evaluated) and e.best
            else None
        )
    )
    run.train()
    outcome = run.close()
    step, params = best[-1]
    assert outcome.best_epoch == step / 20
    for name, value in params.items():
        np.testing.assert_array_equal(run.trainer.model.params[name], value)


def test_a_rule_of_ones_own_plugs_into_the_run(tiny_mnist: MNIST) -> None:
    class Halved:
        """Backprop at half the step: any object with loss_and_grads."""

        def loss_and_grads(self, model, X, y, rng):  # type: ignore[no-untyped-def]
            loss, correct, grads = model.loss_and_grads(X, y)
            return loss, correct, {k: v / 2 for k, v in grads.items()}

    run = open_run(tiny_mnist, HP, rule=Halved())
    run.apply(Change({"variant": "stale"}))  # the settings' variant does not replace it
    run.train()
    assert run.state == "finished" and run.trainer.variant.name == "custom"
    assert run.close().valid_error < 0.5


def test_evaluate_is_recorded_as_a_look_not_a_change(tiny_mnist: MNIST) -> None:
    run = Run(make_trainer(HP, tiny_mnist))
    events = heard(run)
    run.apply(Evaluate())
    (evaluated,) = of(events, ev.Evaluated)
    assert not evaluated.epoch_end and evaluated.best and run.trainer.state.step == 0
