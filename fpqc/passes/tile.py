"""Choose every kernel's hardware plan: ``tile{target=vck190 pes=... lanes=... n_tile=... storage=...}``.

For every ``hls.kernel`` the pass writes an ``hls.plan`` (the ops of
:mod:`fpqc.dialects.hls.plan`) before its ``hls.return``: the PE array, a DDR
port per argument and result, the loop tiles of every op, the on-chip
buffers and their storage, the dataflow stages and the streams between them.
The choices follow the rules of :mod:`fpqc.passes.tiling.rules` (weights
streamed in double-buffered ``[n_tile, k_tile]`` tiles reused by every row of
the launch, activation codes kept whole on chip, ...) and the value flow of
:mod:`fpqc.passes.tiling.planner`, from the target file
(``fpqc/targets/<target>.toml``) and the kernel's shapes: the rows of an op are
the product of the leading dimensions of its activation operand (a kernel is
typed at its largest launch).

- **PE array**: ``lanes`` from the target (or the option); the PE count
  starts at the largest power of two whose LUT multipliers fit the kernel's
  share of the target's ``pe_lut_fraction`` of LUTs (kernels share it in
  proportion to their multiply-accumulates per launch × launches), at most
  the widest linear layer's N;
- **row tile**: all rows of the launch (weights read once per launch), halved
  while the buffers do not fit the device (each halving reads the weights
  once more per launch); attention keeps all rows whatever the row tile;
- **fit and speed**: more PEs need more weight-tile banks (each PE reads
  its own bank every cycle), so the pass explores PE counts from the LUT
  budget's down (halving), ``k_tile`` (smaller weight tiles fit more PEs) and
  for each the largest row tile that fits, and keeps the design with the
  fewest cycles over the kernel's launches in one batch of the step program,
  as the cost model counts them (:mod:`fpqc.passes.tiling.explore`,
  :mod:`fpqc.analysis.cost_model`);
- all kernels are on the chip at once: when their sum does not fit, the
  kernel holding the most bits is explored again within what the others'
  plans leave of the device; if they still do not fit, the row tile of the
  kernel holding the most bits halves, and so on.

A design that cannot fit is one error naming the kernel, what it needs, its
largest buffers and the options to change.  Re-running the pass replaces the
plans.

Options (0 or empty: chosen by the pass): ``target``; ``pes``, ``lanes``;
``n_tile``, ``k_tile`` (a multiple or a divisor of the accumulation group),
``row_tile``, ``kv_tile`` (cache rows per K/V tile of an attention),
``attention_units`` (heads an attention works on at once);
``storage``: ``"NAME=KIND,..."`` fixes the storage (``bram``, ``uram``,
``lutram``, ``registers``) of the buffers whose names match the glob NAME.

Before (VAR-d16's fc1 for 2 x 256 rows, fp4)::

    hls.kernel @kernel_0(%x: tensor<512x1024xf32>, %w: tensor<4096x1024x!fpq.float<e2m1>>,
                         %s: tensor<4096x8xf32>, %b: tensor<4096xf32>) -> tensor<512x4096xf32>
        attributes {target = "vck190", lanes = 16 : i64} {
      %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>} : ...
      %y = fpq.qlinear %c, %cs, %w, %s, %b {fpq.role = "fc1", ...} : (...) -> tensor<512x4096xf32>
      hls.return %y : tensor<512x4096xf32>
    }

After (``-p tile``)::

    hls.kernel @kernel_0(...) -> tensor<512x4096xf32> attributes {target = "vck190", lanes = 16 : i64} {
      %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>} : ...
      %y = fpq.qlinear %c, %cs, %w, %s, %b {fpq.role = "fc1", ...} : (...) -> tensor<512x4096xf32>
      hls.plan {
        hls.pe_array pes 512 lanes 16
        hls.port "x" in 0 %x width 512 burst 64 bundle "gmem0"
        hls.port "w" in 1 %w width 512 burst 64 bundle "gmem1"
        hls.port "s" in 2 %s width 512 burst 64 bundle "gmem2"
        hls.port "b" in 3 %b width 512 burst 64 bundle "gmem3"
        hls.port "out0" out 0 %y width 512 burst 64 bundle "gmem4"
        hls.tile %c [rows 512 by 512, c 1024 by 128 on lanes] ii 1
        hls.tile %y [rows 512 by 512, n 4096 by 512 on pes, k 1024 by 1024 on lanes] ii 1
        hls.buffer "quantize0.group" scratch of %c as tensor<128xf32> in lutram banks 1 pack 16 copies 2 bits 8192
        hls.buffer "pe.w" tile of %w as tensor<512x1024x!fpq.float<e2m1>> in lutram banks 512 pack 16 copies 2 bits 4194304
        hls.buffer "pe.ws" tile of %s as tensor<512x8xf32> in lutram banks 512 pack 1 copies 2 bits 262144
        hls.buffer "pe.b" tile of %b as tensor<512xf32> in registers banks 512 pack 1 copies 2 bits 32768
        hls.buffer "fc1.acc" scratch of %y as tensor<512xi16> in registers banks 1 pack 1 copies 1 bits 8192
        hls.buffer "fc1.x" whole of %c as tensor<512x1024x!fpq.float<e2m1>> in uram banks 1 pack 16 copies 1 bits 2097152
        hls.buffer "fc1.xs" whole of %cs as tensor<512x8xf32> in bram banks 1 pack 1 copies 1 bits 131072
        hls.stage 0 "load" load %x, %w, %s, %b
        hls.stage 1 "quantize0" quantize %c
        hls.stage 2 "fc1.mul" lut_multiply %y
        hls.stage 3 "fc1.combine" combine %y
        hls.stage 4 "write" write %y
        hls.stream "x>quantize0" of %x from "load" to "quantize0" width 512 depth 2
        hls.stream "fc1.sums" of %y from "fc1.mul" to "fc1.combine" width 8192 depth 2
        hls.stream "fc1>write" of %y from "fc1.combine" to "write" width 16384 depth 2
      }
      hls.return %y : tensor<512x4096xf32>
    }
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from fpqc.analysis.cost_model import Launch, kernel_launches
from fpqc.analysis.plan_fit import KernelFit, Usage, kernel_fit, lane_luts, module_fit, multipliers
from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import Storage
from fpqc.errors import FpqcError
from fpqc.passes.tiling.explore import PE_HALVINGS, DesignPoint, attention_units, explore_kernel, k_tiles
from fpqc.passes.tiling.planner import kernel_macs, kernel_rules, parse_storage, plan_kernel
from fpqc.passes.tiling.rules import Choices, LinearRule, floor_pow2
from fpqc.targets import Target, load_target

MIN_ROW_TILE = 16
"""The smallest row tile the exploration tries (``row_tile=`` may set any)."""


@dataclass(frozen=True)
class TilePass(ModulePass):
    """Write the hardware plan of every ``hls.kernel`` (see module docstring)."""

    name = "tile"

    target: str = "vck190"
    pes: int = 0
    lanes: int = 0
    n_tile: int = 0
    k_tile: int = 0
    row_tile: int = 0
    kv_tile: int = 0
    attention_units: int = 0
    storage: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        self.plan_module(op)

    def plan_module(self, op: ModuleOp) -> dict[str, list[DesignPoint]]:
        """Plan every kernel of ``op`` (what :meth:`apply` does); the design points explored for each
        kernel, best first (the plan keeps the first, with a smaller row tile if the kernels do not fit
        the device together)."""
        target = load_target(self.target)
        for option in ("pes", "lanes", "n_tile", "k_tile", "row_tile", "kv_tile", "attention_units"):
            if getattr(self, option) < 0:
                raise FpqcError(f"tile: {option} must be positive (0: chosen by the pass), got {getattr(self, option)}")
        overrides = parse_storage(self.storage)
        kernels = [k for k in op.ops if isinstance(k, hls.KernelOp)]
        if not kernels:
            return {}
        lanes = self.lanes or target.lanes
        pes = self._pe_counts(op, kernels, target, lanes)
        launches = kernel_launches(op)
        tiles: dict[hls.KernelOp, tuple[int, int, int]] = {}
        points: dict[str, list[DesignPoint]] = {}
        for kernel in kernels:
            name = kernel.sym_name.data
            points[name] = self.explore(kernel, target, pes[kernel], lanes, overrides, launches.get(name, []))
            self._keep(kernel, target, lanes, overrides, points[name][0], tiles)
        self._fit_beside_others(op, kernels, target, pes, lanes, overrides, launches, points, tiles)
        self._fit_module(op, kernels, target, pes, lanes, overrides, tiles)
        return points

    def _keep(self, kernel: hls.KernelOp, target: Target, lanes: int, overrides: list[tuple[str, Storage]],
              point: DesignPoint, tiles: dict[hls.KernelOp, tuple[int, int, int]]) -> None:
        """Plan ``kernel`` as ``point`` says."""
        self._plan(kernel, target, point.pes, lanes, point.row_tile, point.k_tile, overrides, point.units)
        tiles[kernel] = (point.row_tile, point.k_tile, point.units)

    def _fit_beside_others(self, module: ModuleOp, kernels: list[hls.KernelOp], target: Target, pes: dict,
                           lanes: int, overrides: list[tuple[str, Storage]], launches: dict[str, list[Launch]],
                           points: dict[str, list[DesignPoint]],
                           tiles: dict[hls.KernelOp, tuple[int, int, int]]) -> None:
        """All kernels are on the chip at once: while they do not fit together, explore again the kernel
        holding the most bits within what the other kernels' plans leave of the device."""
        order = sorted(kernels, key=lambda k: (-kernel_fit(k, target).memory_bits, k.sym_name.data))
        for kernel in order:
            fit = module_fit(module, target)
            if fit.fits():
                return
            name = kernel.sym_name.data
            others = Usage()
            for other in fit.kernels:
                if other.kernel != name:
                    others.add(other)
            room = replace(target, luts=target.luts - others.luts, ffs=target.ffs - others.registers,
                           dsps=target.dsps - others.dsps, brams=target.brams - others.brams,
                           urams=target.urams - others.urams)
            try:
                points[name] = self.explore(kernel, room, pes[kernel], lanes, overrides, launches.get(name, []))
            except FpqcError:
                pass  # nothing fits beside the others: keep the point, let the row tiles shrink
            self._keep(kernel, target, lanes, overrides, points[name][0], tiles)

    # ---------------------------------------------------------------- PE arrays
    def _pe_counts(self, module: ModuleOp, kernels: list[hls.KernelOp], target: Target, lanes: int) -> dict:
        """PEs of each kernel: the option, or its share of the LUT budget (see module docstring)."""
        launches = Counter(c.callee.string_value() for c in module.walk() if isinstance(c, hls.CallOp))
        work = {k: kernel_macs(k) * max(1, launches[k.sym_name.data]) for k in kernels}
        total = sum(work.values())
        pes = {}
        for kernel in kernels:
            if self.pes:
                pes[kernel] = self.pes
                continue
            per_lane = lane_luts(multipliers(kernel), target)
            widest = max((r.dims(o)[1] for o, r in kernel_rules(kernel).items() if isinstance(r, LinearRule)),
                         default=1)
            if per_lane == 0 or total == 0:
                pes[kernel] = 1
                continue
            budget = target.luts * target.pe_lut_fraction * work[kernel] / total
            pes[kernel] = min(floor_pow2(int(budget // (lanes * per_lane))), floor_pow2(widest))
        return pes

    # ---------------------------------------------------------------- planning
    def _plan(self, kernel: hls.KernelOp, target: Target, pes: int, lanes: int, row_tile: int, k_tile: int,
              overrides: list[tuple[str, Storage]], units: int = 1, verify: bool = True) -> KernelFit:
        """Plan ``kernel`` with ``row_tile`` rows per tile, replacing its plan; its fit (the search's
        candidates skip verifying the plan; the one kept is verified)."""
        kernel.lanes = IntegerAttr(lanes, i64)
        choices = Choices(target, pes, lanes, row_tile, k_tile, self.kv_tile, units)
        self._check_k_tile(kernel)
        plan = plan_kernel(kernel, choices, self.n_tile, overrides).to_ir()
        old = hls.plan_of(kernel)
        if old is not None:
            old.detach()
            old.erase()
        kernel.body.block.insert_op_before(plan, kernel.get_return_op())
        if verify:
            plan.verify()
        return kernel_fit(kernel, target)

    def _check_k_tile(self, kernel: hls.KernelOp) -> None:
        if not self.k_tile:
            return
        for op, rule in kernel_rules(kernel).items():
            if isinstance(rule, LinearRule):
                group, k = op.combine_group_size(), rule.dims(op)[2]
                if self.k_tile < k and self.k_tile % group and group % self.k_tile:
                    raise FpqcError(
                        f"tile: k_tile={self.k_tile} splits the accumulation groups of {group} elements of "
                        f"@{kernel.sym_name.data}'s {op.name}; use a multiple or a divisor of {group}"
                    )

    @staticmethod
    def _rows(kernel: hls.KernelOp) -> int:
        return max((rule.rows(op) for op, rule in kernel_rules(kernel).items()), default=1)

    def _row_tiles(self, kernel: hls.KernelOp, start: int | None = None) -> list[int]:
        """Row tiles to try, largest first: the option, or all rows halving down to MIN_ROW_TILE (a weight
        tile reused by fewer rows spends more time loading than computing; below it a row tile can also
        need more memory, not less, as values that stream in column tiles of whole heads stop fitting)."""
        if self.row_tile:
            return [self.row_tile]
        tiles, r = [], start or self._rows(kernel)
        while True:
            tiles.append(r)
            if r <= MIN_ROW_TILE:
                return tiles
            r = max(-(-r // 2), MIN_ROW_TILE)

    def explore(self, kernel: hls.KernelOp, target: Target, pes: int, lanes: int,
                overrides: list[tuple[str, Storage]], launches: list[Launch]) -> list[DesignPoint]:
        """The design points of ``kernel`` that fit, best first (:func:`explore_kernel`), leaving
        ``kernel`` planned with the last one tried; FpqcError when none fits."""

        def plan(p: int, units: int, k_tile: int, row_tile: int) -> KernelFit:
            return self._plan(kernel, target, p, lanes, row_tile, k_tile, overrides, units, verify=False)

        row_tiles = self._row_tiles(kernel)
        pe_counts = [pes] if self.pes else _halving(pes)[:PE_HALVINGS + 1]
        units = attention_units(kernel, self.attention_units)
        points = explore_kernel(kernel, target, launches, pe_counts, units, k_tiles(kernel, self.k_tile), row_tiles,
                                plan)
        if not points:  # the error names what the LUT budget's PE count needs at its most modest
            fit = self._plan(kernel, target, pes, lanes, row_tiles[-1], self.k_tile, overrides, units[-1])
            raise FpqcError(self._no_fit(kernel, fit, row_tiles[-1], target))
        return points

    def _no_fit(self, kernel: hls.KernelOp, fit: KernelFit, row_tile: int, target: Target) -> str:
        """The one-line error for a kernel that fits with no PE count and row tile tried."""
        largest = ", ".join(b.describe() for b in fit.largest(3))
        overflow = fit.overflows(target)
        hints = []
        if any(o.endswith(("LUTs", f"of {target.luts}")) for o in overflow):
            hints.append(f"lower lanes (now {fit.lanes})" + (f" or pes (now {fit.pes})" if self.pes else ""))
        if any("BRAM" in o or "URAM" in o or "FFs" in o for o in overflow):
            knobs = ([f"row_tile (now {row_tile})"] if self.row_tile else []) + ["n_tile", "k_tile"]
            if any(isinstance(op, fpq.CachedAttentionOp) for op in hls.compute_ops(kernel)):
                knobs.append("kv_tile")
            hints.append(f"lower {', '.join(knobs)}, or place buffers with storage=\"NAME=bram|uram|lutram\"")
        also = [what for what, fixed in (("row tiles down to 1", self.row_tile), ("fewer PEs", self.pes)) if not fixed]
        tried = f"{fit.pes} PEs and row tile {row_tile}" + (f" ({' and '.join(also)} tried too)" if also else "")
        return (
            f"tile: kernel @{kernel.sym_name.data} does not fit {target.name}: with {tried} it needs "
            f"{', '.join(overflow)}; largest buffers: {largest}; {'; '.join(hints)}"
        )

    def _fit_module(self, module: ModuleOp, kernels: list[hls.KernelOp], target: Target, pes: dict, lanes: int,
                    overrides: list[tuple[str, Storage]], tiles: dict[hls.KernelOp, tuple[int, int, int]]) -> None:
        """Shrink row tiles of the kernels holding the most bits until all kernels fit together."""
        while True:
            fit = module_fit(module, target)
            if fit.fits():
                return
            by_name = {k.kernel: k for k in fit.kernels}
            shrinkable = [k for k in kernels if not self.row_tile and tiles[k][0] > 1]
            if not shrinkable:
                per_kernel = "; ".join(f"@{k.kernel}: {k.summary(target)}" for k in fit.kernels)
                raise FpqcError(
                    f"tile: the {len(kernels)} kernels do not fit {target.name} together: they need "
                    f"{', '.join(fit.total.overflows(target))} ({per_kernel}); lower row_tile, pes or n_tile"
                )
            kernel = max(shrinkable, key=lambda k: (by_name[k.sym_name.data].memory_bits, k.sym_name.data))
            row_tile, k_tile, units = tiles[kernel]
            tiles[kernel] = (-(-row_tile // 2), k_tile, units)
            self._plan(kernel, target, by_name[kernel.sym_name.data].pes, lanes, tiles[kernel][0], k_tile, overrides,
                       units)


def _halving(n: int) -> list[int]:
    out = [n]
    while out[-1] > 1:
        out.append(out[-1] // 2)
    return out
