"""The settings the challenges need, like any other: the initial weight scale, the training set's
size and its label noise. Validated through SPECS, drawn from the seed, applied on a reset,
carried by checkpoints and run records, and replayed bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import bridge_for, wait_until
from test_bridge import Recorder

from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import ARCHITECTURE_FIELDS, SPECS, HyperParams, parse_value
from model.data import MNIST
from model.mlp import MLP
from model.run import Change, Reset, Run
from model.run.replay import replay
from model.runs import RunRecorder, list_run_dirs, read_run
from model.trainer import Trainer, make_trainer
from model.training_set import training_set
from tui.cli import main
from tui.session.events import RunReset

HP = HyperParams(hidden=16, batch_size=32, epochs=10_000)


def test_they_are_settings_like_any_other() -> None:
    for name in ("init_scale", "train_size", "label_noise"):
        assert name in SPECS and name in ARCHITECTURE_FIELDS  # a flag, a field, applied on r
    assert parse_value("label_noise", "30%") == 0.3
    assert parse_value("label_noise", "0.3") == 0.3
    assert parse_value("train_size", "1e3") == 1000
    assert parse_value("init_scale", "10") == 10.0
    for name, text in (("label_noise", "1"), ("label_noise", "-0.1"), ("train_size", "-5"), ("init_scale", "0")):
        with pytest.raises(ValueError):
            parse_value(name, text)


def test_defaults_change_nothing(tiny_mnist: MNIST) -> None:
    """Scale 1, all rows, no noise: the same weights and the same steps as before the settings existed."""
    plain = MLP(784, 16, 10, "relu", np.random.default_rng(3))
    scaled = MLP(784, 16, 10, "relu", np.random.default_rng(3), init_scale=1.0)
    for name in ("W1", "W2"):
        assert np.array_equal(plain.params[name], scaled.params[name])
    trainer = make_trainer(HP, tiny_mnist)
    assert trainer.train[0] is not None and len(trainer.train[0]) == len(tiny_mnist.train_x)
    assert np.shares_memory(trainer.train[1], tiny_mnist.train_y)  # no copy of the labels


def test_init_scale_multiplies_both_layers() -> None:
    one = MLP(784, 64, 10, "sigmoid", np.random.default_rng(0))
    ten = MLP(784, 64, 10, "sigmoid", np.random.default_rng(0), init_scale=10.0)
    np.testing.assert_allclose(ten.W1, 10 * one.W1, rtol=1e-6)
    np.testing.assert_allclose(ten.W2, 10 * one.W2, rtol=1e-6)


def test_label_noise_flips_exactly_that_share_to_other_classes(tiny_mnist: MNIST) -> None:
    X, y = tiny_mnist.train_x, tiny_mnist.train_y
    Xn, yn = training_set(X, y, 1000, 0.3, np.random.default_rng(0))
    assert len(Xn) == 1000 and np.shares_memory(Xn, X)
    flipped = yn != y[:1000]
    assert flipped.sum() == 300  # every flipped label is wrong: exactly 30% are
    assert yn.min() >= 0 and yn.max() <= 9
    _, again = training_set(X, y, 1000, 0.3, np.random.default_rng(0))
    assert np.array_equal(again, yn)  # the same draw from the same seed
    assert np.array_equal(y[:1000], tiny_mnist.train_y[:1000])  # the data itself is untouched


def test_the_trainer_draws_its_training_set_from_the_seed(tiny_mnist: MNIST) -> None:
    hp = HP.validated(train_size=300, label_noise=0.2, seed=5)
    a, b = make_trainer(hp, tiny_mnist), make_trainer(hp, tiny_mnist)
    assert len(a.train[0]) == len(a.order) == 300
    assert np.array_equal(a.train[1], b.train[1])
    other = make_trainer(hp.validated(seed=6), tiny_mnist)
    assert not np.array_equal(a.train[1], other.train[1])
    assert a.evaluate(("valid",)).results["valid"] == b.evaluate(("valid",)).results["valid"]
    a.step()
    assert a.state.examples_seen == 32
    # settings change on a reset only; more rows than there are: all of them
    run = Run(a)
    run.apply(Change({"train_size": 100_000}))
    assert len(a.train[0]) == 300 and run.pending == ("train_size",)
    run.apply(Reset())
    assert len(a.train[0]) == len(tiny_mnist.train_x) and not run.pending


def test_a_checkpoint_keeps_them_and_refuses_other_data(tiny_mnist: MNIST, tmp_path: Path) -> None:
    trainer = make_trainer(HP.validated(train_size=256, label_noise=0.1, init_scale=2.0), tiny_mnist)
    for _ in range(10):
        trainer.step()
    path = save_checkpoint(tmp_path / "run.npz", trainer.run_state())
    ckpt = load_checkpoint(path)
    assert (ckpt.hp.train_size, ckpt.hp.label_noise, ckpt.hp.init_scale) == (256, 0.1, 2.0)
    resumed = make_trainer(HP, tiny_mnist)
    resumed.resume(ckpt)
    assert len(resumed.train[0]) == 256 and np.array_equal(resumed.train[1], trainer.train[1])
    m1, m2 = trainer.step(), resumed.step()
    assert m1.loss == m2.loss
    small = Trainer((tiny_mnist.train_x[:100], tiny_mnist.train_y[:100]), HP)
    with pytest.raises(ValueError, match="256 training examples, not 100"):
        small.resume(ckpt)


def test_train_takes_the_flags(tiny_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--data", str(tiny_npz), "--epochs", "2", "--hidden", "16", "--json"]
    argv += ["--train-size", "500", "--label-noise", "20%", "--init-scale", "0.5"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hparams"]["train_size"] == 500 and out["hparams"]["label_noise"] == 0.2
    assert out["steps"] == 2 * -(-500 // 64)
    with pytest.raises(SystemExit) as bad:
        main(["train", "--data", str(tiny_npz), "--label-noise", "2"])
    assert bad.value.code == 2 and "write 2%" in capsys.readouterr().err  # a fraction, one line


def test_a_session_that_changes_them_replays_bit_for_bit(tiny_mnist: MNIST, tmp_path: Path) -> None:
    """Start on 500 noisy images, then reset onto all of them at another scale: the replay agrees."""
    trainer = make_trainer(HP.validated(train_size=500, label_noise=0.3), tiny_mnist)
    posted = Recorder()
    bridge = bridge_for(trainer, posted, recorder=RunRecorder.start(tmp_path, trainer, source="app"))
    bridge.start()
    try:
        wait_until(lambda: trainer.state.step > 30, what="steps")
        bridge.set_field("train_size", 0)
        bridge.set_field("init_scale", 0.5)
        bridge.reset()
        wait_until(lambda: posted.of(RunReset), what="reset")
        wait_until(lambda: trainer.state.step > 30, what="steps after the reset")
        bridge.pause()
    finally:
        assert bridge.stop()
    assert len(trainer.train[0]) == len(tiny_mnist.train_x)
    (folder,) = list_run_dirs(tmp_path)
    result = replay(read_run(folder), tiny_mnist)
    assert result.identical, result
