"""Turn a user-given path into a ``Source`` (one file, or the four IDX files), fingerprint it and
read it into a validated ``RawMNIST``.

A path may be a file (mnist.pkl.gz, mnist.pkl, mnist.npz, or one IDX file whose siblings sit next
to it), or a directory holding the four IDX files or one of those files. Leaves out downloads and
caching.
"""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from . import formats
from .errors import DataError, os_error
from .fileio import peek, read_content, sha256_file
from .progress import Reporter
from .validate import Invalid, RawMNIST, from_train_test

#: train-images-idx3-ubyte, t10k-labels.idx1-ubyte.gz, ...
IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$", re.IGNORECASE)
IDX_ROLES = (("train", "images"), ("train", "labels"), ("t10k", "images"), ("t10k", "labels"))
DIR_FILES = ("mnist.pkl.gz", "mnist.pkl", "mnist.npz")


@dataclass(frozen=True)
class Source:
    """Where user data lives: ``kind`` 'file' (one file) or 'idx' (four files in IDX_ROLES order)."""

    kind: str
    files: tuple[Path, ...]
    description: str
    hint: str


def resolve(path: Path, hint: str) -> Source:
    """Find the MNIST file(s) at ``path`` (a file or a directory), or raise DataError."""
    try:
        st = path.stat()
    except OSError as exc:
        raise os_error(path, exc, hint) from exc
    if stat.S_ISDIR(st.st_mode):
        return _resolve_dir(path, hint)
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file; {hint}")
    if st.st_size == 0:
        raise DataError(f"{path}: is empty (0 bytes); {hint}")
    is_gzip, head = peek(path, hint=hint)
    kind = formats.sniff(head)
    if kind == "idx":
        match = IDX_NAME.match(path.name)
        if not match:
            raise DataError(
                f"{path}: is an IDX file but its name does not say which one; keep the standard "
                "names (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) and pass the directory"
            )
        found = _idx_files(path.parent, hint)
        found[(match[1].lower(), match[2].lower())] = path
        return _idx_source(path.parent, found, hint)
    if kind is None:
        if is_gzip:
            read_content(path, Reporter(None), path.name, hint)  # raises if truncated/corrupt
        raise DataError(
            f"{path}: not a recognised MNIST file (expected a pickle like mnist.pkl.gz, Keras' "
            f"mnist.npz or IDX files); {hint}"
        )
    return Source("file", (path,), str(path), hint)


def _resolve_dir(directory: Path, hint: str) -> Source:
    found = _idx_files(directory, hint)
    if found:
        return _idx_source(directory, found, hint)
    for name in DIR_FILES:
        if (directory / name).is_file():
            return resolve(directory / name, hint)
    raise DataError(
        f"{directory}: is a directory without MNIST data (looked for {', '.join(DIR_FILES)} and "
        f"the four *-idx?-ubyte[.gz] files); {hint}"
    )


def _idx_files(directory: Path, hint: str) -> dict[tuple[str, str], Path]:
    """IDX files in ``directory`` by (set, kind); uncompressed preferred over .gz."""
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise os_error(directory, exc, hint) from exc
    found: dict[tuple[str, str], Path] = {}
    for entry in entries:
        match = IDX_NAME.match(entry.name)
        if match and entry.is_file():
            found.setdefault((match[1].lower(), match[2].lower()), entry)
    return found


def _idx_source(directory: Path, found: dict[tuple[str, str], Path], hint: str) -> Source:
    missing = [f"{s}-{k}-idx{3 if k == 'images' else 1}-ubyte[.gz]" for s, k in IDX_ROLES if (s, k) not in found]
    if missing:
        raise DataError(
            f"{directory}: found IDX files but not {', '.join(missing)}; put all four IDX files "
            f"in one directory, or {hint}"
        )
    return Source("idx", tuple(found[r] for r in IDX_ROLES), f"{directory} (IDX files)", hint)


def fingerprint(source: Source) -> str:
    """sha256 identifying the content: the file's own sha256 for a single file."""
    hashes = [sha256_file(p, source.hint) for p in source.files]
    if source.kind == "file":
        return hashes[0]
    return hashlib.sha256(("idx\n" + "\n".join(hashes)).encode()).hexdigest()


def read(source: Source, report: Reporter) -> RawMNIST:
    """Parse and validate ``source`` into uint8/int64 arrays (any N; D must be 784)."""
    if source.kind == "idx":
        return _read_idx(source, report)
    path = source.files[0]
    data = read_content(path, report, path.name, source.hint)
    kind = formats.sniff(data[:16])
    try:
        if kind == "pickle":
            report(f"Unpacking {path.name}", None)
            return formats.parse_pickle(data, str(path))
        if kind == "npz":
            return formats.parse_npz(data)
        raise Invalid("not a recognised MNIST file (expected mnist.pkl.gz, mnist.npz or IDX)")
    except Invalid as exc:
        raise DataError(f"{path}: {exc}; {source.hint}") from exc


def _read_idx(source: Source, report: Reporter) -> RawMNIST:
    arrays = []
    for path, (_, kind) in zip(source.files, IDX_ROLES, strict=True):
        data = read_content(path, report, path.name, source.hint)
        try:
            array = formats.parse_idx(data)
            if kind == "images" and (array.ndim != 3 or array.shape[1:] != (28, 28)):
                raise Invalid(f"holds shape {array.shape}, expected images (N, 28, 28)")
            if kind == "labels" and array.ndim != 1:
                raise Invalid(f"holds shape {array.shape}, expected labels (N,)")
        except Invalid as exc:
            raise DataError(f"{path}: {exc}; {source.hint}") from exc
        arrays.append(array)
    try:
        return from_train_test(*arrays)
    except Invalid as exc:
        raise DataError(f"{source.description}: {exc}; {source.hint}") from exc
