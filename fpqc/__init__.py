"""fpqc: a compiler for low-bit floating-point VAR models on FPGAs (FPQVAR)."""

__version__ = "0.1.0"
