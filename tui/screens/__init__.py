"""The app's screens: the training screen (``main``, with its panel feed, the student's keys and
the host the other screens see it through), the screens opened over it (the drawing pad, the
weights, why, math, the run list, the exercise check) and the small ones (help, a path prompt,
loading, an error)."""
