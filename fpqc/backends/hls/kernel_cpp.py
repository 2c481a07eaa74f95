"""C++ of one ``hls.kernel``: an ``extern "C"`` top function that prints the kernel's hardware plan.

Every hardware decision is read from the kernel's ``hls.plan`` (the ``tile``
pass): the AXI ports and their widths and bursts, the storage and banking of
the on-chip buffers, the PE array and the weight tiles of the linear layers.
This module only spells them in C++ and calls the HLS library op by op
(``fpqc_tiled.h`` for the quantized layers, ``fpqc_block.h`` for the rest of a
transformer block).

Ports: an f32 tensor is a ``float*``; the weight codes of a linear layer a
``const ap_uint<W>*`` of the plan's port width W; other low-bit codes a
``uint32_t*`` of packed codes (:mod:`fpqc.backends.hls.codes`); an ``i64``
argument (a KV-cache offset) a ``long long`` control register.  A result that
updates an argument in place (``hls.updates``: a KV cache) has no port of its
own: the kernel writes the argument's buffer.  A kernel with ``max_rows`` takes
the launch's token rows as a last ``int rows`` register, and every row tensor
holds ``rows`` of its ``max_rows`` rows.  Built with ``-DFPQC_DUMP``, a kernel
writes every buffer to ``$FPQC_DUMP_DIR/<kernel>.<op index>.<result index>.bin``
(f32 raw, codes one byte each) for ``fpqc verify``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue

from fpqc.backends.hls.buffer import Buffer
from fpqc.backends.hls.codes import code_format
from fpqc.backends.hls.identifiers import c_identifier
from fpqc.backends.hls.tables import TableSet
from fpqc.dialects import fpq, hls
from fpqc.errors import FpqcError
from fpqc.numerics import Format, accumulator_bits
from fpqc.numerics.dual_format import DualFormat

@dataclass
class _Value:
    """How a kernel refers to a tensor: a pointer expression, its layout and its rows."""

    expr: str
    fmt: Format | None
    shape: tuple[int, ...]
    rows: str  # flattened rows of this launch, a C expression
    packed: bool = False

    @property
    def row_length(self) -> int:
        return self.shape[-1]

    @property
    def max_rows(self) -> int:
        return math.prod(self.shape[:-1])

    def codes(self) -> str:
        assert self.fmt is not None
        kind = "packed_codes" if self.packed else "local_codes"
        return f"fpqc::{kind}<{self.fmt.bits}>({self.expr})"


def _shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _template_args(*params: int | bool) -> str:
    """C++ template arguments: integers, and booleans as ``true``/``false``."""
    return ", ".join(("true" if p else "false") if isinstance(p, bool) else str(p) for p in params)


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


class KernelEmitter:
    """C++ for one hls.kernel from its plan (see module docstring for the layout)."""

    def __init__(self, kernel: hls.KernelOp, tables: TableSet):
        self.kernel = kernel
        self.name = kernel.sym_name.data
        self.plan = _plan(kernel)
        self.pe_array = self.plan.pe_array()
        self.tables = tables
        self.max_rows = kernel.max_rows.value.data if kernel.max_rows is not None else None
        self.values: dict[SSAValue, _Value] = {}
        self.params: list[str] = []
        self.pragmas: list[str] = []
        self.body: list[str] = []
        self.ports: list[dict] = []  # host_schedule.json's description, in parameter order
        ports = {(p.direction.data, p.index.value.data): p for p in self.plan.entries_of(hls.PortOp)}
        updates = hls.updated_arguments(kernel)
        updated = set(updates.values())
        taken = {c_identifier(p.port_name.data, set()) for p in ports.values()}
        for i, arg in enumerate(kernel.args):
            if not isinstance(arg.type, TensorType):
                name = c_identifier(arg.name_hint or f"in{i}", taken)
                self._scalar(name)
                self.values[arg] = _Value(name, None, (), "1")
                continue
            port = ports.get(("in", i))
            if port is None:
                raise FpqcError(f"kernel @{self.name}: the plan has no port for argument {i}")
            name = c_identifier(port.port_name.data, set())
            fmt = code_format(arg.type)
            shape = _shape(arg)
            if fmt is not None and _is_weight_codes(arg):
                ctype = f"ap_uint<{port.width.value.data}>"
            else:
                ctype = "float" if fmt is None else "uint32_t"
            const = "" if i in updated else "const "
            self._port(name, f"{const}{ctype}*", port, Buffer(name, "in", shape, fmt), arg)
            self.values[arg] = _Value(name, fmt, shape, self._rows_expr(shape), packed=fmt is not None)
        self.outputs: list[tuple[str, SSAValue]] = []
        for j, value in enumerate(kernel.get_return_op().arguments):
            if j in updates:
                argument = kernel.args[updates[j]]
                self.ports.append({
                    "name": f"out{j}", "direction": "out", "updates": self.values[argument].expr,
                    "rows": False, **Buffer(f"out{j}", "out", _shape(value), None).layout(),
                })
                continue
            port = ports.get(("out", j))
            if port is None:
                raise FpqcError(f"kernel @{self.name}: the plan has no port for result {j}")
            fmt = code_format(value.type)
            name = c_identifier(port.port_name.data, set())
            ctype = "float" if fmt is None else "uint32_t"
            self._port(name, f"{ctype}*", port, Buffer(name, "out", _shape(value), fmt), value)
            self.outputs.append((name, value))
        if self.max_rows is not None:
            self.params.append("int rows")
            self.pragmas.append("#pragma HLS INTERFACE mode=s_axilite port=rows bundle=control")

    # ----------------------------------------------------------------- ports

    def _is_row_tensor(self, shape: tuple[int, ...]) -> bool:
        return hls.is_row_shape(shape, self.max_rows)

    def _rows_expr(self, shape: tuple[int, ...]) -> str:
        """The flattened rows of a tensor in this launch (a C expression)."""
        if self._is_row_tensor(shape):
            return f"{math.prod(shape[:1] + shape[2:-1])} * rows"
        return str(math.prod(shape[:-1]))

    def _scalar(self, name: str) -> None:
        self.params.append(f"long long {name}")
        self.pragmas.append(f"#pragma HLS INTERFACE mode=s_axilite port={name} bundle=control")
        self.ports.append({"name": name, "direction": "in", "scalar": True, "dtype": "i64", "shape": []})

    def _port(self, name: str, c_type: str, port: hls.PortOp, buffer: Buffer, value: SSAValue) -> None:
        """Add ``name`` to the signature with the plan's interface pragmas."""
        self.params.append(f"{c_type} {name}")
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
            "rows": self._is_row_tensor(buffer.shape), **buffer.layout(),
        }
        if c_type.startswith("const ap_uint<"):
            described["word_bits"] = port.width.value.data
        self.ports.append(described)

    def describe(self) -> dict:
        """This kernel's entry in host_schedule.json's ``kernels``."""
        return {
            "name": self.name, "source": f"kernels/{self.name}.cpp", "max_rows": self.max_rows, "ports": self.ports,
        }

    # --------------------------------------------------------------- buffers

    def _buffer(self, op_index: int, result_index: int, value: SSAValue) -> _Value:
        """The on-chip buffer of an op result, with the storage and banking of its plan entry."""
        fmt = code_format(value.type)
        shape = _shape(value)
        name = f"t{op_index}_{result_index}"
        ctype = "float" if fmt is None else f"ap_uint<{fmt.bits}>"
        self.body.append(f"    static {ctype} {name}[{math.prod(shape)}];")
        planned = next(
            (b for b in self.plan.entries_of(hls.BufferOp)
             if b.kind.data == hls.BufferKind.WHOLE and value in b.values),
            None,
        )
        if planned is not None:
            self.body.append(
                f"#pragma HLS bind_storage variable={name} type=ram_2p impl={planned.storage.data}"
            )
            if planned.banks.value.data > 1:
                self.body.append(
                    f"#pragma HLS ARRAY_PARTITION variable={name} type=cyclic factor={planned.banks.value.data}"
                )
        buffer = _Value(name, fmt, shape, self._rows_expr(shape))
        self.values[value] = buffer
        return buffer

    def _f32(self, value: SSAValue) -> str:
        v = self.values[value]
        assert v.fmt is None
        return v.expr

    def _optional_f32(self, value: SSAValue | None) -> str:
        """The pointer of an optional f32 operand, ``0`` when absent."""
        return "0" if value is None else self._f32(value)

    # ------------------------------------------------------------------ emit

    def emit(self) -> str:
        """The kernel's source file, ``kernels/<name>.cpp``."""
        ops = [op for op in self.kernel.body.block.ops if not isinstance(op, hls.PlanOp | hls.ReturnOp)]
        for index, op in enumerate(ops):
            self.body.append(f"    // {index}: {op.name}")
            if isinstance(op, fpq.CachedAttentionOp):
                # The new caches are the cache arguments' buffers, written in place.
                self.values[op.new_k_cache] = self.values[op.k_cache]
                self.values[op.new_v_cache] = self.values[op.v_cache]
                results = [op.result]
            else:
                results = list(op.results)
            outs = [self._buffer(index, j, r) for j, r in enumerate(results)]
            self.body.append(self._call(op, outs))
            for j, out in enumerate(outs):
                macro = "FPQC_DUMP_F32" if out.fmt is None else "FPQC_DUMP_CODES"
                elements = f"({out.rows}) * {out.row_length}"
                self.body.append(f'    {macro}("{self.name}.{index}.{j}", {out.expr}, {elements});')
        self.body.append("    // results")
        for port, value in self.outputs:
            v = self.values[value]
            if v.packed:
                raise FpqcError(f"kernel @{self.name} returns its argument unchanged; nothing to compute")
            elements = f"({v.rows}) * {v.row_length}"
            if v.fmt is None:
                self.body.append(f"    fpqc::copy_f32_n<{v.max_rows * v.row_length}>({v.expr}, {port}, {elements});")
            else:
                self.body.append(
                    f"    fpqc::pack_codes_n<{v.fmt.bits}, {v.max_rows * v.row_length}>({v.expr}, {port}, {elements});"
                )
        signature = ",\n".join(f"    {p}" for p in self.params)
        pe = self.pe_array
        lines = [
            f"// {self.name}.cpp -- generated by fpqc; do not edit.",
            f"// Target {self.kernel.target.data}; PE array {pe.pes.value.data} x {pe.lanes.value.data} LUT multipliers"
            + (f"; up to {self.max_rows} token rows per launch." if self.max_rows is not None else "."),
            '#include "fpqc_hls.h"',
            '#include "fpqc_tiled.h"',
            '#include "fpqc_block.h"',
            '#include "fpqc_tables.h"',
            "",
            f'extern "C" void {self.name}(\n{signature}) {{',
            *self.pragmas,
            "#pragma HLS INTERFACE mode=s_axilite port=return bundle=control",
            *self.body,
            "}",
            "",
        ]
        return "\n".join(lines)

    def _lanes_for(self, length: int) -> int:
        """The PE array's lanes, or fewer when they do not divide a row of ``length``."""
        lanes = self.pe_array.lanes.value.data
        return math.gcd(lanes, length)

    def _call(self, op: Operation, outs: list[_Value]) -> str:
        if isinstance(op, fpq.QuantizeOp):
            return self._quantize(op, outs)
        if isinstance(op, fpq.DequantizeOp):
            x = self.values[op.codes]
            k = x.row_length
            group = op.quant.group_size_for(k)
            s_row, sg = (0, k) if group is None else (k // group, group)
            params = _template_args(k, s_row, sg, x.max_rows, self._lanes_for(k))
            return (
                f"    fpqc::dequantize_rows<{params}>({x.rows}, {x.codes()}, {self._f32(op.scales)}, "
                f"{self.tables.decoder(op.quant.format)}, {outs[0].expr});"
            )
        if isinstance(op, fpq.GeluOp):
            x = self.values[op.input]
            params = _template_args(x.row_length, x.max_rows, self._lanes_for(x.row_length))
            return f"    fpqc::gelu_rows<{params}>({x.rows}, {x.expr}, {outs[0].expr});"
        if isinstance(op, fpq.HadamardOp):
            x = self.values[op.input]
            params = _template_args(
                x.row_length, op.block.value.data, op.signs is not None, x.max_rows, self._lanes_for(x.row_length)
            )
            return (
                f"    fpqc::hadamard_rows<{params}>({x.rows}, {x.expr}, {self._optional_f32(op.signs)}, "
                f"{outs[0].expr});"
            )
        if isinstance(op, fpq.DualQuantizeOp):
            x = self.values[op.input]
            k = x.row_length
            group = op.neg_quant.group_size_for(k) or k
            fn, fp = op.neg_quant.format, op.pos_quant.format
            table = self.tables.dual_quantizer(DualFormat(fn, fp), op.neg_quant.rounding.data)
            params = _template_args(fn.bits, fp.bits, k, group, x.max_rows, self._lanes_for(group))
            return (
                f"    fpqc::dual_quantize_rows<{params}>(\n"
                f"        {x.rows}, {x.expr}, {outs[0].expr}, {outs[1].expr}, {outs[2].expr}, {outs[3].expr}, {table});"
            )
        if isinstance(op, fpq.QLinearOp):
            return self._qlinear(op, outs[0])
        if isinstance(op, fpq.DualQLinearOp):
            return self._dual_qlinear(op, outs[0])
        if isinstance(op, fpq.LayerNormOp):
            x = self.values[op.input]
            return (
                f"    fpqc::layernorm<{x.row_length}, {x.max_rows}>({x.expr}, {outs[0].expr}, {x.rows}, "
                f"{_float(op.eps.value.data)});"
            )
        if isinstance(op, fpq.ModulateOp | fpq.ResidualOp):
            return self._per_sample(op, outs[0])
        if isinstance(op, fpq.CachedAttentionOp):
            return self._cached_attention(op, outs)
        raise FpqcError(
            f"kernel @{self.name}: {op.name} has no HLS library template (supported: fpq.quantize, "
            "fpq.qlinear, fpq.gelu, fpq.dequantize, fpq.hadamard, fpq.dual_quantize, fpq.dual_qlinear, "
            "fpq.layernorm, fpq.modulate, fpq.residual, fpq.cached_attention)"
        )

    def _quantize(self, op: fpq.QuantizeOp, outs: list[_Value]) -> str:
        quant = op.quant
        if quant.scale_kind.data != "fp32":
            raise FpqcError(
                f"kernel @{self.name}: fpq.quantize with {quant.scale_kind.data} scales is not in "
                "the HLS library yet; use fp32 scales for activations"
            )
        x = self.values[op.input]
        k = x.row_length
        table = self.tables.quantizer(quant.format, quant.rounding.data)
        if quant.granularity.data == "tensor":
            params = _template_args(quant.format.bits, k, x.max_rows, self._lanes_for(k))
            return (
                f"    fpqc::quantize_tensor_rows<{params}>({x.rows}, {x.expr}, {outs[0].expr}, "
                f"{outs[1].expr}, {table});"
            )
        if quant.granularity.data not in ("token", "group"):
            raise FpqcError(
                f"kernel @{self.name}: activations quantized per {quant.granularity.data} are not in the HLS "
                "library; quantize them per token, per group or per tensor"
            )
        group = quant.group_size_for(k) or k
        params = _template_args(quant.format.bits, k, group, x.max_rows, self._lanes_for(group))
        return f"    fpqc::quantize_rows<{params}>({x.rows}, {x.expr}, {outs[0].expr}, {outs[1].expr}, {table});"

    @staticmethod
    def _scale_layout(quant: fpq.QuantAttr, k: int) -> tuple[int, int]:
        """(scales per row, elements per scale) along a reduction of ``k``; (0, k) per tensor."""
        if quant.granularity.data == "tensor":
            return (0, k)
        g = quant.group_size_for(k)
        return (1, k) if g is None else (k // g, g)

    def _linear_params(
        self, op: fpq.QLinearOp | fpq.DualQLinearOp, x: _Value, x_quant: fpq.QuantAttr, x_formats: list[Format]
    ) -> str:
        """Template arguments of ``tiled_qlinear`` / ``tiled_dual_qlinear`` from the op and its plan."""
        o, k = _shape(op.weight_codes)
        group = op.combine_group_size()
        fw = op.w_quant.format
        tile = self.plan.tile_of(op)
        n_loop = tile.loop("n") if tile is not None else None
        if n_loop is None:
            raise FpqcError(f"kernel @{self.name}: the plan has no output tile for {op.name}; rerun the tile pass")
        weight_port = next(
            p for p in self.plan.entries_of(hls.PortOp) if p.value is op.weight_codes and p.direction.data == "in"
        )
        xs_row, xg = self._scale_layout(x_quant, k)
        ws_row, wg = self._scale_layout(op.w_quant, k)
        # A tile of N outputs spread over the PE array occupies min(N, pes) of its PEs.
        n_tile = n_loop.tile.data
        pes = min(n_tile, self.pe_array.pes.value.data)
        return _template_args(
            x.max_rows, k, o, group, fw.bits,
            *(accumulator_bits(fx, fw, group) for fx in x_formats),
            xs_row, xg, ws_row, wg, op.bias is not None,
            n_tile, pes, self.pe_array.lanes.value.data,
            weight_port.width.value.data,
        )

    def _qlinear(self, op: fpq.QLinearOp, out: _Value) -> str:
        x = self.values[op.input_codes]
        params = self._linear_params(op, x, op.x_quant, [op.x_quant.format])
        table, unit = self.tables.product(op.x_quant.format, op.w_quant.format)
        return (
            f"    fpqc::tiled_qlinear<{params}>(\n"
            f"        {x.rows}, {x.expr}, {self._f32(op.input_scales)},\n"
            f"        {self.values[op.weight_codes].expr}, {self._f32(op.weight_scales)},\n"
            f"        {self._optional_f32(op.bias)}, {table}, {unit}, {out.expr});"
        )

    def _dual_qlinear(self, op: fpq.DualQLinearOp, out: _Value) -> str:
        fn, fp, fw = op.neg_quant.format, op.pos_quant.format, op.w_quant.format
        x = self.values[op.neg_codes]
        params = self._linear_params(op, x, op.neg_quant, [fn, fp])
        n_table, n_unit = self.tables.product(fn, fw)
        p_table, p_unit = self.tables.product(fp, fw)
        return (
            f"    fpqc::tiled_dual_qlinear<{params}>(\n"
            f"        {x.rows}, {x.expr}, {self.values[op.pos_codes].expr},\n"
            f"        {self._f32(op.neg_scales)}, {self._f32(op.pos_scales)},\n"
            f"        {self.values[op.weight_codes].expr}, {self._f32(op.weight_scales)},\n"
            f"        {self._optional_f32(op.bias)}, {n_table}, {n_unit}, {p_table}, {p_unit}, {out.expr});"
        )

    def _per_sample(self, op: fpq.ModulateOp | fpq.ResidualOp, out: _Value) -> str:
        """AdaLN modulation or gated residual of ``[B, n, C]`` rows with one ``[B, 1, C]`` vector set per sample."""
        x = self.values[op.input]
        if len(x.shape) != 3:
            raise FpqcError(f"kernel @{self.name}: {op.name} on {list(x.shape)}; the HLS library takes [B, n, C]")
        batch, max_rows, c = x.shape
        rows = "rows" if self._is_row_tensor(x.shape) else str(max_rows)
        params = _template_args(c, batch, max_rows)
        if isinstance(op, fpq.ModulateOp):
            operands = f"{x.expr}, {self._f32(op.scale)}, {self._f32(op.shift)}"
            return f"    fpqc::modulate<{params}>({operands}, {out.expr}, {batch}, {rows});"
        operands = f"{x.expr}, {self._f32(op.branch)}, {self._f32(op.gamma)}"
        return f"    fpqc::residual<{params}>({operands}, {out.expr}, {batch}, {rows});"

    def _cached_attention(self, op: fpq.CachedAttentionOp, outs: list[_Value]) -> str:
        qkv = self.values[op.qkv]
        batch, max_rows, c3 = qkv.shape
        length = _shape(op.k_cache)[1]
        rows = "rows" if self._is_row_tensor(qkv.shape) else str(max_rows)
        k_cache, v_cache = self.values[op.k_cache], self.values[op.v_cache]
        if any(self._param_of(c.expr).startswith("const ") for c in (k_cache, v_cache)):
            raise FpqcError(f"kernel @{self.name}: a KV cache is not updated in place (no hls.updates)")
        kv = "fpqc::NoKvQuant()"
        if op.kv_quant is not None:
            fmt = op.kv_quant.format
            group = op.kv_quant.group_size_for(c3 // 3 // op.num_heads.value.data) or c3 // 3 // op.num_heads.value.data
            every_key = op.scope() is fpq.KvScope.ALL
            kv = (
                f"fpqc::kv_quant<{_template_args(fmt.bits, group, every_key)}>("
                f"{self.tables.quantizer(fmt, op.kv_quant.rounding.data)}, {self.tables.decoder(fmt)})"
            )
        params = _template_args(batch, length, c3 // 3, op.num_heads.value.data, max_rows)
        return (
            f"    fpqc::cached_attention<{params}>(\n"
            f"        {qkv.expr}, {self._f32(op.q_scale)}, {k_cache.expr}, {v_cache.expr}, {outs[0].expr},\n"
            f"        {rows}, (int){self.values[op.offset].expr}, {_float(op.eps.value.data)}, {kv});"
        )

    def _param_of(self, name: str) -> str:
        return next((p for p in self.params if p.endswith(f" {name}")), "")


def _float(value: float) -> str:
    """An fp32 literal that rounds to ``value``'s float32 (hex float)."""
    return f"{float(np.float32(value)).hex()}f"
