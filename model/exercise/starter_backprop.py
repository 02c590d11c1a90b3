"""Backprop for a one-hidden-layer network, written by you.

The network, for one example x (D,) with label y (an int in 0..K-1):

    z1 = W1 x + b1          W1: (H, D)   b1: (H,)     z1, h: (H,)
    h  = act(z1)            act: the ACTIVATION below
    z2 = W2 h + b2          W2: (K, H)   b2: (K,)     z2, p: (K,)
    p  = softmax(z2)        p_k = exp(z2_k) / sum_j exp(z2_j)
    L  = -log p_y           the cross-entropy with the one-hot target t (t_y = 1)

Write the four functions below, in this order, and after each one run

    mnist-tui exercise check backprop.py

  1. loss_one     L for one example: the forward pass.
  2. grads_one    dL/dW1, dL/db1, dL/dW2, dL/db2 for one example: backprop. The check compares
                  every entry with central differences of your own loss_one on a toy net
                  (D=10, H=5, K=2), as numpy.testing.assert_allclose would.
  3. loss_batch   the mean of L over a minibatch X (B, D), y (B,), with no Python loop over
                  the examples (rows of X are examples).
  4. grads_batch  the gradient of loss_batch, vectorised the same way: this is what training
                  uses. The check compares it with grads_one averaged over the batch, trains
                  with it on MNIST (the goal: under 5% test error) and times it.

The check stops at the first function that still raises NotImplementedError and says what is
wrong when a step fails. When every step passes, watch your backprop train:

    mnist-tui --backprop backprop.py

params is a dict of numpy arrays {"W1", "b1", "W2", "b2"}. Return new arrays: never change
params, x, X or y in place (they are read-only). The arrays are float64 in the check and float32
while training. This file is run as your own Python code, as `python backprop.py` would run it.
"""

import numpy as np
from numpy.typing import NDArray

ACTIVATION = "relu"  # or "tanh" / "sigmoid"

Array = NDArray[np.floating]
Params = dict[str, Array]


def loss_one(params: Params, x: Array, y: int) -> float:
    """The loss -log p_y of one example.

    params: W1 (H, D), b1 (H,), W2 (K, H), b2 (K,). x: (D,). y: the label, an int in 0..K-1.
    Returns one float.
    """
    raise NotImplementedError("compute z1, h, z2 and p as in the equations above, then return -log p[y]")


def grads_one(params: Params, x: Array, y: int) -> dict[str, Array]:
    """The gradient of loss_one(params, x, y) with respect to every parameter.

    Returns {"W1": dW1 (H, D), "b1": db1 (H,), "W2": dW2 (K, H), "b2": db2 (K,)}: each shaped
    like its parameter.
    """
    raise NotImplementedError("run the forward pass, then go backwards: dL/dz2 first, then W2 and b2, then z1")


def loss_batch(params: Params, X: Array, y: NDArray[np.integer]) -> float:
    """The mean loss over a minibatch.

    X: (B, D), one example per row. y: (B,) int labels. Returns one float: the mean of the B
    examples' losses. No Python loop over the examples.
    """
    raise NotImplementedError("the forward pass of loss_one for all rows of X at once (matrix products)")


def grads_batch(params: Params, X: Array, y: NDArray[np.integer]) -> dict[str, Array]:
    """The gradient of loss_batch(params, X, y): the same dict as grads_one, each entry shaped
    like its parameter. No Python loop over the examples.
    """
    raise NotImplementedError("grads_one for all rows at once: stack the examples' deltas as rows of a matrix")
