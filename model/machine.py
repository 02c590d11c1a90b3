"""The machine a run or a study ran on (run records, results.md): CPU, cores, Python, numpy, BLAS."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np


def package_version() -> str:
    """This installation's mnist-tui version ("unknown" when run from a folder that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mnist-tui")
    except PackageNotFoundError:
        return "unknown"


def environment() -> dict[str, Any]:
    """CPU, core count, Python, numpy and BLAS versions of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                blas = f"{info.get('internal_api')} {info.get('version')}"
                break
    except Exception:  # informational only
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
    }
