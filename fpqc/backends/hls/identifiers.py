"""Names in the generated files: C identifiers and the raw tensor files of the C simulation."""

from __future__ import annotations

import re


def c_identifier(text: str, taken: set[str]) -> str:
    """A C identifier derived from ``text``, unique within ``taken`` (which it joins)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "v"
    if base[0].isdigit():
        base = "v_" + base
    name, n = base, 1
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name


def raw_file_name(onnx_name: str) -> str:
    """The raw little-endian float32 file of a model input or output in the C simulation."""
    return (re.sub(r"[^A-Za-z0-9_.-]", "_", onnx_name) or "tensor") + ".f32"
