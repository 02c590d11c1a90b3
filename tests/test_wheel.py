"""The installed wheel is the product: build it, install it into a fresh venv, use it from elsewhere.

A user runs ``pip install .`` (or ``pipx install .``) and then ``mnist-tui`` from any folder, so
nothing here may lean on the checkout: the wheel is built from this tree, installed with its
dependencies into a new virtual environment, and every command runs from a temp folder with
``PYTHONPATH`` unset. The app runs in a real pseudo-terminal (``harness.terminal``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from harness.terminal import app_env, app_in_terminal, autosave

pytest.importorskip("pyte")
# Builds a wheel and a venv with every dependency (once: the module's tests stay on one xdist
# worker); the first test's timeout includes that, which took minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel"), pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
PANEL_TITLES = ("Status", "Controls", "Error %", "Misclassified", "finite differences")  # one per panel


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)])
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("mnist_tui-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies installed; returns its bin/."""
    root = tmp_path_factory.mktemp("venv")
    base_python = getattr(sys, "_base_executable", sys.executable)
    assert _run([base_python, "-m", "venv", str(root)]).returncode == 0
    done = _run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)])
    assert done.returncode == 0, done.stderr
    return root / "bin"


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory, tiny_npz: Path) -> Path:
    """A folder outside the checkout holding a small Keras-layout ``mnist.npz``."""
    folder = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(tiny_npz, folder / "mnist.npz")
    return folder


def _env(home: Path) -> dict[str, str]:
    """This environment less what points into the checkout, with the app's folders in ``home``."""
    return app_env(home, {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})


def test_wheel_holds_only_the_two_packages_and_what_they_read(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"model", "tui"}
    for asset in ("app.tcss", "panels.tcss", "pad.tcss", "backprop.md"):
        assert f"tui/assets/{asset}" in names
    assert "model/exercise/starter_backprop.py" in names  # what `exercise new` writes
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)


def test_installed_app_trains_shows_every_panel_and_quits(venv: Path, elsewhere: Path, tmp_path: Path) -> None:
    argv = [str(venv / "mnist-tui"), "--data", "mnist.npz", "--hidden", "16", "--batch-size", "16", "--epochs", "10000"]
    with app_in_terminal(argv, _env(tmp_path), cwd=elsewhere) as term:
        # "running" can come before the rest of the first frame: wait for all of it
        every_panel = term.wait_for(lambda s: "running" in s and all(t in s for t in PANEL_TITLES), 120.0)
        screen = term.text()
        assert every_panel is not None, f"{[t for t in PANEL_TITLES if t not in screen]} missing:\n{screen}"
        term.write("?")
        assert term.wait_for(lambda s: "Controls fields" in s, 60.0) is not None, term.text()
        assert term.close() == 0
    assert autosave(tmp_path).exists()  # the run's record keeps its final checkpoint


def test_installed_subcommands_work_from_another_folder(venv: Path, elsewhere: Path, tmp_path: Path) -> None:
    tool, env = str(venv / "mnist-tui"), _env(tmp_path)
    train = _run([tool, "train", "--data", "mnist.npz", "--epochs", "1", "--hidden", "16", "--json",
                  "--save", "run.npz"], cwd=elsewhere, env=env)  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert 0.0 <= json.loads(train.stdout)["test_error"] <= 1.0
    evaluated = _run([tool, "evaluate", "run.npz", "--data", "mnist.npz", "--json"], cwd=elsewhere, env=env)
    assert evaluated.returncode == 0 and "test_error" in json.loads(evaluated.stdout), evaluated.stderr
    gradcheck = _run([tool, "gradcheck", "--json"], cwd=elsewhere, env=env)
    assert gradcheck.returncode == 0 and json.loads(gradcheck.stdout)["passed"] is True
    fetched = _run([tool, "fetch", "--data", "mnist.npz"], cwd=elsewhere, env=env)
    assert fetched.returncode == 0 and "MNIST ok" in fetched.stdout, fetched.stderr
    new = _run([tool, "exercise", "new", "hw"], cwd=elsewhere, env=env)
    assert new.returncode == 0 and (elsewhere / "hw" / "backprop.py").is_file(), new.stderr
    checked = _run([tool, "exercise", "check", "hw/backprop.py", "--json"], cwd=elsewhere, env=env)
    assert checked.returncode == 1 and json.loads(checked.stdout)["next"] == "loss_one", checked.stderr
    for command in ("experiments", "bench"):
        shown = _run([tool, command, "--help"], cwd=elsewhere, env=env)
        assert shown.returncode == 0 and "usage: mnist-tui" in shown.stdout, shown.stderr
