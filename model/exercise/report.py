"""What ``exercise check`` found: a report per step, diagnoses with hints, and the table of mistakes.

Plain frozen dataclasses (they cross from the child process that runs the student's code to the
caller by pickling). ``MISTAKES`` is the one table of the mistakes the diagnosis can name; the
front ends print its names and hints. Leaves out how the numbers are found (``steps``,
``diagnose``) and how they are drawn (the command line and the app).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """A common mistake: the name a diagnosis gives it and a one-line hint."""

    name: str
    hint: str


MISTAKES: dict[str, Mistake] = {
    "transposed": Mistake(
        "transposed",
        "a gradient has its parameter's shape: dW1 = delta1 x^T is (H, D) and dW2 = delta2 h^T is (K, H); "
        "for a minibatch delta1^T X and delta2^T H",
    ),
    "factor-of-b": Mistake(
        "a factor of B",
        "loss_batch is the mean over the batch, so its gradient is the mean of the examples' gradients: "
        "divide the sum over the batch by B exactly once",
    ),
    "sign": Mistake("wrong sign", "dL/dz2 = p - t (probabilities minus the one-hot target), not t - p"),
    "constant-factor": Mistake(
        "a constant factor", "the gradient has no extra constant: look for a stray 2, 1/2 or a repeated term"
    ),
    "missing-act-grad": Mistake(
        "the activation's derivative is missing",
        "dL/dz1 = (W2^T delta2) * act'(z1): multiply elementwise by the activation's derivative",
    ),
    "act-grad-point": Mistake(
        "the activation's derivative at the wrong point",
        "act' is the derivative at z1 = W1 x + b1; written from h = act(z1) it is relu: [h > 0], "
        "tanh: 1 - h^2, sigmoid: h (1 - h); do not apply act again to h, and do not put z1 into the h form",
    ),
    "bias-not-summed": Mistake(
        "a bias gradient not summed over the batch",
        "db1 = sum of delta1 over the batch (axis 0), shape (H,); db2 likewise, shape (K,)",
    ),
    "softmax-overflow": Mistake(
        "softmax overflow on large logits",
        "exp overflows above about 709: subtract each example's largest logit first, "
        "softmax(z) = softmax(z - max z), and take log p as (z - max z) - log sum exp(z - max z)",
    ),
    "one-class": Mistake(
        "the gradient for one class only",
        "dL/dz2 = p - t has an entry for every class k, p_k - [k = y]: the other classes' p_k count too",
    ),
    "broadcast": Mistake(
        "silent broadcasting",
        "numpy stretched a shape without an error: build the one-hot target t (K,) or (B, K) instead of "
        "subtracting the label number, and check each result's shape (x[:, None], keepdims, sum(axis=0))",
    ),
    "wrong-shape": Mistake("a wrong shape", "each gradient has exactly its parameter's shape"),
    "not-finite": Mistake(
        "NaN or infinity", "a gradient on an ordinary toy net is finite: look for 0/0, log(0), inf - inf"
    ),
    "precision": Mistake(
        "lost precision", "compute in the dtype of the inputs (float64 in the check): casting to float32 loses digits"
    ),
    "wrong-activation": Mistake(
        "a different activation", "the forward pass uses the activation named by ACTIVATION at the top of the file"
    ),
    "not-dict": Mistake("not a dict", 'return a dict {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}'),
    "not-a-number": Mistake("not a number", "loss_one and loss_batch return one float"),
    "loop": Mistake(
        "a Python loop over examples",
        "use matrix products over the whole batch (delta1^T X, ...): a loop runs per example in slow Python",
    ),
}


@dataclass(frozen=True)
class Diagnosis:
    """A mistake the numbers point to: which one (a ``MISTAKES`` key), where, the evidence, a hint."""

    mistake: str
    params: tuple[str, ...]  # parameters (or functions) it concerns; may be empty
    detail: str  # one line with the numbers that show it
    hint: str = ""  # one line; empty: the table's hint

    @property
    def name(self) -> str:
        return MISTAKES[self.mistake].name

    @property
    def advice(self) -> str:
        return self.hint or MISTAKES[self.mistake].hint


@dataclass(frozen=True)
class Mismatch:
    """One entry where the student's value and the expected one disagree."""

    param: str
    index: tuple[int, ...]
    got: float
    expected: float
    rel_error: float
    case: str = ""  # which call it was, e.g. "example 2" (when several were compared)


@dataclass(frozen=True)
class HeatMap:
    """Relative errors of one parameter's entries, as text rows (see ``heatmap``)."""

    param: str
    shape: tuple[int, ...]
    lines: tuple[str, ...]


#: A step's outcome: passed, failed (with numbers and diagnoses), its function still to write,
#: left out because an earlier step failed, stopped at its time limit, or not asked for.
STATUSES = ("pass", "fail", "todo", "skipped", "timeout", "off")


@dataclass(frozen=True)
class StepReport:
    """One step of the check: verdict, the numbers, and when it failed why.

    ``lines``: what was compared and how far apart, each one line with its tolerance.
    ``error``: one line when student code raised or ran out of time (file and line named).
    ``todo``: the function to write next (status "todo").
    """

    number: int
    title: str
    status: str
    lines: tuple[str, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    heatmap: HeatMap | None = None
    mismatches: tuple[Mismatch, ...] = ()
    error: str = ""
    todo: str = ""
    seconds: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)  # e.g. test_error, ratio, angles

    @property
    def passed(self) -> bool:
        return self.status == "pass"
