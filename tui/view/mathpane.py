"""What the math screen's live pane draws: the minibatch form of backprop with the live shapes,
the norm of each gradient on one minibatch, and p - t for one example.

``build_math_data`` runs ``model.inspect.minibatch_gradients`` on a fixed minibatch of the
training set (so what changes between refreshes is the weights, not the batch) and on the
selected example; ``math_text`` lays the numbers beside the lines of the derivation in
``assets/backprop.md`` section 3. Leaves out the widgets and the Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.text import Text

from model.inspect import BatchGradients, minibatch_gradients
from tui.view.weights import diverging_bars

I64 = NDArray[np.int64]
#: The most rows the pane's minibatch takes (a run's batch size can be up to 4096).
MAX_BATCH = 512


def pick_batch(n: int, batch_size: int, seed: int = 0) -> I64:
    """``min(batch_size, MAX_BATCH, n)`` distinct row numbers out of n, fixed by ``seed``."""
    size = min(batch_size, MAX_BATCH, n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False)).astype(np.int64)


@dataclass(frozen=True)
class MathData:
    """The exact gradient on a minibatch and on one example, with the run's shapes.

    shape: (D, H, K, B); batch: the minibatch's gradients and loss; example: the selected
    example's (B = 1), its delta[0] is p - t; label / pred: its true and predicted class.
    """

    shape: tuple[int, int, int, int]
    activation: str
    variant: str
    examples_seen: int
    batch: BatchGradients
    example: BatchGradients
    label: int
    pred: int
    source: str  # where the example comes from, e.g. "test #8" or "training row 3"


def build_math_data(
    snapshot: Any,
    X: NDArray[np.floating],
    y: NDArray[np.integer],
    x_example: NDArray[np.floating],
    y_example: int,
    source: str,
) -> MathData:
    """Gradients of a ``WeightsSnapshot`` on X (B, D), y (B,) and on one example x (D,), label y."""
    act = snapshot.hp.activation
    W1 = snapshot.params["W1"]
    batch = minibatch_gradients(snapshot.params, act, X, y)
    example = minibatch_gradients(snapshot.params, act, np.asarray(x_example).reshape(1, -1), np.array([y_example]))
    probs = example.delta[0].copy()  # p - t, back to p
    probs[y_example] += 1.0
    pred = int(np.argmax(probs))
    H, D = W1.shape
    K = snapshot.params["W2"].shape[0]
    return MathData(
        (D, H, K, len(y)), act, snapshot.hp.variant, snapshot.examples_seen, batch, example, y_example, pred, source
    )


def math_text(data: MathData, width: int) -> Text:
    """The forward and backward lines of the minibatch form with live shapes and gradient norms (‖·‖),
    then p - t for the selected example as bars."""
    D, H, K, B = data.shape
    n = data.batch.norms
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("Live model", "bold")
    out.append(f"  D={D} H={H} K={K} B={B} {data.activation}\n", "dim")
    out.append(f"weights after {data.examples_seen:,} examples\n\n", "dim")
    rows = [
        ("Forward                shape      norm", None, None),
        ("X", (B, D), None),
        ("Z1 = X W1^T + b1", (B, H), None),
        ("Hh = act(Z1)", (B, H), None),
        ("Z2 = Hh W2^T + b2", (B, K), None),
        ("P  = softmax(Z2)", (B, K), None),
        ("Backward", None, None),
        ("Delta2 = (P - Y) / B", (B, K), None),
        ("dW2 = Delta2^T Hh", (K, H), n["W2"]),
        ("db2 = sum Delta2", (K,), n["b2"]),
        ("dH = Delta2 W2", (B, H), None),
        ("Delta1 = dH ⊙ act'(Z1)", (B, H), None),
        ("dW1 = Delta1^T X", (H, D), n["W1"]),
        ("db1 = sum Delta1", (H,), n["b1"]),
    ]
    for label, shape, norm in rows:
        if shape is None:
            out.append(f"{label}\n", "bold underline")
            continue
        out.append(f"{label:<23}", "")
        out.append(f"{_shape(shape):<11}", "cyan")
        out.append(f"{norm:.3g}" if norm is not None else "", "yellow")
        out.append("\n")
    out.append(f"loss on this minibatch {data.batch.loss:.4f}\n", "dim")
    if data.variant != "exact":
        out.append(f"(exact gradients; the run's {data.variant} replaces W2 or h in them)\n", "dim")
    out.append("\n")
    out.append(f"p - t for {data.source}", "bold")
    out.append(f"  true {data.label} · predicted {data.pred}\n", "dim")
    delta = data.example.delta[0]
    bars = diverging_bars(delta.tolist(), max(min(width, 60) - 12, 5), 1.0)
    for k, bar in enumerate(bars):
        style = "bold green" if k == data.label else "bold red" if k == data.pred else "bold"
        out.append(f"{k} ", style)
        out.append_text(bar)
        out.append(f" {delta[k]:+.3f}\n")
    out.append(f"this example alone: ‖dW1‖ {data.example.norms['W1']:.3g}  ‖dW2‖ {data.example.norms['W2']:.3g}", "dim")
    return out


def _shape(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
