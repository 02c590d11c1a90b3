"""The backward-pass study: every variant over learning rates, activations and seeds, with controls.

``plan`` names the cells (``RunConfig``) and the grids (``GRIDS``: quick, default, full);
``task`` trains one (cell, seed) with diagnostics; ``run.run_study`` runs a plan on a backend
(this process, a process pool, or Dask: ``pool``, ``dask_backend``), reusing the runs its
``store`` holds; ``aggregate`` summarises each cell over seeds with 95% intervals; ``analysis``
chooses each variant's learning rate on validation and builds the comparisons; ``report``
writes ``results.json`` and ``results.md``. Drawing (progress, plots, figures) is left to ``tui``.
"""

from model.machine import environment
from model.study.aggregate import CellSummary, Interval, Study, paired, summarize
from model.study.analysis import SweepRow, choose, grid_from_meta, sweep
from model.study.plan import DEFAULT, FULL, GRIDS, QUICK, Grid, RunConfig, cell, only_variants
from model.study.records import DIAGNOSTICS, LAYERS, Event, RunResult
from model.study.report import from_json, markdown, to_json, write_results
from model.study.run import BACKENDS, choose_backend, data_tag, run_study
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
    "Event",
    "Grid",
    "Interval",
    "ResultStore",
    "RunConfig",
    "RunResult",
    "Study",
    "SweepRow",
    "cell",
    "choose",
    "choose_backend",
    "data_tag",
    "environment",
    "from_json",
    "grid_from_meta",
    "markdown",
    "only_variants",
    "paired",
    "run_study",
    "summarize",
    "sweep",
    "to_json",
    "write_results",
]
