"""Run records for the hostile-record tests and fuzzers: a well-formed record as ``train`` writes it,
and ways to damage it (a line, a field, the file itself).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOOD_ID = "20261206-055541-451e"
OTHER_ID = "20261206-060000-beef"

HPARAMS: dict[str, Any] = {
    "lr": 0.05,
    "batch_size": 500,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "constant",
    "lr_decay": 0.9,
    "epochs": 1,
    "hidden": 32,
    "activation": "relu",
    "seed": 0,
    "variant": "exact",
    "sigma": 0.5,
    "stale_k": 10,
    "augment": 0,
    "dropout": 0.0,
    "input_dropout": 0.0,
    "max_norm": 0.0,
    "target_error": 0.0,
}


def meta(run_id: str = GOOD_ID, **changes: Any) -> dict[str, Any]:
    """run.json of a finished one-epoch ``train`` run (as the recorder writes it)."""
    return {
        "format": "mnist-tui-run/1",
        "id": run_id,
        "started": "2026-12-06T05:55:41+00:00",
        "source": "train",
        "hparams": dict(HPARAMS),
        "seed": 0,
        "variant": "exact",
        "start_step": 0,
        "start_examples": 0,
        "train_size": 2000,
        "data": "ae61aa0ce66b3473",
        "version": "0.1.0",
        "machine": {
            "cpu": "Intel(R) Xeon(R) Processor",
            "cores": 2,
            "python": "3.11.7",
            "numpy": "2.4.6",
            "blas": "openblas 0.3.31.188.0",
            "blas_threads": "1",
        },
        "point_every": 10,
        "policy": {"eval_every": 0, "keep_best": False, "mistakes": False},
    } | changes


def lines(steps: int = 4) -> list[dict[str, Any]]:
    """metrics.jsonl of a run of ``steps`` steps of 500 examples (2,000 per epoch): progress points
    every 10 steps from step 1, an hparam change, an evaluation and the end event."""
    out: list[dict[str, Any]] = []
    for step in range(1, steps + 1, 10):
        out.append(
            {
                "kind": "progress",
                "step": step,
                "examples": 500 * step,
                "epoch": round(500 * step / 2000, 6),
                "time": 0.01 * step,
                "lr": 0.05,
                "loss": 2.3 / step,
                "smoothed": 2.3 / step,
                "angles": {"W1": 0.0, "W2": 0.0},
            }
        )
    out.append({"kind": "event", "event": "hparam", "step": 2, "examples": 1000, "time": 0.02} | HP_CHANGE)
    out.append(
        {
            "kind": "progress",
            "step": steps,
            "examples": 500 * steps,
            "epoch": 500 * steps / 2000,
            "time": 0.05,
            "lr": 0.1,
            "loss": None,
            "smoothed": 0.7,
            "train_error": 0.2,
            "valid_error": 0.09,
            "test_error": 0.091,
            "train_loss": 0.69,
            "epoch_end": True,
        }
    )
    out.append(
        {"kind": "event", "event": "end", "step": steps, "examples": 500 * steps, "time": 0.06}
        | {"status": "finished", "checkpoint": None}
    )
    return out


HP_CHANGE = {"field": "lr", "old": 0.05, "new": 0.1}


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def write_record(
    root: Path,
    run_id: str = GOOD_ID,
    run_json: dict[str, Any] | str | None = None,
    metrics: list[dict[str, Any]] | str | None = None,
) -> Path:
    """A record folder ``root/run_id``; ``run_json``/``metrics`` as objects or raw text (None: well formed)."""
    folder = root / run_id
    folder.mkdir(parents=True, exist_ok=True)
    body = run_json if run_json is not None else meta(run_id)
    text = body if isinstance(body, str) else json.dumps(body, indent=2) + "\n"
    (folder / "run.json").write_bytes(text.encode("utf-8", "surrogatepass"))
    rows = metrics if metrics is not None else lines()
    text = rows if isinstance(rows, str) else "".join(dumps(r) + "\n" for r in rows)
    (folder / "metrics.jsonl").write_bytes(text.encode("utf-8", "surrogatepass"))
    return folder


def replace_file(path: Path, kind: str) -> None:
    """Put a special file in ``path``'s place: a FIFO, a link to /dev/zero, a folder, a link out."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dir":
        path.mkdir()
    else:
        raise ValueError(kind)


