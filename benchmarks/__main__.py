"""``python -m benchmarks``: the benchmark table (see ``benchmarks.run``)."""

from benchmarks.run import main

raise SystemExit(main())
