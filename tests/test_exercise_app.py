"""``mnist-tui --backprop FILE``: the app trains with the student's grads_batch, checks it, reloads it.

Pilot tests press the real keys against a live worker on the tiny synthetic data; each starts the
child process that runs the student's code."""
# The running app's optional parts (app.main, app.student) are read directly: a None fails the test.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import io
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import notices, wait_for
from exercise_code import solution, write
from rich.console import Console
from textual.app import App
from textual.widgets import Static

from model.config import HyperParams
from model.exercise import Sandbox, StudentError, read_source
from model.exercise.check import CheckResult
from model.exercise.rule import StudentRule
from model.mlp import MLP
from tui.app import MnistApp
from tui.cli import main
from tui.screens.exercise import ExerciseScreen
from tui.session.config import AppConfig
from tui.session.student import StudentSession
from tui.view.exercise import check_text

pytestmark = pytest.mark.slow  # every test starts a child process for the student's code

SIZE = (120, 40)
HP = HyperParams(hidden=16, batch_size=16, epochs=10_000, lr=0.05)
MISSING_ACT = ('D1 = (D2 @ params["W2"]) * act_grad(H)', 'D1 = D2 @ params["W2"]')


@pytest.fixture(autouse=True)
def _fast(fast_pilot: None) -> None:
    """Every test here drives a training app."""


def student_app(tmp_path: Path, tiny: Any, text: str, running: bool = True) -> MnistApp:
    path = write(tmp_path, text)
    student = StudentSession.open(str(path), HP.hidden, HP.batch_size, str(tmp_path / "prints.txt"))
    return MnistApp(AppConfig(HP, start_paused=not running), student, data=tiny)


def plain(renderable: Any) -> str:
    """What ``renderable`` shows, as text."""
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(renderable)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return text


def angles(app: MnistApp) -> dict[str, float]:
    return dict(app.main.status.status.angles)


async def test_the_students_gradient_trains_and_its_angle_is_shown(tmp_path: Path, tiny_mnist: Any) -> None:
    app = student_app(tmp_path, tiny_mnist, solution())
    async with app.run_test(size=SIZE) as pilot:
        main = app.main
        await wait_for(pilot, lambda: "W1" in angles(app), timeout=60, what="an angle measured")
        assert main.status.status.variant == "yours (backprop.py)"
        assert main.charts.angles_shown
        assert angles(app)["W1"] < 1.0 and angles(app)["W2"] < 1.0  # the true gradient, to float32 rounding
        assert app.sub_title == f"your backprop: {tmp_path / 'backprop.py'}"
        for name in ("activation", "variant", "dropout", "input_dropout"):
            assert not main.controls.query_one(f"#row-{name}").display
        # the startup check arrives as a notice
        await wait_for(pilot, lambda: app.student.result is not None, timeout=60, what="the first check")
        assert app.student.result.passed


async def test_a_wrong_gradient_is_seen_on_the_angle_chart_and_a_reload_fixes_it(
    tmp_path: Path, tiny_mnist: Any
) -> None:
    old, new = MISSING_ACT
    app = student_app(tmp_path, tiny_mnist, solution().replace(old, new))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: angles(app).get("W1", 0) > 10, timeout=60, what="a large angle")
        assert angles(app)["W2"] < 1  # dW2 does not go through act'
        await wait_for(pilot, lambda: app.student.result is not None, timeout=60, what="the first check")
        (failed,) = [r for r in app.student.result.reports if r.status == "fail"]
        assert failed.number == 3 and failed.diagnoses[0].mistake == "missing-act-grad"

        write(tmp_path, solution())  # the student fixes the file and presses u, then r (new weights:
        await pilot.press("u")  # the old ones and their momentum came from the wrong gradient)
        await wait_for(pilot, lambda: app.student.result.passed, timeout=60, what="the reload's check")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.main.status.status.step < 50, timeout=60, what="the reset")
        if app.bridge.paused:  # (a run that diverged on the old weights stays paused through the reset)
            await pilot.press("space")
        await wait_for(pilot, lambda: angles(app).get("W1", 90) < 1, timeout=60, what="the angle back to 0")
        assert app.student.source.text == solution()
        assert app.main.gradcheck.state in ("idle", "stale")


async def test_a_reload_that_cannot_train_is_refused(tmp_path: Path, tiny_mnist: Any) -> None:
    app = student_app(tmp_path, tiny_mnist, solution(), running=False)
    said = notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.student.result is not None, timeout=60, what="the first check")
        write(tmp_path, solution().replace("    B = X.shape[0]\n", "    B = X.shape[0]\n    X = X.reshape(16, 784)\n"))
        await pilot.press("u")
        refused = lambda: any("not reloaded" in n.message for n in said)  # noqa: E731
        await wait_for(pilot, refused, timeout=60, what="the refusal")
        text = next(n.message for n in said if "not reloaded" in n.message)
        assert "backprop.py:" in text and "in grads_batch: ValueError" in text and "batch of 1" in text
        assert app.student.source.text == solution()  # the loaded version trains on


