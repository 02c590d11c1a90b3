"""Screens pushed over the main view: help, a path prompt, and data loading."""
