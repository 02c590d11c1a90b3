"""The backward-pass study: every variant of ``model.variants``, several seeds each, in parallel.

``plan`` lists the runs (exact backprop, then each variant and sub-option, with the noise
sigmas and stale lags of the study); ``run.run_study`` trains each (config, seed) with
``model.fit.fit`` (``task``), in worker processes (``pool``: spawned, one BLAS thread each,
the data loaded once per worker), reports progress through an ``on_event`` callback
(``records``) and returns a ``Study``; ``aggregate`` summarises it per config (test error
mean ± std over seeds, final training loss, mean alignment angle per layer, time); ``report``
writes ``results.json`` and ``results.md``. Drawing (progress bars, the terminal plot) is
left to ``tui``.
"""

from model.study.aggregate import ConfigSummary, Study, summarize
from model.study.environment import environment
from model.study.plan import DEFAULT_SIGMAS, DEFAULT_STALE_KS, RunConfig, default_configs
from model.study.records import LAYERS, Event, RunResult
from model.study.report import (
    PANEL_TITLES,
    from_json,
    markdown,
    markdown_table,
    plot_groups,
    to_json,
    write_results,
)
from model.study.run import run_study

__all__ = [
    "DEFAULT_SIGMAS",
    "DEFAULT_STALE_KS",
    "LAYERS",
    "PANEL_TITLES",
    "ConfigSummary",
    "Event",
    "RunConfig",
    "RunResult",
    "Study",
    "default_configs",
    "environment",
    "from_json",
    "markdown",
    "markdown_table",
    "plot_groups",
    "run_study",
    "summarize",
    "to_json",
    "write_results",
]
