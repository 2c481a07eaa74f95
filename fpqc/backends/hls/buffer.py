"""A tensor in the memory of the host or a kernel port: shape, element layout and size."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fpqc.backends.hls.codes import words_for
from fpqc.numerics import Format


@dataclass
class Buffer:
    """One tensor of the host schedule, or one port of a kernel."""

    name: str
    kind: str  # input | weight | intermediate | output; kernel ports: in | out
    shape: tuple[int, ...]
    fmt: Format | None  # None: f32 (or, on the host only, the numpy dtype ``host_dtype``)
    file: str | None = None  # inputs: raw file name for the C simulation
    weight: str | None = None  # weights: entry name in weights.json
    host_dtype: str | None = None  # a tensor neither f32 nor codes (host ops only), e.g. "int64"
    offset: int | None = None  # weights: byte offset in weights.bin (set by emit_build)
    value: int | None = None  # scalars: the constant (a KV-cache offset)
    values: list | None = None  # a host constant held inline in the IR: its values, row-major

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def words(self) -> int:
        """32-bit words in memory (f32 values, or packed code words)."""
        return self.elements if self.fmt is None else words_for(self.elements, self.fmt.bits)

    @property
    def dtype(self) -> str:
        if self.fmt is not None:
            return "packed_codes"
        return self.host_dtype or "f32"

    @property
    def nbytes(self) -> int:
        if self.host_dtype is not None:
            return self.elements * np.dtype(self.host_dtype).itemsize
        return 4 * self.words

    @property
    def c_type(self) -> str:
        """The C++ element type of the buffer in memory: f32 values or packed code words."""
        return "float" if self.fmt is None else "uint32_t"

    def layout(self) -> dict:
        """Shape, dtype and, for codes, format and bits (JSON)."""
        out: dict = {"shape": list(self.shape), "dtype": self.dtype}
        if self.fmt is not None:
            out["format"], out["bits"] = self.fmt.name, self.fmt.bits
        return out

    def _weight_entry(self) -> dict:
        if self.weight is None:
            return {}
        if self.offset is None:
            return {"weight": self.weight}
        return {"weight": self.weight, "offset": self.offset}

    def ref(self) -> dict:
        """How a step refers to this buffer (JSON)."""
        return {"buffer": self.name, **self.layout(), **self._weight_entry()}

    def to_json(self) -> dict:
        """This buffer's entry in host_schedule.json's ``buffers``."""
        out = {"name": self.name, "kind": self.kind, "bytes": self.nbytes, **self.layout(), **self._weight_entry()}
        if self.file is not None:
            out["file"] = self.file
        if self.value is not None:
            out["value"] = self.value
        if self.values is not None:
            out["values"] = self.values
        return out
