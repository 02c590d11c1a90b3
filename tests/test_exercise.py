"""The exercise check in this process: every step on a correct backprop.py, and one wrong file per
common mistake, each diagnosed with the right name. The child processes, time limits and the
command line are in test_exercise_check.py."""

from __future__ import annotations

import dataclasses
import os
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from exercise_code import WRONG, Wrong, solution, write
from numpy.testing import assert_allclose

from model.data import MNIST
from model.exercise import MISTAKES, LoadError, NotWritten, StudentError, read_source, starter_text, write_starter
from model.exercise.diagnose import Observation, judge
from model.exercise.heatmap import AGREES, heat_map
from model.exercise.reference import STRUCTURAL, Problem, toy
from model.exercise.speed import step6
from model.exercise.starter import StarterError
from model.exercise.steps import GRAD_ATOL, GRAD_RTOL, finite_differences, step1, step2, step3, step4
from model.exercise.student import MAX_SOURCE_BYTES, StudentCode, load_student
from model.exercise.training import StudentGradients, step5
from model.mlp import MLP, PARAM_NAMES

STEPS = {1: step1, 2: step2, 3: step3, 4: step4}


def load(tmp_path: Path, text: str, name: str = "backprop.py") -> StudentCode:
    return load_student(read_source(write(tmp_path, text, name)))


# ---- a correct implementation -------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_a_correct_backprop_passes_the_toy_steps(tmp_path: Path, activation: str) -> None:
    code = load(tmp_path, solution(activation))
    for number, step in STEPS.items():
        report = step(code)
        assert report.status == "pass", (number, report)
        assert report.lines and not report.diagnoses and report.heatmap is None


def test_step2_states_its_tolerances_and_its_numbers(tmp_path: Path) -> None:
    report = step2(load(tmp_path, solution()))
    text = "\n".join(report.lines)
    assert f"rtol {GRAD_RTOL:g}, atol {GRAD_ATOL:g}" in text
    assert "all 67 entries of the 10-5-2 relu toy net" in text
    assert "max relative error  W1" in text


def _reference_loss(problem: Problem, params: dict[str, np.ndarray]) -> float:
    return Problem(params, problem.X, problem.y, problem.activation).loss()


def test_the_reference_agrees_with_central_differences_on_every_toy_net() -> None:
    # the toy nets have no ReLU kink within eps of any pre-activation, so differencing is exact there
    for activation in ("relu", "tanh", "sigmoid"):
        for batch in (1, 3, 8):
            problem = toy(activation, batch, 0)

            numeric = finite_differences(partial(_reference_loss, problem), problem.params)
            exact = problem.gradients()
            for name in PARAM_NAMES:
                assert_allclose(exact[name], numeric[name], rtol=GRAD_RTOL, atol=GRAD_ATOL)


# ---- one wrong file per mistake ----------------------------------------------------------------


@pytest.mark.parametrize("wrong", WRONG, ids=[w.name for w in WRONG])
def test_each_mistake_is_caught_at_its_step_and_named(tmp_path: Path, wrong: Wrong) -> None:
    code = load(tmp_path, wrong.source())
    for number in range(1, wrong.step):
        if number == 2 and wrong.step == 3:
            continue  # grads_one is not what the minibatch mistakes touch
        assert STEPS[number](code).status == "pass", number
    report = STEPS[wrong.step](code)
    assert report.status == "fail"
    names = [d.mistake for d in report.diagnoses]
    assert wrong.mistake in names, (names, report)
    assert all(d.mistake in MISTAKES and d.detail and d.advice for d in report.diagnoses)


def test_a_mistake_in_grads_one_leaves_the_minibatch_step_alone(tmp_path: Path) -> None:
    code = load(tmp_path, Wrong("sign", (("d2 = p - t", "d2 = t - p"),), 2, "sign").source())
    assert step3(code).status == "pass"


def test_the_diagnosis_names_the_parameters_and_the_batch_size(tmp_path: Path) -> None:
    wrong = next(w for w in WRONG if w.name == "sum, not mean")
    (diagnosis,) = step3(load(tmp_path, wrong.source())).diagnoses
    assert diagnosis.params == ("W1", "b1", "W2", "b2")
    assert "B times the gradient (B = 8)" in diagnosis.detail
    wrong = next(w for w in WRONG if w.name == "missing act'")
    (diagnosis,) = step2(load(tmp_path, wrong.source())).diagnoses
    assert diagnosis.params == ("W1", "b1")  # dW2 and db2 do not go through act'


