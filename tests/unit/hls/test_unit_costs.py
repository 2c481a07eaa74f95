"""The unit costs behind the cost model: each traceable to a measurement kept in the repository or a
source, and the measurement consistent with the tables it was made from."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import fpqc.targets.units as units
from fpqc.analysis.plan_fit import OP_KINDS
from fpqc.backends.hls.netlists import product_bits, product_rom, quantizer_ladder
from fpqc.errors import FpqcError
from fpqc.numerics import Format
from fpqc.numerics.products import product_table
from fpqc.numerics.rounding import ROUNDING_MODES


def _measured() -> dict:
    return json.loads(units.MEASURED_FILE.read_text())


def test_every_multiplier_and_quantizer_the_recipes_build_is_measured():
    measured = _measured()
    assert measured["script"] == "scripts/measure_units.py" and measured["tool"].startswith("Yosys")
    roms = {(e["x"], e["w"]) for e in measured["product_roms"]}
    assert roms == set(units.PRODUCT_PAIRS)
    ladders = {(e["neg"], e["pos"], e["rounding"]) for e in measured["quantizers"]}
    assert ladders == {(n, p, r) for n, p in units.QUANTIZER_SIDES for r in ROUNDING_MODES}
    assert measured["adder"]["luts"] == measured["adder"]["bits"]  # one LUT per bit beside the carry chain


def test_the_measurements_are_of_todays_tables():
    for entry in _measured()["product_roms"]:
        fx, fw = Format.parse(entry["x"]), Format.parse(entry["w"])
        assert entry["table_sha256"] == units.product_digest(fx, fw)
    for entry in _measured()["quantizers"]:
        neg, pos = Format.parse(entry["neg"]), Format.parse(entry["pos"])
        assert entry["table_sha256"] == units.quantizer_digest(neg, pos, entry["rounding"])


def test_a_stale_measurement_is_refused(tmp_path, monkeypatch):
    measured = _measured()
    measured["product_roms"][0]["table_sha256"] = "0" * 64
    stale = tmp_path / "measured.json"
    stale.write_text(json.dumps(measured))
    monkeypatch.setattr(units, "MEASURED_FILE", stale)
    units.load_units.cache_clear()
    try:
        with pytest.raises(FpqcError, match=r"changed since it was measured; re-measure with `python scripts/"):
            units.load_units("versal")
    finally:
        units.load_units.cache_clear()


def test_the_product_rom_netlist_holds_the_product_table():
    fx, fw = Format.parse("e1m2"), Format.parse("e2m1")
    verilog = product_rom(fx, fw)
    width = product_bits(fx, fw)
    entries = {int(i): (-1 if sign else 1) * int(v)
               for i, sign, v in re.findall(rf"8'd(\d+): p = (-?){width}'sd(\d+);", verilog)}
    table = product_table(fx, fw)
    assert entries == {(a << 4) | b: int(table[a, b]) for a in range(16) for b in range(16)}


def test_the_quantizer_netlist_compares_with_the_thresholds():
    table = Format.parse("e2m1").quantizer_table("rne")
    verilog = quantizer_ladder(table.neg, table.pos, table.nan_code, 4)
    for threshold, tie_up in zip(table.pos.thresholds, table.pos.tie_up):
        bits = int(np.float32(threshold).view(np.uint32))
        assert f"a {'>=' if tie_up else '>'} 31'd{bits};" in verilog  # a tie at a threshold goes up or not
    assert "4'd15" in verilog  # the largest negative code


def test_every_op_kind_has_its_fp32_operations_and_a_source():
    costs = units.load_units("versal")
    for kind in [*OP_KINDS.values(), "combine", "dual_combine"]:
        assert costs.ops(kind).source.startswith("fpqc/numerics/"), kind
    assert "AM004" in costs.dsp_source and "UG579" in units.load_units("ultrascale_plus").dsp_source


def test_dsps_of_a_unit_follow_the_family():
    versal, ultrascale = units.load_units("versal"), units.load_units("ultrascale_plus")
    # a 16-lane layer norm: 2 multiplies and 3 adds per lane, rsqrt and the row's mean and variance shared
    assert versal.dsps("layernorm", 16) == 16 * (2 + 3) + (11 + 5)
    assert ultrascale.dsps("layernorm", 16) == 16 * 2 * 2 + 11 * 2  # two DSP48E2 a multiply, adds in LUTs
    # a Hadamard transform of blocks of 128: one add per butterfly level, then the scale
    assert versal.dsps("hadamard", 16, levels=7) == 16 * (1 + 7)
    assert versal.dsps("attention", 16, units=3) == 3 * (16 * 4 + 25 + 18)
