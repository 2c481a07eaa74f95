"""fpqc: a compiler for low-bit floating-point VAR models on FPGAs (FPQVAR)."""

import os

# numpy's OpenBLAS keeps its threads spinning for 2^28 cycles after every product (its default), so
# between the interpreter's matrix products they take the cores from its compiled loops' threads and
# from the C simulation: 2^4 cycles lets them sleep at once (a VAR-d16 fp4 forward: 4.5 s -> 3.8 s).
# OpenBLAS reads it when it loads, so it counts where fpqc is imported before numpy (its commands);
# a value of the user's own wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"
