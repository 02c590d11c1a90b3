"""Reading the study's own files as hostile input: store entries (one run each) and results.json.

A file is opened only if it is a regular file, non-blocking, and refused past a size cap before
it is read (``safe_read.read_capped``); its JSON nesting is measured before it is parsed (so deep
nesting cannot reach Python's recursion limit) and NaN, Infinity and overflowing numbers are
refused (``safe_json.loads``, as for the run records); every field is checked for type,
finiteness and range. Every failure is a ``BadFile`` whose message is
one line naming the file. Leaves out: where the files live (``store.py``) and writing them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from model.activations import ACTIVATIONS
from model.config import SPECS, check_value
from model.printable import printable
from model.safe_json import BadJSON, loads
from model.safe_read import TooBig, read_capped
from model.study.aggregate import Study
from model.study.plan import Entry, Grid, RunConfig
from model.study.records import DIAGNOSTICS, RunResult
from model.variants import VARIANT_OPTIONS, VARIANTS

MAX_ENTRY_BYTES = 4 << 20  # a run of 20 epochs with diagnostics every 100 steps is about 25 KB
MAX_RESULTS_BYTES = 256 << 20  # results.json of the default grid is a few MB
MAX_DEPTH = 8  # a run nests 3 deep, results.json 6
MAX_POINTS = 1_000_000  # entries of one curve
MAX_TEXT = 500  # characters of one string field


class BadFile(ValueError):
    """A file of the study that cannot be used; the message is one line naming it."""


def read_json(path: str | os.PathLike[str], max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse the JSON file at ``path``: a regular file of at most ``max_bytes``, through the same
    bounded reader as the run records (``safe_read.read_capped``, ``safe_json.loads``). BadFile otherwise."""
    name = printable(os.fspath(path))
    try:
        return loads(read_capped(path, max_bytes, "it"), max_depth)
    except OSError as exc:
        raise BadFile(f"{name}: {exc.strerror or exc}") from None
    except (TooBig, BadJSON) as exc:
        raise BadFile(f"{name}: {exc}") from None


# ---- field checks --------------------------------------------------------------------------------
def _where(name: str) -> Callable[[str], ValueError]:
    return lambda why: ValueError(f"{name} {why}")


def _int(d: dict[str, Any], name: str, lo: int, hi: int) -> int:
    v = d.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi} (got {_short(v)})")
    return v


def _num(v: Any, name: str, lo: float, hi: float, nan: bool = False) -> float:
    """A number in [lo, hi]; None is NaN where ``nan`` allows it."""
    if v is None and nan:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}{' or null' if nan else ''} (got {_short(v)})")
    return float(v)


def _str(d: dict[str, Any], name: str, choices: Any = None) -> str:
    v = d.get(name)
    if not isinstance(v, str) or len(v) > MAX_TEXT or (choices is not None and v not in choices):
        raise ValueError(f"{name} must be {'one of the known names' if choices else 'a short text'} (got {_short(v)})")
    return v


def _list(v: Any, name: str, limit: int = MAX_POINTS) -> list[Any]:
    if not isinstance(v, list) or len(v) > limit:
        raise ValueError(f"{name} must be a list of at most {limit:,} items (got {_short(v)})")
    return v


def _floats(v: Any, name: str, lo: float, hi: float, limit: int = MAX_POINTS) -> list[float]:
    return [_num(x, name, lo, hi, nan=True) for x in _list(v, name, limit)]


def _short(v: Any) -> str:
    text = printable(repr(v))
    return text if len(text) <= 40 else text[:37] + "..."


