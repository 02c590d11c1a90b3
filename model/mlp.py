"""A one-hidden-layer perceptron and its exact backward pass, in numpy.

    h = act(W1 x + b1)          W1: (H, D)  b1: (H,)
    p = softmax(W2 h + b2)      W2: (K, H)  b2: (K,)
    L = -sum_k y_k log p_k      averaged over a minibatch

Rows of ``X`` are examples, so the minibatch form reads ``Z1 = X W1^T + b1``.
Two backward passes live here: ``backprop_one_example`` follows the derivation in
``assets/backprop.md`` line by line (readable, used by tests), and ``backward`` is
the vectorised minibatch form used for training. Training loops, schedules and
checkpoints live elsewhere (``trainer.py``, ``checkpoint.py``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from model.activations import DEFAULT_ACTIVATION, Activation, get_activation
from model.buffers import Buffers

Array = NDArray[np.floating]
Labels = NDArray[np.integer]
Grads = dict[str, Array]
PARAM_NAMES = ("W1", "b1", "W2", "b2")


def log_softmax(logits: Array) -> Array:
    """Row-wise log softmax with the max shift; logits: (B, K) -> (B, K). Stable for |logits| ~ 1e4+."""
    shifted: Array = logits - logits.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


def softmax(logits: Array) -> Array:
    """Row-wise softmax; logits: (B, K) -> probs (B, K), rows sum to 1."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e: Array = np.exp(shifted)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def cross_entropy(logits: Array, y: Labels) -> float:
    """Mean of -log p_y over the batch; logits: (B, K), y: (B,) int."""
    return loss_and_correct(log_softmax(logits), y)[0]


@functools.lru_cache(maxsize=16)
def batch_rows(B: int) -> NDArray[np.intp]:
    """0, 1, ..., B-1 (read-only, made once per batch size): the rows of a per-row gather such as
    log_probs[rows, y], which the training step does every step."""
    rows = np.arange(B)
    rows.flags.writeable = False
    return rows


def loss_and_correct(log_probs: Array, y: Labels) -> tuple[float, int]:
    """(mean of -log p_y, number of rows whose most likely class is y); log_probs: (B, K), y: (B,)."""
    B = len(y)
    loss = 0.0
    if B:
        picked = log_probs[batch_rows(B), y]  # log p_y, (B,)
        # ``picked.mean()``'s own arithmetic (numpy's pairwise sum, then the division by the count
        # as numpy's mean does it, rounded back to the array's type) without its Python layer,
        # a few microseconds a step
        loss = float(-picked.dtype.type(np.add.reduce(picked) / np.intp(B)))
    return loss, int(np.count_nonzero(log_probs.argmax(axis=1) == y))


class StepResult(NamedTuple):
    """What a training step's forward and backward pass found on one minibatch.

    ``correct`` counts the rows the forward pass (as trained: with any dropout or perturbation)
    classified right, so a running training error costs nothing extra. grads: W1 (H, D), b1 (H,),
    W2 (K, H), b2 (K,).
    """

    loss: float
    correct: int
    grads: Grads


