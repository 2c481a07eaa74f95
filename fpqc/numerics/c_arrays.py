"""C++ source for fpqc's tables, for ``backends/hls`` to write into generated headers.

The emitted arrays are exactly the tables the Python side uses (principle 7:
tables are made once, here).  Floats are printed as the shortest decimal
literal that rounds to the float32 value (``1.5e+0f``; C++ compilers round
decimal literals correctly, and hex-float literals are not C++14), so the C++
constants equal the float32 values bit for bit; inf and NaN use
``fpqc::kInf`` / ``fpqc::kNaN`` from ``fpqc_numerics.h``, which must be included
first.  All arrays are ``static const`` with C++14 aggregate initializers (ROMs
in HLS).
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics.formats import Format
from fpqc.numerics.products import product_table, product_unit


def c_float(v) -> str:
    """An exact C++ float literal for float32 ``v``."""
    v = float(np.float32(v))
    if np.isnan(v):
        return "-fpqc::kNaN" if np.signbit(v) else "fpqc::kNaN"
    if np.isinf(v):
        return "-fpqc::kInf" if v < 0 else "fpqc::kInf"
    return np.format_float_scientific(np.float32(v), unique=True, trim="-", exp_digits=1) + "f"


def c_array(ctype: str, name: str, items: list[str], per_line: int = 8) -> str:
    """``static const ctype name[N] = {...};`` holding ``items`` (C++ literals), ``per_line`` a line."""
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


def emit_quantizer_tables(fmt: Format, rounding: str, prefix: str) -> str:
    """Tables and ``fpqc::QuantizerSide`` objects ``{prefix}_neg`` / ``{prefix}_pos``.

    Also ``{prefix}_nan_code``; encode with
    ``fpqc::encode_lut(v, {prefix}_neg, {prefix}_pos, {prefix}_nan_code)``.
    """
    table = fmt.quantizer_table(rounding)
    out = [f"// fpqc LUT quantizer: format {fmt.name}, rounding {rounding}\n"]
    for side_name, side in (("neg", table.neg), ("pos", table.pos)):
        n = side.n_thresholds
        out.append(c_array("float", f"{prefix}_thr_{side_name}",
                          [c_float(t) for t in side.thresholds]))
        out.append(c_array("unsigned char", f"{prefix}_tie_{side_name}",
                          [str(int(t)) for t in side.tie_up], 16))
        out.append(c_array("unsigned char", f"{prefix}_code_{side_name}",
                          [str(int(c)) for c in side.codes], 16))
        out.append(
            f"static const fpqc::QuantizerSide {prefix}_{side_name} = {{{prefix}_thr_{side_name}, "
            f"{prefix}_tie_{side_name}, {prefix}_code_{side_name}, {n}}};\n"
        )
    out.append(f"static const unsigned char {prefix}_nan_code = {table.nan_code};\n")
    return "".join(out)


def emit_decode_table(fmt: Format, prefix: str) -> str:
    """``static const float {prefix}_decode[n_codes]``: the value of every code."""
    values = [c_float(v) for v in fmt.decode_table()]
    return f"// fpqc decode table: format {fmt.name}\n" + c_array("float", f"{prefix}_decode", values)


def _int_ctype(lo: int, hi: int) -> str:
    for ctype, bits in (("signed char", 8), ("short", 16), ("int", 32)):
        if -(2 ** (bits - 1)) <= lo and hi < 2 ** (bits - 1):
            return ctype
    return "long long"


def emit_product_table(fa: Format, fb: Format, prefix: str) -> str:
    """``{prefix}_prod[fa.n_codes * fb.n_codes]`` (row-major, index ``a * fb.n_codes + b``)
    in units of ``{prefix}_unit`` -- the LUT multiplier's ROM."""
    table = product_table(fa, fb)
    ctype = _int_ctype(int(table.min()), int(table.max()))
    suffix = "LL" if ctype == "long long" else ""
    items = [f"{int(v)}{suffix}" for v in table.ravel()]
    return (
        f"// fpqc product table: {fa.name} x {fb.name}, index a * {fb.n_codes} + b\n"
        + c_array(ctype, f"{prefix}_prod", items, 16)
        + f"static const float {prefix}_unit = {c_float(product_unit(fa, fb))};\n"
    )
