"""The weight blob: the constants of a build's schedules in ``weights.bin``, described by ``weights.json``.

Entries are 64-byte aligned and little-endian: f32 (or the host dtype) values as
they are, low-bit codes packed into 32-bit words (:mod:`fpqc.backends.hls.codes`).
A constant used by several functions (``@main``, the step program) is stored once.
"""

from __future__ import annotations

import numpy as np

from collections.abc import Iterable

from xdsl.ir import Operation

from fpqc.backends.hls.buffer import Buffer
from fpqc.backends.hls.codes import WORD_LAYOUT, pack_codes
from fpqc.weights import resolve

WEIGHT_ALIGNMENT = 64


def pack_weights(constants: Iterable[tuple[Buffer, Operation]]) -> tuple[bytes, dict]:
    """weights.bin contents and the weights.json manifest of ``constants`` (buffer, constant op),
    in order (store must be active)."""
    blob = bytearray()
    entries = []
    seen: set[str] = set()
    for buffer, op in constants:
        if buffer.weight in seen:
            continue
        seen.add(buffer.weight)
        array = np.asarray(resolve(op.value))
        if buffer.fmt is None:
            dtype = np.dtype(buffer.host_dtype or "float32").newbyteorder("<")
            data = np.ascontiguousarray(array, dtype=dtype).tobytes()
            packing = None
        else:
            data = pack_codes(array, buffer.fmt.bits).tobytes()
            packing = {
                "format": buffer.fmt.name,
                "bits": buffer.fmt.bits,
                "codes_per_word": 32 // buffer.fmt.bits,
                "word": WORD_LAYOUT,
            }
        blob.extend(b"\0" * (-len(blob) % WEIGHT_ALIGNMENT))
        entries.append(
            {
                "name": buffer.weight,
                "offset": len(blob),
                "bytes": len(data),
                "dtype": buffer.dtype if packing is None else "u32",
                "shape": list(buffer.shape),
                "packing": packing,
            }
        )
        blob.extend(data)
    manifest = {"alignment": WEIGHT_ALIGNMENT, "total_bytes": len(blob), "entries": entries}
    return bytes(blob), manifest
