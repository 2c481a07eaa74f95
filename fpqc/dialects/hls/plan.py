"""The hardware plan of an ``hls.kernel``: ``hls.plan`` and the ops inside it.

The ``tile`` pass decides how a kernel maps to hardware and writes every
decision down here, so that the C++ emitter only prints the plan and a cost
model only reads it.  A kernel's plan is one ``hls.plan`` op, the last op
before ``hls.return``; its one block holds:

``hls.pe_array pes P lanes L``
    The processing-element array of the kernel's linear layers: ``P`` PEs,
    each with ``L`` LUT-multiplier lanes (``P·L`` products per cycle).  ``L``
    equals the kernel's ``lanes``.

``hls.port "name" in|out I %v width W burst B bundle "gmem0" [inplace "name"]``
    The DDR/AXI port of kernel argument ``I`` (``in``) or result ``I``
    (``out``), ``%v`` being that argument or returned value: an ``m_axi``
    interface ``W`` bits wide, bursts of ``B`` beats, on AXI bundle
    ``gmem0``.  ``inplace`` names the ``in`` port whose DDR buffer an ``out``
    port updates (a KV cache): the host binds both to one buffer.

``hls.tile %r [rows 512 by 512, n 4096 by 512 on pes, k 1024 by 1024 on lanes] ii 1``
    The loop nest of the compute op whose first result is ``%r``, outermost
    loop first: each loop runs over a dimension ``extent`` in tiles of
    ``tile`` (``pad``: the last tile is partial and padded; without it the
    tile divides the extent), ``on pes``/``on lanes``: the elements of a tile
    along that dimension are spread over the PEs / the lanes, ``on units``:
    over as many units of the op as the tile has elements (an attention's
    heads, one head per attention unit).  ``ii``: the
    initiation interval of the innermost pipelined loop, in cycles.

``hls.buffer "name" whole|tile|scratch of %v as tensor<...> in STORAGE banks N pack M copies C bits B``
    An on-chip buffer: ``whole`` holds all of value ``%v`` the kernel keeps
    (one row tile of it), ``tile`` holds one tile of ``%v`` streamed from its
    DDR port -- or, ``tile of %a, %b, ...``, of whichever of those values the
    PE array works on (the linear layers of a kernel share its PE array and
    run one after another, so they share its weight tiles) -- and ``scratch``
    is working memory of the op whose result is ``%v``.
    Its contents have the tensor type shown (element type and shape); it is
    split into ``N`` banks along its first axis (cyclic), ``M`` consecutive
    elements of the last axis form one memory word, ``C`` copies (2: double
    buffered, one filling while the other is read), stored in ``bram``,
    ``uram``, ``lutram`` or ``registers``; ``bits`` = elements × element bits
    × copies.

``hls.stage I "name" KIND %v, ... region R``
    Dataflow stage ``I``: ``load``/``write`` stages move the ports of the
    values listed (kernel arguments / returned values) between DDR and the
    chip; the other kinds run (a part of) the ops whose results are listed,
    in DATAFLOW region ``R`` (an op's own load or write stage, such as
    attention's KV-cache traffic, is in a region too).  The stages of a region run concurrently,
    connected by streams (data flowing from lower to higher indices); the
    regions run one after another, in ascending order, and a value that
    crosses from one region to a later one waits in a ``whole`` buffer (a
    stage that needs all of a value -- a linear layer all activation codes
    of its row tile, attention every new key -- starts a new region).  A
    region holding an attention (it needs all rows of the launch) runs once
    per launch; the others once per row tile.  The kernel's load and write
    stages belong to no region: a port streamed into region ``R`` is read by a
    loader in ``R`` (a port read by two regions is read twice), a result
    streamed out of ``R`` is written by a writer in ``R``, and the ``whole``
    buffers of arguments are loaded before the first region.  The pipeline
    of a linear layer is ``load → quantize → lut_multiply (the products, their
    adder trees and the group accumulators) → combine → write``.

``hls.stream "name" of %v from "stage" to "stage" width W depth D [columns N]``
    A FIFO between two stages carrying (a part of) value ``%v`` -- for the
    streams inside one op, partial results of the op whose result is ``%v``;
    from a load stage, the port's words or elements: beats of ``W`` bits,
    ``D`` beats deep.  A stream of rows carries them row after row, or with
    ``columns N`` in column tiles: ``N`` columns of every row of the row
    tile, then the next ``N`` columns.  Both ends of a stream between
    compute stages are in one region.

The stage and stream ops live in :mod:`fpqc.dialects.hls.plan_dataflow`, the syntax helpers
the plan's ops share in :mod:`fpqc.dialects.hls.plan_syntax`.

A value one op produces and another consumes travels either by an
``hls.stream`` or through an ``hls.buffer ... whole of`` it.  Example (a
quantized linear layer, 512 rows, 1024 → 4096)::

    hls.plan {
      hls.pe_array pes 512 lanes 16
      hls.port "x" in 0 %x width 512 burst 64 bundle "gmem0"
      hls.port "w_codes" in 1 %wc width 512 burst 64 bundle "gmem1"
      hls.port "w_scales" in 2 %ws width 512 burst 64 bundle "gmem2"
      hls.port "out0" out 0 %y width 512 burst 64 bundle "gmem3"
      hls.tile %c [rows 512 by 512, c 1024 by 128 on lanes] ii 1
      hls.tile %y [rows 512 by 512, n 4096 by 512 on pes, k 1024 by 1024 on lanes] ii 1
      hls.buffer "fc1.x" whole of %c as tensor<512x1024x!fpq.float<e2m1>> in uram banks 1 pack 16 copies 1 bits 2097152
      hls.buffer "fc1.w" tile of %wc as tensor<512x1024x!fpq.float<e2m1>> in lutram banks 512 pack 16 copies 2 bits 4194304
      ...
      hls.stage 0 "load" load %x, %wc, %ws
      hls.stage 1 "quantize0" quantize %c region 0
      hls.stage 2 "fc1.mul" lut_multiply %y region 1
      hls.stage 3 "fc1.combine" combine %y region 1
      hls.stage 4 "write" write %y
      hls.stream "x" of %x from "load" to "quantize0" width 512 depth 2
      hls.stream "fc1.sums" of %y from "fc1.mul" to "fc1.combine" width 8192 depth 2
      hls.stream "fc1>write" of %y from "fc1.combine" to "write" width 16384 depth 2 columns 512
      ...
    }
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import (
    Attribute,
    Block,
    Operation,
    OpResult,
    Region,
    SSAValue,
)
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, NoTerminator
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.hls.kernel import KernelOp, ReturnOp
from fpqc.dialects.hls.plan_dataflow import StageOp, StreamOp
from fpqc.dialects.hls.plan_syntax import check_unique, int_attr, kernel_of, parse_int_after, parse_value
from fpqc.dialects.hls.plan_attributes import (
    PARALLEL,
    BufferKind,
    BufferKindAttr,
    Direction,
    DirectionAttr,
    LoopAttr,
    StageKind,
    Storage,
    StorageAttr,
    element_bits,
)


def compute_ops(kernel: KernelOp) -> list[Operation]:
    """The ops of a kernel's body that compute: all but the plan and the terminator."""
    return [op for op in kernel.body.block.ops if not isinstance(op, PlanOp | ReturnOp)]


