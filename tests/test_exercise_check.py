"""``mnist-tui exercise`` as a student meets it: the command, its exit statuses, the child process
that runs their code under a time limit, and the whole check on the real MNIST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from exercise_code import WRONG, solution, write

from model.exercise import Cancelled, LoadError, Sandbox, read_source, starter_text
from tui.cli import main

pytestmark = pytest.mark.slow  # every test starts a child process (a fresh Python with numpy)

FAIL = 1


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["exercise", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.integration
def test_a_correct_backprop_passes_every_step_and_trains_under_five_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, solution("relu"))
    code, out, err = check(capsys, str(path), "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["passed"] and [s["status"] for s in result["steps"]] == ["pass"] * 6
    training = result["steps"][4]
    assert training["figures"]["test_error"] < 0.05
    assert training["figures"]["angle_W1"] < 1.0  # the student's gradient is the true one, to float32 rounding


def test_the_text_report_of_a_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = next(w for w in WRONG if w.name == "missing act'")
    code, out, err = check(capsys, str(write(tmp_path, wrong.source())), "--steps", "1-4")
    assert code == FAIL and not err
    assert "2  grads_one against finite differences" in out and "FAIL" in out
    assert "✗ the activation's derivative is missing (W1, b1)" in out
    assert "hint: dL/dz1 = (W2^T delta2) * act'(z1)" in out
    assert "4  grads_batch against grads_one averaged" in out and "runs once step 2 passes" in out
    assert out.rstrip().endswith("FAIL 2 of 4 steps pass; fix step 2 first")


def test_the_starter_says_what_to_write_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, starter_text())
    code, out, _ = check(capsys, str(path))
    assert code == FAIL
    assert "NEXT write loss_one (step 1); steps 2, 3, 4, 5, 6 not run yet" in out
    code, out, _ = check(capsys, str(path), "--json")
    assert code == FAIL and json.loads(out)["next"] == "loss_one"


def test_exercise_new_writes_the_starter_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exercise", "new", str(tmp_path / "hw")]) == 0
    assert (tmp_path / "hw" / "backprop.py").read_text() == starter_text()
    assert "mnist-tui exercise check" in capsys.readouterr().out
    assert main(["exercise", "new", str(tmp_path / "hw")]) == 2
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "no such file"),
        ("def f(:\n", "backprop.py:1:7: SyntaxError: invalid syntax"),
        ("ACTIVATION = 'relu'\nimport time\ntime.sleep(600)\n", "importing"),
        ("ACTIVATION = 'swish'\n", "ACTIVATION is 'swish'"),
    ],
)
def test_a_file_that_cannot_be_checked_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, words: str
) -> None:
    path = tmp_path / "backprop.py"
    if text is not None:
        path.write_text(text)
    code, out, err = check(capsys, str(path), "--time-limit", "3")
    assert code == 2 and out == ""
    assert err.startswith("mnist-tui: ") and words in err and err.count("\n") == 1


def test_a_hanging_function_is_stopped_and_the_other_steps_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = solution().replace("    d2 = p - t\n", "    while True:\n        pass\n")
    code, out, _ = check(capsys, str(write(tmp_path, text)), "--steps", "1-4", "--time-limit", "2")
    assert code == FAIL
    assert "TIME" in out and "grads_one did not finish within 2 s: stopped it" in out
    assert "3  loss_batch and grads_batch on a minibatch" in out.split("TIME")[1]  # a fresh child ran step 3


def test_a_student_ending_the_process_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = solution().replace("    d2 = p - t\n", "    import os\n    os._exit(3)\n")
    code, out, _ = check(capsys, str(write(tmp_path, text)), "--steps", "2")
    assert code == FAIL and "ended the process (exit status 3) during grads_one" in out


def test_a_model_py_beside_the_file_does_not_shadow_the_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "raise ImportError('the student model.py was imported')\n", "model.py")
    write(tmp_path, "def helper():\n    return 1\n", "helpers.py")
    text = solution().replace("import numpy as np\n", "import numpy as np\nimport helpers\n")
    code, out, err = check(capsys, str(write(tmp_path, text)), "--steps", "1-4")
    assert code == 0, out + err
    assert "PASS steps 1-4" in out


def test_the_sandbox_kills_a_child_past_its_limit_or_on_cancel(tmp_path: Path) -> None:
    text = solution().replace("    d2 = p - t\n", "    import time\n    time.sleep(600)\n")
    box = Sandbox(read_source(write(tmp_path, text)))
    try:
        assert box.start() == "relu"
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        with pytest.raises(Cancelled):
            box.request("step", 2, limit=600, cancel=cancel)
        assert not box.alive
        report = box.request("step", 1, limit=60)  # a new child for the next request
        assert report.status == "pass"
    finally:
        box.close()
    assert not box.alive


ORPHAN = """
import sys, threading
from model.exercise import Sandbox, read_source
if __name__ == "__main__":
    box = Sandbox(read_source(sys.argv[1]))
    box.start()
    threading.Thread(target=box.request, args=("step", 2), kwargs={"limit": 600}, daemon=True).start()
    print(box.pid, flush=True)
    sys.stdin.readline()  # killed here, with the child in the endless loop
"""


def test_a_child_stuck_in_the_students_loop_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    text = solution().replace("    d2 = p - t\n", "    while True:\n        pass\n")
    script = write(tmp_path, ORPHAN, "orphan.py")
    parent = subprocess.Popen(
        [sys.executable, str(script), str(write(tmp_path, text))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        time.sleep(0.5)  # the child is in grads_one's loop now
        assert _alive(child)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the child outlived its killed parent"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by init) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][:1] != "Z"


def test_a_load_error_in_the_child_is_a_load_error(tmp_path: Path) -> None:
    box = Sandbox(read_source(write(tmp_path, "ACTIVATION = 'relu'\n1 / 0\n")))
    with pytest.raises(LoadError, match=r"backprop.py:2 in <module>: ZeroDivisionError"):
        box.start()
    box.close()
