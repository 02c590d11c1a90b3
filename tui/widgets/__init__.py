"""The panels of the mnist-tui app, one widget module each.

controls (hyperparameter fields), status (run counters), charts (training curves, each a
series_chart), digits (misclassified test images and the confusion matrix), gradcheck (finite
differences against backprop). The app composes them; none talks to the trainer. They draw
values computed in ``tui.view`` and do no array maths themselves.
"""
