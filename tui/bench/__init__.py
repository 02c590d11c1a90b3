"""Benchmark suite for mnist-tui: training speed against the machine's own GEMM rate, and targets.

Run ``mnist-tui bench``; ``--quick`` is a seconds-long smoke
run on synthetic data. Every timed figure is compared with something measured in the same
run (the float32 GEMM rate at the same BLAS thread count, or PyTorch on the same shapes),
because the machine is shared and absolute times drift. Modules: ``measure`` (timing
primitives and FLOP counts), ``rows`` (one function per table row), ``table`` (the Row
type and rendering), ``torch_mlp`` (the optional PyTorch twin), ``run`` (the command).
``run_bench`` is the package's one entry point; nothing outside it imports its modules.
"""

from tui.bench.run import run_bench

__all__ = ["run_bench"]
