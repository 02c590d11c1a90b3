"""Checkpoints: the weights, momentum, order and RNG state of a run, in one ``.npz``.

Written atomically (a temp file in the same folder, fsync, ``os.replace``), so a
crash or kill mid-write leaves the old file or the new one, never a torn one.
Loaded with ``allow_pickle=False``; every array's name, shape and dtype is checked
and a problem is reported as one ``CheckpointError`` line. The run's config and
counters travel as a JSON string inside the archive.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.atomic import atomic_write
from model.config import SPECS, HyperParams
from model.data.validate import MAX_EXAMPLES, PIXELS
from model.mlp import MLP, PARAM_NAMES
from model.safe_read import Member, open_regular, read_npz
from model.trainer import Trainer, TrainState
from model.variants import VARIANT_NAMES, make_rule

RULE_PREFIX = "rule_"  # arrays a backward-pass variant carries between steps
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


@dataclass
class Checkpoint:
    """What a checkpoint holds, validated."""

    params: dict[str, NDArray[np.float32]]
    velocity: dict[str, NDArray[np.float32]]
    order: NDArray[np.int64]
    hp: HyperParams
    state: TrainState
    rng_states: dict[str, Any]
    meta: dict[str, Any]
    rule_state: dict[str, NDArray[Any]] = field(default_factory=dict)  # e.g. a fixed feedback matrix

    def model(self) -> MLP:
        """An MLP holding these weights."""
        H, D = self.params["W1"].shape
        model = MLP(D, H, self.params["W2"].shape[0], self.hp.activation)
        model.set_params(self.params)
        return model

    def state_dict(self) -> dict[str, Any]:
        """The run in ``Trainer.state_dict``'s shape."""
        return {
            "hp": self.hp,
            "params": self.params,
            "velocity": self.velocity,
            "order": self.order,
            "counters": vars(self.state),
            "rng": self.rng_states,
            "variant_state": self.rule_state,
        }

    def apply_to(self, trainer: Trainer) -> None:
        """Continue this run in ``trainer``: weights, momentum, order, counters and RNGs.

        CheckpointError (and ``trainer`` untouched) if it was made for other data or outputs.
        The trainer's last-good snapshot becomes the resumed weights.
        """
        try:
            trainer.load_state_dict(self.state_dict())
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {exc}") from None


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """Where ``save_checkpoint(path, ...)`` writes: ``path`` with ``.npz`` appended if it lacks it."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_checkpoint(path: str | os.PathLike[str], trainer: Trainer, meta: dict[str, Any] | None = None) -> Path:
    """Write ``trainer``'s run to ``path`` atomically; returns the path. Raises CheckpointError
    (one line saying what is wrong: a folder given as the file, a file where a folder must be)."""
    given = Path(path)
    path = checkpoint_path(path)
    try:
        if given.is_dir():  # not <folder>.npz beside it: the user named a folder
            raise CheckpointError(
                f"cannot write checkpoint {given}: it is a folder; name a file in it, e.g. {given / 'run.npz'}"
            )
        if path.exists() and not path.is_file():  # a FIFO, device or folder: never replace it
            raise CheckpointError(f"cannot write checkpoint {path}: it exists and is not a regular file")
        blocker = next((p for p in path.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise CheckpointError(f"cannot write checkpoint {path}: {blocker} is a file, not a folder")
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None
    run = trainer.state_dict()
    info = {
        "format": FORMAT,
        "hparams": run["hp"].to_dict(),
        "state": run["counters"],
        "rng": run["rng"],
        "meta": meta or {},
        "variant_state": sorted(run["variant_state"]),  # so a load can tell a piece that went missing
    }
    arrays: dict[str, NDArray[Any]] = dict(run["params"])
    arrays.update({f"v_{name}": value for name, value in run["velocity"].items()})
    arrays["order"] = run["order"]
    arrays.update({f"{RULE_PREFIX}{name}": value for name, value in run["variant_state"].items()})
    arrays["info"] = np.array(json.dumps(info, default=int))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]  # numpy's stub types **kwds too narrowly
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and validate a checkpoint; CheckpointError says what is wrong in one line."""
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
    except MemoryError:
        total = sum(m.nbytes for m in declared) / 2**20
        raise CheckpointError(f"{where}: not enough memory for the {total:,.0f} MiB of arrays it declares") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except Exception as exc:  # a damaged zip raises a zoo of types (BadZipFile, NotImplementedError, ...)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip()
        reason = reason.splitlines()[0] if reason else type(exc).__name__
        raise CheckpointError(f"{where}: not a readable .npz checkpoint ({reason})") from None
    return _validate(arrays, where)


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
    for name in rule_names:
        shape = members[name].shape
        fits = (
            shape in ((), (K, H))
            or (len(shape) == 3 and shape[1:] in ((K, H), (H, W1[1])) and shape[0] <= MAX_STALE_RING)
            or (len(shape) == 2 and shape[1] in (H, K) and shape[0] <= MAX_STALE_RING)
            or (len(shape) == 2 and shape[1] == H and shape[0] <= n_rows)
            or (len(shape) == 1 and shape[0] <= n_rows)
        )
        if not fits:
            raise CheckpointError(f"{members[name].describe()} does not fit a {K}x{H} network")


