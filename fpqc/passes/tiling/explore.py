"""The tile pass's design-space exploration: which PE array and tiles give one kernel the fewest cycles.

A design point of a kernel is a PE count, a number of attention units, a
``k_tile`` (0: whole rows of K) and the largest row tile with which the plan
fits the device
(:func:`fpqc.analysis.plan_fit.kernel_fit`).  Its score is the kernel's cycles
over its launches in one batch of the step program
(:func:`fpqc.analysis.cost_model.launch_cost`): the cost model, not a formula
of its own.  The search:

- PE counts from the LUT budget's down to an eighth of it, halving, stopping
  once even the PE array's compute alone (MACs over ``pes × lanes``) is
  slower than the best point found;
- for each, attention units from the most that fit (a divisor of the
  heads, found by bisection) down, until all rows of a launch fit -- fewer
  units only make attention slower;
- ``k_tile`` 0 (whole rows of K, which the HLS library's PE array streams),
  unless the pass's ``k_tile=`` option fixes another for a plan studied by
  hand;
- the largest row tile that fits, by bisection over the row tiles from all
  rows of a launch down to 16, halving (each halving reads the weights once
  more per launch).

Ties go to the larger row tile, then to ``k_tile`` 0, then to fewer PEs and units.
:func:`explore_kernel` returns every point that fits, best first; the pass
keeps the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fpqc.analysis.cost_model import PE_ARRAY, Launch, LaunchCost, launch_cost
from fpqc.analysis.plan_fit import KernelFit, kernel_fit
from fpqc.dialects import fpq, hls
from fpqc.targets import Target

PE_HALVINGS = 3
"""PE counts tried: the LUT budget's and this many halvings of it."""


@dataclass
class DesignPoint:
    """One way to plan a kernel, and what it costs over the kernel's launches in one batch."""

    kernel: str
    pes: int
    lanes: int
    units: int
    """Attention units (0: the kernel has no attention)."""
    k_tile: int
    row_tile: int
    fit: KernelFit
    launches: list[LaunchCost]

    @property
    def cycles(self) -> float:
        return sum(c.cycles * c.launch.count for c in self.launches)

    @property
    def compute_bound(self) -> float:
        return sum(c.compute_bound * c.launch.count for c in self.launches)

    @property
    def memory_bound(self) -> float:
        return sum(c.memory_bound * c.launch.count for c in self.launches)

    def bounds(self) -> str:
        """``M`` or ``C`` per launch kind (smallest rows first): memory- or compute-bound."""
        ordered = sorted(self.launches, key=lambda c: (c.launch.rows or 0, c.launch.offset or 0))
        return "".join("M" if c.memory_bound > c.compute_bound else "C" for c in ordered)

    def describe(self) -> str:
        k = f"k_tile {self.k_tile}" if self.k_tile else "k_tile K"
        units = f", {self.units} attention units" if self.units else ""
        return f"{self.pes} PEs x {self.lanes} lanes{units}, {k}, row tile {self.row_tile}"


def k_tiles(kernel: hls.KernelOp, fixed: int) -> list[int]:
    """``k_tile`` candidates: the option, or 0 (whole rows of K: the HLS library's PE array streams a
    weight tile's whole rows, so the exploration does not cut K; ``k_tile=`` plans a cut by hand)."""
    return [fixed] if fixed else [0]


def attention_units(kernel: hls.KernelOp, fixed: int) -> list[int]:
    """Attention unit counts to try, most first: the option, or every divisor of the heads ([0] without
    an attention)."""
    heads = [op.num_heads.value.data for op in hls.compute_ops(kernel) if isinstance(op, fpq.CachedAttentionOp)]
    if not heads:
        return [0]
    if fixed:
        return [fixed]
    return [u for u in range(max(heads), 0, -1) if all(h % u == 0 for h in heads)]


def explore_kernel(
    kernel: hls.KernelOp,
    target: Target,
    launches: list[Launch],
    pe_counts: list[int],
    unit_counts: list[int],
    k_tile_options: list[int],
    row_tiles: list[int],
    plan: Callable[[int, int, int, int], KernelFit],
) -> list[DesignPoint]:
    """Every design point that fits (module docstring), best first; ``plan(pes, units, k_tile, row_tile)``
    replans ``kernel`` and returns its fit."""
    launches = launches or [Launch(kernel.sym_name.data)]
    fits: dict[tuple[int, int, int, int], bool] = {}
    in_ir: tuple[int, ...] | None = None  # the choice whose plan the kernel holds

    def plan_at(*choice: int) -> KernelFit:
        nonlocal in_ir
        in_ir = choice
        return plan(*choice)

    def fits_at(*choice: int) -> bool:
        if choice not in fits:
            fits[choice] = plan_at(*choice).fits(target)
        return fits[choice]

    def k_tile_at(pes: int, units: int) -> int | None:
        """The first ``k_tile`` with which the smallest row tile fits (0, whole rows of K, first)."""
        return next((k for k in k_tile_options if fits_at(pes, units, k, row_tiles[-1])), None)

    points: list[DesignPoint] = []
    pe_macs: float | None = None
    for pes in pe_counts:
        best = min((p.cycles for p in points), default=None)
        if best is not None and pe_macs is not None and pe_macs / (pes * kernel.lanes.value.data) > best:
            break
        most = _first_fitting(lambda i: k_tile_at(pes, unit_counts[i]) is not None, len(unit_counts))
        for units in unit_counts[most:] if most is not None else []:
            k_tile = k_tile_at(pes, units)
            index = _first_fitting(lambda i: fits_at(pes, units, k_tile, row_tiles[i]), len(row_tiles))
            choice = (pes, units, k_tile, row_tiles[index])
            fit = kernel_fit(kernel, target) if in_ir == choice else plan_at(*choice)  # the costs read the IR
            costs = [_counted(launch_cost(kernel, target, launch), launch) for launch in launches]
            if pe_macs is None:
                pe_macs = sum(o.macs * c.launch.count for c in costs for o in c.ops if o.engine == PE_ARRAY)
            points.append(DesignPoint(kernel.sym_name.data, pes, fit.lanes, units, k_tile, row_tiles[index], fit,
                                      costs))
            if index == 0:
                break  # all rows fit: fewer attention units would only be slower
    return sorted(points, key=lambda p: (p.cycles, -p.row_tile, p.k_tile != 0, -p.k_tile, p.pes, p.units))


def _first_fitting(fits_at: Callable[[int], bool], limit: int) -> int | None:
    """The smallest index below ``limit`` whose plan fits, by bisection: the fit must be monotone,
    fitting from some index on (a smaller row tile, fewer attention units need no more of the device);
    None when even ``limit - 1`` does not fit."""
    if limit == 0 or not fits_at(limit - 1):
        return None
    lo, hi = 0, limit - 1  # hi fits
    while lo < hi:
        mid = (lo + hi) // 2
        if fits_at(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _counted(cost: LaunchCost, launch: Launch) -> LaunchCost:
    cost.launch = launch
    return cost


__all__ = ["DesignPoint", "attention_units", "explore_kernel", "k_tiles"]
