"""The HLS backend: hls-level IR -> Vitis HLS C++, packed weights, host schedule, build files.

``emit_build(module, store, build_dir, target)`` writes::

    kernels/<kernel>.cpp       one extern "C" top function per hls.kernel (identical kernels
                               were merged by lower-to-hls: one source, many launches)
    kernels/fpqc_tables.h      LUT tables of exactly the formats used (from fpqc.numerics)
    kernels/fpqc_hls.h         the header-only HLS library (copied)
    kernels/fpqc_numerics.h    fpqc's scalar numerics in C++ (copied)
    kernels/fpqc_fpqvar.h      FPQVAR's numerics in C++: FWHT/GHT, dual format (copied)
    weights.bin                every fpq.constant of @main, 64-byte aligned, little-endian
    weights.json               its manifest: name, offset, bytes, dtype, shape, packing
    host_schedule.json         buffers and the ordered steps (kernel launches, host ops)
    csim/csim_kernels.cpp      C simulation driver that runs any kernel on buffers from files
    csim/csim_main.cpp         C simulation of the schedule (only when every step is a kernel)
    vitis/hls_config.cfg       v++ HLS options shared by all kernels (part, clock, flow)
    vitis/<kernel>.cfg         per-kernel top function, source and .xo
    vitis/link.cfg             v++ link connectivity
    vitis/build.sh, vitis/Makefile   v++ -c per kernel, v++ -l with the platform

Kernel ports: an f32 tensor is a ``float*``, a tensor of low-bit codes a
``uint32_t*`` of packed codes (floor(32/bits) per word, code i of a word in
bits [i*bits, (i+1)*bits)); each pointer is an ``m_axi`` port on its own
bundle, and the control registers are ``s_axilite``.  Inside a kernel every op
result lives in an on-chip buffer; results leave through the output ports at
the end.  Built with ``-DFPQC_DUMP``, a kernel writes every buffer to
``$FPQC_DUMP_DIR/<kernel>.<op index>.<result index>.bin`` (f32 raw, codes one
byte each) for ``fpqc verify``.

``host_schedule.json`` (``"format": "fpqc.host_schedule/2"``) is what a host
runtime follows::

    kernels   [{name, source, launches, ports: [{name, direction, shape, dtype, bytes, ...}]}]
    inputs    [{name (ONNX), buffer, file}]          outputs  [{name (ONNX), buffer, file}]
    buffers   [{name (the buffer id), kind: input|weight|intermediate|output, shape,
                dtype: f32|packed_codes|<numpy dtype>, bytes, [format, bits],
                [weight, offset: its entry and byte offset in weights.bin]}]
    steps     in order; each {index, kind: kernel|host, args, results} where args and
              results are [{buffer, shape, dtype, [format, bits], [port], [weight, offset]}];
              a kernel step adds {kernel, launch (0, 1, ... per kernel)},
              a host step adds {op (its IR name), attributes (printed IR attributes)}
    csim      "supported" when every step is a kernel launch (whole-model C simulation),
              else why not; kernel_csim: the per-kernel driver, present with any kernel

Output is deterministic: the same module and weights give byte-identical files.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseResourceAttr, Float32Type, ModuleOp, StringAttr, TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from fpqc.dialects import fpq, hls
from fpqc.errors import FpqcError
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.numerics import Format
from fpqc.numerics import accumulator_bits, emit_decode_table, emit_product_table, emit_quantizer_tables
from fpqc.numerics.dual_format import DualFormat, emit_dual_tables
from fpqc.numerics.c_arrays import c_float
from fpqc.targets import Target
from fpqc.weights import WeightStore, resolve

INCLUDE_DIR = Path(__file__).parent / "include"
LIBRARY_HEADERS = ("fpqc_hls.h", "fpqc_numerics.h", "fpqc_fpqvar.h")
WEIGHT_ALIGNMENT = 64
SCHEDULE_FILE = "host_schedule.json"
SCHEDULE_FORMAT = "fpqc.host_schedule/2"
KERNEL_DRIVER = "csim/csim_kernels.cpp"


# ---------------------------------------------------------------------------
# Values: what a tensor looks like in memory
# ---------------------------------------------------------------------------


def code_format(t: Attribute) -> Format | None:
    """The low-bit format of a code tensor type, None for an f32 tensor."""
    if not isinstance(t, TensorType):
        raise FpqcError(f"the HLS backend handles ranked tensors only, got {t}")
    element = t.get_element_type()
    if isinstance(element, fpq.FloatFormatType | fpq.IntFormatType):
        return element.format
    if isinstance(element, Float32Type):
        return None
    raise FpqcError(f"the HLS backend handles f32 and low-bit code tensors, got {t}")


def words_for(n_codes: int, bits: int) -> int:
    per = 32 // bits
    return (n_codes + per - 1) // per


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """uint32 words holding ``codes`` (flattened), floor(32/bits) per word, little-endian."""
    per = 32 // bits
    flat = codes.reshape(-1).astype(np.uint32) & np.uint32((1 << bits) - 1)
    padded = np.zeros(words_for(flat.size, bits) * per, dtype=np.uint32)
    padded[: flat.size] = flat
    shifts = (np.arange(per, dtype=np.uint32) * bits)[None, :]
    return np.bitwise_or.reduce(padded.reshape(-1, per) << shifts, axis=1).astype("<u4")


def unpack_codes(words: np.ndarray, bits: int, n_codes: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: uint8 codes."""
    per = 32 // bits
    shifts = (np.arange(per, dtype=np.uint32) * bits)[None, :]
    codes = (words.astype(np.uint32)[:, None] >> shifts) & np.uint32((1 << bits) - 1)
    return codes.reshape(-1)[:n_codes].astype(np.uint8)


