"""KV6 semantics: which keys and values a quantized KV cache changes (kv_scope), against float64 references.

The reference is written from the definition, not from fpqc's code: float64
attention per scale in which the keys and values of earlier scales are rounded
to the E2M3 grid with one scale per token and head (absmax / 7.5, values
clipped to ±7.5 and rounded to the nearest of E2M3's 32 magnitudes), and those
of the current scale are used as they are -- or rounded too, for ``all``.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.utils.exceptions import VerifyException

from xdsl.parser import Parser

from fpqc.backends.interp.runner import run_module
from fpqc.compiler import run_pipeline
from fpqc.context import make_context
from fpqc.errors import FpqcError

B, HEADS, D = 2, 2, 16
C = HEADS * D
BOUNDS = (0, 1, 5, 14)  # scales of 1, 4 and 9 tokens
L = BOUNDS[-1]
EPS = 1e-12



def _e2m3_grid() -> np.ndarray:
    """E2M3 magnitudes: subnormals m/8, normals (1 + m/8)·2^(e-1) for e = 1..3 (max 7.5)."""
    subnormal = [m / 8 for m in range(8)]
    normal = [(1 + m / 8) * 2.0 ** (e - 1) for e in range(1, 4) for m in range(8)]
    return np.array(sorted(subnormal + normal))


GRID = _e2m3_grid()


def _round_e2m3_rows(x: np.ndarray) -> np.ndarray:
    """Round every last-axis row to E2M3 with scale absmax / 7.5 (float64, nearest grid point)."""
    scale = np.abs(x).max(axis=-1, keepdims=True) / GRID[-1]
    scale = np.where(scale == 0, 1.0, scale)
    y = np.abs(x) / scale
    nearest = GRID[np.abs(y[..., None] - GRID).argmin(axis=-1)]
    return np.sign(x) * nearest * scale


def _reference(qkv: np.ndarray, q_scale: np.ndarray, every_key: bool) -> np.ndarray:
    x = qkv.astype(np.float64)
    q, k, v = (x[..., i * C:(i + 1) * C].reshape(B, L, HEADS, D).transpose(0, 2, 1, 3) for i in range(3))
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), EPS) * q_scale.reshape(1, HEADS, 1, 1)
    k = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), EPS)
    kq, vq = _round_e2m3_rows(k), _round_e2m3_rows(v)
    out = np.empty_like(q)
    for begin, end in zip(BOUNDS, BOUNDS[1:]):
        own_k, own_v = (kq, vq) if every_key else (k, v)
        keys = np.concatenate([kq[:, :, :begin], own_k[:, :, begin:end]], axis=2)
        values = np.concatenate([vq[:, :, :begin], own_v[:, :, begin:end]], axis=2)
        s = q[:, :, begin:end] @ keys.transpose(0, 1, 3, 2)
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        out[:, :, begin:end] = (p / p.sum(axis=-1, keepdims=True)) @ values
    return out.transpose(0, 2, 1, 3).reshape(B, L, C)


def parse(text: str):
    return Parser(make_context(), text).parse_module()


def run_pass_pipeline(module, spec: str) -> None:
    run_pipeline(module, spec, "kv-quantize")


def _module(pipeline: str | None):
    qkv, out = f"tensor<{B}x{L}x{3 * C}xf32>", f"tensor<{B}x{L}x{C}xf32>"
    bounds = ", ".join(str(b) for b in BOUNDS)
    module = parse(f"""
func.func @main(%qkv: {qkv} {{onnx.name = "qkv"}}, %s: tensor<{HEADS}xf32> {{onnx.name = "q_scale"}})
    -> ({out} {{onnx.name = "out"}}) {{
  %o = fpq.attention %qkv, %s {{num_heads = {HEADS} : i64, eps = {EPS:e} : f32, block_causal = array<i64: {bounds}>}}
      : ({qkv}, tensor<{HEADS}xf32>) -> {out}
  func.return %o : {out}
}}
""")
    if pipeline:
        run_pass_pipeline(module, pipeline)
    return module


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    qkv = (rng.standard_normal((B, L, 3 * C)) * rng.uniform(0.1, 4.0, 3 * C)).astype(np.float32)
    return {"qkv": qkv, "q_scale": rng.uniform(2.0, 12.0, HEADS).astype(np.float32)}


@pytest.mark.parametrize("every_key", [False, True], ids=["cached", "all"])
def test_kv6_scopes_match_float64_reference(inputs, every_key):
    pipeline = "kv-quantize{format=e2m3 scope=all}" if every_key else "kv-quantize{format=e2m3}"
    got = run_module(_module(pipeline), inputs)["out"]
    want = _reference(inputs["qkv"], inputs["q_scale"], every_key)
    other = _reference(inputs["qkv"], inputs["q_scale"], not every_key)
    error = np.abs(got - want).max()
    assert error < 1e-5, error
    # the two semantics differ by far more than the fp32 rounding of either
    assert np.abs(got - other).max() > 100 * error
    # the first scale has no earlier keys: under "cached" it is exactly the float attention's
    plain = run_module(_module(None), inputs)["out"]
    first = np.array_equal(got[:, :1], plain[:, :1])
    assert first is not every_key


def test_cached_scope_needs_scales():
    module = parse(f"""
func.func @main(%qkv: tensor<1x4x{3 * C}xf32>, %s: tensor<{HEADS}xf32>) -> tensor<1x4x{C}xf32> {{
  %o = fpq.attention %qkv, %s {{num_heads = {HEADS} : i64, eps = {EPS:e} : f32}}
      : (tensor<1x4x{3 * C}xf32>, tensor<{HEADS}xf32>) -> tensor<1x4x{C}xf32>
  func.return %o : tensor<1x4x{C}xf32>
}}
""")
    with pytest.raises(FpqcError, match="no block_causal scales"):
        run_pass_pipeline(module, "kv-quantize")
    run_pass_pipeline(module, "kv-quantize{scope=all}")
    module.verify()
    with pytest.raises(FpqcError, match="scope must be one of"):
        run_pass_pipeline(module, "kv-quantize{scope=some}")


def test_kv_scope_attribute_is_checked():
    with pytest.raises(VerifyException, match="kv_scope must be one of"):
        parse(f"""
func.func @main(%qkv: tensor<1x5x{3 * C}xf32>, %s: tensor<{HEADS}xf32>) -> tensor<1x5x{C}xf32> {{
  %o = fpq.attention %qkv, %s {{num_heads = {HEADS} : i64, eps = {EPS:e} : f32, block_causal = array<i64: 0, 1, 5>,
      kv_quant = #fpq.quant<e2m3, token>, kv_scope = "some"}}
      : (tensor<1x5x{3 * C}xf32>, tensor<{HEADS}xf32>) -> tensor<1x5x{C}xf32>
  func.return %o : tensor<1x5x{C}xf32>
}}
""").verify()
