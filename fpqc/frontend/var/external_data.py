"""Saving an exported ONNX model with its weights in one external-data file, a tensor at a time.

``onnx.load(raw, load_external_data=True)`` followed by ``onnx.save_model(model, path,
save_as_external_data=True, all_tensors_to_one_file=True, location=..., size_threshold=1024)``
holds every weight in memory, twice while it serializes: 16 GB and more for VAR-d30.
:func:`save_streamed` writes the same bytes -- each initializer with ``raw_data`` of at least
``size_threshold`` bytes as Python counts them (``sys.getsizeof``) appended to the data file in
graph order, the others inline -- with one tensor in memory at a time.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from fpqc.files.model_paths import file_beside
from fpqc.frontend.onnx_import import onnx_messages as onnx


def _source(tensor: onnx.TensorProto, model_path: Path) -> tuple[Path, int, int] | None:
    """(file, offset, length) of an initializer stored as external data beside ``model_path``, else None."""
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return None
    info = {entry.key: entry.value for entry in tensor.external_data}
    file = file_beside(model_path, info.get("location", ""))
    if file is None:
        raise ValueError(f"initializer '{tensor.name}' is stored outside the exported model's directory")
    offset = int(info.get("offset", 0))
    length = int(info["length"]) if "length" in info else file.stat().st_size - offset
    return file, offset, length


def _attribute_tensors(graph: onnx.GraphProto):
    """The tensors held by the attributes of ``graph``'s nodes (and of their subgraphs)."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for subgraph in [attribute.g] if attribute.HasField("g") else []:
                yield from _attribute_tensors(subgraph)
            for subgraph in attribute.graphs:
                yield from _attribute_tensors(subgraph)


def save_streamed(
    model: onnx.ModelProto,
    model_path: Path,
    path: Path,
    location: str | None,
    size_threshold: int = 1024,
    progress: Callable[[int], None] = lambda n: None,
) -> None:
    """Write ``model`` (loaded from ``model_path`` without its external data) to ``path``.

    With ``location``, large initializers go into that file beside ``path`` (module
    docstring); without, every initializer is stored inline.  Tensors of node attributes
    (a ``Constant``'s value) are stored inline either way.  External data files beside
    ``model_path`` are deleted as soon as their last tensor is copied.
    ``progress`` is called with the bytes of each tensor written.
    """
    initializers, attributes = list(model.graph.initializer), list(_attribute_tensors(model.graph))
    # (keyed by the message objects of these two lists, which stay alive throughout)
    sources = {id(tensor): _source(tensor, model_path) for tensor in [*initializers, *attributes]}
    readers = Counter(source[0] for source in sources.values() if source is not None)

    def read(tensor: onnx.TensorProto) -> bytes:
        file, offset, length = sources[id(tensor)]
        with open(file, "rb") as f:
            f.seek(offset)
            raw = f.read(length)
        readers[file] -= 1
        if readers[file] == 0:
            file.unlink()
        return raw

    for tensor in attributes:  # (a Constant's value) stored inline, as onnx.load(load_external_data=True) leaves it
        if sources[id(tensor)] is not None:
            tensor.raw_data = read(tensor)
            tensor.data_location = onnx.TensorProto.DEFAULT
            del tensor.external_data[:]
    data = open(path.parent / location, "wb") if location is not None else None
    try:
        for tensor in initializers:
            source = sources[id(tensor)]
            if source is not None:
                raw = read(tensor)
            elif tensor.HasField("raw_data"):
                raw = tensor.raw_data
            else:
                continue
            del tensor.external_data[:]
            if data is not None and sys.getsizeof(raw) >= size_threshold:
                tensor.ClearField("raw_data")
                tensor.data_location = onnx.TensorProto.EXTERNAL
                offset = data.tell()
                data.write(raw)
                for key, value in (("location", location), ("offset", offset), ("length", len(raw))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, str(value)
            elif source is not None:  # as onnx.load(load_external_data=True) leaves it
                tensor.raw_data = raw
                tensor.data_location = onnx.TensorProto.DEFAULT
            progress(len(raw))
            del raw
    finally:
        if data is not None:
            data.close()
    path.write_bytes(model.SerializeToString())
