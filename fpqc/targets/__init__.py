"""Target descriptions as data: ``fpqc/targets/<name>.toml``.

A target file names the device (part, device ``family``, Vitis platform,
clock), its resources
(LUTs, flip-flops, DSPs, block RAMs and UltraRAMs with their shapes), its
memory (DDR bandwidth, the AXI data width and burst length of a kernel port,
the memory banks its ports connect to in the Vitis link: ``[vitis]``),
the parameters of fpqc's accelerator on it (``[accelerator] lanes``: LUT
multipliers issued per cycle; the share of LUTs the PE arrays may take; the
depth of a stream) and the ``[storage]`` size thresholds by which the ``tile``
pass puts a buffer in registers, LUTRAM, BRAM or URAM.  A new board is a new
file; nothing in the code hard-wires a board.  The cost of one hardware unit
(a LUT multiplier, a quantizer, an fp32 operator) comes from the family's unit
cost files (:mod:`fpqc.targets.units`): ``target.units``.

Example::

    target = load_target("vck190")
    target.part, target.platform, target.clock_mhz, target.lanes, target.bram_bits
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from fpqc.errors import FpqcError
from fpqc.targets.units import UnitCosts, load_units

TARGETS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Target:
    """One board as fpqc sees it (fields mirror the TOML keys)."""

    name: str
    description: str
    part: str
    family: str
    """Device family: names the unit cost file ``fpqc/targets/units/<family>.toml``."""
    platform: str
    clock_mhz: float
    luts: int
    dsps: int
    brams: int
    urams: int
    ddr_bandwidth_gbs: float
    lanes: int
    ffs: int
    lut_inputs: int
    lutram_bits_per_lut: int
    bram_shapes: tuple[tuple[int, int], ...]
    """(width, depth) configurations of one block RAM, bits x words."""
    uram_shape: tuple[int, int]
    """(width, depth) of one UltraRAM, bits x words."""
    axi_data_width: int
    burst_beats: int
    pe_lut_fraction: float
    stream_depth: int
    registers_max_bits: int
    lutram_max_bits: int
    uram_min_bits: int
    weights_memory: str
    """The memory (v++ link ``sp=``) of kernel ports that read weights; ``kv_cache_memory`` of the
    KV caches, ``activations_memory`` of every other port."""
    kv_cache_memory: str
    activations_memory: str

    @property
    def bram_bits(self) -> int:
        """Bits of one block RAM (its widest configuration, parity bits included)."""
        return max(w * d for w, d in self.bram_shapes)

    @property
    def uram_bits(self) -> int:
        return self.uram_shape[0] * self.uram_shape[1]

    @property
    def units(self) -> UnitCosts:
        """The unit costs of the target's device family."""
        return load_units(self.family)

    @property
    def ddr_bytes_per_cycle(self) -> float:
        """DDR bandwidth in bytes per cycle of the accelerator's clock."""
        return self.ddr_bandwidth_gbs * 1e9 / (self.clock_mhz * 1e6)


def known_targets() -> list[str]:
    return sorted(p.stem for p in TARGETS_DIR.glob("*.toml"))


def load_target(name: str) -> Target:
    """The target called ``name``; FpqcError naming the known ones if there is none."""
    path = TARGETS_DIR / f"{name}.toml"
    if "/" in name or not path.is_file():
        raise FpqcError(f"unknown target '{name}' (known targets: {', '.join(known_targets())})")
    try:
        data = tomllib.loads(path.read_text())
        resources, memory, accel = data["resources"], data["memory"], data["accelerator"]
        storage, vitis = data["storage"], data["vitis"]
        target = Target(
            name=data["name"],
            description=data.get("description", ""),
            part=data["part"],
            family=data["family"],
            platform=data["platform"],
            clock_mhz=float(data["clock_mhz"]),
            luts=int(resources["luts"]),
            dsps=int(resources["dsps"]),
            brams=int(resources["brams"]),
            urams=int(resources["urams"]),
            ddr_bandwidth_gbs=float(memory["ddr_bandwidth_gbs"]),
            lanes=int(accel["lanes"]),
            ffs=int(resources["ffs"]),
            lut_inputs=int(resources["lut_inputs"]),
            lutram_bits_per_lut=int(resources["lutram_bits_per_lut"]),
            bram_shapes=tuple((int(w), int(d)) for w, d in resources["bram_shapes"]),
            uram_shape=(int(resources["uram_shape"][0]), int(resources["uram_shape"][1])),
            axi_data_width=int(memory["axi_data_width"]),
            burst_beats=int(memory["burst_beats"]),
            pe_lut_fraction=float(accel["pe_lut_fraction"]),
            stream_depth=int(accel["stream_depth"]),
            registers_max_bits=int(storage["registers_max_bits"]),
            lutram_max_bits=int(storage["lutram_max_bits"]),
            uram_min_bits=int(storage["uram_min_bits"]),
            weights_memory=str(vitis["weights_memory"]),
            kv_cache_memory=str(vitis["kv_cache_memory"]),
            activations_memory=str(vitis["activations_memory"]),
        )
    except tomllib.TOMLDecodeError as e:
        raise FpqcError(f"{path}: not valid TOML ({e})") from None
    except KeyError as e:
        raise FpqcError(f"{path}: missing key {e.args[0]!r}; see vck190.toml for the layout") from None
    except (TypeError, ValueError, IndexError) as e:
        raise FpqcError(f"{path}: a value has the wrong type ({e}); see vck190.toml for the layout") from None
    problem = _problem(target)
    if problem is not None:
        raise FpqcError(f"{path}: {problem}")
    target.units  # a family without unit costs is an error of the target file
    return target


def _problem(t: Target) -> str | None:
    """What is wrong with the values of ``t``, None if nothing."""
    counts = {"luts": t.luts, "ffs": t.ffs, "lanes": t.lanes, "lut_inputs": t.lut_inputs,
              "lutram_bits_per_lut": t.lutram_bits_per_lut, "burst_beats": t.burst_beats,
              "stream_depth": t.stream_depth}
    for key, value in counts.items():
        if value <= 0:
            return f"{key} must be positive, got {value}"
    if t.brams < 0 or t.urams < 0:
        return "brams and urams must not be negative"
    if not t.bram_shapes or any(w <= 0 or d <= 0 for w, d in (*t.bram_shapes, t.uram_shape)):
        return "bram_shapes and uram_shape need positive widths and depths"
    if t.axi_data_width < 8 or t.axi_data_width > 1024 or t.axi_data_width & (t.axi_data_width - 1):
        return f"axi_data_width must be a power of two from 8 to 1024, got {t.axi_data_width}"
    if t.burst_beats > 256:
        return f"burst_beats must be at most 256 (AXI4), got {t.burst_beats}"
    if not 0 < t.pe_lut_fraction <= 1:
        return f"pe_lut_fraction must be in (0, 1], got {t.pe_lut_fraction}"
    if not 0 <= t.registers_max_bits <= t.lutram_max_bits <= t.uram_min_bits:
        return "the [storage] thresholds must grow: registers_max_bits <= lutram_max_bits <= uram_min_bits"
    return None
