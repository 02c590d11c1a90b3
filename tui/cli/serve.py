"""``mnist-tui serve``: the app in web browsers (textual-serve), one app process per tab.

The flags after the serve options are the apps' (checked here once, not in every session);
``--data`` and ``--resume`` must name files inside the server's root folder, and ``--runs`` is
not theirs (each session records its runs in its own folder). A bad port, a host that does not
resolve, a port in use or a root folder that cannot be written is one line and exit 2, before
anything says "serving on".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli import app
from tui.cli.common import (
    OneLineParser,
    UserError,
    challenge_hparams,
    check_tensorboard,
    find_challenge,
    positive,
    typed_path,
    warn,
)
from tui.exitcodes import OK

if TYPE_CHECKING:
    from tui.cli.common import Subcommands

NAME = "serve"
#: Hosts that only this machine can reach (any other gets a warning).
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub: Subcommands) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="serve the app to web browsers (textual-serve): one app per tab",
        description=(
            "Serve the interactive trainer to web browsers: each tab gets its own app process and its own "
            "folder under --root, the only place its save and load prompts can reach. Flags after the "
            "serve options go to every app (e.g. mnist-tui serve --port 8000 --hidden 100). What a browser "
            "cannot do: the terminal's own clipboard and window title; everything else, keys and mouse "
            "included, works as in a terminal."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port_number, default=8000, help="port, 1-65535 (default 8000)")
    p.add_argument("--max-sessions", type=positive("max-sessions"), default=3, help="apps running at once (default 3)")
    p.add_argument(
        "--root", metavar="DIR", type=typed_path, help="session folders go here (default: the user data folder)"
    )
    p.add_argument("--public-url", metavar="URL", help="the address browsers use, behind a proxy")
    return p


def run(args: argparse.Namespace) -> int:
    """Check the apps' flags once, then serve until stopped."""
    import platformdirs

    root = Path(args.root or Path(platformdirs.user_data_dir("mnist-tui", appauthor=False)) / "serve").resolve()
    try:
        flags = confined_app_flags(list(args.app_flags), root)
    except SystemExit as exc:  # a bad app flag: the parser has printed its one line
        return int(exc.code or 0)
    try:
        from tui.serve import ServeError, listening_socket, serve
    except ImportError:
        raise UserError("mnist-tui serve needs textual-serve: pip install 'mnist-tui[serve]'") from None
    check_root(root)
    try:
        sock = listening_socket(args.host, args.port)  # bound before a word is said about serving
    except ServeError as exc:
        raise UserError(str(exc)) from None
    if args.host not in LOOPBACK:
        warn(
            f"warning: serving on {args.host}: anyone who can reach port {args.port} can train, save "
            f"and load checkpoints in a session folder under {root} and use this machine's CPU "
            f"({args.max_sessions} sessions at most)"
        )
    serve(flags, root, sock, args.host, args.port, args.max_sessions, args.public_url)
    return OK


def port_number(text: str) -> int:
    """An argparse ``type=`` for a TCP port, 1..65535."""
    value: int = positive("port")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"port must be at most 65535 (got {value})")
    return value


def check_root(root: Path) -> None:
    """UserError (one line) unless session folders can be made in ``root``: made if missing, then
    a folder made and removed in it (a read-only disk left every visitor a blank page)."""
    import tempfile

    try:
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryDirectory(prefix=".probe-", dir=root).cleanup()
    except OSError as exc:
        raise UserError(f"--root {root}: cannot make session folders there ({exc.strerror or exc})") from None


def confined_app_flags(flags: list[str], root: Path) -> list[str]:
    """The apps' flags, parsed as the app parses them (a bad one is one line, exit 2), with
    ``--data`` and ``--resume`` made absolute inside ``root``; UserError for a path outside it."""
    from tui.sandbox import confine

    parser = OneLineParser(prog="mnist-tui")
    app.add_arguments(parser)
    parsed = parser.parse_args(flags)  # SystemExit(2) after its one line
    if parsed.sandbox is not None or parsed.from_run is not None:
        raise UserError("serve: the flags after the serve options are the app's (no --sandbox or --from)")
    if parsed.runs is not None:
        raise UserError("serve: each session records its runs in its own folder under --root; leave out --runs")
    if parsed.backprop is not None:  # a visitor must never be able to make the server run code
        raise UserError("serve: --backprop is refused: it runs a Python file, which a served app must not do")
    check_tensorboard(parsed.tensorboard)
    if parsed.challenge:  # a bad name or a flag the challenge refuses: one line here, not in every tab
        challenge_hparams(find_challenge(parsed.challenge), parsed)
    for flag in ("--data", "--resume"):  # the files every session reads must live in the server's folder
        value = getattr(parsed, flag[2:])
        if value:
            try:
                inside = confine(value, root)
            except ValueError as exc:
                raise UserError(f"serve {flag}: {exc} (relative to {root})") from None
            flags = [*_without_flag(flags, flag), f"{flag}={inside}"]
    return flags


def _without_flag(flags: list[str], flag: str) -> list[str]:
    """``flags`` without ``flag VALUE`` / ``flag=VALUE``."""
    out: list[str] = []
    skip = False
    for f in flags:
        if skip:
            skip = False
        elif f == flag:
            skip = True
        elif not f.startswith(flag + "="):
            out.append(f)
    return out