@irdl_op_definition
class PlanOp(IRDLOperation):
    """The hardware plan of the enclosing kernel (see module docstring)."""

    name = "hls.plan"

    body = region_def("single_block")

    traits = traits_def(HasParent(KernelOp), NoTerminator())

    def __init__(self, entries: Sequence[Operation] | Region = ()):
        super().__init__(regions=[entries if isinstance(entries, Region) else Region(Block(entries))])

    @property
    def entries(self) -> list[Operation]:
        return list(self.body.block.ops)

    def entries_of(self, kind: type[Operation]) -> list:
        return [e for e in self.body.block.ops if isinstance(e, kind)]

    def pe_array(self) -> PeArrayOp:
        (pe,) = self.entries_of(PeArrayOp)
        return pe

    def tile_of(self, op: Operation) -> TileOp | None:
        """The ``hls.tile`` of ``op`` in this plan (it names ``op``'s first result: found among its uses)."""
        if not op.results:
            return None
        block = self.body.block
        return next((use.operation for use in op.results[0].uses
                     if isinstance(use.operation, TileOp) and use.operation.parent is block), None)

    def buffer(self, name: str) -> BufferOp | None:
        return next((b for b in self.entries_of(BufferOp) if b.buffer_name.data == name), None)

    def stage(self, name: str) -> StageOp | None:
        return next((s for s in self.entries_of(StageOp) if s.stage_name.data == name), None)

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False, print_empty_block=False)

    @classmethod
    def parse(cls, parser: Parser) -> PlanOp:
        region = parser.parse_region()
        if not region.blocks:
            region.add_block(Block())
        return cls(region)

    def verify_(self) -> None:
        kernel = self.parent_op()
        assert isinstance(kernel, KernelOp)
        where = f"hls.plan of @{kernel.sym_name.data}"
        pes = self.entries_of(PeArrayOp)
        if len(pes) != 1:
            raise VerifyException(f"{where}: needs exactly one hls.pe_array, has {len(pes)}")
        if pes[0].lanes.value.data != kernel.lanes.value.data:
            raise VerifyException(
                f"{where}: hls.pe_array has {pes[0].lanes.value.data} lanes, the kernel {kernel.lanes.value.data}"
            )
        self._verify_ports(kernel, where)
        ops = compute_ops(kernel)
        tiled = [t.target.owner for t in self.entries_of(TileOp)]
        for op in ops:
            if tiled.count(op) != 1:
                raise VerifyException(f"{where}: {op.name} needs exactly one hls.tile, has {tiled.count(op)}")
        check_unique([b.buffer_name.data for b in self.entries_of(BufferOp)], "buffer", where)
        self._verify_stages(kernel, ops, where)

    def _verify_ports(self, kernel: KernelOp, where: str) -> None:
        ports = self.entries_of(PortOp)
        check_unique([p.port_name.data for p in ports], "port", where)
        tensors = [i for i, arg in enumerate(kernel.args) if isinstance(arg.type, TensorType)]
        for direction, wanted in ((Direction.IN, tensors), (Direction.OUT, list(range(len(kernel.function_type.outputs))))):
            indices = sorted(p.index.value.data for p in ports if p.direction.data == direction)
            if indices != wanted:
                what = "tensor argument" if direction == Direction.IN else "result"
                raise VerifyException(f"{where}: needs one '{direction}' port per {what} ({wanted}), has {indices}")
        names = {p.port_name.data for p in ports if p.direction.data == Direction.IN}
        for port in ports:
            if port.inplace is not None and port.inplace.data not in names:
                raise VerifyException(f"{where}: port '{port.port_name.data}' updates unknown in-port '{port.inplace.data}'")

    def _verify_stages(self, kernel: KernelOp, ops: list[Operation], where: str) -> None:
        stages = self.entries_of(StageOp)
        if [s.index.value.data for s in stages] != list(range(len(stages))):
            raise VerifyException(f"{where}: stages must be numbered 0, 1, ... in order")
        check_unique([s.stage_name.data for s in stages], "stage", where)
        staged: set[Operation] = set()
        for stage in stages:
            staged |= set(stage.ops())
        for port in self.entries_of(PortOp):
            count = sum(
                port.value in s.values for s in stages if s.kind.data == (
                    StageKind.LOAD if port.direction.data == Direction.IN else StageKind.WRITE
                )
            )
            if count != 1:
                raise VerifyException(
                    f"{where}: port '{port.port_name.data}' must be moved by exactly one "
                    f"{'load' if port.direction.data == Direction.IN else 'write'} stage, is by {count}"
                )
        for op in ops:
            if op not in staged:
                raise VerifyException(f"{where}: {op.name} is in no stage")
        index = {s.stage_name.data: s.index.value.data for s in stages}
        region = {s.stage_name.data: s.region_index for s in stages}
        check_unique([s.stream_name.data for s in self.entries_of(StreamOp)], "stream", where)
        for stream in self.entries_of(StreamOp):
            ends = (stream.from_stage.data, stream.to_stage.data)
            for end in ends:
                if end not in index:
                    raise VerifyException(f"{where}: stream '{stream.stream_name.data}' names unknown stage '{end}'")
            if index[ends[0]] >= index[ends[1]]:
                raise VerifyException(
                    f"{where}: stream '{stream.stream_name.data}' must flow to a later stage ('{ends[0]}' -> '{ends[1]}')"
                )
            regions = [region[end] for end in ends if region[end] is not None]
            if len(set(regions)) > 1:
                raise VerifyException(
                    f"{where}: stream '{stream.stream_name.data}' joins regions {regions[0]} and {regions[1]}; "
                    "a value crossing regions waits in a whole buffer (a FIFO would have to hold all of it)"
                )


