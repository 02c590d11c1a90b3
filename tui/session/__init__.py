"""The worker side of the app, no Textual: the handle the UI calls (``bridge``), the thread that
drives the run core (``worker``), its events and status snapshot (``events``, ``stats``), the
gradient check it runs, the student's session, and the app's settings (``config``)."""