def test_two_mistakes_at_once_are_both_named(tmp_path: Path) -> None:
    wrong = Wrong("sign and sum", (("D2 = (P - T) / B", "D2 = T - P"),), 3, "sign")
    names = {d.mistake for d in step3(load(tmp_path, wrong.source())).diagnoses}
    assert names == {"sign", "factor-of-b"}


def test_transposed_and_a_factor_of_b_together(tmp_path: Path) -> None:
    wrong = Wrong("both", (('"W1": D1.T @ X', '"W1": B * X.T @ D1'),), 3, "transposed")
    names = {d.mistake for d in step3(load(tmp_path, wrong.source())).diagnoses}
    assert names == {"transposed", "factor-of-b"}


def test_what_no_mistake_explains_gets_a_heat_map_and_the_largest_mismatches(tmp_path: Path) -> None:
    # one hidden unit's delta is off by 30%: no common mistake does that
    wrong = Wrong("odd", (("d1 = dh * act_grad(h)", "d1 = dh * act_grad(h)\n    d1[1] *= 1.3"),), 2, "")
    report = step2(load(tmp_path, wrong.source(), "odd.py"))
    assert report.status == "fail" and not report.diagnoses
    assert report.heatmap is not None and report.heatmap.param in ("W1", "b1")
    grid = [line for line in report.heatmap.lines if line[:1].isdigit()]
    rows = {int(line.split()[0]): line.split()[1] for line in grid if len(line.split()) == 2}
    assert set(rows[1]) == {"█"}  # unit 1's row disagrees everywhere...
    assert all(set(cells) == {"·"} for r, cells in rows.items() if r != 1)  # ...and only it
    assert report.mismatches and {m.index[0] for m in report.mismatches} == {1}
    assert all(m.rel_error > 0.1 and m.case.startswith("example") for m in report.mismatches)


def test_step2_judges_against_the_students_own_loss(tmp_path: Path) -> None:
    # A loss and a gradient that are both twice the true ones agree with each other: step 2 (which
    # differences *their* loss_one, as the assignment does) passes, though neither is the reference.
    doubled = solution().replace(
        "return float(np.log(np.exp(z2).sum()) - z2[y])", "return 2 * float(np.log(np.exp(z2).sum()) - z2[y])"
    )
    doubled = doubled.replace("d2 = p - t", "d2 = 2 * (p - t)")
    code = load(tmp_path, doubled)
    assert step1(code).status == "fail"  # the loss itself is not the reference's
    assert step2(code).status == "pass"
    # the true gradient against a doubled loss: it does not match that loss's differences
    only_loss = solution().replace(
        "return float(np.log(np.exp(z2).sum()) - z2[y])", "return 2 * float(np.log(np.exp(z2).sum()) - z2[y])"
    )
    assert step2(load(tmp_path, only_loss, "only_loss.py")).status == "fail"


# ---- what the student's code does wrong besides the math -------------------------------------------


def test_an_exception_is_one_line_naming_the_students_file_and_line(tmp_path: Path) -> None:
    text = solution().replace('dh = params["W2"].T @ d2', 'dh = params["W2"] @ d2')
    report = step2(load(tmp_path, text))
    line = next(i for i, t in enumerate(text.splitlines(), 1) if 'dh = params["W2"] @ d2' in t)
    assert report.status == "fail"
    assert report.error.startswith(f"{tmp_path / 'backprop.py'}:{line} in grads_one: ValueError: matmul")
    assert "\n" not in report.error


def test_changing_an_input_in_place_fails_with_a_hint(tmp_path: Path) -> None:
    text = solution().replace("    d1 = dh * act_grad(h)\n", "    d1 = dh * act_grad(h)\n    x *= 1\n")
    report = step2(load(tmp_path, text))
    assert report.status == "fail" and "read-only" in report.error and "in place" in report.error


def test_a_wrong_shape_that_does_not_broadcast(tmp_path: Path) -> None:
    text = solution().replace('"W2": np.outer(d2, h)', '"W2": np.outer(d2, h).ravel()')
    (diagnosis,) = step2(load(tmp_path, text)).diagnoses
    assert diagnosis.mistake == "wrong-shape" and diagnosis.params == ("W2",)
    assert "(10,)" in diagnosis.detail and "(2, 5) = (K, H)" in diagnosis.detail


def test_functions_not_written_yet_stop_at_the_first(tmp_path: Path) -> None:
    code = load(tmp_path, starter_text())
    report = step1(code)
    assert report.status == "todo" and report.todo == "loss_one"
    assert "write it next" in report.error
    half = solution().replace("def grads_batch(", "def _unused(")
    report = step3(load(tmp_path, half, "half.py"))
    assert report.status == "todo" and report.todo == "grads_batch"


# ---- speed (step 6) and training (step 5) -----------------------------------------------------------


