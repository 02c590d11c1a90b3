"""The backward-pass variant base: what backprop is fed, and the exact rule.

The exact minibatch backward pass (``model.mlp.backward``) reads four things besides
the inputs and labels:

    h_out     (B, H)  the hidden state the output layer saw in the forward pass
    h_dW2     (B, H)  the hidden state that multiplies the output delta in dW2 = delta^T h
    h_act     (B, H)  the hidden state act'(.) is evaluated from (derivatives are written from h)
    feedback  (K, H)  the matrix that carries the output delta back: delta_h = delta W2

and, optionally, ``dact_scale`` (B, H), a factor on act'(.) (multiplicative noise's exact
gradient, d(h m)/dz1 = act'(z1) m, needs it).

Exact backprop uses the forward pass's own h in all three places and W2 as feedback.
A variant is a small class whose ``inputs`` method returns what to use instead; the
shared ``Variant.loss_and_grads`` runs the forward and the backward pass with them, so
every variant is a gradient rule in the trainer's sense (``model.trainer.GradientRule``).

Dropout (``hp.dropout`` on hidden units, ``hp.input_dropout`` on inputs) works with every
variant: ``Variant.loss_and_grads`` multiplies the inputs by an inverted-dropout mask, and
the hidden state the variant hands back (h_out, h_dW2) and act'(.) by another, so
``backward`` itself never sees a mask. For exact backprop that is the true gradient of the
masked network; the exact variant takes the model's faster path only when dropout is off.
Training steps only: evaluation goes through ``MLP`` and never drops anything.

Random numbers come only from the generator the trainer passes in (``rule_rng``), so a
seed fixes them.

Any other object with a ``loss_and_grads`` method (a ``GradientRule``: a student's own rule)
plugs in through ``CustomRule``, which gives it the variant's interface, so the trainer holds a
``Variant`` whatever it was given.

Leaves out: the perturbing variants (one module per question), the registry (``registry.py``), the
angle diagnostics (``alignment.py``) and the training loop (``model.trainer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from model.buffers import Buffers
from model.mlp import MLP, StepResult, backward, log_softmax, loss_and_correct

Array = NDArray[np.floating]
Labels = NDArray[np.integer]


class GradientRule(Protocol):
    """How a step turns a model and a minibatch into (loss, correct, update direction).

    X: (B, D) float32, y: (B,) int; the grads are W1 (H, D), b1 (H,), W2 (K, H), b2 (K,).
    """

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult: ...


@dataclass(frozen=True)
class BackwardInputs:
    """What one backward pass is fed (see the module docstring for the four roles)."""

    h_out: Array  # (B, H) hidden state the output layer sees in the forward pass
    h_dW2: Array  # (B, H) hidden state multiplying the output delta in dW2
    h_act: Array  # (B, H) hidden state act'(.) is computed from
    feedback: Array  # (K, H) carries the output delta back to the hidden layer
    dact_scale: Array | None = None  # (B, H) multiplies act'(.) (None: 1)


class Variant:
    """A gradient rule: forward pass, then ``backward`` fed by ``inputs``. The base is exact backprop.

    Subclasses override ``inputs`` only. The returned gradients live in buffers reused next call.
    """

    name = "base"  # subclasses name themselves (the registry's name)
    #: True: the trainer rebuilds the rule when the settings name another variant (see registry.rule_for)
    follows_settings = True

    def __init__(self) -> None:
        self.key: tuple[Any, ...] = (self.name,)
        self._buf = Buffers()
        self.dropout = 0.0  # probability of dropping a hidden unit (0: off)
        self.input_dropout = 0.0  # probability of dropping an input (0: off)
        self.label_smoothing = 0.0  # share of each target spread over the classes (0: one-hot)
        # set by the trainer before each step: the minibatch's rows in the training set (B,)
        # and the training set's size, for variants that keep something per example
        self.rows: NDArray[np.integer] | None = None
        self.n_rows = 0

    @property
    def true_gradient(self) -> bool:
        """True when the update is the exact gradient of the clean network (its angle to it is 0)."""
        return False

    @property
    def label(self) -> str:
        """What the status shows for this rule ("" : the settings' variant name)."""
        return ""

    def state(self) -> dict[str, NDArray[Any]]:
        """Arrays this rule carries from step to step (saved in checkpoints); none by default."""
        return {}

    def load_state(self, arrays: dict[str, NDArray[Any]], shape: tuple[int, int]) -> None:
        """Restore what ``state`` returned for a net whose W2 is ``shape`` (K, H).

        ValueError (one line naming the piece) if anything does not fit this rule: nothing is
        silently redrawn or reset.
        """
        if not set(arrays) <= set(self.state_names()):
            raise ValueError(f"{self.name} keeps {sorted(self.state_names())}, the checkpoint has {sorted(arrays)}")

    def _expect(self, arrays: dict[str, NDArray[Any]], name: str, shape: tuple[int, ...], dtype: type) -> NDArray[Any]:
        """``arrays[name]`` if it has exactly ``shape`` and ``dtype`` and is finite; ValueError otherwise."""
        a = arrays[name]
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"{self.name}: {name} is {a.dtype} {a.shape}, expected {np.dtype(dtype)} {shape}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{self.name}: {name} contains NaN or infinity")
        return a

    def state_names(self) -> tuple[str, ...]:
        """Names ``state`` returns once the rule has run a step."""
        return ()

    def _mask(
        self, slot: str, shape: tuple[int, ...], dtype: np.dtype[Any], p: float, rng: np.random.Generator
    ) -> Array:
        """Inverted-dropout mask: 1/(1-p) with probability 1-p, else 0; (B, n) in a reused buffer."""
        m = self._buf.get(slot, shape, dtype)
        rng.random(dtype=m.dtype.type, out=m)  # U[0, 1)
        keep = self._buf.get(slot + "_keep", shape, np.dtype(np.bool_))
        np.greater_equal(m, p, out=keep)  # kept with probability 1 - p
        return np.multiply(keep, 1.0 / (1.0 - p), out=m, dtype=m.dtype)

    def forward_as_trained(self, model: MLP, X: Array, rng: np.random.Generator) -> Array | None:
        """Logits (n, K) of X (n, D) through the network as this rule trains it (noise or rounding
        in the forward pass), for test-time evaluation; None when the forward pass is the clean one."""
        return None

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        """What the backward pass uses; h, z1: (B, H) this minibatch's hidden state and pre-activation."""
        return BackwardInputs(h, h, h, model.W2)

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        """Mean cross-entropy and correct count of the (possibly perturbed) forward pass, and the
        variant's update.

        X: (B, D), y: (B,) int. Returns grads W1 (H, D), b1 (H,), W2 (K, H), b2 (K,).
        With dropout the inputs are X * m_in and the hidden state the variant hands back is
        multiplied by m (inverted-dropout masks, 0 or 1/(1-p), drawn from ``rng``) wherever it
        enters the output layer or dW2; act'(.) is multiplied by the same m, so the backward
        pass is the exact gradient of the masked network (for the exact variant).
        """
        B, (H, D) = X.shape[0], model.W1.shape
        dtype = model.W1.dtype
        m_h = None
        if self.input_dropout:
            m_in = self._mask("m_in", (B, D), dtype, self.input_dropout, rng)  # (B, D)
            X = np.multiply(X, m_in, out=self._buf.get("X_drop", (B, D), dtype))
        z1 = np.matmul(X, model.W1.T, out=self._buf.get("z1", (B, H), dtype))
        z1 += model.b1  # pre-activation, (B, H)
        h = model.act.forward(z1, out=self._buf.get("h", (B, H), z1.dtype))  # (B, H)
        if self.dropout:
            m_h = self._mask("m_h", (B, H), dtype, self.dropout, rng)  # (B, H)
        fed = self.inputs(model, h, z1, rng)
        # act'(.) from the unmasked state (sigmoid's h(1-h) needs the real h), then masked
        dact = model.act.grad_from_output(fed.h_act, out=self._buf.get("dact", (B, H), h.dtype))
        if fed.dact_scale is not None:
            dact *= fed.dact_scale  # (B, H)
        h_out, h_dW2 = fed.h_out, fed.h_dW2
        if m_h is not None:
            dact *= m_h  # d h~ / d z1 = act'(z1) m, (B, H)
            h_out = np.multiply(fed.h_out, m_h, out=self._buf.get("h_out_drop", (B, H), dtype))  # h~ = h m
            if fed.h_dW2 is fed.h_out:
                h_dW2 = h_out
            else:
                h_dW2 = np.multiply(fed.h_dW2, m_h, out=self._buf.get("h_dW2_drop", (B, H), dtype))
        logits = h_out @ model.W2.T  # (B, K)
        logits += model.b2
        log_probs = log_softmax(logits)
        probs = np.exp(log_probs)
        loss, correct = loss_and_correct(log_probs, y)
        grads = self._buf.like(model.params, prefix="grad_")
        grads = backward(X, y, probs, h_dW2, dact, fed.feedback, grads, smoothing=self.label_smoothing)
        return StepResult(loss, correct, grads)


