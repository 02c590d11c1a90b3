"""model.inspect: filter scaling, unit statistics, one prediction explained, minibatch gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.testing import assert_allclose

from model.activations import get_activation
from model.inspect import downsample2, explain, filter_tiles, minibatch_gradients, unit_stats
from model.mlp import MLP, backprop_one_example


def small_params(H: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    model = MLP(784, H, 10, "relu", np.random.default_rng(seed))
    model.b1[:] = np.random.default_rng(seed + 1).normal(0, 0.1, H)
    model.b2[:] = np.random.default_rng(seed + 2).normal(0, 0.1, 10)
    return {k: v.copy() for k, v in model.params.items()}


def test_filter_tiles_scale_per_tile_or_for_all() -> None:
    rng = np.random.default_rng(0)
    W1 = rng.normal(0, 1, (3, 784)).astype(np.float32)
    W1[1] = 10.0 * W1[0]
    W1[2] = 0.0
    per = filter_tiles(W1, per_tile=True)
    assert np.abs(per).max() <= 1.0 and per.dtype == np.float32
    for row in (0, 1):  # the 99th percentile of |w| maps to 1: about 1% of each row is clipped
        assert 0.005 <= np.mean(np.abs(per[row]) == 1.0) <= 0.02
    assert_allclose(per[0], per[1], rtol=1e-6)  # per tile: a row's own scale does not matter
    assert not per[2].any()  # an all-zero row is not divided by zero
    shared = filter_tiles(W1, per_tile=False)
    assert np.abs(shared[0]).max() < 0.25 and np.abs(shared[1]).max() == 1.0  # one scale: row 0 is faint


def test_filter_tiles_never_blow_up_a_sparse_row() -> None:
    W1 = np.zeros((1, 784), np.float32)
    W1[0, 0], W1[0, 1], W1[0, 2] = 2.0, -1.0, 0.2  # the 99th percentile is 0: the floor applies
    per = filter_tiles(W1)
    assert per[0, 0] == 1.0 and per[0, 1] == -1.0 and per[0, 2] == 0.2 / 0.5


def test_downsample2_averages_2x2_blocks() -> None:
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 0:2, 0:2] = [[1, 0], [0, 1]]
    img[0, 26:28, 26:28] = -1
    small = downsample2(img.reshape(1, 784)).reshape(14, 14)
    assert small[0, 0] == 0.5 and small[13, 13] == -1.0 and small.sum() == -0.5


def test_unit_stats_counts_firing_and_dead_units() -> None:
    params = small_params(H=4)
    params["b1"][:] = [0.0, 100.0, -100.0, 0.0]  # unit 1 always fires, unit 2 never
    X = np.random.default_rng(3).random((1_000, 784)).astype(np.float32)
    stats = unit_stats(params, "relu", X, batch=300)  # batches that do not divide N
    assert stats.n == 1_000 and stats.firing[1] == 1.0 and stats.firing[2] == 0.0
    assert stats.dead == 1
    z1 = X @ params["W1"].T + params["b1"]
    assert_allclose(stats.firing, (z1 > 0).mean(axis=0))
    assert_allclose(stats.mean_h, np.maximum(z1, 0).mean(axis=0), rtol=1e-5)


def test_explain_contributions_sum_to_the_logits() -> None:
    params = small_params(H=12)
    x = np.random.default_rng(4).random(784).astype(np.float32)
    e = explain(params, "tanh", x, true_label=3, top=5)
    z2 = params["W2"].astype(np.float64) @ np.tanh(params["W1"].astype(np.float64) @ x + params["b1"]) + params["b2"]
    assert_allclose(e.logits, z2, rtol=1e-6)
    assert_allclose(e.contrib.sum(axis=1) + params["b2"], e.logits, rtol=1e-9)
    assert_allclose(e.probs.sum(), 1.0)
    assert e.pred == int(np.argmax(z2)) and e.true == 3
    assert len(e.top_pred) == len(e.top_true) == 5
    assert (np.diff(e.contrib[e.pred, e.top_pred]) <= 0).all()  # largest first
    assert e.contrib[3, e.top_true[0]] == e.contrib[3].max()


def test_explain_with_fewer_units_than_asked() -> None:
    e = explain(small_params(H=3), "relu", np.zeros(784), true_label=0, top=8)
    assert len(e.top_pred) == 3


def test_minibatch_gradients_match_the_per_example_derivation() -> None:
    params: dict[str, Any] = {k: v.astype(np.float64) for k, v in small_params(H=5).items()}
    rng = np.random.default_rng(5)
    X = rng.random((4, 784)).astype(np.float32)
    y = np.array([1, 7, 7, 0])
    out = minibatch_gradients(params, "sigmoid", X, y)
    act = get_activation("sigmoid")
    per = [backprop_one_example(params, act, X[i].astype(np.float64), int(y[i])) for i in range(4)]
    for name in ("W1", "b1", "W2", "b2"):
        mean = np.mean([g[name] for g in per], axis=0)
        assert_allclose(out.grads[name], mean, rtol=2e-4, atol=1e-7)
        assert out.norms[name] == np.linalg.norm(out.grads[name])
    assert out.delta.shape == (4, 10)
    assert_allclose(out.delta.sum(axis=1), 0.0, atol=1e-6)  # p sums to 1, t to 1
    assert (out.delta[np.arange(4), y] < 0).all()  # p_y - 1
    assert out.loss > 0
