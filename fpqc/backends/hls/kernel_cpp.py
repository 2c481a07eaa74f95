"""C++ of one ``hls.kernel``: an ``extern "C"`` top function that *is* its hardware plan.

Every hardware decision is read from the kernel's ``hls.plan`` (the ``tile``
pass); this module only spells it in C++:

- **ports**: an f32 tensor is a ``float*``, the weight codes of a linear
  layer a ``const ap_uint<W>*`` of the plan's port width W, other low-bit
  codes a ``uint32_t*`` of packed codes (:mod:`fpqc.backends.hls.codes`), an
  ``i64`` argument (a KV-cache offset) a ``long long`` control register, all
  with the plan's widths, bursts and bundles.  A result that updates an
  argument in place (``hls.updates``: a KV cache) has no port of its own.  A
  kernel with ``max_rows`` takes the launch's token rows as a last ``int
  rows`` register;
- **buffers**: every ``hls.buffer`` is one ``static`` array of the top
  function, named after it, of its element type and shape (a leading
  ``[2]`` for two copies), with ``bind_storage`` (its storage),
  ``ARRAY_PARTITION`` (its banks, cyclic along its first axis; its copies;
  registers: complete) and ``ARRAY_RESHAPE`` (``pack`` elements a word) --
  and these are the only arrays the kernel declares: the library's stages
  get them as arguments (:mod:`fpqc.backends.hls.stage_calls`);
- **regions**: each DATAFLOW region of the plan is one function
  (``<kernel>_region<R>``) whose body declares the region's ``hls.stream``s
  (``fpqc::Beat<T, N>`` beats of the stream's width, ``#pragma HLS STREAM
  depth``) and calls one library process per stage, in stage order -- the
  load stage's loaders (a port streamed into the region) first, the write
  stage's writers (a result streamed out of it) last.  The top function runs
  the regions in order: consecutive row-tiled regions in one loop over the
  row tiles of the launch, a region that spans the launch (attention) once;
  the arguments' whole buffers are loaded before the first region and results
  kept whole are written after the last.

Built with ``-DFPQC_DUMP``, the stages record every op result they produce
and the kernel writes each to ``$FPQC_DUMP_DIR/<kernel>.<op index>.<result
index>.bin`` (f32 raw, codes one byte each) for ``fpqc verify``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from xdsl.dialects.builtin import IntegerType, TensorType
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue

from fpqc.backends.hls.buffer import Buffer
from fpqc.backends.hls.codes import code_format
from fpqc.backends.hls.identifiers import c_identifier
from fpqc.backends.hls.stage_calls import StageCalls
from fpqc.backends.hls.tables import TableSet
from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import BufferKind, Storage, element_bits
from fpqc.errors import FpqcError
from fpqc.passes.tiling.planner import labels_of
from fpqc.passes.tiling.rules import AttentionRule, rule_for


def shape_of(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def c_element(element: Attribute) -> str:
    """The C++ type of one element of a buffer or stream: float, a code's ap_uint, an integer's ap_int."""
    if isinstance(element, IntegerType):
        return f"ap_int<{element.width.data}>"
    fmt = code_format(TensorType(element, [1]))
    return "float" if fmt is None else f"ap_uint<{fmt.bits}>"


def _plan(kernel: hls.KernelOp) -> hls.PlanOp:
    """The kernel's hardware plan; an error naming the pass to run when it has none."""
    plan = hls.plan_of(kernel)
    if plan is None:
        raise FpqcError(f"kernel @{kernel.sym_name.data} has no hardware plan; run the tile pass before emitting C++")
    return plan


def _is_weight_codes(arg: SSAValue) -> bool:
    return any(
        isinstance(use.operation, fpq.QLinearOp | fpq.DualQLinearOp) and use.operation.weight_codes is arg
        for use in arg.uses
    )


@dataclass
class Region:
    """One DATAFLOW region function being built: what it uses, its streams, its process calls."""

    index: int
    spans: bool
    """Runs once for all rows of the launch (else once per row tile)."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameter name -> its declaration, in first-use order."""
    streams: list[hls.StreamOp] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def use(self, name: str, declaration: str) -> str:
        self.params.setdefault(name, declaration)
        return name


