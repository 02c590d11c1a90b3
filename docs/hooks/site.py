"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks``).

- The study's results page and figures, and the browser screenshot, stay where the project keeps
  them (``assets/``, written by ``mnist-tui experiments --out assets``): they join the site as
  ``assets/<name>`` without a second copy under ``docs/``.
- Math written as ``$...$`` / ``$$...$$`` (pymdownx.arithmatex, generic mode) becomes MathML when
  the site is built, so a page shows typeset math without JavaScript and without fetching anything.
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
