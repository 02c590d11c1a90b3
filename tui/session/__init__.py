"""The worker side of the app: the training thread, its counters and its events (no Textual)."""
