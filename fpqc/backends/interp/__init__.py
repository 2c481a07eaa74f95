"""The numpy interpreter: xDSL function tables implementing every op, following :mod:`fpqc.numerics`."""