def _validate(arrays: dict[str, NDArray[Any]], where: str) -> Checkpoint:
    expected = {*PARAM_NAMES, *(f"v_{n}" for n in PARAM_NAMES), "order", "info"}
    rule_keys = {k for k in arrays if k.startswith(RULE_PREFIX)}
    for name in sorted(expected):
        if not isinstance(arrays[name], np.ndarray):  # np.load hands back raw bytes for a non-.npy member
            raise CheckpointError(f"{where}: {name} is not an array")
    try:
        info = json.loads(str(arrays["info"][()]))
        if info.get("format") != FORMAT:
            raise CheckpointError(f"{where}: unknown format {info.get('format')!r} (expected {FORMAT})")
        hp = HyperParams.from_dict(info["hparams"])
        state = TrainState(**{k: int(v) for k, v in info["state"].items()})
        if min(vars(state).values()) < 0 or state.position > len(arrays["order"]):
            raise ValueError(f"counters out of range: {vars(state)}")
        rng_states = info["rng"]
        for key in ("order", "rule"):
            np.random.PCG64().state = rng_states[key]  # raises on a malformed generator state
    except CheckpointError:
        raise
    except Exception as exc:  # untrusted JSON: ValueError, KeyError, OverflowError, RecursionError...
        raise CheckpointError(f"{where}: bad run information ({type(exc).__name__}: {exc})") from None
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
    if hp.hidden != H:
        try:
            hp = hp.validated(hidden=H)
        except ValueError as exc:
            raise CheckpointError(f"{where}: {exc}") from None
    order = arrays["order"]
    if order.ndim != 1 or order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(len(order))):
        raise CheckpointError(f"{where}: order is not a permutation of the training set")
    allowed = {RULE_PREFIX + n for n in make_rule(hp).state_names()}
    declared = info.get("variant_state")  # (absent in checkpoints written before it was kept)
    if declared is not None:
        if not isinstance(declared, list) or not all(isinstance(n, str) for n in declared):
            raise CheckpointError(f"{where}: bad run information (variant_state is not a list of names)")
        missing = sorted({RULE_PREFIX + n for n in declared} - rule_keys)
        if missing:
            raise CheckpointError(
                f"{where}: the {hp.variant} variant's state {', '.join(missing)} is missing, so the run cannot "
                "continue as it trained (start it afresh instead of resuming)"
            )
    if rule_keys - allowed:
        unexpected = ", ".join(sorted(rule_keys - allowed))
        raise CheckpointError(f"{where}: unexpected arrays {unexpected} for variant {hp.variant}")
    rule_state = {}
    for key in sorted(rule_keys):
        arr = arrays[key]
        if arr.dtype not in (np.float32, np.int64, np.bool_) or arr.ndim > 3 or not np.isfinite(arr).all():
            raise CheckpointError(
                f"{where}: {key} must be a finite float32, int64 or bool array of at most 3 dimensions"
            )
        rule_state[key[len(RULE_PREFIX) :]] = arr
    try:  # the variant checks every piece now, so a bad one is refused before anything is touched
        make_rule(hp).load_state(rule_state, (K, H))
    except ValueError as exc:
        raise CheckpointError(f"{where}: {hp.variant} state: {exc}") from None
    return Checkpoint(
        rule_state=rule_state,
        params={n: arrays[n] for n in PARAM_NAMES},
        velocity={n: arrays[f"v_{n}"] for n in PARAM_NAMES},
        order=order.astype(np.int64),
        hp=hp,
        state=state,
        rng_states=rng_states,
        meta=info.get("meta", {}),
    )
