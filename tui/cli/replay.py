"""``mnist-tui replay ID``: re-run a recorded run headless with every recorded intervention and
check its final weights against the recorded checkpoint bit for bit (both sha256 printed). A run
that played a challenge is also judged again on the replay's own evaluations.
Exit 0 when identical (and the challenge's verdict is the record's), 1 when not."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from tui.cli.common import UserError, add_data_flag, add_runs_flag, load_data
from tui.cli.runs import ID_HELP

if TYPE_CHECKING:
    from model.challenges.replayed import ChallengeReplay
    from tui.cli.common import Subcommands

NAME = "replay"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="re-run a recorded run headless with its interventions; check the final weights bit for bit",
        description=(
            "Re-run a recorded run from its seed, applying every recorded intervention (hyperparameter "
            "changes, resets, loads) after the step it followed, and compare the final weights with the "
            "recorded checkpoint (sha256 of W1, b1, W2, b2). Where the replay departs from the record it "
            "says at which step and after which intervention. Exit 0 when identical, 1 otherwise."
        ),
    )
    p.add_argument("id", metavar="ID", help=ID_HELP)
    add_data_flag(p)
    add_runs_flag(p)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``replay`` subcommand; a RunsError (bad id, unreadable record) is one line, exit 2."""
    from model.data.validate import MAX_EXAMPLES
    from model.run.replay import replay, starting_state
    from model.runs import RunsError, data_tag, find_run, read_run, runs_dir
    from model.runs.bounds import check_replayable, recorded_threads, replay_threads
    from model.threads import set_blas_threads

    out = out or sys.stdout
    try:
        record = read_run(find_run(runs_dir(args.runs), args.id))
        check_replayable(record, MAX_EXAMPLES)  # before the data loads (again with its size in replay)
        starting_state(record)  # a start that is gone or changed: one line, before anything else
    except RunsError as exc:
        raise UserError(str(exc)) from None
    data = load_data(args.data)
    threads = set_blas_threads(replay_threads(record))  # float sums depend on how BLAS splits them: the run's count
    print(
        f"replaying {record.run_id} ({record.meta.get('source')}, seed {record.meta.get('seed')}, "
        f"{threads} BLAS thread{'s' * (threads != 1)})",
        file=out,
    )
    if threads < recorded_threads(record):  # capped as --threads is: more threads than CPUs only fight
        print(
            f"not reproducible: the run used {recorded_threads(record)} BLAS threads; "
            f"this machine has {threads} CPU{'s' * (threads != 1)}",
            file=out,
        )
    judged = None
    try:
        if record.meta.get("challenge"):  # also judge the challenge again on the replayed weights
            from model.challenges.replayed import replay_challenge

            judged = replay_challenge(record, data, data_tag=data_tag(data))
            result = judged.result
        else:
            result = replay(record, data, data_tag=data_tag(data))
    except RunsError as exc:
        raise UserError(str(exc)) from None
    for caveat in result.caveats:
        print(f"not reproducible: {caveat}", file=out)
    print(f"{result.steps:,} steps, {result.interventions} interventions applied", file=out)
    print(f"recorded final weights sha256 {result.recorded_hash or '(none)'}", file=out)
    print(f"replayed final weights sha256 {result.replayed_hash}", file=out)
    agrees = judged is None or _say_challenge(judged, out)
    if result.identical and agrees:
        print("identical: the replay reproduces the run bit for bit", file=out)
        return 0
    if result.identical:
        return 1
    if result.departed_at is not None:
        after = f" after {result.departed_after}" if result.departed_after else " (before any command)"
        print(f"departs at step {result.departed_at:,}{after}: its loss differs from the record", file=out)
    else:
        print("differs: every recorded loss matched but the final weights do not", file=out)
    _say_version(record.meta.get("version"), out)
    return 1


def _say_version(recorded: object, out: TextIO) -> None:
    """A record from another release: say so beside a departure, since releases may order float sums
    differently (0.2.0 fuses W1's momentum update into its gradient's product)."""
    from model.machine import package_version

    ours = package_version()
    if isinstance(recorded, str) and recorded != ours:
        print(
            f"the run was recorded by mnist-tui {recorded} and replayed by {ours}: another release may "
            "sum in another order, so its bits can differ from the start",
            file=out,
        )


def _say_challenge(judged: ChallengeReplay, out: TextIO) -> bool:
    """The challenge's verdict on the replay's own evaluations, against the record's; True if they agree."""
    from model.challenges.check import solved_text

    v = judged.tracker.verdict
    c = judged.tracker.challenge
    rec = judged.recorded
    if v.solved is not None:
        print(f"challenge {c.name}: solved again: {solved_text(c.goal, v.solved)}", file=out)
    else:
        print(f"challenge {c.name}: the replay does not solve it{f' ({v.broken})' if v.broken else ''}", file=out)
    if judged.agrees:
        print(f"as the record says ({'solved' if rec else 'not solved'})", file=out)
        return True
    said = f"solved at valid {rec.get('valid_error')}" if rec else "not solved"
    print(f"differs from the record, which says {said}", file=out)
    return False