def backward(
    X: Array,
    y: Labels,
    probs: Array,
    h: Array,
    dact: Array,
    W2: Array,
    grads: Grads | None = None,
    delta_h_out: Array | None = None,
    w1_product: bool = True,
    smoothing: float = 0.0,
) -> Grads:
    """Minibatch backward pass from the softmax output to every parameter.

    X: (B, D) inputs, y: (B,) labels, probs: (B, K) softmax outputs,
    h: (B, H) hidden states that multiply the output delta in dW2,
    dact: (B, H) act'(z1) written from h, W2: (K, H) matrix that carries the delta back.
    Exact backprop passes the forward pass's own h, act'(h) and W2; the experiments
    in ``model.variants`` pass replacements. ``grads`` (optional) holds output buffers,
    ``delta_h_out`` (optional, (B, H)) a scratch buffer for dL/dz1. ``w1_product=False``
    leaves dW1 = delta1^T X to the caller: no "W1" is written (give ``delta_h_out`` to read delta1).
    ``smoothing`` e > 0: the gradient of the loss against smoothed targets t = (1 - e) onehot(y) + e / K.
    """
    B = X.shape[0]
    if grads is None:
        grads = {"b1": np.empty(W2.shape[1], X.dtype), "W2": np.empty_like(W2), "b2": np.empty(W2.shape[0], X.dtype)}
        if w1_product:
            grads["W1"] = np.empty((W2.shape[1], X.shape[1]), X.dtype, order="F")  # like MLP.W1
    delta_out = probs.copy()  # dL/dlogits = p - t, (B, K); t = onehot(y), or smoothed
    if smoothing:
        delta_out -= smoothing / delta_out.shape[1]  # t's e / K on every class
    delta_out[batch_rows(B), y] -= 1.0 - smoothing
    delta_out *= 1.0 / B  # mean over the batch
    np.matmul(delta_out.T, h, out=grads["W2"])  # (K, H)
    np.sum(delta_out, axis=0, out=grads["b2"])  # (K,)
    delta_h = np.matmul(delta_out, W2, out=delta_h_out)  # dL/dh, (B, H)
    delta_h *= dact  # dL/dz1 = delta1, (B, H)
    if w1_product:
        np.matmul(delta_h.T, X, out=grads["W1"])  # (H, D)
    np.sum(delta_h, axis=0, out=grads["b1"])  # (H,)
    return grads


def backprop_one_example(params: dict[str, Array], act: Activation, x: Array, y: int) -> Grads:
    """Gradients for one example, in the vector form of the derivation.

    x: (D,), y: int label. Returns dW1 (H, D), db1 (H,), dW2 (K, H), db2 (K,).
    """
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    z1 = W1 @ x + b1  # (H,)
    h = act.forward(z1)  # (H,)
    z2 = W2 @ h + b2  # (K,)
    p = softmax(z2[None, :])[0]  # (K,)
    t = np.zeros_like(p)
    t[y] = 1.0  # one-hot target
    delta2 = p - t  # dL/dz2 = p - t, (K,)
    dW2 = np.outer(delta2, h)  # dL/dW2 = delta2 h^T, (K, H)
    db2 = delta2  # (K,)
    delta_h = W2.T @ delta2  # dL/dh = W2^T delta2, (H,)
    delta1 = delta_h * act.grad_from_output(h)  # dL/dz1 = dL/dh * act'(z1), (H,)
    dW1 = np.outer(delta1, x)  # dL/dW1 = delta1 x^T, (H, D)
    db1 = delta1  # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


