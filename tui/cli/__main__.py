"""``python -m tui.cli``: the ``mnist-tui`` command (what ``mnist-tui serve`` starts for each tab)."""

from tui.cli import main

raise SystemExit(main())
