"""The weight blob: the constants of a build's schedules in ``weights.bin``, described by ``weights.json``.

Entries are 64-byte aligned and little-endian: f32 (or the host dtype) values as
they are, low-bit codes packed into 32-bit words (:mod:`fpqc.backends.hls.codes`).
A constant used by several functions (``@main``, the step program) is stored once. The blob is
written entry by entry, one weight in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm
from xdsl.ir import Operation

from fpqc.backends.hls.buffer import Buffer
from fpqc.backends.hls.codes import WORD_LAYOUT, pack_codes
from fpqc.weights import resolve

WEIGHT_ALIGNMENT = 64


def write_weight_blob(constants: Iterable[tuple[Buffer, Operation]], path: Path) -> dict:
    """Write ``constants`` (buffer, constant op), in order, to ``weights.bin`` at ``path`` and return
    the ``weights.json`` manifest (store must be active)."""
    entries = []
    seen: set[str] = set()
    offset = 0
    with open(path, "wb") as blob:
        for buffer, op in tqdm(constants, desc=path.name, unit="weight", disable=None, leave=False):
            if buffer.weight in seen:
                continue
            seen.add(buffer.weight)
            array = np.asarray(resolve(op.value))
            if buffer.fmt is None:
                data = np.ascontiguousarray(array, dtype=np.dtype(buffer.host_dtype or "float32").newbyteorder("<"))
                packing = None
            else:
                data = pack_codes(array, buffer.fmt.bits)
                packing = {
                    "format": buffer.fmt.name,
                    "bits": buffer.fmt.bits,
                    "codes_per_word": 32 // buffer.fmt.bits,
                    "word": WORD_LAYOUT,
                }
            padding = -offset % WEIGHT_ALIGNMENT
            blob.write(b"\0" * padding)
            offset += padding
            entries.append(
                {
                    "name": buffer.weight,
                    "offset": offset,
                    "bytes": data.nbytes,
                    "dtype": buffer.dtype if packing is None else "u32",
                    "shape": list(buffer.shape),
                    "packing": packing,
                }
            )
            blob.write(data.reshape(-1).view(np.uint8).data)
            offset += data.nbytes
    return {"alignment": WEIGHT_ALIGNMENT, "total_bytes": offset, "entries": entries}
