"""Import an ONNX model into the ``onnx`` dialect.

``import_onnx("mlp.onnx")`` gives a module and the weight store behind its
``dense_resource`` references, e.g. for ``Linear(64, 128) → ReLU`` at batch 8::

    builtin.module attributes {onnx.opset = 17 : i64, onnx.producer = "pytorch 2.13.0"} {
      func.func @main(%arg0: tensor<8x64xf32> {onnx.name = "x"}) -> (tensor<8x128xf32> {onnx.name = "y"}) {
        %0 = onnx.Constant dense_resource<fc.weight> : tensor<128x64xf32>
        %1 = onnx.Constant dense_resource<fc.bias> : tensor<128xf32>
        %2 = onnx.Gemm %arg0, %0, %1 {transB = 1 : i64} : (...) -> tensor<8x128xf32>
        %3 = onnx.Relu %2 : (tensor<8x128xf32>) -> tensor<8x128xf32>
        func.return %3 : tensor<8x128xf32>
      }
    }

The steps, all fpqc's own code (onnxruntime is only a test oracle):

1. load the protobuf, with external data;
2. check that every node is an op of :data:`fpqc.dialects.onnx.ONNX_OPS`, before
   building anything;
3. dead-code elimination: keep the nodes the graph outputs are reachable from
   (a networkx reachability query), in topological order;
4. shape inference with each op's ``infer_type``, from the input shapes (or the
   ``input_shapes`` given for dynamic dims);
5. constant folding: a node whose inputs are all constants and whose result is
   small (at most :data:`FOLD_LIMIT` elements) or integer -- shape arithmetic --
   is evaluated with the interpreter's numpy implementation and becomes a
   constant.

Initializers and constants become ``onnx.Constant`` ops, created just before
their first use: arrays of up to :data:`INLINE_LIMIT` elements inline, larger
ones in the weight store under a key derived from the ONNX name.  The same
file always gives byte-identical IR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.builder import ImplicitBuilder
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.irdl import VerificationContext, OptionalDef
from xdsl.utils.exceptions import VerifyException

from fpqc.backends.interp.onnx_ops import evaluate
from fpqc.dialects.onnx import ONNX_OPS, ConstantOp, InferenceError, OnnxOp, onnx_element_type
from fpqc.errors import FpqcError
from fpqc.ir_types import element_type_to_dtype, tensor_type_of
from fpqc.weights import WeightStore, dense_attr

INLINE_LIMIT = 16
"""Constants with at most this many elements are inline ``dense<...>`` in the IR."""

FOLD_LIMIT = 64
"""Float results of all-constant nodes with at most this many elements are folded."""

_DEFAULT_DOMAINS = ("", "ai.onnx")


def import_onnx(
    path: str | Path,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> tuple[ModuleOp, WeightStore]:
    """The ``onnx``-dialect module of the model at ``path`` and its weight store.

    ``input_shapes`` gives static shapes for inputs with dynamic dimensions.
    Raises :class:`FpqcError` naming the file, node, op or input at fault.
    """
    path = Path(path)
    model = _load(path)
    opset = _default_opset(model)
    _check_supported(path, model.graph, opset)
    return _Importer(path, model, input_shapes or {}).run(opset)


# ---------------------------------------------------------------------------
# Loading and checking
# ---------------------------------------------------------------------------


def _load(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise FpqcError(f"{path}: no such file")
    if not path.is_file():
        raise FpqcError(f"{path}: not an ONNX model (not a file)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises several kinds of decode errors
        raise FpqcError(f"{path}: not an ONNX model ({_first_line(e)})") from None
    if model.ir_version == 0 or not model.HasField("graph"):
        raise FpqcError(f"{path}: not an ONNX model (no IR version or graph)")
    try:
        onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
    except (OSError, onnx.checker.ValidationError) as e:
        raise FpqcError(f"{path}: cannot read the model's external data ({_first_line(e)})") from None
    return model


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _default_opset(model: onnx.ModelProto) -> int:
    for opset in model.opset_import:
        if opset.domain in _DEFAULT_DOMAINS:
            return opset.version
    return 1


def _describe(node: onnx.NodeProto, index: int) -> str:
    name = node.name or f"#{index}"
    domain = f"{node.domain}." if node.domain not in _DEFAULT_DOMAINS else ""
    return f"node '{name}' ({domain}{node.op_type})"


def _check_supported(path: Path, graph: onnx.GraphProto, opset: int) -> None:
    for index, node in enumerate(graph.node):
        if node.domain not in _DEFAULT_DOMAINS or node.op_type not in ONNX_OPS:
            raise FpqcError(
                f"{path}: {_describe(node, index)}: op type '{node.op_type}' of opset {opset} "
                f"is not supported; supported ops: {', '.join(sorted(ONNX_OPS))}"
            )


# ---------------------------------------------------------------------------
# The import proper
# ---------------------------------------------------------------------------


def _attribute(attr: onnx.AttributeProto) -> Attribute:
    """The property for a non-tensor ONNX attribute."""
    kind = attr.type
    if kind == onnx.AttributeProto.INT:
        return IntegerAttr(attr.i, i64)
    if kind == onnx.AttributeProto.FLOAT:
        return FloatAttr(attr.f, Float32Type())
    if kind == onnx.AttributeProto.STRING:
        return StringAttr(attr.s.decode())
    if kind == onnx.AttributeProto.INTS:
        return ArrayAttr([IntegerAttr(v, i64) for v in attr.ints])
    raise ValueError(f"attributes of type {onnx.AttributeProto.AttributeType.Name(kind)} are not supported")


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    """The tensor an ONNX ``Constant`` node holds, whichever attribute carries it."""
    if len(node.attribute) != 1:
        raise ValueError("a Constant node needs exactly one value attribute")
    attr = node.attribute[0]
    value = onnx.helper.get_attribute_value(attr)
    if attr.name == "value":
        return numpy_helper.to_array(value)
    if attr.name in ("value_float", "value_floats"):
        return np.array(value, dtype=np.float32)
    if attr.name in ("value_int", "value_ints"):
        return np.array(value, dtype=np.int64)
    raise ValueError(f"Constant attribute '{attr.name}' is not supported")


@dataclass
class _Constant:
    """A value known at import time; ``hint`` is its ONNX name (the weight-store key)."""

    array: np.ndarray
    hint: str
    ssa: SSAValue | None = None


@dataclass
class _Importer:
    path: Path
    model: onnx.ModelProto
    input_shapes: Mapping[str, tuple[int, ...]]
    store: WeightStore = field(default_factory=WeightStore)
    # ONNX value name -> an SSA value or a constant (materialized on first use)
    values: dict[str, SSAValue | _Constant] = field(default_factory=dict)

    def run(self, opset: int) -> tuple[ModuleOp, WeightStore]:
        graph = self.model.graph
        initializers = {init.name for init in graph.initializer}
        inputs = [i for i in graph.input if i.name not in initializers]
        self._check_input_shape_names(inputs)
        block = Block(arg_types=[self._input_type(i) for i in inputs])
        for index, (value_info, arg) in enumerate(zip(inputs, block.args, strict=True)):
            arg.name_hint = f"arg{index}"
            self.values[value_info.name] = arg
        for init in graph.initializer:
            self.values[init.name] = _Constant(numpy_helper.to_array(init), init.name)

        with self.store.activate(), ImplicitBuilder(block):
            for index in self._live_nodes_in_order():
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
        module.attributes["onnx.opset"] = IntegerAttr(opset, i64)
        module.attributes["onnx.producer"] = StringAttr(producer)
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

    # -- graph order --------------------------------------------------------

    def _live_nodes_in_order(self) -> list[int]:
        """Indices of the nodes the outputs depend on, in a deterministic topological order."""
        graph = self.model.graph
        producers: dict[str, int] = {}
        dataflow = nx.DiGraph()
        for index, node in enumerate(graph.node):
            dataflow.add_node(index)
            for name in node.output:
                if name:
                    producers[name] = index
        for index, node in enumerate(graph.node):
            for name in node.input:
                if name in producers:
                    dataflow.add_edge(producers[name], index)
        live: set[int] = set()
        for output in graph.output:
            if output.name in producers:
                live |= nx.ancestors(dataflow, producers[output.name]) | {producers[output.name]}
        try:
            return list(nx.lexicographical_topological_sort(dataflow.subgraph(live)))
        except nx.NetworkXUnfeasible:
            raise self._error("the graph has a cycle") from None

    # -- values -------------------------------------------------------------

    def _lookup(self, name: str, user: str) -> SSAValue | _Constant:
        try:
            return self.values[name]
        except KeyError:
            raise self._error(f"{user} uses value '{name}', which no node, input or initializer defines") from None

    def _use(self, value: SSAValue | _Constant) -> SSAValue:
        """The SSA value of ``value``, creating an ``onnx.Constant`` on a constant's first use."""
        if isinstance(value, _Constant):
            if value.ssa is None:
                array = np.ascontiguousarray(value.array)
                attr = dense_attr(array) if array.size <= INLINE_LIMIT else self.store.add(value.hint, array)
                value.ssa = ConstantOp(attr).result
            return value.ssa
        return value

    # -- nodes --------------------------------------------------------------

    def _import_node(self, node: onnx.NodeProto, index: int) -> None:
        where = _describe(node, index)
        if len(node.output) != 1:
            raise self._error(f"{where}: expected one output, got {len(node.output)}")
        output = node.output[0]
        if node.op_type == "Constant":
            try:
                self.values[output] = _Constant(_constant_node_value(node), output)
            except ValueError as e:
                raise self._error(f"{where}: {e}") from None
            return
        cls = ONNX_OPS[node.op_type]
        operands = self._operands(node, cls, where)
        properties = self._properties(node, cls, where)
        operand_types = [o.type if isinstance(o, SSAValue) else tensor_type_of(o.array) for o in operands]
        constants = [o.array if isinstance(o, _Constant) else None for o in operands]
        attrs = cls.attribute_values(properties)
        try:
            result_type = cls.infer_type(operand_types, attrs, constants)
            if result_type is None:
                raise InferenceError("the result shape depends on an operand that is not a constant")
        except InferenceError as e:
            raise self._error(f"{where}: {e}") from None
        if all(c is not None for c in constants) and self._folds(result_type):
            array = evaluate(node.op_type, constants, attrs)
            dtype = element_type_to_dtype(result_type.get_element_type())
            self.values[output] = _Constant(array.astype(dtype, copy=False), output)
            return
        op = cls.make([self._use(o) for o in operands], properties)
        try:
            op.verify()
        except VerifyException as e:
            raise self._error(f"{where}: {_first_line(e)}") from None
        self.values[output] = op.results[0]

    @staticmethod
    def _folds(result_type: TensorType) -> bool:
        """Whether an all-constant node with this result is evaluated at import time."""
        if result_type.element_count() <= FOLD_LIMIT:
            return True
        return bool(np.issubdtype(element_type_to_dtype(result_type.get_element_type()), np.integer))

    def _operands(self, node: onnx.NodeProto, cls: type[OnnxOp], where: str) -> list[SSAValue | _Constant]:
        names = list(node.input)
        while names and not names[-1]:
            names.pop()
        definitions = list(cls.get_irdl_definition().operands)
        required = sum(not isinstance(d, OptionalDef) for _, d in definitions)
        if not required <= len(names) <= len(definitions) or "" in names:
            raise self._error(f"{where}: expected {required} to {len(definitions)} inputs, got {len(names)}")
        return [self._lookup(name, where) for name in names]

    def _properties(self, node: onnx.NodeProto, cls: type[OnnxOp], where: str) -> dict[str, Attribute]:
        definitions = cls.get_irdl_definition().properties
        properties: dict[str, Attribute] = {}
        for attr in node.attribute:
            if attr.name not in definitions:
                raise self._error(f"{where}: attribute '{attr.name}' is not supported")
            try:
                value = _attribute(attr)
                definitions[attr.name].constr.verify(value, VerificationContext())
            except (ValueError, VerifyException) as e:
                raise self._error(f"{where}: attribute '{attr.name}': {_first_line(e)}") from None
            properties[attr.name] = value
        for name, definition in definitions.items():
            if name not in properties and definition.default_value is None and not isinstance(definition, OptionalDef):
                raise self._error(f"{where}: required attribute '{name}' is missing")
        return properties


def _name_attr(name: str) -> DictionaryAttr:
    return DictionaryAttr({"onnx.name": StringAttr(name)})