@irdl_op_definition
class PeArrayOp(IRDLOperation):
    """``hls.pe_array pes P lanes L``: the kernel's processing-element array."""

    name = "hls.pe_array"

    pes = prop_def(IntegerAttr[I64])
    lanes = prop_def(IntegerAttr[I64])

    traits = traits_def(HasParent(PlanOp))

    def __init__(self, pes: int, lanes: int):
        super().__init__(properties={"pes": int_attr(pes), "lanes": int_attr(lanes)})

    def print(self, printer: Printer) -> None:
        printer.print_string(f" pes {self.pes.value.data} lanes {self.lanes.value.data}")

    @classmethod
    def parse(cls, parser: Parser) -> PeArrayOp:
        return cls(parse_int_after(parser, "pes"), parse_int_after(parser, "lanes"))

    def verify_(self) -> None:
        if self.pes.value.data <= 0 or self.lanes.value.data <= 0:
            raise VerifyException("hls.pe_array: pes and lanes must be positive")


@irdl_op_definition
class PortOp(IRDLOperation):
    """``hls.port "x" in 0 %x width 512 burst 64 bundle "gmem0"``: a kernel argument's or result's DDR port."""

    name = "hls.port"

    value = operand_def()
    port_name = prop_def(StringAttr)
    direction = prop_def(DirectionAttr)
    index = prop_def(IntegerAttr[I64])
    width = prop_def(IntegerAttr[I64])
    burst = prop_def(IntegerAttr[I64])
    bundle = prop_def(StringAttr)
    inplace = opt_prop_def(StringAttr)

    traits = traits_def(HasParent(PlanOp))

    def __init__(
        self,
        name: str,
        direction: Direction,
        index: int,
        value: SSAValue,
        width: int,
        burst: int,
        bundle: str,
        inplace: str | None = None,
    ):
        properties: dict[str, Attribute] = {
            "port_name": StringAttr(name),
            "direction": DirectionAttr(direction),
            "index": int_attr(index),
            "width": int_attr(width),
            "burst": int_attr(burst),
            "bundle": StringAttr(bundle),
        }
        if inplace is not None:
            properties["inplace"] = StringAttr(inplace)
        super().__init__(operands=[value], properties=properties)

    @property
    def beat_bytes(self) -> int:
        return self.width.value.data // 8

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_string_literal(self.port_name.data)
        printer.print_string(f" {self.direction.data} {self.index.value.data} ")
        printer.print_operand(self.value)
        printer.print_string(f" width {self.width.value.data} burst {self.burst.value.data} bundle ")
        printer.print_string_literal(self.bundle.data)
        if self.inplace is not None:
            printer.print_string(" inplace ")
            printer.print_string_literal(self.inplace.data)

    @classmethod
    def parse(cls, parser: Parser) -> PortOp:
        name = parser.parse_str_literal(" (the port's name)")
        direction = Direction(parser.parse_keyword_in(tuple(Direction), " (in or out)"))
        index = parser.parse_integer(allow_boolean=False, allow_negative=False)
        value = parse_value(parser)
        width = parse_int_after(parser, "width")
        burst = parse_int_after(parser, "burst")
        parser.parse_keyword("bundle")
        bundle = parser.parse_str_literal()
        inplace = parser.parse_str_literal() if parser.parse_optional_keyword("inplace") else None
        return cls(name, direction, index, value, width, burst, bundle, inplace)

    def verify_(self) -> None:
        name = f"hls.port '{self.port_name.data}'"
        width, burst = self.width.value.data, self.burst.value.data
        if width < 8 or width > 1024 or width & (width - 1):
            raise VerifyException(f"{name}: width {width} must be a power of two from 8 to 1024 bits (AXI4)")
        if not 1 <= burst <= 256:
            raise VerifyException(f"{name}: burst {burst} must be 1 to 256 beats (AXI4)")
        if self.inplace is not None and self.direction.data != Direction.OUT:
            raise VerifyException(f"{name}: only an out port updates an in port in place")
        kernel = kernel_of(self)
        if kernel is None:
            return
        index = self.index.value.data
        if self.direction.data == Direction.IN:
            args = kernel.args
            if index >= len(args) or self.value is not args[index]:
                raise VerifyException(f"{name}: in-port {index} must name argument {index} of @{kernel.sym_name.data}")
        else:
            results = kernel.get_return_op().arguments
            if index >= len(results) or self.value is not results[index]:
                raise VerifyException(f"{name}: out-port {index} must name result {index} of @{kernel.sym_name.data}")


