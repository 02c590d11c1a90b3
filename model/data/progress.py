"""A throttled, optional progress reporter shared by the download and load steps.

The caller passes ``progress(message, fraction_or_None)``; this module only decides when to call
it (message changes, or the fraction moves by at least 1 %). Leaves out any rendering.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import CallbackError

#: ``progress(message, fraction_or_None)``: what every front end hands the data pipeline.
ProgressFn = Callable[[str, float | None], None]


class Reporter:
    """Callable wrapper around an optional progress callback; cheap when there is none."""

    def __init__(self, fn: ProgressFn | None, step: float = 0.01) -> None:
        self._fn = fn
        self._step = step
        self._last_message: str | None = None
        self._last_fraction: float | None = None

    def __call__(self, message: str, fraction: float | None = None) -> None:
        """Report ``message`` with ``fraction`` in [0, 1] (None when unknown)."""
        if self._fn is None:
            return
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
            if (
                message == self._last_message
                and self._last_fraction is not None
                and fraction < 1.0
                and abs(fraction - self._last_fraction) < self._step
            ):
                return
        elif message == self._last_message and self._last_fraction is None:
            return
        self._last_message, self._last_fraction = message, fraction
        try:
            self._fn(message, fraction)
        except Exception as exc:  # surfaced unchanged by the public API
            raise CallbackError(exc) from exc
