"""The host schedule: ``@main`` of hls-level IR as buffers and ordered steps.

``host_schedule.json`` (``"format": "fpqc.host_schedule/3"``) is what a host
runtime follows::

    kernels   [{name, source, launches, ports: [{name, direction, shape, dtype, bytes, ...}]}]
    inputs    [{name (ONNX), buffer, file}]          outputs  [{name (ONNX), buffer, file}]
    buffers   [{name (the buffer id), kind: input|weight|intermediate|output, shape,
                dtype: f32|packed_codes|<numpy dtype>, bytes, [format, bits],
                [weight, offset: its entry and byte offset in weights.bin]}]
    steps     in order; each {index, kind: kernel|host, args, results} where args and
              results are [{buffer, shape, dtype, [format, bits], [port], [weight, offset]}];
              a kernel step adds {kernel, launch (0, 1, ... per kernel)},
              a host step adds {op (its IR name), attributes (printed IR attributes)} and, for an
              ONNX op with an optional operand left out, ``slots`` (the ONNX input index of each arg);
              an ``onnx.Constant``'s result names its data: ``weight`` and ``offset`` in
              weights.bin, or the buffer's ``values`` (row-major) when the IR holds them inline
    csim      "supported" when every step is a kernel launch (whole-model C simulation),
              else why not
    step_program  a VAR's generation: ``@prologue`` (once per batch) then one entry per scale,
              each {function, arguments, returns, buffers, steps} as above for ``@step_<k>``; a
              kernel step of a kernel with ``max_rows`` adds ``rows`` (the launch's token rows),
              a KV-cache offset is a ``scalar`` buffer with its ``value``; ``arguments`` and
              ``returns`` bind the function's buffers, in order, each {buffer} plus one of
              ``input`` (a model input's ONNX name), ``output`` (a model output's),
              ``prologue`` (the prologue's result N) or ``kv_cache`` (``k0``, ``v0``, ...)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import DenseResourceAttr, DictionaryAttr, Float32Type, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.traits import SymbolTable

from fpqc.backends.hls.buffer import Buffer
from fpqc.backends.hls.codes import code_format
from fpqc.backends.hls.identifiers import c_identifier, raw_file_name
from fpqc.backends.model_signature import input_names, output_names
from fpqc.dialects import fpq, hls, onnx
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.passes.step_program import KV_CACHE_ATTR, PROLOGUE_ATTR
from fpqc.weights import resolve

SCHEDULE_FILE = "host_schedule.json"
SCHEDULE_FORMAT = "fpqc.host_schedule/3"
MAIN_DRIVER = "csim/csim_main.cpp"


@dataclass
class Step:
    """One step of the schedule: a kernel launch or an op run on the host."""

    kind: str  # kernel | host
    name: str  # kernel symbol or op name
    args: list[str]
    results: list[str]
    op: Operation | None = None
    launch: int = 0  # kernels: how many launches of the same kernel came before
    rows: int | None = None  # kernels with max_rows: the launch's token rows
    attributes: dict[str, str] = field(default_factory=dict)  # host ops: printed IR attributes
    slots: list[int] | None = None  # ONNX host ops missing an optional operand: each arg's input index

    def to_json(self, index: int, buffers: dict[str, Buffer], ports: dict[str, list[str]]) -> dict:
        """This step's entry in host_schedule.json's ``steps``; ``ports``: port names by kernel."""
        port_names = ports.get(self.name) if self.kind == "kernel" else None
        n_args = len(self.args)

        def refs(names: list[str], port_names: list[str] | None) -> list[dict]:
            out = []
            for i, name in enumerate(names):
                ref = buffers[name].ref()
                if port_names is not None:
                    ref["port"] = port_names[i]
                out.append(ref)
            return out

        out = {
            "index": index,
            "kind": self.kind,
            "args": refs(self.args, port_names[:n_args] if port_names else None),
            "results": refs(self.results, port_names[n_args:] if port_names else None),
        }
        if self.kind == "kernel":
            out.update(kernel=self.name, launch=self.launch)
            if self.rows is not None:
                out["rows"] = self.rows
        else:
            out.update(op=self.name, attributes=self.attributes)
            if self.slots is not None:
                out["slots"] = self.slots
        return out


@dataclass
class HostSchedule:
    """@main as a list of buffers and ordered steps."""

    buffers: dict[SSAValue, Buffer] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    inputs: list[tuple[str, Buffer]] = field(default_factory=list)  # (ONNX name, buffer)
    outputs: list[tuple[str, Buffer]] = field(default_factory=list)  # (ONNX name, buffer)
    constants: list[tuple[Buffer, fpq.ConstantOp | onnx.ConstantOp]] = field(default_factory=list)
    arguments: list[tuple[Buffer, dict]] = field(default_factory=list)  # (buffer, its binding), in order
    returns: list[tuple[Buffer, dict]] = field(default_factory=list)  # (buffer, its binding), in order

    @property
    def host_ops(self) -> list[str]:
        return [s.name for s in self.steps if s.kind == "host"]

    def steps_json(self, kernels: list[dict]) -> dict:
        """``buffers`` and ``steps`` of this schedule (module docstring)."""
        by_name = {b.name: b for b in self.buffers.values()}
        ports = {k["name"]: [p["name"] for p in k["ports"]] for k in kernels}
        return {
            "buffers": [b.to_json() for b in self.buffers.values()],
            "steps": [s.to_json(i, by_name, ports) for i, s in enumerate(self.steps)],
        }

    def to_json(self, kernels: list[dict], step_program: list[tuple[str, HostSchedule]] = ()) -> dict:
        """The schedule as ``host_schedule.json`` (module docstring); ``kernels`` describe the sources,
        ``step_program`` holds the schedule of each step function."""
        every = [*self.steps, *(step for _, schedule in step_program for step in schedule.steps)]
        launches = {k["name"]: sum(s.name == k["name"] for s in every if s.kind == "kernel") for k in kernels}
        out = {
            "format": SCHEDULE_FORMAT,
            "kernels": [{**k, "launches": launches[k["name"]]} for k in kernels],
            "inputs": [{"name": n, "buffer": b.name, "file": b.file} for n, b in self.inputs],
            "outputs": [{"name": n, "buffer": b.name, "file": raw_file_name(n)} for n, b in self.outputs],
            **self.steps_json(kernels),
            "csim": self.csim_refusal() or "supported",
        }
        if step_program:
            out["step_program"] = [
                {"function": name, **schedule.bindings_json(), **schedule.steps_json(kernels)}
                for name, schedule in step_program
            ]
        return out

    def bindings_json(self) -> dict:
        """``arguments`` and ``returns`` of a step-program function (module docstring)."""
        return {
            "arguments": [{"buffer": b.name, **binding} for b, binding in self.arguments],
            "returns": [{"buffer": b.name, **binding} for b, binding in self.returns],
        }

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


def _launch_rows(call: hls.CallOp) -> int | None:
    kernel = SymbolTable.lookup_symbol(call, call.callee)
    assert isinstance(kernel, hls.KernelOp)
    return hls.call_rows(kernel, call) if kernel.max_rows is not None else None


def _binding(attrs: DictionaryAttr | None, name_key: str, onnx_name: str) -> dict:
    """How a step-program function's argument or result is bound (module docstring)."""
    data = attrs.data if attrs is not None else {}
    if PROLOGUE_ATTR in data:
        return {"prologue": data[PROLOGUE_ATTR].value.data}
    if KV_CACHE_ATTR in data:
        return {"kv_cache": data[KV_CACHE_ATTR].data}
    return {name_key: onnx_name}


