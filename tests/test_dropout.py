"""Dropout: the masked network's exact gradient, off means off, never at evaluation, reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import HyperParams, parse_value
from model.mlp import MLP, PARAM_NAMES, cross_entropy
from model.trainer import Trainer
from model.variants import StaleWeights, Variant, make_rule

D, H, K, B = 12, 9, 10, 7


def data(n: int = 300, d: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, d), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def trainer(**changes: object) -> Trainer:
    hp = HyperParams(hidden=16, batch_size=20, lr=0.1).validated(**changes)
    return Trainer(data(), hp)


def record_masks(rule: Variant) -> list[dict[str, np.ndarray]]:
    """Wrap ``rule._mask`` so each call's masks are kept, one dict per call of ``loss_and_grads``.

    Keys are the mask slots ("m_in" for the inputs (B, D), "m_h" for the hidden units (B, H));
    the arrays are copies, since the rule reuses its buffers.
    """
    calls: list[dict[str, np.ndarray]] = []
    mask, loss_and_grads = rule._mask, rule.loss_and_grads

    def recording_mask(slot: str, *args: object) -> np.ndarray:
        m = mask(slot, *args)  # type: ignore[arg-type]
        calls[-1][slot] = m.copy()
        return m

    def recording_step(*args: object) -> object:
        calls.append({})
        return loss_and_grads(*args)  # type: ignore[arg-type]

    rule._mask = recording_mask  # type: ignore[method-assign,assignment]
    rule.loss_and_grads = recording_step  # type: ignore[assignment,method-assign]
    return calls


def masked_loss(model: MLP, X: np.ndarray, y: np.ndarray, m_in: np.ndarray, m_h: np.ndarray) -> float:
    """Mean cross-entropy of the network with fixed masks: inputs X m_in, hidden h m_h."""
    h = model.act.forward((X * m_in) @ model.W1.T + model.b1) * m_h
    return cross_entropy(h @ model.W2.T + model.b2, y)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_dropout_gradient_matches_finite_differences_of_the_masked_network(activation: str) -> None:
    rng = np.random.default_rng(1)
    model = MLP(D, H, K, activation, np.random.default_rng(2), dtype=np.float64)
    model.b1[...] = rng.normal(0.0, 0.3, H)  # no ReLU unit sits exactly at its kink
    X, y = rng.random((B, D)), rng.integers(0, K, B)
    rule = make_rule(HyperParams(dropout=0.5, input_dropout=0.3))
    masks = record_masks(rule)
    loss, _, grads = rule.loss_and_grads(model, X, y, np.random.default_rng(3))
    m_in, m_h = masks[-1]["m_in"], masks[-1]["m_h"]
    assert m_in.shape == (B, D) and m_h.shape == (B, H) and m_h.dtype == np.float64
    assert 0 < (m_h == 0).sum() < m_h.size and 0 < (m_in == 0).sum() < m_in.size
    assert loss == pytest.approx(masked_loss(model, X, y, m_in, m_h), rel=1e-12)
    eps = 1e-6
    for name in PARAM_NAMES:
        p = model.params[name]
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):  # central differences over every parameter (float64)
            old = p[i]
            p[i] = old + eps
            up = masked_loss(model, X, y, m_in, m_h)
            p[i] = old - eps
            down = masked_loss(model, X, y, m_in, m_h)
            p[i] = old
            numeric[i] = (up - down) / (2 * eps)
        assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


def test_masks_are_inverted_dropout() -> None:
    rule = make_rule(HyperParams(dropout=0.25, input_dropout=0.5))
    model = MLP(64, 400, 10, "relu", np.random.default_rng(0))
    X, y = data(200)
    masks = record_masks(rule)
    rule.loss_and_grads(model, X, y, np.random.default_rng(0))
    m_in, m_h = masks[-1]["m_in"], masks[-1]["m_h"]
    assert m_h.dtype == np.float32
    assert set(np.unique(m_h)) == {0.0, np.float32(1 / 0.75)}
    assert set(np.unique(m_in)) == {0.0, 2.0}
    assert (m_h == 0).mean() == pytest.approx(0.25, abs=0.01)  # 80,000 draws
    assert (m_in == 0).mean() == pytest.approx(0.5, abs=0.01)


def test_zero_dropout_is_exactly_the_old_gradient_and_draws_nothing() -> None:
    model = MLP(64, 16, 10, "relu", np.random.default_rng(0))
    X, y = data(20)
    loss0, _, ref = model.loss_and_grads(X, y)
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    loss, _, grads = make_rule(HyperParams(dropout=0.0, input_dropout=0.0)).loss_and_grads(model, X, y, rng)
    assert loss == loss0 and rng.bit_generator.state == before
    for name in PARAM_NAMES:
        assert_array_equal(grads[name], ref[name])


def test_dropout_that_keeps_every_unit_gives_the_plain_gradient() -> None:
    model = MLP(64, 16, 10, "relu", np.random.default_rng(0))
    X, y = data(20)
    loss0, _, ref = model.loss_and_grads(X, y)
    rule = make_rule(HyperParams(dropout=1e-12, input_dropout=1e-12))  # masked path, mask = 1
    loss, _, grads = rule.loss_and_grads(model, X, y, np.random.default_rng(0))
    assert loss == pytest.approx(loss0, rel=1e-6)
    for name in PARAM_NAMES:
        assert_allclose(grads[name], ref[name], rtol=1e-5, atol=1e-7)


def test_evaluation_ignores_dropout() -> None:
    t = trainer(dropout=0.5, input_dropout=0.2)
    for _ in range(10):
        t.step()
    state = t.rule_rng.bit_generator.state
    first = t.evaluate().results
    assert t.evaluate().results == first  # no randomness at evaluation
    assert t.rule_rng.bit_generator.state == state
    plain = t.model.copy()
    assert first["train"] == plain.evaluate(*t.train)  # the full network, no masks, no rescaling
    t.update_hparams(dropout=0.0, input_dropout=0.0)
    assert t.evaluate().results == first


def test_same_seed_gives_the_same_run_and_dropout_changes_it() -> None:
    runs = []
    for changes in ({"dropout": 0.5, "input_dropout": 0.2},) * 2 + ({"dropout": 0.0},):
        t = trainer(**changes)
        losses = [t.step().loss for _ in range(15)]
        runs.append((losses, t.model.W1.copy()))
    assert runs[0][0] == runs[1][0]
    assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0][1:] != runs[2][0][1:]


def test_training_with_dropout_learns() -> None:
    rng = np.random.default_rng(0)
    centres = rng.random((10, 64), dtype=np.float32)
    y = rng.integers(0, 10, 1000).astype(np.int64)
    X = (centres[y] + 0.3 * rng.standard_normal((1000, 64))).astype(np.float32)
    t = Trainer((X, y), HyperParams(hidden=64, batch_size=50, lr=0.1, dropout=0.5, input_dropout=0.2))
    assert t.evaluate().error("train") > 0.5
    for _ in range(100):
        t.step()
    assert t.evaluate().error("train") < 0.05


def test_resume_with_dropout_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    straight = trainer(dropout=0.5, input_dropout=0.2)
    for _ in range(12):
        straight.step()
    first = trainer(dropout=0.5, input_dropout=0.2)
    for _ in range(5):
        first.step()
    resumed = trainer()
    resumed.resume(load_checkpoint(save_checkpoint(tmp_path / "run.npz", first.run_state())))
    assert resumed.hp.dropout == 0.5 and resumed.hp.input_dropout == 0.2
    for _ in range(7):
        resumed.step()
    for name in PARAM_NAMES:
        assert_array_equal(resumed.model.params[name], straight.model.params[name])


def test_changing_dropout_keeps_the_variant_and_applies_next_step() -> None:
    t = trainer(variant="stale", stale_k=3)
    rule = t.variant
    assert isinstance(rule, StaleWeights)
    masks = record_masks(rule)
    for _ in range(4):
        t.step()
    assert masks == [{}] * 4  # no dropout: no mask drawn
    ring = rule.ring
    t.update_hparams(dropout=0.5)
    t.step()
    assert t.variant is rule and rule.dropout == 0.5 and rule.ring is ring  # the stale ring is kept
    assert set(masks[-1]) == {"m_h"} and (masks[-1]["m_h"] == 0).any()


@pytest.mark.parametrize("text", ["1", "1.0", "-0.1", "nan", "half"])
def test_dropout_outside_zero_to_one_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="dropout"):
        parse_value("dropout", text)
    assert parse_value("input_dropout", "0.2") == 0.2


def test_alignment_angles_with_dropout_measure_the_masked_update() -> None:
    plain, dropped = trainer(), trainer(dropout=0.5)
    assert plain.step().angles == {"W1": 0.0, "W2": 0.0}
    angles = dropped.step().angles
    assert angles is not None and 0.0 < angles["W2"] < 90.0
