"""Tools built on the compiler and its backends: the ``fpqc-opt`` driver and ``fpqc verify``."""
