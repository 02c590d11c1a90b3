"""The same MLP and SGD step in PyTorch (CPU), for a speed comparison; optional.

784 -> H relu -> 10, mean cross-entropy, SGD with heavy-ball momentum (PyTorch's
``v = mu v + g; W -= lr v`` is the trainer's rule), minibatches gathered from a fixed
permutation, and the loss read back as a Python float each step like the trainer does.
The input does not require a gradient, so no dX is computed on either side. PyTorch is
not a dependency: ``make_torch_step`` returns None when it is not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray


def torch_version() -> str | None:
    """The installed PyTorch version, or None."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


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
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    state: dict[str, Any] = {"pos": 0}

    def step() -> float:
        pos = state["pos"]
        if pos >= len(order):
            pos = 0
        idx = order[pos : pos + batch_size]
        state["pos"] = pos + batch_size
        xb, yb = X_t.index_select(0, idx), y_t.index_select(0, idx)  # (B, D), (B,)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step
