"""weights.npz is written from the quantize stage on, beside the later stages: it holds exactly the
weights the final IR refers to, in IR order, also when a later stage changed which weights are live."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from fpqc import compiler
from fpqc.weights import active_store

DIGITS = Path(__file__).resolve().parents[3] / "examples" / "digits" / "var.onnx"


def referenced_keys(build: Path) -> list[str]:
    keys: list[str] = []
    for key in re.findall(r"dense_resource<([^>]+)>", (build / "model.hls.mlir").read_text()):
        if key not in keys:
            keys.append(key)
    return keys


def npz_keys(build: Path) -> list[str]:
    with zipfile.ZipFile(build / "weights.npz") as archive:
        return [name.removesuffix(".npy") for name in archive.namelist()]


def test_the_weights_are_those_of_the_final_ir(tmp_path: Path) -> None:
    compiler.compile_model(DIGITS, tmp_path / "build", format_name="fp4")
    assert npz_keys(tmp_path / "build") == referenced_keys(tmp_path / "build")


def test_weights_npz_is_rewritten_when_a_later_stage_drops_a_weight(tmp_path: Path, monkeypatch) -> None:
    """The early write sees one weight more than the final IR refers to (as if a later stage had dropped it)."""
    live_keys = compiler._live_weight_keys
    calls: list[list[str]] = []

    def one_more_at_first(module) -> list[str]:
        keys = live_keys(module)
        if not calls:
            keys.append(next(k for k in active_store().keys() if k not in keys))
        calls.append(keys)
        return keys

    monkeypatch.setattr(compiler, "_live_weight_keys", one_more_at_first)
    compiler.compile_model(DIGITS, tmp_path / "build", format_name="fp4")
    assert len(calls) == 2 and len(calls[0]) == len(calls[1]) + 1
    assert npz_keys(tmp_path / "build") == referenced_keys(tmp_path / "build") == calls[1]
