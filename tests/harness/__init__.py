"""Test-only machinery: the fast tier's time budget and the app in a pseudo-terminal.

Nothing here ships in the wheel; ``tests/`` is on ``sys.path`` while pytest runs (the rootdir
conftest mode), so tests import these modules as ``harness.<module>``.
"""