class Exact(Variant):
    """True backprop, through the model's own (fastest) path; with dropout, the masked network's."""

    name = "exact"

    @property
    def true_gradient(self) -> bool:
        return not (self.dropout or self.input_dropout)

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        if self.dropout or self.input_dropout:
            return super().loss_and_grads(model, X, y, rng)
        return model.loss_and_grads(X, y, reuse_buffers=True, smoothing=self.label_smoothing)


class CustomRule(Variant):
    """Any ``GradientRule`` (an object with ``loss_and_grads``, e.g. a student's own backward pass)
    as a variant: the trainer steps with it whatever the settings' variant says, keeps no state for
    it and applies no dropout masks (the rule does what it does)."""

    name = "custom"
    follows_settings = False

    def __init__(self, rule: GradientRule) -> None:
        super().__init__()
        self.rule = rule
        self.key = ("custom",)

    @property
    def label(self) -> str:
        """The rule's own name when it has one (``label``), e.g. the student's file."""
        return str(getattr(self.rule, "label", "") or "")

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> StepResult:
        return self.rule.loss_and_grads(model, X, y, rng)


def as_variant(rule: GradientRule) -> Variant:
    """``rule`` itself if it is a variant, else wrapped in ``CustomRule``."""
    return rule if isinstance(rule, Variant) else CustomRule(rule)


def clean_hidden(model: MLP, X: Array) -> Array:
    """The clean hidden state act(X W1^T + b1) of ``X`` (n, D): a fresh (n, H) array."""
    z1 = X @ model.W1.T
    z1 += model.b1
    return model.act.forward(z1, out=z1)


def readout(model: MLP, h: Array) -> Array:
    """Output-layer logits (n, K) of hidden states h (n, H)."""
    logits = h @ model.W2.T
    logits += model.b2
    return logits
