"""numpy implementations of the ``onnx`` dialect's ops.

:data:`NUMPY_IMPLS` maps each ONNX op type to one function
``(inputs, attrs) -> output`` on numpy arrays, ``attrs`` being the op's
attribute values as Python values with the defaults filled in (see
:meth:`fpqc.dialects.onnx.OnnxOp.attribute_values`).  The interpreter
(:class:`OnnxFunctions`) and the importer's constant folder both call it, so
every op has exactly one implementation.

Float tensors are computed in their own precision (float32 math in float32,
as onnxruntime does).  These ops are not part of the bit-exact contract: they
use numpy's ``tanh``/``exp`` and are what quantized models are measured
against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from onnx import helper as onnx_helper
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from fpqc.dialects import onnx
from fpqc.weights import resolve

NumpyImpl = Callable[[Sequence[np.ndarray], Mapping[str, Any]], np.ndarray]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_erf_float64 = np.frompyfunc(math.erf, 1, 1)


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function, evaluated in float64 and rounded to ``x``'s precision."""
    return _erf_float64(x.astype(np.float64)).astype(x.dtype)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ONNX ``Div``: true division for floats, truncation toward zero for integers."""
    if np.issubdtype(a.dtype, np.integer):
        return (np.abs(a) // np.abs(b) * np.sign(a) * np.sign(b)).astype(a.dtype)
    return np.divide(a, b)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-x))).astype(x.dtype)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    half = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    if approximate == "tanh":
        inner = x.dtype.type(_SQRT_2_OVER_PI) * (x + x.dtype.type(0.044715) * x * x * x)
        return half * x * (one + np.tanh(inner))
    return half * x * (one + _erf(x / x.dtype.type(math.sqrt(2.0))))


def _gemm(inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> np.ndarray:
    a, b, *c = inputs
    a = a.T if attrs["transA"] else a
    b = b.T if attrs["transB"] else b
    y = np.matmul(a, b)
    if attrs["alpha"] != 1.0:
        y = y * y.dtype.type(attrs["alpha"])
    if c:
        bias = c[0] if attrs["beta"] == 1.0 else c[0] * c[0].dtype.type(attrs["beta"])
        y = y + bias
    return y


def _sqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(x)


def _reshape(inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> np.ndarray:
    data, shape = inputs
    return data.reshape(onnx.reshape_shape(data.shape, shape.tolist(), attrs["allowzero"]))


def _cast(x: np.ndarray, to: int) -> np.ndarray:
    return x.astype(onnx_helper.tensor_dtype_to_np_dtype(to))


NUMPY_IMPLS: dict[str, NumpyImpl] = {
    "Add": lambda x, attrs: np.add(x[0], x[1]),
    "Sub": lambda x, attrs: np.subtract(x[0], x[1]),
    "Mul": lambda x, attrs: np.multiply(x[0], x[1]),
    "Div": lambda x, attrs: _div(x[0], x[1]),
    "Pow": lambda x, attrs: np.power(x[0], x[1].astype(x[0].dtype)),
    "Tanh": lambda x, attrs: np.tanh(x[0]),
    "Relu": lambda x, attrs: np.maximum(x[0], x[0].dtype.type(0)),
    "Sigmoid": lambda x, attrs: _sigmoid(x[0]),
    "Gelu": lambda x, attrs: _gelu(x[0], attrs["approximate"]),
    "Erf": lambda x, attrs: _erf(x[0]),
    "Sqrt": lambda x, attrs: _sqrt(x[0]),
    "MatMul": lambda x, attrs: np.matmul(x[0], x[1]),
    "Gemm": _gemm,
    "Reshape": _reshape,
    "Transpose": lambda x, attrs: np.transpose(x[0], attrs["perm"]),
    "Identity": lambda x, attrs: x[0],
    "Cast": lambda x, attrs: _cast(x[0], attrs["to"]),
}
"""The numpy function of each ONNX op type (all but ``Constant``, which holds its value)."""


def evaluate(op_type: str, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> np.ndarray:
    """Apply the ONNX op ``op_type`` to numpy ``inputs``; the result is contiguous."""
    return np.ascontiguousarray(NUMPY_IMPLS[op_type](inputs, attrs))


def _run(self: OnnxFunctions, interpreter: Interpreter, op: onnx.OnnxOp, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (evaluate(op.name.removeprefix("onnx."), args, op.attribute_values(op.properties)),)


@register_impls
class OnnxFunctions(InterpreterFunctions):
    """Runs every ``onnx`` op with :data:`NUMPY_IMPLS`; values are numpy arrays."""

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