#: Damaged metrics lines: one of these replaces the hparam event (or is added) in a good record.
BAD_LINES: dict[str, str] = {
    "step Infinity": '{"kind":"progress","step":Infinity,"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "step NaN": '{"kind":"progress","step":NaN,"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "loss -Infinity": '{"kind":"progress","step":3,"examples":1,"epoch":0,"time":0,"lr":0.05,"loss":-Infinity}',
    "step 1e400": '{"kind":"progress","step":1e400,"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "step a string": '{"kind":"progress","step":"7","examples":1,"epoch":0,"time":0,"lr":0.05}',
    "step a dict": '{"kind":"progress","step":{},"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "step 1e23": '{"kind":"progress","step":1e23,"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "step 2**70": '{"kind":"progress","step":1180591620717411303424,"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "step 10^5000": '{"kind":"progress","step":1' + "0" * 5000 + ',"examples":1,"epoch":0,"time":0,"lr":0.05}',
    "negative examples": '{"kind":"progress","step":3,"examples":-1,"epoch":0,"time":0,"lr":0.05}',
    "loss a list": '{"kind":"progress","step":3,"examples":1,"epoch":0,"time":0,"lr":0.05,"loss":[1]}',
    "valid_error 5": '{"kind":"progress","step":3,"examples":1,"epoch":0,"time":0,"lr":0.05,"valid_error":5}',
    "valid_error 1e23": '{"kind":"progress","step":3,"examples":1,"epoch":0,"time":0,"lr":0.05,"valid_error":1e23}',
    "time 1e23": '{"kind":"progress","step":3,"examples":1,"epoch":0,"time":1e23,"lr":0.05}',
    "angles a string": '{"kind":"progress","step":3,"examples":1,"epoch":0,"time":0,"lr":0.05,"angles":"x"}',
    "nested 200,000": "[" * 200_000 + "]" * 200_000,
    "nested objects": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "a list": "[1, 2, 3]",
    "a number": "17",
    "null": "null",
    "no kind": '{"step":3}',
    "unknown kind": '{"kind":"rocket","step":3}',
    "event hparam lr -5": (
        '{"kind":"event","event":"hparam","step":2,"examples":1,"time":0,"field":"lr","old":0.05,"new":-5}'
    ),
    "event hparam lr 1e308": (
        '{"kind":"event","event":"hparam","step":2,"examples":1,"time":0,"field":"lr","old":0.05,"new":1e308}'
    ),
    "event hparam unknown field": (
        '{"kind":"event","event":"hparam","step":2,"examples":1,"time":0,"field":"rocket","old":1,"new":2}'
    ),
    "event hparam no step": '{"kind":"event","event":"hparam","examples":1,"time":0,"field":"lr","old":0.05,"new":0.1}',
    "event reset hidden 10^9": (
        '{"kind":"event","event":"reset","step":2,"examples":1,"time":0,"after_step":2,"hparams":'
        + dumps(HPARAMS | {"hidden": 10**9})
        + "}"
    ),
    "event reset no hparams": '{"kind":"event","event":"reset","step":2,"examples":1,"time":0,"after_step":2}',
    "event at step 10^12": '{"kind":"event","event":"pause","step":1000000000000,"examples":1,"time":0}',
    "event escape text": (
        '{"kind":"event","event":"end","step":4,"examples":1,"time":0,"status":"\\u001b[2J\\u001b]0;pwned\\u0007"}'
    ),
    "lone surrogate": '{"kind":"event","event":"end","step":4,"examples":1,"time":0,"status":"\\ud800"}',
    # a lone surrogate in the text itself: written as the bytes ED B3 BF, which are not UTF-8
    "invalid utf-8": '{"kind":"event","event":"end","step":4,"examples":1,"time":0,"status":"\udcff"}',
}

#: Damaged run.json contents.
BAD_META: dict[str, Callable[[], str]] = {
    "hparams a list": lambda: json.dumps(meta(hparams=[])),
    "hparams null": lambda: json.dumps(meta(hparams=None)),
    "hparams lr -5": lambda: json.dumps(meta(hparams=HPARAMS | {"lr": -5})),
    "hparams hidden 10^9": lambda: json.dumps(meta(hparams=HPARAMS | {"hidden": 10**9})),
    "hparams unknown": lambda: json.dumps(meta(hparams=HPARAMS | {"rocket": 1})),
    "machine a string": lambda: json.dumps(meta(machine="x")),
    "start_step Infinity": lambda: json.dumps(meta()).replace('"start_step": 0', '"start_step": Infinity'),
    "start_step 1e23": lambda: json.dumps(meta(start_step=1e23)),
    "train_size 10^9": lambda: json.dumps(meta(train_size=10**9)),
    "id traversal": lambda: json.dumps(meta(run_id="../../../outside/x")),
    "id absolute": lambda: json.dumps(meta(run_id="/tmp/hostile-abs/x")),
    "id escapes": lambda: json.dumps(meta(run_id="\x1b[2J\x1b]0;pwned\x07")),
    "id a number": lambda: json.dumps(meta(run_id=7)),  # type: ignore[arg-type]
    "source escapes": lambda: json.dumps(meta(source="\x1b[31mred")),
    "policy a list": lambda: json.dumps(meta(policy=[])),
    "policy keep_best a string": lambda: json.dumps(meta(policy={"keep_best": "yes"})),
    "start a string": lambda: json.dumps(meta(start="/etc/passwd")),
    "start changes lr -5": lambda: json.dumps(meta(start={"checkpoint": "/x.npz", "changes": {"lr": -5}})),
    "start sha256 not hex": lambda: json.dumps(meta(start={"checkpoint": "/x.npz", "sha256": "../x"})),
    "start checkpoint 8,000 characters": lambda: json.dumps(meta(start={"checkpoint": "\x1b[2J" * 2000})),
    "nested 200,000": lambda: "[" * 200_000 + "]" * 200_000,
    "a list": lambda: "[]",
    "empty": lambda: "",
    "not json": lambda: "{hello",
    "2 MiB of spaces": lambda: "{" + " " * (2 << 20) + "}",
}
