"""Backward-pass variants: exact when switched off, perturb what they claim, the angle probe, switching."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import train_to_end

from model.config import HyperParams, parse_value
from model.mlp import MLP, backprop_one_example
from model.trainer import Trainer
from model.variants import (
    VARIANT_NAMES,
    AlignmentProbe,
    BackwardInputs,
    CustomRule,
    Exact,
    HiddenNoise,
    RandomFeedback,
    RandomHidden,
    Rounding,
    SignFeedback,
    StaleWeights,
    Variant,
    angle_degrees,
    make_rule,
)

D, H, K, B = 20, 12, 10, 16


def tiny(seed: int = 0) -> tuple[MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = MLP(D, H, K, "relu", np.random.default_rng(seed + 1))
    X = rng.random((B, D), dtype=np.float32)
    y = rng.integers(0, K, B).astype(np.int64)
    return model, X, y


def prototypes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten noisy prototypes in 64-d: learnable, but not in a handful of steps."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).random((10, 64), dtype=np.float32)
    y = rng.integers(0, 10, n)
    X = centres[y] + 0.6 * rng.standard_normal((n, 64), dtype=np.float32)
    return X.astype(np.float32), y.astype(np.int64)


def record_inputs(rule: Variant) -> list[BackwardInputs]:
    """Wrap ``rule.inputs`` so every ``BackwardInputs`` it hands the backward pass is kept, in order."""
    seen: list[BackwardInputs] = []
    inputs = rule.inputs

    def recording(model: MLP, h: np.ndarray, z1: np.ndarray, rng: np.random.Generator) -> BackwardInputs:
        seen.append(inputs(model, h, z1, rng))
        return seen[-1]

    rule.inputs = recording  # type: ignore[method-assign]
    return seen


def switched_off(name: str, model: MLP) -> Variant:
    """The variant ``name`` with its perturbation off: sigma 0, k 0, feedback = W2, random h = h,
    no rounding (round-grad has no such setting: its own tests bound its error)."""
    rule = make_rule(HyperParams(variant=name, sigma=0.0, stale_k=0))
    if isinstance(rule, SignFeedback):
        inputs = rule.inputs

        def magnitudes_of_w2(model: MLP, h: np.ndarray, z1: np.ndarray, rng: np.random.Generator) -> BackwardInputs:
            rule.magnitude = np.abs(model.W2)  # sign(W2) |W2| = W2
            return inputs(model, h, z1, rng)

        rule.inputs = magnitudes_of_w2  # type: ignore[method-assign]
    elif isinstance(rule, RandomFeedback):
        rule.draw = lambda model, rng, out: model.W2  # type: ignore[method-assign]
    if isinstance(rule, RandomHidden):
        rule.random_h = lambda model, h, z1, rng: h  # type: ignore[method-assign]
    if isinstance(rule, Rounding):
        rule.places = frozenset()
    return rule


@pytest.mark.parametrize("name", [n for n in VARIANT_NAMES if n not in ("shallow", "round-grad")])
def test_every_variant_is_exactly_backprop_with_its_perturbation_off(name: str) -> None:
    model, X, y = tiny()
    rule, rng = switched_off(name, model), np.random.default_rng(0)
    for _ in range(3):  # several calls: ring buffers and fixed draws are in play
        loss, _, grads = rule.loss_and_grads(model, X, y, rng)
        exact_loss, _, exact = model.loss_and_grads(X, y)
        assert loss == exact_loss
        for k in exact:
            np.testing.assert_array_equal(grads[k], exact[k], err_msg=f"{name} {k}")
        model.W2 += 0.1  # the weights move between steps
        model.W1 -= 0.01


def test_exact_base_matches_the_per_example_derivation() -> None:
    model32, X32, y = tiny()
    model, X = model32.astype(np.float64), X32.astype(np.float64)
    _, _, grads = Variant().loss_and_grads(model, X, y, np.random.default_rng(0))
    per = [backprop_one_example(model.params, model.act, x, int(t)) for x, t in zip(X, y, strict=True)]
    for k in grads:
        np.testing.assert_allclose(grads[k], np.mean([p[k] for p in per], axis=0), rtol=1e-10, atol=1e-12)


def test_fixed_feedback_stays_constant_and_redrawn_changes() -> None:
    model, X, y = tiny()
    rng = np.random.default_rng(0)
    for redraw in (False, True):
        rule = RandomFeedback(redraw)
        fed, seen = record_inputs(rule), []
        for _ in range(3):
            rule.loss_and_grads(model, X, y, rng)
            assert fed[-1].feedback is rule.feedback
            seen.append(rule.feedback.copy())
        same = [np.array_equal(seen[0], s) for s in seen[1:]]
        assert same == ([False, False] if redraw else [True, True])
        assert not np.array_equal(seen[0], model.W2)
        assert seen[0].std() == pytest.approx(1 / np.sqrt(H), rel=0.3)  # drawn like W2's initialisation


def test_random_feedback_changes_only_the_first_layer_gradient() -> None:
    model, X, y = tiny()
    _, _, g = RandomFeedback(False).loss_and_grads(model, X, y, np.random.default_rng(0))
    _, _, exact = model.loss_and_grads(X, y)
    np.testing.assert_array_equal(g["W2"], exact["W2"])
    assert angle_degrees(g["W1"], exact["W1"]) > 20


@pytest.mark.parametrize("k", [1, 3])
def test_stale_weights_lag_by_exactly_k_steps(k: int) -> None:
    X, y = prototypes(256, 0)
    trainer = Trainer((X, y), HyperParams(hidden=H, batch_size=16, variant="stale", stale_k=k))
    rule = trainer.variant
    assert isinstance(rule, StaleWeights)
    fed, history = record_inputs(rule), []
    ring = None
    for t in range(8):
        history.append(trainer.model.W2.copy())  # W2 before step t
        trainer.step()
        np.testing.assert_array_equal(fed[-1].feedback, history[max(0, t - k)])
        assert rule.ring is not None and rule.ring.shape == (k + 1, K, H)
        assert ring is None or rule.ring is ring  # written in place, never reallocated
        ring = rule.ring
    assert not np.array_equal(history[0], history[-1])


@pytest.mark.parametrize("mode", ["forward", "backward", "same", "independent"])
def test_noise_goes_where_the_mode_says(mode: str) -> None:
    model, X, y = tiny()
    rule = HiddenNoise(mode, sigma=0.5)
    seen = record_inputs(rule)
    rule.loss_and_grads(model, X, y, np.random.default_rng(0))
    fed, h = seen[-1], model.hidden(X)
    noisy_out = not np.array_equal(fed.h_out, h)
    noisy_back = not np.array_equal(fed.h_dW2, h)
    assert (noisy_out, noisy_back) == {
        "forward": (True, False),
        "backward": (False, True),
        "same": (True, True),
        "independent": (True, True),
    }[mode]
    assert fed.h_act is fed.h_dW2  # the backward pass reads one h
    if mode == "same":
        assert fed.h_out is fed.h_dW2
    if mode == "independent":
        assert not np.allclose(fed.h_out, fed.h_dW2)
    noise = (fed.h_out if noisy_out else fed.h_dW2) - h
    assert noise.std() == pytest.approx(0.5, rel=0.2)


def test_random_hidden_fixed_pattern_and_redrawn_pattern() -> None:
    model, X, y = tiny()
    rng = np.random.default_rng(0)
    for redraw in (False, True):
        rule = RandomHidden("act", "redrawn" if redraw else "fixed")
        seen, xis = record_inputs(rule), []
        for _ in range(3):
            rule.loss_and_grads(model, X, y, rng)
            assert rule.xi is not None
            xis.append(rule.xi.copy())
        assert [np.array_equal(xis[0], x) for x in xis[1:]] == ([False, False] if redraw else [True, True])
        fed, h = seen[-1], model.hidden(X)
        np.testing.assert_array_equal(fed.h_out, h)
        np.testing.assert_array_equal(fed.h_dW2, h)
        assert not np.array_equal(fed.h_act, h)
        assert (fed.h_act >= 0).all()  # a ReLU state


def test_random_hidden_states_match_each_units_statistics() -> None:
    rng = np.random.default_rng(0)
    model = MLP(30, 8, K, "relu", rng)
    X = rng.random((4000, 30), dtype=np.float32)
    z1 = X @ model.W1.T + model.b1
    h = np.maximum(z1, 0)
    r = RandomHidden("dW2", "redrawn").random_h(model, h, z1, rng)
    np.testing.assert_allclose((r > 0).mean(axis=0), (h > 0).mean(axis=0), atol=0.06)  # firing rate per unit
    np.testing.assert_allclose(r.mean(axis=0), h.mean(axis=0), rtol=0.25, atol=0.02)
    assert abs(np.corrcoef(r[:, 0], h[:, 0])[0, 1]) < 0.1  # unrelated to the example


@pytest.mark.parametrize(
    ("name", "places"),
    [
        ("round-forward", (True, False, False)),
        ("round-backward", (False, False, True)),
        ("round-dw", (False, True, False)),
        ("round-forward-backward", (True, False, True)),
        ("round-forward-dw", (True, True, False)),
        ("round-everywhere", (True, True, True)),
    ],
)
def test_rounding_places(name: str, places: tuple[bool, bool, bool]) -> None:
    model, X, y = tiny()
    model.W1 *= 8  # hidden states spread over a few integers
    rule = make_rule(HyperParams(variant=name))
    seen = record_inputs(rule)
    rule.loss_and_grads(model, X, y, np.random.default_rng(0))
    fed, h = seen[-1], model.hidden(X)
    for arr, rounded in zip((fed.h_out, fed.h_dW2, fed.h_act), places, strict=True):
        np.testing.assert_array_equal(arr, np.rint(h) if rounded else h)


def test_same_seed_gives_same_random_numbers() -> None:
    X, y = prototypes(300, 0)
    runs = []
    for _ in range(2):
        t = Trainer((X, y), HyperParams(hidden=H, batch_size=32, variant="noise-independent", seed=5))
        runs.append([t.step().loss for _ in range(12)])
    assert runs[0] == runs[1]


class MeasuredExact:
    """Exact backprop under a rule the trainer does not know, so its angles go through the probe."""

    def __init__(self) -> None:
        self.exact = Exact()

    def loss_and_grads(self, model, X, y, rng):  # type: ignore[no-untyped-def]
        return self.exact.loss_and_grads(model, X, y, rng)


def test_exact_backprop_measures_zero_degrees_and_the_trainer_reports_what_it_measures() -> None:
    X, y = prototypes(300, 0)
    hp = HyperParams(hidden=H, batch_size=32)
    shortcut = Trainer((X, y), hp, angle_every=3)  # exact: the trainer skips the second pass
    measured = Trainer((X, y), hp, angle_every=3, rule=MeasuredExact())  # same run, angles probed
    assert isinstance(shortcut.variant, Exact) and isinstance(measured.variant, CustomRule)
    reported = [shortcut.step().angles for _ in range(7)]
    probed = [measured.step().angles for _ in range(7)]
    assert [a is not None for a in reported] == [True, False, False, True, False, False, True]
    assert [a is not None for a in probed] == [a is not None for a in reported]
    # The same steps were taken: exact backprop folds W1's momentum update into the gradient's
    # product (one BLAS call), a custom rule updates in separate passes, so float32 rounding differs.
    np.testing.assert_allclose(measured.model.W1, shortcut.model.W1, rtol=1e-5, atol=1e-7)
    for got, want in zip(reported, probed, strict=True):
        if want is not None:
            assert set(want) == {"W1", "W2"} and all(0.0 <= v < 1e-3 for v in want.values())  # measured ~0
            assert got == pytest.approx(want, abs=1e-3)  # the shortcut agrees with the measurement


def test_angle_probe_gives_exactly_zero_for_the_true_gradient() -> None:
    model, X, y = tiny()
    _, _, g = Variant().loss_and_grads(model, X, y, np.random.default_rng(0))
    assert AlignmentProbe()(model, X, y, g) == {"W1": 0.0, "W2": 0.0}


def test_angle_probe_measures_the_variants_update() -> None:
    model, X, y = tiny()
    _, _, g = RandomFeedback(False).loss_and_grads(model, X, y, np.random.default_rng(0))
    g = {k: v.copy() for k, v in g.items()}
    angles = AlignmentProbe()(model, X, y, g)
    _, _, exact = model.loss_and_grads(X, y)
    assert angles["W2"] == 0.0
    assert angles["W1"] == pytest.approx(angle_degrees(g["W1"], exact["W1"]))
    assert angle_degrees(exact["W1"], -exact["W1"]) == pytest.approx(180.0)
    assert 0 < angles["W1"] < 180


def test_variant_switches_between_steps_and_keeps_state_when_options_do_not_matter() -> None:
    X, y = prototypes(300, 0)
    t = Trainer((X, y), HyperParams(hidden=H, batch_size=32))
    t.step()
    t.update_hparams(variant=parse_value("variant", "Feedback-Fixed"))
    t.step()
    rule = t.variant
    assert isinstance(rule, RandomFeedback) and rule.feedback is not None
    fb = rule.feedback.copy()
    t.update_hparams(sigma=1.0, lr=0.01)  # irrelevant to feedback-fixed: same matrix
    t.step()
    assert t.variant is rule and np.array_equal(rule.feedback, fb)
    t.update_hparams(variant="noise-same", sigma=0.3)
    m = t.step()
    assert isinstance(t.variant, HiddenNoise) and t.variant.sigma == 0.3 and m.finite
    t.update_hparams(sigma=0.0)
    assert isinstance(t.variant, HiddenNoise) and t.variant.sigma == 0.0
    t.reset()
    assert t.variant is not rule


def test_custom_rule_is_kept() -> None:
    class Doubled:
        def loss_and_grads(self, model, X, y, rng):  # type: ignore[no-untyped-def]
            loss, correct, g = model.loss_and_grads(X, y)
            return loss, correct, {k: 2 * v for k, v in g.items()}

    X, y = prototypes(100, 0)
    rule = Doubled()
    t = Trainer((X, y), HyperParams(hidden=H, batch_size=32), rule=rule)
    t.update_hparams(variant="stale")
    t.step()
    assert isinstance(t.variant, CustomRule) and t.variant.rule is rule  # the custom rule plugs in, and stays


def test_random_feedback_still_learns() -> None:
    train, valid = prototypes(2000, 0), prototypes(500, 1)
    hp = HyperParams(hidden=64, batch_size=32, variant="feedback-fixed", seed=3, epochs=3)
    t = Trainer(train, hp, eval_sets={"valid": valid}, angle_every=0)
    result = train_to_end(t)
    assert result.valid_error < 0.3  # chance is 0.9


def test_unknown_variant_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="variant must be one of"):
        parse_value("variant", "backprop-ish")
    with pytest.raises(ValueError, match="sigma"):
        HyperParams().validated(sigma=-1.0)


def write_tiny_mnist(path: Path, n: int = 300) -> Path:
    """A small pickle in the classic (train, valid, test) layout, pixels in [0, 1)."""
    rng = np.random.default_rng(0)
    centres = rng.random((10, 784))

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, m)
        x = np.clip(centres[y] + 0.3 * rng.standard_normal((m, 784)), 0, 255 / 256)
        return (np.floor(x * 256) / 256).astype(np.float32), y.astype(np.int64)

    with gzip.open(path, "wb") as f:
        pickle.dump((split(n), split(n // 3), split(n // 3)), f)
    return path


def test_train_command_accepts_a_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from tui.cli import main

    monkeypatch.setenv("MNIST_TUI_CACHE", str(tmp_path / "cache"))
    data = write_tiny_mnist(tmp_path / "tiny.pkl.gz")
    argv = ["train", "--data", str(data), "--epochs", "2", "--hidden", "32", "--json"]
    code = main([*argv, "--variant", "noise-same", "--sigma", "0.2"])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert result["hparams"]["variant"] == "noise-same" and result["hparams"]["sigma"] == 0.2
    assert result["test_error_at_best"] < 0.5
    with pytest.raises(SystemExit):
        main([*argv, "--variant", "nope"])
    assert "variant must be one of" in capsys.readouterr().err


def test_random_hidden_per_example_keeps_each_examples_own_draw() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((96, 20), dtype=np.float32)
    y = rng.integers(0, K, 96)
    trainer = Trainer((X, y), HyperParams(hidden=8, batch_size=32, variant="random-h-both-example"), angle_every=0)
    rule = trainer.variant
    assert isinstance(rule, RandomHidden)
    seen: list[tuple[np.ndarray, np.ndarray]] = []  # copies: the rule reuses its buffers
    inputs = rule.inputs

    def recording(model: MLP, h: np.ndarray, z1: np.ndarray, rng: np.random.Generator) -> BackwardInputs:
        fed = inputs(model, h, z1, rng)
        seen.append((fed.h_act.copy(), fed.h_dW2.copy()))
        return fed

    rule.inputs = recording  # type: ignore[method-assign]
    for _ in range(6):  # two epochs, each example seen twice in a different batch
        trainer.step()
    assert rule.h_example is not None and rule.seen is not None and rule.seen.all()
    first: dict[Any, Any] = {}
    for (h_act, h_dW2), batch_rows in zip(seen, rule_rows(trainer, 6), strict=True):
        np.testing.assert_array_equal(h_act, h_dW2)  # "both": one random h in both places
        for r, h_row in zip(batch_rows, h_act, strict=True):
            if r in first:
                np.testing.assert_array_equal(h_row, first[r])  # the same example, the same random h
            first[r] = h_row.copy()
    assert len(first) == 96
    assert len({tuple(v) for v in first.values()}) == 96  # every example its own draw


def rule_rows(trainer: Trainer, steps: int) -> list[np.ndarray]:
    """The batch rows of the first ``steps`` steps of a fresh trainer with the same seed."""
    twin = Trainer(trainer.train, trainer.hp, angle_every=0)
    rows = []
    for _ in range(steps):
        twin._next_batch()
        rows.append(twin._batch_rows.copy())
    return rows


def test_random_hidden_per_example_without_rows_is_one_clear_error() -> None:
    model, X, y = tiny()
    with pytest.raises(ValueError, match="row indices"):
        RandomHidden("act", "example").loss_and_grads(model, X, y, np.random.default_rng(0))


def test_true_gradient_noise_takes_act_prime_from_the_clean_state() -> None:
    model, X, y = tiny()
    rule = HiddenNoise("true", 0.5)
    seen = record_inputs(rule)
    rule.loss_and_grads(model, X, y, np.random.default_rng(0))
    fed, h = seen[-1], model.hidden(X)
    np.testing.assert_array_equal(fed.h_act, h)
    np.testing.assert_array_equal(fed.h_out, fed.h_dW2)
    assert not np.allclose(fed.h_out, h)


def test_shallow_control_trains_only_the_output_layer() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((128, 20), dtype=np.float32)
    y = rng.integers(0, K, 128)
    trainer = Trainer((X, y), HyperParams(hidden=8, batch_size=32, variant="shallow", lr=0.1), angle_every=0)
    W1, b1, W2 = trainer.model.W1.copy(), trainer.model.b1.copy(), trainer.model.W2.copy()
    losses = [trainer.step().loss for _ in range(40)]
    np.testing.assert_array_equal(trainer.model.W1, W1)
    np.testing.assert_array_equal(trainer.model.b1, b1)
    assert not np.array_equal(trainer.model.W2, W2)
    assert np.mean(losses[-8:]) < np.mean(losses[:8])


def test_the_net_as_trained_is_perturbed_only_where_the_forward_pass_is() -> None:
    model, X, _ = tiny()
    rng = np.random.default_rng(0)
    assert make_rule(HyperParams(variant="exact")).forward_as_trained(model, X, rng) is None
    assert make_rule(HyperParams(variant="noise-backward")).forward_as_trained(model, X, rng) is None
    assert make_rule(HyperParams(variant="round-dw")).forward_as_trained(model, X, rng) is None
    rounded = make_rule(HyperParams(variant="round-forward")).forward_as_trained(model, X, rng)
    assert rounded is not None
    np.testing.assert_allclose(rounded, np.rint(model.hidden(X)) @ model.W2.T + model.b2, rtol=1e-5, atol=1e-5)
    noisy = make_rule(HyperParams(variant="noise-true", sigma=0.5)).forward_as_trained(model, X, rng)
    assert noisy is not None
    assert noisy.shape == (len(X), K) and not np.allclose(noisy, model.logits(X))
