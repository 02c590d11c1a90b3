"""Every challenge on the real MNIST, headless through ``mnist-tui train --challenge``: its starting
settings do not solve it (exit 1) and its known solution does (exit 0), at seed 0.

Measured at seeds 0, 1 and 2 when the challenges were made (the table in ``docs/challenges.md``): no
start solved its challenge, every solution did, and each crossed its goal well inside its limits.
Each run stops at its solve, so a solution costs seconds to a minute; a start trains to its limit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.challenges import CHALLENGES, read_progress
from tui.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def flags(settings: dict[str, object]) -> list[str]:
    return [part for k, v in settings.items() for part in (f"--{k.replace('_', '-')}", str(v))]


@pytest.mark.parametrize("name", list(CHALLENGES))
@pytest.mark.parametrize("kind", ["start", "solution"])
def test_the_start_fails_and_the_solution_solves(
    name: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    progress = tmp_path / "challenges.json"
    monkeypatch.setenv("MNIST_TUI_CHALLENGES", str(progress))
    challenge = CHALLENGES[name]
    given = flags(dict(challenge.solution)) if kind == "solution" else []
    code = main(["train", "--challenge", name, "--seed", "0", "--json", *given])
    out = json.loads(capsys.readouterr().out)
    record = out["challenge"]
    assert record["challenge"] == name
    if kind == "start":
        assert code == 1 and record["solved"] is False, record
        assert out["best_valid_error"] >= challenge.goal.valid_below or challenge.goal.dead_below is not None
    else:
        assert code == 0 and record["solved"] is True, record
        assert record["valid_error"] < challenge.goal.valid_below
        assert record["changes"] == {k: v for k, v in challenge.solution.items()}
    assert read_progress(progress)[0][name].solved is (kind == "solution")