def run_from_dict(d: Any) -> RunResult:
    """A RunResult from a parsed store entry, every field checked; ValueError (one line) otherwise."""
    if not isinstance(d, dict):
        raise ValueError(f"a run must be an object (got {_short(d)})")
    epochs = _int(d, "epochs", 1, 100_000)
    curve = {n: _floats(d.get(n), n, 0.0, 1.0, epochs) for n in ("valid_curve", "test_curve", "as_trained_curve")}
    big = 1e30
    losses = _floats(d.get("train_loss_curve"), "train_loss_curve", 0.0, big, epochs)
    epoch_steps = [
        _int({"epoch_steps": s}, "epoch_steps", 0, 10**12) for s in _list(d.get("epoch_steps"), "epoch_steps", epochs)
    ]
    steps = [_int({"diag_steps": s}, "diag_steps", 0, 10**12) for s in _list(d.get("diag_steps"), "diag_steps")]
    diags = d.get("diagnostics")
    if not isinstance(diags, dict) or not set(diags) <= set(DIAGNOSTICS):
        raise ValueError(f"diagnostics must map {', '.join(DIAGNOSTICS)} to lists (got {_short(diags)})")
    diagnostics = {k: _floats(v, k, -big, big, len(steps)) for k, v in diags.items()}
    n = len(curve["valid_curve"])
    if len(curve["test_curve"]) != n or len(epoch_steps) != n or len(losses) != n or not 1 <= n <= epochs:
        raise ValueError("the per-epoch curves must have one point per epoch trained")
    if curve["as_trained_curve"] and len(curve["as_trained_curve"]) != n:
        raise ValueError("as_trained_curve must have one point per epoch trained")
    if any(len(v) != len(steps) for v in diagnostics.values()):
        raise ValueError("every diagnostic must have one value per diag step")
    variant = _str(d, "variant", VARIANTS)
    diverged = d.get("diverged")
    if not isinstance(diverged, bool):
        raise ValueError(f"diverged must be true or false (got {_short(diverged)})")
    if not diverged and n != epochs:
        raise ValueError(f"a run that did not diverge must have {epochs} epochs of curves, not {n}")
    return RunResult(
        key=_str(d, "key"),
        label=_str(d, "label"),
        variant=variant,
        question=_str(d, "question"),
        seed=_int(d, "seed", 0, 2**32 - 1),
        lr=_num(d.get("lr"), "lr", 1e-12, 1000.0),
        momentum=_num(d.get("momentum"), "momentum", 0.0, 0.999999),
        activation=_str(d, "activation", ACTIVATIONS),
        valid_error=_num(d.get("valid_error"), "valid_error", 0.0, 1.0, nan=True),
        test_error=_num(d.get("test_error"), "test_error", 0.0, 1.0, nan=True),
        test_error_as_trained=_num(d.get("test_error_as_trained"), "test_error_as_trained", 0.0, 1.0, nan=True),
        final_test_error=_num(d.get("final_test_error"), "final_test_error", 0.0, 1.0, nan=True),
        best_epoch=_int(d, "best_epoch", 0, epochs),
        train_loss=_num(d.get("train_loss"), "train_loss", 0.0, big, nan=True),
        valid_curve=curve["valid_curve"],
        test_curve=curve["test_curve"],
        seconds=_num(d.get("seconds"), "seconds", 0.0, 1e9),
        steps=_int(d, "steps", 0, 10**12),
        diverged=diverged,
        diag_steps=steps,
        diagnostics=diagnostics,
        epochs=epochs,
        as_trained_curve=curve["as_trained_curve"],
        train_loss_curve=losses,
        epoch_steps=epoch_steps,
        hidden=_int(d, "hidden", 1, int(SPECS["hidden"].high or 0)),
    )


def read_run(path: str | os.PathLike[str]) -> RunResult:
    """One store entry; BadFile (one line naming the file) if it cannot be used."""
    saved = read_json(path, MAX_ENTRY_BYTES)
    try:
        return run_from_dict(saved)
    except ValueError as exc:
        raise BadFile(f"{printable(os.fspath(path))}: {exc}") from None


# ---- results.json ---------------------------------------------------------------------------------
def _options(v: Any, name: str) -> tuple[tuple[str, Any], ...]:
    out = []
    for item in _list(v, name, len(VARIANT_OPTIONS)):
        if not (isinstance(item, list) and len(item) == 2 and item[0] in VARIANT_OPTIONS):
            raise ValueError(f"{name} must be [option, value] pairs (got {_short(item)})")
        check_value(item[0], item[1])
        out.append((item[0], item[1]))
    return tuple(sorted(out))


def _entry(d: Any) -> Entry:
    if not isinstance(d, dict):
        raise ValueError(f"an entry must be an object (got {_short(d)})")
    controls = tuple(_str({"c": c}, "c", VARIANTS) for c in _list(d.get("controls"), "controls", 4))
    return Entry(
        variant=_str(d, "variant", VARIANTS),
        options=_options(d.get("options"), "options"),
        activation=_str(d, "activation", ACTIVATIONS),
        hidden=_int(d, "hidden", 0, int(SPECS["hidden"].high or 0)),
        long=_bool(d, "long"),
        section=_str(d, "section", ("sweep", "scale", "width")),
        controls=controls,
    )


def _bool(d: dict[str, Any], name: str) -> bool:
    v = d.get(name)
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be true or false (got {_short(v)})")
    return v


