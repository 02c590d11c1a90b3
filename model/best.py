"""The best validation error of a run so far, and the test error measured at that moment.

One bookkeeping for the headless ``fit`` (which also keeps the weights there, for early
stopping) and the app's worker (which shows the figures). Leaves out when to evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.trainer import EvalMetrics


@dataclass
class BestSoFar:
    """Lowest validation error seen (train error when there is no validation set).

    ``params``: a copy of the weights at that evaluation when ``keep_params`` (else empty).
    """

    keep_params: bool = False
    valid_error: float | None = None
    test_error: float | None = None  # at the best validation error (None: no test set)
    examples_seen: int = 0
    params: dict[str, np.ndarray] = field(default_factory=dict)

    def update(self, metrics: EvalMetrics, params: dict[str, np.ndarray] | None = None) -> bool:
        """Take ``metrics`` if it beats the best so far; True if it did."""
        results = metrics.results
        name = "valid" if "valid" in results else "train"
        if name not in results:
            return False
        error = results[name][1]
        if self.valid_error is not None and not error < self.valid_error:
            return False
        self.valid_error = error
        self.test_error = results["test"][1] if "test" in results else None
        self.examples_seen = metrics.examples_seen
        if self.keep_params and params is not None:
            self.params = {k: v.copy() for k, v in params.items()}
        return True

    def restore(self, valid_error: float | None, test_error: float | None) -> None:
        """Continue from figures a checkpoint carried (a resumed run)."""
        self.valid_error, self.test_error = valid_error, test_error
