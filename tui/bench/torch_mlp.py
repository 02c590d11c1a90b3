"""The same MLP and SGD step in PyTorch (CPU), for a speed comparison; optional.

784 -> H relu -> 10, mean cross-entropy, SGD with heavy-ball momentum (PyTorch's
``v = mu v + g; W -= lr v`` is the trainer's rule), minibatches gathered from a fixed
permutation, and the loss read back as a Python float each step like the trainer does.
The input does not require a gradient, so no dX is computed on either side. ``TorchRun``
follows a whole ``HyperParams`` recipe (schedule and warm-up, label smoothing, weight decay on
the weights only), so a preset can be raced against what a PyTorch user would write.
PyTorch is not a dependency: ``make_torch_step`` and ``torch_run`` return None without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.config import HyperParams
from model.data import MNIST
from model.schedule import lr_at


def torch_version() -> str | None:
    """The installed PyTorch version, or None."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def set_torch_threads(n: int) -> None:
    """PyTorch's intra-op threads (no-op without PyTorch)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(n)


def make_torch_step(
    X: NDArray[np.float32],
    y: NDArray[np.int64],
    hidden: int,
    batch_size: int,
    threads: int,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
) -> Callable[[], float] | None:
    """A zero-argument function doing one SGD step and returning the loss; None without PyTorch.

    X: (N, D) float32, y: (N,) int64, shared with numpy (no copy).
    """
    hp = HyperParams().validated(hidden=hidden, batch_size=batch_size, lr=lr, momentum=momentum, seed=seed)
    run = torch_run(X, y, hp, threads)
    return None if run is None else run.step


def torch_run(X: NDArray[np.float32], y: NDArray[np.int64], hp: HyperParams, threads: int) -> TorchRun | None:
    """A ``TorchRun`` of ``hp`` on (X, y), or None without PyTorch."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return TorchRun(X, y, hp, threads)


class TorchRun:
    """``hp``'s recipe in PyTorch: width, batch size, learning rate and its schedule (the trainer's
    own ``lr_at``, warm-up included, set before each step), momentum, weight decay on the
    weights, label smoothing. PyTorch's default initialisation and its own shuffling (a new
    permutation each epoch). X: (N, D) float32, y: (N,) int64, shared with numpy (no copy).
    """

    def __init__(self, X: NDArray[np.float32], y: NDArray[np.int64], hp: HyperParams, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(hp.seed)
        self.hp, self.n, self.torch = hp, len(y), torch
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], hp.hidden), torch.nn.ReLU(), torch.nn.Linear(hp.hidden, 10)
        )
        weights = [p for name, p in self.net.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in self.net.named_parameters() if name.endswith("bias")]
        self.opt = torch.optim.SGD(
            [{"params": weights, "weight_decay": hp.weight_decay}, {"params": biases, "weight_decay": 0.0}],
            lr=hp.lr,
            momentum=hp.momentum,
        )
        self.loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing)
        self.generator = torch.Generator().manual_seed(hp.seed)
        self.order = torch.randperm(self.n, generator=self.generator)
        self.examples_seen = 0
        self.pos = 0

    def step(self) -> float:
        """One SGD step on the next minibatch; returns its loss."""
        if self.pos >= self.n:
            self.pos = 0
            self.order = self.torch.randperm(self.n, generator=self.generator)
        idx = self.order[self.pos : self.pos + self.hp.batch_size]
        self.pos += len(idx)
        lr = lr_at(self.hp, self.examples_seen / self.n)
        for group in self.opt.param_groups:
            group["lr"] = lr
        xb, yb = self.X.index_select(0, idx), self.y.index_select(0, idx)  # (B, D), (B,)
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.net(xb), yb)
        loss.backward()
        self.opt.step()
        self.examples_seen += len(idx)
        return float(loss.item())

    def error(self, X: NDArray[np.float32], y: NDArray[np.int64]) -> float:
        """Error rate on (X (N, D), y (N,))."""
        with self.torch.no_grad():
            pred = self.net(self.torch.from_numpy(X)).argmax(dim=1).numpy()
        return float(np.mean(pred != y))


def race_data(data: MNIST) -> dict[str, Any]:
    """The evaluation sets a race scores: name -> (X, y)."""
    return {"valid": (data.valid_x, data.valid_y), "test": (data.test_x, data.test_y)}
