"""The training-recipe pieces the speedrun preset uses: warm-up, the linear schedule, label smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from model.config import HyperParams, parse_value
from model.mlp import MLP, log_softmax
from model.schedule import lr_at
from model.trainer import Trainer
from tui.widgets.controls import label_for, nudge


@pytest.mark.parametrize(("epoch", "factor"), [(0.0, 1.0), (2.5, 0.75), (10.0, 0.0), (12.0, 0.0)])
def test_linear_schedule_falls_to_zero_over_the_epochs(epoch: float, factor: float) -> None:
    hp = HyperParams(lr=0.2, schedule="linear", epochs=10)
    assert lr_at(hp, epoch) == pytest.approx(0.2 * factor)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear", "step"])
def test_warmup_ramps_any_schedule_from_zero(schedule: str) -> None:
    plain = HyperParams(lr=0.3, schedule=schedule, epochs=4, lr_decay=0.5)
    warm = plain.validated(warmup=0.5)
    assert lr_at(warm, 0.0) == 0.0
    assert lr_at(warm, 0.25) == pytest.approx(0.5 * lr_at(plain, 0.25))
    for epoch in (0.5, 1.0, 3.0):  # after the warm-up, the schedule itself
        assert lr_at(warm, epoch) == pytest.approx(lr_at(plain, epoch))


def test_recipe_fields_are_parsed_and_bounded() -> None:
    assert parse_value("warmup", "0.3") == 0.3 and parse_value("label_smoothing", "0.1") == 0.1
    assert parse_value("schedule", "Linear") == "linear"
    for name, bad in (("warmup", "-1"), ("label_smoothing", "1"), ("label_smoothing", "-0.1")):
        with pytest.raises(ValueError, match=name):
            parse_value(name, bad)


def _smoothed_loss(model: MLP, X: np.ndarray, y: np.ndarray, eps: float) -> float:
    """Mean over rows of -sum_k t_k log p_k with t = (1 - eps) onehot(y) + eps / K."""
    log_p = log_softmax(model.logits(X))
    K = log_p.shape[1]
    t = np.full_like(log_p, eps / K)
    t[np.arange(len(y)), y] += 1.0 - eps
    return float(-(t * log_p).sum(axis=1).mean())


def test_label_smoothing_gradient_matches_finite_differences() -> None:
    """Central differences in float64 over every parameter of a toy net (10 inputs, 5 hidden, 3 classes)."""
    rng = np.random.default_rng(0)
    model = MLP(10, 5, 3, "tanh", rng, dtype=np.float64)
    X, y, eps, h = rng.standard_normal((7, 10)), rng.integers(0, 3, 7), 0.2, 1e-6
    grads = model.loss_and_grads(X, y, smoothing=eps).grads
    for name, param in model.params.items():
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + h
            up = _smoothed_loss(model, X, y, eps)
            param[i] = old - h
            down = _smoothed_loss(model, X, y, eps)
            param[i] = old
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_label_smoothing_reaches_every_rule_and_leaves_the_loss_plain() -> None:
    """The fused path, the variants' path (dropout on) and a plain step agree on the loss they
    report (the plain cross-entropy); smoothing changes the update, not what is reported."""
    rng = np.random.default_rng(1)
    X, y = rng.random((64, 20), dtype=np.float32), rng.integers(0, 10, 64)
    base = HyperParams().validated(hidden=8, batch_size=64, lr=0.1)
    plain, smooth = (Trainer((X, y), base.validated(label_smoothing=e)) for e in (0.0, 0.3))
    first = plain.step(), smooth.step()
    assert first[0].loss == pytest.approx(first[1].loss, rel=1e-6)  # same weights, same batch: same plain loss
    assert not np.allclose(plain.model.W2, smooth.model.W2)  # different targets, different update
    dropped = Trainer((X, y), base.validated(label_smoothing=0.3, dropout=0.5))
    assert dropped.variant.label_smoothing == 0.3
    dropped.set_hparams(dropped.hp.validated(label_smoothing=0.1))
    assert dropped.variant.label_smoothing == 0.1


def test_the_recipe_fields_nudge_by_tenths_from_off_and_fit_their_labels() -> None:
    """A log step from 0 would land on 1e-5 epochs of warm-up; tenths reach the useful values."""
    assert nudge("warmup", 0.0, 1) == 0.1 and nudge("warmup", 0.3, -1) == pytest.approx(0.2)
    assert nudge("label_smoothing", 0.0, 1) == 0.1 and nudge("label_smoothing", 0.1, -1) == 0.0
    with pytest.raises(ValueError, match="limit"):
        nudge("label_smoothing", 0.0, -1)
    for name in ("warmup", "label_smoothing"):  # the narrow layout's label column is 14 wide, a space included
        assert len(label_for(name)) <= 13
