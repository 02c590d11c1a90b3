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
from collections.abc import Callable, Iterable, Mapping
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
    skipped: int = 0  # entries left out because w +- eps crosses a ReLU kink


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
            "checked": {p.name: p.checked for p in self.params},
            "skipped_at_kinks": sum(p.skipped for p in self.params),
        }


def relative_error(
    analytic: NDArray[np.float64], numeric: NDArray[np.float64], floor: float = _FLOOR
) -> NDArray[np.float64]:
    """Elementwise |a - n| / max(|a| + |n|, floor)."""
    rel: NDArray[np.float64] = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return rel


def roundoff_floor(loss: float, eps: float = EPS) -> float:
    """Denominator floor for gradients too small to resolve by differencing this loss.

    A float64 difference of losses near ``loss`` carries round-off ~2e-16 |loss| / eps
    (~1e-12 on real MNIST); entries below 1e5 times that are compared absolutely.
    """
    return max(_FLOOR, 1e5 * np.finfo(np.float64).eps * max(abs(loss), 1e-3) / eps)


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
    entries: Mapping[str, Iterable[tuple[int, ...]]],
    floor: float = _FLOOR,
) -> list[ParamCheck]:
    results = []
    for name in PARAM_NAMES:
        idx = list(entries[name])
        a = np.array([analytic[name][i] for i in idx], np.float64)
        n = np.array([numerical_gradient(model, X, y, name, i) for i in idx], np.float64)
        rel = relative_error(a, n, floor)
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
    _, _, analytic = model.loss_and_grads(X, y)
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
    gradient: Callable[[MLP, NDArray[np.float64], NDArray[np.integer]], Grads] | None = None,
) -> CheckReport:
    """``n_samples`` random entries, spread over the parameters in proportion to their size.

    Works on a float64 copy of ``model`` (the live weights are never touched). ``gradient``
    (model64, X64, y) -> grads is what is checked; default: the model's own backprop.
    X: (B, D), y: (B,). For ReLU, an entry whose +-eps nudge moves some pre-activation
    across 0 is skipped and counted: the loss has a kink there, so the central
    difference is wrong by design, not because backprop is.
    """
    t0 = time.perf_counter()
    rng = rng if rng is not None else np.random.default_rng(0)
    model64 = model.astype(np.float64)
    X64 = np.asarray(X, np.float64)
    if gradient is None:
        loss, _, analytic = model64.loss_and_grads(X64, y)
    else:
        loss, analytic = model64.loss(X64, y), gradient(model64, X64, y)
    sizes = np.array([model64.params[n].size for n in PARAM_NAMES], np.float64)
    counts = np.maximum(1, np.round(n_samples * sizes / sizes.sum())).astype(int)
    kinks = _kink_finder(model64, X64)
    entries: dict[str, list[tuple[int, ...]]] = {}
    skipped: dict[str, int] = {}
    for name, count in zip(PARAM_NAMES, counts, strict=True):
        shape = model64.params[name].shape
        flat = rng.choice(int(np.prod(shape)), size=min(int(count), int(np.prod(shape))), replace=False)
        chosen = [tuple(int(i) for i in np.unravel_index(int(f), shape)) for f in flat]
        entries[name] = [e for e in chosen if not kinks(name, e)]
        skipped[name] = len(chosen) - len(entries[name])
    params = [
        ParamCheck(p.name, p.shape, p.checked, p.max_rel_error, p.max_abs_error, skipped[p.name])
        for p in _compare(model64, X64, y, analytic, entries, roundoff_floor(loss))
    ]
    return CheckReport(label or "sampled", tuple(params), threshold, time.perf_counter() - t0)


def _kink_finder(model: MLP, X: NDArray[np.float64], eps: float = EPS) -> Callable[[str, tuple[int, ...]], bool]:
    """A predicate: does nudging this entry by +-eps move a ReLU pre-activation across 0?"""
    if model.act.name != "relu":
        return lambda name, index: False
    Z1 = X @ model.W1.T + model.b1  # (B, H)
    absZ1, absX = np.abs(Z1), np.abs(X)

    def crosses(name: str, index: tuple[int, ...]) -> bool:
        if name == "W1":  # z1[:, j] moves by eps * x[:, i]
            j, i = index
            return bool((absZ1[:, j] <= eps * absX[:, i] * 1.01).any())
        if name == "b1":
            return bool((absZ1[:, index[0]] <= eps * 1.01).any())
        return False  # W2, b2 do not move z1

    return crosses


def toy_suite(activations: Iterable[str] = ("relu", "tanh", "sigmoid"), batch: int = 8) -> list[CheckReport]:
    """The assignment's checks: for each activation, one example and a minibatch, every entry."""
    reports = []
    for act in activations:
        model, X, y = toy_problem(act, batch)
        reports.append(check_single_example(model, X[0], int(y[0]), label=f"{act} single example"))
        reports.append(check_full(model, X, y, label=f"{act} minibatch of {batch}"))
    return reports
