"""What a run record may hold: every field of run.json and of a metrics.jsonl line, checked.

``check_meta`` and ``check_line`` take a parsed JSON value and return a new dict of the known
fields only, each of the right type, finite and in range (hyperparameters through ``SPECS``, the
id against ``ID_PATTERN``, names against ``WORD``, free text escaped by ``printable``); anything
else is a ``BadRecord`` whose one line names the field. Unknown fields are left out, so nothing
unchecked reaches a reader. Leaves out reading files (``reader``) and whether the lines agree with
each other (``reader`` too: steps that jump past the record's progress).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from model.config import SPECS, check_value
from model.data.validate import MAX_EXAMPLES
from model.printable import printable

#: A run id as the recorder makes them: UTC time to the second and four hex digits.
ID_PATTERN = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")
#: A name from a small vocabulary (an event, a status, a source): lower case, short, plain.
WORD = re.compile(r"[a-z][a-z0-9_ -]{0,31}")
FORMAT = re.compile(r"mnist-tui-run/(\d{1,4})")
FORMAT_VERSION = 1
HEX = re.compile(r"[0-9a-f]{1,64}")
#: Steps and examples: exact in a float, an int64 for TensorBoard.
MAX_COUNT = 2**53
#: Seconds a run can have taken (about 30 years).
MAX_SECONDS = 1e9
MAX_EPOCHS = float(SPECS["epochs"].high or 0) * MAX_EXAMPLES  # batch size 1, the most epochs
#: The largest float32 (losses are float32 sums).
MAX_FLOAT32 = 3.4028234663852886e38
MAX_TEXT = 1000
MAX_PATH = 4096
#: The most steps between two progress points a record may declare (the recorder's is 10).
MAX_POINT_EVERY = 100
EVAL_SETS = ("train", "valid", "test")
ANGLES = frozenset({"W1", "W2"})


class BadRecord(ValueError):
    """A field of a run record is missing or not what the recorder writes (one line naming it)."""


# ---- one value ----------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short printable rendering of a bad value for a message."""
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return printable(text if len(text) <= 40 else text[:37] + "...")


