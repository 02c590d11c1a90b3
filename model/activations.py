"""Hidden-layer activations, each with its local derivative next to it.

Every derivative is written in terms of the activation's *output* ``h`` (not its
input ``z``): ``sigmoid' = h (1 - h)``, ``tanh' = 1 - h^2``, ``relu' = [h > 0]``.
That is what the backward pass needs, and it lets the experiments feed a
different ``h`` into the backward pass than the forward pass produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


def _sigmoid(z: Array, out: Array | None = None) -> Array:
    # 1 / (1 + exp(-z)) without overflow warnings: exp of a non-positive number only.
    pos = z >= 0  # before ``out`` (which may alias z) is overwritten
    out = np.negative(np.abs(z), out=out)
    np.exp(out, out=out)  # e = exp(-|z|) in (0, 1]
    num = np.where(pos, 1.0, out).astype(out.dtype, copy=False)
    out += 1.0
    np.divide(num, out, out=out)
    return out


def _sigmoid_grad(h: Array, out: Array | None = None) -> Array:
    out = np.subtract(1.0, h, out=out)
    out *= h
    return out


def _tanh(z: Array, out: Array | None = None) -> Array:
    return np.tanh(z, out=out)


def _tanh_grad(h: Array, out: Array | None = None) -> Array:
    out = np.multiply(h, h, out=out)
    np.subtract(1.0, out, out=out)
    return out


def _relu(z: Array, out: Array | None = None) -> Array:
    return np.maximum(z, 0.0, out=out)


def _relu_grad(h: Array, out: Array | None = None) -> Array:
    if out is None:
        return (h > 0).astype(h.dtype)
    np.greater(h, 0.0, out=out)  # writes 0.0 / 1.0 into a float buffer
    return out


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity ``h = f(z)`` and its derivative ``f'(z)`` as a function of ``h``."""

    name: str
    forward: Callable[..., Array]
    grad_from_output: Callable[..., Array]
    init_gain: float  # scale for the initial W1 (He for relu, Xavier-like otherwise)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, _relu_grad, init_gain=2.0),
    "tanh": Activation("tanh", _tanh, _tanh_grad, init_gain=1.0),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_grad, init_gain=16.0),
}
DEFAULT_ACTIVATION = "relu"


def get_activation(name: str) -> Activation:
    """Look up an activation by name; ValueError lists the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        choices = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r} (choose from {choices})") from None
