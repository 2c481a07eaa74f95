"""Mapping between numpy dtypes and builtin MLIR element/tensor types."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
    TensorType,
    i1,
    i8,
    i16,
    i32,
    i64,
)
from xdsl.ir import Attribute


class UnsupportedElementType(ValueError):
    """A tensor element type or numpy dtype fpqc cannot hold, with a one-line message."""


_DTYPE_TO_ELEMENT: dict[np.dtype, Attribute] = {
    np.dtype(np.float16): Float16Type(),
    np.dtype(np.float32): Float32Type(),
    np.dtype(np.float64): Float64Type(),
    np.dtype(np.bool_): i1,
    np.dtype(np.int8): i8,
    np.dtype(np.int16): i16,
    np.dtype(np.int32): i32,
    np.dtype(np.int64): i64,
    np.dtype(np.uint8): IntegerType(8, Signedness.UNSIGNED),
}


def element_type_of(dtype: np.dtype) -> Attribute:
    try:
        return _DTYPE_TO_ELEMENT[np.dtype(dtype)]
    except KeyError:
        raise UnsupportedElementType(f"tensors of dtype {dtype} are not supported") from None


def element_type_to_dtype(element: Attribute) -> np.dtype:
    for dtype, candidate in _DTYPE_TO_ELEMENT.items():
        if candidate == element:
            return dtype
    if isinstance(element, BFloat16Type):
        raise UnsupportedElementType("bfloat16 tensors are not supported; export the model in float32")
    # Low-bit codes (e.g. !fpq.float<e2m1>) are held as one uint8 per element.
    if hasattr(element, "format"):
        return np.dtype(np.uint8)
    raise UnsupportedElementType(f"element type {element} has no numpy equivalent")


def tensor_type_of(array: np.ndarray) -> TensorType:
    return TensorType(element_type_of(array.dtype), array.shape)

