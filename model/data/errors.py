"""The one exception type of the data pipeline and helpers that phrase OS errors as DataError.

Leaves out: any I/O itself; modules raise these where the failure happens.
"""

from __future__ import annotations

import os


class DataError(Exception):
    """One-line, user-facing message: which file, what is wrong, what to do."""

    def __init__(self, message: str) -> None:
        # Keep it on one line whatever the underlying error text looked like.
        super().__init__(" ".join(str(message).split()))


class CallbackError(Exception):
    """Carries an exception raised by the caller's progress callback up to the public API.

    The public functions re-raise ``original`` unchanged, so a callback can cancel a load.
    """

    def __init__(self, original: Exception) -> None:
        super().__init__(repr(original))
        self.original = original


def os_error(path: str | os.PathLike[str], exc: OSError, hint: str) -> DataError:
    """Turn an OSError about ``path`` into a DataError "path: what is wrong; hint"."""
    if isinstance(exc, FileNotFoundError):
        what = "does not exist"
    elif isinstance(exc, PermissionError):
        what = "permission denied"
        hint = "make it readable (e.g. chmod u+r) or copy it somewhere readable"
    elif isinstance(exc, IsADirectoryError):
        what = "is a directory where a file was expected"
    elif isinstance(exc, NotADirectoryError):
        what = "a parent of this path is not a directory"
    else:
        what = exc.strerror or str(exc) or type(exc).__name__
    return DataError(f"{os.fspath(path)}: {what}; {hint}")
