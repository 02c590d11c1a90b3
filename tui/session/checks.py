"""The gradient check the app runs on request: the toy suite, then a sample of the live model.

Runs on its own short thread with a copy of the weights, so training does not stall.
Leaves out the finite-difference math (``model.gradcheck``).
"""

from __future__ import annotations

import threading

import numpy as np

from model.gradcheck import check_sampled, toy_suite
from model.mlp import MLP
from tui.session.events import GradCheckDone

GRADCHECK_BATCH = 32  # training examples in the live gradient check's minibatch
GRADCHECK_SAMPLES = 200  # parameter entries compared in the live check


def run_gradcheck(model: MLP, X: np.ndarray, y: np.ndarray, stop: threading.Event) -> GradCheckDone:
    """Toy suite, then (unless ``stop`` is set) a sampled check of ``model`` on X (B, D), y (B,)."""
    try:
        toy = toy_suite()
        live = None
        if not stop.is_set():
            live = check_sampled(
                model,
                X,
                y,
                n_samples=GRADCHECK_SAMPLES,
                rng=np.random.default_rng(0),
                label=f"live model (H={model.shape[1]}, batch {len(y)})",
            )
        return GradCheckDone(toy, live)
    except Exception as exc:
        return GradCheckDone([], None, error=f"{type(exc).__name__}: {exc}")
