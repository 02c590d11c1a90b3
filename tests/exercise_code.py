"""Student files for the exercise tests: a correct backprop.py and one wrong copy per common mistake.

``solution(activation)`` is a correct implementation of the contract written the way the
assignment asks (the one-example vector form, then the minibatch form). Each ``MISTAKES`` entry
edits it into a file that makes exactly one of the common mistakes, with the step that must
catch it and the diagnosis it must name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ACTS = {
    "relu": ("np.maximum(z, 0.0)", "(h > 0).astype(h.dtype)"),
    "tanh": ("np.tanh(z)", "1.0 - h**2"),
    "sigmoid": ("1.0 / (1.0 + np.exp(-z))", "h * (1.0 - h)"),
}

TEMPLATE = """\
import numpy as np

ACTIVATION = "{activation}"


def act(z):
    return {forward}


def act_grad(h):
    return {grad}


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def loss_one(params, x, y):
    h = act(params["W1"] @ x + params["b1"])
    z2 = params["W2"] @ h + params["b2"]
    z2 = z2 - z2.max()
    return float(np.log(np.exp(z2).sum()) - z2[y])


def grads_one(params, x, y):
    z1 = params["W1"] @ x + params["b1"]
    h = act(z1)
    p = softmax(params["W2"] @ h + params["b2"])
    t = np.zeros_like(p)
    t[y] = 1.0
    d2 = p - t
    dh = params["W2"].T @ d2
    d1 = dh * act_grad(h)
    return {{"W1": np.outer(d1, x), "b1": d1, "W2": np.outer(d2, h), "b2": d2}}


