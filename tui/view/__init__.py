"""View models: what the panels draw, computed without Textual.

Number formatting for axes and legends (``format``), tick positions (``ticks``),
chart series with their storage, smoothing, downsampling and axis layout
(``series``, ``chart``), the digit viewer's filtering, sorting and position
(``selection``), and the text of a digit and of the confusion matrix
(``digit_render``, ``confusion``). Numpy lives here; the widgets in
``tui.widgets`` receive plain values and never import numpy.
"""
