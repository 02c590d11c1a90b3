"""Judge a student's gradient and, when it is wrong, name the mistake that explains the numbers.

``judge`` compares the student's gradients with a target (central differences of their own loss,
or their grads_one averaged) the way ``numpy.testing.assert_allclose`` does. When a parameter
fails, each common mistake is a hypothesis with a prediction (``reference.Problem.gradients``:
act' left out or at the wrong point, one class only, the label broadcast; times -1, B or 1/B;
transposed, not summed over the batch, broadcast to another shape), and a hypothesis explains a
parameter when the student's numbers equal its prediction to rounding. Parameters no hypothesis
explains get the fallback: a heat map of the worst one's relative errors and the largest
mismatches with their indices. Leaves out calling the student's code (``steps``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from model.exercise.heatmap import heat_map
from model.exercise.reference import F64, STRUCTURAL, Params, Problem
from model.exercise.report import Diagnosis, HeatMap, Mismatch
from model.gradcheck import relative_error
from model.mlp import PARAM_NAMES

#: What each parameter's axes are, for messages: W1 (H, D), b1 (H,), W2 (K, H), b2 (K,).
DIMS = {"W1": ("H", "D"), "b1": ("H",), "W2": ("K", "H"), "b2": ("K",)}
#: A prediction explains the student's numbers when they agree to this (rounding, not a mistake).
MATCH_RTOL, MATCH_ATOL = 1e-5, 1e-7
#: How many of the largest mismatches are listed.
N_MISMATCHES = 5
#: The order diagnoses are listed in: what the shape says first, then what the values say.
ORDER = (
    "not-dict",
    "not-a-number",
    "transposed",
    "bias-not-summed",
    "broadcast",
    "wrong-shape",
    "not-finite",
    "sign",
    "factor-of-b",
    "constant-factor",
    "missing-act-grad",
    "act-grad-point",
    "one-class",
)


class Invalid(Exception):
    """The returned value cannot be read as a gradient at all; carries the diagnosis."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.detail)
        self.diagnosis = diagnosis


def rel_error(got: F64, want: F64) -> NDArray[np.float64]:
    """|got - want| / max(|got| + |want|, floor), entry by entry (``model.gradcheck.relative_error``)."""
    return relative_error(np.asarray(got, np.float64), np.asarray(want, np.float64))


def type_name(value: object) -> str:
    """'a tuple', 'None', 'an ndarray of shape (3,)'."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def as_grads(value: object, fn: str) -> dict[str, F64]:
    """The student's return value as float64 arrays by parameter name (shapes unchecked).
    Invalid if it is not a dict holding W1, b1, W2 and b2 as arrays of numbers."""
    if not isinstance(value, Mapping):
        detail = f"{fn} returned {type_name(value)}, not a dict"
        raise Invalid(Diagnosis("not-dict", (), detail))
    missing = [n for n in PARAM_NAMES if n not in value]
    if missing:
        keys = ", ".join(repr(k) for k in list(value)[:8]) or "none"
        raise Invalid(
            Diagnosis("not-dict", tuple(missing), f"{fn}'s dict has no {', '.join(missing)} (its keys: {keys})")
        )
    grads: dict[str, F64] = {}
    for name in PARAM_NAMES:
        try:
            grads[name] = np.asarray(value[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise Invalid(
                Diagnosis(
                    "not-a-number", (name,), f"{fn}'s {name} is {type_name(value[name])}, not an array of numbers"
                )
            ) from None
    return grads


def dims_text(name: str, shape: tuple[int, ...]) -> str:
    """'(5, 10) = (H, D)' for W1 of the toy net."""
    return f"{shape} = ({', '.join(DIMS[name])}{',' if len(shape) == 1 else ''})"


@dataclass(frozen=True)
class ShapeIssue:
    """A gradient whose shape is not its parameter's: which mistake, the evidence, and how to read
    its values in the parameter's shape (None: they cannot be)."""

    mistake: str
    detail: str
    fix: Callable[[F64], F64] | None


