"""Measure the LUT units of fpqc's accelerator with Yosys and keep the figures for the cost model.

    python scripts/measure_units.py            # all units, writes fpqc/targets/units/measured.json
    python scripts/measure_units.py --check    # re-measure and compare with the kept file

Every product ROM (LUT multiplier) and LUT quantizer (comparator ladder) the
recipes use, and a carry-chain adder, is generated as Verilog from the tables
of ``fpqc.numerics`` (:mod:`fpqc.backends.hls.netlists`) and synthesized with
``yosys -p "synth_xilinx -family xcup -flatten"`` (UltraScale+ LUT6 fabric;
Versal's CLB is LUT6 too).  The LUT, MUXF and CARRY cells of each netlist go
into the measurement file with the digest of the table it was generated from,
so ``fpqc.targets.units`` refuses a file whose tables have changed since.
Needs ``yosys`` on the PATH (``apt-get install -y yosys``); about 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fpqc.backends.hls.netlists import accumulator, product_rom, quantizer_ladder
from fpqc.numerics import Format
from fpqc.numerics.dual_format import DualFormat
from fpqc.numerics.rounding import ROUNDING_MODES
from fpqc.targets.units import MEASURED_FILE, PRODUCT_PAIRS, QUANTIZER_SIDES, product_digest, quantizer_digest

SYNTHESIS = "synth_xilinx -family xcup -flatten"
ADDER_BITS = 32


def synthesize(verilog: str, top: str, work: Path) -> dict[str, int]:
    """Cell counts of ``verilog`` after synthesis: luts, muxes (MUXF7/8/9), carries, ffs."""
    source = work / f"{top}.v"
    stat = work / f"{top}.stat"
    source.write_text(verilog)
    subprocess.run(["yosys", "-q", "-p", f"read_verilog {source}; {SYNTHESIS} -top {top}; tee -q -o {stat} stat"],
                   check=True, capture_output=True, text=True)
    cells: dict[str, int] = {}
    for name, count in re.findall(r"^\s+([A-Z0-9_]+)\s+(\d+)\s*$", stat.read_text(), re.MULTILINE):
        cells[name] = cells.get(name, 0) + int(count)
    pick = {"luts": r"LUT\d", "muxes": r"MUXF\d", "carries": r"CARRY\d", "ffs": r"FD[A-Z]+"}
    return {key: sum(n for name, n in cells.items() if re.fullmatch(pattern, name)) for key, pattern in pick.items()}


def measure(work: Path) -> dict:
    version = subprocess.run(["yosys", "-V"], check=True, capture_output=True, text=True).stdout.strip()
    out: dict = {"tool": version, "synthesis": SYNTHESIS, "script": "scripts/measure_units.py",
                 "product_roms": [], "quantizers": []}
    for x, w in PRODUCT_PAIRS:
        fx, fw = Format.parse(x), Format.parse(w)
        cells = synthesize(product_rom(fx, fw), "product_rom", work)
        out["product_roms"].append({"x": x, "w": w, **cells, "table_sha256": product_digest(fx, fw)})
        print(f"product ROM {x} x {w}: {cells['luts']} LUTs", flush=True)
    for neg_name, pos_name in QUANTIZER_SIDES:
        dual = DualFormat(Format.parse(neg_name), Format.parse(pos_name))
        for rounding in ROUNDING_MODES:
            neg, pos = dual.neg.quantizer_table(rounding), dual.pos.quantizer_table(rounding)
            bits = max(dual.neg.bits, dual.pos.bits)
            cells = synthesize(quantizer_ladder(neg.neg, pos.pos, pos.nan_code, bits), "quantizer_ladder", work)
            out["quantizers"].append({"neg": neg_name, "pos": pos_name, "rounding": rounding, **cells,
                                      "table_sha256": quantizer_digest(dual.neg, dual.pos, rounding)})
            print(f"quantizer {neg_name}/{pos_name} {rounding}: {cells['luts']} LUTs", flush=True)
    out["adder"] = {"bits": ADDER_BITS, **synthesize(accumulator(ADDER_BITS), "accumulator", work)}
    print(f"adder of {ADDER_BITS} bits: {out['adder']['luts']} LUTs", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the kept file instead of writing it")
    args = parser.parse_args()
    if shutil.which("yosys") is None:
        print("error: yosys is not on the PATH (apt-get install -y yosys)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="fpqc-units-") as tmp:
        measured = measure(Path(tmp))
    text = json.dumps(measured, indent=1, sort_keys=True) + "\n"
    if args.check:
        kept = json.loads(MEASURED_FILE.read_text())
        same = {k: v for k, v in kept.items() if k != "tool"} == {k: v for k, v in measured.items() if k != "tool"}
        print(f"{MEASURED_FILE}: {'the same' if same else 'DIFFERENT'} ({kept['tool']} vs {measured['tool']})")
        return 0 if same else 1
    MEASURED_FILE.write_text(text)
    print(f"wrote {MEASURED_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
