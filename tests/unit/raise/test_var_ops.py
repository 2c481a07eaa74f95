"""Interpreter semantics of the VAR fpq ops against torch, and the block-causal mask reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xdsl.parser import Parser

from fpqc.backends.interp.runner import run_module
from fpqc.context import make_context
from fpqc.passes.raising.attention import block_causal_boundaries

PROGRAM = """
func.func @main(%x: tensor<2x6x8xf32>, %qkv: tensor<2x6x24xf32>, %qs: tensor<2xf32>,
                %sc: tensor<2x1x8xf32>, %sh: tensor<2x1x8xf32>, %m: tensor<1x1x6x6xf32>,
                %tab: tensor<11x8xf32>, %lab: tensor<2xi64>)
    -> (tensor<2x6x8xf32>, tensor<2x6x8xf32>, tensor<2x6x8xf32>, tensor<2x6x8xf32>, tensor<2x8xf32>,
        tensor<2x1x4xf32>, tensor<2x1x4xf32>) {
  %n = fpq.layernorm %x {eps = 1.0e-06 : f32} : tensor<2x6x8xf32>
  %mod = fpq.modulate %n, %sc, %sh : (tensor<2x6x8xf32>, tensor<2x1x8xf32>, tensor<2x1x8xf32>) -> tensor<2x6x8xf32>
  %a = fpq.attention %qkv, %qs {num_heads = 2 : i64, eps = 1.0e-12 : f32, block_causal = array<i64: 0, 1, 2, 6>} : (tensor<2x6x24xf32>, tensor<2xf32>) -> tensor<2x6x8xf32>
  %b = fpq.attention %qkv, %qs, %m {num_heads = 2 : i64, eps = 1.0e-12 : f32} : (tensor<2x6x24xf32>, tensor<2xf32>, tensor<1x1x6x6xf32>) -> tensor<2x6x8xf32>
  %e = fpq.embedding %tab[%lab] : (tensor<11x8xf32>, tensor<2xi64>) -> tensor<2x8xf32>
  %s = fpq.silu %e : tensor<2x8xf32>
  %p0, %p1 = fpq.split %e : tensor<2x8xf32> -> (tensor<2x1x4xf32>, tensor<2x1x4xf32>)
  %g = fpq.constant dense<0.5> : tensor<2x1x8xf32>
  %r = fpq.residual %x, %mod, %g : (tensor<2x6x8xf32>, tensor<2x6x8xf32>, tensor<2x1x8xf32>) -> tensor<2x6x8xf32>
  func.return %mod, %a, %b, %r, %s, %p0, %p1 : tensor<2x6x8xf32>, tensor<2x6x8xf32>, tensor<2x6x8xf32>,
      tensor<2x6x8xf32>, tensor<2x8xf32>, tensor<2x1x4xf32>, tensor<2x1x4xf32>
}
"""

VAR_MASK_BOUNDS = [0, 1, 2, 6]


def _block_causal_mask(bounds: list[int]) -> np.ndarray:
    length = bounds[-1]
    ends = np.repeat(bounds[1:], np.diff(bounds))
    allowed = np.arange(length)[None, :] < ends[:, None]
    return np.where(allowed, 0.0, -np.inf).astype(np.float32)


def _torch_attention(qkv, q_scale, mask):
    b, length, c3 = qkv.shape
    q, k, v = torch.tensor(qkv).view(b, length, 3, 2, -1).permute(2, 0, 3, 1, 4).unbind(0)
    q = F.normalize(q, dim=-1).mul(torch.tensor(q_scale).view(1, 2, 1, 1))
    k = F.normalize(k, dim=-1)
    att = (q @ k.transpose(-2, -1) + torch.tensor(mask)).softmax(-1) @ v
    return att.transpose(1, 2).reshape(b, length, c3 // 3).numpy()


@pytest.fixture(scope="module")
def results():
    module = Parser(make_context(), PROGRAM).parse_module()
    module.verify()
    rng = np.random.default_rng(0)
    inputs = {
        "arg0": rng.standard_normal((2, 6, 8), np.float32),
        "arg1": rng.standard_normal((2, 6, 24), np.float32),
        "arg2": np.array([4.0, 2.5], np.float32),
        "arg3": rng.standard_normal((2, 1, 8), np.float32),
        "arg4": rng.standard_normal((2, 1, 8), np.float32),
        "arg5": rng.standard_normal((1, 1, 6, 6), np.float32),
        "arg6": rng.standard_normal((11, 8), np.float32),
        "arg7": np.array([3, -1], np.int64),
    }
    return inputs, run_module(module, inputs)


def test_layernorm_and_modulate(results):
    inputs, out = results
    x = torch.tensor(inputs["arg0"])
    ref = F.layer_norm(x, (8,), eps=1e-6) * (1 + torch.tensor(inputs["arg3"])) + torch.tensor(inputs["arg4"])
    np.testing.assert_allclose(out["result0"], ref.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["result3"], inputs["arg0"] + out["result0"] * 0.5, rtol=1e-6)


def test_attention_block_causal_and_explicit_mask(results):
    inputs, out = results
    qkv, qs = inputs["arg1"], inputs["arg2"]
    ref = _torch_attention(qkv, qs, _block_causal_mask(VAR_MASK_BOUNDS))
    np.testing.assert_allclose(out["result1"], ref, rtol=1e-5, atol=1e-6)
    ref = _torch_attention(qkv, qs, inputs["arg5"])
    np.testing.assert_allclose(out["result2"], ref, rtol=1e-5, atol=1e-6)


def test_embedding_silu_split(results):
    inputs, out = results
    table = inputs["arg6"]
    e = table[[3, 10]]
    np.testing.assert_allclose(out["result4"], F.silu(torch.tensor(e)).numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out["result5"][:, 0], e[:, :4])
    np.testing.assert_array_equal(out["result6"][:, 0], e[:, 4:])


@pytest.mark.parametrize(
    ("bounds"),
    [[0, 1, 5, 14, 30], [0, 1, 2, 3, 4], [0, 4]],
    ids=["var", "causal", "full"],
)
def test_block_causal_boundaries(bounds):
    mask = _block_causal_mask(bounds)
    assert block_causal_boundaries(mask[None, None]) == bounds


def test_not_block_causal():
    mask = _block_causal_mask([0, 1, 5, 14, 30])
    sliding = mask.copy()
    sliding[20, 0] = -np.inf  # a query that no longer sees the first token
    assert block_causal_boundaries(sliding) is None
    soft = mask.copy()
    soft[soft == -np.inf] = -1e9  # large negative, not -inf
    assert block_causal_boundaries(soft) is None
    assert block_causal_boundaries(mask.T.copy()) is None  # anti-causal
    assert block_causal_boundaries(np.zeros((2, 1, 4, 4), np.float32)) is None  # per-batch masks