def grid_from_dict(d: Any) -> Grid:
    """The Grid a results.json recorded, every field checked; ValueError (one line) otherwise."""
    if not isinstance(d, dict):
        raise ValueError(f"meta.grid must be an object (got {_short(d)})")

    def rates(name: str, lo: float = 1e-9, hi: float = 1000.0) -> tuple[float, ...]:
        return tuple(_num(x, name, lo, hi) for x in _list(d.get(name), name, 64))

    def ints(name: str, hi: int) -> tuple[int, ...]:
        return tuple(_int({name: x}, name, 0, hi) for x in _list(d.get(name), name, 64))

    def specs(name: str) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
        out = []
        for item in _list(d.get(name), name, 64):
            if not (isinstance(item, list) and len(item) == 2):
                raise ValueError(f"{name} must be [variant, options] pairs (got {_short(item)})")
            out.append((_str({"v": item[0]}, "v", VARIANTS), _options(item[1], name)))
        return tuple(out)

    def acts(name: str) -> tuple[str, ...]:
        return tuple(_str({name: a}, name, ACTIVATIONS) for a in _list(d.get(name), name, 8))

    train_size = d.get("train_size")
    return Grid(
        name=_str(d, "name"),
        hidden=_int(d, "hidden", 1, int(SPECS["hidden"].high or 0)),
        entries=tuple(_entry(e) for e in _list(d.get("entries"), "entries", 10_000)),
        short_epochs=_int(d, "short_epochs", 1, 10_000),
        long_epochs=_int(d, "long_epochs", 1, 10_000),
        selection_seeds=_int(d, "selection_seeds", 1, 1000),
        report_seeds=_int(d, "report_seeds", 1, 1000),
        section_seeds=_int(d, "section_seeds", 1, 1000),
        momentum=_num(d.get("momentum"), "momentum", 0.0, 0.999999),
        start=rates("start"),
        ladder=tuple(sorted(rates("ladder"))),
        stale_kinds=tuple(
            _str({"k": k}, "k", ("stale", "stale-gradient")) for k in _list(d.get("stale_kinds"), "stale_kinds", 4)
        ),
        stale_momenta=rates("stale_momenta", 0.0, 0.999999),
        stale_steps=rates("stale_steps"),
        stale_ks=ints("stale_ks", int(SPECS["stale_k"].high or 0)),
        noise_variants=specs("noise_variants"),
        noise_sigmas=rates("noise_sigmas", 0.0, 100.0),
        noise_activations=acts("noise_activations"),
        round_variants=specs("round_variants"),
        round_bits=ints("round_bits", int(SPECS["round_bits"].high or 0)),
        grad_bits=ints("grad_bits", int(SPECS["grad_bits"].high or 0)),
        round_activations=acts("round_activations"),
        train_size=None if train_size is None else _int(d, "train_size", 1, 10_000_000),
        batch_size=_int(d, "batch_size", 1, int(SPECS["batch_size"].high or 0)),
        note=_str(d, "note"),
        cpu_hours=_num(d.get("cpu_hours"), "cpu_hours", 0.0, 1e6),
        minutes=_num(d.get("minutes", 0.0), "minutes", 0.0, 1e9),
    )


def _meta(d: Any) -> dict[str, Any]:
    """The meta block: only the fields the report reads, each checked."""
    if not isinstance(d, dict):
        raise ValueError(f"meta must be an object (got {_short(d)})")
    out: dict[str, Any] = {"grid": grid_from_dict(d.get("grid"))}
    for name, hi in (("runs", 10**9), ("reused", 10**9), ("rounds", 10**6), ("jobs", 10**6), ("diag_every", 10**9)):
        out[name] = _int(d, name, 0, hi)
    out["missing"] = _int(d, "missing", 0, 10**9) if "missing" in d else 0  # files before it: a whole study
    out["wall_seconds"] = _num(d.get("wall_seconds"), "wall_seconds", 0.0, 1e9)
    out["backend"] = _str(d, "backend")
    out["command"] = _str(d, "command")
    hp = d.get("hparams")
    if not isinstance(hp, dict):
        raise ValueError(f"meta.hparams must be an object (got {_short(hp)})")
    out["hparams"] = {k: _int(hp, k, 1, 10**6) for k in ("hidden", "batch_size") if k in hp}
    env = d.get("environment")
    if not isinstance(env, dict):
        raise ValueError(f"meta.environment must be an object (got {_short(env)})")
    out["environment"] = {
        k: printable(str(env[k]))[:MAX_TEXT] for k in ("cpu", "cores", "python", "numpy", "blas") if k in env
    }
    return out


def study_from_saved(saved: Any) -> tuple[Study, Grid]:
    """The Study (runs and meta) and the Grid a parsed results.json holds; ValueError (one line)
    naming the first bad field otherwise."""
    if not isinstance(saved, dict):
        raise ValueError(f"results.json must be an object (got {_short(saved)})")
    meta = _meta(saved.get("meta"))
    runs = []
    for i, r in enumerate(_list(saved.get("runs"), "runs", 1_000_000)):
        try:
            runs.append(run_from_dict(r))
        except ValueError as exc:
            raise ValueError(f"run {i + 1}: {exc}") from None
    grid = meta.pop("grid")
    return Study(runs, meta), grid


def config_matches(run: RunResult, config: RunConfig, seed: int, epochs: int) -> bool:
    """Whether a stored run is the one a task asks for (its file could hold another run's content)."""
    return run.key == config.key and run.seed == seed and run.epochs == epochs
