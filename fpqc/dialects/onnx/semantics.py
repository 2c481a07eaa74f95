"""The numpy semantics of the ``onnx`` dialect's ops.

:data:`NUMPY_IMPLS` maps each ONNX op type to one function
``(inputs, attrs) -> output`` on numpy arrays (a tuple of outputs for
``Split``), ``inputs`` being positional (None for an absent optional input
before a present one) and ``attrs`` the op's attribute values as Python
values with the defaults filled in (see :meth:`.OnnxOp.attribute_values`).
The interpreter (:mod:`fpqc.backends.interp.onnx_ops`) and the importer's
constant folding both call :func:`evaluate`, so every op has exactly one
implementation.  ``RandomUniformLike`` has none: it is nondeterministic, and
the importer removes it (the class-dropout fold) or rejects the model.

Float tensors are computed in their own precision (float32 math in float32,
as onnxruntime does).  These ops are not part of the bit-exact contract: they
use numpy's ``tanh``/``exp`` and are what quantized models are measured
against.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fpqc.dialects.onnx.shape_inference import (
    broadcast_shapes,
    normalize_axis,
    onnx_numpy_dtype,
    range_length,
    reduced_axes,
    reshape_shape,
    shape_range,
    slice_bounds,
    split_sizes,
    unsqueeze_shape,
)

NumpyImpl = Callable[[Sequence[np.ndarray | None], Mapping[str, Any]], np.ndarray | tuple[np.ndarray, ...]]

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
    return data.reshape(reshape_shape(data.shape, shape.tolist(), attrs["allowzero"]))


def _cast(x: np.ndarray, to: int) -> np.ndarray:
    return x.astype(onnx_numpy_dtype(to))


def _exp(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.exp(x)


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def _clip(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> np.ndarray:
    x, *bounds = inputs
    lo, hi = (bounds + [None, None])[:2]
    if lo is not None:
        x = np.maximum(x, lo.reshape(()))
    if hi is not None:
        x = np.minimum(x, hi.reshape(()))
    return x


def _axes_of(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> tuple[int, ...]:
    axes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
    return reduced_axes(
        inputs[0].ndim, None if axes is None else axes.reshape(-1).tolist(), attrs["noop_with_empty_axes"]
    )


def _reducer(reduce: Callable[[np.ndarray, tuple[int, ...], bool], np.ndarray]) -> NumpyImpl:
    """A Reduce* implementation from ``reduce(x, axes, keepdims)`` (empty axes: the input)."""

    def run(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> np.ndarray:
        axes = _axes_of(inputs, attrs)
        if not axes:
            return inputs[0]
        return reduce(inputs[0], axes, bool(attrs["keepdims"])).astype(inputs[0].dtype, copy=False)

    return run


def _reduce_l2(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims))


def _layer_norm(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> np.ndarray:
    x, scale, *bias = inputs
    axes = tuple(range(normalize_axis(attrs["axis"], x.ndim), x.ndim))
    x32 = x.astype(np.float32, copy=False)
    centered = x32 - x32.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    y = centered / np.sqrt(variance + np.float32(attrs["epsilon"]))
    y = y.astype(x.dtype, copy=False) * scale
    return y + bias[0] if bias and bias[0] is not None else y


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _squeeze(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> np.ndarray:
    x = inputs[0]
    if len(inputs) > 1:
        return np.squeeze(x, axis=tuple(normalize_axis(int(a), x.ndim) for a in inputs[1].reshape(-1)))
    return np.squeeze(x)


def _split(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    axis = normalize_axis(attrs["axis"], x.ndim)
    split = inputs[1].reshape(-1).tolist() if len(inputs) > 1 else None
    sizes = split_sizes(x.shape[axis], split, attrs["num_outputs"])
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _shape(x: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    start, end = shape_range(x.ndim, attrs["start"], attrs["end"])
    return np.array(x.shape[start:end], dtype=np.int64)


def _slice(inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> np.ndarray:
    data, *rest = inputs
    starts, ends, axes, steps = ([None if v is None else v.reshape(-1).tolist() for v in rest] + [None, None])[:4]
    return data[tuple(slice_bounds(data.shape, starts, ends, axes, steps))]


def _constant_of_shape(shape: np.ndarray, value: np.ndarray | None) -> np.ndarray:
    if value is None:
        value = np.zeros(1, np.float32)
    return np.full(shape.reshape(-1).tolist(), value.reshape(-1)[0], dtype=value.dtype)


def _range(start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``start + i·delta`` for ``i < range_length``, in the operands' type."""
    count = range_length(start.item(), limit.item(), delta.item())
    return (start + delta * np.arange(count, dtype=start.dtype)).astype(start.dtype)


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
    "Exp": lambda x, attrs: _exp(x[0]),
    "Log": lambda x, attrs: _log(x[0]),
    "Neg": lambda x, attrs: np.negative(x[0]),
    "Not": lambda x, attrs: np.logical_not(x[0]),
    "IsNaN": lambda x, attrs: np.isnan(x[0]),
    "Equal": lambda x, attrs: np.equal(x[0], x[1]),
    "Less": lambda x, attrs: np.less(x[0], x[1]),
    "Greater": lambda x, attrs: np.greater(x[0], x[1]),
    "Where": lambda x, attrs: np.where(x[0], x[1], x[2]),
    "Clip": _clip,
    "Max": lambda x, attrs: functools.reduce(np.maximum, x),
    "Min": lambda x, attrs: functools.reduce(np.minimum, x),
    "ReduceL2": _reducer(_reduce_l2),
    "ReduceMean": _reducer(lambda x, axes, keepdims: np.mean(x, axis=axes, keepdims=keepdims)),
    "ReduceSum": _reducer(lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims)),
    "LayerNormalization": _layer_norm,
    "Softmax": lambda x, attrs: _softmax(x[0], attrs["axis"]),
    "Squeeze": _squeeze,
    "Unsqueeze": lambda x, attrs: x[0].reshape(unsqueeze_shape(x[0].shape, x[1].reshape(-1).tolist())),
    "Split": _split,
    "Shape": lambda x, attrs: _shape(x[0], attrs),
    "Expand": lambda x, attrs: np.broadcast_to(x[0], broadcast_shapes(x[0].shape, tuple(x[1].tolist()))),
    "Concat": lambda x, attrs: np.concatenate(x, axis=attrs["axis"]),
    "Gather": lambda x, attrs: np.take(x[0], x[1], axis=attrs["axis"]),
    "Slice": _slice,
    "ConstantOfShape": lambda x, attrs: _constant_of_shape(x[0], attrs["value"]),
    "Range": lambda x, attrs: _range(*x),
}
"""The numpy function of each ONNX op type (all but ``Constant``, which holds its value,
and ``RandomUniformLike``, see the module docstring)."""


def evaluate(op_type: str, inputs: Sequence[np.ndarray | None], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    """Apply the ONNX op ``op_type`` to numpy ``inputs``; its results, each contiguous."""
    results = NUMPY_IMPLS[op_type](inputs, attrs)
    if not isinstance(results, tuple):
        results = (results,)
    return tuple(np.asarray(r, order="C") for r in results)
