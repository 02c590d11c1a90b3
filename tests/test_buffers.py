"""Scratch buffers reused across steps: reallocated only when shape or dtype change."""

from __future__ import annotations

import numpy as np

from model.buffers import Buffers
from model.mlp import MLP


def test_get_reuses_until_shape_or_dtype_change() -> None:
    buf = Buffers()
    a = buf.get("h", (4, 3), np.float32)
    assert buf.get("h", (4, 3), np.float32) is a
    assert buf.get("h", (5, 3), np.float32) is not a
    b = buf.get("h", (5, 3), np.float32)
    assert buf.get("h", (5, 3), np.float64) is not b and buf.get("h", (5, 3), np.float64).dtype == np.float64


def test_like_keeps_layout_and_keys() -> None:
    buf = Buffers()
    templates = {"W": np.asfortranarray(np.zeros((3, 4), np.float32)), "b": np.zeros(3, np.float32)}
    first = buf.like(templates, prefix="d")
    assert set(first) == {"W", "b"} and first["W"].flags.f_contiguous and first["W"].dtype == np.float32
    again = buf.like(templates, prefix="d")
    assert all(again[k] is first[k] for k in templates)
    grown = buf.like({"W": np.zeros((3, 5), np.float32), "b": templates["b"]}, prefix="d")
    assert grown["W"].shape == (3, 5) and grown["b"] is first["b"]


def test_model_step_buffers_are_reused_and_follow_the_batch_size() -> None:
    model = MLP(6, 5, 10, "relu", np.random.default_rng(0))
    work = model.workspace(8)
    assert model.workspace(8)["h"] is work["h"] and model.workspace(4)["h"].shape == (4, 5)
    grads = model.grad_buffers()
    assert model.grad_buffers()["W1"] is grads["W1"] and grads["W1"].flags.f_contiguous  # W1's layout
    assert model.copy().grad_buffers()["W1"] is not grads["W1"]  # a copy owns its own scratch