@pytest.fixture
def quick_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 6 times the fewest runs (the tests look at what it finds, not at the times)."""
    monkeypatch.setattr("model.exercise.speed.TIME_BUDGET", 0.0)


@pytest.fixture
def small_mnist(tiny_mnist: MNIST) -> MNIST:
    """500 training images of the synthetic set: step 5's three epochs in a few dozen steps."""
    return dataclasses.replace(tiny_mnist, train_x=tiny_mnist.train_x[:500], train_y=tiny_mnist.train_y[:500])


@pytest.mark.usefixtures("quick_timing")
def test_a_python_loop_over_examples_is_named(tmp_path: Path) -> None:
    looped = solution().replace(
        "    B = X.shape[0]\n",
        "    B = X.shape[0]\n    gs = [grads_one(params, X[i], y[i]) for i in range(B)]\n"
        "    return {k: sum(g[k] for g in gs) / B for k in gs[0]}\n",
    )
    report = step6(load(tmp_path, looped))
    assert report.status == "fail"
    (diagnosis,) = report.diagnoses
    assert diagnosis.mistake == "loop" and "a loop over examples" in diagnosis.detail
    assert report.figures["ratio"] > 0


@pytest.mark.usefixtures("quick_timing")
def test_vectorised_code_has_no_loop(tmp_path: Path) -> None:
    report = step6(load(tmp_path, solution()))
    assert not report.diagnoses
    assert "14 for a batch of 4, 14 for 8" in report.lines[1]


@pytest.mark.slow  # three epochs with evaluations: over 2 s on a loaded machine
def test_training_with_the_students_gradient(tmp_path: Path, small_mnist: MNIST) -> None:
    report = step5(load(tmp_path, solution()), None, data=small_mnist)
    assert report.status in ("pass", "fail") and not report.error
    assert 0 <= report.figures["test_error"] < 0.5  # the synthetic digits are learnable
    assert report.figures["angle_W1"] < 1 and report.figures["angle_W2"] < 1  # float32 rounding only


def test_training_stops_when_the_gradient_is_not_finite(tmp_path: Path, small_mnist: MNIST) -> None:
    text = solution().replace("D2 = (P - T) / B", "D2 = (P - T) / (B - B)")
    report = step5(load(tmp_path, text), None, data=small_mnist)
    assert report.status == "fail" and "diverged" in report.error


def test_a_gradient_of_the_wrong_shape_stops_a_training_step() -> None:
    model = MLP(20, 8, 10, dtype=np.float32)
    rule = StudentGradients(lambda p, X, y: {"W1": np.zeros((8, 20)), "b1": np.zeros((4, 8)), "W2": 0, "b2": 0})
    X, y = np.zeros((4, 20), np.float32), np.zeros(4, np.int64)
    with pytest.raises(StudentError, match=r"db1 is \(4, 8\) = \(B, H\).*not summed"):
        rule.loss_and_grads(model, X, y, np.random.default_rng(0))


# ---- the judge and the heat map ------------------------------------------------------------------


@pytest.mark.parametrize("mistake", [m for m in STRUCTURAL if m != "exact"])
def test_each_structural_prediction_is_recognised(mistake: str) -> None:
    problem = toy("tanh", 8, 1)
    got = problem.gradients(mistake)
    judgement = judge("grads_batch", [Observation(got, problem, problem.gradients())], 1e-5, 1e-8)
    assert not judgement.passed
    expected = {"act-grad-at-h": "act-grad-point", "act-grad-on-z": "act-grad-point", "labels-broadcast": "broadcast"}
    assert [d.mistake for d in judgement.diagnoses] == [expected.get(mistake, mistake)]


def test_a_constant_factor_that_is_not_b() -> None:
    problem = toy("relu", 8, 1)
    got = {n: 0.5 * g if n == "W2" else g for n, g in problem.gradients().items()}
    (diagnosis,) = judge("grads_batch", [Observation(got, problem, problem.gradients())], 1e-5, 1e-8).diagnoses
    assert diagnosis.mistake == "constant-factor" and "0.5 times" in diagnosis.detail


def test_heat_map_cells_and_legend() -> None:
    rel = np.array([[0.0, 1e-4, 5e-3], [0.05, 0.5, np.nan]])
    hm = heat_map("W1", rel, tolerance=1e-5)
    assert hm.lines[0].split() == ["0", "1", "2"]
    assert hm.lines[1] == f"0 {AGREES}░░▒▒"
    assert hm.lines[2] == "1 ▓▓██!!"
    assert "within tolerance" in hm.lines[-1]


