"""Checkpoints: the weights, momentum, order and RNG state of a run, in one ``.npz``.

Written atomically (a temp file in the same folder, fsync, ``os.replace``), so a
crash or kill mid-write leaves the old file or the new one, never a torn one.
Loaded with ``allow_pickle=False``; every array's name, shape and dtype is checked
and a problem is reported as one ``CheckpointError`` line. The run's config and
counters travel as a JSON string inside the archive.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from model.atomic import atomic_write
from model.config import HyperParams
from model.mlp import MLP, PARAM_NAMES
from model.trainer import Trainer, TrainState

RULE_PREFIX = "rule_"  # arrays a backward-pass variant carries between steps
FORMAT = "mnist-tui-checkpoint/1"


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

    def apply_to(self, trainer: Trainer) -> None:
        """Continue this run in ``trainer``: weights, momentum, order, counters and RNGs.

        CheckpointError (and ``trainer`` untouched) if it was made for other data or outputs.
        The trainer's last-good snapshot becomes the resumed weights.
        """
        if len(self.order) != len(trainer.train[0]):
            n_data = len(trainer.train[0])
            raise CheckpointError(f"checkpoint was made on {len(self.order)} training examples, not {n_data}")
        D, K = self.params["W1"].shape[1], self.params["W2"].shape[0]
        D_data, K_model = trainer.train[0].shape[1], trainer.model.shape[2]
        if D_data != D or K_model != K:
            raise CheckpointError(f"checkpoint has {D} inputs and {K} classes, the trainer {D_data} and {K_model}")
        trainer.reset(self.hp)
        trainer.model.set_params(self.params)
        for name in PARAM_NAMES:
            trainer.velocity[name][...] = self.velocity[name]
        trainer.order = self.order.copy()
        trainer.state = TrainState(**vars(self.state))
        trainer.order_rng.bit_generator.state = self.rng_states["order"]
        trainer.rule_rng.bit_generator.state = self.rng_states["rule"]
        load_state = getattr(trainer.rule, "load_state", None)
        if self.rule_state and load_state is not None:
            try:
                load_state(self.rule_state)
            except ValueError as exc:
                raise CheckpointError(f"checkpoint's {self.hp.variant} state: {exc}") from None
        trainer._take_snapshot()  # a divergence right after resuming goes back here, not to fresh weights


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """Where ``save_checkpoint(path, ...)`` writes: ``path`` with ``.npz`` appended if it lacks it."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_checkpoint(path: str | os.PathLike[str], trainer: Trainer, meta: dict[str, Any] | None = None) -> Path:
    """Write ``trainer``'s run to ``path`` atomically; returns the path. Raises CheckpointError."""
    path = checkpoint_path(path)
    try:
        if path.exists() and not path.is_file():  # a FIFO, device or folder: never replace it
            raise CheckpointError(f"cannot write checkpoint {path}: it exists and is not a regular file")
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None
    info = {
        "format": FORMAT,
        "hparams": trainer.hp.to_dict(),
        "state": vars(trainer.state),
        "rng": {"order": trainer.order_rng.bit_generator.state, "rule": trainer.rule_rng.bit_generator.state},
        "meta": meta or {},
    }
    arrays: dict[str, NDArray[Any]] = {name: value for name, value in trainer.model.params.items()}
    arrays.update({f"v_{name}": value for name, value in trainer.velocity.items()})
    arrays["order"] = trainer.order
    rule_state: dict[str, NDArray[Any]] = getattr(trainer.rule, "state", dict)()
    arrays.update({f"{RULE_PREFIX}{name}": value for name, value in rule_state.items()})
    arrays["info"] = np.array(json.dumps(info, default=int))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]  # numpy's stub types **kwds too narrowly
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None
    return path


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file; OSError (with a reason) otherwise.

    Opened non-blocking, so a FIFO (even one swapped in after a check) cannot hang the caller,
    and refused unless fstat says regular file: no FIFO, device (``/dev/zero``), socket or folder.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
            raise OSError(errno.EINVAL, f"is {kind}, not a checkpoint file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
    try:
        with f, np.load(f, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except MemoryError:
        raise CheckpointError(f"{where}: too large to load") from None
    except Exception as exc:  # a damaged zip raises a zoo of types (BadZipFile, NotImplementedError, ...)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip()
        reason = reason.splitlines()[0] if reason else type(exc).__name__
        raise CheckpointError(f"{where}: not a readable .npz checkpoint ({reason})") from None
    return _validate(arrays, where)


def _validate(arrays: dict[str, NDArray[Any]], where: str) -> Checkpoint:
    expected = {*PARAM_NAMES, *(f"v_{n}" for n in PARAM_NAMES), "order", "info"}
    rule_keys = {k for k in arrays if k.startswith(RULE_PREFIX) and len(k) > len(RULE_PREFIX)}
    missing, extra = expected - arrays.keys(), arrays.keys() - expected - rule_keys
    if missing:
        raise CheckpointError(f"{where}: missing arrays {', '.join(sorted(missing))}")
    if extra:
        raise CheckpointError(f"{where}: unexpected arrays {', '.join(sorted(extra))}")
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
    rule_state = {}
    for key in sorted(rule_keys):
        arr = arrays[key]
        if arr.dtype not in (np.float32, np.int64) or arr.ndim > 3 or not np.isfinite(arr).all():
            raise CheckpointError(f"{where}: {key} must be a finite float32 or int64 array of at most 3 dimensions")
        rule_state[key[len(RULE_PREFIX) :]] = arr
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
