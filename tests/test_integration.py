"""End to end on the real MNIST (fetched and verified on first use, then cached)."""

from __future__ import annotations

import json

import pytest
from conftest import train_to_end

from model.config import HyperParams
from model.trainer import make_trainer
from tui.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mnist():  # type: ignore[no-untyped-def]
    from model.data import load_mnist

    return load_mnist()


def test_real_mnist_shapes(mnist) -> None:  # type: ignore[no-untyped-def]
    assert mnist.train_x.shape == (50_000, 784) and mnist.valid_x.shape == (10_000, 784)
    assert mnist.test_x.shape == (10_000, 784)
    assert mnist.train_x.min() >= 0.0 and mnist.train_x.max() < 1.0


def test_default_training_reaches_under_five_percent_test_error(mnist) -> None:  # type: ignore[no-untyped-def]
    trainer = make_trainer(HyperParams(epochs=1), mnist)
    result = train_to_end(trainer)
    assert result.test_error < 0.05, result.to_dict()


def test_train_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--epochs", "1", "--hidden", "64", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {
        "test_error",
        "valid_error",
        "train_loss",
        "epochs",
        "seconds",
        "examples_per_second",
        "run_id",
    } <= out.keys()
    assert out["epochs"] == 1 and out["test_error"] < 0.08
