"""The MLP's math: gradient checks, softmax stability, sanity checks, determinism."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.activations import ACTIVATIONS
from model.gradcheck import check_sampled, numerical_gradient, toy_problem, toy_suite
from model.mlp import MLP, PARAM_NAMES, backprop_one_example, cross_entropy, log_softmax, softmax

# Central differences with eps=1e-5 in float64 have truncation error ~eps^2 * |f'''| ~ 1e-10 and
# round-off ~1e-16 / eps ~ 1e-11, so analytic and numeric gradients agree to ~1e-9 absolute.
# rtol=1e-6 catches any real mistake (a wrong sign, a missing factor, a transposed matrix gives
# errors of order 1) while leaving two orders of margin; atol=1e-9 covers entries whose true
# gradient is ~0 (dead ReLUs, saturated units), where a relative error means nothing.
RTOL, ATOL = 1e-6, 1e-9


def numeric_grads(model: MLP, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Central-difference gradient of every parameter entry."""
    out = {}
    for name in PARAM_NAMES:
        shape = model.params[name].shape
        out[name] = np.array([numerical_gradient(model, X, y, name, i) for i in np.ndindex(shape)]).reshape(shape)
    return out


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_single_example_gradient_matches_finite_differences(activation: str) -> None:
    model, X, y = toy_problem(activation, batch=1, seed=1)
    analytic = backprop_one_example(model.params, model.act, X[0], int(y[0]))
    numeric = numeric_grads(model, X, y)
    for name in PARAM_NAMES:
        assert analytic[name].shape == model.params[name].shape
        assert_allclose(analytic[name], numeric[name], rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_minibatch_gradient_matches_finite_differences(activation: str) -> None:
    model, X, y = toy_problem(activation, batch=16, seed=2)
    _, _, analytic = model.loss_and_grads(X, y)
    numeric = numeric_grads(model, X, y)
    for name in PARAM_NAMES:
        assert_allclose(analytic[name], numeric[name], rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_minibatch_gradient_is_mean_of_single_example_gradients(activation: str) -> None:
    model, X, y = toy_problem(activation, batch=7, seed=3)
    _, _, batch = model.loss_and_grads(X, y)
    singles = [backprop_one_example(model.params, model.act, x, int(t)) for x, t in zip(X, y, strict=True)]
    for name in PARAM_NAMES:
        assert_allclose(batch[name], np.mean([g[name] for g in singles], axis=0), rtol=1e-12, atol=1e-15)


def test_toy_suite_passes_and_reports_every_parameter() -> None:
    reports = toy_suite()
    assert len(reports) == 2 * len(ACTIVATIONS)
    for r in reports:
        assert r.passed, r.to_dict()
        assert [p.name for p in r.params] == list(PARAM_NAMES)
        assert sum(p.checked for p in r.params) == 10 * 5 + 5 + 2 * 5 + 2


def test_gradient_check_catches_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    import model.mlp as mlp

    real = mlp.backward

    def off_by_two(*args, **kwargs):  # type: ignore[no-untyped-def]
        grads = real(*args, **kwargs)
        grads["W1"] *= 2.0
        return grads

    monkeypatch.setattr(mlp, "backward", off_by_two)
    reports = toy_suite(("tanh",))
    assert not reports[1].passed
    assert {p.name for p in reports[1].params if p.max_rel_error > 0.1} == {"W1"}


def test_sampled_check_on_full_size_model_leaves_weights_untouched() -> None:
    rng = np.random.default_rng(0)
    model = MLP(784, 64, 10, "relu", rng)
    X = rng.random((32, 784), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    before = {k: v.copy() for k, v in model.params.items()}
    report = check_sampled(model, X, y, n_samples=200, rng=rng)
    assert report.passed, report.to_dict()
    assert 190 <= sum(p.checked for p in report.params) <= 210
    for k, v in model.params.items():
        assert np.array_equal(v, before[k]) and v.dtype == np.float32


def test_softmax_is_stable_for_huge_logits() -> None:
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [5e4, 5e4, -5e4]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax(logits)
        logp = log_softmax(logits)
        loss = cross_entropy(logits, np.array([1, 0, 2]))
    assert np.isfinite(p).all() and np.isfinite(logp).all()
    assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert_allclose(p[0], [1.0, 0.0, 0.0])
    assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    assert loss == pytest.approx((2e4 + np.log(3) + 1e5 + np.log(2)) / 3, rel=1e-6)
    assert logp[0, 1] == pytest.approx(-2e4, rel=1e-6)


def test_activations_do_not_warn_at_extremes() -> None:
    z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for act in ACTIVATIONS.values():
            h = act.forward(z.copy())
            assert np.isfinite(h).all() and np.isfinite(act.grad_from_output(h)).all()
    assert_allclose(ACTIVATIONS["sigmoid"].forward(z.copy()), [0, 0, 0.5, 1, 1], atol=1e-7)


def test_initial_loss_is_about_log_k() -> None:
    rng = np.random.default_rng(0)
    model = MLP(784, 100, 10, "relu", rng)
    X = rng.random((500, 784), dtype=np.float32) * 0.3
    loss = model.loss(X, rng.integers(0, 10, 500))
    assert abs(loss - np.log(10)) < 0.5


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_can_overfit_twenty_examples(activation: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.random((20, 784), dtype=np.float32)
    y = np.arange(20) % 10
    model = MLP(784, 64, 10, activation, rng)
    for _ in range(300):
        _, _, g = model.loss_and_grads(X, y)
        for k, p in model.params.items():
            p -= {"relu": 0.1, "tanh": 0.1, "sigmoid": 0.3}[activation] * g[k]
    assert model.loss(X, y) < 0.05
    assert (model.predict(X) == y).all()


def test_training_is_float32() -> None:
    model = MLP(784, 32, 10)
    X = np.zeros((4, 784), np.float32)
    _, _, g = model.loss_and_grads(X, np.zeros(4, np.int64))
    assert all(v.dtype == np.float32 for v in (*model.params.values(), *g.values()))


@pytest.mark.slow
def test_model_package_does_not_import_the_ui() -> None:
    code = "import sys, model, model.trainer, model.gradcheck, model.run, model.run.replay; " + (
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tui', 'rich', 'textual_plotext')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
