"""Steps 1-4 of the check: the student's losses and gradients on toy nets, in the assignment's order.

1. ``loss_one`` against the reference on random toy nets (and on logits near 1000, which a stable
   softmax handles), so a wrong forward pass is caught before any gradient is judged.
2. ``grads_one`` against central differences of the student's *own* ``loss_one`` on the 10-5-2
   toy net, every entry, as ``assert_allclose`` with the tolerances stated in the report.
3. ``loss_batch`` against the reference, then ``grads_batch`` against central differences of the
   student's own ``loss_batch`` on a minibatch, every entry.
4. ``grads_batch`` against the student's ``grads_one`` averaged over the batch, for batches of 1, 3
   and 16 (the last on a 784-30-10 net with image-like inputs).

Each step returns a ``StepReport``; a function that is not written yet makes it "todo". The arrays
handed to the student are read-only views, so changing an input in place fails loudly. Training
(step 5) and speed (step 6) live in ``training`` and ``speed``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.exercise.diagnose import Invalid, Judgement, Observation, as_grads, judge, rel_error, type_name
from model.exercise.reference import F64, Params, Problem, image_like, toy
from model.exercise.report import Diagnosis, Mismatch, StepReport
from model.exercise.student import NotWritten, StudentCode, StudentError
from model.mlp import PARAM_NAMES

#: Central-difference step (float64): truncation ~eps^2, round-off ~1e-16 / eps, both far below the tolerances.
EPS = 1e-5
#: Step 1 and 3: a loss equals the reference to this (float64 arithmetic in another order differs by ~1e-15).
LOSS_RTOL, LOSS_ATOL = 1e-9, 1e-12
#: Steps 2 and 3: assert_allclose(yours, central differences of your loss, rtol, atol).
GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-8
#: Step 4: assert_allclose(grads_batch, mean of grads_one, rtol, atol): the same sums in another order.
BATCH_RTOL, BATCH_ATOL = 1e-7, 1e-12
TOY_SEEDS = (0, 1, 2)
TITLES = {
    1: "loss_one against the reference",
    2: "grads_one against finite differences",
    3: "loss_batch and grads_batch on a minibatch",
    4: "grads_batch against grads_one averaged",
    5: "train on MNIST with grads_batch",
    6: "speed of grads_batch",
}
Notify = Callable[[str], None]


def readonly(params: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """Read-only views of every array (the student's code must not change its inputs)."""
    views: dict[str, NDArray[Any]] = {}
    for name, value in params.items():
        view = value.view()
        view.flags.writeable = False
        views[name] = view
    return views


def frozen(a: NDArray[Any]) -> NDArray[Any]:
    """A read-only view of ``a``."""
    view = a.view()
    view.flags.writeable = False
    return view


def as_number(value: object, fn: str, batch: int | None = None) -> float:
    """The student's loss as a float; Invalid if it is not one number."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Invalid(Diagnosis("not-a-number", (fn,), f"{fn} returned {type_name(value)}, not a number")) from None
    if arr.size != 1:
        detail = f"{fn} returned {type_name(np.asarray(value))}, not one number"
        if batch is not None and arr.shape == (batch,):
            detail += f": the {batch} examples' losses; loss_batch is their mean"
        raise Invalid(Diagnosis("not-a-number", (fn,), detail))
    return float(arr.reshape(()))


def finite_differences(loss: Callable[[Params], float], params: Params, eps: float = EPS) -> Params:
    """Central differences (L(w + eps) - L(w - eps)) / 2 eps for every entry of every parameter (float64)."""
    work = {name: value.copy() for name, value in params.items()}
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    for name in PARAM_NAMES:
        w = work[name]
        for index in np.ndindex(w.shape):
            saved = w[index]
            w[index] = saved + eps
            plus = loss(_views(work))
            w[index] = saved - eps
            minus = loss(_views(work))
            w[index] = saved
            grads[name][index] = (plus - minus) / (2 * eps)
    return grads


def _views(params: Params) -> Params:
    """Read-only float64 views (for the finite differences' loss calls)."""
    return {name: frozen(value) for name, value in params.items()}


def fmt(x: float) -> str:
    """Short: 3.1e-11, 0.042, 1.5, inf."""
    if not np.isfinite(x):
        return "inf" if x > 0 else "nan"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.1e}"


def errors_line(max_rel: dict[str, float]) -> str:
    """'max relative error  W1 2e-11  b1 1e-11  W2 3e-12  b2 3e-12'."""
    return "max relative error  " + "  ".join(f"{n} {fmt(max_rel[n])}" for n in PARAM_NAMES)


def report(number: int, t0: float, judgement: Judgement | None = None, **fields: Any) -> StepReport:
    """A StepReport of step ``number`` with its time; a judgement fills verdict and diagnoses."""
    if judgement is not None:
        fields.setdefault("status", "pass" if judgement.passed else "fail")
        fields.setdefault("diagnoses", judgement.diagnoses)
        fields.setdefault("heatmap", judgement.heatmap)
        fields.setdefault("mismatches", judgement.mismatches)
    return StepReport(number, TITLES[number], seconds=time.perf_counter() - t0, **fields)


def guarded(number: int, body: Callable[[float], StepReport]) -> StepReport:
    """Run a step's body; a function not written, student code that raised or a return value that
    is not a gradient at all become the step's report."""
    t0 = time.perf_counter()
    try:
        return body(t0)
    except NotWritten as exc:
        return report(number, t0, status="todo", todo=exc.function, error=str(exc))
    except StudentError as exc:
        return report(number, t0, status="fail", error=str(exc))
    except Invalid as exc:
        return report(number, t0, status="fail", diagnoses=(exc.diagnosis,))


# ---- losses (steps 1 and 3) -----------------------------------------------------------------


def _loss_cases(activation: str, batch: int) -> list[tuple[str, Problem]]:
    """(label, problem) pairs: examples of three toy nets (batch 1 each) or their minibatches."""
    cases = []
    for s in TOY_SEEDS:
        problem = toy(activation, 4 if batch == 1 else batch, seed=s)
        if batch == 1:
            cases += [(f"net {s + 1} example {i + 1}", problem.example(i)) for i in range(problem.B)]
        else:
            cases.append((f"net {s + 1} batch of {batch}", problem))
    if batch > 1:
        cases.append(("net 1 batch of 1", toy(activation, 1, seed=0)))
    return cases


def student_loss(code: StudentCode, fn: str, problem: Problem) -> float:
    params = readonly(problem.params)
    if fn == "loss_one":
        return as_number(code.call(fn, params, frozen(problem.X[0]), int(problem.y[0])), fn)
    return as_number(code.call(fn, params, frozen(problem.X), frozen(problem.y)), fn, problem.B)


def check_loss(code: StudentCode, fn: str, number: int, t0: float) -> StepReport | None:
    """Steps 1 and 3a: ``fn`` (loss_one or loss_batch) against the reference; None if it passes."""
    batch = 1 if fn == "loss_one" else 8
    cases = _loss_cases(code.activation, batch)
    got = np.array([student_loss(code, fn, p) for _, p in cases])
    ref = np.array([p.loss() for _, p in cases])
    rel = rel_error(got, ref)
    tolerance = f"rtol {LOSS_RTOL:g}, atol {LOSS_ATOL:g}"
    what = f"{len(cases)} {'examples' if batch == 1 else 'minibatches'} of 3 random {code.activation} toy nets"
    lines = [f"{fn} vs the reference on {what}: max relative error {fmt(float(rel.max()))} ({tolerance})"]
    if np.allclose(got, ref, rtol=LOSS_RTOL, atol=LOSS_ATOL) and np.isfinite(got).all():
        probe = cases[0][1].shifted_logits()
        large = student_loss(code, fn, probe)
        lines.append(f"logits near 1000 (a shift softmax ignores): yours {fmt(large)}, reference {fmt(probe.loss())}")
        if np.isclose(large, probe.loss(), rtol=1e-6, atol=1e-9):
            return None
        detail = f"with every logit near 1000 your {fn} gives {fmt(large)} where the loss is {fmt(probe.loss())}"
        return report(
            number, t0, status="fail", lines=tuple(lines), diagnoses=(Diagnosis("softmax-overflow", (fn,), detail),)
        )
    diagnosis = _loss_diagnosis(code, fn, cases, got, ref)
    mismatches: tuple[Mismatch, ...] = ()
    if diagnosis is None:
        order = np.argsort(-np.where(np.isfinite(rel), rel, np.inf), kind="stable")[:5]
        mismatches = tuple(
            Mismatch("loss", (), float(got[i]), float(ref[i]), float(rel[i]), cases[i][0]) for i in order
        )
    diagnoses = () if diagnosis is None else (diagnosis,)
    return report(number, t0, status="fail", lines=tuple(lines), diagnoses=diagnoses, mismatches=mismatches)


def _loss_diagnosis(
    code: StudentCode, fn: str, cases: list[tuple[str, Problem]], got: F64, ref: F64
) -> Diagnosis | None:
    """Which mistake explains a wrong loss: not finite, the sign, the sum over the batch, another
    activation, or float32 arithmetic."""
    bad = ~np.isfinite(got)
    if bad.any():
        first = cases[int(np.argmax(bad))][0]
        return Diagnosis(
            "not-finite", (fn,), f"{fn} is NaN or infinite for {int(bad.sum())} of {len(got)} ({first} first)"
        )
    if np.allclose(got, -ref, rtol=1e-6):
        return Diagnosis("sign", (fn,), f"{fn} is the loss times -1: L = -log p_y is positive")
    sizes = np.array([p.B for _, p in cases], np.float64)
    if fn == "loss_batch" and np.allclose(got, ref * sizes, rtol=1e-6):
        return Diagnosis("factor-of-b", (fn,), "loss_batch is B times the loss: the sum over the batch, not the mean")
    for other in ("relu", "tanh", "sigmoid"):
        if other != code.activation:
            theirs = np.array([Problem(p.params, p.X, p.y, other).loss() for _, p in cases])
            if np.allclose(got, theirs, rtol=1e-6):
                return Diagnosis(
                    "wrong-activation",
                    (fn,),
                    f"{fn} equals the loss with {other}, but ACTIVATION is {code.activation!r}",
                )
    if np.allclose(got, ref, rtol=1e-5):
        worst = float(rel_error(got, ref).max())
        return Diagnosis(
            "precision", (fn,), f"{fn} agrees with the reference only to {fmt(worst)} (float32 arithmetic?)"
        )
    return None


# ---- steps --------------------------------------------------------------------------------------


def step1(code: StudentCode, notify: Notify | None = None) -> StepReport:
    """loss_one against the reference."""

    def body(t0: float) -> StepReport:
        failed = check_loss(code, "loss_one", 1, t0)
        if failed is not None:
            return failed
        lines = (
            f"loss_one agrees with the reference on 12 examples of 3 random {code.activation} toy nets "
            f"(rtol {LOSS_RTOL:g}) and on logits near 1000",
        )
        return report(1, t0, status="pass", lines=lines)

    return guarded(1, body)


def student_grads(code: StudentCode, fn: str, problem: Problem) -> dict[str, F64]:
    params = readonly(problem.params)
    if fn == "grads_one":
        value = code.call(fn, params, frozen(problem.X[0]), int(problem.y[0]))
    else:
        value = code.call(fn, params, frozen(problem.X), frozen(problem.y))
    return as_grads(value, fn)


def _overflow_probe(code: StudentCode, fn: str, problem: Problem) -> Diagnosis | None:
    """The gradient with every logit near 1000 (softmax ignores the shift): a softmax-overflow
    diagnosis if the student's is not finite or not what their own code gives without the shift."""
    got = student_grads(code, fn, problem.shifted_logits())
    want = student_grads(code, fn, problem)
    wrong = [
        n
        for n in PARAM_NAMES
        if got[n].shape != want[n].shape or not np.allclose(got[n], want[n], rtol=1e-5, atol=1e-8)
    ]
    if not wrong:
        return None
    nonfinite = [n for n in wrong if got[n].shape == want[n].shape and not np.isfinite(got[n]).all()]
    listed = ", ".join(f"d{n}" for n in (nonfinite or wrong))
    what = "NaN or infinite" if nonfinite else "different from the gradient without the shift"
    is_are = "is" if len(wrong) == 1 else "are"
    detail = f"with every logit near 1000 (a shift softmax ignores) your {listed} {is_are} {what}"
    return Diagnosis("softmax-overflow", tuple(nonfinite or wrong), detail)


def check_grads(
    code: StudentCode, fn: str, loss_fn: str, problem: Problem, number: int, t0: float, notify: Notify | None
) -> StepReport:
    """``fn`` against central differences of the student's own ``loss_fn``, every entry of every
    parameter (one example at a time for grads_one, the whole batch for grads_batch)."""
    cases = [problem.example(i) for i in range(problem.B)] if fn == "grads_one" else [problem]
    if notify is not None:
        notify(f"{fn} and central differences of your {loss_fn}")
    observations = []
    for i, case in enumerate(cases):
        got = student_grads(code, fn, case)
        numeric = finite_differences(partial(_loss_at, code, loss_fn, case), case.params)
        label = f"example {i + 1}" if len(cases) > 1 else ""
        observations.append(Observation(got, case, numeric, label))
    judgement = judge(fn, observations, GRAD_RTOL, GRAD_ATOL)
    n_entries = sum(v.size for v in problem.params.values())
    D, H, K = problem.shape
    on = f"{len(cases)} examples" if fn == "grads_one" else f"a batch of {problem.B}"
    lines = [
        f"{fn} vs central differences of your {loss_fn} (eps {EPS:g}), all {n_entries} entries of the "
        f"{D}-{H}-{K} {problem.activation} toy net, {on}",
        f"{errors_line(judgement.max_rel)}  (assert_allclose rtol {GRAD_RTOL:g}, atol {GRAD_ATOL:g})",
    ]
    if judgement.passed:
        overflow = _overflow_probe(code, fn, problem if fn == "grads_batch" else cases[0])
        lines.append("logits near 1000: " + ("the same gradient, finite" if overflow is None else "wrong"))
        if overflow is not None:
            return report(number, t0, status="fail", lines=tuple(lines), diagnoses=(overflow,))
    return report(number, t0, judgement, lines=tuple(lines))


def _loss_at(code: StudentCode, fn: str, problem: Problem, params: Params) -> float:
    """The student's loss ``fn`` on ``problem`` with ``params`` in place of its own."""
    return student_loss(code, fn, Problem(params, problem.X, problem.y, problem.activation))


def step2(code: StudentCode, notify: Notify | None = None) -> StepReport:
    """grads_one against central differences of the student's loss_one, three examples."""
    return guarded(2, lambda t0: check_grads(code, "grads_one", "loss_one", toy(code.activation, 3, 0), 2, t0, notify))


def step3(code: StudentCode, notify: Notify | None = None) -> StepReport:
    """loss_batch against the reference, then grads_batch against central differences of it."""

    def body(t0: float) -> StepReport:
        failed = check_loss(code, "loss_batch", 3, t0)
        if failed is not None:
            return failed
        done = check_grads(code, "grads_batch", "loss_batch", toy(code.activation, 8, 0), 3, t0, notify)
        first = f"loss_batch agrees with the reference on 4 minibatches (rtol {LOSS_RTOL:g}) and on logits near 1000"
        return dataclasses.replace(done, lines=(first, *done.lines))

    return guarded(3, body)


#: Step 4's batches: (batch size, seed, shape), the last with image-like inputs at training-like sizes.
STEP4_CASES = ((1, 3, (10, 5, 2)), (3, 4, (10, 5, 2)), (16, 5, (784, 30, 10)))


def step4(code: StudentCode, notify: Notify | None = None) -> StepReport:
    """grads_batch against grads_one averaged over the batch, for batches of 1, 3 and 16."""

    def body(t0: float) -> StepReport:
        observations = []
        for B, seed, shape in STEP4_CASES:
            problem = (
                toy(code.activation, B, seed, shape) if shape[0] < 100 else image_like(code.activation, B, seed, shape)
            )
            got = student_grads(code, "grads_batch", problem)
            ones = [student_grads(code, "grads_one", problem.example(i)) for i in range(B)]
            for g in ones:
                for n in PARAM_NAMES:
                    if g[n].shape != problem.params[n].shape:
                        raise StudentError(f"grads_one returned d{n} of shape {g[n].shape} on a {shape} net")
            mean = {n: np.mean([g[n] for g in ones], axis=0) for n in PARAM_NAMES}
            observations.append(Observation(got, problem, mean, f"batch of {B}"))
        judgement = judge("grads_batch", observations, BATCH_RTOL, BATCH_ATOL)
        lines = (
            "grads_batch vs your grads_one averaged over the batch: batches of 1 and 3 on the 10-5-2 toy net, "
            "16 image-like examples on a 784-30-10 net",
            f"{errors_line(judgement.max_rel)}  (assert_allclose rtol {BATCH_RTOL:g}, atol {BATCH_ATOL:g})",
        )
        return report(4, t0, judgement, lines=lines)

    return guarded(4, body)
