"""The reference the check measures against, and the gradients each common mistake would give.

Everything here is float64 and vectorised over a minibatch (one example is a batch of one).
``gradients(problem, mistake)`` runs the project's own backward pass (``model.mlp.backward``)
fed what a student making ``mistake`` computes: the derivative act'(.) left out or taken at the
wrong point, dL/dz2 kept for one class only, or the label subtracted as a number; a diagnosis
compares the student's numbers with these predictions. Leaves out the comparison (``diagnose``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from model.activations import Activation, get_activation
from model.gradcheck import toy_problem
from model.mlp import PARAM_NAMES, backward, log_softmax, softmax

F64 = NDArray[np.floating]  # float64 throughout this package's checks
Params = dict[str, F64]

#: The assignment's toy net: D inputs, H hidden units, K classes.
TOY_SHAPE = (10, 5, 2)
#: Added to b2 for the large-logit probes: every logit near this, far past exp's overflow (~709).
#: Softmax ignores a shift shared by all classes, so the reference loss and gradient are unchanged.
LARGE_LOGIT_SHIFT = 1000.0

#: Structural mistakes a prediction can be made for ("exact": none).
STRUCTURAL = ("exact", "missing-act-grad", "act-grad-at-h", "act-grad-on-z", "one-class", "labels-broadcast")


@dataclass(frozen=True)
class Problem:
    """Parameters and a minibatch: params W1 (H, D), b1 (H,), W2 (K, H), b2 (K,); X (B, D); y (B,)."""

    params: Params
    X: F64
    y: NDArray[np.int64]
    activation: str

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    @property
    def B(self) -> int:
        return int(self.X.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        H, D = self.params["W1"].shape
        return D, H, self.params["W2"].shape[0]

    def example(self, i: int) -> Problem:
        """Row ``i`` as a batch of one."""
        return Problem(self.params, self.X[i : i + 1], self.y[i : i + 1], self.activation)

    def shifted_logits(self, shift: float = LARGE_LOGIT_SHIFT) -> Problem:
        """The same problem with every logit raised by ``shift`` (b2 + shift): same loss and gradient."""
        params = dict(self.params)
        params["b2"] = self.params["b2"] + shift
        return Problem(params, self.X, self.y, self.activation)

    @cached_property
    def forward(self) -> tuple[F64, F64, F64, F64]:
        """(z1 (B, H), h (B, H), log p (B, K), p (B, K))."""
        p = self.params
        z1: F64 = self.X @ p["W1"].T + p["b1"]
        h: F64 = self.act.forward(z1)
        log_probs: F64 = log_softmax(h @ p["W2"].T + p["b2"])
        return z1, h, log_probs, np.exp(log_probs)

    def losses(self) -> F64:
        """-log p_y per example, (B,)."""
        log_probs = self.forward[2]
        out: F64 = -log_probs[np.arange(self.B), self.y]
        return out

    def loss(self) -> float:
        """The mean loss over the batch."""
        return float(self.losses().mean())

    def gradients(self, mistake: str = "exact") -> Params:
        """The gradient of the mean loss as a student making ``mistake`` (in ``STRUCTURAL``) gets it."""
        z1, h, _, probs = self.forward
        act = self.act
        dact = act.grad_from_output(h)  # act'(z1), (B, H)
        onehot = np.zeros_like(probs)
        onehot[np.arange(self.B), self.y] = 1.0
        # backward() forms dL/dz2 as probs - onehot: feed it what makes that the mistaken delta
        if mistake == "missing-act-grad":
            dact = np.ones_like(h)
        elif mistake == "act-grad-at-h":  # the derivative of act at h = act(z1), not at z1
            dact = act.grad_from_output(act.forward(h))
        elif mistake == "act-grad-on-z":  # the output form of act' (h(1-h), 1-h^2) fed z1
            dact = act.grad_from_output(z1)
        elif mistake == "one-class":  # dL/dz2 only at the label's entry: p_y - 1 there, 0 elsewhere
            probs = probs * onehot
        elif mistake == "labels-broadcast":  # p - y: the label number subtracted from every class
            probs = probs - self.y[:, None] + onehot
        elif mistake != "exact":
            raise ValueError(f"unknown mistake {mistake!r}")
        grads: Params = backward(self.X, self.y, probs, h, dact, self.params["W2"])
        return grads


def toy(activation: str, batch: int, seed: int, shape: tuple[int, int, int] = TOY_SHAPE) -> Problem:
    """A random toy net (float64, nonzero biases) and a batch of standard-normal inputs whose labels
    cover every class when the batch is large enough."""
    model, X, y = toy_problem(activation, batch, seed, shape)
    K = shape[2]
    if batch >= K:
        y[:K] = np.arange(K)  # every class appears
    params: Params = {name: np.array(value, np.float64) for name, value in model.params.items()}
    return Problem(params, X, y.astype(np.int64), activation)


def image_like(activation: str, batch: int, seed: int, shape: tuple[int, int, int]) -> Problem:
    """A net of the training shapes' kind with MNIST-like inputs: pixels in [0, 1), most of them 0."""
    rng = np.random.default_rng(seed)
    problem = toy(activation, batch, seed, shape)
    X = rng.uniform(0.0, 1.0, problem.X.shape) * (rng.random(problem.X.shape) < 0.2)
    return Problem(problem.params, X, problem.y, activation)


def distinct(prediction: Params, exact: Params) -> bool:
    """True if a mistake's prediction differs from the true gradient (else it cannot be told apart)."""
    return any(not np.allclose(prediction[n], exact[n], rtol=1e-9, atol=1e-12) for n in PARAM_NAMES)


def one_example_probs(logits: F64) -> F64:
    """Softmax of one example's logits (K,) -> (K,)."""
    out: F64 = softmax(logits[None, :])[0]
    return out
