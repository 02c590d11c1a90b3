"""The panels of the mnist-tui app, one widget module each.

controls (hyperparameter fields), status (run counters), charts (training curves),
digits (misclassified test images and the confusion matrix), gradcheck (finite
differences against backprop). The app composes them; none talks to the trainer.
"""
