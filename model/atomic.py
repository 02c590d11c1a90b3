"""Write a file so that a crash, a kill or a full disk leaves the old file or the new one, never a torn one.

``atomic_write(path, write)`` hands ``write`` a binary file object on a temp file in the same
folder, then flushes, fsyncs, ``os.replace``s it onto ``path`` and fsyncs the folder. The temp
file is created with mode ``0o666``, which the kernel lowers by the process's umask (ordinary
permissions, as ``open`` gives; the umask is never read or changed, so other threads creating
files meanwhile are unaffected), and is removed on any failure; temp files that a killed writer
left behind are cleaned up on the next write.
``fsync_file`` and ``fsync_dir`` apply the same rule where another library does the rename (pooch
for downloads). Leaves out what is written (checkpoints, cache entries, downloads) and error
wording (callers turn OSError into their own one-line message).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"
STALE_SECONDS = 60.0  # a temp file older than this belongs to a writer that died


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` through ``write(file)`` atomically and durably; returns ``path``.

    OSError (and anything ``write`` raises) propagates; ``path`` is then untouched.
    """
    remove_stale_temps(path)
    fd, tmp = _new_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return path


def _new_temp(path: Path) -> tuple[int, Path]:
    """A new, exclusive temp file beside ``path``, mode 0o666 less the umask (the kernel applies it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def remove_stale_temps(path: Path, min_age: float = STALE_SECONDS) -> None:
    """Delete temp files that an interrupted write of ``path`` (e.g. SIGKILL) left behind."""
    now = time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - tmp.lstat().st_mtime > min_age:
                tmp.unlink()


def fsync_file(path: Path) -> None:
    """Flush a file someone else wrote (a downloader) to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
