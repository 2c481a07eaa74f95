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

1. load the protobuf without its external data; initializers are read lazily,
   on first use, as read-only views: ``np.memmap`` of the external-data file
   (its ``location``, ``offset`` and ``length``, relative to the model's
   folder) or ``np.frombuffer`` of the in-file ``raw_data``.  The weight store
   keeps these views, so importing never copies the weights;
2. check that every node is an op of :data:`fpqc.dialects.onnx.ONNX_OPS`, before
   building anything;
3. fold VAR's training-time class dropout (see :func:`class_dropout_aliases`);
4. dead-code elimination: keep the nodes the graph outputs are reachable from
   (a networkx reachability query), in topological order;
5. shape inference with each op's ``infer_types``, from the input shapes (or the
   ``input_shapes`` given for dynamic dims);
6. constant folding: ``Shape`` becomes the constant of its operand's static
   shape, and a node whose inputs are all constants and whose results are
   small (at most :data:`FOLD_LIMIT` elements) or not float -- shape
   arithmetic such as ``Shape → Gather → Unsqueeze → Concat → Reshape`` -- is
   evaluated with the interpreter's numpy implementation and becomes a
   constant.  ``Identity`` nodes are dropped (their output is their input),
   and so are a ``Cast`` to the operand's own type and an ``Expand`` that
   does not change the shape.
   After import every tensor has a static shape.

Older-opset spellings are normalised: an ``axes`` or ``split`` attribute
(opset < 13/18) becomes the constant input of the same name, a ``Split``
without sizes gets ``num_outputs`` = its output count, and a ``Softmax`` of
opset < 13 is accepted over the last axis only (where the old and new
semantics agree).

Initializers and constants become ``onnx.Constant`` ops, created just before
their first use: arrays of up to :data:`INLINE_LIMIT` elements inline, larger
ones in the weight store under a key derived from the ONNX name.  The same
file always gives byte-identical IR.  Each node costs O(1) work beyond its own
operands and results, so importing scales linearly with the node count.
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
from xdsl.irdl import OptionalDef, OptOperandDef, VarOperandDef, VerificationContext
from xdsl.utils.exceptions import VerifyException

from fpqc.backends.interp.onnx_ops import evaluate
from fpqc.dialects.onnx import ONNX_OPS, ConstantOp, InferenceError, OnnxOp, normalize_axis, onnx_element_type, shape_range
from fpqc.errors import FpqcError
from fpqc.dialects.tensor_types import element_type_to_dtype, tensor_type_of
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
    return _Importer(path, model, opset, input_shapes or {}).run()


# ---------------------------------------------------------------------------
# Loading and checking
# ---------------------------------------------------------------------------


def _load(path: Path) -> onnx.ModelProto:
    """The model's protobuf; external data stays on disk (see :class:`_TensorReader`)."""
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
    return model