@irdl_op_definition
class TileOp(IRDLOperation):
    """``hls.tile %r [loops] ii N``: the loop nest of the op whose first result is ``%r``."""

    name = "hls.tile"

    target = operand_def()
    loops = prop_def(ArrayAttr[LoopAttr])
    ii = prop_def(IntegerAttr[I64])

    traits = traits_def(HasParent(PlanOp))

    def __init__(self, target: SSAValue, loops: Sequence[LoopAttr], ii: int = 1):
        super().__init__(operands=[target], properties={"loops": ArrayAttr(loops), "ii": int_attr(ii)})

    def loop(self, dim: str) -> LoopAttr | None:
        return next((loop for loop in self.loops.data if loop.dim.data == dim), None)

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.target)
        printer.print_string(" [")
        printer.print_list(self.loops.data, lambda loop: loop.print_bare(printer))
        printer.print_string(f"] ii {self.ii.value.data}")

    @classmethod
    def parse(cls, parser: Parser) -> TileOp:
        target = parse_value(parser)
        loops = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, lambda: LoopAttr.parse_bare(parser))
        return cls(target, loops, parse_int_after(parser, "ii"))

    def verify_(self) -> None:
        owner = self.target.owner
        if not isinstance(self.target, OpResult) or self.target.index != 0:
            raise VerifyException("hls.tile: names an op by its first result")
        name = f"hls.tile of {owner.name}"
        if self.ii.value.data <= 0:
            raise VerifyException(f"{name}: ii must be positive")
        if not self.loops.data:
            raise VerifyException(f"{name}: needs at least one loop")
        check_unique([loop.dim.data for loop in self.loops.data], "loop", name)
        for kind in PARALLEL:
            if sum(loop.parallel.data == kind for loop in self.loops.data) > 1:
                raise VerifyException(f"{name}: more than one loop on {kind}")


