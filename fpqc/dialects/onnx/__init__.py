"""fpqc's ``onnx`` dialect: one op per ONNX node, with static shapes.

The ONNX importer (:mod:`fpqc.frontend.onnx_import`) produces this dialect;
the ``raise-onnx-to-fpq`` pass lifts recognised subgraphs out of it.  Op names
are the ONNX op types, operand names follow the ONNX input names (``A``, ``B``,
``C`` of Gemm, ``data`` and ``shape`` of Reshape; every unary op calls its
operand ``input``) and ONNX attributes are properties with their ONNX names
and defaults: ints are ``i64`` ``IntegerAttr`` (lists of ints an ``ArrayAttr``
of them), floats ``f32`` ``FloatAttr`` and strings ``StringAttr``.  Properties at their default value
are not printed.  Semantics are those of the default ONNX domain at opset 20.

Every op has one result of static tensor type, except ``Split``, which has
one per piece.  ``infer_type`` (``infer_types`` for ``Split``) computes it
from the operand types, the attribute values and, where the ONNX op needs
them (the ``shape`` of ``Reshape``), the values of constant operands; the
importer uses it to type the ops it builds, and the verifier checks that the
result type is the inferred one.  The dialect reads only inline ``dense<...>``
constants, never the weight store: the verifier skips a check that needs the
value of a ``dense_resource`` constant.  Broadcasting follows the ONNX (= numpy)
multidirectional rules.

Operands are positional as in ONNX.  An absent optional input in the middle
(``Clip(x, "", max)``) is named in the text form by the keyword of each
optional operand that is present: ``onnx.Clip %x max %m : tensor<4xf32>
max tensor<f32> -> tensor<4xf32>`` (``Clip`` and ``Slice`` print this way).
Ops with a variable number of inputs (``Concat``, ``Max``, ``Min``) take
them as one variadic operand.  ``LayerNormalization`` has only its ``Y``
result: the importer rejects a model that uses its ``Mean`` or
``InvStdDev`` outputs.  ``RandomUniformLike`` is part of the dialect only so
that the importer can recognise (and remove) the training-time class dropout
of VAR; it has no interpreter implementation.

Example::

    %0 = onnx.Constant dense_resource<fc1.weight> : tensor<64x128xf32>
    %1 = onnx.MatMul %x, %0 : (tensor<8x64xf32>, tensor<64x128xf32>) -> tensor<8x128xf32>
    %2 = onnx.Gelu %1 {approximate = "tanh"} : (tensor<8x128xf32>) -> tensor<8x128xf32>
    %3 = onnx.Constant dense<[2, 4, 128]> : tensor<3xi64>
    %4 = onnx.Reshape %2, %3 : (tensor<8x128xf32>, tensor<3xi64>) -> tensor<2x4x128xf32>

Modules: :mod:`.base` (:class:`OnnxOp`), :mod:`.shape_inference` (the shape
rules the importer and the interpreter share), the ops by concept
(:mod:`.elementwise`, :mod:`.linalg`, :mod:`.reduction`,
:mod:`.shape_manipulation`, :mod:`.constants`) and :mod:`.semantics` (the
ops' numpy semantics, for the interpreter and for constant folding).
"""

from xdsl.ir import Dialect