def host_schedule(main: func.FuncOp) -> HostSchedule:
    """Buffers and steps of ``@main`` (or of a step function), in program order."""
    schedule = HostSchedule()
    taken: set[str] = set()

    def new_buffer(value: SSAValue, hint: str, kind: str) -> Buffer:
        t = value.type
        if not isinstance(t, TensorType):  # a scalar: a KV-cache offset
            buffer = Buffer(c_identifier(hint, taken), "scalar", (), None, host_dtype="int64")
            schedule.buffers[value] = buffer
            return buffer
        element = t.get_element_type()
        if isinstance(element, Float32Type | fpq.FloatFormatType | fpq.IntFormatType):
            fmt, host_dtype = code_format(t), None
        else:  # only host ops can touch it; the kernels check their own types
            fmt, host_dtype = None, element_type_to_dtype(element).name
        buffer = Buffer(c_identifier(hint, taken), kind, tuple(t.get_shape()), fmt, host_dtype=host_dtype)
        schedule.buffers[value] = buffer
        return buffer

    launches: dict[str, int] = {}

    arg_attrs = main.arg_attrs.data if main.arg_attrs is not None else [None] * len(main.args)
    for arg, onnx_name, attrs in zip(main.args, input_names(main), arg_attrs):
        buffer = new_buffer(arg, onnx_name, "input")
        buffer.file = raw_file_name(onnx_name)
        schedule.inputs.append((onnx_name, buffer))
        schedule.arguments.append((buffer, _binding(attrs, "input", onnx_name)))

    for op in main.body.block.ops:
        if isinstance(op, arith.ConstantOp):
            buffer = new_buffer(op.result, op.result.name_hint or "offset", "scalar")
            buffer.value = op.value.value.data
        elif isinstance(op, fpq.ConstantOp):
            key = op.value.resource_handle.data if isinstance(op.value, DenseResourceAttr) else None
            buffer = new_buffer(op.result, key or op.result.name_hint or "const", "weight")
            buffer.weight = key or buffer.name
            schedule.constants.append((buffer, op))
        elif isinstance(op, func.ReturnOp):
            res_attrs = main.res_attrs.data if main.res_attrs is not None else [None] * len(op.arguments)
            for value, onnx_name, attrs in zip(op.arguments, output_names(main), res_attrs):
                buffer = schedule.buffers[value]
                if buffer.kind == "intermediate":
                    buffer.kind = "output"
                schedule.outputs.append((onnx_name, buffer))
                schedule.returns.append((buffer, _binding(attrs, "output", onnx_name)))
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
                step.rows = _launch_rows(op)
            else:
                step.attributes = {
                    k: str(v) for k, v in sorted({**op.properties, **op.attributes}.items())
                }
                if isinstance(op, onnx.OnnxOp):
                    positional = op.positional_operands()
                    if None in positional:
                        step.slots = [i for i, v in enumerate(positional) if v is not None]
                if isinstance(op, onnx.ConstantOp):
                    _constant_data(schedule, schedule.buffers[op.result], op)
            schedule.steps.append(step)
    return schedule


def _constant_data(schedule: HostSchedule, buffer: Buffer, op: onnx.ConstantOp) -> None:
    """Where the host finds an ``onnx.Constant``'s value: weights.bin, or inline ``values``."""
    if isinstance(op.value, DenseResourceAttr):
        buffer.weight = op.value.resource_handle.data
        schedule.constants.append((buffer, op))
    else:
        buffer.values = np.asarray(resolve(op.value)).reshape(-1).tolist()
