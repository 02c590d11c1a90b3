"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks``).

- The study's results page and figures, and the browser screenshot, stay where the project keeps
  them (``assets/``, written by ``mnist-tui experiments --out assets``): they join the site as
  ``assets/<name>`` without a second copy under ``docs/``.
- Math written as ``$...$`` / ``$$...$$`` (pymdownx.arithmatex, generic mode) becomes MathML when
  the site is built, so a page shows typeset math without JavaScript and without fetching anything.
- The training flags and the presets are tables made from the tables that make the flags
  (``model.config.SPECS``, ``model.presets.PRESETS``): a page line ``<!-- training-flags -->`` or
  ``<!-- presets -->`` becomes one, so a new knob is documented the moment it exists.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from latex2mathml.converter import convert
from mkdocs.structure.files import File, Files

ASSETS = Path(__file__).resolve().parents[2] / "assets"
#: what the site takes from assets/: the study's report and figures, the browser screenshot
SITE_ASSETS = ("results.md", "fig_*.svg", "fig_*.png", "screenshot_browser.png")

INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _limit(value: float | None, kind: type, open_: bool, strict: str, loose: str) -> str:
    if value is None:
        return ""
    return f"{strict if open_ else loose} {int(value):,}" if kind is int else f"{strict if open_ else loose} {value:g}"


def training_flags() -> str:
    """A Markdown table of every hyperparameter flag: what it sets, the values it takes, its default."""
    from model.config import SPECS, HyperParams

    defaults = HyperParams()
    rows = ["| flag | what it sets | values | default |", "|---|---|---|---|"]
    for name, spec in SPECS.items():
        if spec.choices:
            values = ", ".join(f"`{c}`" for c in spec.choices)
        else:
            bounds = [
                _limit(spec.low, spec.kind, spec.low_open, ">", "≥"),
                _limit(spec.high, spec.kind, spec.high_open, "<", "≤"),
            ]
            values = f"{spec.kind.__name__} " + ", ".join(b for b in bounds if b)
            if spec.percent:
                values += " (or a percentage: `2%`)"
        text = spec.help.replace("|", "\\|")
        rows.append(f"| `--{name.replace('_', '-')}` | {text} | {values} | `{getattr(defaults, name)}` |")
    return "\n".join(rows)


def presets() -> str:
    """A Markdown table of the presets: name and what each is."""
    from model.presets import PRESETS

    rows = ["| `--preset` | what it is |", "|---|---|"]
    rows += [f"| `{name}` | {preset.help} |" for name, preset in PRESETS.items()]
    return "\n".join(rows)


GENERATED = {"<!-- training-flags -->": training_flags, "<!-- presets -->": presets}


def on_page_markdown(markdown: str, **_: Any) -> str:
    for marker, table in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, table())
    return markdown


def on_files(files: Files, config: Any, **_: Any) -> Files:
    for pattern in SITE_ASSETS:
        for path in sorted(ASSETS.glob(pattern)):
            files.append(File.generated(config, f"assets/{path.name}", abs_src_path=str(path)))
    return files


def to_mathml(latex: str, display: str) -> str:
    """One arithmatex formula (HTML-escaped LaTeX) as a MathML element."""
    return convert(html.unescape(latex).strip(), display=display)


def on_page_content(content: str, **_: Any) -> str:
    content = BLOCK.sub(lambda m: f'<div class="math">{to_mathml(m[1], "block")}</div>', content)
    return INLINE.sub(lambda m: to_mathml(m[1], "inline"), content)