@dataclass
class Buffer:
    """One tensor of the host schedule."""

    name: str
    kind: str  # input | weight | intermediate | output
    shape: tuple[int, ...]
    fmt: Format | None  # None: f32 (or, on the host only, the numpy dtype ``host_dtype``)
    file: str | None = None  # inputs/outputs: raw file name for the C simulation
    weight: str | None = None  # weights: entry name in weights.json
    host_dtype: str | None = None  # a tensor neither f32 nor codes (host ops only), e.g. "int64"
    offset: int | None = None  # weights: byte offset in weights.bin (set by emit_build)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def words(self) -> int:
        """32-bit words in memory (f32 values, or packed code words)."""
        return self.elements if self.fmt is None else words_for(self.elements, self.fmt.bits)

    @property
    def dtype(self) -> str:
        if self.fmt is not None:
            return "packed_codes"
        return self.host_dtype or "f32"

    @property
    def nbytes(self) -> int:
        if self.host_dtype is not None:
            return self.elements * np.dtype(self.host_dtype).itemsize
        return 4 * self.words

    def ref(self) -> dict:
        """How a step refers to this buffer."""
        out: dict = {"buffer": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.fmt is not None:
            out["format"], out["bits"] = self.fmt.name, self.fmt.bits
        if self.weight is not None:
            out["weight"] = self.weight
            if self.offset is not None:
                out["offset"] = self.offset
        return out

    def to_json(self) -> dict:
        out = {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "bytes": self.nbytes,
        }
        if self.fmt is not None:
            out["format"] = self.fmt.name
            out["bits"] = self.fmt.bits
        if self.file is not None:
            out["file"] = self.file
        if self.weight is not None:
            out["weight"] = self.weight
            if self.offset is not None:
                out["offset"] = self.offset
        return out


def c_identifier(text: str, taken: set[str]) -> str:
    """A C identifier derived from ``text``, unique within ``taken`` (which it joins)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "v"
    if base[0].isdigit():
        base = "v_" + base
    name, n = base, 1
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name


def file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "tensor"


# ---------------------------------------------------------------------------
# The host schedule
# ---------------------------------------------------------------------------


@dataclass
class Step:
    kind: str  # kernel | host
    name: str  # kernel symbol or op name
    args: list[str]
    results: list[str]
    op: Operation | None = None
    launch: int = 0  # kernels: how many launches of the same kernel came before
    attributes: dict[str, str] = field(default_factory=dict)  # host ops: printed IR attributes


def _step_json(index: int, step: Step, buffers: dict[str, Buffer], ports: dict[str, list[str]]) -> dict:
    def refs(names: list[str], port_names: list[str] | None) -> list[dict]:
        out = []
        for i, name in enumerate(names):
            ref = buffers[name].ref()
            if port_names is not None:
                ref["port"] = port_names[i]
            out.append(ref)
        return out

    if step.kind == "kernel":
        names = ports.get(step.name)
        n_args = len(step.args)
        return {
            "index": index,
            "kind": "kernel",
            "kernel": step.name,
            "launch": step.launch,
            "args": refs(step.args, names[:n_args] if names else None),
            "results": refs(step.results, names[n_args:] if names else None),
        }
    return {
        "index": index,
        "kind": "host",
        "op": step.name,
        "attributes": step.attributes,
        "args": refs(step.args, None),
        "results": refs(step.results, None),
    }


@dataclass
class HostSchedule:
    """@main as a list of buffers and ordered steps."""

    buffers: dict[SSAValue, Buffer] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    inputs: list[tuple[str, Buffer]] = field(default_factory=list)  # (ONNX name, buffer)
    outputs: list[tuple[str, Buffer]] = field(default_factory=list)  # (ONNX name, buffer)
    constants: list[tuple[Buffer, fpq.ConstantOp]] = field(default_factory=list)

    @property
    def host_ops(self) -> list[str]:
        return [s.name for s in self.steps if s.kind == "host"]

    def to_json(self, kernels: list[dict]) -> dict:
        """The schedule as ``host_schedule.json`` (module docstring); ``kernels`` describe the sources."""
        by_name = {b.name: b for b in self.buffers.values()}
        ports = {k["name"]: [p["name"] for p in k["ports"]] for k in kernels}
        launches = {k["name"]: sum(s.name == k["name"] for s in self.steps if s.kind == "kernel") for k in kernels}
        out = {
            "format": SCHEDULE_FORMAT,
            "kernels": [{**k, "launches": launches[k["name"]]} for k in kernels],
            "inputs": [{"name": n, "buffer": b.name, "file": b.file} for n, b in self.inputs],
            "outputs": [
                {"name": n, "buffer": b.name, "file": file_name(n) + ".f32"} for n, b in self.outputs
            ],
            "buffers": [b.to_json() for b in self.buffers.values()],
            "steps": [_step_json(i, s, by_name, ports) for i, s in enumerate(self.steps)],
            "csim": self.csim_refusal() or "supported",
        }
        if kernels:
            out["kernel_csim"] = KERNEL_DRIVER
        return out

    def csim_refusal(self) -> str | None:
        """Why this schedule cannot be C-simulated, or None."""
        if self.host_ops:
            return (
                f"the host schedule runs {len(self.host_ops)} op(s) on the host "
                f"({', '.join(sorted(set(self.host_ops)))}); the C simulation covers builds whose "
                "every step is a kernel launch -- quantize those layers or run the model with "
                "`fpqc run` instead"
            )
        bad = [n for n, b in self.inputs if b.dtype != "f32"]
        if bad:
            return f"inputs {', '.join(bad)} are not f32 tensors"
        return None


def main_function(module: ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main":
            return op
    raise FpqcError("the module has no func.func @main (the host schedule); run fpqc compile")


def _onnx_name(attrs, index: int, fallback: str) -> str:
    if attrs is not None:
        name = attrs.data[index].data.get("onnx.name")
        if isinstance(name, StringAttr):
            return name.data
    return fallback


def host_schedule(main: func.FuncOp) -> HostSchedule:
    """Buffers and steps of ``@main``, in program order."""
    schedule = HostSchedule()
    taken: set[str] = set()

    def new_buffer(value: SSAValue, hint: str, kind: str) -> Buffer:
        t = value.type
        assert isinstance(t, TensorType)
        element = t.get_element_type()
        if isinstance(element, Float32Type | fpq.FloatFormatType | fpq.IntFormatType):
            fmt, host_dtype = code_format(t), None
        else:  # only host ops can touch it; the kernels check their own types
            fmt, host_dtype = None, element_type_to_dtype(element).name
        buffer = Buffer(c_identifier(hint, taken), kind, tuple(t.get_shape()), fmt, host_dtype=host_dtype)
        schedule.buffers[value] = buffer
        return buffer

    launches: dict[str, int] = {}

    for i, arg in enumerate(main.args):
        onnx_name = _onnx_name(main.arg_attrs, i, f"arg{i}")
        buffer = new_buffer(arg, onnx_name, "input")
        buffer.file = file_name(onnx_name) + ".f32"
        schedule.inputs.append((onnx_name, buffer))

    for op in main.body.block.ops:
        if isinstance(op, fpq.ConstantOp):
            key = op.value.resource_handle.data if isinstance(op.value, DenseResourceAttr) else None
            buffer = new_buffer(op.result, key or op.result.name_hint or "const", "weight")
            buffer.weight = key or buffer.name
            schedule.constants.append((buffer, op))
        elif isinstance(op, func.ReturnOp):
            for i, value in enumerate(op.arguments):
                onnx_name = _onnx_name(main.res_attrs, i, f"result{i}")
                buffer = schedule.buffers[value]
                if buffer.kind == "intermediate":
                    buffer.kind = "output"
                schedule.outputs.append((onnx_name, buffer))
        else:
            args = [schedule.buffers[v].name for v in op.operands]
            is_kernel = isinstance(op, hls.CallOp)
            stem = op.callee.string_value() if is_kernel else op.name.replace(".", "_")
            results = [
                new_buffer(r, r.name_hint or f"{stem}_r{j}", "intermediate").name
                for j, r in enumerate(op.results)
            ]
            step = Step("kernel" if is_kernel else "host", stem if is_kernel else op.name, args, results, op)
            if is_kernel:
                step.launch = launches.get(stem, 0)
                launches[stem] = step.launch + 1
            else:
                step.attributes = {
                    k: str(v) for k, v in sorted({**op.properties, **op.attributes}.items())
                }
            schedule.steps.append(step)
    return schedule


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


@dataclass
class TableSet:
    """The LUT tables the kernels of one build refer to."""

    quantizers: set[tuple[Format, str]] = field(default_factory=set)
    dual_quantizers: set[tuple[DualFormat, str]] = field(default_factory=set)
    decoders: set[Format] = field(default_factory=set)
    products: set[tuple[Format, Format]] = field(default_factory=set)

    @staticmethod
    def fmt_id(fmt: Format) -> str:
        return re.sub(r"[^a-z0-9]", "_", fmt.name)

    def quantizer(self, fmt: Format, rounding: str) -> str:
        """Name of the ``fpqc::Quantizer`` of ``fmt`` and ``rounding``."""
        self.quantizers.add((fmt, rounding))
        return f"fpqc_{self.fmt_id(fmt)}_{rounding.replace('-', '_')}"

    def dual_quantizer(self, dual: DualFormat, rounding: str) -> str:
        """Name of the ``fpqc::DualQuantizer`` of ``dual`` and ``rounding``."""
        self.dual_quantizers.add((dual, rounding))
        return (
            f"fpqc_dual_{self.fmt_id(dual.neg)}_{self.fmt_id(dual.pos)}_{rounding.replace('-', '_')}"
        )

    def decoder(self, fmt: Format) -> str:
        """Name of the decode table of ``fmt``."""
        self.decoders.add(fmt)
        return f"fpqc_{self.fmt_id(fmt)}_decode"

    def product(self, fa: Format, fb: Format) -> tuple[str, str]:
        """Names of the product ROM of ``fa`` x ``fb`` and of its unit."""
        self.products.add((fa, fb))
        prefix = f"fpqc_{self.fmt_id(fa)}_x_{self.fmt_id(fb)}"
        return f"{prefix}_prod", f"{prefix}_unit"

    def header(self) -> str:
        parts = [
            "// fpqc_tables.h -- generated by fpqc from fpqc.numerics; do not edit.",
            "// The LUT quantizers (single and dual format), decode tables and product ROMs of the",
            "// formats this build uses.",
            "#ifndef FPQC_TABLES_H",
            "#define FPQC_TABLES_H",
            '#include "fpqc_hls.h"',
            "",
        ]
        for fmt, rounding in sorted(self.quantizers, key=lambda q: (q[0].name, q[1])):
            name = self.quantizer(fmt, rounding)
            parts.append(emit_quantizer_tables(fmt, rounding, name))
            parts.append(
                f"static const fpqc::Quantizer {name} = {{{name}_neg, {name}_pos, {name}_nan_code, "
                f"{c_float(fmt.max_value)}}};\n"
            )
        for dual, rounding in sorted(self.dual_quantizers, key=lambda q: (q[0].name, q[1])):
            parts.append(emit_dual_tables(dual, rounding, self.dual_quantizer(dual, rounding)))
        for fmt in sorted(self.decoders, key=lambda f: f.name):
            parts.append(emit_decode_table(fmt, f"fpqc_{self.fmt_id(fmt)}"))
        for fa, fb in sorted(self.products, key=lambda p: (p[0].name, p[1].name)):
            parts.append(emit_product_table(fa, fb, f"fpqc_{self.fmt_id(fa)}_x_{self.fmt_id(fb)}"))
        parts.append("#endif  // FPQC_TABLES_H\n")
        return "\n".join(parts)


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------


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


def _role_names(kernel: hls.KernelOp) -> list[str]:
    """Port names from the first use of each argument: ``input``, ``weight_codes``, ``bias``..."""
    names = []
    for i, arg in enumerate(kernel.args):
        use = min(arg.uses, key=lambda u: (list(kernel.body.block.ops).index(u.operation), u.index), default=None)
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
            fmt = code_format(arg.type)
            port = c_identifier(hint, taken)
            ctype = "const float*" if fmt is None else "const uint32_t*"
            n = math.prod(_shape(arg))
            self._port(port, ctype, n if fmt is None else words_for(n, fmt.bits))
            self.ports.append(Buffer(port, "in", _shape(arg), fmt))
            self.values[arg] = _Value(port, fmt, n, packed=True)
        self.outputs = []
        for i, value in enumerate(kernel.get_return_op().arguments):
            fmt = code_format(value.type)
            port = c_identifier(f"out{i}", taken)
            n = math.prod(_shape(value))
            self._port(port, "float*" if fmt is None else "uint32_t*", n if fmt is None else words_for(n, fmt.bits))
            self.ports.append(Buffer(port, "out", _shape(value), fmt))
            self.outputs.append((port, value))

    def describe(self) -> dict:
        """This kernel's entry in host_schedule.json's ``kernels``."""
        ports = []
        for port in self.ports:
            entry = {
                "name": port.name,
                "direction": port.kind,
                "shape": list(port.shape),
                "dtype": port.dtype,
                "bytes": port.nbytes,
            }
            if port.fmt is not None:
                entry["format"], entry["bits"] = port.fmt.name, port.fmt.bits
            ports.append(entry)
        return {"name": self.name, "source": f"kernels/{self.name}.cpp", "ports": ports}

    def _port(self, name: str, ctype: str, depth: int) -> None:
        bundle = f"gmem{len(self.params)}"
        self.params.append(f"{ctype} {name}")
        self.pragmas.append(
            f"#pragma HLS INTERFACE mode=m_axi port={name} offset=slave bundle={bundle} depth={depth}"
        )
        self.pragmas.append(f"#pragma HLS INTERFACE mode=s_axilite port={name} bundle=control")

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

    def emit(self) -> str:
        for index, op in enumerate(self.kernel.body.block.ops):
            if isinstance(op, hls.ReturnOp):
                break
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
            signs = self._f32(op.signs) if op.signs is not None else "0"
            params = ", ".join(
                str(p)
                for p in (
                    math.prod(shape[:-1]), shape[-1], op.block.value.data,
                    "true" if op.signs is not None else "false", self.lanes,
                )
            )
            return f"    fpqc::hadamard<{params}>({self._f32(op.input)}, {signs}, {outs[0].expr});"
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

    def _qlinear(self, op: fpq.QLinearOp, out: _Value) -> str:
        x_shape, (o, k) = _shape(op.input_codes), _shape(op.weight_codes)
        rows = math.prod(x_shape[:-1])
        group = op.combine_group_size()
        fx, fw = op.x_quant.format, op.w_quant.format
        xs_row, xg = self._scale_layout(op.x_quant, k)
        ws_row, wg = self._scale_layout(op.w_quant, k)
        bias = self._f32(op.bias) if op.bias is not None else "0"
        table, unit = self.tables.product(fx, fw)
        params = ", ".join(
            str(p)
            for p in (
                rows, k, o, group, fw.bits, accumulator_bits(fx, fw, group),
                xs_row, xg, ws_row, wg, "true" if op.bias is not None else "false", self.lanes,
            )
        )
        return (
            f"    fpqc::qlinear<{params}>(\n"
            f"        {self.values[op.input_codes].codes()}, {self._f32(op.input_scales)},\n"
            f"        {self.values[op.weight_codes].codes()}, {self._f32(op.weight_scales)},\n"
            f"        {bias}, {table}, {unit}, {out.expr});"
        )

    def _dual_qlinear(self, op: fpq.DualQLinearOp, out: _Value) -> str:
        x_shape, (o, k) = _shape(op.neg_codes), _shape(op.weight_codes)
        rows = math.prod(x_shape[:-1])
        group = op.combine_group_size()
        fn, fp, fw = op.neg_quant.format, op.pos_quant.format, op.w_quant.format
        xs_row, xg = self._scale_layout(op.neg_quant, k)
        ws_row, wg = self._scale_layout(op.w_quant, k)
        bias = self._f32(op.bias) if op.bias is not None else "0"
        n_table, n_unit = self.tables.product(fn, fw)
        p_table, p_unit = self.tables.product(fp, fw)
        params = ", ".join(
            str(p)
            for p in (
                rows, k, o, group, fw.bits,
                accumulator_bits(fn, fw, group), accumulator_bits(fp, fw, group),
                xs_row, xg, ws_row, wg, "true" if op.bias is not None else "false", self.lanes,
            )
        )
        return (
            f"    fpqc::dual_qlinear<{params}>(\n"
            f"        {self.values[op.neg_codes].codes()}, {self.values[op.pos_codes].codes()},\n"
            f"        {self._f32(op.neg_scales)}, {self._f32(op.pos_scales)},\n"
            f"        {self.values[op.weight_codes].codes()}, {self._f32(op.weight_scales)},\n"
            f"        {bias}, {n_table}, {n_unit}, {p_table}, {p_unit}, {out.expr});"
        )


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def pack_weights(schedule: HostSchedule) -> tuple[bytes, dict]:
    """weights.bin contents and the weights.json manifest (store must be active)."""
    blob = bytearray()
    entries = []
    seen: set[str] = set()
    for buffer, op in schedule.constants:
        if buffer.weight in seen:
            continue
        seen.add(buffer.weight)
        array = np.asarray(resolve(op.value))
        if buffer.fmt is None:
            dtype = np.dtype(buffer.host_dtype or "float32").newbyteorder("<")
            data = np.ascontiguousarray(array, dtype=dtype).tobytes()
            packing = None
        else:
            data = pack_codes(array, buffer.fmt.bits).tobytes()
            packing = {
                "format": buffer.fmt.name,
                "bits": buffer.fmt.bits,
                "codes_per_word": 32 // buffer.fmt.bits,
                "word": "uint32 little-endian, code i of a word in bits [i*bits, (i+1)*bits)",
            }
        blob.extend(b"\0" * (-len(blob) % WEIGHT_ALIGNMENT))
        entries.append(
            {
                "name": buffer.weight,
                "offset": len(blob),
                "bytes": len(data),
                "dtype": buffer.dtype if packing is None else "u32",
                "shape": list(buffer.shape),
                "packing": packing,
            }
        )
        blob.extend(data)
    manifest = {"alignment": WEIGHT_ALIGNMENT, "total_bytes": len(blob), "entries": entries}
    return bytes(blob), manifest


# ---------------------------------------------------------------------------
# C simulation entry
# ---------------------------------------------------------------------------


def csim_main(schedule: HostSchedule, kernels: dict[str, KernelEmitter], manifest: dict) -> str:
    """csim_main.cpp: load weights and inputs, launch the kernels in order, write outputs."""
    offsets = {e["name"]: e for e in manifest["entries"]}
    lines = [
        "// csim_main.cpp -- generated by fpqc; do not edit.",
        "// C simulation of the host schedule: csim BUILD_DIR INPUT_DIR OUTPUT_DIR",
        "// Inputs and outputs are raw little-endian float32 files named after the ONNX tensors.",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <string.h>",
        "#include <string>",
        "#include <vector>",
        "",
        *(f'extern "C" void {name}({", ".join(k.params)});' for name, k in kernels.items()),
        "",
        *_IO_HELPERS,
        "",
        "int main(int argc, char** argv) {",
        "    if (argc != 4) {",
        '        fprintf(stderr, "usage: %s BUILD_DIR INPUT_DIR OUTPUT_DIR\\n", argv[0]);',
        "        return 2;",
        "    }",
        '    const std::string build = argv[1], in = argv[2], out = argv[3];',
        '    const std::string weights = build + "/weights.bin";',
    ]
    for buffer in schedule.buffers.values():
        ctype = "float" if buffer.fmt is None else "uint32_t"
        lines.append(f"    std::vector<{ctype}> {buffer.name}({max(buffer.words, 1)});")
        if buffer.kind == "weight":
            entry = offsets[buffer.weight]
            lines.append(
                f"    if (!read_file(weights, {buffer.name}.data(), {entry['bytes']}, {entry['offset']}, false)) return 1;"
            )
        elif buffer.kind == "input":
            lines.append(
                f'    if (!read_file(in + "/{buffer.file}", {buffer.name}.data(), {4 * buffer.words}, 0, true)) return 1;'
            )
    for step in schedule.steps:
        args = ", ".join(f"{name}.data()" for name in step.args + step.results)
        lines.append(f"    {step.name}({args});")
    for onnx_name, buffer in schedule.outputs:
        lines.append(
            f'    if (!write_file(out + "/{file_name(onnx_name)}.f32", {buffer.name}.data(), '
            f"{4 * buffer.words})) return 1;"
        )
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


_IO_HELPERS = [
    "// Read `bytes` bytes at `offset`; `whole`: the file must hold exactly that many.",
    "static bool read_file(const std::string& path, void* data, size_t bytes, size_t offset, bool whole) {",
    '    FILE* f = fopen(path.c_str(), "rb");',
    "    if (!f) { fprintf(stderr, \"error: cannot open %s\\n\", path.c_str()); return false; }",
    "    bool ok = fseek(f, (long)offset, SEEK_SET) == 0 && fread(data, 1, bytes, f) == bytes;",
    "    if (ok && whole) { char extra; ok = fread(&extra, 1, 1, f) == 0; }",
    "    fclose(f);",
    "    if (!ok) fprintf(stderr, \"error: %s does not hold %zu bytes\\n\", path.c_str(), bytes);",
    "    return ok;",
    "}",
    "",
    "static bool write_file(const std::string& path, const void* data, size_t bytes) {",
    '    FILE* f = fopen(path.c_str(), "wb");',
    "    if (!f) { fprintf(stderr, \"error: cannot write %s\\n\", path.c_str()); return false; }",
    "    bool ok = fwrite(data, 1, bytes, f) == bytes;",
    "    fclose(f);",
    "    return ok;",
    "}",
]


def kernel_driver(kernels: dict[str, KernelEmitter]) -> str:
    """csim_kernels.cpp: run any kernel of the build on buffers read from files.

    ``csim_kernels JOBS`` reads one launch per line of the file JOBS, fields
    separated by tabs: ``KERNEL  OUT_DIR  DUMP_DIR  ARG...``.  An ARG is a file
    holding exactly the port's bytes, or ``PATH@OFFSET`` (the port's bytes at a
    byte offset, e.g. in weights.bin).  Result port j is written to
    ``OUT_DIR/j.bin``.  DUMP_DIR (``-`` for none) becomes ``$FPQC_DUMP_DIR``
    for that launch (builds with ``-DFPQC_DUMP``).
    """
    lines = [
        "// csim_kernels.cpp -- generated by fpqc; do not edit.",
        "// Runs kernels of this build on buffers from files:  csim_kernels JOBS_FILE",
        "// One launch per line, tab-separated: KERNEL OUT_DIR DUMP_DIR ARG...",
        "// ARG: PATH (exactly the port's bytes) or PATH@OFFSET; result j goes to OUT_DIR/j.bin.",
        "// DUMP_DIR ('-' for none) is $FPQC_DUMP_DIR during the launch (with -DFPQC_DUMP).",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "#include <fstream>",
        "#include <string>",
        "#include <vector>",
        "",
        *(f'extern "C" void {name}({", ".join(k.params)});' for name, k in kernels.items()),
        "",
        *_IO_HELPERS,
        "",
        "static bool read_arg(const std::string& arg, void* data, size_t bytes) {",
        "    size_t at = arg.rfind('@');",
        "    if (at != std::string::npos && at + 1 < arg.size() &&",
        '        arg.find_first_not_of("0123456789", at + 1) == std::string::npos)',
        "        return read_file(arg.substr(0, at), data, bytes, (size_t)strtoull(arg.c_str() + at + 1, 0, 10), false);",
        "    return read_file(arg, data, bytes, 0, true);",
        "}",
        "",
    ]
    for name, k in kernels.items():
        ins = [p for p in k.ports if p.kind == "in"]
        outs = [p for p in k.ports if p.kind == "out"]
        lines += [
            f"static bool run_{name}(const std::vector<std::string>& a, const std::string& out) {{",
            f"    if (a.size() != {len(ins)}) {{",
            f'        fprintf(stderr, "error: {name} takes {len(ins)} arguments, got %zu\\n", a.size());',
            "        return false;",
            "    }",
        ]
        for i, p in enumerate(ins):
            ctype = "float" if p.fmt is None else "uint32_t"
            lines.append(f"    std::vector<{ctype}> p{i}({max(p.words, 1)});")
            lines.append(f"    if (!read_arg(a[{i}], p{i}.data(), {p.nbytes})) return false;")
        for j, p in enumerate(outs):
            ctype = "float" if p.fmt is None else "uint32_t"
            lines.append(f"    std::vector<{ctype}> r{j}({max(p.words, 1)});")
        call_args = [f"p{i}.data()" for i in range(len(ins))] + [f"r{j}.data()" for j in range(len(outs))]
        lines.append(f"    {name}({', '.join(call_args)});")
        for j, p in enumerate(outs):
            lines.append(f'    if (!write_file(out + "/{j}.bin", r{j}.data(), {p.nbytes})) return false;')
        lines += ["    return true;", "}", ""]
    lines += [
        "int main(int argc, char** argv) {",
        "    if (argc != 2) {",
        '        fprintf(stderr, "usage: %s JOBS_FILE\\n", argv[0]);',
        "        return 2;",
        "    }",
        "    std::ifstream jobs(argv[1]);",
        '    if (!jobs) { fprintf(stderr, "error: cannot open %s\\n", argv[1]); return 2; }',
        "    std::string line;",
        "    for (int number = 1; std::getline(jobs, line); ++number) {",
        "        if (line.empty()) continue;",
        "        std::vector<std::string> f;",
        "        size_t start = 0;",
        "        for (size_t tab; (tab = line.find('\\t', start)) != std::string::npos; start = tab + 1)",
        "            f.push_back(line.substr(start, tab - start));",
        "        f.push_back(line.substr(start));",
        "        if (f.size() < 3) { fprintf(stderr, \"error: job %d: expected KERNEL OUT_DIR DUMP_DIR ARG...\\n\", number); return 2; }",
        '        if (f[2] == "-") unsetenv("FPQC_DUMP_DIR"); else setenv("FPQC_DUMP_DIR", f[2].c_str(), 1);',
        "        std::vector<std::string> args(f.begin() + 3, f.end());",
        "        bool ok;",
    ]
    for i, name in enumerate(kernels):
        keyword = "if" if i == 0 else "else if"
        lines.append(f'        {keyword} (f[0] == "{name}") ok = run_{name}(args, f[1]);')
    lines += [
        "        else {" if kernels else "        {",
        '            fprintf(stderr, "error: job %d: no kernel %s in this build\\n", number, f[0].c_str());',
        "            return 2;",
        "        }",
        '        if (!ok) { fprintf(stderr, "error: job %d (%s) failed\\n", number, f[0].c_str()); return 1; }',
        "    }",
        "    return 0;",
        "}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Vitis build files
# ---------------------------------------------------------------------------


def vitis_files(kernels: list[str], target: Target) -> dict[str, str]:
    files = {
        "hls_config.cfg": "\n".join(
            [
                f"# v++ HLS options shared by every kernel of this build (target {target.name}).",
                f"part={target.part}",
                "",
                "[hls]",
                "flow_target=vitis",
                f"clock={target.clock_mhz:g}MHz",
                "syn.cflags=-std=gnu++14 -ffp-contract=off -I../kernels",
                "package.output.format=xo",
                "",
            ]
        ),
        "link.cfg": "\n".join(
            ["# v++ link: one compute unit per kernel.", "[connectivity]"]
            + [f"nk={k}:1:{k}_1" for k in kernels]
            + [""]
        ),
    }
    for k in kernels:
        files[f"{k}.cfg"] = "\n".join(
            [
                f"# v++ -c --mode hls options of {k}.",
                "[hls]",
                f"syn.file=../kernels/{k}.cpp",
                f"syn.top={k}",
                f"package.output.file={k}.xo",
                "",
            ]
        )
    xos = " ".join(f"{k}.xo" for k in kernels)
    files["build.sh"] = "\n".join(
        [
            "#!/usr/bin/env bash",
            "# Synthesize every kernel with Vitis HLS, then link them with the platform.",
            "# Needs Vitis (source <Vitis>/settings64.sh); PLATFORM overrides the target file's platform.",
            "set -euo pipefail",
            'cd "$(dirname "$0")"',
            f'PLATFORM="${{PLATFORM:-{target.platform}}}"',
            f"for kernel in {' '.join(kernels)}; do",
            '    v++ -c --mode hls --config hls_config.cfg --config "$kernel.cfg" --work_dir "$kernel"',
            "done",
            f'v++ -l -t hw --platform "$PLATFORM" --config link.cfg -o fpqc.xsa {xos}',
            "",
        ]
    )
    files["Makefile"] = "\n".join(
        [
            f"# Vitis build of the fpqc kernels for {target.name} ({target.part}).",
            f"PLATFORM ?= {target.platform}",
            f"KERNELS := {' '.join(kernels)}",
            "",
            "all: fpqc.xsa",
            "",
            "%.xo: %.cfg hls_config.cfg ../kernels/%.cpp",
            "\tv++ -c --mode hls --config hls_config.cfg --config $*.cfg --work_dir $*",
            "",
            "fpqc.xsa: $(KERNELS:=.xo) link.cfg",
            "\tv++ -l -t hw --platform $(PLATFORM) --config link.cfg -o $@ $(KERNELS:=.xo)",
            "",
            "clean:",
            "\trm -rf $(KERNELS) *.xo fpqc.xsa _x .Xil *.log",
            "",
            ".PHONY: all clean",
            "",
        ]
    )
    return files


# ---------------------------------------------------------------------------
# emit_build
# ---------------------------------------------------------------------------


@dataclass
class EmitResult:
    kernels: list[str]
    weight_bytes: int
    files: list[str]


def emit_build(module: ModuleOp, store: WeightStore, build_dir: Path, target: Target) -> EmitResult:
    """Write the HLS backend's files for hls-level ``module`` into ``build_dir``."""
    build_dir = Path(build_dir)
    main = main_function(module)
    schedule = host_schedule(main)
    kernels = {op.sym_name.data: op for op in module.ops if isinstance(op, hls.KernelOp)}

    launches: dict[str, list[hls.CallOp]] = {}
    for op in main.body.block.ops:
        if isinstance(op, hls.CallOp):
            launches.setdefault(op.callee.string_value(), []).append(op)

    tables = TableSet()
    emitters: dict[str, KernelEmitter] = {}
    for name, kernel in kernels.items():
        if len(launches.get(name, ())) == 1:
            # One launch: name the ports after the buffers it is launched with.
            hints = [schedule.buffers[v].name for v in launches[name][0].arguments]
        else:
            # Shared by several launches (or none): name them after their role in the body.
            hints = _role_names(kernel)
        emitters[name] = KernelEmitter(kernel, hints, tables)
    sources = {name: emitter.emit() for name, emitter in emitters.items()}

    with store.activate():
        blob, manifest = pack_weights(schedule)
    offsets = {e["name"]: e["offset"] for e in manifest["entries"]}
    for buffer, _ in schedule.constants:
        buffer.offset = offsets[buffer.weight]

    files: dict[str, str | bytes] = {}
    for name, source in sources.items():
        files[f"kernels/{name}.cpp"] = source
    files["kernels/fpqc_tables.h"] = tables.header()
    for header in LIBRARY_HEADERS:
        files[f"kernels/{header}"] = (INCLUDE_DIR / header).read_text()
    files["weights.bin"] = blob
    files["weights.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    described = [emitter.describe() for emitter in emitters.values()]
    files[SCHEDULE_FILE] = json.dumps(schedule.to_json(described), indent=2, sort_keys=True) + "\n"
    if schedule.csim_refusal() is None:
        files["csim/csim_main.cpp"] = csim_main(schedule, emitters, manifest)
    if emitters:
        files[KERNEL_DRIVER] = kernel_driver(emitters)
    for name, text in vitis_files(list(kernels), target).items():
        files[f"vitis/{name}"] = text

    for rel, content in files.items():
        path = build_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    (build_dir / "vitis" / "build.sh").chmod(0o755)
    return EmitResult(list(kernels), len(blob), sorted(files))
