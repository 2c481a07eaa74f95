"""ONNX's data-type codes (``TensorProto.DataType``) and their numpy dtypes.

The codes of numpy's own types are fixed by ONNX's wire format (``onnx.proto``)::

    FLOAT 1   UINT8 2   INT8 3   UINT16 4   INT16 5   INT32 6   INT64 7   BOOL 9
    FLOAT16 10   DOUBLE 11   UINT32 12   UINT64 13   COMPLEX64 14   COMPLEX128 15

and are looked up here.  Every other code (strings, bfloat16, the float8, float4
and int4 types, codes added later) is asked of the onnx package, imported only
then: its import brings ml_dtypes, which takes 1.5-2 s of CPU, and a model
made of numpy's types never needs it.
"""

from __future__ import annotations

import numpy as np

FLOAT = 1
UINT8 = 2
INT8 = 3
UINT16 = 4
INT16 = 5
INT32 = 6
INT64 = 7
BOOL = 9
FLOAT16 = 10
DOUBLE = 11
UINT32 = 12
UINT64 = 13
COMPLEX64 = 14
COMPLEX128 = 15

NUMPY_DTYPES: dict[int, np.dtype] = {
    FLOAT: np.dtype(np.float32),
    UINT8: np.dtype(np.uint8),
    INT8: np.dtype(np.int8),
    UINT16: np.dtype(np.uint16),
    INT16: np.dtype(np.int16),
    INT32: np.dtype(np.int32),
    INT64: np.dtype(np.int64),
    BOOL: np.dtype(np.bool_),
    FLOAT16: np.dtype(np.float16),
    DOUBLE: np.dtype(np.float64),
    UINT32: np.dtype(np.uint32),
    UINT64: np.dtype(np.uint64),
    COMPLEX64: np.dtype(np.complex64),
    COMPLEX128: np.dtype(np.complex128),
}
"""The numpy dtype of each code of numpy's own types."""


def numpy_dtype(code: int) -> np.dtype:
    """The numpy dtype of the ONNX data-type ``code``; ``KeyError`` for a code ONNX does not define."""
    dtype = NUMPY_DTYPES.get(code)
    if dtype is not None:
        return dtype
    from onnx import helper  # the types of ml_dtypes and strings: see the module docstring

    return np.dtype(helper.tensor_dtype_to_np_dtype(code))
