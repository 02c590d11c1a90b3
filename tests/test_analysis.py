"""What a model gets wrong: confusion matrix, per-class error, misclassified sets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.analysis import confusion_matrix, misclassified, per_class_error
from model.mlp import MLP

# ---- confusion matrix and misclassified -------------------------------------------


def test_confusion_matrix_hand_example() -> None:
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    cm = confusion_matrix(y_true, y_pred, k=3)
    assert cm.dtype == np.int64
    assert_array_equal(cm, expected)
    assert confusion_matrix([], [], k=4).shape == (4, 4)


def test_per_class_error_handles_absent_class() -> None:
    cm = np.array([[3, 1, 0], [0, 0, 0], [2, 0, 2]])
    err = per_class_error(cm)
    assert_allclose(err[[0, 2]], [0.25, 0.5])
    assert np.isnan(err[1])


def test_misclassified_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(3)
    model = MLP(6, 5, 10, "tanh", rng)
    X = rng.standard_normal((53, 6)).astype(np.float32)
    y = rng.integers(0, 10, 53)
    res = misclassified(model, X, y, batch=7)  # several batches, last one partial
    probs = model.forward(X)
    pred = probs.argmax(axis=1)
    wrong = [i for i in range(len(y)) if pred[i] != y[i]]
    assert len(wrong) > 0
    assert res.total == 53 and len(res) == len(wrong)
    assert_array_equal(res.indices, wrong)
    assert_array_equal(res.true, y[wrong])
    assert_array_equal(res.pred, pred[wrong])
    assert_allclose(res.probs, probs[wrong], rtol=1e-6)
    assert_array_equal(res.images, X[wrong])
    cm = np.zeros((10, 10), np.int64)
    for t, p in zip(y, pred, strict=True):
        cm[t, p] += 1
    assert_array_equal(res.confusion, cm)
    assert res.error_rate == pytest.approx(len(wrong) / 53)
    assert_allclose(res.confidence, probs[wrong, pred[wrong]], rtol=1e-6)
    assert res.images.dtype == np.float32 and res.true.dtype == np.int64 and res.indices.dtype == np.int64


def test_misclassified_with_nothing_wrong_has_empty_arrays() -> None:
    model = MLP(4, 3, 10, "relu", np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((9, 4)).astype(np.float32)
    y = model.predict(X)
    res = misclassified(model, X, y)
    assert len(res) == 0 and res.images.shape == (0, 4) and res.probs.shape == (0, 10)
    assert res.confusion.trace() == 9 and res.error_rate == 0.0


@pytest.mark.slow
def test_analysis_does_not_import_the_ui() -> None:
    code = "import sys, model.analysis; sys.exit(any(m in sys.modules for m in ('textual', 'rich', 'tui')))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