class MLP:
    """The network's parameters and its forward and backward passes.

    Parameters are float32 for training (pass ``dtype=np.float64`` for gradient checks).
    ``rng`` draws the initial weights: W1 ~ N(0, s^2 gain / D), W2 ~ N(0, s^2 / H), biases 0,
    where s is ``init_scale`` (1: He for relu, Xavier-like otherwise).
    """

    def __init__(
        self,
        n_in: int = 784,
        n_hidden: int = 100,
        n_out: int = 10,
        activation: str = DEFAULT_ACTIVATION,
        rng: np.random.Generator | None = None,
        dtype: type[np.floating] = np.float32,
        init_scale: float = 1.0,
    ) -> None:
        rng = rng if rng is not None else np.random.default_rng(0)
        self.act = get_activation(activation)
        self.dtype = np.dtype(dtype)
        scale1 = np.sqrt(self.act.init_gain / n_in) * init_scale
        # W1 (H, D) is stored column-major (W1.T is a contiguous (D, H) block), so X @ W1.T and
        # dW1 = delta1^T X run as plain GEMMs, ~10% faster than with a transposed operand.
        self.W1: Array = np.asfortranarray((rng.standard_normal((n_hidden, n_in)) * scale1).astype(dtype))
        self.b1: Array = np.zeros(n_hidden, dtype)
        self.W2: Array = (rng.standard_normal((n_out, n_hidden)) * (np.sqrt(1.0 / n_hidden) * init_scale)).astype(dtype)
        self.b2: Array = np.zeros(n_out, dtype)
        self._buffers = Buffers()  # the training step's scratch: workspace and gradients
        self._work: tuple[tuple[object, ...], dict[str, Array]] | None = None  # workspace's last (key, dict)

    # ---- shapes and parameters -------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(D, H, K): inputs, hidden units, classes."""
        H, D = self.W1.shape
        return D, H, self.W2.shape[0]

    @property
    def params(self) -> dict[str, Array]:
        """The live parameter arrays keyed W1, b1, W2, b2 (not copies)."""
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def set_params(self, params: dict[str, Array]) -> None:
        """Copy values into the live arrays (shapes must match)."""
        for name in PARAM_NAMES:
            getattr(self, name)[...] = params[name]

    def copy(self) -> MLP:
        """A deep copy, e.g. for a gradient check that must not touch the live weights."""
        clone = MLP.__new__(MLP)
        clone.act, clone.dtype, clone._buffers, clone._work = self.act, self.dtype, Buffers(), None
        for name, value in self.params.items():
            setattr(clone, name, value.copy(order="K"))  # keep W1's column-major layout
        return clone

    def astype(self, dtype: type[np.floating]) -> MLP:
        """A copy with every parameter cast to ``dtype``."""
        clone = self.copy()
        clone.dtype = np.dtype(dtype)
        for name, value in clone.params.items():
            setattr(clone, name, value.astype(dtype))
        return clone

    # ---- forward ------------------------------------------------------------------
    def hidden(self, X: Array, out: Array | None = None) -> Array:
        """h = act(X W1^T + b1); X: (B, D) -> (B, H), written into ``out`` (B, H) if given."""
        z1 = np.matmul(X, self.W1.T, out=out)
        z1 += self.b1
        return self.act.forward(z1, out=z1)

    def logits(self, X: Array) -> Array:
        """W2 h + b2 for every row; X: (B, D) -> (B, K)."""
        z2 = self.hidden(X) @ self.W2.T
        z2 += self.b2
        return z2

    def forward(self, X: Array) -> Array:
        """Class probabilities p; X: (B, D) -> (B, K)."""
        return softmax(self.logits(X))

    def loss(self, X: Array, y: Labels) -> float:
        """Mean cross-entropy; X: (B, D), y: (B,) int."""
        return cross_entropy(self.logits(X), y)

    def predict(self, X: Array, batch: int = 10_000) -> Labels:
        """Most likely class per row; X: (N, D) -> (N,) int, in batches of ``batch`` rows."""
        return np.concatenate([self.logits(X[i : i + batch]).argmax(axis=1) for i in range(0, len(X), batch)])

    def evaluate(self, X: Array, y: Labels, batch: int = 10_000) -> tuple[float, float]:
        """(mean loss, error rate) over a whole set; X: (N, D), y: (N,)."""
        loss, error, _, _ = self.scores(X, y, batch)
        return loss, error

    def scores(self, X: Array, y: Labels, batch: int = 10_000) -> tuple[float, float, Labels, Array]:
        """One pass over a whole set: (mean loss, error rate, predictions (N,) int64, probabilities (N, K)).

        X: (N, D), y: (N,) int; run in batches of ``batch`` rows.
        """
        K = self.shape[2]
        pred = np.empty(len(X), np.int64)
        probs = np.empty((len(X), K), self.dtype)
        total_loss = 0.0
        for i in range(0, len(X), batch):
            log_probs = log_softmax(self.logits(X[i : i + batch]))  # (b, K)
            yb = y[i : i + batch]
            total_loss += loss_and_correct(log_probs, yb)[0] * len(yb)
            np.argmax(log_probs, axis=1, out=pred[i : i + batch])
            np.exp(log_probs, out=probs[i : i + batch])
        n = max(len(X), 1)
        return total_loss / n, int(np.count_nonzero(pred != y)) / n, pred, probs

    # ---- forward + backward -------------------------------------------------------
    def forward_for_backprop(self, X: Array, work: dict[str, Array] | None = None) -> tuple[Array, Array, Array]:
        """Forward pass keeping what backprop needs: (h (B, H), log p (B, K), p (B, K)).

        ``work`` (optional, from ``workspace``) holds the h and logits buffers to write into.
        """
        work = work if work is not None else {}
        h = self.hidden(X, out=work.get("h"))
        logits = np.matmul(h, self.W2.T, out=work.get("logits"))
        logits += self.b2
        log_probs = log_softmax(logits)
        return h, log_probs, np.exp(log_probs)

    def loss_and_grads(self, X: Array, y: Labels, reuse_buffers: bool = False, smoothing: float = 0.0) -> StepResult:
        """Mean cross-entropy, rows classified right, and the exact gradient for every parameter.

        X: (B, D), y: (B,) int. grads: W1 (H, D), b1 (H,), W2 (K, H), b2 (K,).
        With ``reuse_buffers`` the returned arrays are overwritten by the next call
        (the trainer's hot loop); otherwise they are fresh arrays. ``smoothing`` > 0: the
        gradient is that of label-smoothed targets (see ``backward``); the loss stays the plain
        cross-entropy, comparable with and without.
        """
        return self._loss_and_grads(X, y, reuse_buffers, True, smoothing)

    def loss_and_delta1(self, X: Array, y: Labels, smoothing: float = 0.0) -> tuple[StepResult, Array]:
        """``loss_and_grads`` into reused buffers, with dW1 left as its two factors.

        X: (B, D), y: (B,) int. Returns the step's result, whose grads hold b1, W2 and b2 but no
        W1, and delta1 = dL/dz1 (B, H), so that dW1 = delta1^T X. For an update that folds this
        product into the momentum (``Trainer._apply``): the (H, D) gradient is never written.
        """
        result = self._loss_and_grads(X, y, True, False, smoothing)
        return result, self.workspace(len(X))["delta_h"]

    def _loss_and_grads(
        self, X: Array, y: Labels, reuse_buffers: bool, w1_product: bool, smoothing: float
    ) -> StepResult:
        work = self.workspace(len(X)) if reuse_buffers else {}
        h, log_probs, probs = self.forward_for_backprop(X, work)
        loss, correct = loss_and_correct(log_probs, y)
        dact = self.act.grad_from_output(h, out=work.get("dact"))
        grads = self.grad_buffers(w1=w1_product) if reuse_buffers else None
        grads = backward(X, y, probs, h, dact, self.W2, grads, work.get("delta_h"), w1_product, smoothing)
        return StepResult(loss, correct, grads)

    def workspace(self, B: int) -> dict[str, Array]:
        """Scratch arrays for a training step on B rows: h, dact, delta_h (B, H), logits (B, K).

        Reallocated only when B or the model's shape changes; the next step overwrites them.
        """
        _, H, K = self.shape
        key = (B, H, K, self.dtype)
        if self._work is not None and self._work[0] == key:
            return self._work[1]  # the dict as well: building it again took a few microseconds a step
        work = {name: self._buffers.get(name, (B, H), self.dtype) for name in ("h", "dact", "delta_h")}
        work["logits"] = self._buffers.get("logits", (B, K), self.dtype)
        self._work = (key, work)
        return work

    def grad_buffers(self, w1: bool = True) -> Grads:
        """Preallocated gradient arrays shaped like the parameters (reused across steps);
        without one for W1 if ``w1`` is False."""
        return self._buffers.like({k: v for k, v in self.params.items() if w1 or k != "W1"}, prefix="d")