class KernelEmitter:
    """C++ for one hls.kernel from its plan (see module docstring)."""

    def __init__(self, kernel: hls.KernelOp, tables: TableSet):
        self.kernel = kernel
        self.name = kernel.sym_name.data
        self.plan = _plan(kernel)
        self.pe_array = self.plan.pe_array()
        self.tables = tables
        self.max_rows = kernel.max_rows.value.data if kernel.max_rows is not None else None
        self.ops = hls.compute_ops(kernel)
        self.labels = labels_of(self.ops)
        self.params: list[str] = []
        self.pragmas: list[str] = []
        self.ports: list[dict] = []  # host_schedule.json's description, in parameter order
        self.taken: set[str] = set()
        self.port_names: dict[SSAValue, str] = {}
        self.port_types: dict[SSAValue, str] = {}
        self._make_ports()
        self.buffer_names = {b.buffer_name.data: c_identifier(b.buffer_name.data, self.taken)
                             for b in self.plan.entries_of(hls.BufferOp)}
        self.stream_names = {s.stream_name.data: c_identifier(f"s_{s.stream_name.data}", self.taken)
                             for s in self.plan.entries_of(hls.StreamOp)}
        self.stage_region = {s.stage_name.data: s.region_index for s in self.plan.entries_of(hls.StageOp)}
        self.regions: dict[int, Region] = {}
        self.q_buffers = {f"{self.labels[op]}.q" for op in self.ops if isinstance(op, fpq.CachedAttentionOp)}

    # ----------------------------------------------------------------- ports

    def _make_ports(self) -> None:
        ports = {(p.direction.data, p.index.value.data): p for p in self.plan.entries_of(hls.PortOp)}
        updates = hls.updated_arguments(self.kernel)
        updated = set(updates.values())
        self.taken |= {c_identifier(p.port_name.data, set()) for p in ports.values()}
        self.taken |= {"rows", "n", "r0", "nr", "launch_rows"}
        for i, arg in enumerate(self.kernel.args):
            if not isinstance(arg.type, TensorType):
                name = c_identifier(arg.name_hint or f"in{i}", self.taken)
                self.params.append(f"long long {name}")
                self.pragmas.append(f"#pragma HLS INTERFACE mode=s_axilite port={name} bundle=control")
                self.ports.append({"name": name, "direction": "in", "scalar": True, "dtype": "i64", "shape": []})
                self.port_names[arg] = name
                self.port_types[arg] = "long long"
                continue
            port = ports.get(("in", i))
            if port is None:
                raise FpqcError(f"kernel @{self.name}: the plan has no port for argument {i}")
            name = c_identifier(port.port_name.data, set())
            fmt = code_format(arg.type)
            if fmt is not None and _is_weight_codes(arg):
                ctype = f"ap_uint<{port.width.value.data}>"
            else:
                ctype = "float" if fmt is None else "uint32_t"
            const = "" if i in updated else "const "
            self._port(name, f"{const}{ctype}*", port, Buffer(name, "in", shape_of(arg), fmt), arg)
        for j, value in enumerate(self.kernel.get_return_op().arguments):
            if j in updates:
                argument = self.kernel.args[updates[j]]
                self.ports.append({
                    "name": f"out{j}", "direction": "out", "updates": self.port_names[argument],
                    "rows": False, **Buffer(f"out{j}", "out", shape_of(value), code_format(value.type)).layout(),
                })
                continue
            port = ports.get(("out", j))
            if port is None:
                raise FpqcError(f"kernel @{self.name}: the plan has no port for result {j}")
            if isinstance(value, BlockArgument):
                raise FpqcError(f"kernel @{self.name} returns its argument unchanged; nothing to compute")
            fmt = code_format(value.type)
            name = c_identifier(port.port_name.data, set())
            self._port(name, f"{'float' if fmt is None else 'uint32_t'}*", port,
                       Buffer(name, "out", shape_of(value), fmt), value)
        if self.max_rows is not None:
            self.params.append("int rows")
            self.pragmas.append("#pragma HLS INTERFACE mode=s_axilite port=rows bundle=control")

    def _port(self, name: str, c_type: str, port: hls.PortOp, buffer: Buffer, value: SSAValue) -> None:
        """Add ``name`` to the signature with the plan's interface pragmas."""
        self.params.append(f"{c_type} {name}")
        self.port_names[value] = name
        self.port_types[value] = c_type
        words = buffer.words  # 32-bit words; a weight port counts words of the port's width
        if c_type.startswith("const ap_uint<") and buffer.fmt is not None:
            per_word = (32 // buffer.fmt.bits) * (port.width.value.data // 32)
            words = -(-buffer.elements // per_word)
        self.pragmas.append(
            f"#pragma HLS INTERFACE mode=m_axi port={name} offset=slave bundle={port.bundle.data} depth={words} "
            f"max_widen_bitwidth={port.width.value.data} max_read_burst_length={port.burst.value.data} "
            f"max_write_burst_length={port.burst.value.data}"
        )
        self.pragmas.append(f"#pragma HLS INTERFACE mode=s_axilite port={name} bundle=control")
        described = {
            "name": name, "direction": buffer.kind, "bytes": buffer.nbytes,
            "rows": self.is_row_tensor(buffer.shape), **buffer.layout(),
        }
        if c_type.startswith("const ap_uint<"):
            described["word_bits"] = port.width.value.data
        self.ports.append(described)

    def describe(self) -> dict:
        """This kernel's entry in host_schedule.json's ``kernels``."""
        return {
            "name": self.name, "source": f"kernels/{self.name}.cpp", "max_rows": self.max_rows, "ports": self.ports,
        }

    # ------------------------------------------------------------------ rows

    def is_row_tensor(self, shape: tuple[int, ...]) -> bool:
        return hls.is_row_shape(shape, self.max_rows)

    def rows_expr(self, shape: tuple[int, ...]) -> str:
        """The flattened rows of a tensor in this launch (a C expression)."""
        if self.is_row_tensor(shape):
            return f"{math.prod(shape[:1] + shape[2:-1])} * n"
        return str(math.prod(shape[:-1]))

    # ------------------------------------------------------------ the plan

    def buffer(self, name: str) -> hls.BufferOp:
        found = self.plan.buffer(name)
        if found is None:
            raise FpqcError(f"kernel @{self.name}: the plan has no buffer '{name}'; rerun the tile pass")
        return found

    def whole_buffer(self, value: SSAValue) -> hls.BufferOp | None:
        """The ``whole`` buffer holding ``value`` (not an attention's q buffer)."""
        return next(
            (b for b in self.plan.entries_of(hls.BufferOp)
             if b.kind.data == BufferKind.WHOLE and value in b.values and b.buffer_name.data not in self.q_buffers),
            None,
        )

    def tile_buffer(self, value: SSAValue) -> hls.BufferOp:
        found = next((b for b in self.plan.entries_of(hls.BufferOp)
                      if b.kind.data == BufferKind.TILE and value in b.values), None)
        if found is None:
            raise FpqcError(f"kernel @{self.name}: the plan has no tile buffer of {value.name_hint or 'a weight'}")
        return found

    def stream(self, value: SSAValue, source: str | None = None, dest: str | None = None) -> hls.StreamOp | None:
        return next(
            (s for s in self.plan.entries_of(hls.StreamOp) if s.value is value
             and (source is None or s.from_stage.data == source) and (dest is None or s.to_stage.data == dest)),
            None,
        )

    def stage_of(self, op: Operation, suffix: str = "") -> str:
        """The name of the op's stage ``suffix`` (its first stage by default), as the tile pass names it."""
        rule = rule_for(op)
        assert rule is not None
        suffix = suffix or rule.stages(op)[0][0]
        return self.labels[op] if not suffix else f"{self.labels[op]}.{suffix}"

    def op_of_stage(self, stage: str) -> Operation:
        """The op a compute stage of the plan runs."""
        for op in self.ops:
            rule = rule_for(op)
            if rule is not None and stage in (self.stage_of(op, suffix) for suffix, _ in rule.stages(op)):
                return op
        raise FpqcError(f"kernel @{self.name}: the plan's stage '{stage}' runs no op of the kernel")

    def plan_port(self, value: SSAValue) -> hls.PortOp:
        return next(p for p in self.plan.entries_of(hls.PortOp) if p.value is value and p.direction.data == "in")

    def region_of(self, stage: str) -> Region:
        index = self.stage_region.get(stage)
        if index is None:
            raise FpqcError(f"kernel @{self.name}: the plan puts stage '{stage}' in no region; rerun the tile pass")
        return self.regions[index]

    # ------------------------------------------------------ C++ of the plan

    def stream_type(self, stream: hls.StreamOp) -> str:
        """``fpqc::Beat<T, N>`` of a stream of a value's elements; a port word or a float for the load stage's
        weight streams; the lane or group sums of a linear layer's own streams."""
        width = stream.width.value.data
        value = stream.value
        if stream.from_stage.data == "load" and any(
            isinstance(op, fpq.QLinearOp | fpq.DualQLinearOp) and value in op.operands[2 * _planes(op):]
            for op in self.ops
        ):
            return f"ap_uint<{width}>" if _is_weight_codes(value) else "float"
        owner = value.owner
        if isinstance(owner, fpq.QLinearOp | fpq.DualQLinearOp) and stream.to_stage.data.startswith(
            self.labels[owner] + "."
        ):
            lanes = self.pe_array.pes.value.data * _planes(owner)
            return f"fpqc::Beat<ap_int<{width // lanes}>, {lanes}>"
        if isinstance(value, BlockArgument) and stream.from_stage.data != "load":  # an attention's cache beats
            return f"fpqc::Beat<float, {width // 32}>"
        element = value.type.get_element_type()
        return f"fpqc::Beat<{c_element(element)}, {width // element_bits(element)}>"

    def declare_buffer(self, b: hls.BufferOp) -> list[str]:
        name = self.buffer_names[b.buffer_name.data]
        copies, banks, pack = b.copies.value.data, b.banks.value.data, b.pack.value.data
        dims = ([copies] if copies > 1 else []) + list(b.shape)
        lead = 1 if copies > 1 else 0
        lines = [
            f"    // {_plan_line(b)}",
            f"    static {c_element(b.contents.get_element_type())} {name}{''.join(f'[{d}]' for d in dims)};",
        ]
        if b.storage.data == Storage.REGISTERS:
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} type=complete dim=0")
            return lines
        lines.append(f"#pragma HLS bind_storage variable={name} type=ram_2p impl={b.storage.data}")
        if copies > 1:
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} type=complete dim=1")
        if banks > 1:
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} type=cyclic factor={banks} dim={lead + 1}")
        if pack > 1:
            lines.append(f"#pragma HLS ARRAY_RESHAPE variable={name} type=cyclic factor={pack} dim={len(dims)}")
        return lines

    def buffer_param(self, b: hls.BufferOp) -> tuple[str, str]:
        """(name, by-reference parameter declaration) of a buffer."""
        name = self.buffer_names[b.buffer_name.data]
        copies = b.copies.value.data
        dims = ([copies] if copies > 1 else []) + list(b.shape)
        return name, f"{c_element(b.contents.get_element_type())} (&{name}){''.join(f'[{d}]' for d in dims)}"

    # ------------------------------------------------------------------ emit

    def emit(self) -> str:
        """The kernel's source file, ``kernels/<name>.cpp``."""
        spanning = self._spanning_regions()
        for index in sorted({r for r in self.stage_region.values() if r is not None}):
            self.regions[index] = Region(index, index in spanning)
        self.row_tile, self.launch_rows = self._rows()
        calls = StageCalls(self)
        prologue: list[str] = []
        epilogue: list[str] = []
        for b in self.plan.entries_of(hls.BufferOp):
            if b.kind.data == BufferKind.WHOLE and isinstance(b.values[0], BlockArgument):
                prologue.append(calls.load_buffer(b))
        for stream in self.plan.entries_of(hls.StreamOp):
            if stream.from_stage.data == "load":
                calls.loader(stream)
        for op in self.ops:
            calls.op(op)
        for stream in self.plan.entries_of(hls.StreamOp):
            if stream.to_stage.data == "write":
                calls.writer(stream)
        for j, value in enumerate(self.kernel.get_return_op().arguments):
            if self.stream(value, dest="write") is None and value not in self._written_in_place():
                epilogue.append(calls.write_buffer(value, j))
        return self._source(prologue, epilogue, calls.dumps)

    def _written_in_place(self) -> set[SSAValue]:
        return {r for op in self.ops if isinstance(op, fpq.CachedAttentionOp) for r in op.results[1:]}

    def _spanning_regions(self) -> set[int]:
        """The regions that run once per launch: they hold a stage that needs all rows of it (attention's
        load_kv and attend; a per-tensor quantizer)."""
        spanning = set()
        for stage in self.plan.entries_of(hls.StageOp):
            if stage.region_index is None:
                continue
            name = stage.stage_name.data
            op = self.op_of_stage(name)
            rule = rule_for(op)
            if isinstance(rule, AttentionRule):
                spans = name != self.stage_of(op, "store_kv")
            else:
                spans = rule is not None and rule.spans_launch(op)
            if spans:
                spanning.add(stage.region_index)
        return spanning

    def _rows(self) -> tuple[int, str]:
        """The row tile of the row-tiled regions and the launch's rows (a C expression), the same for every op."""
        tiles, launches = set(), set()
        for op in self.ops:
            rows = shape_of(op.operands[0])
            launches.add(self.rows_expr(rows) if len(rows) > 1 else "1")
            tile = self.plan.tile_of(op)
            loop = tile.loop("rows") if tile is not None else None
            if loop is not None and not isinstance(op, fpq.CachedAttentionOp):
                tiles.add(loop.tile.data)
        if len(launches) != 1 or len(tiles) > 1:
            raise FpqcError(
                f"kernel @{self.name}: its ops have different rows ({sorted(launches)}) or row tiles "
                f"({sorted(tiles)}); the emitted kernel runs one loop over the row tiles of the launch"
            )
        (launch,) = launches
        max_rows = math.prod(shape_of(self.ops[0].operands[0])[:-1])
        return (tiles.pop() if tiles else max_rows), launch

    def _source(self, prologue: list[str], epilogue: list[str], dumps: list[str]) -> str:
        pe = self.pe_array
        lines = [
            f"// {self.name}.cpp -- generated by fpqc; do not edit.",
            f"// Target {self.kernel.target.data}; PE array {pe.pes.value.data} x {pe.lanes.value.data} LUT multipliers"
            + (f"; up to {self.max_rows} token rows per launch." if self.max_rows is not None else "."),
            "// The hardware plan, printed: its buffers are the arrays below, its streams the",
            "// hls::streams of the regions, its DATAFLOW regions the functions <kernel>_region<R>.",
            '#include "fpqc_hls.h"',
            '#include "fpqc_dataflow.h"',
            '#include "fpqc_tiled.h"',
            '#include "fpqc_linear.h"',
            '#include "fpqc_block.h"',
            '#include "fpqc_kv_codes.h"',
            '#include "fpqc_tables.h"',
            "",
        ]
        for region in self.regions.values():
            lines += self._region_function(region)
        signature = ",\n".join(f"    {p}" for p in self.params)
        lines += [f'extern "C" void {self.name}(\n{signature}) {{', *self.pragmas,
                  "#pragma HLS INTERFACE mode=s_axilite port=return bundle=control"]
        lines.append("    // The plan's on-chip buffers.")
        for b in self.plan.entries_of(hls.BufferOp):
            lines += self.declare_buffer(b)
        n = (f"rows < 0 ? 0 : (rows > {self.max_rows} ? {self.max_rows} : rows)" if self.max_rows is not None
             else str(self._samples_rows()))
        lines += [f"    const int n = {n};  // token rows of each sample",
                  f"    const int launch_rows = {self.launch_rows};"]
        if prologue:
            lines.append("    // Before the first region: the arguments kept whole.")
            lines += prologue
        lines += self._schedule()
        if epilogue:
            lines.append("    // After the last region: results kept whole.")
            lines += epilogue
        lines += dumps
        lines += ["}", ""]
        return "\n".join(lines)

    def _samples_rows(self) -> int:
        """Rows of each sample of a kernel without run-time rows: the middle axis of its [B, n, C] activations."""
        shapes = [shape_of(op.operands[0]) for op in self.ops]
        return next((x[1] for x in shapes if len(x) == 3), 1)

    def _region_function(self, region: Region) -> list[str]:
        head = [f"{self.name}_region{region.index}"]
        kind = "once per launch (it needs all rows)" if region.spans else "once per row tile"
        params = [f"int {name}" for name in self._row_params(region)] + list(region.params.values())
        lines = [
            f"// DATAFLOW region {region.index}, {kind}: stages "
            + ", ".join(s.stage_name.data for s in self.plan.entries_of(hls.StageOp) if s.region_index == region.index)
            + ".",
            f"static void {head[0]}(" + ", ".join(params) + ") {",
            "#pragma HLS DATAFLOW",
        ]
        for stream in region.streams:
            name = self.stream_names[stream.stream_name.data]
            lines.append(f'    hls::stream<{self.stream_type(stream)} > {name}("{stream.stream_name.data}");')
            lines.append(f"#pragma HLS STREAM variable={name} depth={stream.depth.value.data}")
        lines += region.calls
        lines += ["}", ""]
        return lines

    @staticmethod
    def _row_params(region: Region) -> list[str]:
        """Which of the row tile's first row ``r0``, its rows ``nr`` and the rows per sample ``n`` the
        region's calls use."""
        text = "\n".join(region.calls)
        return [name for name in ("r0", "nr", "n") if re.search(rf"\b{name}\b", text)]

    def _call(self, region: Region, r0: str, nr: str) -> str:
        values = {"r0": r0, "nr": nr, "n": "n"}
        args = [values[name] for name in self._row_params(region)] + list(region.params)
        return f"{self.name}_region{region.index}({', '.join(args)});"

    def _schedule(self) -> list[str]:
        """The regions in order: runs of row-tiled ones in a loop over the row tiles, spanning ones once."""
        lines: list[str] = []
        regions = list(self.regions.values())
        t = self.row_tile
        i = 0
        while i < len(regions):
            if regions[i].spans:
                lines.append(f"    // Region {regions[i].index}: once per launch.")
                lines.append(f"    {self._call(regions[i], '0', 'launch_rows')}")
                i += 1
                continue
            j = i
            while j < len(regions) and not regions[j].spans:
                j += 1
            trips = -(-math.prod(shape_of(self.ops[0].operands[0])[:-1]) // t)
            lines += [
                f"    // Regions {', '.join(str(r.index) for r in regions[i:j])}: once per row tile of {t} rows.",
                f"    for (int r0 = 0; r0 < launch_rows; r0 += {t}) {{",
                f"#pragma HLS LOOP_TRIPCOUNT min = 1 max = {trips}",
                f"        const int nr = launch_rows - r0 < {t} ? launch_rows - r0 : {t};",
                *(f"        {self._call(r, 'r0', 'nr')}" for r in regions[i:j]),
                "    }",
            ]
            i = j
        return lines


def _planes(op: Operation) -> int:
    return 2 if isinstance(op, fpq.DualQLinearOp) else 1


def _plan_line(b: hls.BufferOp) -> str:
    return (f'hls.buffer "{b.buffer_name.data}" {b.kind.data} as {b.contents} in {b.storage.data} '
            f"banks {b.banks.value.data} pack {b.pack.value.data} copies {b.copies.value.data} bits {b.bits.value.data}")