def shape_issue(name: str, got: tuple[int, ...], want: tuple[int, ...], B: int) -> ShapeIssue | None:
    """What a returned shape ``got`` says about the gradient of ``name`` (shape ``want``) on a batch of B."""
    if got == want:
        return None
    if len(want) == 2 and got == want[::-1]:
        flipped = f"({', '.join(DIMS[name][::-1])})"
        detail = f"d{name} is {got} = {flipped}; {name} is {dims_text(name, want)}: the product is the wrong way round"
        return ShapeIssue("transposed", detail, lambda v: v.T)
    if len(want) == 1 and B > 1 and got == (B, want[0]):
        detail = f"d{name} is {got} = (B, {DIMS[name][0]}): one row per example, not summed over the batch"
        return ShapeIssue("bias-not-summed", detail, lambda v: v.sum(axis=0))
    same_size = int(np.prod(got)) == int(np.prod(want))
    try:
        spread = np.broadcast_shapes(got, want)
    except ValueError:
        detail = f"d{name} is {got}; it must be {name}'s shape {dims_text(name, want)}"
        return ShapeIssue("wrong-shape", detail, (lambda v: v.reshape(want)) if same_size else None)
    if spread == want:
        what = f"numpy would add it to every entry of {name} in an update W -= lr dW, without an error"
    else:
        what = f"numpy would broadcast it with {name} {want} to a {spread} array, without an error"
    detail = f"d{name} is {got}, not {want}: {what}"
    return ShapeIssue("broadcast", detail, (lambda v: v.reshape(want)) if same_size else None)


@dataclass(frozen=True)
class Observation:
    """One call's result: the student's gradient (``as_grads``), the problem it was computed on, and
    the target the verdict compares it with (same shapes as the parameters)."""

    got: dict[str, F64]
    problem: Problem
    target: Params
    label: str = ""  # e.g. "example 2" (named in the mismatches when there are several)


@dataclass(frozen=True)
class Judgement:
    """The verdict on a set of observations, the largest relative error per parameter (inf for a
    wrong shape or a non-finite value) and, when it failed, why."""

    passed: bool
    max_rel: dict[str, float]
    diagnoses: tuple[Diagnosis, ...] = ()
    heatmap: HeatMap | None = None
    mismatches: tuple[Mismatch, ...] = ()


@dataclass(frozen=True)
class _Explanation:
    """Values equal to sign * B**power * (the gradient with ``structural``'s mistake), or to ``scale``
    times the true gradient (a constant factor)."""

    structural: str
    sign: float
    power: int
    mistakes: tuple[str, ...]
    transposed_values: bool = False
    scale: float = 1.0

    def factor(self, B: int) -> float:
        return self.scale * self.sign * float(B) ** self.power


def judge(fn: str, observations: Sequence[Observation], rtol: float, atol: float) -> Judgement:
    """Compare every observation's gradient with its target (``|got - target| <= atol + rtol |target|``
    entry by entry, as ``assert_allclose``); when any entry fails, diagnose."""
    issues, fixes = _shape_issues(observations)
    shaped = [n for n in PARAM_NAMES if n not in issues]
    not_finite = [n for n in shaped if any(not np.isfinite(o.got[n]).all() for o in observations)]
    max_rel = dict.fromkeys(PARAM_NAMES, float("inf"))
    failing: list[str] = []
    for name in shaped:
        if name in not_finite:
            continue
        max_rel[name] = max(float(rel_error(o.got[name], o.target[name]).max(initial=0.0)) for o in observations)
        if any(not _close(o.got[name], o.target[name], rtol, atol) for o in observations):
            failing.append(name)
    if not issues and not not_finite and not failing:
        return Judgement(True, max_rel)

    diagnoses = [Diagnosis(i.mistake, (n,), i.detail) for n, i in issues.items()]
    if not_finite:
        diagnoses.append(_not_finite(not_finite, observations))
    explained: dict[str, _Explanation] = {}
    for name in failing:
        found = explain(name, [o.got[name] for o in observations], observations)
        if found is not None:
            explained[name] = found
    for name, values in fixes.items():  # a wrong shape may hide a mistake in the values too
        found = explain(name, values, observations)
        if found is not None and found.mistakes:
            explained[name] = found
    batches = sorted({o.problem.B for o in observations})
    diagnoses += _grouped(explained, observations[0].problem.activation, batches)
    unexplained = [n for n in failing if n not in explained]
    heat: HeatMap | None = None
    mismatches: tuple[Mismatch, ...] = ()
    if unexplained:
        heat, mismatches = _fallback(unexplained, observations, max_rel, rtol, atol)
    ranked = sorted(diagnoses, key=lambda d: ORDER.index(d.mistake) if d.mistake in ORDER else len(ORDER))
    return Judgement(False, max_rel, tuple(ranked), heat, mismatches)


