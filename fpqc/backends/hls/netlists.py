"""Verilog netlists of the accelerator's LUT units, generated from the tables of :mod:`fpqc.numerics`.

They exist to be measured: ``scripts/measure_units.py`` synthesizes them with
Yosys (``synth_xilinx``) and keeps the LUT and flip-flop counts in
``fpqc/targets/units/measured.json``, which the cost model reads
(:mod:`fpqc.targets.units`).  Every netlist is built from the same tables the
interpreter and the C++ use, so a measurement is of exactly the unit fpqc
emits:

``product_rom(fx, fw)``
    the LUT multiplier: a ROM from the two codes ``{x, w}`` to the exact
    signed product in product units (:func:`fpqc.numerics.product_table`);
``quantizer_ladder(table_neg, table_pos)``
    the LUT quantizer of one lane: the float32 bits of ``x / s`` in, the
    code out, by comparing the magnitude with every threshold of its sign's
    side (:class:`fpqc.numerics.rounding.QuantizerSide`: a threshold with
    ``tie_up`` counts when the magnitude is at least it, else when above it);
``accumulator(bits)``
    an adder of ``bits`` bits and its register: the unit of the exact sums
    (a PE's adder tree of ``lanes`` products is ``lanes − 1`` such adders
    and its accumulator one more).

A positive float32's bits order like its value, so the ladder compares the 31
magnitude bits as an unsigned integer.
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics import Format
from fpqc.numerics.products import product_table
from fpqc.numerics.rounding import QuantizerSide

F32_INF_BITS = 0x7F800000


def product_bits(fx: Format, fw: Format) -> int:
    """Bits of a signed product of the ROM (magnitude bits + sign)."""
    return int(np.abs(product_table(fx, fw)).max()).bit_length() + 1


def _signed(value: int, bits: int) -> str:
    return f"{bits}'sd{value}" if value >= 0 else f"-{bits}'sd{-value}"


def product_rom(fx: Format, fw: Format, name: str = "product_rom") -> str:
    """The LUT multiplier of ``fx`` × ``fw`` codes: ``p = PROD[{x, w}]``."""
    table = product_table(fx, fw)
    width = product_bits(fx, fw)
    index_bits = fx.bits + fw.bits
    lines = [
        f"// fpqc product ROM {fx.name} x {fw.name}: p = product_table[x][w] (fpqc.numerics.products)",
        f"module {name}(input wire [{fx.bits - 1}:0] x, input wire [{fw.bits - 1}:0] w,",
        f"                output reg signed [{width - 1}:0] p);",
        "  always @* begin",
        "    case ({x, w})",
    ]
    for a in range(fx.n_codes):
        for b in range(fw.n_codes):
            lines.append(f"      {index_bits}'d{(a << fw.bits) | b}: p = {_signed(int(table[a, b]), width)};")
    lines += [f"      default: p = {_signed(0, width)};", "    endcase", "  end", "endmodule", ""]
    return "\n".join(lines)


def _ladder_side(side: QuantizerSide, prefix: str, code_bits: int) -> list[str]:
    """Comparators of one side and its code, as Verilog lines (magnitude ``a``)."""
    lines = []
    n = side.n_thresholds
    for i, (threshold, tie_up) in enumerate(zip(side.thresholds, side.tie_up)):
        bits = int(np.float32(threshold).view(np.uint32))
        op = ">=" if tie_up else ">"
        lines.append(f"  wire {prefix}_t{i} = a {op} 31'd{bits};")
    terms = " + ".join(f"{prefix}_t{i}" for i in range(n)) or "0"
    count_bits = max(1, n.bit_length())
    lines.append(f"  wire [{count_bits - 1}:0] {prefix}_n = {terms};")
    lines.append(f"  reg [{code_bits - 1}:0] {prefix}_code;")
    lines.append("  always @* begin")
    lines.append(f"    case ({prefix}_n)")
    for count, code in enumerate(side.codes):
        lines.append(f"      {count_bits}'d{count}: {prefix}_code = {code_bits}'d{int(code)};")
    lines.append(f"      default: {prefix}_code = {code_bits}'d{int(side.codes[-1])};")
    lines += ["    endcase", "  end"]
    return lines


def quantizer_ladder(neg: QuantizerSide, pos: QuantizerSide, nan_code: int, code_bits: int,
                     name: str = "quantizer_ladder") -> str:
    """The LUT quantizer of one lane: float32 bits of ``x / s`` in, a code out (module docstring)."""
    lines = [
        "// fpqc LUT quantizer: count the thresholds below |x| on x's side, look up the code",
        f"module {name}(input wire [31:0] x, output wire [{code_bits - 1}:0] code);",
        "  wire [30:0] a = x[30:0];",
        *_ladder_side(neg, "neg", code_bits),
        *_ladder_side(pos, "pos", code_bits),
        f"  assign code = (a > 31'd{F32_INF_BITS}) ? {code_bits}'d{nan_code} : (x[31] ? neg_code : pos_code);",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def accumulator(bits: int, name: str = "accumulator") -> str:
    """An adder of ``bits`` bits feeding its own register."""
    return "\n".join([
        f"module {name}(input wire clk, input wire signed [{bits - 1}:0] d, output reg signed [{bits - 1}:0] acc);",
        "  always @(posedge clk) acc <= acc + d;",
        "endmodule",
        "",
    ])


__all__ = ["accumulator", "product_bits", "product_rom", "quantizer_ladder"]
