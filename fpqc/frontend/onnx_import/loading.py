"""Reading an ONNX file safely, and the checks made before anything is built.

The protobuf is loaded without its external data.  Initializers are read
lazily by :class:`TensorReader` as read-only views, never copies: external
data is a :class:`~fpqc.weights.LazyWeight` memory-mapped from the file its
``location`` names on each read and unmapped when the reader is done with it,
so a large model is never resident at once; the file must lie inside the
model's folder (:func:`~fpqc.files.model_paths.file_beside`).  In-file
``raw_data`` is wrapped with ``np.frombuffer``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpqc.dialects.onnx import ONNX_OPS
from fpqc.dialects.onnx.data_types import numpy_dtype
from fpqc.errors import FpqcError
from fpqc.files.model_paths import file_beside
from fpqc.frontend.onnx_import import onnx_messages as onnx
from fpqc.weights import Entry, LazyWeight

DEFAULT_DOMAINS = ("", "ai.onnx")
"""The domain names of the default ONNX op set."""

OPSETS = range(7, 22)
"""The opsets of the default domain whose op semantics fpqc implements (7 to 21)."""


def load_model(path: Path) -> onnx.ModelProto:
    """The model's protobuf; external data stays on disk (see :class:`TensorReader`)."""
    if not path.exists():
        raise FpqcError(f"{path}: no such file")
    if not path.is_file():
        raise FpqcError(f"{path}: not an ONNX model (not a file)")
    try:
        model = onnx.load_model_proto(path)
    except Exception as e:  # noqa: BLE001 -- protobuf raises several kinds of decode errors
        raise FpqcError(f"{path}: not an ONNX model ({first_line(e)})") from None
    if model.ir_version == 0 or not model.HasField("graph"):
        raise FpqcError(f"{path}: not an ONNX model (no IR version or graph)")
    return model


class TensorReader:
    """Initializer values as read-only views, never copies of the weights.

    External data is a lazy weight that memory-maps its bytes on each read
    (checked now: the file, offset and length); in-file ``raw_data`` is wrapped
    with ``np.frombuffer``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def entry(self, tensor: onnx.TensorProto) -> Entry:
        """The initializer's value: a read-only view where the data allows, a lazy weight for external data."""
        try:
            dtype = numpy_dtype(tensor.data_type).newbyteorder("<")
        except (KeyError, TypeError):
            raise FpqcError(f"{self.path}: initializer '{tensor.name}' has unknown data type {tensor.data_type}") from None
        shape = tuple(tensor.dims)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            return self._external(tensor, dtype, shape, nbytes)
        if any(d < 0 for d in shape):
            raise FpqcError(f"{self.path}: initializer '{tensor.name}' has a negative dimension {list(shape)}")
        if tensor.HasField("raw_data"):
            if len(tensor.raw_data) != nbytes:
                raise FpqcError(
                    f"{self.path}: initializer '{tensor.name}' holds {len(tensor.raw_data)} bytes, "
                    f"its shape {list(shape)} needs {nbytes}"
                )
            return np.frombuffer(tensor.raw_data, dtype=dtype).reshape(shape)
        try:
            return onnx.to_array(tensor)
        except (ValueError, TypeError) as e:
            raise FpqcError(f"{self.path}: initializer '{tensor.name}' cannot be read ({first_line(e)})") from None

    def _external(self, tensor: onnx.TensorProto, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> Entry:
        info = {entry.key: entry.value for entry in tensor.external_data}
        where = f"{self.path}: cannot read the model's external data: initializer '{tensor.name}'"
        location = info.get("location", "")
        file = file_beside(self.path, location)
        if file is None:
            raise FpqcError(
                f"{where} is stored in '{location}', which is outside the model's directory; fpqc reads only "
                "files beside the model (as onnx.load does): move the data file next to the model"
            )
        if not file.is_file():
            raise FpqcError(f"{where} is stored in '{location}', which is not a file next to the model ({file})")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", nbytes))
        except ValueError:
            raise FpqcError(f"{where} has an offset or length that is not a number ({info})") from None
        if offset < 0:
            raise FpqcError(f"{where} starts at byte {offset} of '{location}', before the file's start")
        if length != nbytes:
            raise FpqcError(f"{where} has {length} bytes in '{location}', its shape {list(shape)} needs {nbytes}")
        if nbytes == 0:
            return np.zeros(shape, dtype)
        size = file.stat().st_size
        if offset + nbytes > size:
            raise FpqcError(f"{where} ends at byte {offset + nbytes} of '{location}', which has {size}")
        return LazyWeight(shape, dtype, lambda: self._map(tensor.name, file, dtype, offset, shape))

    def _map(self, name: str, file: Path, dtype: np.dtype, offset: int, shape: tuple[int, ...]) -> np.ndarray:
        """The bytes of initializer ``name`` in ``file``, memory-mapped read-only (unmapped with the array)."""
        try:
            return np.asarray(np.memmap(file, dtype, "r", offset, shape))
        except (OSError, ValueError) as e:
            raise FpqcError(
                f"{self.path}: cannot read the model's external data: initializer '{name}' in '{file.name}' "
                f"({getattr(e, 'strerror', None) or e}); was the file changed or removed while fpqc ran?"
            ) from None


def external_data_files(path: Path, model: onnx.ModelProto) -> list[Path]:
    """The files beside ``path`` that hold ``model``'s external data, each once, in order of first mention.

    (Locations outside the model's directory are left out: reading them is refused.)
    """
    tensors = [*model.graph.initializer]
    tensors += [a.t for n in model.graph.node if n.op_type == "Constant" for a in n.attribute if a.HasField("t")]
    files: dict[Path, None] = {}
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            file = file_beside(path, location)
            if file is not None and file.is_file():
                files[file] = None
    return list(files)


def first_line(error: Exception) -> str:
    """The first line of ``error``'s message (its type name when empty), for one-line errors."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def default_opset(model: onnx.ModelProto) -> int:
    """The model's opset version of the default domain."""
    for opset in model.opset_import:
        if opset.domain in DEFAULT_DOMAINS:
            return opset.version
    return 1


def describe_node(node: onnx.NodeProto, index: int) -> str:
    """How errors name the node: ``node 'name' (OpType)``, ``#index`` for an unnamed one."""
    name = node.name or f"#{index}"
    domain = f"{node.domain}." if node.domain not in DEFAULT_DOMAINS else ""
    return f"node '{name}' ({domain}{node.op_type})"


def check_supported(path: Path, graph: onnx.GraphProto, opset: int) -> None:
    """The opset is one of :data:`OPSETS`, the graph has outputs, and every node is an op of
    :data:`~fpqc.dialects.onnx.ONNX_OPS` in the default domain."""
    if opset not in OPSETS:
        raise FpqcError(
            f"{path}: opset {opset} of the default domain is not supported (fpqc implements opsets "
            f"{OPSETS.start} to {OPSETS.stop - 1}); export the model at opset 17 or 18"
        )
    if not graph.output:
        raise FpqcError(f"{path}: the graph has no outputs, so there is nothing to compute")
    for index, node in enumerate(graph.node):
        if node.domain not in DEFAULT_DOMAINS or node.op_type not in ONNX_OPS:
            raise FpqcError(
                f"{path}: {describe_node(node, index)}: op type '{node.op_type}' of opset {opset} "
                f"is not supported; supported ops: {', '.join(sorted(ONNX_OPS))}"
            )

