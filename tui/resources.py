"""Files the app reads at run time (styles, the backprop derivation), found inside the package.

``tui/assets`` links to the repository's top-level ``assets/`` folder, and the wheel carries the
files under the same name, so one lookup through ``importlib.resources`` serves a checkout, an
editable install and an installed wheel alike.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def asset(name: str) -> Path:
    """The path of ``assets/<name>`` as installed (e.g. ``asset("app.tcss")``)."""
    return Path(str(resources.files("tui").joinpath("assets", name)))