async def test_b_shows_the_check_and_its_diagnosis(tmp_path: Path, tiny_mnist: Any) -> None:
    old, new = MISSING_ACT
    app = student_app(tmp_path, tiny_mnist, solution().replace(old, new), running=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen), what="the check screen")
        screen = app.screen
        assert isinstance(screen, ExerciseScreen)
        await wait_for(pilot, lambda: screen.result is not None and not screen.checking, timeout=60, what="result")
        body = plain(screen.query_one("#exercise-body", Static).content)
        assert "the activation's derivative is missing (W1, b1)" in body
        assert "FAIL" in body and "prints.txt" in body
        # the check ran in a child of its own, which is gone; the one training stays
        training = app.student.rule._box.pid
        await wait_for(pilot, lambda: [p.pid for p in multiprocessing.active_children()] == [training], what="reaped")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back")


async def test_an_exception_in_the_students_code_pauses_training_with_one_line(tmp_path: Path, tiny_mnist: Any) -> None:
    # fine for the check's batches, fails for the last batch of an epoch of the tiny data (2,000 % 16 = 0,
    # so make it fail after a few hundred calls instead)
    text = solution().replace(
        "def grads_batch(params, X, y):\n",
        "CALLS = [0]\n\n\ndef grads_batch(params, X, y):\n    CALLS[0] += 1\n"
        "    if CALLS[0] > 300:\n        raise ArithmeticError('the 301st call')\n",
    )
    app = student_app(tmp_path, tiny_mnist, text)
    said = notices(app)
    async with app.run_test(size=SIZE) as pilot:

        def told() -> list[str]:
            return [n.message for n in said if "ArithmeticError" in n.message]

        await wait_for(pilot, told, timeout=60, what="the notice")  # (the app handles notices after the screen)
        await wait_for(pilot, lambda: app.main.status.status.state == "paused", what="the pause")
        (line,) = told()
        assert line.startswith(f"{tmp_path / 'backprop.py'}:") and "in grads_batch" in line and "\n" not in line
        assert app.screen is app.main  # no error screen, no traceback


async def test_the_gradient_check_pane_checks_the_students_code(tmp_path: Path, tiny_mnist: Any) -> None:
    app = student_app(tmp_path, tiny_mnist, solution(), running=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await wait_for(pilot, lambda: app.main.gradcheck.state == "done", timeout=90, what="the check")
        labels = [r.label for r in app.main.gradcheck.reports]
        assert labels[0] == "your grads_one, relu toy net" and labels[1] == "your grads_batch, batch of 8"
        assert labels[2].startswith("your grads_batch, live model")
        assert all(r.passed for r in app.main.gradcheck.reports)


def test_a_hanging_grads_batch_is_stopped_while_training(tmp_path: Path) -> None:
    text = solution().replace(
        "def grads_batch(params, X, y):\n", "def grads_batch(params, X, y):\n    while True:\n        pass\n"
    )
    box = Sandbox(read_source(write(tmp_path, text)))
    box.start()
    rule = StudentRule(box, limit=1.0)
    model = MLP(784, 8, 10)
    X, y = np.zeros((4, 784), np.float32), np.arange(4)
    try:
        with pytest.raises(StudentError, match=r"backprop.py: grads_batch did not finish within 1 s: stopped it"):
            rule.loss_and_grads(model, X, y, np.random.default_rng(0))
        assert not box.alive
    finally:
        rule.close()


@pytest.mark.parametrize(
    ("text", "argv", "words"),
    [
        (None, [], "no such file"),
        ("starter", [], "grads_batch is not written yet"),
        ("solution", ["--activation", "tanh"], "ACTIVATION = 'relu': leave out the flag"),
        ("solution", ["--resume", "x.npz"], "leave out --resume"),
        ("reshape", [], "cannot reshape"),
    ],
)
def test_backprop_flag_refuses_what_cannot_train_before_the_screen_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, argv: list[str], words: str
) -> None:
    from model.exercise import starter_text

    sources = {
        "starter": starter_text(),
        "solution": solution(),
        "reshape": solution().replace("    B = X.shape[0]\n", "    B = X.shape[0]\n    X = X.reshape(64, 784)\n"),
    }
    path = tmp_path / "backprop.py"
    if text is not None:
        path.write_text(sources[text])
    assert main(["--backprop", str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_serve_refuses_backprop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, solution())
    assert main(["serve", "--port", "18401", "--backprop", str(path)]) == 2
    assert "--backprop is refused" in capsys.readouterr().err


async def test_a_result_that_arrives_while_the_check_screen_mounts_is_shown() -> None:
    """The check's result can come from the worker between the screen's compose and the end of its
    mounting (seen on a busy machine: the screen said "checking…" with the result already in)."""
    result = CheckResult("backprop.py", "relu")

    class ResultDuringMount(ExerciseScreen):
        def on_mount(self) -> None:  # runs before ExerciseScreen's own, while still mounting
            self.show(result, checking=False)

    screen = ResultDuringMount("backprop.py", None, True, None, lambda: None, lambda: None)
    async with App[None]().run_test() as pilot:
        await pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: pilot.app.screen is screen and screen.is_mounted, what="the check screen")
        body = plain(screen.query_one("#exercise-body", Static).content)
        assert "checking your backprop" not in body and plain(check_text(result)).strip() in body, body
