"""Checkpoints: a ``RunState`` (weights, momentum, order, counters, generators, the variant's
state and the run core's figures) in one ``.npz``.

Written atomically (a temp file in the same folder, fsync, ``os.replace``), so a crash or kill
mid-write leaves the old file or the new one, never a torn one. ``checkpoint_target`` is the one
rule for where a checkpoint may be written, for every caller. Read from a regular file only, every
member's name, shape and dtype checked from the headers before anything is allocated, then every
field validated once; a problem is one ``CheckpointError`` line. The run's settings and counters
travel as a JSON string inside the archive.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.atomic import atomic_write
from model.config import SPECS, HyperParams
from model.data.validate import MAX_EXAMPLES, PIXELS
from model.mlp import PARAM_NAMES
from model.safe_read import Member, open_regular, read_npz
from model.state import RunState, TrainState
from model.variants import VARIANT_NAMES, make_rule

RULE_PREFIX = "rule_"  # the file's prefix for the arrays a backward-pass variant carries between steps
FORMAT = "mnist-tui-checkpoint/1"
#: Bounds a checkpoint's headers are held to before anything is read (MNIST's pixels and training set).
MAX_INPUTS = PIXELS
MAX_CLASSES = 10
MAX_HIDDEN = int(SPECS["hidden"].high or 0)
MAX_STALE_RING = int(SPECS["stale_k"].high or 0) + 1
MAX_INFO_BYTES = 1 << 20
#: Names of the arrays any backward-pass variant keeps between steps.
VARIANT_STATE = frozenset(n for v in VARIANT_NAMES for n in make_rule(HyperParams(variant=v)).state_names())


class CheckpointError(Exception):
    """A checkpoint cannot be written or read; the message is one line for the user."""

    def __init__(self, message: str) -> None:
        # One line whatever the underlying error text held (untrusted JSON keys included).
        super().__init__(" ".join(str(message).split()))


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """Where ``save_checkpoint(path, ...)`` writes: ``path`` with ``.npz`` appended if it lacks it."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def default_name() -> str:
    """A new checkpoint's name when only a folder is given: ``mnist-tui-YYYYmmdd-HHMMSS.npz``."""
    return f"mnist-tui-{time.strftime('%Y%m%d-%H%M%S')}.npz"


