"""``mnist-tui challenges``: every challenge with its story, goal and limits, whether it is solved
and the best result so far (from the progress file in the user data folder).

``--json`` prints one object per challenge instead. An unreadable progress file is one warning
line on stderr; the list still prints (as unsolved).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from tui.cli.common import warn
from tui.view.challenge import goal_line, result_text

if TYPE_CHECKING:
    from model.challenges import Challenge, Progress
    from tui.cli.common import Subcommands

NAME = "challenges"
SOLVED_MARK = "✓"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="list the challenges: story, goal, solved or not, best result so far",
        description=(
            "List the challenges: simplified versions of real training problems, each started in the broken "
            "state. Play one in the app with mnist-tui challenge NAME, or headless with mnist-tui train "
            "--challenge NAME [flags] (exit 0 when solved, 1 when not)."
        ),
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    return p


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from model.challenges import CHALLENGES, progress_file, read_progress

    out = out or sys.stdout
    progress, note = read_progress(progress_file())
    if note:
        warn(note)
    for challenge in CHALLENGES.values():
        p = progress.get(challenge.name)
        if args.json:
            print(json.dumps(as_json(challenge, p)), file=out)
        else:
            print(*lines(challenge, p), sep="\n", file=out)
    if not args.json:
        solved = sum(1 for p in progress.values() if p.solved)
        print(f"\n{solved} of {len(CHALLENGES)} solved · play one: mnist-tui challenge NAME", file=out)
    return 0


def lines(challenge: Challenge, p: Progress | None) -> list[str]:
    """Two lines: the mark, name, title and story; then the goal and the result so far."""
    mark = SOLVED_MARK if p is not None and p.solved else " "
    return [
        f"{mark} {challenge.name:<13} {challenge.title}: {challenge.story}",
        f"  {'':<13} goal: {goal_line(challenge)} · {result_text(p)}",
    ]


def as_json(challenge: Challenge, p: Progress | None) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "name": challenge.name,
        "title": challenge.title,
        "story": challenge.story,
        "goal": goal_line(challenge),
        "solved": bool(p and p.solved),
        "progress": asdict(p) if p is not None else None,
    }
