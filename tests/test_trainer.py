"""Trainer behaviour: determinism, step-wise control, schedules, evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import train_to_end

from model.config import HyperParams, parse_value
from model.schedule import lr_at
from model.trainer import FLUSH_EVERY, Trainer, cap_row_norms, flush_subnormals


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten Gaussian clusters in 784-d pixel space: learnable in a few hundred steps."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).random((10, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    X = np.clip(centres[y] + 0.3 * rng.standard_normal((n, 784), dtype=np.float32), 0, 0.99)
    return X.astype(np.float32), y.astype(np.int64)


def make(hp: HyperParams | None = None, n: int = 600) -> Trainer:
    return Trainer(blobs(n), hp or HyperParams(hidden=32, batch_size=32), eval_sets={"valid": blobs(200, seed=1)})


def test_same_seed_gives_same_numbers() -> None:
    a, b = make(), make()
    la = [a.step().loss for _ in range(30)]
    lb = [b.step().loss for _ in range(30)]
    assert la == lb
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)


def test_different_seed_gives_different_run() -> None:
    a, b = make(), make(HyperParams(hidden=32, batch_size=32, seed=1))
    assert [a.step().loss for _ in range(5)] != [b.step().loss for _ in range(5)]


def test_epochs_cover_every_example_once_and_reshuffle() -> None:
    t = make(HyperParams(hidden=8, batch_size=100), n=600)
    first = t.order.copy()
    for _ in range(6):
        t.step()
    assert t.state.position == 600 and t.state.epoch == 0
    t.step()
    assert t.state.epoch == 1 and not np.array_equal(first, t.order)
    assert np.array_equal(np.sort(t.order), np.arange(600))


def test_last_batch_of_epoch_is_partial() -> None:
    t = make(HyperParams(hidden=8, batch_size=256), n=600)
    sizes = [t.step().batch_size for _ in range(4)]
    assert sizes == [256, 256, 88, 256]
    assert t.state.examples_seen == 856


def test_hyperparameter_change_applies_at_next_step() -> None:
    t = make()
    t.step()
    t.update_hparams(lr=parse_value("lr", "0.001"), batch_size=parse_value("batch_size", "16"))
    m = t.step()
    assert m.lr == pytest.approx(0.001) and m.batch_size == 16


def test_invalid_change_is_rejected_and_keeps_old_values() -> None:
    t = make()
    with pytest.raises(ValueError, match="lr must be"):
        t.update_hparams(lr=-1.0)
    assert t.hp.lr == HyperParams().lr


def test_architecture_changes_need_new_weights() -> None:
    t = make()
    with pytest.raises(ValueError, match="hidden can only change with new weights"):
        t.update_hparams(hidden=16, lr=0.01)
    assert t.model.shape[1] == 32 and t.hp.lr == HyperParams().lr  # nothing changed
    t.reset(t.hp.validated(hidden=16))
    assert t.model.shape[1] == 16 and t.state.step == 0 and t.hp.hidden == 16


def test_training_reduces_loss_and_error() -> None:
    t = make(HyperParams(hidden=32, batch_size=32, lr=0.05, epochs=3))
    before = t.evaluate()
    result = train_to_end(t)
    assert result.valid_error < 0.1 < before.error("valid")
    assert result.train_loss < before.loss("train")
    assert len(result.history) == 3 and result.best_epoch in (1, 2, 3)


def test_momentum_and_weight_decay_change_the_update() -> None:
    runs = {}
    for name, hp in {
        "plain": HyperParams(hidden=16, momentum=0.0),
        "momentum": HyperParams(hidden=16, momentum=0.9),
        "decay": HyperParams(hidden=16, momentum=0.0, weight_decay=0.1),
    }.items():
        t = make(hp)
        for _ in range(5):
            t.step()
        runs[name] = t.model.W1.copy()
    assert not np.allclose(runs["plain"], runs["momentum"])
    assert np.linalg.norm(runs["decay"]) < np.linalg.norm(runs["plain"])


def test_cap_row_norms_scales_only_rows_over_the_limit() -> None:
    W = np.asfortranarray(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], np.float32))  # norms 5, 0.5, 0
    cap_row_norms(W, 2.0)
    np.testing.assert_allclose(W, [[1.2, 1.6], [0.3, 0.4], [0.0, 0.0]], rtol=1e-6)
    assert W.dtype == np.float32 and W.flags.f_contiguous


def test_max_norm_bounds_every_hidden_unit_and_zero_turns_it_off() -> None:
    hp = HyperParams(hidden=16, lr=0.5, momentum=0.9)
    free, capped = make(hp), make(hp.validated(max_norm=0.5))
    for _ in range(40):
        free.step()
        capped.step()
    assert np.linalg.norm(free.model.W1, axis=1).max() > 0.5  # the limit binds on this run
    assert np.linalg.norm(capped.model.W1, axis=1).max() <= 0.5 * (1 + 1e-5)
    capped.update_hparams(max_norm=0.0)  # off: rows may grow again
    for _ in range(40):
        capped.step()
    assert np.linalg.norm(capped.model.W1, axis=1).max() > 0.5
    assert parse_value("max_norm", "2") == 2.0
    with pytest.raises(ValueError, match="max_norm"):
        parse_value("max_norm", "-1")


@pytest.mark.parametrize(
    ("schedule", "epoch", "factor"),
    [("constant", 3.5, 1.0), ("step", 2.5, 0.25), ("exp", 1.5, 0.5**1.5), ("cosine", 5.0, 0.5), ("cosine", 10, 0.0)],
)
def test_schedules(schedule: str, epoch: float, factor: float) -> None:
    hp = HyperParams(lr=0.1, schedule=schedule, lr_decay=0.5, epochs=10)
    assert lr_at(hp, epoch) == pytest.approx(0.1 * factor, abs=1e-12)


def test_non_finite_loss_restores_last_good_weights() -> None:
    t = make()
    for _ in range(3):
        t.step()
    t.resume(t.run_state())  # a loaded state is the last good one
    good = {k: v.copy() for k, v in t.model.params.items()}
    t.model.W2[0, 0] = np.nan
    m = t.step()
    assert not m.finite and t.diverged
    assert all(np.array_equal(t.model.params[k], good[k]) for k in good)


@pytest.mark.parametrize("variant", ["exact", "stale", "feedback-fixed", "noise-independent"])
def test_a_loaded_state_continues_the_run_bit_for_bit(variant: str) -> None:
    hp = HyperParams(hidden=16, batch_size=64, lr=0.02, variant=variant, stale_k=2, sigma=0.2)
    straight, first = make(hp), make(hp)
    for _ in range(5):
        straight.step()
        first.step()
    resumed = make(HyperParams(hidden=4, seed=9))  # everything comes from the state
    resumed.resume(first.run_state())
    ahead, behind = [straight.step() for _ in range(15)], [resumed.step() for _ in range(15)]  # crosses an epoch
    assert [m.loss for m in ahead] == [m.loss for m in behind] and not any(m.diverged for m in ahead)
    for name, value in straight.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)


def test_flush_subnormals_zeroes_only_what_is_below_the_smallest_normal() -> None:
    tiny = np.finfo(np.float32).tiny
    sub = np.float32(tiny) / np.float32(8)  # subnormal
    v = np.array([sub, -sub, np.float32(1.4e-45), -0.0, tiny, -tiny, 1e-30, -2.5, 0.0], np.float32)
    want = np.array([0, 0, 0, 0, tiny, -tiny, 1e-30, -2.5, 0], np.float32)
    flush_subnormals(v, work=np.empty_like(v))
    np.testing.assert_array_equal(v, want)
    assert not np.signbit(v[:4]).any()  # exactly +0
    v64 = np.array([np.finfo(np.float64).tiny / 4, 1e-300], np.float64)
    flush_subnormals(v64, work=np.empty_like(v64))
    np.testing.assert_array_equal(v64, [0.0, 1e-300])


def test_momentum_subnormals_are_flushed_on_the_step_counter_and_weights_do_not_change() -> None:
    """A blank pixel leaves its W1 column's gradient exactly 0, so its velocity only decays: seeded
    with subnormals (and a small normal value), they stay until the step count reaches a multiple
    of FLUSH_EVERY, then are exactly 0; the normal value is untouched; the weights match a run
    that never flushes, bit for bit. A run resumed mid-way flushes on the same steps."""
    X, y = blobs(600)
    X[:, 0] = 0.0  # pixel 0 is blank in every image
    hp = HyperParams(hidden=16, batch_size=32, momentum=0.9)
    flushed, kept = Trainer((X, y), hp), Trainer((X, y), hp)
    kept.flush_every = 0
    tiny = np.finfo(np.float32).tiny
    seed = np.zeros(16, np.float32)
    seed[:8] = np.float32(tiny) / np.float32(3)  # subnormal
    seed[8] = 1e-20  # normal, and still normal after 2 * FLUSH_EVERY steps of decay
    for t in (flushed, kept):
        t.velocity["W1"][:, 0] = seed
    for step in range(1, 2 * FLUSH_EVERY + 1):
        for t in (flushed, kept):
            t.step()
        if step == 7:  # a run resumed here keeps counting from its state's step
            resumed = Trainer((X, y), hp)
            resumed.resume(flushed.run_state())
        elif step > 7:
            resumed.step()
            np.testing.assert_array_equal(resumed.velocity["W1"], flushed.velocity["W1"])
        col, col_kept = flushed.velocity["W1"][:, 0], kept.velocity["W1"][:, 0]
        assert col_kept[:8].all() and (np.abs(col_kept[:8]) < tiny).all()  # never flushed: still subnormal
        if step < FLUSH_EVERY:
            np.testing.assert_array_equal(flushed.velocity["W1"], kept.velocity["W1"])
        else:  # flushed at FLUSH_EVERY; from then on 0, and everything else as in the run that keeps them
            assert not col[:8].any()
            np.testing.assert_array_equal(col[8:], col_kept[8:])
            np.testing.assert_array_equal(flushed.velocity["W1"][:, 1:], kept.velocity["W1"][:, 1:])
        assert col[8] > tiny  # the normal value is untouched
        for name, value in kept.model.params.items():
            np.testing.assert_array_equal(flushed.model.params[name], value)


def test_a_state_for_other_data_is_refused_and_changes_nothing() -> None:
    state = make().run_state()
    other = make(n=300)
    before = {k: v.copy() for k, v in other.model.params.items()}
    with pytest.raises(ValueError, match="600 training examples, not 300"):
        other.resume(state)
    assert all(np.array_equal(other.model.params[k], v) for k, v in before.items())


def test_a_step_counts_the_rows_its_own_forward_pass_got_right() -> None:
    t = make()
    X, y = t.train
    for _ in range(5):
        idx = t.order[t.state.position : t.state.position + t.hp.batch_size]
        before = t.model.predict(X[idx])  # the weights the step's forward pass sees
        m = t.step()
        assert m.correct == int(np.count_nonzero(before == y[idx]))


def test_a_run_reports_the_running_train_error_without_a_pass_over_the_training_set() -> None:
    from model.run import Run
    from model.run.events import Stepped

    t = make(HyperParams(hidden=32, batch_size=32, epochs=2))
    evaluated: list[tuple[str, ...]] = []
    evaluate = t.evaluate_with_mistakes

    def recording_evaluate(names: Any = None, mistakes_in: Any = None) -> Any:
        evaluated.append(tuple(names or ()))
        return evaluate(names, mistakes_in)

    t.evaluate_with_mistakes = recording_evaluate  # type: ignore[method-assign]
    steps: list[Any] = []
    run = Run(t)
    run.listen(lambda e: steps.append(e.metrics) if isinstance(e, Stepped) else None)
    run.train()
    result = run.close()
    assert evaluated == [("valid",), ("valid",)]  # the training set is never run again
    n = len(t.train[0])
    for record, epoch_steps in zip(result.history, (steps[: len(steps) // 2], steps[len(steps) // 2 :]), strict=True):
        assert sum(m.batch_size for m in epoch_steps) == n
        assert record.errors["train"] == pytest.approx(1 - sum(m.correct for m in epoch_steps) / n)
