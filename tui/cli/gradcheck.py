"""``mnist-tui gradcheck``: finite differences against backprop on the toy net, every entry of every
parameter, one example and a minibatch, each activation. Exit 0 only if every check passes."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from tui.exitcodes import INTERNAL, OK

if TYPE_CHECKING:
    from model.gradcheck import CheckReport
    from tui.cli.common import Subcommands

NAME = "gradcheck"


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="finite-difference check of backprop on the toy net (D=10, H=5, K=2)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from model.gradcheck import toy_suite

    reports = toy_suite()
    passed = all(r.passed for r in reports)
    if args.json:
        print(json.dumps({"passed": passed, "checks": [r.to_dict() for r in reports]}, indent=2))
    else:
        print_reports(reports)
    return OK if passed else INTERNAL  # a failing check means backprop has a bug


def print_reports(reports: list[CheckReport]) -> None:
    """One line per check: verdict, max relative error per parameter, time."""
    for r in reports:
        per = "  ".join(f"{p.name} {p.max_rel_error:.1e}" for p in r.params)
        verdict = "PASS" if r.passed else "FAIL"
        print(f"{verdict}  {r.label:28s} {per}  (< {r.threshold:.0e}, {r.seconds * 1000:.0f} ms)")
    n_pass = sum(r.passed for r in reports)
    print(f"{n_pass}/{len(reports)} checks passed")
