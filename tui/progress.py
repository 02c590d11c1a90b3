"""A rich progress bar for the data loader's ``progress(message, fraction)`` callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

ProgressFn = Callable[[str, float | None], None]


@contextmanager
def console_progress(quiet: bool = False) -> Iterator[ProgressFn | None]:
    """Yield a callback that draws one bar on stderr (or None when ``quiet``)."""
    if quiet:
        yield None
        return
    console = Console(stderr=True)
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
