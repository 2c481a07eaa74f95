"""VAR attention spelled as the released code writes it, through both exporters: every block raised.

The released ``SelfAttention.forward`` (FoundationVision/VAR, ``models/basic_var.py``) casts q, k, v
with ``.to(dtype=main_type)`` and calls ``F.scaled_dot_product_attention(q, k, v, scale=1, ...)``.
The TorchScript exporter decomposes it with ``Mul(q, 1.0)`` and ``Mul(kᵀ, 1.0)``; the dynamo exporter
writes kᵀ as ``Reshape → Transpose → Reshape``. ``canonicalize-onnx`` removes both, so raising sees
the attention it knows. Here fpqc's reference VAR gets the released attention forward, written
operation for operation like the released code.
"""

from __future__ import annotations

import json
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
from fpqc.compiler import load_onnx
from fpqc.frontend.var import transformer
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import INPUT_NAMES, OUTPUT_NAMES, build_models, example_inputs

ort = pytest.importorskip("onnxruntime")
FPQC = str(Path(sys.executable).parent / "fpqc")


def released_attention_forward(self, x, attn_bias):
    """``SelfAttention.forward`` of the released code on its non-flash, non-xformers path."""
    B, L, C = x.shape
    qkv = F.linear(
        input=x, weight=self.mat_qkv.weight, bias=torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
    ).view(B, L, 3, self.num_heads, self.head_dim)
    main_type = qkv.dtype
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(dim=0)
    if self.attn_l2_norm:
        scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
        q = F.normalize(q, dim=-1).mul(scale_mul)
        k = F.normalize(k, dim=-1)
    oup = F.scaled_dot_product_attention(
        q.to(dtype=main_type), k.to(dtype=main_type), v.to(dtype=main_type),
        scale=self.scale, attn_mask=attn_bias, dropout_p=0.0,
    ).transpose(1, 2).reshape(B, L, C)
    return self.proj(oup)


def tiny_config() -> VARConfig:
    small = VARConfig.tiny()
    return VARConfig(
        depth=2, patch_nums=(1, 2, 3, 4), vocab_size=64, Cvae=8, embed_dim=128, num_heads=2, num_classes=10,
        **{f: getattr(small, f) for f in ("vae_ch", "vae_ch_mult", "vae_num_res_blocks", "vae_norm_groups")},
    )


@pytest.mark.parametrize(("exporter", "opset"), [("torchscript", 17), ("dynamo", 18)])
def test_released_attention_is_raised_in_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exporter: str, opset: int
) -> None:
    monkeypatch.setattr(transformer.SelfAttention, "forward", released_attention_forward)
    cfg = tiny_config()
    var, _ = build_models(cfg)
    var.inference = True
    inputs = example_inputs(cfg, batch=2)
    path = tmp_path / "var.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            program = torch.onnx.export(var, inputs, dynamo=True, opset_version=opset,
                                        input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, verbose=False)
            program.save(str(path))
        else:
            torch.onnx.export(var, inputs, str(path), dynamo=False, opset_version=opset,
                              input_names=INPUT_NAMES, output_names=OUTPUT_NAMES)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Softmax" in ops  # the decomposed scaled_dot_product_attention, not fpqc's own spelling

    build = tmp_path / "build"
    compiled = subprocess.run([FPQC, "compile", str(path), "--format", "fp6", "-o", str(build)],
                              capture_output=True, text=True)
    summary = compiled.stdout + compiled.stderr
    assert compiled.returncode == 0, summary
    assert json.loads((build / "report.json").read_text())["transformer_blocks"] == 2, summary
    quantized = json.loads((build / "report.json").read_text())["ops_per_stage"]["quantized"]
    assert quantized.get("fpq.qlinear", 0) + quantized.get("fpq.dual_qlinear", 0) == 4 * cfg.depth, summary
    assert quantized.get("fpq.attention", 0) == cfg.depth, summary

    feeds = {"label_B": inputs[0].numpy(), "x_BLCv_wo_first_l": inputs[1].numpy()}
    module, store = load_onnx(path)
    ours = run_module(module, feeds, store)["logits_BLV"]
    (reference,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    assert np.abs(ours - reference).max() <= 1e-4
