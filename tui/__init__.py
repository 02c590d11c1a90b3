"""The user interface of mnist-tui: the command line and the Textual app.

Importing this package is cheap; textual loads only when the app starts.
"""
