"""The backward-pass study: every variant over learning rates, activations and seeds, with controls.

``plan`` names the cells (``RunConfig``) and what a grid holds, ``grids`` the named grids
(quick, default, full); ``adaptive`` decides from the runs so far what to run next (rate sweeps
that extend themselves, report runs on fresh seeds, sections at exact backprop's rate); ``task``
trains one (cell, seed) with diagnostics; ``run`` makes the runs round by round on a backend
(this process, a process pool, or Dask: ``pool``, ``dask_backend``), reusing the runs its
``store`` holds; ``aggregate`` summarises a cell over seeds, ``stats`` holds the tests and
corrections; ``analysis`` builds the comparisons; ``report`` writes ``results.json`` and
``results.md``. Drawing (progress, plots, figures) is left to ``tui``.
"""

from model.machine import environment
from model.study.adaptive import Job, Runs, SweepState, next_jobs, sweep_state
from model.study.aggregate import CellSummary, Contrast, Interval, Study, paired, summarize
from model.study.analysis import SweepRow, sweep
from model.study.grids import DEFAULT, FULL, GRIDS, QUICK
from model.study.plan import Entry, Grid, RunConfig, cell, only_variants
from model.study.records import DIAGNOSTICS, LAYERS, Event, RunResult
from model.study.report import from_json, markdown, to_json, write_results
from model.study.run import BACKENDS, choose_backend, data_key, run_grid, run_tasks
from model.study.store import ResultStore

__all__ = [
    "BACKENDS",
    "DEFAULT",
    "DIAGNOSTICS",
    "FULL",
    "GRIDS",
    "LAYERS",
    "QUICK",
    "CellSummary",
    "Contrast",
    "Entry",
    "Event",
    "Grid",
    "Interval",
    "Job",
    "ResultStore",
    "RunConfig",
    "RunResult",
    "Runs",
    "Study",
    "SweepRow",
    "SweepState",
    "cell",
    "choose_backend",
    "data_key",
    "environment",
    "from_json",
    "markdown",
    "next_jobs",
    "only_variants",
    "paired",
    "run_grid",
    "run_tasks",
    "summarize",
    "sweep",
    "sweep_state",
    "to_json",
    "write_results",
]
