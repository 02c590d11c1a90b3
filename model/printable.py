"""Text from a file made safe for a terminal: every character that is not printable is escaped.

A run record's id, a machine name or an error text could hold escape sequences (clear the screen,
retitle the window, hide what follows) or line breaks that fake another line; ``printable`` turns
each control, format, separator or surrogate character into its Python escape (``\\x1b``,
``\\u202e``, ``\\n``), so what was in the file is shown as text, on one line. Leaves out layout.
"""

from __future__ import annotations


def _escape(ch: str) -> str:
    return ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (one line, nothing a terminal obeys)."""
    if text.isprintable():
        return text
    return "".join(map(_escape, text))
