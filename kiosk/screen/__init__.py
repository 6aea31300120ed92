"""The room's screen: what the box shows on an HDMI display (``view`` -> ``scene`` ->
``compose``, the first two free of I/O), and the loop that drives it (``driver``)."""
