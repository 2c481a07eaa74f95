"""C++ of one ``hls.kernel``: an ``extern "C"`` top function that calls the HLS library op by op.

Kernel ports: an f32 tensor is a ``float*``, a tensor of low-bit codes a
``uint32_t*`` of packed codes (:mod:`fpqc.backends.hls.codes`); each pointer is
an ``m_axi`` port on its own bundle, and the control registers are
``s_axilite``.  Inside a kernel every op result lives in an on-chip buffer;
results leave through the output ports at the end.  Built with
``-DFPQC_DUMP``, a kernel writes every buffer to
``$FPQC_DUMP_DIR/<kernel>.<op index>.<result index>.bin`` (f32 raw, codes one
byte each) for ``fpqc verify``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """How a kernel refers to a tensor: a pointer expression and its layout."""

    expr: str
    fmt: Format | None
    elements: int
    packed: bool = False

    def codes(self) -> str:
        assert self.fmt is not None
        kind = "packed_codes" if self.packed else "local_codes"
        return f"fpqc::{kind}<{self.fmt.bits}>({self.expr})"


def _shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _groups(quant: fpq.QuantAttr, shape: tuple[int, ...]) -> tuple[int, int]:
    """(number of groups, elements per group) of a quantized tensor, row-major flat."""
    n = math.prod(shape)
    group = quant.group_size_for(shape[-1]) or n
    return n // group, group


def _template_args(*params: int | bool) -> str:
    """C++ template arguments: integers, and booleans as ``true``/``false``."""
    return ", ".join(("true" if p else "false") if isinstance(p, bool) else str(p) for p in params)


def role_names(kernel: hls.KernelOp) -> list[str]:
    """Port names from the first use of each argument: ``input``, ``weight_codes``, ``bias``..."""
    names = []
    for i, arg in enumerate(kernel.args):
        ops = list(kernel.body.block.ops)
        uses = [u for u in arg.uses if u.operation.parent_block() is kernel.body.block]  # not the plan's
        use = min(uses, key=lambda u: (ops.index(u.operation), u.index), default=None)
        if use is None or isinstance(use.operation, hls.ReturnOp):
            names.append(arg.name_hint or f"in{i}")
            continue
        operand_names = [name for name, _ in type(use.operation).get_irdl_definition().operands]
        names.append(operand_names[min(use.index, len(operand_names) - 1)] if operand_names else f"in{i}")
    return names


class KernelEmitter:
    """C++ for one hls.kernel, op by op (see module docstring for the layout)."""

    def __init__(self, kernel: hls.KernelOp, port_hints: list[str], tables: TableSet):
        self.kernel = kernel
        self.name = kernel.sym_name.data
        self.lanes = kernel.lanes.value.data
        self.tables = tables
        self.values: dict[SSAValue, _Value] = {}
        self.params: list[str] = []
        self.pragmas: list[str] = []
        self.body: list[str] = []
        self.ports: list[Buffer] = []  # in parameter order; kind "in" or "out"
        taken: set[str] = set()
        for arg, hint in zip(kernel.args, port_hints):
            port = self._port(Buffer(c_identifier(hint, taken), "in", _shape(arg), code_format(arg.type)))
            self.values[arg] = _Value(port.name, port.fmt, port.elements, packed=True)
        self.outputs: list[tuple[str, SSAValue]] = []
        for i, value in enumerate(kernel.get_return_op().arguments):
            port = self._port(Buffer(c_identifier(f"out{i}", taken), "out", _shape(value), code_format(value.type)))
            self.outputs.append((port.name, value))

    def describe(self) -> dict:
        """This kernel's entry in host_schedule.json's ``kernels``."""
        ports = [{"name": p.name, "direction": p.kind, "bytes": p.nbytes, **p.layout()} for p in self.ports]
        return {"name": self.name, "source": f"kernels/{self.name}.cpp", "ports": ports}

    def _port(self, port: Buffer) -> Buffer:
        """Add ``port`` to the signature with its interface pragmas; return it."""
        const = "const " if port.kind == "in" else ""
        bundle = f"gmem{len(self.params)}"
        self.params.append(f"{const}{port.c_type}* {port.name}")
        self.pragmas.append(
            f"#pragma HLS INTERFACE mode=m_axi port={port.name} offset=slave bundle={bundle} depth={port.words}"
        )
        self.pragmas.append(f"#pragma HLS INTERFACE mode=s_axilite port={port.name} bundle=control")
        self.ports.append(port)
        return port

    def _buffer(self, op_index: int, result_index: int, value: SSAValue) -> _Value:
        fmt = code_format(value.type)
        n = math.prod(_shape(value))
        name = f"t{op_index}_{result_index}"
        ctype = "float" if fmt is None else f"ap_uint<{fmt.bits}>"
        self.body.append(f"    static {ctype} {name}[{n}];")
        if fmt is not None and self.lanes > 1:
            self.body.append(
                f"#pragma HLS ARRAY_PARTITION variable={name} type=cyclic factor={self.lanes}"
            )
        buffer = _Value(name, fmt, n)
        self.values[value] = buffer
        return buffer

    def _f32(self, value: SSAValue) -> str:
        v = self.values[value]
        assert v.fmt is None
        return v.expr

    def _optional_f32(self, value: SSAValue | None) -> str:
        """The pointer of an optional f32 operand, ``0`` when absent."""
        return "0" if value is None else self._f32(value)

    def emit(self) -> str:
        """The kernel's source file, ``kernels/<name>.cpp``."""
        for index, op in enumerate(self.kernel.body.block.ops):
            if isinstance(op, hls.ReturnOp):
                break
            if isinstance(op, hls.PlanOp):  # the hardware plan: not printed yet
                continue
            self.body.append(f"    // {index}: {op.name}")
            outs = [self._buffer(index, j, r) for j, r in enumerate(op.results)]
            self.body.append(self._call(op, outs))
            for j, out in enumerate(outs):
                macro = "FPQC_DUMP_F32" if out.fmt is None else "FPQC_DUMP_CODES"
                self.body.append(f'    {macro}("{self.name}.{index}.{j}", {out.expr}, {out.elements});')
        self.body.append("    // results")
        for port, value in self.outputs:
            v = self.values[value]
            if v.packed:
                raise FpqcError(f"kernel @{self.name} returns its argument unchanged; nothing to compute")
            if v.fmt is None:
                self.body.append(f"    fpqc::copy_f32<{v.elements}>({v.expr}, {port});")
            else:
                self.body.append(f"    fpqc::pack_codes<{v.fmt.bits}, {v.elements}>({v.expr}, {port});")
        signature = ",\n".join(f"    {p}" for p in self.params)
        lines = [
            f"// {self.name}.cpp -- generated by fpqc; do not edit.",
            f"// Target {self.kernel.target.data}, {self.lanes} LUT multiplier lanes.",
            '#include "fpqc_hls.h"',
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

    def _call(self, op: Operation, outs: list[_Value]) -> str:
        if isinstance(op, fpq.QuantizeOp):
            quant = op.quant
            if quant.scale_kind.data != "fp32":
                raise FpqcError(
                    f"kernel @{self.name}: fpq.quantize with {quant.scale_kind.data} scales is not in "
                    "the HLS library yet; use fp32 scales for activations"
                )
            n_groups, group = _groups(quant, _shape(op.input))
            table = self.tables.quantizer(quant.format, quant.rounding.data)
            return (
                f"    fpqc::quantize_groups<{quant.format.bits}, {n_groups}, {group}>("
                f"{self._f32(op.input)}, {outs[0].expr}, {outs[1].expr}, {table});"
            )
        if isinstance(op, fpq.DequantizeOp):
            n_groups, group = _groups(op.quant, _shape(op.codes))
            return (
                f"    fpqc::dequantize<{n_groups}, {group}>({self.values[op.codes].codes()}, "
                f"{self._f32(op.scales)}, {self.tables.decoder(op.quant.format)}, {outs[0].expr});"
            )
        if isinstance(op, fpq.GeluOp):
            return f"    fpqc::gelu<{outs[0].elements}>({self._f32(op.input)}, {outs[0].expr});"
        if isinstance(op, fpq.QLinearOp):
            return self._qlinear(op, outs[0])
        if isinstance(op, fpq.HadamardOp):
            shape = _shape(op.input)
            params = _template_args(
                math.prod(shape[:-1]), shape[-1], op.block.value.data, op.signs is not None, self.lanes
            )
            return (
                f"    fpqc::hadamard<{params}>({self._f32(op.input)}, {self._optional_f32(op.signs)}, "
                f"{outs[0].expr});"
            )
        if isinstance(op, fpq.DualQuantizeOp):
            n_groups, group = _groups(op.neg_quant, _shape(op.input))
            fn, fp = op.neg_quant.format, op.pos_quant.format
            table = self.tables.dual_quantizer(DualFormat(fn, fp), op.neg_quant.rounding.data)
            return (
                f"    fpqc::dual_quantize_groups<{fn.bits}, {fp.bits}, {n_groups}, {group}>(\n"
                f"        {self._f32(op.input)}, {outs[0].expr}, {outs[1].expr}, {outs[2].expr}, "
                f"{outs[3].expr}, {table});"
            )
        if isinstance(op, fpq.DualQLinearOp):
            return self._dual_qlinear(op, outs[0])
        raise FpqcError(
            f"kernel @{self.name}: {op.name} has no HLS library template (supported: fpq.quantize, "
            "fpq.qlinear, fpq.gelu, fpq.dequantize, fpq.hadamard, fpq.dual_quantize, fpq.dual_qlinear)"
        )

    @staticmethod
    def _scale_layout(quant: fpq.QuantAttr, k: int) -> tuple[int, int]:
        """(scales per row, elements per scale) along a reduction of ``k``; (0, k) per tensor."""
        g = quant.group_size_for(k)
        return (0, k) if g is None else (k // g, g)

    def _linear_params(
        self, op: fpq.QLinearOp | fpq.DualQLinearOp, x_codes: SSAValue, x_quant: fpq.QuantAttr, x_formats: list[Format]
    ) -> str:
        """Template arguments of ``fpqc::qlinear`` (one activation format) or ``fpqc::dual_qlinear`` (two)."""
        x_shape, (o, k) = _shape(x_codes), _shape(op.weight_codes)
        group = op.combine_group_size()
        fw = op.w_quant.format
        return _template_args(
            math.prod(x_shape[:-1]), k, o, group, fw.bits,
            *(accumulator_bits(fx, fw, group) for fx in x_formats),
            *self._scale_layout(x_quant, k), *self._scale_layout(op.w_quant, k),
            op.bias is not None, self.lanes,
        )

    def _qlinear(self, op: fpq.QLinearOp, out: _Value) -> str:
        params = self._linear_params(op, op.input_codes, op.x_quant, [op.x_quant.format])
        table, unit = self.tables.product(op.x_quant.format, op.w_quant.format)
        return (
            f"    fpqc::qlinear<{params}>(\n"
            f"        {self.values[op.input_codes].codes()}, {self._f32(op.input_scales)},\n"
            f"        {self.values[op.weight_codes].codes()}, {self._f32(op.weight_scales)},\n"
            f"        {self._optional_f32(op.bias)}, {table}, {unit}, {out.expr});"
        )

    def _dual_qlinear(self, op: fpq.DualQLinearOp, out: _Value) -> str:
        fn, fp, fw = op.neg_quant.format, op.pos_quant.format, op.w_quant.format
        params = self._linear_params(op, op.neg_codes, op.neg_quant, [fn, fp])
        n_table, n_unit = self.tables.product(fn, fw)
        p_table, p_unit = self.tables.product(fp, fw)
        return (
            f"    fpqc::dual_qlinear<{params}>(\n"
            f"        {self.values[op.neg_codes].codes()}, {self.values[op.pos_codes].codes()},\n"
            f"        {self._f32(op.neg_scales)}, {self._f32(op.pos_scales)},\n"
            f"        {self.values[op.weight_codes].codes()}, {self._f32(op.weight_scales)},\n"
            f"        {self._optional_f32(op.bias)}, {n_table}, {n_unit}, {p_table}, {p_unit}, {out.expr});"
        )