from fpqc.dialects.onnx.base import (
    OnnxOp,
    OperandKind,
    attribute_value,
    dense_array,
    inline_constant_value,
)
from fpqc.dialects.onnx.constants import (
    ConstantOfShapeOp,
    ConstantOp,
    RandomUniformLikeOp,
    RangeOp,
)
from fpqc.dialects.onnx.elementwise import (
    AddOp,
    CastOp,
    ClipOp,
    DivOp,
    EqualOp,
    ErfOp,
    ExpOp,
    GeluOp,
    GreaterOp,
    IdentityOp,
    IsNaNOp,
    LessOp,
    LogOp,
    MaxOp,
    MinOp,
    MulOp,
    NegOp,
    NotOp,
    PowOp,
    ReluOp,
    SigmoidOp,
    SqrtOp,
    SubOp,
    TanhOp,
    WhereOp,
)
from fpqc.dialects.onnx.linalg import GemmOp, MatMulOp
from fpqc.dialects.onnx.reduction import (
    LayerNormalizationOp,
    ReduceL2Op,
    ReduceMeanOp,
    ReduceSumOp,
    SoftmaxOp,
)
from fpqc.dialects.onnx.shape_inference import (
    InferenceError,
    Shape,
    broadcast_shapes,
    matmul_shape,
    normalize_axis,
    onnx_element_type,
    range_length,
    reduced_axes,
    reshape_shape,
    shape_range,
    slice_bounds,
    sliced_length,
    split_sizes,
    unsqueeze_shape,
)
from fpqc.dialects.onnx.shape_manipulation import (
    ConcatOp,
    ExpandOp,
    GatherOp,
    ReshapeOp,
    ShapeOp,
    SliceOp,
    SplitOp,
    SqueezeOp,
    TransposeOp,
    UnsqueezeOp,
)

ONNX_OPS: dict[str, type[OnnxOp]] = {
    op.name.removeprefix("onnx."): op
    for op in (
        AddOp,
        CastOp,
        ClipOp,
        ConcatOp,
        ConstantOfShapeOp,
        ConstantOp,
        DivOp,
        EqualOp,
        ErfOp,
        ExpOp,
        ExpandOp,
        GatherOp,
        GeluOp,
        GemmOp,
        GreaterOp,
        IdentityOp,
        IsNaNOp,
        LayerNormalizationOp,
        LessOp,
        LogOp,
        MatMulOp,
        MaxOp,
        MinOp,
        MulOp,
        NegOp,
        NotOp,
        PowOp,
        RandomUniformLikeOp,
        RangeOp,
        ReduceL2Op,
        ReduceMeanOp,
        ReduceSumOp,
        ReluOp,
        ReshapeOp,
        ShapeOp,
        SigmoidOp,
        SliceOp,
        SoftmaxOp,
        SplitOp,
        SqrtOp,
        SqueezeOp,
        SubOp,
        TanhOp,
        TransposeOp,
        UnsqueezeOp,
        WhereOp,
    )
}
"""The op class of each supported ONNX op type."""

Onnx = Dialect("onnx", list(ONNX_OPS.values()), [])

__all__ = [
    "ONNX_OPS",
    "OperandKind",
    "AddOp",
    "CastOp",
    "ClipOp",
    "ConcatOp",
    "ConstantOfShapeOp",
    "ConstantOp",
    "DivOp",
    "EqualOp",
    "ErfOp",
    "ExpOp",
    "ExpandOp",
    "GatherOp",
    "GeluOp",
    "GemmOp",
    "GreaterOp",
    "IdentityOp",
    "InferenceError",
    "IsNaNOp",
    "LayerNormalizationOp",
    "LessOp",
    "LogOp",
    "MatMulOp",
    "MaxOp",
    "MinOp",
    "MulOp",
    "NegOp",
    "NotOp",
    "Onnx",
    "OnnxOp",
    "PowOp",
    "RandomUniformLikeOp",
    "RangeOp",
    "ReduceL2Op",
    "ReduceMeanOp",
    "ReduceSumOp",
    "ReluOp",
    "ReshapeOp",
    "Shape",
    "ShapeOp",
    "SigmoidOp",
    "SliceOp",
    "SoftmaxOp",
    "SplitOp",
    "SqrtOp",
    "SqueezeOp",
    "SubOp",
    "TanhOp",
    "TransposeOp",
    "UnsqueezeOp",
    "WhereOp",
    "attribute_value",
    "broadcast_shapes",
    "dense_array",
    "inline_constant_value",
    "matmul_shape",
    "normalize_axis",
    "onnx_element_type",
    "range_length",
    "reduced_axes",
    "reshape_shape",
    "shape_range",
    "slice_bounds",
    "sliced_length",
    "split_sizes",
    "unsqueeze_shape",
]
