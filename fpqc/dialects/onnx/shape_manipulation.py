"""Shape-manipulating ``onnx`` ops: reshaping, transposing, splitting, joining and indexing."""

from __future__ import annotations

from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, IntegerType, TensorType, i64
from xdsl.irdl import (
    AttrSizedOperandSegments,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.onnx.base import (
    OnnxOp,
    check_i64_vector,
    constant_ints,
    same_element_type,
)
from fpqc.dialects.onnx.shape_inference import (
    InferenceError,
    broadcast_shapes,
    normalize_axis,
    reshape_shape,
    shape_range,
    slice_bounds,
    sliced_length,
    split_sizes,
    unsqueeze_shape,
)


@irdl_op_definition
class ReshapeOp(OnnxOp):
    """``data`` with the dims in the int64 tensor ``shape`` (a constant after import)."""

    name = "onnx.Reshape"

    data = operand_def(TensorType)
    shape = operand_def(TensorType)
    result = result_def(TensorType)
    allowzero = prop_def(IntegerAttr, IntegerAttr(0, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        data, shape = operand_types
        if shape.get_element_type() != i64 or len(shape.get_shape()) != 1:
            raise InferenceError(f"shape must be a 1-D tensor of i64, got {shape}")
        if values[1] is None:
            return None
        return TensorType(data.get_element_type(), reshape_shape(data.get_shape(), values[1], attrs["allowzero"]))

    def verify_(self) -> None:
        super().verify_()
        data = self.data.type
        result = self.result.type
        assert isinstance(data, TensorType) and isinstance(result, TensorType)
        if data.get_element_type() != result.get_element_type() or data.element_count() != result.element_count():
            raise VerifyException(f"{self.name}: cannot reshape {data} to {result}")


@irdl_op_definition
class TransposeOp(OnnxOp):
    """``data`` with its axes permuted by ``perm`` (reversed when absent)."""

    name = "onnx.Transpose"

    data = operand_def(TensorType)
    result = result_def(TensorType)
    perm = opt_prop_def(ArrayAttr[IntegerAttr])
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        shape = operand_types[0].get_shape()
        perm = attrs["perm"] if attrs["perm"] is not None else list(range(len(shape)))[::-1]
        if sorted(perm) != list(range(len(shape))):
            raise InferenceError(f"perm {perm} is not a permutation of the {len(shape)} axes")
        return TensorType(operand_types[0].get_element_type(), [shape[p] for p in perm])


@irdl_op_definition
class SqueezeOp(OnnxOp):
    """``data`` without the unit dims in ``axes`` (all unit dims when absent)."""

    name = "onnx.Squeeze"

    data = operand_def(TensorType)
    axes = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        shape = operand_types[0].get_shape()
        if len(operand_types) > 1:
            check_i64_vector(operand_types[1], "axes")
            axes = constant_ints(values, 1)
            if axes is None:
                return None
            axes = {normalize_axis(a, len(shape)) for a in axes}
            for a in axes:
                if shape[a] != 1:
                    raise InferenceError(f"cannot squeeze axis {a} of size {shape[a]}")
        else:
            axes = {i for i, d in enumerate(shape) if d == 1}
        return TensorType(operand_types[0].get_element_type(), [d for i, d in enumerate(shape) if i not in axes])


@irdl_op_definition
class UnsqueezeOp(OnnxOp):
    """``data`` with unit dims inserted at ``axes`` (positions in the result)."""

    name = "onnx.Unsqueeze"

    data = operand_def(TensorType)
    axes = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        check_i64_vector(operand_types[1], "axes")
        axes = constant_ints(values, 1)
        if axes is None:
            return None
        return TensorType(operand_types[0].get_element_type(), unsqueeze_shape(operand_types[0].get_shape(), axes))


@irdl_op_definition
class SplitOp(OnnxOp):
    """``input`` cut along ``axis`` into pieces: sizes from ``split`` or ``num_outputs``.

    The importer fills in ``num_outputs`` for a Split of older opsets that
    gives neither (equal pieces, one per ONNX output).
    """

    name = "onnx.Split"

    input = operand_def(TensorType)
    split = opt_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    axis = prop_def(IntegerAttr, IntegerAttr(0, i64))
    num_outputs = opt_prop_def(IntegerAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_types(cls, operand_types, attrs, values):
        x = operand_types[0]
        shape = x.get_shape()
        axis = normalize_axis(attrs["axis"], len(shape))
        split = None
        if len(operand_types) > 1:
            check_i64_vector(operand_types[1], "split")
            split = constant_ints(values, 1)
            if split is None:
                return None
            if attrs["num_outputs"] is not None:
                raise InferenceError("give either the 'split' input or 'num_outputs', not both")
        sizes = split_sizes(shape[axis], split, attrs["num_outputs"])
        return [TensorType(x.get_element_type(), (*shape[:axis], s, *shape[axis + 1 :])) for s in sizes]


@irdl_op_definition
class ShapeOp(OnnxOp):
    """The dims ``start..end`` of ``data``'s shape as a 1-D i64 tensor (always a constant after import)."""

    name = "onnx.Shape"

    data = operand_def(TensorType)
    result = result_def(TensorType)
    start = opt_prop_def(IntegerAttr)
    end = opt_prop_def(IntegerAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        start, end = shape_range(len(operand_types[0].get_shape()), attrs["start"], attrs["end"])
        return TensorType(i64, [max(end - start, 0)])


@irdl_op_definition
class ExpandOp(OnnxOp):
    """``input`` broadcast with the dims in ``shape`` (bidirectionally, as numpy does)."""

    name = "onnx.Expand"

    input = operand_def(TensorType)
    shape = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        check_i64_vector(operand_types[1], "shape")
        dims = constant_ints(values, 1)
        if dims is None:
            return None
        return TensorType(operand_types[0].get_element_type(), broadcast_shapes(operand_types[0].get_shape(), tuple(dims)))


@irdl_op_definition
class ConcatOp(OnnxOp):
    """The ``inputs`` joined along ``axis``."""

    name = "onnx.Concat"

    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        if not operand_types:
            raise InferenceError("needs at least one operand")
        element = same_element_type(operand_types)
        first = operand_types[0].get_shape()
        axis = normalize_axis(attrs["axis"], len(first))
        total = 0
        for t in operand_types:
            shape = t.get_shape()
            if len(shape) != len(first) or shape[:axis] + shape[axis + 1 :] != first[:axis] + first[axis + 1 :]:
                raise InferenceError(
                    f"shapes {' and '.join(str(list(t.get_shape())) for t in operand_types)} "
                    f"do not join along axis {axis}"
                )
            total += shape[axis]
        return TensorType(element, (*first[:axis], total, *first[axis + 1 :]))


@irdl_op_definition
class GatherOp(OnnxOp):
    """Entries of ``data`` along ``axis`` at integer ``indices`` (negative counts from the back)."""

    name = "onnx.Gather"

    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr, IntegerAttr(0, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        data, indices = operand_types
        if indices.get_element_type() not in (i64, IntegerType(32)):
            raise InferenceError(f"indices must be i32 or i64, got {indices}")
        shape = data.get_shape()
        axis = normalize_axis(attrs["axis"], len(shape))
        return TensorType(data.get_element_type(), (*shape[:axis], *indices.get_shape(), *shape[axis + 1 :]))


@irdl_op_definition
class SliceOp(OnnxOp):
    """``data[starts:ends:steps]`` on ``axes`` (all i64 inputs; ``axes``, ``steps`` optional).

    Printed with the keyword of each optional input present::

        %y = onnx.Slice %x, %s, %e axes %a : tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64>
            axes tensor<1xi64> -> tensor<4x2xf32>
    """

    name = "onnx.Slice"

    data = operand_def(TensorType)
    starts = operand_def(TensorType)
    ends = operand_def(TensorType)
    axes = opt_operand_def(TensorType)
    steps = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (AttrSizedOperandSegments(as_property=True), ParsePropInAttrDict())
    assembly_format = (
        "$data `,` $starts `,` $ends (`axes` $axes^)? (`steps` $steps^)? attr-dict `:` type($data) `,`"
        " type($starts) `,` type($ends) (`axes` type($axes)^)? (`steps` type($steps)^)? `->` type($result)"
    )

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        for name, t in zip(("starts", "ends", "axes", "steps"), operand_types[1:]):
            check_i64_vector(t, name)
        known = [constant_ints(values, i) for i in range(1, len(operand_types))]
        present = [t is not None for t in operand_types[1:]]
        if any(p and k is None for p, k in zip(present, known)):
            return None
        known += [None] * (4 - len(known))
        shape = operand_types[0].get_shape()
        bounds = slice_bounds(shape, known[0], known[1], known[2], known[3])
        return TensorType(operand_types[0].get_element_type(), [sliced_length(b, d) for b, d in zip(bounds, shape)])

