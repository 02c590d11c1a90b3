"""Pure-numpy core of mnist-tui: the MLP, its backward passes, training, checks and data.

Nothing here imports the user interface; ``tui`` builds on this package.
"""

from model.activations import ACTIVATIONS, get_activation
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import HyperParams, parse_value
from model.mlp import MLP, backprop_one_example, backward, cross_entropy, log_softmax, softmax
from model.state import RunState
from model.trainer import EvalMetrics, StepMetrics, Trainer

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "CheckpointError",
    "EvalMetrics",
    "HyperParams",
    "RunState",
    "StepMetrics",
    "Trainer",
    "backprop_one_example",
    "backward",
    "cross_entropy",
    "get_activation",
    "load_checkpoint",
    "log_softmax",
    "parse_value",
    "save_checkpoint",
    "softmax",
]
