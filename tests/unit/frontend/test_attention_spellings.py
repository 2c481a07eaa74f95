"""VAR attention in the other spellings the torch exporters write: every block raised, float within 1e-4.

The released code's attention (q, k, v from the packed ``mat_qkv`` output, ``F.normalize`` on q and
k, q times the learned per-head ``scale_mul``) is finished three ways, each exported through
TorchScript (opset 17) and dynamo (opset 18) with the reference ``VAR.forward``, which follows the
released one (``attn_bias_for_masking[:, :, :ed, :ed]``, ``pos_1LC[:, :ed]``, ``.to(main_type)``;
``inference`` leaves out the class dropout):

- ``F.scaled_dot_product_attention(..., scale=0.125)``: both exporters write ``Mul(q, √s)`` and
  ``Mul(kᵀ, √s)`` around the MatMul, folded into the per-head q scale;
- SDPA with the block-causal mask as a boolean ``attn_mask``: an additive 0/-inf (TorchScript) or
  0/finfo.min (dynamo) mask, the softmax guarded by ``Where(IsNaN(p), 0, p)``;
- explicit ``q @ kᵀ`` with ``masked_fill(~mask, -inf)``: ``Where(not_mask, -inf, scores)``.
"""

from __future__ import annotations

import collections
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from fpqc.backends.interp.runner import run_module
from fpqc.compiler import load_onnx, run_pipeline
from fpqc.frontend.var import transformer
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import INPUT_NAMES, OUTPUT_NAMES, build_models, example_inputs
from fpqc.passes.pipelines import RAISE_PIPELINE

ort = pytest.importorskip("onnxruntime")
FPQC = str(Path(sys.executable).parent / "fpqc")


def released_q_k_v(self, x):
    """The released ``SelfAttention.forward`` up to the attention itself: q, k, v ``[B, H, L, D]``."""
    B, L, C = x.shape
    qkv = F.linear(
        input=x, weight=self.mat_qkv.weight, bias=torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
    ).view(B, L, 3, self.num_heads, self.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(dim=0)
    scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
    return F.normalize(q, dim=-1).mul(scale_mul), F.normalize(k, dim=-1), v


def sdpa_with_scale(self, x, attn_bias):
    B, L, C = x.shape
    q, k, v = released_q_k_v(self, x)
    oup = F.scaled_dot_product_attention(q, k, v, scale=0.125, attn_mask=attn_bias, dropout_p=0.0)
    return self.proj(oup.transpose(1, 2).reshape(B, L, C))


def sdpa_with_boolean_mask(self, x, attn_bias):
    B, L, C = x.shape
    q, k, v = released_q_k_v(self, x)
    oup = F.scaled_dot_product_attention(q, k, v, scale=self.scale, attn_mask=attn_bias == 0, dropout_p=0.0)
    return self.proj(oup.transpose(1, 2).reshape(B, L, C))


def matmul_masked_fill(self, x, attn_bias):
    B, L, C = x.shape
    q, k, v = released_q_k_v(self, x)
    mask = attn_bias == 0
    attn = (q @ k.transpose(-2, -1)).masked_fill(~mask, float("-inf"))
    return self.proj((attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, L, C))


SPELLINGS = {
    "sdpa_scale": (sdpa_with_scale, "Softmax"),
    "sdpa_boolean_mask": (sdpa_with_boolean_mask, "IsNaN"),
    "masked_fill": (matmul_masked_fill, "Where"),
}
"""name -> (SelfAttention.forward, an ONNX op type the export of that spelling has)."""


def tiny_var(cfg: VARConfig) -> transformer.VAR:
    """The reference VAR with blocks that are not near-identity, biases and a different scale per head."""
    var, _ = build_models(cfg)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for block in var.blocks:
            for bias in (block.attn.q_bias, block.attn.v_bias):
                bias.copy_(0.1 * torch.randn(bias.shape, generator=generator))
            heads = torch.tensor([math.log(4.0 + h) for h in range(cfg.num_heads)])
            block.attn.scale_mul_1H11.copy_(heads.view(1, -1, 1, 1))
    var.inference = True
    return var


@pytest.mark.parametrize(("exporter", "opset"), [("torchscript", 17), ("dynamo", 18)])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_attention_is_raised_in_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str, exporter: str, opset: int
) -> None:
    forward, marker = SPELLINGS[spelling]
    monkeypatch.setattr(transformer.SelfAttention, "forward", forward)
    small = VARConfig.tiny()
    cfg = VARConfig(
        depth=2, patch_nums=(1, 2, 3, 4), vocab_size=64, Cvae=8, embed_dim=128, num_heads=2, num_classes=10,
        **{f: getattr(small, f) for f in ("vae_ch", "vae_ch_mult", "vae_num_res_blocks", "vae_norm_groups")},
    )
    var = tiny_var(cfg)
    inputs = example_inputs(cfg, batch=2)
    path = tmp_path / "var.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            torch.onnx.export(var, inputs, dynamo=True, opset_version=opset, input_names=INPUT_NAMES,
                              output_names=OUTPUT_NAMES, verbose=False).save(str(path))
        else:
            torch.onnx.export(var, inputs, str(path), dynamo=False, opset_version=opset,
                              input_names=INPUT_NAMES, output_names=OUTPUT_NAMES)
    ops = collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    assert ops["Softmax"] == cfg.depth and ops[marker] >= cfg.depth, ops  # the spelling under test

    build = tmp_path / "build"
    compiled = subprocess.run([FPQC, "compile", str(path), "--format", "fp6", "-o", str(build)],
                              capture_output=True, text=True)
    summary = compiled.stdout + compiled.stderr
    assert compiled.returncode == 0, summary
    report = json.loads((build / "report.json").read_text())
    assert report["transformer_blocks"] == cfg.depth, summary
    quantized = report["ops_per_stage"]["quantized"]
    assert quantized.get("fpq.qlinear", 0) + quantized.get("fpq.dual_qlinear", 0) == 4 * cfg.depth, summary
    assert quantized.get("fpq.attention", 0) == cfg.depth, summary

    feeds = {"label_B": inputs[0].numpy(), "x_BLCv_wo_first_l": inputs[1].numpy()}
    module, store = load_onnx(path)
    with store.activate():
        run_pipeline(module, RAISE_PIPELINE, "raise")
    assert sum(op.name == "fpq.attention" for op in module.walk()) == cfg.depth
    ours = run_module(module, feeds, store)["logits_BLV"]
    (reference,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    assert np.abs(ours - reference).max() <= 1e-4
