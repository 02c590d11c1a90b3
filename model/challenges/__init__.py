"""Challenges: simplified versions of real training problems, each started in the broken state,
with a goal the app checks on its own measurements, limits, hints and a known solution.

``catalog`` holds the challenges as data, ``check`` the verdict (a pure function of what a run
measured), ``tracker`` follows a run's evaluations, resets and changes, ``progress`` keeps what was
solved between sessions. Leaves out every front end (``mnist-tui challenges``, the app's panel).
"""

from model.challenges.catalog import CHALLENGES, Challenge, Goal, Limits, get_challenge
from model.challenges.check import Attempt, Evaluation, Verdict, check
from model.challenges.progress import Progress, progress_file, read_progress, save_progress
from model.challenges.tracker import ChallengeTracker

__all__ = [
    "CHALLENGES",
    "Attempt",
    "Challenge",
    "ChallengeTracker",
    "Evaluation",
    "Goal",
    "Limits",
    "Progress",
    "Verdict",
    "check",
    "get_challenge",
    "progress_file",
    "read_progress",
    "save_progress",
]
