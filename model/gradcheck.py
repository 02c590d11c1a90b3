"""Finite-difference checks of the backward pass.

Central differences ``(L(w + eps) - L(w - eps)) / 2 eps`` in float64, compared
with backprop entry by entry. ``check_full`` visits every parameter entry (the toy
net of the assignment: D=10, H=5, K=2); ``check_sampled`` visits a few hundred
random entries of a full-size model, so it can run on the app's live weights (on
a copy). Relative error is ``|a - n| / max(|a| + |n|, floor)``; the floor keeps
entries whose true gradient is ~0 (dead ReLUs, saturated units) from dividing by 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from model.mlp import MLP, PARAM_NAMES, Grads, backprop_one_example

EPS = 1e-5
#: Max relative error a float64 check must stay under to pass.
THRESHOLD = 1e-6
_FLOOR = 1e-8


@dataclass(frozen=True)
class ParamCheck:
    """Result for one parameter array."""

    name: str
    shape: tuple[int, ...]
    checked: int  # entries compared
    max_rel_error: float
    max_abs_error: float


@dataclass(frozen=True)
class CheckReport:
    """A whole check: per-parameter results, verdict and timing."""

    label: str
    params: tuple[ParamCheck, ...]
    threshold: float
    seconds: float

    @property
    def max_rel_error(self) -> float:
        return max(p.max_rel_error for p in self.params)

    @property
    def passed(self) -> bool:
        return self.max_rel_error < self.threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "passed": self.passed,
            "threshold": self.threshold,
            "seconds": self.seconds,
            "max_rel_error": {p.name: p.max_rel_error for p in self.params},
        }


def relative_error(analytic: NDArray[np.float64], numeric: NDArray[np.float64]) -> NDArray[np.float64]:
    """Elementwise |a - n| / max(|a| + |n|, floor)."""
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), _FLOOR)


def numerical_gradient(
    model: MLP,
    X: NDArray[np.float64],
    y: NDArray[np.integer],
    name: str,
    index: tuple[int, ...],
    eps: float = EPS,
) -> float:
    """Central difference of the mean loss with respect to one entry ``params[name][index]``."""
    param = model.params[name]
    saved = param[index]
    param[index] = saved + eps
    loss_plus = model.loss(X, y)
    param[index] = saved - eps
    loss_minus = model.loss(X, y)
    param[index] = saved
    return (loss_plus - loss_minus) / (2 * eps)


def _compare(
    model: MLP,
    X: NDArray[np.float64],
    y: NDArray[np.integer],
    analytic: Grads,
    entries: dict[str, Iterable[tuple[int, ...]]],
) -> list[ParamCheck]:
    results = []
    for name in PARAM_NAMES:
        idx = list(entries[name])
        a = np.array([analytic[name][i] for i in idx], np.float64)
        n = np.array([numerical_gradient(model, X, y, name, i) for i in idx], np.float64)
        rel = relative_error(a, n)
        shape = model.params[name].shape
        results.append(
            ParamCheck(name, shape, len(idx), float(rel.max(initial=0.0)), float(np.abs(a - n).max(initial=0.0)))
        )
    return results


def toy_problem(
    activation: str, batch: int, seed: int = 0, shape: tuple[int, int, int] = (10, 5, 2)
) -> tuple[MLP, NDArray[np.float64], NDArray[np.int64]]:
    """The assignment's toy net (D=10, H=5, K=2) in float64 with random inputs and labels."""
    rng = np.random.default_rng(seed)
    D, H, K = shape
    model = MLP(D, H, K, activation, rng, dtype=np.float64)
    model.b1[:] = rng.standard_normal(H) * 0.1  # nonzero biases so their gradients are exercised
    model.b2[:] = rng.standard_normal(K) * 0.1
    X = rng.standard_normal((batch, D))
    y = rng.integers(0, K, batch)
    return model, X, y


def check_full(model: MLP, X: NDArray[np.float64], y: NDArray[np.integer], label: str = "") -> CheckReport:
    """Every parameter entry; minibatch backprop. X: (B, D) float64, y: (B,)."""
    t0 = time.perf_counter()
    _, analytic = model.loss_and_grads(X, y)
    entries = {name: list(np.ndindex(model.params[name].shape)) for name in PARAM_NAMES}
    params = _compare(model, X, y, analytic, entries)
    return CheckReport(label or "full", tuple(params), THRESHOLD, time.perf_counter() - t0)


def check_single_example(model: MLP, x: NDArray[np.float64], y: int, label: str = "") -> CheckReport:
    """Every parameter entry; the one-example vector form. x: (D,) float64."""
    t0 = time.perf_counter()
    analytic = backprop_one_example(model.params, model.act, x, y)
    entries = {name: list(np.ndindex(model.params[name].shape)) for name in PARAM_NAMES}
    params = _compare(model, x[None, :], np.array([y]), analytic, entries)
    return CheckReport(label or "single", tuple(params), THRESHOLD, time.perf_counter() - t0)


def check_sampled(
    model: MLP,
    X: NDArray[np.floating],
    y: NDArray[np.integer],
    n_samples: int = 300,
    rng: np.random.Generator | None = None,
    label: str = "",
    threshold: float = 1e-4,
) -> CheckReport:
    """``n_samples`` random entries, spread over the parameters in proportion to their size.

    Works on a float64 copy of ``model`` (the live weights are never touched).
    X: (B, D), y: (B,). The threshold is looser than the toy check's: ReLU kinks near
    some pre-activation make a few differences legitimately noisy on real data.
    """
    t0 = time.perf_counter()
    rng = rng if rng is not None else np.random.default_rng(0)
    model64 = model.astype(np.float64)
    X64 = np.asarray(X, np.float64)
    _, analytic = model64.loss_and_grads(X64, y)
    sizes = np.array([model64.params[n].size for n in PARAM_NAMES], np.float64)
    counts = np.maximum(1, np.round(n_samples * sizes / sizes.sum())).astype(int)
    entries = {}
    for name, count in zip(PARAM_NAMES, counts, strict=True):
        shape = model64.params[name].shape
        flat = rng.choice(int(np.prod(shape)), size=min(int(count), int(np.prod(shape))), replace=False)
        entries[name] = [np.unravel_index(int(i), shape) for i in flat]
    params = _compare(model64, X64, y, analytic, entries)
    return CheckReport(label or "sampled", tuple(params), threshold, time.perf_counter() - t0)


def toy_suite(activations: Iterable[str] = ("relu", "tanh", "sigmoid"), batch: int = 8) -> list[CheckReport]:
    """The assignment's checks: for each activation, one example and a minibatch, every entry."""
    reports = []
    for act in activations:
        model, X, y = toy_problem(act, batch)
        reports.append(check_single_example(model, X[0], int(y[0]), label=f"{act} single example"))
        reports.append(check_full(model, X, y, label=f"{act} minibatch of {batch}"))
    return reports