def _shape_issues(observations: Sequence[Observation]) -> tuple[dict[str, ShapeIssue], dict[str, list[F64]]]:
    """Per parameter whose returned shape is wrong: what the largest batch's shape says, and (when
    every observation's values can be read in the parameter's shape) those values."""
    issues: dict[str, ShapeIssue] = {}
    fixes: dict[str, list[F64]] = {}
    for name in PARAM_NAMES:
        found = [shape_issue(name, o.got[name].shape, o.problem.params[name].shape, o.problem.B) for o in observations]
        if all(issue is None for issue in found):
            continue
        largest = max(range(len(found)), key=lambda i: (found[i] is not None, observations[i].problem.B))
        issue = found[largest]
        assert issue is not None
        issues[name] = issue
        if all(i is None or i.fix is not None for i in found):
            fixes[name] = [
                o.got[name] if i is None or i.fix is None else i.fix(o.got[name])
                for o, i in zip(observations, found, strict=True)
            ]
    return issues, fixes


def _close(got: F64, target: F64, rtol: float, atol: float) -> bool:
    return bool(np.all(np.abs(got - target) <= atol + rtol * np.abs(target)))


def _matches(values: Sequence[F64], predictions: Sequence[F64]) -> bool:
    for v, p in zip(values, predictions, strict=True):
        if v.shape != p.shape:
            return False
        scale = max(float(np.abs(p).max(initial=0.0)), 1e-12)
        if not np.allclose(v, p, rtol=MATCH_RTOL, atol=MATCH_ATOL * scale):
            return False
    return True


#: Scale factors a mistake can put on a gradient: (sign, power of the batch size B, mistakes).
SCALES: tuple[tuple[float, int, tuple[str, ...]], ...] = (
    (1.0, 0, ()),
    (-1.0, 0, ("sign",)),
    (1.0, 1, ("factor-of-b",)),
    (1.0, -1, ("factor-of-b",)),
    (-1.0, 1, ("sign", "factor-of-b")),
    (-1.0, -1, ("sign", "factor-of-b")),
)


def explain(name: str, values: Sequence[F64], observations: Sequence[Observation]) -> _Explanation | None:
    """The simplest set of mistakes whose prediction equals ``values`` (one array per observation,
    in the parameter's shape), or None. (exact, scale 1) means the values are right."""
    problems = [o.problem for o in observations]
    batches = [p.B for p in problems]
    predictions = {s: [p.gradients(s)[name] for p in problems] for s in STRUCTURAL}
    exact = predictions["exact"]
    candidates: list[_Explanation] = []
    for structural in STRUCTURAL:
        own = () if structural == "exact" else (structural,)
        for sign, power, scaled in SCALES:
            if power and max(batches) == 1:
                continue  # B = 1: no factor of B to find
            candidates.append(_Explanation(structural, sign, power, own + scaled))
            if exact[0].ndim == 2:
                candidates.append(_Explanation(structural, sign, power, ("transposed", *own, *scaled), True))
    candidates.sort(key=lambda e: len(e.mistakes))  # the fewest mistakes that explain the numbers
    for cand in candidates:
        predicted = predictions[cand.structural]
        if cand.structural != "exact" and _matches(predicted, exact):
            continue  # this mistake does not change this parameter: it cannot be told apart here
        predicted = [cand.factor(B) * p for p, B in zip(predicted, batches, strict=True)]
        if cand.transposed_values:
            predicted = [p.T.reshape(p.shape) for p in predicted]
        if _matches(values, predicted):
            return cand
    # a constant factor other than +-1, B, 1/B (least squares over every observation)
    flat_v = np.concatenate([v.ravel() for v in values])
    flat_e = np.concatenate([e.ravel() for e in exact])
    denom = float(flat_e @ flat_e)
    if denom > 0:
        c = float(flat_v @ flat_e) / denom
        if abs(c) > 1e-6 and abs(abs(c) - 1) > 1e-3 and _matches(values, [c * e for e in exact]):
            return _Explanation("exact", 1.0, 0, ("constant-factor",), scale=c)
    return None


def _not_finite(names: list[str], observations: Sequence[Observation]) -> Diagnosis:
    parts = []
    for name in names:
        for obs in observations:
            bad = ~np.isfinite(obs.got[name])
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                parts.append(f"d{name} has {int(bad.sum())} NaN/inf entries of {bad.size} (first at {list(first)})")
                break
    return Diagnosis("not-finite", tuple(names), "; ".join(parts) + " on an ordinary toy net")


