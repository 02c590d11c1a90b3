"""The documentation keeps up with the product: every command and flag the parser has is on the
command-line page, every subcommand is in the README's table, and the typeset derivation has every
section of the plain-text one the app shows.

The hyperparameter flags need no check here: that page's table of them is made from
``model.config.SPECS`` when the site is built (``docs/hooks/site.py``). Every key is on the app's
page through the help screen's own text (``docs/pictures/help.txt``, kept current by
``tests/test_pictures.py``), and ``mkdocs build --strict`` in CI catches a broken link.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from model.config import SPECS
from tui.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
CLI_PAGE = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name (nested ones as "runs show")."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {inner}": p for inner, p in subparsers(sub).items()})
    return found


#: the hyperparameter flags: the page's table of them is generated from SPECS
GENERATED = {"--" + name.replace("_", "-") for name in SPECS}


def options(parser: argparse.ArgumentParser) -> set[str]:
    """The long options of ``parser`` a user sees (``--help``, hidden ones and generated ones left out)."""
    shown = (a for a in parser._actions if a.help != argparse.SUPPRESS)
    return {s for a in shown for s in a.option_strings if s.startswith("--") and s != "--help"} - GENERATED


PARSERS = {"": build_parser(), **subparsers(build_parser())}


@pytest.mark.parametrize("command", sorted(PARSERS), ids=lambda c: c or "app")
def test_every_command_and_flag_is_on_the_command_line_page(command: str) -> None:
    if command:
        assert f"mnist-tui {command}" in CLI_PAGE, f"docs/cli.md does not show `mnist-tui {command}`"
    missing = sorted(o for o in options(PARSERS[command]) if not re.search(re.escape(o) + r"(?![\w-])", CLI_PAGE))
    assert not missing, f"docs/cli.md does not mention {', '.join(missing)} of mnist-tui {command}".rstrip()


def test_the_readme_lists_every_subcommand() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = [c for c in PARSERS if c and " " not in c]
    assert [c for c in top if f"mnist-tui {c}" not in readme] == []


def test_the_typeset_derivation_has_every_section_of_the_plain_one() -> None:
    def sections(path: Path) -> list[str]:
        return re.findall(r"^## (.+)$", path.read_text(encoding="utf-8"), flags=re.M)

    assert sections(ROOT / "assets" / "backprop.md") == sections(ROOT / "docs" / "derivation.md")


def test_the_architecture_page_lists_the_import_layers_in_order() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    documented = [re.findall(r"`([\w.]+)`", row.split("|")[1]) for row in rows]
    layers = [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]
    assert [d for d in documented if d] == layers, "docs/architecture.md's layer table differs from pyproject.toml"
