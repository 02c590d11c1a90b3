"""Gradient-level tests of the feedback, staleness, noise, rounding and random-h variants: each
update is checked against the formula it claims (by hand, or by finite differences in float64)."""

from __future__ import annotations

import numpy as np
import pytest
from test_variants import record_inputs

from model.config import HyperParams
from model.mlp import MLP, backward, log_softmax, loss_and_correct
from model.trainer import Trainer
from model.variants import (
    BackwardInputs,
    GradientRounding,
    HiddenNoise,
    RandomFeedback,
    RandomHidden,
    Rounding,
    SignFeedback,
    StaleGradient,
    make_rule,
)
from model.variants.rounding import round_to
from model.variants.staleness import MAX_RING_BYTES

D, H, K, B = 20, 12, 10, 16


def tiny(seed: int = 0, activation: str = "relu", dtype: type = np.float32) -> tuple[MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = MLP(D, H, K, activation, np.random.default_rng(seed + 1), dtype=dtype)
    X: np.ndarray = rng.random((B, D)).astype(dtype)
    y = rng.integers(0, K, B).astype(np.int64)
    return model, X, y


def by_hand(model: MLP, X: np.ndarray, y: np.ndarray, fed: BackwardInputs) -> dict[str, np.ndarray]:
    """The backward pass fed ``fed``, written out: what every variant's update must equal."""
    logits = fed.h_out @ model.W2.T + model.b2
    probs = np.exp(log_softmax(logits))
    dact = model.act.grad_from_output(fed.h_act)
    if fed.dact_scale is not None:
        dact = dact * fed.dact_scale
    return backward(X, y, probs, fed.h_dW2, dact, fed.feedback)


# ---- Q1: feedback --------------------------------------------------------------------------
@pytest.mark.parametrize("redraw", [False, True])
def test_the_feedback_scale_scales_b_and_only_the_first_layers_update(redraw: bool) -> None:
    model, X, y = tiny()
    g1 = RandomFeedback(redraw, 1.0).loss_and_grads(model, X, y, np.random.default_rng(3)).grads
    g1 = {k: v.copy() for k, v in g1.items()}
    rule = RandomFeedback(redraw, 10.0)
    g10 = rule.loss_and_grads(model, X, y, np.random.default_rng(3)).grads
    assert rule.feedback is not None and rule.feedback.std() == pytest.approx(10 / np.sqrt(H), rel=0.3)
    np.testing.assert_allclose(g10["W1"], 10 * g1["W1"], rtol=1e-5, atol=1e-7)  # delta_h is linear in B
    np.testing.assert_allclose(g10["b1"], 10 * g1["b1"], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(g10["W2"], g1["W2"])  # the output layer's gradient is exact
    np.testing.assert_array_equal(g10["b2"], g1["b2"])


def test_the_feedback_scale_is_a_hyperparameter_the_rule_reads() -> None:
    rule = make_rule(HyperParams(variant="feedback-sign", feedback_scale=0.1))
    assert isinstance(rule, SignFeedback) and rule.scale == 0.1
    with pytest.raises(ValueError, match="feedback_scale"):
        HyperParams().validated(feedback_scale=0.0)


def test_sign_concordant_feedback_follows_the_signs_of_w2_with_fixed_magnitudes() -> None:
    model, X, y = tiny()
    rule, rng = SignFeedback(), np.random.default_rng(0)
    seen = record_inputs(rule)
    magnitudes = []
    for step in range(3):
        grads = rule.loss_and_grads(model, X, y, rng).grads
        fed = seen[-1]
        assert rule.magnitude is not None
        magnitudes.append(rule.magnitude.copy())
        np.testing.assert_array_equal(np.sign(fed.feedback), np.sign(model.W2))
        np.testing.assert_array_equal(np.abs(fed.feedback), rule.magnitude)
        want = by_hand(model, X, y, fed)
        for k in want:
            np.testing.assert_allclose(grads[k], want[k], rtol=1e-5, atol=1e-7, err_msg=f"step {step} {k}")
        model.W2 *= -1.0 if step == 0 else 1.5  # the signs flip: B's must follow
    np.testing.assert_array_equal(magnitudes[0], magnitudes[-1])
    assert not np.allclose(magnitudes[0], np.abs(model.W2))  # |B| carries nothing of W2


# ---- Q2: stale whole gradients ---------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 1, 4])
def test_a_stale_gradient_is_the_exact_gradient_at_the_weights_of_k_steps_ago(k: int) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((256, D), dtype=np.float32), rng.integers(0, K, 256)
    hp = HyperParams(hidden=H, batch_size=16, lr=0.5, momentum=0.0, variant="stale-gradient", stale_k=k)
    trainer = Trainer((X, y), hp, angle_every=0)
    assert isinstance(trainer.variant, StaleGradient)
    history = []  # the weights before each step
    for t in range(9):
        history.append({n: p.copy() for n, p in trainer.model.params.items()})
        before = trainer.model.params
        trainer.step()
        old = trainer.model.copy()
        old.set_params(history[max(0, t - k)])
        want = old.loss_and_grads(trainer._batch_x, trainer._batch_y).grads
        applied = {n: (history[t][n] - before[n]) / hp.lr for n in before}  # momentum 0: W -= lr g
        for name in want:
            np.testing.assert_allclose(applied[name], want[name], rtol=1e-3, atol=1e-6, err_msg=f"t={t} {name}")
    assert not np.array_equal(history[0]["W1"], history[-1]["W1"])


def test_a_stale_gradient_ring_that_would_not_fit_is_one_clear_error() -> None:
    model, X, y = tiny()
    k = MAX_RING_BYTES // sum(p.nbytes for p in model.params.values())
    with pytest.raises(ValueError, match=r"stale-gradient with k=.* GiB"):
        StaleGradient(k).loss_and_grads(model, X, y, np.random.default_rng(0))


def test_a_stale_gradient_checkpoint_resumes_its_ring(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from model.checkpoint import load_checkpoint, save_checkpoint

    rng = np.random.default_rng(0)
    X, y = rng.random((128, D), dtype=np.float32), rng.integers(0, K, 128)
    hp = HyperParams(hidden=H, batch_size=16, variant="stale-gradient", stale_k=3)
    a = Trainer((X, y), hp, angle_every=0)
    for _ in range(5):
        a.step()
    path = save_checkpoint(tmp_path / "c.npz", a.run_state())
    b = Trainer((X, y), hp, angle_every=0)
    b.resume(load_checkpoint(path))
    for _ in range(4):
        a.step()
        b.step()
    np.testing.assert_array_equal(a.model.W1, b.model.W1)


# ---- Q5: noise -------------------------------------------------------------------------------
def loss_with_fixed_noise(model: MLP, X: np.ndarray, y: np.ndarray, factor: np.ndarray, kind: str) -> float:
    """The noise-injected network's loss with the noise held fixed (float64)."""
    h = model.act.forward(X @ model.W1.T + model.b1)
    h = h * factor if kind == "multiplicative" else h + factor
    return loss_and_correct(log_softmax(h @ model.W2.T + model.b2), y)[0]


@pytest.mark.parametrize("kind", ["additive", "multiplicative"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_noise_true_is_the_exact_gradient_of_the_noise_injected_net(kind: str, activation: str) -> None:
    model, X, y = tiny(activation=activation, dtype=np.float64)
    model.b1 += 0.05  # no pre-activation sits at ReLU's kink
    rule = HiddenNoise("true", 0.4, kind)
    grads = rule.loss_and_grads(model, X, y, np.random.default_rng(7)).grads
    factor = rule._buf.get("n1", (B, H), np.dtype(np.float64)).copy()  # the noise this step drew
    eps = 1e-6
    for name, param in model.params.items():
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            keep = param[i]
            param[i] = keep + eps
            up = loss_with_fixed_noise(model, X, y, factor, kind)
            param[i] = keep - eps
            down = loss_with_fixed_noise(model, X, y, factor, kind)
            param[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("kind", ["additive", "multiplicative"])
@pytest.mark.parametrize(
    ("mode", "out", "dw2", "act"),
    [
        ("forward", "n", "h", "h"),
        ("backward", "h", "n", "n"),
        ("backward-clean", "h", "n", "h"),
        ("same", "n", "n", "n"),
        ("independent", "n", "n2", "n2"),
        ("independent-clean", "n", "n2", "h"),
        ("true", "n", "n", "h"),
    ],
)
def test_each_noise_mode_feeds_the_noisy_or_clean_h_where_its_table_says(
    kind: str, mode: str, out: str, dw2: str, act: str
) -> None:
    model, X, y = tiny()
    rule = HiddenNoise(mode, 0.5, kind)
    seen = record_inputs(rule)
    grads = rule.loss_and_grads(model, X, y, np.random.default_rng(0)).grads
    fed, h = seen[-1], model.hidden(X)
    n1 = rule._buf.get("n1_h", h.shape, h.dtype)
    n2 = rule._buf.get("n2_h", h.shape, h.dtype)
    states = {"h": h, "n": n1, "n2": n2}
    for got, want in ((fed.h_out, out), (fed.h_dW2, dw2), (fed.h_act, act)):
        np.testing.assert_array_equal(got, states[want])
    factor = rule._buf.get("n1", h.shape, h.dtype)
    expected = h * factor if kind == "multiplicative" else h + factor
    np.testing.assert_allclose(n1, expected, rtol=1e-6)
    expect = by_hand(model, X, y, fed)
    for name in expect:
        np.testing.assert_allclose(grads[name], expect[name], rtol=1e-5, atol=1e-7)


def test_multiplicative_noise_keeps_a_dead_relu_unit_dead_and_additive_noise_opens_its_gate() -> None:
    model, X, y = tiny()
    h = model.hidden(X)
    assert (h == 0).mean() > 0.2  # some units are off on some rows
    for kind, opened in (("multiplicative", False), ("additive", True)):
        rule = HiddenNoise("same", 1e-4, kind)
        seen = record_inputs(rule)
        rule.loss_and_grads(model, X, y, np.random.default_rng(0))
        gate = model.act.grad_from_output(seen[-1].h_act)
        assert bool((gate[h == 0] > 0).any()) is opened  # act'(h + eps) > 0 for half the closed gates


# ---- Q6: rounding ----------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [0, 2, 5])
def test_rounding_lands_on_multiples_of_two_to_the_minus_bits(bits: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (200, 30)).astype(np.float32)
    step = 2.0**-bits
    nearest = round_to(x, bits, "nearest", rng, np.empty_like(x))
    np.testing.assert_array_equal(nearest / step, np.rint(nearest / step))
    assert np.abs(nearest - x).max() <= step / 2 + 1e-6
    draws = np.stack([round_to(x, bits, "stochastic", rng, np.empty_like(x)) for _ in range(400)])
    np.testing.assert_array_equal(draws / step, np.rint(draws / step))
    assert ((draws == np.floor(x / step) * step) | (draws == np.ceil(x / step) * step)).all()
    np.testing.assert_allclose(draws.mean(axis=0), x, atol=4 * step / np.sqrt(400))  # unbiased


@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
def test_hidden_rounding_uses_the_resolution_and_mode_it_is_given(mode: str) -> None:
    model, X, y = tiny()
    model.W1 *= 4
    rule = make_rule(HyperParams(variant="round-forward-dw", round_bits=2, round_mode=mode))
    assert isinstance(rule, Rounding) and (rule.bits, rule.mode) == (2, mode)
    seen = record_inputs(rule)
    grads = rule.loss_and_grads(model, X, y, np.random.default_rng(0)).grads
    fed, h = seen[-1], model.hidden(X)
    np.testing.assert_array_equal(fed.h_act, h)  # straight-through: act' at the real h
    assert fed.h_out is fed.h_dW2 and np.abs(fed.h_out - h).max() <= (0.25 if mode == "stochastic" else 0.125) + 1e-6
    np.testing.assert_array_equal(fed.h_out * 4, np.rint(fed.h_out * 4))
    expect = by_hand(model, X, y, fed)
    for name in expect:
        np.testing.assert_allclose(grads[name], expect[name], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("bits", [6, 10])
def test_gradient_rounding_rounds_every_array_of_the_exact_gradient(bits: int) -> None:
    model, X, y = tiny()
    exact = model.loss_and_grads(X, y).grads
    step = 2.0**-bits
    g = GradientRounding(bits, "nearest").loss_and_grads(model, X, y, np.random.default_rng(0)).grads
    for name in exact:
        np.testing.assert_array_equal(g[name] / step, np.rint(g[name] / step))
        assert np.abs(g[name] - exact[name]).max() <= step / 2 + 1e-7
    rule = GradientRounding(bits, "stochastic")
    rng = np.random.default_rng(0)
    mean = {k: np.zeros_like(v) for k, v in exact.items()}
    for _ in range(400):
        for k, v in rule.loss_and_grads(model, X, y, rng).grads.items():
            mean[k] += v / 400
    for name in exact:  # stochastic rounding is unbiased: small gradients survive on average
        np.testing.assert_allclose(mean[name], exact[name], atol=4 * step / np.sqrt(400))


def test_nearest_rounding_of_small_gradients_loses_them_and_stochastic_keeps_their_mean() -> None:
    model, X, y = tiny()
    exact = model.loss_and_grads(X, y).grads["W1"]
    bits = int(np.floor(-np.log2(np.abs(exact).max()))) - 2  # every entry under half a step
    nearest = GradientRounding(bits, "nearest").loss_and_grads(model, X, y, np.random.default_rng(0)).grads["W1"]
    assert not nearest.any()
    rng, total = np.random.default_rng(0), np.zeros_like(exact)
    rule = GradientRounding(bits, "stochastic")
    for _ in range(2000):
        total += rule.loss_and_grads(model, X, y, rng).grads["W1"]
    assert np.corrcoef((total / 2000).ravel(), exact.ravel())[0, 1] > 0.8


# ---- Q3/Q4: random h drawn once --------------------------------------------------------------
@pytest.mark.parametrize("where", ["act", "dW2", "both"])
def test_random_h_drawn_once_is_one_vector_for_every_row_and_step(where: str) -> None:
    model, X, y = tiny()
    rule, rng = RandomHidden(where, "once"), np.random.default_rng(0)
    seen = record_inputs(rule)
    vectors = []
    for _ in range(3):
        grads = rule.loss_and_grads(model, X, y, rng).grads
        fed = seen[-1]
        r = fed.h_act if where in ("act", "both") else fed.h_dW2
        np.testing.assert_array_equal(r, np.broadcast_to(r[0], r.shape))  # one vector, every row
        vectors.append(r[0].copy())
        want = by_hand(model, X, y, fed)
        for name in want:
            np.testing.assert_allclose(grads[name], want[name], rtol=1e-5, atol=1e-7)
        if where in ("dW2", "both"):
            assert np.linalg.matrix_rank(grads["W2"].astype(np.float64), tol=1e-6) == 1  # (sum of deltas) h^T
        model.W1 += 0.05  # new statistics: the vector must not follow them
    assert all(np.array_equal(vectors[0], v) for v in vectors[1:])
    assert rule.state()["h_once"].shape == (1, H)
