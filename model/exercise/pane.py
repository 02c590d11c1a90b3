"""The app's gradient-check pane for the student's code: toy nets and the live weights.

The same table as for the project's own backprop (``model.gradcheck.CheckReport``): the
student's ``grads_one`` and ``grads_batch`` against central differences of their own
``loss_one`` / ``loss_batch`` on the 10-5-2 toy net, then their ``grads_batch`` on the live
weights (a float64 copy) against central differences of the true loss at a few hundred sampled
entries. Runs in the child process that holds the student's code. Leaves out the drawing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.exercise.diagnose import Invalid, as_grads, rel_error, shape_issue
from model.exercise.reference import Problem, toy
from model.exercise.steps import finite_differences, frozen, readonly, student_grads, student_loss
from model.exercise.student import NotWritten, StudentCode, StudentError
from model.gradcheck import THRESHOLD, CheckReport, ParamCheck, check_sampled
from model.mlp import MLP, PARAM_NAMES, Grads

LIVE_SAMPLES = 200
LIVE_THRESHOLD = 1e-4


def _toy_report(code: StudentCode, fn: str, loss_fn: str, problem: Problem, label: str) -> CheckReport:
    t0 = time.perf_counter()
    got = student_grads(code, fn, problem)
    numeric = finite_differences(
        lambda p: student_loss(code, loss_fn, Problem(p, problem.X, problem.y, problem.activation)), problem.params
    )
    checks = []
    for name in PARAM_NAMES:
        shape = problem.params[name].shape
        if got[name].shape != shape:
            checks.append(ParamCheck(name, shape, 0, float("inf"), float("inf")))
            continue
        rel = rel_error(got[name], numeric[name])
        worst = float(np.nan_to_num(rel, nan=np.inf).max())
        checks.append(ParamCheck(name, shape, rel.size, worst, float(np.abs(got[name] - numeric[name]).max())))
    return CheckReport(label, tuple(checks), THRESHOLD, time.perf_counter() - t0)


def toy_reports(code: StudentCode) -> tuple[list[CheckReport], str]:
    """grads_one (one example) and grads_batch (a batch of 8) against central differences of the
    student's own losses on the toy net; and a one-line note on what could not be checked."""
    reports, notes = [], []
    act = code.activation
    for fn, loss_fn, problem, label in (
        ("grads_one", "loss_one", toy(act, 3, 0).example(0), f"your grads_one, {act} toy net"),
        ("grads_batch", "loss_batch", toy(act, 8, 0), "your grads_batch, batch of 8"),
    ):
        try:
            reports.append(_toy_report(code, fn, loss_fn, problem, label))
        except NotWritten as exc:
            notes.append(f"{exc.function} is not written yet")
        except Invalid as exc:
            notes.append(exc.diagnosis.detail)
        except StudentError as exc:
            notes.append(str(exc))
    return reports, "; ".join(notes)


def live_report(code: StudentCode, params: dict[str, NDArray[Any]], X: NDArray[Any], y: NDArray[Any]) -> CheckReport:
    """The student's grads_batch on the live weights (float64) against central differences of the
    true loss at ``LIVE_SAMPLES`` sampled entries (``model.gradcheck.check_sampled``)."""
    H, D = params["W1"].shape
    model = MLP(D, H, params["W2"].shape[0], code.activation, dtype=np.float64)
    model.set_params(params)

    def student(m: MLP, X64: NDArray[np.float64], y_: NDArray[np.integer]) -> Grads:
        value = code.call("grads_batch", readonly(m.params), frozen(X64), frozen(y_))
        try:
            grads = as_grads(value, "grads_batch")
        except Invalid as exc:
            raise StudentError(exc.diagnosis.detail) from None
        for name in PARAM_NAMES:
            issue = shape_issue(name, grads[name].shape, m.params[name].shape, len(y_))
            if issue is not None:
                raise StudentError(issue.detail)
        return dict(grads)

    return check_sampled(
        model,
        X,
        y,
        n_samples=LIVE_SAMPLES,
        rng=np.random.default_rng(0),
        label=f"your grads_batch, live model (H={H}, batch {len(y)})",
        threshold=LIVE_THRESHOLD,
        gradient=student,
    )