def count(value: Any, name: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """A whole number in [low, high] (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{name} must be a whole number (got {_show(value)})")
    if not low <= value <= high:
        raise BadRecord(f"{name} must be between {low:,} and {high:,} (got {_show(value)})")
    return value


def number(value: Any, name: str, low: float = 0.0, high: float = MAX_FLOAT32) -> float:
    """A finite number in [low, high], as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(f"{name} must be a number (got {_show(value)})")
    if not (math.isfinite(value) and low <= value <= high):
        raise BadRecord(f"{name} must be between {low:g} and {high:g} (got {_show(value)})")
    return float(value)


def word(value: Any, name: str) -> str:
    """A name from a small vocabulary (``WORD``)."""
    if not isinstance(value, str) or not WORD.fullmatch(value):
        raise BadRecord(f"{name} must be a short lower-case name (got {_show(value)})")
    return value


def text(value: Any, name: str, limit: int = MAX_TEXT) -> str:
    """Free text (a machine name, an error message, a path), escaped for a terminal."""
    if not isinstance(value, str):
        raise BadRecord(f"{name} must be text (got {_show(value)})")
    if len(value) > limit:
        raise BadRecord(f"{name} is {len(value):,} characters, more than {limit:,}")
    return printable(value)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadRecord(f"{name} must be true or false (got {_show(value)})")
    return value


def obj(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRecord(f"{name} must be an object (got {_show(value)})")
    return value


def hparam(field: Any, value: Any, where: str = "") -> Any:
    """A hyperparameter value checked by the model's own rule (``SPECS``)."""
    if not isinstance(field, str) or field not in SPECS:
        raise BadRecord(f"{where}unknown setting {_show(field)}")
    try:
        check_value(field, value)
    except ValueError as exc:
        raise BadRecord(f"{where}{printable(str(exc))}") from None
    return value


def hparams(value: Any, name: str) -> dict[str, Any]:
    """A settings object: every key a ``SPECS`` field, every value valid for it (missing ones are
    left to the defaults, as a record from before a field existed)."""
    return {field: hparam(field, v, f"{name}: ") for field, v in obj(value, name).items()}


def started(value: Any, name: str) -> str:
    """An ISO 8601 time."""
    if not isinstance(value, str) or len(value) > 40:
        raise BadRecord(f"{name} must be an ISO time (got {_show(value)})")
    try:
        dt.datetime.fromisoformat(value).timestamp()  # (TensorBoard's wall times come from it)
    except (ValueError, OverflowError):
        raise BadRecord(f"{name} must be an ISO time (got {_show(value)})") from None
    return value


def hex_digest(value: Any, name: str) -> str:
    """A hex digest (a data tag, a sha256)."""
    if not isinstance(value, str) or not HEX.fullmatch(value):
        raise BadRecord(f"{name} must be hex digits (got {_show(value)})")
    return value


def run_id(value: Any, name: str = "id") -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise BadRecord(f"{name} is not a run id like 20261203-124501-3fa2 (got {_show(value)})")
    return value


def nullable(check: Callable[..., Any]) -> Callable[..., Any]:
    """``check`` that also lets null (JSON's "not measured") through."""

    def checked(value: Any, name: str, *args: Any) -> Any:
        return None if value is None else check(value, name, *args)

    return checked


def _fields(
    source: Mapping[str, Any], table: Mapping[str, Callable[[Any, str], Any]], prefix: str = ""
) -> dict[str, Any]:
    """The fields of ``source`` that ``table`` names, each through its check (absent ones stay absent)."""
    return {k: check(source[k], prefix + k) for k, check in table.items() if k in source}


def _required(source: Mapping[str, Any], names: tuple[str, ...], prefix: str = "") -> None:
    for k in names:
        if k not in source:
            raise BadRecord(f"{prefix}{k} is missing")


# ---- run.json --------------------------------------------------------------------------------------

_MACHINE: dict[str, Callable[[Any, str], Any]] = {
    "cpu": nullable(lambda v, n: text(v, n, 200)),
    "cores": nullable(lambda v, n: count(v, n, 1, 1 << 20)),
    "python": nullable(lambda v, n: text(v, n, 64)),
    "numpy": nullable(lambda v, n: text(v, n, 64)),
    "blas": nullable(lambda v, n: text(v, n, 200)),
    "blas_threads": nullable(lambda v, n: text(v, n, 32)),
}
_STUDY: dict[str, Callable[[Any, str], Any]] = {
    "key": lambda v, n: text(v, n, 200),
    "label": lambda v, n: text(v, n, 200),
    "seed": lambda v, n: count(v, n, 0, 2**32 - 1),
    "task": lambda v, n: text(v, n, 200),
}
_POLICY: dict[str, Callable[[Any, str], Any]] = {
    "eval_every": count,
    "eval_examples": count,
    "keep_best": flag,
    "mistakes": flag,
}
#: A resumed run's start: the checkpoint, its sha256 ("" when it was not read from a file), the changes on top.
_START: dict[str, Callable[[Any, str], Any]] = {
    "checkpoint": lambda v, n: text(v, n, MAX_PATH),
    "sha256": lambda v, n: v if v == "" else nullable(hex_digest)(v, n),
    "changes": hparams,
}
_META: dict[str, Callable[[Any, str], Any]] = {
    "id": run_id,
    "started": started,
    "source": word,
    "hparams": hparams,
    "seed": lambda v, n: hparam("seed", v, f"{n}: "),
    "variant": lambda v, n: hparam("variant", v, f"{n}: "),
    "start_step": count,
    "start_examples": count,
    "train_size": lambda v, n: count(v, n, 1, MAX_EXAMPLES),
    "source_size": lambda v, n: count(v, n, 1, MAX_EXAMPLES),  # the rows hparams.train_size picks from
    "data": lambda v, n: text(v, n, 64),
    "version": lambda v, n: text(v, n, 64),
    "machine": lambda v, n: _fields(obj(v, n), _MACHINE, f"{n}."),
    "point_every": lambda v, n: count(v, n, 1, MAX_POINT_EVERY),
    "angle_every": lambda v, n: count(v, n, 0, MAX_COUNT),
    "resumed_from": lambda v, n: text(v, n, MAX_PATH),
    "study": lambda v, n: _fields(obj(v, n), _STUDY, f"{n}."),
    "policy": lambda v, n: _fields(obj(v, n), _POLICY, f"{n}."),
    "start": lambda v, n: _fields(obj(v, n), _START, f"{n}."),
    "challenge": word,  # the challenge the run played (a replay judges it again)
}


def check_meta(value: Any) -> dict[str, Any]:
    """run.json checked: its known fields (``id`` required); BadRecord otherwise."""
    meta = obj(value, "run.json")
    fmt = meta.get("format")
    if fmt is not None:
        m = FORMAT.fullmatch(fmt) if isinstance(fmt, str) else None
        if m is None:
            raise BadRecord(f"format {_show(fmt)} is not a run record's")
        if int(m.group(1)) > FORMAT_VERSION:
            raise BadRecord(f"format {fmt} is newer than this mnist-tui reads (update it)")
    _required(meta, ("id",))
    return ({} if fmt is None else {"format": fmt}) | _fields(meta, _META)


# ---- metrics.jsonl ----------------------------------------------------------------------------------

_error = nullable(lambda v, n: number(v, n, 0.0, 1.0))
_loss = nullable(number)
_COMMON: dict[str, Callable[[Any, str], Any]] = {
    "step": count,
    "examples": count,
    "time": lambda v, n: number(v, n, 0.0, MAX_SECONDS),
}
_PROGRESS: dict[str, Callable[[Any, str], Any]] = (
    {
        "epoch": lambda v, n: number(v, n, 0.0, MAX_EPOCHS),
        "lr": lambda v, n: number(v, n, 0.0, float(SPECS["lr"].high or 0)),
        "loss": _loss,
        "smoothed": _loss,
        "angles": lambda v, n: {
            k: nullable(lambda a, m: number(a, m, 0.0, 180.0))(a, f"{n}.{k}")
            for k, a in obj(v, n).items()
            if k in ANGLES
        },
        "epoch_end": flag,
    }
    | {f"{s}_error": _error for s in EVAL_SETS}
    | {f"{s}_loss": _loss for s in EVAL_SETS}
)


def _old_value(value: Any, name: str) -> Any:
    """The value a setting had before a change (checked loosely: the rules may have changed since)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if isinstance(value, int) and abs(value) <= MAX_COUNT else number(value, name, -MAX_FLOAT32)
    return text(value, name, 64)


#: Each event's own fields; an event not named here (from a newer version) keeps only the common ones.
_EVENT: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "hparam": {"field": lambda v, n: v, "old": _old_value, "new": lambda v, n: v},
    "reset": {"hparams": hparams},
    "load": {
        "path": lambda v, n: text(v, n, MAX_PATH),
        "sha256": nullable(hex_digest),
        "hparams": hparams,
    },
    "diverged": {"loss": _loss, "lr": _PROGRESS["lr"], "restored": flag},
    "target": {
        "target": lambda v, n: hparam("target_error", v, f"{n}: "),
        "valid_error": _error,
        "seconds": lambda v, n: number(v, n, 0.0, MAX_SECONDS),
    },
    "gradcheck": {
        "passed": nullable(flag),
        "checks": lambda v, n: count(v, n, 0, 1 << 20),
        "max_rel_error": _loss,
        "error": nullable(text),
    },
    "end": {"status": word, "checkpoint": nullable(lambda v, n: text(v, n, 64))},
    "resume_from": {"path": lambda v, n: text(v, n, MAX_PATH)},
    "backprop": {"file": lambda v, n: text(v, n, MAX_PATH), "sha256": nullable(hex_digest)},  # --backprop FILE
    "rule_error": {"error": nullable(text)},  # the --backprop rule failed a step
    "challenge": {  # a challenge solved, a rule broken, or the attempt over unsolved
        "challenge": word,
        "solved": flag,
        "broken": lambda v, n: text(v, n, 200),
        "best_valid": _error,
        "best_test": _error,
        "valid_error": _error,
        "test_error": _error,
        "dead_fraction": _error,
        "epoch": lambda v, n: number(v, n, 0.0, MAX_EPOCHS),
        "total_examples": count,
        "segment": count,
        "resets": count,
        "changes": hparams,
    },
}
#: Fields an event must carry (beyond step and examples) to mean anything.
_EVENT_REQUIRED = {
    "hparam": ("field", "new"),
    "reset": ("hparams",),
    "load": ("path", "hparams"),
    "challenge": ("challenge", "solved"),
}


def check_line(value: Any) -> dict[str, Any]:
    """One metrics.jsonl line checked: a progress point or an event; BadRecord otherwise."""
    line = obj(value, "the line")
    kind = line.get("kind")
    if kind not in ("progress", "event"):
        raise BadRecord(f"kind must be progress or event (got {_show(kind)})")
    _required(line, ("step", "examples"))
    out: dict[str, Any] = {"kind": kind}
    if kind == "progress":
        return out | _fields(line, _COMMON) | _fields(line, _PROGRESS)
    _required(line, ("event",))
    name = word(line["event"], "event")
    out |= {"event": name} | _fields(line, _COMMON)
    if "after_step" in line:
        out["after_step"] = count(line["after_step"], "after_step")
    _required(line, _EVENT_REQUIRED.get(name, ()), f"{name} event: ")
    out |= _fields(line, _EVENT.get(name, {}), f"{name} event: ")
    if name == "hparam":
        out["new"] = hparam(out["field"], out["new"], "hparam event: ")
    return out
