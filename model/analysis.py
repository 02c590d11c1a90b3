"""What a trained model gets wrong, in plain numpy.

Misclassified test images with their probabilities, the set's confusion matrix and the
error per class. How the app filters, sorts, smooths and draws these (the digit viewer,
the charts) is left to ``tui.view``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from model.mlp import MLP

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Misclassified:
    """The wrongly classified rows of an evaluated set, and that set's confusion matrix.

    images: (N, 784) float32, true/pred: (N,) int64, probs: (N, 10) float32,
    indices: (N,) int64 row numbers in the evaluated set (ascending),
    confusion: (10, 10) int64 over the WHOLE set (rows true, columns predicted),
    total: size of the evaluated set.
    """

    images: F32
    true: I64
    pred: I64
    probs: F32
    indices: I64
    confusion: I64
    total: int

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def error_rate(self) -> float:
        """Fraction of the whole set that is misclassified."""
        return len(self.indices) / self.total if self.total else 0.0

    @property
    def confidence(self) -> F32:
        """(N,) probability the model gave its (wrong) predicted class."""
        return self.probs[np.arange(len(self.pred)), self.pred]


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, k: int = 10) -> I64:
    """Counts of (true, predicted) pairs; y_true, y_pred: (N,) ints in [0, k) -> (k, k) int64."""
    t = np.asarray(y_true, np.int64)
    p = np.asarray(y_pred, np.int64)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def per_class_error(confusion: I64) -> F64:
    """Error rate per true class from a (k, k) confusion matrix -> (k,); NaN for an absent class."""
    totals = confusion.sum(axis=1).astype(np.float64)
    wrong = totals - np.diag(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, wrong / totals, np.nan)


def misclassified(model: MLP, X: NDArray[np.floating], y: ArrayLike, batch: int = 10_000) -> Misclassified:
    """Run the model over a whole set and keep what it gets wrong; X: (N, D), y: (N,) int."""
    y = np.asarray(y, np.int64)
    _, _, pred, probs = model.scores(X, y, batch)
    return mistakes(X, y, pred.astype(np.int64, copy=False), probs)


def mistakes(X: NDArray[np.floating], y: I64, pred: I64, probs: NDArray[np.floating]) -> Misclassified:
    """The wrong rows of a set already run through the model.

    X: (N, D), y, pred: (N,) int64, probs: (N, K) the model's probabilities.
    """
    wrong = np.flatnonzero(pred != y).astype(np.int64)
    return Misclassified(
        images=np.asarray(X[wrong], np.float32),
        true=y[wrong],
        pred=pred[wrong],
        probs=np.asarray(probs[wrong], np.float32),
        indices=wrong,
        confusion=confusion_matrix(y, pred, probs.shape[1]),
        total=len(y),
    )
