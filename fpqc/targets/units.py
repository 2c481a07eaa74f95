"""Unit costs: what one hardware unit of fpqc's accelerator takes of a device, each with its source.

A target names its device ``family`` (``family = "versal"`` in ``vck190.toml``);
the unit costs come from three files in ``fpqc/targets/units/``:

``measured.json``
    Yosys measurements (``scripts/measure_units.py``: ``synth_xilinx -family
    xcup``) of the LUT units generated from ``fpqc.numerics``' tables
    (:mod:`fpqc.backends.hls.netlists`): the product ROM of every pair of
    code formats the recipes multiply (a LUT multiplier), the comparator
    ladder of every LUT quantizer, and a carry-chain adder.  Each entry keeps
    the digest of the table it was generated from; a file whose tables have
    changed since is refused (re-run the script);
``<family>.toml``
    the DSP slices of one fp32 multiply and one fp32 add on that family,
    with the vendor document the figure comes from;
``fp32_ops.toml``
    how many fp32 multiplies, adds and divides each op kind performs per
    element a lane processes (and per op, for its shared units), counted
    from the algorithms of ``fpqc.numerics``.

Example::

    units = load_units("versal")
    units.multiplier_luts(Format.parse("e2m1"), Format.parse("e2m1"))   # LUTs of one LUT multiplier
    units.adder_luts(16)                                                 # an adder of 16 bits
    units.dsps("layernorm", lanes=16)                                    # DSPs of a 16-lane layer norm
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpqc.errors import FpqcError
from fpqc.numerics import Format
from fpqc.numerics.products import product_table

UNITS_DIR = Path(__file__).parent / "units"
MEASURED_FILE = UNITS_DIR / "measured.json"
FP32_OPS_FILE = UNITS_DIR / "fp32_ops.toml"
MEASURE_HINT = "re-measure with `python scripts/measure_units.py` (needs yosys)"

PRODUCT_PAIRS: tuple[tuple[str, str], ...] = (
    ("e2m1", "e2m1"),  # fp4 recipes
    ("e1m2", "e2m1"),  # fpqvar-w4a4: dual-format fc2 input, negative side
    ("e2m3", "e2m3"),  # fp6 recipes
    ("int6", "e2m3"),  # fpqvar-w6a6: dual-format fc2 input, negative side
    ("int4", "int4"),
    ("int6", "int6"),
    ("e4m3", "e4m3"),  # fp8-rtn
)
"""(activation format, weight format) of every LUT multiplier the recipes build."""

QUANTIZER_SIDES: tuple[tuple[str, str], ...] = (
    ("e2m1", "e2m1"),
    ("e2m3", "e2m3"),
    ("int4", "int4"),
    ("int6", "int6"),
    ("e4m3", "e4m3"),
    ("e1m2", "e2m1"),  # dfq-w4a4
    ("int6", "e2m3"),  # dfq-w6a6
)
"""(negative side's format, positive side's format) of every LUT quantizer the recipes build."""


def product_digest(fx: Format, fw: Format) -> str:
    """sha256 of the product table of ``fx`` × ``fw`` (what a product ROM is generated from)."""
    table = np.ascontiguousarray(product_table(fx, fw), dtype=np.int64)
    return hashlib.sha256(f"{fx.name}x{fw.name}".encode() + table.tobytes()).hexdigest()


def quantizer_digest(neg: Format, pos: Format, rounding: str) -> str:
    """sha256 of the quantizer sides (thresholds, tie flags, codes) a ladder is generated from."""
    digest = hashlib.sha256(f"{neg.name}/{pos.name}/{rounding}".encode())
    for side in (neg.quantizer_table(rounding).neg, pos.quantizer_table(rounding).pos):
        for array in (side.thresholds, side.tie_up, side.codes):
            digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(str(pos.quantizer_table(rounding).nan_code).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Fp32Ops:
    """fp32 operations of one op kind: per element a lane processes, and per op (shared units)."""

    mul: int = 0
    add: int = 0
    add_per_level: int = 0
    """Adds per element per butterfly level (a Hadamard transform of ``2**levels`` elements)."""
    div: int = 0
    unit_mul: int = 0
    unit_add: int = 0
    unit_div: int = 0
    source: str = ""


@dataclass(frozen=True)
class UnitCosts:
    """The unit costs of one device family (module docstring)."""

    family: str
    fmul_dsps: float
    fadd_dsps: float
    dsp_source: str
    tool: str
    roms: dict[tuple[str, str], int]
    ladders: dict[tuple[str, str, str], int]
    adder_luts_per_bit: float
    fp32_ops: dict[str, Fp32Ops]

    def multiplier_luts(self, fx: Format, fw: Format) -> int:
        """LUTs of one LUT multiplier (product ROM) of ``fx`` × ``fw`` codes (measured)."""
        luts = self.roms.get((fx.name, fw.name))
        if luts is None:
            raise FpqcError(
                f"no measured LUT multiplier for {fx.name} x {fw.name} in {MEASURED_FILE}; add the pair to "
                f"PRODUCT_PAIRS in fpqc/targets/units.py and {MEASURE_HINT}"
            )
        return luts

    def quantizer_luts(self, neg: Format, pos: Format, rounding: str) -> int:
        """LUTs of one lane of the LUT quantizer (comparator ladder) with these sides (measured)."""
        luts = self.ladders.get((neg.name, pos.name, rounding))
        if luts is None:
            raise FpqcError(
                f"no measured LUT quantizer for {neg.name}/{pos.name} ({rounding}) in {MEASURED_FILE}; add it "
                f"to QUANTIZER_SIDES in fpqc/targets/units.py and {MEASURE_HINT}"
            )
        return luts

    def adder_luts(self, bits: int) -> int:
        """LUTs of a carry-chain adder of ``bits`` bits (measured per bit)."""
        return math.ceil(bits * self.adder_luts_per_bit)

    def ops(self, kind: str) -> Fp32Ops:
        ops = self.fp32_ops.get(kind)
        if ops is None:
            raise FpqcError(f"{FP32_OPS_FILE}: no fp32 operation count for op kind '{kind}'")
        return ops

    def dsps(self, kind: str, lanes: int, units: int = 1, levels: int = 0) -> int:
        """DSP slices of ``units`` ``lanes``-wide units of op kind ``kind``: its fp32 multiplies and adds
        (``levels``: butterfly levels of a Hadamard transform)."""
        ops = self.ops(kind)
        per_lane = ops.mul * self.fmul_dsps + (ops.add + ops.add_per_level * levels) * self.fadd_dsps
        shared = ops.unit_mul * self.fmul_dsps + ops.unit_add * self.fadd_dsps
        return math.ceil(units * (lanes * per_lane + shared))


def _check_digests(measured: dict) -> None:
    for entry in measured["product_roms"]:
        fx, fw = Format.parse(entry["x"]), Format.parse(entry["w"])
        if entry["table_sha256"] != product_digest(fx, fw):
            raise FpqcError(f"{MEASURED_FILE}: the product table {fx.name} x {fw.name} changed since it was "
                            f"measured; {MEASURE_HINT}")
    for entry in measured["quantizers"]:
        neg, pos = Format.parse(entry["neg"]), Format.parse(entry["pos"])
        if entry["table_sha256"] != quantizer_digest(neg, pos, entry["rounding"]):
            raise FpqcError(f"{MEASURED_FILE}: the quantizer {neg.name}/{pos.name} ({entry['rounding']}) changed "
                            f"since it was measured; {MEASURE_HINT}")


@functools.cache
def load_units(family: str) -> UnitCosts:
    """The unit costs of ``family``; FpqcError naming the file at fault."""
    path = UNITS_DIR / f"{family}.toml"
    if "/" in family or not path.is_file():
        known = sorted(p.stem for p in UNITS_DIR.glob("*.toml") if p != FP32_OPS_FILE)
        raise FpqcError(f"unknown device family '{family}' (unit cost files: {', '.join(known)})")
    try:
        dsp = tomllib.loads(path.read_text())["dsp"]
        ops = {kind: Fp32Ops(**fields) for kind, fields in tomllib.loads(FP32_OPS_FILE.read_text()).items()}
        measured = json.loads(MEASURED_FILE.read_text())
        _check_digests(measured)
        adder = measured["adder"]
        return UnitCosts(
            family=family,
            fmul_dsps=float(dsp["fmul"]),
            fadd_dsps=float(dsp["fadd"]),
            dsp_source=str(dsp["source"]),
            tool=f"{measured['tool']}: {measured['synthesis']}",
            roms={(e["x"], e["w"]): int(e["luts"]) for e in measured["product_roms"]},
            ladders={(e["neg"], e["pos"], e["rounding"]): int(e["luts"]) for e in measured["quantizers"]},
            adder_luts_per_bit=adder["luts"] / adder["bits"],
            fp32_ops=ops,
        )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise FpqcError(f"{path.parent}: a unit cost file is not valid ({e})") from None
    except (KeyError, TypeError, ValueError) as e:
        raise FpqcError(f"{path.parent}: a unit cost file lacks or mistypes {e}; see versal.toml") from None


__all__ = [
    "MEASURED_FILE",
    "PRODUCT_PAIRS",
    "QUANTIZER_SIDES",
    "Fp32Ops",
    "UnitCosts",
    "load_units",
    "product_digest",
    "quantizer_digest",
]