class _TensorReader:
    """Initializer arrays as read-only views, never copies of the weights.

    External data is memory-mapped (one map per data file, shared by all its
    tensors); in-file ``raw_data`` is wrapped with ``np.frombuffer``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.maps: dict[Path, np.ndarray] = {}

    def array(self, tensor: onnx.TensorProto) -> np.ndarray:
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).newbyteorder("<")
        except (KeyError, TypeError):
            raise FpqcError(f"{self.path}: initializer '{tensor.name}' has unknown data type {tensor.data_type}") from None
        shape = tuple(tensor.dims)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            return self._external(tensor, dtype, shape, nbytes)
        if tensor.HasField("raw_data"):
            return np.frombuffer(tensor.raw_data, dtype=dtype).reshape(shape)
        return numpy_helper.to_array(tensor)

    def _external(self, tensor: onnx.TensorProto, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> np.ndarray:
        info = {entry.key: entry.value for entry in tensor.external_data}
        where = f"{self.path}: cannot read the model's external data: initializer '{tensor.name}'"
        location = info.get("location", "")
        file = self.path.parent / location
        if not location or not file.is_file():
            raise FpqcError(f"{where} is stored in '{location}', which is not a file next to the model ({file})")
        offset = int(info.get("offset", 0))
        length = int(info.get("length", nbytes))
        if length != nbytes:
            raise FpqcError(f"{where} has {length} bytes in '{location}', its shape {list(shape)} needs {nbytes}")
        if nbytes == 0:
            return np.zeros(shape, dtype)
        if file not in self.maps:
            self.maps[file] = np.memmap(file, dtype=np.uint8, mode="r")
        data = self.maps[file]
        if offset + nbytes > data.size:
            raise FpqcError(f"{where} ends at byte {offset + nbytes} of '{location}', which has {data.size}")
        return np.asarray(data[offset : offset + nbytes]).view(dtype).reshape(shape)


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
# VAR's class dropout
# ---------------------------------------------------------------------------


def class_dropout_aliases(graph: onnx.GraphProto) -> dict[str, str]:
    """Fold the training-time class dropout: ``{Where output: label}`` for every match.

    The released VAR replaces each label by the null class with probability
    ``p`` during training::

        label = torch.where(torch.rand(B) < p, num_classes, label)

    which both torch exporters write as ::

        r = RandomUniformLike(...)          # or any RandomUniformLike chain
        c = Less(r, p)                      # or Greater(p, r); p a constant
        y = Where(c, null_class, label)     # null_class a constant

    At inference the dropout never fires, so ``y`` is ``label``: the Where's
    uses are redirected to ``label`` and dead-code elimination removes the
    random numbers.  A Where whose condition is anything else is kept.
    """
    producers = {name: node for node in graph.node for name in node.output if name}
    constants = {init.name for init in graph.initializer}
    constants |= {n.output[0] for n in graph.node if n.op_type == "Constant" and n.domain in _DEFAULT_DOMAINS}

    def random(name: str) -> bool:
        node = producers.get(name)
        return node is not None and node.op_type == "RandomUniformLike" and node.domain in _DEFAULT_DOMAINS

    aliases: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "Where" or node.domain not in _DEFAULT_DOMAINS or len(node.input) != 3:
            continue
        condition, null_class, label = node.input
        compare = producers.get(condition)
        if compare is None or compare.domain not in _DEFAULT_DOMAINS or null_class not in constants:
            continue
        if compare.op_type == "Less":
            noise, threshold = compare.input
        elif compare.op_type == "Greater":
            threshold, noise = compare.input
        else:
            continue
        if random(noise) and threshold in constants:
            aliases[node.output[0]] = label
    return aliases


# ---------------------------------------------------------------------------
# The import proper
# ---------------------------------------------------------------------------


def _attribute(attr: onnx.AttributeProto) -> Attribute:
    """The property for an ONNX attribute (a one-tensor attribute becomes ``dense<...>``)."""
    kind = attr.type
    if kind == onnx.AttributeProto.INT:
        return IntegerAttr(attr.i, i64)
    if kind == onnx.AttributeProto.FLOAT:
        return FloatAttr(attr.f, Float32Type())
    if kind == onnx.AttributeProto.STRING:
        return StringAttr(attr.s.decode())
    if kind == onnx.AttributeProto.INTS:
        return ArrayAttr([IntegerAttr(v, i64) for v in attr.ints])
    if kind == onnx.AttributeProto.TENSOR:
        return dense_attr(numpy_helper.to_array(attr.t))
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


_NO_OP_WHEN_SAME_TYPE = {"Cast", "Expand"}
"""Ops that return their input unchanged when their result has the input's type."""

_ATTRIBUTE_INPUTS = {"axes", "split"}
"""Attributes of older opsets that later opsets made inputs of the same name."""


@dataclass
class _Constant:
    """A value known at import time; ``hint`` is its ONNX name (the weight-store key)."""

    array: np.ndarray
    hint: str
    ssa: SSAValue | None = None


Value = SSAValue | _Constant


