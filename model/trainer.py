"""Minibatch SGD for the MLP, driven one step at a time.

The trainer owns the model, the training order (a fresh permutation each epoch,
gathered batch by batch into a preallocated buffer), the momentum buffers and the
gradient rule (a backward-pass variant; any other rule plugs in as a ``CustomRule``).
It accepts training settings between steps, evaluates whole sets in large vectorised
batches, hands out its whole state (``run_state``) and continues one (``resume``).
A run's life around it (epochs, evaluations, best validation, target, what waits for a
reset, recording) is the run core's (``model.run``); it knows nothing of threads or the UI.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model import blas
from model.analysis import Misclassified, mistakes
from model.augment import random_shift
from model.config import ARCHITECTURE_FIELDS, SPECS, HyperParams
from model.mlp import MLP, Grads
from model.schedule import lr_at
from model.state import RunState, TrainState
from model.training_set import training_rows, training_set
from model.variants import AlignmentProbe, Exact, GradientRule, Variant, as_variant, make_rule, rule_for

Array = NDArray[np.float32]
Labels = NDArray[np.int64]

#: A run has diverged when its running mean loss exceeds this many times ln K (the loss of a
#: uniform guess, 2.30 for K = 10), i.e. 23 nats: ten times worse than guessing. Measured on
#: MNIST, healthy runs (lr 0.5 sigmoid/tanh, batch size 1 at lr 0.05-0.5) peak at 5.6 ln K;
#: lr 5-50 crosses it on the first exploding step (losses of 10^2-10^7 nats).
DIVERGENCE_FACTOR = 10.0
#: The running mean weighs each step by batch_size / LOSS_WINDOW (capped at 1): about the last
#: 256 examples, so one unlucky example at batch size 1 cannot trip it but one exploding
#: minibatch of 64 does.
LOSS_WINDOW = 256
#: One minibatch above this mean loss (nats) is divergence at any batch size, without waiting for
#: the running mean; healthy batch-size-1 runs on MNIST peaked below 200.
MAX_STEP_LOSS = 1000.0
#: Steps between passes that set the momentum's subnormal entries to 0 (``flush_subnormals``).
#: A weight's gradient that stays exactly 0 (a pixel blank in every image of the minibatches, a
#: dead unit) leaves v = mu v decaying into the subnormal range, where it sticks (0.9 times the
#: smallest few subnormals rounds back to them), and every BLAS call over v then takes the CPU's
#: slow path for each such entry: in the speedrun's last 450 steps 2,500-5,400 of W1's entries,
#: about a fifth of a step. A pass over v1 costs ~60 us; about 26 entries turn subnormal a step
#: at most, so every 20 steps keeps a few hundred at a time. Weights do not change: |lr v| is far
#: below half an ulp of any weight. The step counter picks the steps, so a resumed run flushes
#: where the original did.
FLUSH_EVERY = 20


class RuleError(Exception):
    """A gradient rule could not give a gradient for a reason its author can fix, e.g. a student's
    own backprop raised or hung: the text is one line saying where. Training stops at that step.
    ``quiet``: the rule was stopped on purpose (the app is quitting): there is nothing to report."""

    quiet = False


@dataclass(frozen=True)
class StepMetrics:
    """What one SGD step did."""

    step: int
    epoch: float  # fractional epochs completed after this step
    examples_seen: int
    loss: float
    lr: float
    batch_size: int
    finite: bool = True  # loss and gradient were finite
    angles: dict[str, float] | None = None  # degrees between this update and the true gradient, per W
    diverged: bool = False  # this step was refused: weights went back to the last good snapshot
    correct: int = 0  # minibatch rows the step's forward pass classified right (before its update)


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


class Trainer:
    """Minibatch SGD with momentum, L2 weight decay and an LR schedule, in float32.

    train: (X (N, D) float32, y (N,) int), every row the run may train on; after a reset ``train``
    holds the part it does train on (``hp.train_size`` rows, ``hp.label_noise`` of their labels
    flipped) and ``source`` all of it. eval_sets: name -> (X, y), evaluated on demand.
    ``hp`` is the applied copy of the settings: what the live weights and training set were built
    with and the next step uses. The seed in it fixes the initial weights, the shuffling, the
    flipped labels, any variant's noise and the dropout masks, so the same seed gives the same
    numbers. ``rule``: None follows ``hp.variant``; any ``GradientRule`` given (a student's own
    backprop) is kept whatever ``hp.variant`` says. ``variant`` is the rule a step uses (a
    ``CustomRule`` around a rule that is no variant).
    """

    def __init__(
        self,
        train: tuple[Array, Labels],
        hp: HyperParams | None = None,
        eval_sets: dict[str, tuple[Array, Labels]] | None = None,
        rule: GradientRule | None = None,
        snapshot_every: int = 200,
        angle_every: int = 10,
        fused_update: bool = True,
    ) -> None:
        self.train = train
        self.hp = hp if hp is not None else HyperParams()
        self.eval_sets = eval_sets if eval_sets is not None else {}
        self.snapshot_every = snapshot_every  # steps between last-good snapshots (a cheap copy of weights + momentum)
        self.angle_every = angle_every  # steps between alignment-angle probes (0: never)
        self.fused_update = fused_update  # fold W1's gradient product into its momentum update where it can
        self.flush_every = FLUSH_EVERY  # steps between flushes of the momentum's subnormals (0: never)
        self.source = train
        self.variant: Variant = make_rule(self.hp) if rule is None else as_variant(rule)
        self.reset()

    # ---- set-up --------------------------------------------------------------------
    def use_rule(self, rule: GradientRule) -> None:
        """Step with ``rule`` from the next step on (a variant, or any object with ``loss_and_grads``)."""
        self.variant = rule_for(self.hp, as_variant(rule))

    def reset(self, hp: HyperParams | None = None) -> None:
        """New weights, momentum and order from ``hp`` (default: the current one), architecture included."""
        if hp is not None:
            self.hp = hp
        init_seq, order_seq, rule_seq, data_seq = np.random.SeedSequence(self.hp.seed).spawn(4)
        hp = self.hp
        self.train = training_set(*self.source, hp.train_size, hp.label_noise, np.random.default_rng(data_seq))
        X, _ = self.train
        rng = np.random.default_rng(init_seq)
        self.model = MLP(X.shape[1], hp.hidden, 10, hp.activation, rng, init_scale=hp.init_scale)
        self.order_rng = np.random.default_rng(order_seq)
        self.rule_rng = np.random.default_rng(rule_seq)
        # a fresh rule: a variant starts afresh (its fixed draws come from the new rule_rng)
        self.variant = rule_for(self.hp, self.variant if not self.variant.follows_settings else make_rule(self.hp))
        self._probe = AlignmentProbe()
        self.velocity: Grads = {k: np.zeros_like(v) for k, v in self.model.params.items()}
        self._update_scratch: Grads = {k: np.empty_like(v) for k, v in self.model.params.items()}
        self.state = TrainState()
        self.order = self.order_rng.permutation(len(X))
        self._batch_x = np.empty((0, X.shape[1]), X.dtype)
        self._batch_rows = np.empty(0, np.int64)
        self._batch_y = np.empty(0, np.int64)
        self.diverged = False
        self.loss_limit = DIVERGENCE_FACTOR * math.log(self.model.shape[2])
        self._loss_avg = math.log(self.model.shape[2])  # running mean loss, starts at ln K
        self._snapshot: dict[str, Grads] = {}
        self._take_snapshot()

    # ---- last good state -------------------------------------------------------------
    def _take_snapshot(self) -> None:
        """Copy weights and momentum into preallocated snapshot buffers."""
        self._since_snapshot = 0
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

    def update_hparams(self, **changes: Any) -> None:
        """``set_hparams`` with ``changes`` applied to the current settings (validated: ValueError)."""
        self.set_hparams(self.hp.validated(**changes))

    def set_hparams(self, hp: HyperParams) -> None:
        """Train on with ``hp`` from the next step.

        Its architecture fields (hidden, activation, seed) must be the live weights' (new ones
        need ``reset(hp)``): ValueError otherwise, and nothing changes. A new variant setting
        rebuilds the rule, a new dropout rate does not (a variant's state is kept).
        """
        changed = [n for n in SPECS if n in ARCHITECTURE_FIELDS and getattr(hp, n) != getattr(self.hp, n)]
        if changed:
            raise ValueError(f"{', '.join(changed)} can only change with new weights (reset)")
        self.hp = hp
        self.variant = rule_for(hp, self.variant)
        self.diverged = False  # a new setting deserves a new try

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
        self._batch_rows = idx  # (B,) rows of the training set
        if self._batch_x.shape[0] != B:
            self._batch_x = np.empty((B, X.shape[1]), X.dtype)
            self._batch_y = np.empty(B, np.int64)
        # mode="clip": the indices are valid, and the default mode="raise" copies through a buffer.
        np.take(X, idx, axis=0, out=self._batch_x, mode="clip")
        np.take(y, idx, out=self._batch_y, mode="clip")
        if self.hp.augment:  # data-side randomness, like the order: both come from order_rng
            random_shift(self._batch_x, self.hp.augment, self.order_rng, out=self._batch_x)
        self.state.position += B
        return self._batch_x, self._batch_y

    def step(self) -> StepMetrics:
        """One SGD step on the next minibatch.

        If the loss or the gradient is not finite, the running mean loss exceeds ``loss_limit``
        or this loss exceeds ``MAX_STEP_LOSS``, the update is not applied, the weights and
        momentum go back to the last good snapshot, and ``diverged`` is set. The snapshot is
        taken every ``snapshot_every`` steps *before* an update, from weights that just gave a
        sane loss.
        """
        lr = self.lr
        Xb, yb = self._next_batch()
        rule = self.variant
        rule.rows, rule.n_rows = self._batch_rows, len(self.order)  # for variants that keep something per example
        w1_factors = None
        if self._fuse_w1():  # W1's gradient product is left to _apply, which writes it into the velocity
            (loss, correct, grads), delta1 = self.model.loss_and_delta1(Xb, yb, self.hp.label_smoothing)
            w1_factors = (delta1, Xb)
        else:
            loss, correct, grads = rule.loss_and_grads(self.model, Xb, yb, self.rule_rng)
        # db1 sums every row of delta1 and dW2 every hidden unit: a NaN/inf anywhere shows up there.
        finite = math.isfinite(loss) and all(np.isfinite(grads[k]).all() for k in ("b1", "W2", "b2"))
        if finite:
            self._loss_avg += min(1.0, len(yb) / LOSS_WINDOW) * (loss - self._loss_avg)
        healthy = finite and self._loss_avg <= self.loss_limit and loss <= MAX_STEP_LOSS
        angles = None
        if healthy and self.angle_every and self.state.step % self.angle_every == 0:
            if rule.true_gradient:
                # the true gradient: 0 degrees (the tests measure it), without a second pass (~half a step)
                angles = dict.fromkeys(self._probe.layers, 0.0)
            else:
                # before _apply, which may change grads
                angles = self._probe(self.model, Xb, yb, grads, self.hp.label_smoothing)
        if healthy:
            if self._since_snapshot >= self.snapshot_every and loss <= self.loss_limit:
                self._take_snapshot()  # these weights just gave a sane loss
            self._apply(grads, lr, w1_factors)
            self._since_snapshot += 1
        else:
            self.restore_snapshot()
            self.diverged = True
            self._loss_avg = math.log(self.model.shape[2])
        self.state.step += 1
        self.state.examples_seen += len(yb)
        if healthy and self.hp.momentum and self.flush_every and self.state.step % self.flush_every == 0:
            for name, v in self.velocity.items():
                flush_subnormals(v, work=self._update_scratch[name])
        return StepMetrics(
            self.state.step,
            self.epoch_float,
            self.state.examples_seen,
            loss,
            lr,
            len(yb),
            finite,
            angles,
            not healthy,
            correct,
        )

    def _fuse_w1(self) -> bool:
        """Exact backprop without dropout (the true gradient) on float32 weights, with a BLAS that
        takes a beta (see ``model.blas``): the step can fold W1's gradient product into the momentum update."""
        return (
            self.fused_update
            and isinstance(self.variant, Exact)
            and self.variant.true_gradient
            and self.model.W1.dtype == np.float32
            and blas.available()
        )

    def _apply(self, grads: Grads, lr: float, w1_factors: tuple[Array, Array] | None = None) -> None:
        """v = mu v + (g + wd W); W -= lr v (in place; decay on weights, not biases); then
        each row of W1 is scaled back to norm ``max_norm`` if it grew past it.

        ``w1_factors`` (delta1 (B, H), X (B, D)) stand for W1's gradient delta1^T X (grads has
        no "W1" then): the product writes straight into the velocity, v = mu v + delta1^T X in
        one BLAS call. ``W -= lr v`` is one pass (axpy) for every parameter. W1's update is the
        step's largest memory traffic (W1 does not fit the L2 cache): numpy's way, four
        elementwise passes on one core, took 0.3-0.5 of a step at H=800 on two threads.
        """
        mu, wd = self.hp.momentum, self.hp.weight_decay
        for name, param in self.model.params.items():
            v, tmp = self.velocity[name], self._update_scratch[name]
            if name == "W1" and w1_factors is not None:
                delta1, X = w1_factors
                blas.gemm(delta1.T, X, out=v, beta=mu)  # v = mu v + delta1^T X, (H, D)
            elif mu:
                v *= mu
                v += grads[name]
            else:
                np.copyto(v, grads[name])
            if wd and name.startswith("W"):
                blas.axpy(wd, param, v, work=tmp)  # v += wd W
            blas.axpy(-lr, v, param, work=tmp)  # W -= lr v
        if self.hp.max_norm:
            cap_row_norms(self.model.W1, self.hp.max_norm)

    # ---- evaluation ------------------------------------------------------------------
    def evaluate(self, names: tuple[str, ...] | None = None) -> EvalMetrics:
        """Loss and error on each named set (all ``eval_sets`` and "train" by default)."""
        return self.evaluate_with_mistakes(names, mistakes_in=None)[0]

    def evaluate_with_mistakes(
        self, names: tuple[str, ...] | None = None, mistakes_in: str | None = "test"
    ) -> tuple[EvalMetrics, Misclassified | None]:
        """``evaluate``, and the misclassified rows of set ``mistakes_in`` from the same pass
        (None when that set is not evaluated)."""
        t0 = time.perf_counter()
        names = names if names is not None else ("train", *self.eval_sets)
        sets = {"train": self.train, **self.eval_sets}
        results: dict[str, tuple[float, float]] = {}
        wrong = None
        for name in names:
            X, y = sets[name]
            loss, error, pred, probs = self.model.scores(X, y)
            results[name] = (loss, error)
            if name == mistakes_in:
                wrong = mistakes(X, np.asarray(y, np.int64), pred.astype(np.int64, copy=False), probs)
        metrics = EvalMetrics(self.state.step, self.state.examples_seen, results, time.perf_counter() - t0)
        return metrics, wrong

    # ---- saving and resuming -----------------------------------------------------------
    def run_state(self, meta: dict[str, Any] | None = None) -> RunState:
        """Everything that decides the rest of this run (``meta``: what the run core adds).

        The arrays are the live ones, not copies: write them out before the next step.
        """
        return RunState(
            hp=self.hp,
            params=dict(self.model.params),
            velocity=dict(self.velocity),
            order=self.order,
            counters=TrainState(**vars(self.state)),
            rng={"order": self.order_rng.bit_generator.state, "rule": self.rule_rng.bit_generator.state},
            variant_state=self.variant.state(),
            meta=dict(meta or {}),
        )

    def resume(self, state: RunState) -> None:
        """Continue the run ``state`` here, on this trainer's data: weights, momentum, order,
        counters, generators and the variant's state, with ``state.hp`` as the settings.

        The resumed weights become the last-good snapshot, so a divergence right after resuming
        goes back to them, not to fresh weights. ValueError (one line), with the trainer
        untouched, if ``state`` was made for other data or outputs or its variant state does
        not fit. (A state read from a checkpoint was checked in itself when it was read.)
        """
        X, _ = self.train
        D, H, K = state.shape
        n = training_rows(len(self.source[0]), state.hp.train_size)
        if len(state.order) != n:
            raise ValueError(f"was made on {len(state.order)} training examples, not {n}")
        if X.shape[1] != D or self.model.shape[2] != K:
            raise ValueError(f"has {D} inputs and {K} classes, the trainer {X.shape[1]} and {self.model.shape[2]}")
        rule = make_rule(state.hp) if self.variant.follows_settings else self.variant
        try:
            rule.load_state(state.variant_state, (K, H))
        except ValueError as exc:
            raise ValueError(f"{state.hp.variant} state: {exc}") from None
        self.reset(state.hp)
        self.variant = rule_for(state.hp, rule)
        self.model.set_params(state.params)
        for name, v in state.velocity.items():
            np.copyto(self.velocity[name], v)
        self.order = np.array(state.order, np.int64)
        self.state = TrainState(**vars(state.counters))
        self.order_rng.bit_generator.state = state.rng["order"]
        self.rule_rng.bit_generator.state = state.rng["rule"]
        self._take_snapshot()


def make_trainer(hp: HyperParams, data: Any, train_size: int | None = None, **options: Any) -> Trainer:
    """A trainer on ``data``'s training set (its first ``train_size`` rows; all by default) that
    evaluates its validation and test sets. data: train_x (N, D) float32, train_y (N,), valid_*, test_*."""
    n = train_size or len(data.train_x)
    eval_sets = {"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)}
    return Trainer((data.train_x[:n], data.train_y[:n]), hp, eval_sets=eval_sets, **options)


def flush_subnormals(v: NDArray[np.floating[Any]], work: NDArray[np.floating[Any]]) -> None:
    """Set the entries of ``v`` whose magnitude is below the dtype's smallest normal number
    (subnormals; -0.0 too) to 0, in place. ``work``: scratch of v's shape and dtype."""
    np.abs(v, out=work)
    np.copyto(v, 0, where=work < np.finfo(v.dtype).tiny)


def cap_row_norms(W: NDArray[np.float32], limit: float) -> None:
    """Scale each row of W (H, D) whose L2 norm exceeds ``limit`` back to ``limit``, in place.

    The max-norm constraint of the dropout paper: it bounds each hidden unit's incoming
    weights, so no unit can grow without limit however the updates push it.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", W, W))  # (H,)
    if (norms > limit).any():
        W *= np.minimum(1.0, limit / np.maximum(norms, 1e-12)).astype(W.dtype)[:, None]
