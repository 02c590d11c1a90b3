"""How many BLAS threads this process (and the processes it starts) may use: one function owns it.

``set_blas_threads(n)`` puts the cap in the environment, where OpenBLAS, OpenMP and MKL read it
when numpy is first imported (in this process or in a child), and, once numpy is loaded, also
applies it at run time through threadpoolctl. ``cpu_count()`` is the number of CPUs this process
may run on. Leaves out where the number comes from (flags, environment variables: the caller).
"""

from __future__ import annotations

import os
import sys

BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def blas_env(n: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: a copy of this process's) with the BLAS thread variables set to ``n``."""
    env = dict(os.environ if environ is None else environ)
    env.update(dict.fromkeys(BLAS_ENV_VARS, str(n)))
    return env


def set_blas_threads(n: int) -> int:
    """Cap BLAS at ``n`` threads for this process and its children; returns ``n``.

    Before numpy is imported the environment is enough; after, threadpoolctl changes the
    loaded libraries' thread pools as well.
    """
    os.environ.update(blas_env(n, {}))
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    return n