def checkpoint_target(path: str | os.PathLike[str], *, probe: bool = False) -> Path:
    """Where a checkpoint named ``path`` is written: the one rule for every caller (``train
    --save``, the app's save prompt, the autosave, ``save_checkpoint``).

    ``~`` is expanded; an existing folder means a new file in it (``default_name``), never a
    ``<folder>.npz`` beside it; ``.npz`` is added to a name that lacks it. CheckpointError (one
    line) when it cannot go there: an empty name, something that exists and is not a regular
    file, a file where a folder must be; with ``probe``, also a nearest existing folder that
    refuses a new file (checked before a run starts, so no training is thrown away). Missing
    folders are made when the file is written.
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise CheckpointError("a checkpoint needs a file name (got an empty one)")
    given = Path(text).expanduser()
    target = given / default_name() if given.is_dir() else checkpoint_path(given)
    where = f"cannot write checkpoint {target}"
    try:
        if target.exists() and not target.is_file():  # a FIFO, device or socket: never replace it
            raise CheckpointError(f"{where}: it exists and is not a regular file")
        nearest = next((p for p in target.parents if p.exists()), Path("."))
        if not nearest.is_dir():
            raise CheckpointError(f"{where}: {nearest} is a file, not a folder")
    except OSError as exc:
        raise CheckpointError(f"{where}: {exc.strerror or exc}") from None
    if probe:
        try:
            fd, name = tempfile.mkstemp(prefix=".mnist-tui-probe.", dir=nearest)
        except OSError as exc:
            raise CheckpointError(f"cannot write in {nearest} ({exc.strerror or exc})") from None
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)
    return target


def save_checkpoint(path: str | os.PathLike[str], state: RunState) -> Path:
    """Write ``state`` to ``path`` (as ``checkpoint_target`` says) atomically; returns where it
    went. CheckpointError (one line) when it cannot be written."""
    target = checkpoint_target(path)
    info = {
        "format": FORMAT,
        "hparams": state.hp.to_dict(),
        "state": vars(state.counters),
        "rng": state.rng,
        "meta": state.meta,
        "variant_state": sorted(state.variant_state),  # so a load can tell a piece that went missing
    }
    arrays: dict[str, NDArray[Any]] = dict(state.params)
    arrays.update({f"v_{name}": value for name, value in state.velocity.items()})
    arrays["order"] = state.order
    arrays.update({f"{RULE_PREFIX}{name}": value for name, value in state.variant_state.items()})
    arrays["info"] = np.array(json.dumps(info, default=int))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]  # numpy's stub types **kwds too narrowly
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {target}: {exc.strerror or exc}") from None
    return target


def load_checkpoint(path: str | os.PathLike[str]) -> RunState:
    """Read and validate a checkpoint, with the sha256 of the bytes read; CheckpointError says
    what is wrong in one line."""
    path = Path(path)
    where = f"checkpoint {path}"
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise CheckpointError(f"{where}: no such file") from None
    except OSError as exc:
        raise CheckpointError(f"{where}: {exc.strerror or exc}") from None
    declared: list[Member] = []

    def check(members: dict[str, Member]) -> None:
        declared.extend(members.values())
        _check_headers(members)

    try:
        with f:
            arrays = read_npz(f, check)
            f.seek(0)  # the same open file: the digest is of what was read, whatever the path names now
            digest = hashlib.sha256()
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except MemoryError:
        total = sum(m.nbytes for m in declared) / 2**20
        raise CheckpointError(f"{where}: not enough memory for the {total:,.0f} MiB of arrays it declares") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except Exception as exc:  # a damaged zip raises a zoo of types (BadZipFile, NotImplementedError, ...)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip()
        reason = reason.splitlines()[0] if reason else type(exc).__name__
        raise CheckpointError(f"{where}: not a readable .npz checkpoint ({reason})") from None
    state = _validate(arrays, where)
    state.path, state.sha256 = str(path.resolve()), digest.hexdigest()
    return state


def _check_headers(members: dict[str, Member]) -> None:
    """Refuse, from the headers alone, members a checkpoint of the declared W1/W2 shape cannot have.

    Bounds: W1 (H, D) and W2 (K, H) within MNIST's D and K and the hidden-size limit; order at most
    a training set; a variant's arrays shaped (K, H), (k+1, K, H), (rows <= N, H) or a scalar.
    """
    expected = {*PARAM_NAMES, *(f"v_{n}" for n in PARAM_NAMES), "order", "info"}
    rule_names = {n for n in members if n.startswith(RULE_PREFIX) and n[len(RULE_PREFIX) :] in VARIANT_STATE}
    missing, extra = expected - members.keys(), members.keys() - expected - rule_names
    if missing:
        raise CheckpointError(f"missing arrays {', '.join(sorted(missing))}")
    if extra:
        raise CheckpointError(f"unexpected arrays {', '.join(sorted(extra))}")
    W1, W2 = members["W1"].shape, members["W2"].shape
    if len(W1) != 2 or not (1 <= W1[0] <= MAX_HIDDEN and 1 <= W1[1] <= MAX_INPUTS):
        raise CheckpointError(f"W1 declares shape {W1}, expected (hidden <= {MAX_HIDDEN}, inputs <= {MAX_INPUTS})")
    H = W1[0]
    if len(W2) != 2 or W2[1] != H or not 1 <= W2[0] <= MAX_CLASSES:
        raise CheckpointError(f"W2 declares shape {W2}, expected (classes <= {MAX_CLASSES}, {H})")
    K = W2[0]
    params = {"W1": W1, "b1": (H,), "W2": W2, "b2": (K,)}
    for name, shape in params.items():
        for key in (name, f"v_{name}"):
            if members[key].shape != shape:
                raise CheckpointError(f"{key} has shape {members[key].shape}, expected {shape}")
    order, info = members["order"], members["info"]
    if len(order.shape) != 1 or order.shape[0] > MAX_EXAMPLES:
        raise CheckpointError(f"order declares {order.describe()}, expected at most {MAX_EXAMPLES:,} indices")
    if info.shape != () or info.dtype.kind != "U" or info.nbytes > MAX_INFO_BYTES:
        raise CheckpointError(f"info declares {info.describe()}, expected one string under 1 MiB")
    n_rows = max(order.shape[0], 1)
    param_shapes = {f"{RULE_PREFIX}ring_{n}": s for n, s in params.items()}  # a stale-gradient ring of each
    for name in rule_names:
        shape = members[name].shape
        if name in param_shapes:
            fits = len(shape) >= 1 and shape[1:] == param_shapes[name] and 1 <= shape[0] <= MAX_STALE_RING
        else:
            fits = (
                shape in ((), (K, H))
                or (len(shape) == 3 and shape[1:] == (K, H) and shape[0] <= MAX_STALE_RING)
                or (len(shape) == 2 and shape[1] == H and shape[0] <= n_rows)
                or (len(shape) == 1 and shape[0] <= n_rows)
            )
        if not fits:
            raise CheckpointError(f"{members[name].describe()} does not fit a {K}x{H} network")


def _validate(arrays: dict[str, NDArray[Any]], where: str) -> RunState:
    """The ``RunState`` the arrays hold, every field checked (CheckpointError, one line, otherwise)."""
    for name in sorted({*PARAM_NAMES, *(f"v_{n}" for n in PARAM_NAMES), "order", "info"}):
        if not isinstance(arrays[name], np.ndarray):  # np.load hands back raw bytes for a non-.npy member
            raise CheckpointError(f"{where}: {name} is not an array")
    info, hp, counters = _run_information(arrays, where)
    H, K = _check_weights(arrays, where)
    if hp.hidden != H:
        try:
            hp = hp.validated(hidden=H)
        except ValueError as exc:
            raise CheckpointError(f"{where}: {exc}") from None
    order = arrays["order"]
    if order.ndim != 1 or order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(len(order))):
        raise CheckpointError(f"{where}: order is not a permutation of the training set")
    meta = info.get("meta", {})
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: bad run information (meta is {type(meta).__name__}, expected an object)")
    return RunState(
        hp=hp,
        params={n: arrays[n] for n in PARAM_NAMES},
        velocity={n: arrays[f"v_{n}"] for n in PARAM_NAMES},
        order=order.astype(np.int64),
        counters=counters,
        rng=info["rng"],
        variant_state=_variant_state(arrays, info, hp, (K, H), where),
        meta=meta,
    )


def _run_information(arrays: dict[str, NDArray[Any]], where: str) -> tuple[dict[str, Any], HyperParams, TrainState]:
    """The JSON ``info`` member (untrusted): the format, the settings, the counters, the generators."""
    try:
        info = json.loads(str(arrays["info"][()]))
        if info.get("format") != FORMAT:
            raise CheckpointError(f"{where}: unknown format {info.get('format')!r} (expected {FORMAT})")
        hp = HyperParams.from_dict(info["hparams"])
        counters = TrainState(**{k: int(v) for k, v in info["state"].items()})
        if min(vars(counters).values()) < 0 or counters.position > len(arrays["order"]):
            raise ValueError(f"counters out of range: {vars(counters)}")
        for key in ("order", "rule"):
            np.random.PCG64().state = info["rng"][key]  # raises on a malformed generator state
    except CheckpointError:
        raise
    except Exception as exc:  # untrusted JSON: ValueError, KeyError, OverflowError, RecursionError...
        raise CheckpointError(f"{where}: bad run information ({type(exc).__name__}: {exc})") from None
    return info, hp, counters


def _check_weights(arrays: dict[str, NDArray[Any]], where: str) -> tuple[int, int]:
    """(H, K) after checking W1 (H, D), b1 (H,), W2 (K, H), b2 (K,) and their momentum: shapes,
    float32, finite."""
    W1 = arrays["W1"]
    if W1.ndim != 2:
        raise CheckpointError(f"{where}: W1 must be 2-D (hidden x inputs), got shape {W1.shape}")
    H, D = W1.shape
    K = arrays["W2"].shape[0] if arrays["W2"].ndim == 2 else -1
    shapes = {"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)}
    for name, shape in shapes.items():
        for key in (name, f"v_{name}"):
            arr = arrays[key]
            if arr.shape != shape or K < 1:
                raise CheckpointError(f"{where}: {key} has shape {arr.shape}, expected {shape}")
            if arr.dtype != np.float32:
                raise CheckpointError(f"{where}: {key} has dtype {arr.dtype}, expected float32")
            if not np.isfinite(arr).all():
                raise CheckpointError(f"{where}: {key} contains NaN or infinity")
    return H, K


def _variant_state(
    arrays: dict[str, NDArray[Any]], info: dict[str, Any], hp: HyperParams, shape: tuple[int, int], where: str
) -> dict[str, NDArray[Any]]:
    """The variant's arrays (``rule_*`` members), checked by the variant itself for a (K, H) net;
    every piece ``info`` says was saved must be there."""
    keys = {k for k in arrays if k.startswith(RULE_PREFIX)}
    allowed = {RULE_PREFIX + n for n in make_rule(hp).state_names()}
    declared = info.get("variant_state")  # (absent in checkpoints written before it was kept)
    if declared is not None:
        if not isinstance(declared, list) or not all(isinstance(n, str) for n in declared):
            raise CheckpointError(f"{where}: bad run information (variant_state is not a list of names)")
        missing = sorted({RULE_PREFIX + n for n in declared} - keys)
        if missing:
            raise CheckpointError(
                f"{where}: the {hp.variant} variant's state {', '.join(missing)} is missing, so the run cannot "
                "continue as it trained (start it afresh instead of resuming)"
            )
    if keys - allowed:
        raise CheckpointError(
            f"{where}: unexpected arrays {', '.join(sorted(keys - allowed))} for variant {hp.variant}"
        )
    state = {}
    for key in sorted(keys):
        arr = arrays[key]
        if arr.dtype not in (np.float32, np.int64, np.bool_) or arr.ndim > 3 or not np.isfinite(arr).all():
            raise CheckpointError(
                f"{where}: {key} must be a finite float32, int64 or bool array of at most 3 dimensions"
            )
        state[key[len(RULE_PREFIX) :]] = arr
    try:  # the variant checks every piece now, so a bad one is refused before anything is touched
        make_rule(hp).load_state(state, shape)
    except ValueError as exc:
        raise CheckpointError(f"{where}: {hp.variant} state: {exc}") from None
    return state
