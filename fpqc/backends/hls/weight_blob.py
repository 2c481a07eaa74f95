"""The weight blob: the constants of a build's schedules in ``weights.bin``, described by ``weights.json``.

Entries are 64-byte aligned and little-endian: f32 (or the host dtype) values as
they are, low-bit codes packed into 32-bit words (:mod:`fpqc.backends.hls.codes`).
A constant used by several functions (``@main``, the step program) is stored once. The layout
(:func:`weight_blob`) comes first, from the buffers alone; the blob is then written entry by
entry, one weight in memory at a time (by the compile's background writer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm
from xdsl.ir import Operation

from fpqc.backends.hls.buffer import Buffer
from fpqc.backends.hls.codes import WORD_LAYOUT, pack_codes
from fpqc.weights import resolve

WEIGHT_ALIGNMENT = 64


@dataclass
class WeightBlob:
    """Where each constant goes in ``weights.bin`` (:func:`weight_blob`), and the writing of it.

    The layout follows from the buffers alone, so the ``weights.json`` manifest and the
    buffers' offsets are known before a byte is written (:meth:`write` may run later, in
    another thread)."""

    entries: list[dict]
    sources: list[tuple[Buffer, Operation]]
    """the constant stored at each entry"""
    total_bytes: int

    def manifest(self) -> dict:
        """The ``weights.json`` manifest."""
        return {"alignment": WEIGHT_ALIGNMENT, "total_bytes": self.total_bytes, "entries": self.entries}

    def write(self, path: Path) -> None:
        """Write the blob to ``path``, one weight in memory at a time (the weight store must be active)."""
        offset = 0
        with open(path, "wb") as blob:
            for entry, (buffer, op) in tqdm(list(zip(self.entries, self.sources)), desc=path.name, unit="weight",
                                            disable=None, leave=False):
                array = np.asarray(resolve(op.value))
                if buffer.fmt is None:
                    data = np.ascontiguousarray(array, dtype=np.dtype(buffer.host_dtype or "float32").newbyteorder("<"))
                else:
                    data = pack_codes(array, buffer.fmt.bits)
                if data.nbytes != entry["bytes"]:
                    raise ValueError(f"weight {buffer.weight}: {data.nbytes} bytes, its buffer {buffer.nbytes}")
                blob.write(b"\0" * (entry["offset"] - offset))
                blob.write(data.reshape(-1).view(np.uint8).data)
                offset = entry["offset"] + data.nbytes
        assert offset == self.total_bytes


def weight_blob(constants: Iterable[tuple[Buffer, Operation]]) -> WeightBlob:
    """The layout of ``constants`` (buffer, constant op) in ``weights.bin``, in order, each stored once."""
    entries: list[dict] = []
    sources: list[tuple[Buffer, Operation]] = []
    seen: set[str | None] = set()
    offset = 0
    for buffer, op in constants:
        if buffer.weight in seen:
            continue
        seen.add(buffer.weight)
        offset += -offset % WEIGHT_ALIGNMENT
        packing = None if buffer.fmt is None else {
            "format": buffer.fmt.name,
            "bits": buffer.fmt.bits,
            "codes_per_word": 32 // buffer.fmt.bits,
            "word": WORD_LAYOUT,
        }
        entries.append({
            "name": buffer.weight,
            "offset": offset,
            "bytes": buffer.nbytes,
            "dtype": buffer.dtype if packing is None else "u32",
            "shape": list(buffer.shape),
            "packing": packing,
        })
        sources.append((buffer, op))
        offset += buffer.nbytes
    return WeightBlob(entries, sources, offset)
