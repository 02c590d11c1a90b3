"""Parse JSON from an untrusted file: nesting bounded before the parser can recurse, numbers finite.

``loads`` refuses, with one ``BadJSON`` line, text that is not UTF-8, nests deeper than
``max_depth`` (decided by a flat scan *before* ``json`` recurses, so a line of 200,000 ``[``
never reaches a ``RecursionError``), spells ``NaN``/``Infinity`` or holds a float that overflows
(``1e400``). Integers of more than 4,300 digits are refused by Python itself. Leaves out what the
values mean (each reader's schema) and how big the text may be (``model.safe_read``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deeper than any file of ours (a run record nests three levels).
MAX_DEPTH = 16
#: A string literal (possessive: never backtracks) or a bracket; what the depth scan looks at.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


class BadJSON(ValueError):
    """The text is not JSON a reader of ours accepts (one line)."""


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """BadJSON if arrays and objects in ``text`` nest deeper than ``max_depth`` (brackets inside
    strings do not count). Linear in the text, no recursion."""
    if text.count("[") + text.count("{") <= max_depth:  # every record line of ours: no scan needed
        return
    depth = 0
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > max_depth:
                raise BadJSON(f"nested deeper than {max_depth} levels")
        elif mark in "]}":
            depth -= 1


def _refuse_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a number a record can hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJSON(f"{text[:20]} is out of range")
    return value


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``data``; BadJSON (one line) for anything a careful reader refuses."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadJSON(f"not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    check_depth(text, max_depth)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadJSON:
        raise
    except RecursionError:  # cannot happen after check_depth; kept so no reader ever sees it
        raise BadJSON(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, an integer of too many digits
        raise BadJSON(" ".join(str(exc).split())[:200]) from None
