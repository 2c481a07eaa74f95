"""ONNX's protobuf messages and the values they hold, without importing the onnx package.

``import onnx`` imports ml_dtypes (for bfloat16 and the float8 types), which takes
1.5-2 s of CPU here -- a fifth of compiling VAR-d16 -- while a model made of float32
and int64 tensors needs none of it.  The messages are the onnx package's own
generated module (``onnx/onnx_ml_pb2.py``), run by path without the package's
``__init__``; protobuf makes one class per message type, so ``ModelProto`` here *is*
``onnx.ModelProto``, whether onnx is imported before or after::

    model = load_model_proto(path)              # onnx.load(path, load_external_data=False)
    to_array(model.graph.initializer[0])        # onnx.numpy_helper.to_array
    attribute_value(node.attribute[0])          # onnx.helper.get_attribute_value

A tensor of a type numpy lacks (bfloat16, float8, float4, int4, strings) and a model
in one of onnx's text formats are handed to the onnx package, imported then.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from fpqc.dialects.onnx.data_types import (
    BOOL,
    COMPLEX64,
    COMPLEX128,
    DOUBLE,
    FLOAT,
    FLOAT16,
    INT8,
    INT16,
    INT32,
    INT64,
    NUMPY_DTYPES,
    UINT8,
    UINT16,
    UINT32,
    UINT64,
)

TEXT_FORMAT_SUFFIXES = frozenset({".txtpb", ".textproto", ".prototxt", ".pbtxt", ".json", ".onnxjson", ".onnxtxt",
                                  ".onnxtext"})
"""File suffixes that onnx.load reads as a text format rather than binary protobuf."""


def _generated_module() -> ModuleType:
    """The onnx package's generated protobuf module (see the module docstring); the package's own
    attribute where onnx is imported already or lays its files out otherwise."""
    spec = importlib.util.find_spec("onnx")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the onnx package is not installed (pip install onnx)")
    path = Path(next(iter(spec.submodule_search_locations))) / "onnx_ml_pb2.py"
    if "onnx" in sys.modules or not path.is_file():
        import onnx

        return onnx.onnx_ml_pb2
    generated = importlib.util.spec_from_file_location("fpqc_onnx_ml_pb2", path)
    module = importlib.util.module_from_spec(generated)
    generated.loader.exec_module(module)
    return module


_messages = _generated_module()
ModelProto = _messages.ModelProto
GraphProto = _messages.GraphProto
NodeProto = _messages.NodeProto
TensorProto = _messages.TensorProto
AttributeProto = _messages.AttributeProto
ValueInfoProto = _messages.ValueInfoProto


def load_model_proto(path: Path) -> Any:
    """The ``ModelProto`` in the file ``path``, its external data left on disk (as
    ``onnx.load(path, load_external_data=False)``); protobuf's ``DecodeError`` if it is not one."""
    if path.suffix.lower() in TEXT_FORMAT_SUFFIXES:
        import onnx

        return onnx.load(str(path), load_external_data=False)
    serialized = path.read_bytes()
    model = ModelProto()
    decoded = model.ParseFromString(serialized)
    if decoded is not None and decoded != len(serialized):
        from google.protobuf.message import DecodeError

        raise DecodeError(f"protobuf decoding consumed {decoded} of {len(serialized)} bytes")
    return model


_INT32_FIELD_TYPES = {INT32, INT16, INT8, UINT16, UINT8, BOOL}
"""Types whose values a tensor without ``raw_data`` holds in ``int32_data``."""
_FIELD_OF = {FLOAT: "float_data", DOUBLE: "double_data", INT64: "int64_data", UINT32: "uint64_data",
             UINT64: "uint64_data"}
"""The field that holds the values of the other types numpy has (complex numbers are left to onnx)."""


def to_array(tensor: Any) -> np.ndarray:
    """The numpy value of the in-file ``TensorProto`` ``tensor`` (``onnx.numpy_helper.to_array``); a
    ``ValueError`` naming what does not fit."""
    code = tensor.data_type
    if code not in NUMPY_DTYPES or code in (COMPLEX64, COMPLEX128):
        from onnx import numpy_helper

        return numpy_helper.to_array(tensor)
    if tensor.HasField("segment"):
        raise ValueError("tensors stored in segments are not supported")
    if tensor.data_location == TensorProto.EXTERNAL:
        raise ValueError("the tensor's data is external, not in the file")
    dtype = NUMPY_DTYPES[code]
    shape = tuple(tensor.dims)
    if tensor.HasField("raw_data"):
        values = np.frombuffer(tensor.raw_data, dtype=dtype.newbyteorder("<"))  # little-endian on the wire
        return values.astype(dtype, copy=False).reshape(shape)
    if code == FLOAT16:  # its bits, one per int32
        values = np.asarray(tensor.int32_data, dtype=np.uint16).view(np.float16)
    elif code in _INT32_FIELD_TYPES:
        values = np.asarray(tensor.int32_data, dtype=np.int32).astype(dtype)
    else:
        values = np.asarray(getattr(tensor, _FIELD_OF[code]), dtype=dtype)
    return values.reshape(shape)


def attribute_value(attr: Any) -> Any:
    """The value of the ``AttributeProto`` ``attr`` (``onnx.helper.get_attribute_value``): a number,
    bytes, a ``TensorProto``, a graph or a list of them."""
    kinds = AttributeProto
    single = {kinds.FLOAT: "f", kinds.INT: "i", kinds.STRING: "s", kinds.TENSOR: "t", kinds.GRAPH: "g",
              kinds.SPARSE_TENSOR: "sparse_tensor", kinds.TYPE_PROTO: "tp"}
    repeated = {kinds.FLOATS: "floats", kinds.INTS: "ints", kinds.STRINGS: "strings", kinds.TENSORS: "tensors",
                kinds.GRAPHS: "graphs", kinds.SPARSE_TENSORS: "sparse_tensors", kinds.TYPE_PROTOS: "type_protos"}
    if attr.type in single:
        return getattr(attr, single[attr.type])
    if attr.type in repeated:
        return list(getattr(attr, repeated[attr.type]))
    raise ValueError(f"attribute '{attr.name}' has an unknown type {attr.type}")