_ACT_AT_H = {
    "tanh": "1 - tanh(h)^2 where 1 - h^2 is meant (tanh applied twice)",
    "sigmoid": "sigmoid(h) (1 - sigmoid(h)) where h (1 - h) is meant (sigmoid applied twice)",
}
_ACT_ON_Z = {
    "tanh": "1 - z1^2 where 1 - h^2 = 1 - tanh(z1)^2 is meant (the h form fed z1)",
    "sigmoid": "z1 (1 - z1) where h (1 - h) is meant (the h form fed z1)",
}


def _grouped(explained: dict[str, _Explanation], act: str, batches: list[int]) -> list[Diagnosis]:
    """One diagnosis per mistake, naming every parameter it explains."""
    by_mistake: dict[str, list[str]] = {}
    for name, e in explained.items():
        for mistake in e.mistakes:
            key = "act-grad-point" if mistake in ("act-grad-at-h", "act-grad-on-z") else mistake
            key = "broadcast" if key == "labels-broadcast" else key
            if name not in by_mistake.setdefault(key, []):
                by_mistake[key].append(name)
    sizes = ", ".join(str(B) for B in batches if B > 1)
    out = []
    for key, names in by_mistake.items():
        listed = ", ".join(f"d{n}" for n in names)
        is_are = "is" if len(names) == 1 else "are"
        if key == "sign":
            detail = f"{listed} {is_are} the gradient times -1 (it points uphill)"
        elif key == "factor-of-b":
            powers = sorted({explained[n].power for n in names})
            times = " or ".join("B times" if p > 0 else "1/B of" for p in powers)
            how = "summed over the batch instead of averaged" if powers[-1] > 0 else "averaged twice"
            detail = f"{listed} {is_are} {times} the gradient (B = {sizes}): {how}"
        elif key == "constant-factor":
            detail = f"{listed} {is_are} {abs(explained[names[0]].scale):.4g} times the gradient"
        elif key == "missing-act-grad":
            detail = f"{listed} equal backprop without act'(z1): W2^T delta2 goes straight to z1"
        elif key == "act-grad-point":
            formula = _ACT_AT_H if any("act-grad-at-h" in explained[n].mistakes for n in names) else _ACT_ON_Z
            detail = f"{listed} equal backprop with act' taken at the wrong point: {formula.get(act, act)}"
        elif key == "one-class":
            detail = f"{listed} equal backprop with dL/dz2 kept only at the label's class (p_y - 1), 0 elsewhere"
        elif key == "broadcast":
            detail = f"{listed} equal backprop with dL/dz2 = p - y: the label number subtracted from every class"
        elif key == "transposed":
            have = "has" if len(names) == 1 else "have"
            detail = f"{listed} {have} the right shape but the values of the transpose, reshaped instead of transposed"
        else:
            continue
        out.append(Diagnosis(key, tuple(names), detail))
    return out


def _fallback(
    names: list[str], observations: Sequence[Observation], max_rel: dict[str, float], rtol: float, atol: float
) -> tuple[HeatMap, tuple[Mismatch, ...]]:
    """The heat map of the worst unexplained parameter, and the largest mismatches of all of them."""
    worst = max(names, key=lambda n: max_rel[n])
    rels = [rel_error(o.got[worst], o.target[worst]) for o in observations]
    at = int(np.argmax([r.max(initial=0.0) for r in rels]))  # the call where it is furthest off
    rel, tolerance = rels[at], _entry_tolerance(observations[at].target[worst], rtol, atol)
    found: list[tuple[float, Mismatch]] = []
    for name in names:
        for obs in observations:
            diff = np.abs(obs.got[name] - obs.target[name])
            rel_all = rel_error(obs.got[name], obs.target[name])
            for flat in np.argsort(-diff, axis=None, kind="stable")[:N_MISMATCHES]:
                index = tuple(int(i) for i in np.unravel_index(int(flat), diff.shape))
                got, expected = float(obs.got[name][index]), float(obs.target[name][index])
                if abs(got - expected) > atol + rtol * abs(expected):
                    found.append(
                        (float(diff[index]), Mismatch(name, index, got, expected, float(rel_all[index]), obs.label))
                    )
    found.sort(key=lambda item: -item[0])
    return heat_map(worst, rel, tolerance), tuple(m for _, m in found[:N_MISMATCHES])


def _entry_tolerance(target: F64, rtol: float, atol: float) -> float:
    """The relative error below which a typical entry passes (for the heat map's 'agrees' cell)."""
    scale = float(np.abs(target).max(initial=0.0))
    return rtol + (atol / scale if scale > 0 else 0.0)