@dataclass
class _Importer:
    path: Path
    model: onnx.ModelProto
    opset: int
    input_shapes: Mapping[str, tuple[int, ...]]
    store: WeightStore = field(default_factory=WeightStore)
    # ONNX value name -> an SSA value or a constant (materialized on first use)
    values: dict[str, Value] = field(default_factory=dict)
    # initializers not yet read (read on first use, see _TensorReader)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    # Where outputs of the class dropout -> the label they stand for
    aliases: dict[str, str] = field(default_factory=dict)
    # names the live nodes and the graph outputs read
    used: set[str] = field(default_factory=set)
    reader: _TensorReader = field(init=False)

    def __post_init__(self) -> None:
        self.reader = _TensorReader(self.path)

    def run(self) -> tuple[ModuleOp, WeightStore]:
        graph = self.model.graph
        self.initializers = {init.name: init for init in graph.initializer}
        inputs = [i for i in graph.input if i.name not in self.initializers]
        self._check_input_shape_names(inputs)
        block = Block(arg_types=[self._input_type(i) for i in inputs])
        for index, (value_info, arg) in enumerate(zip(inputs, block.args, strict=True)):
            arg.name_hint = f"arg{index}"
            self.values[value_info.name] = arg
        self.aliases = class_dropout_aliases(graph)

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
        module.attributes["onnx.opset"] = IntegerAttr(self.opset, i64)
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

    def _resolve(self, name: str) -> str:
        """``name`` after the class-dropout fold (the label for a folded Where's output)."""
        while name in self.aliases:
            name = self.aliases[name]
        return name

    def _live_nodes_in_order(self) -> list[int]:
        """Indices of the nodes the outputs depend on, in a deterministic topological order.

        Also records in ``used`` every name those nodes and the outputs read.
        """
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
                if self._resolve(name) in producers:
                    dataflow.add_edge(producers[self._resolve(name)], index)
        live: set[int] = set()
        for output in graph.output:
            name = self._resolve(output.name)
            self.used.add(name)
            if name in producers:
                live |= nx.ancestors(dataflow, producers[name]) | {producers[name]}
        for index in live:
            self.used.update(self._resolve(name) for name in graph.node[index].input)
        try:
            return list(nx.lexicographical_topological_sort(dataflow.subgraph(live)))
        except nx.NetworkXUnfeasible:
            raise self._error("the graph has a cycle") from None

    # -- values -------------------------------------------------------------

    def _lookup(self, name: str, user: str) -> Value:
        name = self._resolve(name)
        if name not in self.values and name in self.initializers:
            self.values[name] = _Constant(self.reader.array(self.initializers.pop(name)), name)
        try:
            return self.values[name]
        except KeyError:
            raise self._error(f"{user} uses value '{name}', which no node, input or initializer defines") from None

    def _use(self, value: Value) -> SSAValue:
        """The SSA value of ``value``, creating an ``onnx.Constant`` on a constant's first use."""
        if isinstance(value, _Constant):
            if value.ssa is None:
                array = np.asarray(value.array, order="C")
                attr = dense_attr(array) if array.size <= INLINE_LIMIT else self.store.add(value.hint, array)
                value.ssa = ConstantOp(attr).result
            return value.ssa
        return value

    # -- nodes --------------------------------------------------------------

    def _import_node(self, node: onnx.NodeProto, index: int) -> None:
        where = _describe(node, index)
        outputs = list(node.output)
        if node.op_type == "Constant":
            try:
                self.values[outputs[0]] = _Constant(_constant_node_value(node), outputs[0])
            except ValueError as e:
                raise self._error(f"{where}: {e}") from None
            return
        if node.op_type == "RandomUniformLike":
            raise self._error(
                f"{where}: random numbers are nondeterministic and cannot be compiled; fpqc removes them only "
                "as VAR's training-time class dropout, Where(Less(RandomUniformLike(...), p), null_class, label). "
                "Export the model in inference mode"
            )
        cls = ONNX_OPS[node.op_type]
        properties, attribute_inputs = self._properties(node, cls, where)
        operands = self._operands(node, cls, where, attribute_inputs)
        if node.op_type == "Identity":
            self.values[outputs[0]] = operands[0]
            return
        if node.op_type == "Split" and len(operands) < 2 and "num_outputs" not in properties:
            properties["num_outputs"] = IntegerAttr(len(outputs), i64)
        operand_types = [
            None if o is None else o.type if isinstance(o, SSAValue) else tensor_type_of(o.array) for o in operands
        ]
        if node.op_type == "Softmax" and self.opset < 13:
            properties["axis"] = self._old_softmax_axis(node, operand_types[0], where)
        constants = [o.array if isinstance(o, _Constant) else None for o in operands]
        attrs = cls.attribute_values(properties)
        try:
            result_types = cls.infer_types(operand_types, attrs, constants)
            if result_types is None:
                raise InferenceError("the result shape depends on an operand that is not a constant")
        except InferenceError as e:
            raise self._error(f"{where}: {e}") from None
        self._check_outputs(node, outputs, len(result_types), where)
        if node.op_type in _NO_OP_WHEN_SAME_TYPE and result_types[0] == operand_types[0]:
            self.values[outputs[0]] = operands[0]
            return
        if node.op_type == "Shape":
            shape = operand_types[0].get_shape()
            start, end = shape_range(len(shape), attrs["start"], attrs["end"])
            arrays: tuple[np.ndarray, ...] = (np.array(shape[start:end], np.int64),)
        elif all(c is not None for c, o in zip(constants, operands) if o is not None) and self._folds(result_types):
            arrays = evaluate(node.op_type, constants, attrs)
        else:
            op = cls.make([None if o is None else self._use(o) for o in operands], properties)
            try:
                op.verify()
            except VerifyException as e:
                raise self._error(f"{where}: {_first_line(e)}") from None
            for name, result in zip(outputs, op.results):
                if name:
                    self.values[name] = result
            return
        for name, array, result_type in zip(outputs, arrays, result_types):
            if name:
                dtype = element_type_to_dtype(result_type.get_element_type())
                self.values[name] = _Constant(array.astype(dtype, copy=False), name)

    def _check_outputs(self, node: onnx.NodeProto, outputs: list[str], count: int, where: str) -> None:
        """The node has ``count`` outputs, or (LayerNormalization) more that nothing reads."""
        if node.op_type == "LayerNormalization":
            for name, label in zip(outputs[1:], ("Mean", "InvStdDev")):
                if name and name in self.used:
                    raise self._error(f"{where}: its {label} output '{name}' is used; only the Y output is supported")
            return
        if len(outputs) != count:
            raise self._error(f"{where}: the node has {len(outputs)} outputs, its inputs give {count}")

    def _old_softmax_axis(self, node: onnx.NodeProto, operand_type: TensorType, where: str) -> IntegerAttr:
        """Softmax before opset 13 (over the flattened axes ``axis..``), as an opset-13 axis."""
        rank = len(operand_type.get_shape())
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        try:
            last = normalize_axis(axis, rank) == rank - 1
        except InferenceError as e:
            raise self._error(f"{where}: {e}") from None
        if not last:
            raise self._error(
                f"{where}: Softmax of opset {self.opset} over the axes {axis}.. of a rank-{rank} tensor is not "
                "supported (only over the last axis); re-export the model with opset 13 or later"
            )
        return IntegerAttr(-1, i64)

    @staticmethod
    def _folds(result_types: list[TensorType]) -> bool:
        """Whether an all-constant node with these results is evaluated at import time."""
        for result_type in result_types:
            small = result_type.element_count() <= FOLD_LIMIT
            if not small and np.issubdtype(element_type_to_dtype(result_type.get_element_type()), np.floating):
                return False
        return True

    def _operands(
        self, node: onnx.NodeProto, cls: type[OnnxOp], where: str, attribute_inputs: Mapping[str, np.ndarray]
    ) -> list[Value | None]:
        """The node's inputs, positional (None for an absent optional input before a present one)."""
        names = list(node.input)
        while names and not names[-1]:
            names.pop()
        operands: list[Value | None] = [self._lookup(name, where) if name else None for name in names]
        definitions = list(cls.get_irdl_definition().operands)
        for position, (name, _) in enumerate(definitions):
            if name in attribute_inputs:
                operands += [None] * (position + 1 - len(operands))
                operands[position] = _Constant(attribute_inputs[name], f"{node.name or node.op_type}.{name}")
        variadic = any(isinstance(d, VarOperandDef) and not isinstance(d, OptOperandDef) for _, d in definitions)
        required = sum(not isinstance(d, OptionalDef) for _, d in definitions)
        if variadic:
            if len(operands) < 1 or None in operands:
                raise self._error(f"{where}: expected at least one input, all present")
            return operands
        if not required <= len(operands) <= len(definitions):
            raise self._error(f"{where}: expected {required} to {len(definitions)} inputs, got {len(operands)}")
        for (name, definition), operand in zip(definitions, operands):
            if operand is None and not isinstance(definition, OptionalDef):
                raise self._error(f"{where}: the required input '{name}' is empty")
        return operands

    def _properties(
        self, node: onnx.NodeProto, cls: type[OnnxOp], where: str
    ) -> tuple[dict[str, Attribute], dict[str, np.ndarray]]:
        """The node's attributes as properties, and older-opset attributes that are now inputs."""
        definitions = cls.get_irdl_definition().properties
        operand_names = {name for name, _ in cls.get_irdl_definition().operands}
        properties: dict[str, Attribute] = {}
        attribute_inputs: dict[str, np.ndarray] = {}
        for attr in node.attribute:
            if attr.name in _ATTRIBUTE_INPUTS and attr.name in operand_names and attr.type == onnx.AttributeProto.INTS:
                attribute_inputs[attr.name] = np.array(attr.ints, dtype=np.int64)
                continue
            if attr.name not in definitions or attr.name == "operandSegmentSizes":
                raise self._error(f"{where}: attribute '{attr.name}' is not supported")
            try:
                value = _attribute(attr)
                definitions[attr.name].constr.verify(value, VerificationContext())
            except (ValueError, VerifyException) as e:
                raise self._error(f"{where}: attribute '{attr.name}': {_first_line(e)}") from None
            properties[attr.name] = value
        for name, definition in definitions.items():
            if name == "operandSegmentSizes":
                continue
            if name not in properties and definition.default_value is None and not isinstance(definition, OptionalDef):
                raise self._error(f"{where}: required attribute '{name}' is missing")
        return properties, attribute_inputs


def _name_attr(name: str) -> DictionaryAttr:
    return DictionaryAttr({"onnx.name": StringAttr(name)})

