"""The import proper: the ONNX graph walked in order into an ``onnx``-dialect function.

Every op keeps its ONNX node's name as its location (``loc("/blocks.0/attn/Softmax")``,
printed with ``--print-debuginfo``), so that errors after raising can name the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm
from xdsl.builder import ImplicitBuilder
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    NameLoc,
    NoneAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

from fpqc.background_checks import BackgroundChecks
from fpqc.dialects.onnx import (
    ONNX_OPS,
    ConstantOp,
    InferenceError,
    OnnxOp,
    OperandKind,
    onnx_element_type,
)
from fpqc.dialects.tensor_types import tensor_type_of
from fpqc.errors import FpqcError
from fpqc.frontend.onnx_import import onnx_messages as onnx
from fpqc.frontend.onnx_import.class_dropout import REMOVED_ATTR, class_dropout_aliases
from fpqc.frontend.onnx_import.folding import fold
from fpqc.frontend.onnx_import.liveness import live_nodes_in_order
from fpqc.frontend.onnx_import.loading import (
    TensorReader,
    check_supported,
    default_opset,
    describe_node,
    first_line,
    load_model,
)
from fpqc.frontend.onnx_import.nodes import (
    constant_node_value,
    node_properties,
    old_softmax_axis,
)
from fpqc.weights import INLINE_LIMIT, Entry, LazyWeight, WeightStore, dense_attr, read_entry


def import_onnx(
    path: str | Path,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    streaming: bool = False,
) -> tuple[ModuleOp, WeightStore]:
    """The ``onnx``-dialect module of the model at ``path`` and its weight store.

    ``input_shapes`` gives static shapes for inputs with dynamic dimensions;
    ``streaming`` makes the store a streaming one (:class:`~fpqc.weights.WeightStore`).
    Raises :class:`FpqcError` naming the file, node, op or input at fault.
    """
    path = Path(path)
    model = load_model(path)
    opset = default_opset(model)
    check_supported(path, model.graph, opset)
    return _Importer(path, model, opset, input_shapes or {}, WeightStore(streaming)).run()


@dataclass
class _Constant:
    """A value known at import time; ``hint`` is its ONNX name (the weight-store key).

    ``value`` is an array, or a lazy weight (external data, mapped when read).
    """

    value: Entry
    hint: str
    ssa: SSAValue | None = None

    @property
    def array(self) -> np.ndarray:
        return read_entry(self.value)


Value = SSAValue | _Constant


@dataclass
class _Importer:
    """The state of one import: the ONNX value names bound so far, and the weight store."""

    path: Path
    model: onnx.ModelProto
    opset: int
    input_shapes: Mapping[str, tuple[int, ...]]
    store: WeightStore = field(default_factory=WeightStore)
    # ONNX value name -> an SSA value or a constant (materialized on first use)
    values: dict[str, Value] = field(default_factory=dict)
    # initializers not yet read (read on first use, see TensorReader)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    # Where outputs of the class dropout -> the label they stand for
    aliases: dict[str, str] = field(default_factory=dict)
    # names the live nodes and the graph outputs read
    used: set[str] = field(default_factory=set)
    reader: TensorReader = field(init=False)
    # the NaN checks of external data, read beside the import (see _refuse_nan)
    checks: BackgroundChecks = field(init=False)

    def __post_init__(self) -> None:
        self.reader = TensorReader(self.path)

    def run(self) -> tuple[ModuleOp, WeightStore]:
        """The module with the graph as ``@main``, and the weight store of its large constants."""
        with BackgroundChecks() as self.checks:
            return self._import_graph()

    def _import_graph(self) -> tuple[ModuleOp, WeightStore]:
        graph = self.model.graph
        self.initializers = {init.name: init for init in graph.initializer}
        inputs = [i for i in graph.input if i.name not in self.initializers]
        self._check_input_shape_names(inputs)
        block = Block(arg_types=[self._input_type(i) for i in inputs])
        for index, (value_info, arg) in enumerate(zip(inputs, block.args, strict=True)):
            arg.name_hint = f"arg{index}"
            self.values[value_info.name] = arg
        self.aliases = class_dropout_aliases(graph)
        try:
            order, self.used = live_nodes_in_order(graph, self._resolve)
        except ValueError as e:
            raise self._error(str(e)) from None

        with ImplicitBuilder(block):
            for index in tqdm(order, desc="import", unit="node", disable=None, leave=False):
                self._import_node(graph.node[index], index)
            results = [self._use(self._lookup(o.name, "graph output")) for o in graph.output]
            for output, result in zip(graph.output, results, strict=True):
                self._check_output_type(output, result.type)
            ReturnOp(*results)

        main = FuncOp(
            "main",
            ([a.type for a in block.args], [r.type for r in results]),
            Region(block),
            arg_attrs=ArrayAttr([_name_attr(i.name) for i in inputs]),
            res_attrs=ArrayAttr([_name_attr(o.name) for o in graph.output]),
        )
        producer = " ".join(p for p in (self.model.producer_name, self.model.producer_version) if p)
        module = ModuleOp([main])
        module.attributes["onnx.opset"] = IntegerAttr(self.opset, i64)
        module.attributes["onnx.producer"] = StringAttr(producer)
        if self.aliases:
            module.attributes[REMOVED_ATTR] = UnitAttr()
        return module, self.store

    # -- errors -------------------------------------------------------------

    def _error(self, message: str) -> FpqcError:
        return FpqcError(f"{self.path}: {message}")

    # -- inputs and outputs -------------------------------------------------

    def _check_input_shape_names(self, inputs: list[onnx.ValueInfoProto]) -> None:
        names = [i.name for i in inputs]
        for name in self.input_shapes:
            if name not in names:
                raise self._error(
                    f"--input-shape names '{name}', which is not an input of the model "
                    f"(inputs: {', '.join(names)})"
                )

    def _input_type(self, value_info: onnx.ValueInfoProto) -> TensorType:
        name = value_info.name
        if not value_info.type.HasField("tensor_type"):
            raise self._error(f"input '{name}' is not a tensor")
        tensor = value_info.type.tensor_type
        try:
            element = onnx_element_type(tensor.elem_type)
        except InferenceError as e:
            raise self._error(f"input '{name}': {e}") from None
        dims = list(tensor.shape.dim)
        if name in self.input_shapes:
            shape = tuple(self.input_shapes[name])
            if any(d < 1 for d in shape):
                raise self._error(f"--input-shape {name}: every dimension must be at least 1, got {list(shape)}")
            if tensor.HasField("shape") and len(shape) != len(dims):
                raise self._error(f"--input-shape {name}: the input has rank {len(dims)}, not {len(shape)}")
            for i, (given, dim) in enumerate(zip(shape, dims)):
                if dim.HasField("dim_value") and dim.dim_value != given:
                    raise self._error(
                        f"--input-shape {name}: dimension {i} of input '{name}' is {dim.dim_value}, not {given}"
                    )
            return TensorType(element, shape)
        if not tensor.HasField("shape"):
            raise self._error(f"input '{name}' has no shape; pass --input-shape {name}=DxD...")
        for i, dim in enumerate(dims):
            if not dim.HasField("dim_value"):
                label = f" ('{dim.dim_param}')" if dim.dim_param else ""
                example = "x".join(str(d.dim_value) if d.HasField("dim_value") else "D" for d in dims)
                raise self._error(
                    f"input '{name}' has dynamic dimension {i}{label}; "
                    f"give its shape with --input-shape {name}={example}"
                )
        if any(d.dim_value < 1 for d in dims):
            raise self._error(f"input '{name}' has a dimension of size {min(d.dim_value for d in dims)}; "
                              "fpqc compiles tensors of at least one element")
        return TensorType(element, [d.dim_value for d in dims])

    def _check_output_type(self, output: onnx.ValueInfoProto, actual: Attribute) -> None:
        assert isinstance(actual, TensorType)
        tensor = output.type.tensor_type
        if not tensor.HasField("shape"):
            return
        declared = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        shape = actual.get_shape()
        if len(declared) != len(shape) or any(d is not None and d != s for d, s in zip(declared, shape)):
            shown = ["?" if d is None else d for d in declared]
            raise self._error(
                f"output '{output.name}' is declared with shape {shown} but computes to {list(shape)}"
            )

    # -- values -------------------------------------------------------------

    def _resolve(self, name: str) -> str:
        """``name`` after the class-dropout fold (the label for a folded Where's output)."""
        while name in self.aliases:
            name = self.aliases[name]
        return name

    def _lookup(self, name: str, user: str) -> Value:
        name = self._resolve(name)
        if name not in self.values and name in self.initializers:
            value = self.reader.entry(self.initializers.pop(name))
            self._refuse_nan(value, f"initializer '{name}'", user)
            self.values[name] = _Constant(value, name)
        try:
            return self.values[name]
        except KeyError:
            raise self._error(f"{user} uses value '{name}', which no node, input or initializer defines") from None

    def _use(self, value: Value) -> SSAValue:
        """The SSA value of ``value``, creating an ``onnx.Constant`` on a constant's first use."""
        if isinstance(value, _Constant):
            if value.ssa is None:
                entry = value.value
                if entry.size <= INLINE_LIMIT:
                    attr = dense_attr(np.asarray(read_entry(entry), order="C"))
                else:
                    attr = self.store.add(value.hint, entry if isinstance(entry, LazyWeight) else np.asarray(entry, order="C"))
                value.ssa = ConstantOp(attr).result
            return value.ssa
        return value

    def _refuse_nan(self, entry: Entry, what: str, user: str) -> None:
        """:meth:`_check_no_nan` of an initializer: now if it is in memory, by the background checks if it is
        external data (reading it is most of the time an import of a large model would spend on checks)."""
        if isinstance(entry, LazyWeight):
            self.checks.submit(lambda: self._check_no_nan(entry.compute(), what, user))
        else:
            self._check_no_nan(entry, what, user)

    def _check_no_nan(self, array: np.ndarray, what: str, user: str) -> None:
        """A constant with a NaN would make every output NaN: refuse it (the max of an array with a NaN is NaN)."""
        if np.issubdtype(array.dtype, np.floating) and array.size and np.isnan(np.max(array)):
            count = int(np.isnan(array).sum())
            raise self._error(
                f"{user}: {what} holds {count} NaN value(s) of {array.size}; every result would be NaN. "
                "Fix the weights before exporting"
            )

    # -- nodes --------------------------------------------------------------

    def _import_node(self, node: onnx.NodeProto, index: int) -> None:
        where = describe_node(node, index)
        outputs = list(node.output)
        if node.op_type == "Constant":
            try:
                self.values[outputs[0]] = _Constant(constant_node_value(node), outputs[0])
            except ValueError as e:
                raise self._error(f"{where}: {e}") from None
            self._check_no_nan(self.values[outputs[0]].array, "its value", where)
            return
        if node.op_type == "RandomUniformLike":
            raise self._error(
                f"{where}: random numbers are nondeterministic and cannot be compiled; fpqc removes them only "
                "as VAR's training-time class dropout, Where(Less(RandomUniformLike(...), p), null_class, label). "
                "Export the model in inference mode"
            )
        cls = ONNX_OPS[node.op_type]
        try:
            properties, attribute_inputs = node_properties(node, cls)
        except ValueError as e:
            raise self._error(f"{where}: {e}") from None
        operands = self._operands(node, cls, where, attribute_inputs)
        if node.op_type == "Identity":
            self.values[outputs[0]] = operands[0]
            return
        if node.op_type == "Split" and len(operands) < 2 and "num_outputs" not in properties:
            properties["num_outputs"] = IntegerAttr(len(outputs), i64)
        operand_types = [
            None if o is None else o.type if isinstance(o, SSAValue) else tensor_type_of(o.value) for o in operands
        ]
        if node.op_type == "Softmax" and self.opset < 13:
            try:
                properties["axis"] = old_softmax_axis(node, operand_types[0], self.opset)
            except ValueError as e:
                raise self._error(f"{where}: {e}") from None
        constants = [o.array if isinstance(o, _Constant) else None for o in operands]
        attrs = cls.attribute_values(properties)
        try:
            result_types = cls.infer_types(operand_types, attrs, constants)
            if result_types is None:
                raise InferenceError("the result shape depends on an operand that is not a constant")
        except InferenceError as e:
            raise self._error(f"{where}: {e}") from None
        self._check_outputs(node, outputs, len(result_types), where)
        arrays = fold(node.op_type, operand_types, constants, attrs, result_types)
        if arrays is not None:
            for name, array in zip(outputs, arrays):
                if name:
                    self.values[name] = _Constant(array, name)
            return
        op = cls.make([None if o is None else self._use(o) for o in operands], properties, values=constants)
        if node.name:
            op.location = NameLoc(StringAttr(node.name), NoneAttr())
        try:
            op.verify()
        except VerifyException as e:
            raise self._error(f"{where}: {first_line(e)}") from None
        for name, result in zip(outputs, op.results):
            if name:
                self.values[name] = result

    def _check_outputs(self, node: onnx.NodeProto, outputs: list[str], count: int, where: str) -> None:
        """The node has ``count`` outputs, or (LayerNormalization) more that nothing reads."""
        if node.op_type == "LayerNormalization":
            for name, label in zip(outputs[1:], ("Mean", "InvStdDev")):
                if name and name in self.used:
                    raise self._error(f"{where}: its {label} output '{name}' is used; only the Y output is supported")
            return
        if len(outputs) != count:
            raise self._error(f"{where}: the node has {len(outputs)} outputs, its inputs give {count}")

    def _operands(
        self, node: onnx.NodeProto, cls: type[OnnxOp], where: str, attribute_inputs: Mapping[str, np.ndarray]
    ) -> list[Value | None]:
        """The node's inputs, positional (None for an absent optional input before a present one)."""
        names = list(node.input)
        while names and not names[-1]:
            names.pop()
        operands: list[Value | None] = [self._lookup(name, where) if name else None for name in names]
        definitions = cls.operand_kinds()
        for position, (name, _) in enumerate(definitions):
            if name in attribute_inputs:
                operands += [None] * (position + 1 - len(operands))
                operands[position] = _Constant(attribute_inputs[name], f"{node.name or node.op_type}.{name}")
        variadic = any(kind is OperandKind.VARIADIC for _, kind in definitions)
        required = sum(kind is OperandKind.REQUIRED for _, kind in definitions)
        if variadic:
            if len(operands) < 1 or None in operands:
                raise self._error(f"{where}: expected at least one input, all present")
            return operands
        if not required <= len(operands) <= len(definitions):
            raise self._error(f"{where}: expected {required} to {len(definitions)} inputs, got {len(operands)}")
        for (name, kind), operand in zip(definitions, operands):
            if operand is None and kind is OperandKind.REQUIRED:
                raise self._error(f"{where}: the required input '{name}' is empty")
        return operands


def _name_attr(name: str) -> DictionaryAttr:
    return DictionaryAttr({"onnx.name": StringAttr(name)})

