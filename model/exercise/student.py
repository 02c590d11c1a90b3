"""The student's file: read it safely, import it from its path, call its functions.

The file is read once (a regular file, at most ``MAX_SOURCE_BYTES``, UTF-8) into a ``Source``;
every process that runs it compiles that same text, so the code that trains is the code that
was checked even if the file changes on disk meanwhile. It is executed as a module under a
private name: its folder is never put ahead of the product on ``sys.path`` (a ``model.py``
beside it cannot shadow the ``model`` package), and ``allow_siblings`` appends the folder at
the end, so ``import helpers`` of a module beside it works as with ``python FILE``.

Errors are one line naming the student's file and line: ``LoadError`` when the file cannot be
used at all (missing, not UTF-8, a syntax error, an exception at import, no valid ACTIVATION),
``StudentError`` when a function raised, ``NotWritten`` when it is missing or still raises
``NotImplementedError``. Leaves out time limits (``sandbox``) and judging results (``steps``).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.activations import ACTIVATIONS
from model.safe_read import open_regular
from model.trainer import RuleError

#: Larger than any hand-written backprop file by far; refusing more bounds what is read.
MAX_SOURCE_BYTES = 1_000_000
#: The contract, in the order a student writes it (and the check runs it).
FUNCTIONS = ("loss_one", "grads_one", "loss_batch", "grads_batch")
_MESSAGE_CHARS = 240
_names = itertools.count()


class LoadError(Exception):
    """The file cannot be checked at all (one line; a command exits 2)."""


class StudentError(RuleError):
    """The student's code failed: one line naming their file and line."""


class NotWritten(StudentError):
    """A contract function is missing or still raises NotImplementedError."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(message)
        self.function = function


@dataclass(frozen=True)
class Source:
    """The text of the student's file. ``path``: as the user gave it (shown in messages);
    ``absolute``: the resolved path the code is compiled under (tracebacks point there)."""

    path: str
    absolute: str
    text: str

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def sha256(self) -> str:
        """Of the text, so a record can say which version of the file trained."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def read_source(path: str | os.PathLike[str]) -> Source:
    """Read the student's file: LoadError (one line) unless it is a readable UTF-8 regular file
    of at most ``MAX_SOURCE_BYTES``."""
    shown = os.fspath(path)
    if not shown.strip():
        raise LoadError("no file given")
    try:
        with open_regular(shown) as f:
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
        raise LoadError(f"{shown}: {reason}") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise LoadError(f"{shown}: larger than {MAX_SOURCE_BYTES:,} bytes; is this a backprop.py?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{shown}: not UTF-8 text (byte {exc.start}); is this a Python file?") from None
    return Source(shown, str(Path(shown).resolve()), text)


def one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """``text`` with its whitespace collapsed, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def located(exc: BaseException, source: Source, function: str = "") -> str:
    """'backprop.py:42 in grads_one: ValueError: ...': the innermost frame in the student's file."""
    line = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == source.absolute:
            line = f"{source.path}:{lineno} in {frame.f_code.co_name}"
    if not line:
        line = f"{source.path}" + (f" ({function})" if function else "")
    message = one_line(str(exc))
    what = type(exc).__name__ + (f": {message}" if message else "")
    if isinstance(exc, ValueError) and "read-only" in message:
        what += " (the arrays passed in are read-only: compute new arrays instead of changing them in place)"
    return f"{line}: {what}"


@dataclass
class StudentCode:
    """The student's module, loaded, and a safe way to call its contract functions."""

    source: Source
    module: types.ModuleType
    activation: str
    on_call: Callable[[str], None] | None = None  # told the name of each function called (time limits)

    def written(self, name: str) -> bool:
        """True if ``name`` is defined and callable (it may still raise NotImplementedError)."""
        return callable(getattr(self.module, name, None))

    def call(self, name: str, *args: Any) -> Any:
        """``name(*args)`` from the student's module, with floating-point warnings off (results
        are judged instead). NotWritten if missing or not implemented, StudentError if it raised."""
        fn: Callable[..., Any] | None = getattr(self.module, name, None)
        if not callable(fn):
            raise NotWritten(name, f"{self.source.path} has no function {name}: write it next")
        if self.on_call is not None:
            self.on_call(name)
        try:
            with np.errstate(all="ignore"):
                return fn(*args)
        except NotImplementedError:
            raise NotWritten(
                name, f"{name} is not written yet (it raises NotImplementedError): write it next"
            ) from None
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except SystemExit as exc:
            raise StudentError(f"{located(exc, self.source, name)}: {name} called exit()") from None
        except BaseException as exc:
            raise StudentError(located(exc, self.source, name)) from None


def load_student(source: Source, allow_siblings: bool = False) -> StudentCode:
    """Execute ``source`` as a fresh module (never ``__main__``, never on ``sys.path`` ahead of
    the product) and check its ACTIVATION. LoadError (one line) if it cannot be used."""
    try:
        code = compile(source.text, source.absolute, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"{source.path}:{exc.lineno}" + (f":{exc.offset}" if exc.offset else "")
        raise LoadError(f"{where}: {type(exc).__name__}: {one_line(exc.msg)}") from None
    except ValueError as exc:  # e.g. a NUL byte
        raise LoadError(f"{source.path}: cannot be compiled: {one_line(str(exc))}") from None
    name = f"_mnist_tui_student_{next(_names)}"  # private: it cannot replace a real module
    module = types.ModuleType(name)
    module.__file__ = source.absolute
    if allow_siblings:
        folder = str(Path(source.absolute).parent)
        if folder not in sys.path:
            sys.path.append(folder)  # after the product: `import helpers` works, `import model` is ours
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        with np.errstate(all="ignore"):
            exec(code, module.__dict__)
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:
        sys.modules.pop(name, None)
        raise LoadError(located(exc, source)) from None
    activation = getattr(module, "ACTIVATION", None)
    if activation not in ACTIVATIONS:
        choices = " / ".join(f'"{a}"' for a in ACTIVATIONS)
        given = "is missing" if activation is None else f"is {activation!r}"
        raise LoadError(f"{source.path}: ACTIVATION {given}; set it to one of {choices}")
    return StudentCode(source, module, str(activation))
