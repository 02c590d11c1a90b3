"""What the "why this prediction?" view draws, from ``model.inspect.explain``.

For one digit: the ten logits as bars (predicted and true class highlighted), and the hidden
units that add most to the predicted and to the true class's logit (activation h_j times
weight W2[k, j]), each drawn as its small W1 filter with its share of the logit below it.
Leaves out the arithmetic (``model.inspect``) and the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.text import Text

from model.inspect import Explanation, downsample2, explain, filter_tiles
from tui.view.weights import SMALL, Line, diverging_bars, tile_rows_lines

TRUE_STYLE = "bold green"
PRED_STYLE = "bold red"
TOP_UNITS = 8


@dataclass(frozen=True)
class WhyData:
    """One digit explained with one copy of the weights.

    explanation: logits and contributions; tiles_pred / tiles_true: (n, 196) small filters of
    the units in ``explanation.top_pred`` / ``top_true``; row: the digit's row in its set (-1:
    not from a set).
    """

    explanation: Explanation
    tiles_pred: NDArray[np.float32]
    tiles_true: NDArray[np.float32]
    examples_seen: int
    row: int = -1


def build_why_data(snapshot: Any, image: NDArray[np.floating], true_label: int, row: int = -1) -> WhyData:
    """Explain ``image`` (784,) with the weights of a ``WeightsSnapshot``."""
    e = explain(snapshot.params, snapshot.hp.activation, image, true_label, top=TOP_UNITS)
    W1 = snapshot.params["W1"]
    small = {k: downsample2(filter_tiles(W1[idx], per_tile=True)) for k, idx in (("p", e.top_pred), ("t", e.top_true))}
    return WhyData(e, _rescale(small["p"]), _rescale(small["t"]), snapshot.examples_seen, row)


def _rescale(tiles: NDArray[np.float32]) -> NDArray[np.float32]:
    m = np.abs(tiles).max(axis=1, keepdims=True)
    return np.clip(tiles / np.where(m > 0, m, 1.0), -1, 1).astype(np.float32)


def summary_text(data: WhyData) -> Text:
    """'true 5 · predicted 6' with both probabilities, and what the bars below mean."""
    e = data.explanation
    where = f"test #{data.row} · " if data.row >= 0 else ""
    active = int(np.count_nonzero(e.h > 0))
    return Text.assemble(
        (where, "dim"), ("true ", "dim"), (str(e.true), TRUE_STYLE), (f" p {e.probs[e.true]:.2f}", TRUE_STYLE),
        ("  predicted ", "dim"), (str(e.pred), PRED_STYLE), (f" p {e.probs[e.pred]:.2f}", PRED_STYLE),
        (f"\nlogit_k = Σ_j h_j W2[k, j] + b2[k] over {e.h.size} hidden units ({active} active)", "dim"),
        (f"\nweights after {data.examples_seen:,} examples", "dim"),
    )  # fmt: skip


def logits_text(data: WhyData, width: int) -> Text:
    """The ten logits as diverging bars, with p per class; true and predicted rows coloured."""
    e = data.explanation
    bar_w = max(width - 16, 5)
    scale = float(np.abs(e.logits).max())
    bars = diverging_bars(e.logits.tolist(), bar_w, scale, "logits z2")
    out = Text("  ", no_wrap=True, overflow="crop")
    out.append_text(bars[0])
    out.append("       p")
    for k, bar in enumerate(bars[1:]):
        style = TRUE_STYLE if k == e.true else PRED_STYLE if k == e.pred else "bold"
        out.append(f"\n{k} ", style)
        out.append_text(bar)
        out.append(f" {e.logits[k]:+6.2f} {e.probs[k]:.2f}", style if style != "bold" else "")
    return out


def units_title(data: WhyData, which: str) -> Text:
    """Heading of one row of units: 'pushing towards 6 (predicted): 8 units add +4.1 of 5.3'."""
    e = data.explanation
    k, idx, style = (e.pred, e.top_pred, PRED_STYLE) if which == "pred" else (e.true, e.top_true, TRUE_STYLE)
    name = "predicted" if which == "pred" else "true"
    share = float(e.contrib[k, idx].sum())
    return Text.assemble(
        ("Units pushing towards ", "bold"), (str(k), style), (f" ({name})", "bold"),
        (f": these {len(idx)} add {share:+.2f} to its logit {e.logits[k]:+.2f}", "dim"),
    )  # fmt: skip


def units_lines(data: WhyData, which: str, cols: int, ascii_mode: bool = False) -> list[Line]:
    """The top units of one class as small filter tiles, labelled 'j +h·w'."""
    e = data.explanation
    k, idx, tiles = (e.pred, e.top_pred, data.tiles_pred) if which == "pred" else (e.true, e.top_true, data.tiles_true)
    labels = [f"{j} {e.contrib[k, j]:+.2f}" for j in idx.tolist()]
    return tile_rows_lines(tiles, labels, max(cols, 1), SMALL, ascii_mode=ascii_mode)