def loss_batch(params, X, y):
    H = act(X @ params["W1"].T + params["b1"])
    Z2 = H @ params["W2"].T + params["b2"]
    Z2 = Z2 - Z2.max(axis=1, keepdims=True)
    logp = Z2 - np.log(np.exp(Z2).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def grads_batch(params, X, y):
    B = X.shape[0]
    Z1 = X @ params["W1"].T + params["b1"]
    H = act(Z1)
    P = softmax(H @ params["W2"].T + params["b2"])
    T = np.zeros_like(P)
    T[np.arange(B), y] = 1.0
    D2 = (P - T) / B
    D1 = (D2 @ params["W2"]) * act_grad(H)
    return {{"W1": D1.T @ X, "b1": D1.sum(axis=0), "W2": D2.T @ H, "b2": D2.sum(axis=0)}}
"""


def solution(activation: str = "relu") -> str:
    """A correct backprop.py for ``activation``."""
    forward, grad = ACTS[activation]
    return TEMPLATE.format(activation=activation, forward=forward, grad=grad)


@dataclass(frozen=True)
class Wrong:
    """A solution with one mistake: ``edits`` (old, new) applied to ``solution(activation)``; the
    step that must fail and the diagnosis (a ``model.exercise.MISTAKES`` key) it must name."""

    name: str
    edits: tuple[tuple[str, str], ...]
    step: int
    mistake: str
    activation: str = "relu"

    def source(self) -> str:
        text = solution(self.activation)
        for old, new in self.edits:
            assert old in text, f"{self.name}: {old!r} is not in the solution"
            text = text.replace(old, new, 1)
        return text


WRONG = (
    # one example (step 2)
    Wrong("transposed W1", (('"W1": np.outer(d1, x)', '"W1": np.outer(x, d1)'),), 2, "transposed"),
    Wrong(
        "transposed values",
        (('"W1": np.outer(d1, x)', '"W1": np.outer(x, d1).reshape(d1.size, x.size)'),),
        2,
        "transposed",
    ),
    Wrong("sign", (("d2 = p - t", "d2 = t - p"),), 2, "sign"),
    Wrong("missing act'", (("d1 = dh * act_grad(h)", "d1 = dh"),), 2, "missing-act-grad"),
    Wrong("act' at h (tanh)", (("d1 = dh * act_grad(h)", "d1 = dh * act_grad(act(h))"),), 2, "act-grad-point", "tanh"),
    Wrong(
        "act' on z (sigmoid)", (("d1 = dh * act_grad(h)", "d1 = dh * act_grad(z1)"),), 2, "act-grad-point", "sigmoid"
    ),
    Wrong("one class only", (("d2 = p - t", "d2 = (p - t) * t"),), 2, "one-class"),
    Wrong("label broadcast", (("d2 = p - t", "d2 = p - y"),), 2, "broadcast"),
    Wrong(
        "softmax overflow in grads_one",
        (("    z = z - z.max(axis=-1, keepdims=True)\n", ""),),
        2,
        "softmax-overflow",
    ),
    Wrong("not finite", (("d1 = dh * act_grad(h)", "d1 = dh * act_grad(h) / (x[0] - x[0])"),), 2, "not-finite"),
    # minibatch (step 3)
    Wrong("transposed dW1 (batch)", (('"W1": D1.T @ X', '"W1": X.T @ D1'),), 3, "transposed"),
    Wrong("sum, not mean", (("D2 = (P - T) / B", "D2 = P - T"),), 3, "factor-of-b"),
    Wrong("mean twice", (('"b2": D2.sum(axis=0)', '"b2": D2.mean(axis=0)'),), 3, "factor-of-b"),
    Wrong("bias not summed", (('"b1": D1.sum(axis=0)', '"b1": D1'),), 3, "bias-not-summed"),
    Wrong("bias (H, 1)", (('"b1": D1.sum(axis=0)', '"b1": D1.sum(axis=0)[:, None]'),), 3, "broadcast"),
    Wrong("bias summed to a number", (('"b2": D2.sum(axis=0)', '"b2": D2.sum()'),), 3, "broadcast"),
    Wrong(
        "missing act' (batch)",
        (('D1 = (D2 @ params["W2"]) * act_grad(H)', 'D1 = D2 @ params["W2"]'),),
        3,
        "missing-act-grad",
    ),
    Wrong("sign (batch)", (("D2 = (P - T) / B", "D2 = (T - P) / B"),), 3, "sign"),
    # losses (steps 1 and 3)
    Wrong("loss overflow", (("    z2 = z2 - z2.max()\n", ""),), 1, "softmax-overflow"),
    Wrong(
        "loss sign",
        (("return float(np.log(np.exp(z2).sum()) - z2[y])", "return float(z2[y] - np.log(np.exp(z2).sum()))"),),
        1,
        "sign",
    ),
    Wrong(
        "loss in float32",
        (("    z2 = z2 - z2.max()\n", "    z2 = (z2 - z2.max()).astype(np.float32)\n"),),
        1,
        "precision",
    ),
    Wrong(
        "loss with another activation",
        (('h = act(params["W1"] @ x + params["b1"])', 'h = np.tanh(params["W1"] @ x + params["b1"])'),),
        1,
        "wrong-activation",
    ),
    Wrong(
        "loss_batch sums",
        (("return float(-logp[np.arange(len(y)), y].mean())", "return float(-logp[np.arange(len(y)), y].sum())"),),
        3,
        "factor-of-b",
    ),
    Wrong(
        "loss_batch per example",
        (("return float(-logp[np.arange(len(y)), y].mean())", "return -logp[np.arange(len(y)), y]"),),
        3,
        "not-a-number",
    ),
    # what comes back
    Wrong(
        "a tuple",
        (
            (
                'return {"W1": np.outer(d1, x), "b1": d1, "W2": np.outer(d2, h), "b2": d2}',
                "return np.outer(d1, x), d1, np.outer(d2, h), d2",
            ),
        ),
        2,
        "not-dict",
    ),
    Wrong("a key missing", ((', "b2": d2}', "}"),), 2, "not-dict"),
)


def write(folder: Path, text: str, name: str = "backprop.py") -> Path:
    """``text`` written as ``folder/name``; returns the path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