@irdl_op_definition
class BufferOp(IRDLOperation):
    """``hls.buffer "name" KIND of %v as tensor<...> in STORAGE banks N pack M copies C bits B``."""

    name = "hls.buffer"

    values = var_operand_def()
    buffer_name = prop_def(StringAttr)
    kind = prop_def(BufferKindAttr)
    contents = prop_def(TensorType)
    storage = prop_def(StorageAttr)
    banks = prop_def(IntegerAttr[I64])
    pack = prop_def(IntegerAttr[I64])
    copies = prop_def(IntegerAttr[I64])
    bits = prop_def(IntegerAttr[I64])

    traits = traits_def(HasParent(PlanOp))

    def __init__(
        self,
        name: str,
        kind: BufferKind,
        values: SSAValue | Sequence[SSAValue],
        contents: TensorType,
        storage: Storage,
        banks: int = 1,
        pack: int = 1,
        copies: int = 1,
        bits: int | None = None,
    ):
        if bits is None:
            bits = math.prod(contents.get_shape()) * element_bits(contents.get_element_type()) * copies
        super().__init__(
            operands=[[values] if isinstance(values, SSAValue) else list(values)],
            properties={
                "buffer_name": StringAttr(name),
                "kind": BufferKindAttr(kind),
                "contents": contents,
                "storage": StorageAttr(storage),
                "banks": int_attr(banks),
                "pack": int_attr(pack),
                "copies": int_attr(copies),
                "bits": int_attr(bits),
            },
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.contents.get_shape())

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def element_bits(self) -> int:
        return element_bits(self.contents.get_element_type())

    @property
    def word_bits(self) -> int:
        """Bits of one memory word: ``pack`` elements."""
        return self.pack.value.data * self.element_bits

    @property
    def depth(self) -> int:
        """Words in one bank of one copy."""
        return self.elements // (self.banks.value.data * self.pack.value.data)

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_string_literal(self.buffer_name.data)
        printer.print_string(f" {self.kind.data} of ")
        printer.print_list(self.values, printer.print_operand)
        printer.print_string(" as ")
        printer.print_attribute(self.contents)
        printer.print_string(
            f" in {self.storage.data} banks {self.banks.value.data} pack {self.pack.value.data} "
            f"copies {self.copies.value.data} bits {self.bits.value.data}"
        )

    @classmethod
    def parse(cls, parser: Parser) -> BufferOp:
        name = parser.parse_str_literal(" (the buffer's name)")
        kind = BufferKind(parser.parse_keyword_in(tuple(BufferKind), " (whole, tile or scratch)"))
        parser.parse_keyword("of")
        values = parser.parse_comma_separated_list(parser.Delimiter.NONE, lambda: parse_value(parser))
        parser.parse_keyword("as")
        pos = parser.pos
        contents = parser.parse_type()
        if not isinstance(contents, TensorType):
            parser.raise_error("hls.buffer: its contents are a tensor type", pos)
        parser.parse_keyword("in")
        storage = Storage(parser.parse_keyword_in(tuple(Storage), " (bram, uram, lutram or registers)"))
        banks = parse_int_after(parser, "banks")
        pack = parse_int_after(parser, "pack")
        copies = parse_int_after(parser, "copies")
        bits = parse_int_after(parser, "bits")
        return cls(name, kind, values, contents, storage, banks, pack, copies, bits)

    def verify_(self) -> None:
        name = f"hls.buffer '{self.buffer_name.data}'"
        if len(self.values) != 1 and self.kind.data != BufferKind.TILE:
            raise VerifyException(f"{name}: a {self.kind.data} buffer is of one value, got {len(self.values)}")
        shape = self.shape
        if not shape or any(d <= 0 for d in shape):
            raise VerifyException(f"{name}: needs a static, non-empty shape")
        banks, pack, copies = self.banks.value.data, self.pack.value.data, self.copies.value.data
        if min(banks, pack, copies) <= 0:
            raise VerifyException(f"{name}: banks, pack and copies must be positive")
        if len(shape) == 1 and shape[0] % (banks * pack):
            raise VerifyException(f"{name}: {banks} banks of words of {pack} do not divide its {shape[0]} elements")
        if len(shape) > 1 and shape[0] % banks:
            raise VerifyException(f"{name}: {banks} banks do not divide its first axis ({shape[0]})")
        if len(shape) > 1 and shape[-1] % pack:
            raise VerifyException(f"{name}: pack {pack} does not divide its last axis ({shape[-1]})")
        expected = self.elements * self.element_bits * copies
        if self.bits.value.data != expected:
            raise VerifyException(
                f"{name}: bits must be elements × element bits × copies = "
                f"{self.elements} × {self.element_bits} × {copies} = {expected}, got {self.bits.value.data}"
            )


PLAN_OPS: tuple[type[Operation], ...] = (PlanOp, PeArrayOp, PortOp, TileOp, BufferOp, StageOp, StreamOp)


def plan_of(kernel: KernelOp) -> PlanOp | None:
    """The kernel's ``hls.plan``, None before the ``tile`` pass."""
    return next((op for op in kernel.body.block.ops if isinstance(op, PlanOp)), None)
