"""Exit statuses of every ``mnist-tui`` command, in one place.

OK        0    done
INTERNAL  1    a bug (one line on stderr, the traceback in the log); for ``exercise check``:
               a step of the student's check failed (``tui.exercise_cli.CHECK_FAILED``)
USAGE     2    bad input: a flag, a file, a folder; one line says what
DIVERGED  3    ``train`` diverged (the last good weights are saved with --save)
NOT_SOLVED 1   ``train --challenge``: the challenge was not solved (a divergence included); as
               ``replay`` says 1 for "not identical", a result, not a bug
128 + n        stopped by signal n (SIGINT 130, SIGHUP 129, SIGTERM 143, a closed pipe 141),
               as a shell reports a process the signal killed
"""

from __future__ import annotations

import signal as _signal

OK = 0
INTERNAL = 1
USAGE = 2
DIVERGED = 3
NOT_SOLVED = 1


def from_signal(signum: int) -> int:
    """The status a shell shows for a process stopped by ``signum``: 128 + its number."""
    return 128 + int(signum)


BROKEN_PIPE = from_signal(_signal.SIGPIPE)  # what `yes | head -1` reports for yes