def test_a_large_heat_map_keeps_its_worst_rows_and_columns() -> None:
    rel = np.zeros((30, 784))
    rel[7, 500] = 1.0
    hm = heat_map("W1", rel, tolerance=1e-5)
    assert any(line.startswith(" 7 ") and "██" in line for line in hm.lines)
    assert "the worst 16 rows and 24 columns of 30 by 784" in hm.lines[-1]
    assert [line[3 + 2 * sorted([*range(23), 500]).index(500)] for line in hm.lines[:3]] == ["5", "0", "0"]


# ---- reading and loading the file ----------------------------------------------------------------


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    cases = {
        "missing": (tmp_path / "nope.py", "no such file"),
        "folder": (tmp_path, "is a directory"),
    }
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    cases["fifo"] = (fifo, "a FIFO")
    big = write(tmp_path, "#" * (MAX_SOURCE_BYTES + 1), "big.py")
    cases["big"] = (big, "larger than")
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    cases["binary"] = (binary, "not UTF-8")
    for name, (path, words) in cases.items():
        with pytest.raises(LoadError, match=words) as info:
            read_source(path)
        assert "\n" not in str(info.value), name


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("def f(:\n", r"backprop.py:1:7: SyntaxError"),
        ("import numpy\nACTIVATION = 'relu'\nundefined_name()\n", r"backprop.py:3 in <module>: NameError"),
        ("x = 1\n", "ACTIVATION is missing"),
        ("ACTIVATION = 'softplus'\n", "ACTIVATION is 'softplus'; set it to one of"),
        ("ACTIVATION = 'relu'\nraise SystemExit(3)\n", "SystemExit"),
    ],
)
def test_files_that_cannot_be_loaded(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(LoadError, match=words):
        load(tmp_path, text)


def test_a_model_py_beside_the_file_does_not_shadow_the_product(tmp_path: Path) -> None:
    write(tmp_path, "raise ImportError('the student model.py was imported')\n", "model.py")
    write(tmp_path, "VALUE = 41\n", "helpers.py")
    text = solution().replace(
        "import numpy as np\n", "import numpy as np\nimport helpers\nfrom model.mlp import softmax as _s\n"
    )
    saved = list(sys.path)
    try:
        code = load_student(read_source(write(tmp_path, text)), allow_siblings=True)
        assert code.module.helpers.VALUE == 41  # a module beside it imports, as with `python backprop.py`
        assert sys.path.index(str(tmp_path)) == len(sys.path) - 1  # appended: after the product
        assert step1(code).status == "pass"
    finally:
        sys.path[:] = saved
        sys.modules.pop("helpers", None)
    assert "backprop" not in sys.modules and "model" in sys.modules


def test_the_students_module_is_private_and_not_main(tmp_path: Path) -> None:
    code = load(tmp_path, solution() + "\nif __name__ == '__main__':\n    raise SystemExit('ran as main')\n")
    assert code.module.__name__.startswith("_mnist_tui_student_")
    assert code.module.__file__ == str((tmp_path / "backprop.py").resolve())


# ---- the starter --------------------------------------------------------------------------------------


def test_the_starter_states_the_contract_and_implements_nothing(tmp_path: Path) -> None:
    text = starter_text()
    for line in (
        'ACTIVATION = "relu"  # or "tanh" / "sigmoid"',
        "def loss_one(params: Params, x: Array, y: int) -> float:",
        "def grads_one(params: Params, x: Array, y: int) -> dict[str, Array]:",
        "def loss_batch(params: Params, X: Array, y: NDArray[np.integer]) -> float:",
        "def grads_batch(params: Params, X: Array, y: NDArray[np.integer]) -> dict[str, Array]:",
        "h  = act(z1)",
        "p  = softmax(z2)",
        "L  = -log p_y",
        "W1: (H, D)",
        "mnist-tui exercise check backprop.py",
    ):
        assert line in text, line
    code = load(tmp_path, text)
    for name in ("loss_one", "grads_one", "loss_batch", "grads_batch"):
        with pytest.raises(NotWritten, match="NotImplementedError"):
            code.call(name, {}, np.zeros(1), 0)


def test_write_starter_creates_the_folder_and_keeps_an_existing_file(tmp_path: Path) -> None:
    path = write_starter(tmp_path / "hw" / "one")
    assert path == tmp_path / "hw" / "one" / "backprop.py" and path.read_text() == starter_text()
    path.write_text("mine")
    with pytest.raises(StarterError, match="exists already"):
        write_starter(tmp_path / "hw" / "one")
    assert path.read_text() == "mine"
    write_starter(tmp_path / "hw" / "one", force=True)
    assert path.read_text() == starter_text()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StarterError, match="is not a folder"):
        write_starter(tmp_path / "file")
