"""The interpreter's implementations of the ``onnx`` dialect's ops.

Every op runs its numpy semantics, :func:`fpqc.dialects.onnx.semantics.evaluate`
(the importer folds constants with the same function); values are numpy
arrays.  ``onnx.Constant`` reads inline values and the active weight store.
``RandomUniformLike`` has no implementation (see :mod:`fpqc.dialects.onnx.semantics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from fpqc.dialects import onnx
from fpqc.dialects.onnx.semantics import evaluate
from fpqc.weights import resolve


def _run(self: OnnxFunctions, interpreter: Interpreter, op: onnx.OnnxOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``op`` applied to ``args``, None standing for each absent optional operand."""
    inputs: list[np.ndarray | None] = list(args)
    positional = op.positional_operands()
    if None in positional:
        values = iter(inputs)
        inputs = [None if o is None else next(values) for o in positional]
    return evaluate(op.name.removeprefix("onnx."), inputs, op.attribute_values(op.properties))


@register_impls
class OnnxFunctions(InterpreterFunctions):
    """Runs every ``onnx`` op with its numpy semantics; values are numpy arrays."""

    @impl(onnx.ConstantOp)
    def run_constant(self, interpreter: Interpreter, op: onnx.ConstantOp, args: tuple[Any, ...]):
        return (resolve(op.value),)

    run_add = impl(onnx.AddOp)(_run)
    run_sub = impl(onnx.SubOp)(_run)
    run_mul = impl(onnx.MulOp)(_run)
    run_div = impl(onnx.DivOp)(_run)
    run_pow = impl(onnx.PowOp)(_run)
    run_tanh = impl(onnx.TanhOp)(_run)
    run_relu = impl(onnx.ReluOp)(_run)
    run_sigmoid = impl(onnx.SigmoidOp)(_run)
    run_gelu = impl(onnx.GeluOp)(_run)
    run_erf = impl(onnx.ErfOp)(_run)
    run_sqrt = impl(onnx.SqrtOp)(_run)
    run_matmul = impl(onnx.MatMulOp)(_run)
    run_gemm = impl(onnx.GemmOp)(_run)
    run_reshape = impl(onnx.ReshapeOp)(_run)
    run_transpose = impl(onnx.TransposeOp)(_run)
    run_identity = impl(onnx.IdentityOp)(_run)
    run_cast = impl(onnx.CastOp)(_run)
    run_exp = impl(onnx.ExpOp)(_run)
    run_log = impl(onnx.LogOp)(_run)
    run_neg = impl(onnx.NegOp)(_run)
    run_not = impl(onnx.NotOp)(_run)
    run_is_nan = impl(onnx.IsNaNOp)(_run)
    run_equal = impl(onnx.EqualOp)(_run)
    run_less = impl(onnx.LessOp)(_run)
    run_greater = impl(onnx.GreaterOp)(_run)
    run_where = impl(onnx.WhereOp)(_run)
    run_clip = impl(onnx.ClipOp)(_run)
    run_max = impl(onnx.MaxOp)(_run)
    run_min = impl(onnx.MinOp)(_run)
    run_reduce_l2 = impl(onnx.ReduceL2Op)(_run)
    run_reduce_mean = impl(onnx.ReduceMeanOp)(_run)
    run_reduce_sum = impl(onnx.ReduceSumOp)(_run)
    run_layer_normalization = impl(onnx.LayerNormalizationOp)(_run)
    run_softmax = impl(onnx.SoftmaxOp)(_run)
    run_squeeze = impl(onnx.SqueezeOp)(_run)
    run_unsqueeze = impl(onnx.UnsqueezeOp)(_run)
    run_split = impl(onnx.SplitOp)(_run)
    run_shape = impl(onnx.ShapeOp)(_run)
    run_expand = impl(onnx.ExpandOp)(_run)
    run_concat = impl(onnx.ConcatOp)(_run)
    run_gather = impl(onnx.GatherOp)(_run)
    run_slice = impl(onnx.SliceOp)(_run)
    run_constant_of_shape = impl(onnx.ConstantOfShapeOp)(_run)
    run_range = impl(onnx.RangeOp)(_run)
