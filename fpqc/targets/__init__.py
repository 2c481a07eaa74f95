"""Target descriptions as data: ``fpqc/targets/<name>.toml``.

A target file names the device (part, Vitis platform, clock), its resources
and memory bandwidth, and the parameters of fpqc's accelerator on it
(``[accelerator] lanes``: LUT multipliers issued per cycle).  A new board is
a new file; nothing in the code hard-wires a board.

Example::

    target = load_target("vck190")
    target.part, target.platform, target.clock_mhz, target.lanes
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from fpqc.errors import FpqcError

TARGETS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Target:
    """One board as fpqc sees it (fields mirror the TOML keys)."""

    name: str
    description: str
    part: str
    platform: str
    clock_mhz: float
    luts: int
    dsps: int
    brams: int
    urams: int
    ddr_bandwidth_gbs: float
    lanes: int


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
        return Target(
            name=data["name"],
            description=data.get("description", ""),
            part=data["part"],
            platform=data["platform"],
            clock_mhz=float(data["clock_mhz"]),
            luts=int(resources["luts"]),
            dsps=int(resources["dsps"]),
            brams=int(resources["brams"]),
            urams=int(resources["urams"]),
            ddr_bandwidth_gbs=float(memory["ddr_bandwidth_gbs"]),
            lanes=int(accel["lanes"]),
        )
    except tomllib.TOMLDecodeError as e:
        raise FpqcError(f"{path}: not valid TOML ({e})") from None
    except KeyError as e:
        raise FpqcError(f"{path}: missing key {e.args[0]!r}; see vck190.toml for the layout") from None
