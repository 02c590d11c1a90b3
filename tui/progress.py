"""A rich progress bar for the data loader's ``progress(message, fraction)`` callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from model.data.progress import ProgressFn


@contextmanager
def console_progress(quiet: bool = False) -> Iterator[ProgressFn | None]:
    """Yield a callback that draws one bar on stderr (None when ``quiet`` or stderr is not a terminal).

    Off a terminal a bar is noise, and rich ends a non-interactive one with a blank line that
    would precede every message.
    """
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("MNIST", total=None)

        def update(message: str, fraction: float | None) -> None:
            if fraction is None:
                bar.update(task, description=message, total=None)
            else:
                bar.update(task, description=message, total=1.0, completed=fraction)

        yield update
