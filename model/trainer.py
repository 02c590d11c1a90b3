"""Minibatch SGD for the MLP, driven one step at a time.

The trainer owns the model, the training order (a fresh permutation each epoch,
gathered batch by batch into a preallocated buffer) and the momentum buffers. It
accepts hyperparameter changes between steps, evaluates whole sets in large
vectorised batches, and reports through return values and optional callbacks.
It knows nothing of threads or the UI: the app's bridge drives ``step()``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from model.config import ARCHITECTURE_FIELDS, HyperParams
from model.mlp import MLP, Grads
from model.schedule import lr_at

Array = NDArray[np.float32]
Labels = NDArray[np.int64]


class GradientRule(Protocol):
    """How a step turns a minibatch into (loss, update direction); exact backprop by default."""

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> tuple[float, Grads]: ...


class ExactBackprop:
    """The true gradient of the mean cross-entropy."""

    name = "exact"

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> tuple[float, Grads]:
        return model.loss_and_grads(X, y, reuse_buffers=True)


@dataclass(frozen=True)
class StepMetrics:
    """What one SGD step did."""

    step: int
    epoch: float  # fractional epochs completed after this step
    examples_seen: int
    loss: float
    lr: float
    batch_size: int
    finite: bool = True


@dataclass(frozen=True)
class EvalMetrics:
    """Loss and error rate per evaluated set, e.g. {"valid": (0.12, 0.034)}."""

    step: int
    examples_seen: int
    results: dict[str, tuple[float, float]]
    seconds: float

    def error(self, name: str) -> float:
        return self.results[name][1]

    def loss(self, name: str) -> float:
        return self.results[name][0]


@dataclass
class TrainState:
    """Progress counters (saved in checkpoints to resume)."""

    step: int = 0
    epoch: int = 0
    position: int = 0  # index into the current epoch's permutation
    examples_seen: int = 0


@dataclass
class Trainer:
    """Minibatch SGD with momentum, L2 weight decay and an LR schedule, in float32.

    train: (X (N, D) float32, y (N,) int). eval_sets: name -> (X, y), evaluated on demand.
    The seed in ``hp`` fixes the initial weights, the shuffling and any variant's noise,
    so the same seed gives the same numbers.
    """

    train: tuple[Array, Labels]
    hp: HyperParams = field(default_factory=HyperParams)
    eval_sets: dict[str, tuple[Array, Labels]] = field(default_factory=dict)
    rule: GradientRule = field(default_factory=ExactBackprop)
    on_step: list[Callable[[StepMetrics], Any]] = field(default_factory=list)
    on_eval: list[Callable[[EvalMetrics], Any]] = field(default_factory=list)
    snapshot_every: int = 200  # steps between last-good snapshots (a cheap copy of weights + momentum)

    def __post_init__(self) -> None:
        self.reset()

    # ---- set-up --------------------------------------------------------------------
    def reset(self, hp: HyperParams | None = None) -> None:
        """New weights, momentum and order from ``hp`` (default: the current one)."""
        if hp is not None:
            self.hp = hp
        init_seq, order_seq, rule_seq = np.random.SeedSequence(self.hp.seed).spawn(3)
        X, _ = self.train
        self.model = MLP(X.shape[1], self.hp.hidden, 10, self.hp.activation, np.random.default_rng(init_seq))
        self.order_rng = np.random.default_rng(order_seq)
        self.rule_rng = np.random.default_rng(rule_seq)
        self.velocity: Grads = {k: np.zeros_like(v) for k, v in self.model.params.items()}
        self.state = TrainState()
        self.order = self.order_rng.permutation(len(X))
        self._batch_x = np.empty((0, X.shape[1]), X.dtype)
        self._batch_y = np.empty(0, np.int64)
        self.diverged = False
        self._snapshot: dict[str, Grads] = {}
        self._take_snapshot()

    # ---- last good state -------------------------------------------------------------
    def _take_snapshot(self) -> None:
        """Copy weights and momentum into preallocated snapshot buffers."""
        if not self._snapshot:
            self._snapshot = {
                "params": {k: v.copy() for k, v in self.model.params.items()},
                "velocity": {k: v.copy() for k, v in self.velocity.items()},
            }
            return
        for k, v in self.model.params.items():
            np.copyto(self._snapshot["params"][k], v)
        for k, v in self.velocity.items():
            np.copyto(self._snapshot["velocity"][k], v)

    def restore_snapshot(self) -> None:
        """Put back the last good weights and momentum (after a divergence)."""
        self.model.set_params(self._snapshot["params"])
        for k, v in self._snapshot["velocity"].items():
            np.copyto(self.velocity[k], v)

    def update_hparams(self, **changes: Any) -> list[str]:
        """Apply validated changes; returns the names that wait for ``reset`` (architecture)."""
        self.hp = self.hp.validated(**changes)
        self.diverged = False  # a new setting deserves a new try
        return sorted(set(changes) & ARCHITECTURE_FIELDS)

    @property
    def pending_architecture(self) -> list[str]:
        """Architecture fields whose value differs from the live model's."""
        pending = []
        if self.hp.hidden != self.model.shape[1]:
            pending.append("hidden")
        if self.hp.activation != self.model.act.name:
            pending.append("activation")
        return pending

    # ---- training --------------------------------------------------------------------
    @property
    def epoch_float(self) -> float:
        return self.state.epoch + self.state.position / len(self.order)

    @property
    def lr(self) -> float:
        """The learning rate the next step will use."""
        return lr_at(self.hp, self.epoch_float)

    def _next_batch(self) -> tuple[Array, Labels]:
        """Gather the next minibatch into reused buffers; reshuffle at each epoch's end."""
        X, y = self.train
        n = len(self.order)
        if self.state.position >= n:
            self.state.epoch += 1
            self.state.position = 0
            self.order = self.order_rng.permutation(n)
        idx = self.order[self.state.position : self.state.position + self.hp.batch_size]
        B = len(idx)
        if self._batch_x.shape[0] != B:
            self._batch_x = np.empty((B, X.shape[1]), X.dtype)
            self._batch_y = np.empty(B, np.int64)
        np.take(X, idx, axis=0, out=self._batch_x)
        np.take(y, idx, out=self._batch_y)
        self.state.position += B
        return self._batch_x, self._batch_y

    def step(self) -> StepMetrics:
        """One SGD step on the next minibatch.

        If the loss or the gradient is not finite the update is not applied, the
        weights and momentum go back to the last good snapshot, and ``diverged`` is set.
        """
        lr = self.lr
        Xb, yb = self._next_batch()
        loss, grads = self.rule.loss_and_grads(self.model, Xb, yb, self.rule_rng)
        # db1 sums every row of delta1 and dW2 every hidden unit: a NaN/inf anywhere shows up there.
        finite = math.isfinite(loss) and all(np.isfinite(grads[k]).all() for k in ("b1", "W2", "b2"))
        if finite:
            self._apply(grads, lr)
            if self.state.step % self.snapshot_every == 0:
                self._take_snapshot()
        else:
            self.restore_snapshot()
            self.diverged = True
        self.state.step += 1
        self.state.examples_seen += len(yb)
        metrics = StepMetrics(self.state.step, self.epoch_float, self.state.examples_seen, loss, lr, len(yb), finite)
        for callback in self.on_step:
            callback(metrics)
        return metrics

    def _apply(self, grads: Grads, lr: float) -> None:
        """v = mu v + (g + wd W); W -= lr v (in place; decay on weights, not biases)."""
        mu, wd = self.hp.momentum, self.hp.weight_decay
        for name, param in self.model.params.items():
            g = grads[name]
            if wd and name.startswith("W"):
                g += wd * param
            v = self.velocity[name]
            if mu:
                v *= mu
                v += g
            else:
                v[...] = g
            param -= lr * v

    def run_epoch(self) -> StepMetrics:
        """Steps until the current epoch's order is used up; returns the last step's metrics."""
        start_epoch = self.state.epoch if self.state.position < len(self.order) else self.state.epoch + 1
        metrics = self.step()
        while self.state.position < len(self.order) and self.state.epoch == start_epoch:
            metrics = self.step()
        return metrics

    # ---- evaluation ------------------------------------------------------------------
    def evaluate(self, names: tuple[str, ...] | None = None) -> EvalMetrics:
        """Loss and error on each named set (all ``eval_sets`` and "train" by default)."""
        t0 = time.perf_counter()
        names = names if names is not None else ("train", *self.eval_sets)
        sets = {"train": self.train, **self.eval_sets}
        results = {name: self.model.evaluate(*sets[name]) for name in names}
        metrics = EvalMetrics(self.state.step, self.state.examples_seen, results, time.perf_counter() - t0)
        for callback in self.on_eval:
            callback(metrics)
        return metrics
